"""The fake Bot API's documents, file downloads, inline keyboards and callback answers,
driven by the real python-telegram-bot client."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_files import UploadedFile
from tests.fakes.bot_api_objects import ApiError, validate_reply_markup
from tests.test_fake_bot_api import ManualClock

CHANNEL = -1001234567890
FORUM = -1003000
USER = 777
OPML = b'<?xml version="1.0"?><opml version="2.0"><body><outline xmlUrl="https://a.example/feed"/></body></opml>'


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> Iterator[FakeBotAPI]:
    with FakeBotAPI(clock=clock) as server:
        server.add_chat(CHANNEL, "channel", username="press_news", title="Press news")
        server.add_chat(FORUM, "supergroup", title="Newsroom", is_forum=True)
        server.add_chat(USER, "private", title="Ada")
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(buttons)])


# --- sendDocument, getFile, downloads --------------------------------------------------


async def test_an_uploaded_document_is_recorded_and_downloadable(api: FakeBotAPI, bot: Bot) -> None:
    """sendDocument's multipart upload keeps name, mime type, bytes, caption and topic;
    getFile then answers a path the bot downloads the same bytes from."""
    topic = api.create_topic(FORUM, "Exports")
    sent = await bot.send_document(
        FORUM,
        InputFile(io.BytesIO(OPML), filename="feeds.opml"),
        caption="<b>3</b> feeds",
        parse_mode="HTML",
        message_thread_id=topic,
    )
    assert sent.document is not None
    assert sent.caption == "3 feeds"
    assert (sent.document.file_name, sent.document.file_size) == ("feeds.opml", len(OPML))
    assert api.requests_for("sendDocument")[0].status == 200
    [delivered] = api.messages(FORUM)
    assert delivered.document is not None
    assert (delivered.document.file_name, delivered.document.data) == ("feeds.opml", OPML)
    assert delivered.document.mime_type == "application/octet-stream"  # .opml: no known type
    assert (delivered.text, delivered.html) == ("3 feeds", "<b>3</b> feeds")
    assert [e.type for e in delivered.entities] == ["bold"]
    assert delivered.message_thread_id == topic
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    assert file.file_path.startswith(api.base_file_url)
    assert bytes(await file.download_as_bytearray()) == OPML
    assert [d.status for d in api.downloads] == [200]


async def test_a_pushed_document_is_fetched_by_file_id(api: FakeBotAPI, bot: Bot) -> None:
    """A user's document (pushed by the test) is known to getFile and downloadable."""
    _, document = api.push_document(USER, OPML, "mine.opml", from_user_id=USER)
    file = await bot.get_file(document.file_id)
    assert (file.file_unique_id, file.file_size) == (document.file_unique_id, len(OPML))
    assert (
        api.file(document.file_id).file_path == file.file_path.rsplit("/bot", 1)[1].split("/", 1)[1]
    )
    assert bytes(await file.download_as_bytearray()) == OPML


async def test_unknown_and_oversized_files_are_refused(api: FakeBotAPI, bot: Bot) -> None:
    """getFile: an unknown file_id is "invalid file_id", over 20 MB "file is too big"."""
    with pytest.raises(BadRequest, match=r"^Invalid file_id$"):
        await bot.get_file("no-such-file")
    _, big = api.push_document(USER, b"x" * (20 * 1024 * 1024 + 1), "big.opml", from_user_id=USER)
    with pytest.raises(BadRequest, match=r"^File is too big$"):
        await bot.get_file(big.file_id)
    _, fine = api.push_document(USER, b"x" * (20 * 1024 * 1024), "ok.opml", from_user_id=USER)
    assert (await bot.get_file(fine.file_id)).file_size == 20 * 1024 * 1024


def test_downloads_need_get_file_first_and_the_right_token(api: FakeBotAPI) -> None:
    """A path is served only after getFile made it, and only under the bot's token."""
    _, document = api.push_document(USER, OPML, "a.opml", from_user_id=USER)
    early = httpx.get(f"{api.base_file_url}{api.token}/documents/file_1.opml")
    assert early.status_code == 404
    answer = httpx.post(f"{api.base_url}{api.token}/getFile", data={"file_id": document.file_id})
    path = answer.json()["result"]["file_path"]
    assert httpx.get(f"{api.base_file_url}{api.token}/{path}").content == OPML
    assert httpx.get(f"{api.base_file_url}1:wrong/{path}").status_code == 401
    assert [d.status for d in api.downloads] == [404, 200, 401]


def test_an_upload_over_50_mb_is_request_entity_too_large(api: FakeBotAPI) -> None:
    """More than 50 MB: HTTP 413 "Request Entity Too Large" (PTB: NetworkError); nothing
    is posted; exactly 50 MB passes. (Called without HTTP: 50 MB over loopback is slow.)"""
    limit = 50 * 1024 * 1024
    huge = UploadedFile("huge.opml", None, b"x" * (limit + 1))
    status, body = api.call("sendDocument", {"chat_id": str(CHANNEL), "document": huge})
    assert (status, body["description"]) == (413, "Request Entity Too Large")
    assert api.messages(CHANNEL) == []
    fits = UploadedFile("fits.opml", None, b"x" * limit)
    status, body = api.call("sendDocument", {"chat_id": str(CHANNEL), "document": fits})
    assert status == 200
    assert body["result"]["document"]["file_size"] == limit


async def test_resending_by_file_id_and_bad_document_values(api: FakeBotAPI, bot: Bot) -> None:
    """A known file_id is sent again as is; an unknown string is refused as Telegram words it;
    a caption over 1024 characters is "message caption is too long"."""
    _, document = api.push_document(USER, OPML, "mine.opml", from_user_id=USER)
    sent = await bot.send_document(CHANNEL, document.file_id)
    assert sent.document is not None
    assert sent.document.file_id == document.file_id
    with pytest.raises(BadRequest, match=r"^Wrong file identifier/http url specified$"):
        await bot.send_document(CHANNEL, "not-a-file-id")
    with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
        await bot.send_document(USER, document.file_id, caption="x" * 1025)


# --- inline keyboards ------------------------------------------------------------------


async def test_edit_message_reply_markup_replaces_and_removes_buttons(
    api: FakeBotAPI, bot: Bot
) -> None:
    """editMessageReplyMarkup swaps the buttons (old ones kept in history), the same ones
    again are "not modified", none removes them."""
    sent = await bot.send_message(
        USER, "Follow?", reply_markup=keyboard(InlineKeyboardButton("Yes", callback_data="y"))
    )
    done = keyboard(InlineKeyboardButton("Undo", callback_data="u"))
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=done)
    assert api.message(USER, sent.message_id).buttons == [{"text": "Undo", "callback_data": "u"}]
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=done)
    await bot.edit_message_reply_markup(USER, sent.message_id)
    message = api.message(USER, sent.message_id)
    assert (message.buttons, len(message.history)) == ([], 2)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_reply_markup(USER, 999, reply_markup=done)
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.edit_message_reply_markup(
            USER,
            sent.message_id,
            reply_markup=keyboard(InlineKeyboardButton("x", callback_data="x" * 65)),
        )


@pytest.mark.parametrize(
    ("button", "ok"),
    [
        (InlineKeyboardButton("Open", url="https://example.org/feed"), True),
        (InlineKeyboardButton("Bot", url="tg://resolve?domain=releasebot_test_bot"), True),
        (InlineKeyboardButton("FTP", url="ftp://example.org/feed"), False),
        (InlineKeyboardButton("Max", callback_data="é" * 32), True),
        (InlineKeyboardButton("Over", callback_data="é" * 32 + "x"), False),
    ],
)
async def test_button_urls_and_callback_data_limits(
    bot: Bot, button: InlineKeyboardButton, ok: bool
) -> None:
    """http(s) and tg:// URLs pass, other schemes do not; callback data is 1-64 bytes."""
    markup = keyboard(button)
    if ok:
        await bot.send_message(CHANNEL, "hi", reply_markup=markup)
    else:
        with pytest.raises(BadRequest):
            await bot.send_message(CHANNEL, "hi", reply_markup=markup)


@given(st.text(min_size=1, max_size=80))
def test_callback_data_is_judged_by_its_utf8_bytes(data: str) -> None:
    """Any callback_data of 1-64 UTF-8 bytes is kept; longer is BUTTON_DATA_INVALID."""
    markup = {"inline_keyboard": [[{"text": "b", "callback_data": data}]]}
    if len(data.encode("utf-8")) <= 64:
        assert validate_reply_markup(markup) == markup
    else:
        with pytest.raises(ApiError, match="BUTTON_DATA_INVALID"):
            validate_reply_markup(markup)


# --- answerCallbackQuery ---------------------------------------------------------------


async def test_a_callback_answered_within_15_seconds(
    api: FakeBotAPI, bot: Bot, clock: ManualClock
) -> None:
    """Answered at 15 s of the fake's clock it passes (text and alert recorded); twice, or
    a query never pushed, is "query is too old ... or query ID is invalid"."""
    sent = await bot.send_message(
        USER, "Sure?", reply_markup=keyboard(InlineKeyboardButton("Yes", callback_data="y"))
    )
    query = api.press(USER, sent.message_id, "Yes", USER)
    assert api.unanswered_callbacks == [query]
    clock.now += 15.0
    assert await bot.answer_callback_query(query, text="Subscribed", show_alert=True)
    assert [(a.text, a.show_alert) for a in api.callback_answers] == [("Subscribed", True)]
    assert api.unanswered_callbacks == []
    for query_id in (query, "never-pushed"):
        with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
            await bot.answer_callback_query(query_id)


async def test_a_callback_older_than_15_seconds_expires(
    api: FakeBotAPI, bot: Bot, clock: ManualClock
) -> None:
    """15.1 s after the press the answer is refused, and the press stays unanswered."""
    sent = await bot.send_message(
        USER, "Sure?", reply_markup=keyboard(InlineKeyboardButton("Yes", callback_data="y"))
    )
    query = api.push_callback(USER, sent.message_id, "forged:other-chat", USER)
    clock.now += 15.1
    with pytest.raises(BadRequest, match=r"^Query is too old"):
        await bot.answer_callback_query(query, text="late")
    assert api.unanswered_callbacks == [query]
    assert api.callback_answers == []
