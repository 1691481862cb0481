"""The fake Bot API server, driven by the real python-telegram-bot 22 client over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from tests.fakes.bot_api import FakeBotAPI

CHANNEL = -1001234567890
GROUP = -4001
USER = 777


class ManualClock:
    """A clock the test moves by hand, so flood windows are checked exactly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is read as seconds; opt in to timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> Iterator[FakeBotAPI]:
    with FakeBotAPI(clock=clock) as server:
        server.add_chat(CHANNEL, "channel", username="press_news", title="Press news")
        server.add_chat(GROUP, "group", title="Editors")
        server.add_chat(USER, "private", title="Ada", username="ada")
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


async def test_get_me_answers_the_configured_username(bot: Bot) -> None:
    """`async with bot` runs getMe against the fake and learns the bot's username."""
    assert bot.username == "releasebot_test_bot"


async def test_valid_html_lands_and_reads_back(api: FakeBotAPI, bot: Bot) -> None:
    """A sendMessage with good HTML is delivered, with entities, buttons and the source kept."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Cite", callback_data="cite:42")]])
    sent = await bot.send_message(
        "@press_news", "<b>NIDA</b> &amp; friends", parse_mode="HTML", reply_markup=keyboard
    )
    assert sent.text == "NIDA & friends"
    assert sent.chat.id == CHANNEL
    [delivered] = api.messages(CHANNEL)
    assert (delivered.message_id, delivered.text) == (sent.message_id, "NIDA & friends")
    assert delivered.html == "<b>NIDA</b> &amp; friends"
    assert [e.type for e in delivered.entities] == ["bold"]
    assert delivered.buttons == [{"text": "Cite", "callback_data": "cite:42"}]
    assert api.requests_for("sendMessage")[0].params["reply_markup"] == keyboard.to_dict()


async def test_bad_html_is_a_bad_request_with_tdlibs_text(api: FakeBotAPI, bot: Bot) -> None:
    """Broken HTML gets BadRequest; the wire carries tdlib's text, PTB re-capitalises it."""
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(CHANNEL, "Price < 5 <b>now</b>", parse_mode="HTML")
    assert str(caught.value) == 'Can\'t parse entities: unsupported start tag "" at byte offset 6'
    assert api.requests[-1].description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 6'
    )
    assert api.messages(CHANNEL) == []


async def test_message_length_is_counted_in_code_points(api: FakeBotAPI, bot: Bot) -> None:
    """4096 emoji are delivered; 4097 characters give BadRequest "Message is too long"."""
    await bot.send_message(CHANNEL, "😀" * 4096)
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(GROUP, "x" * 4097)
    assert len(api.messages(CHANNEL)[0].text) == 4096


async def test_second_message_in_a_second_gets_retry_after(
    api: FakeBotAPI, bot: Bot, clock: ManualClock
) -> None:
    """Two posts to one chat within 1 s: the second gets RetryAfter(1); a second later it passes."""
    await bot.send_message(CHANNEL, "one")
    clock.now += 0.4
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHANNEL, "two")
    assert caught.value.retry_after == timedelta(seconds=1)
    clock.now += 0.6
    await bot.send_message(CHANNEL, "two")
    assert [m.text for m in api.messages(CHANNEL)] == ["one", "two"]
    assert api.rate_limited_count == 1


async def test_twenty_one_posts_a_minute_to_a_channel_are_refused(
    api: FakeBotAPI, bot: Bot, clock: ManualClock
) -> None:
    """20 posts a minute to one channel pass; the 21st waits until the first leaves the window."""
    for n in range(20):
        await bot.send_message(CHANNEL, f"post {n}")
        clock.now += 1.0
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHANNEL, "post 20")
    assert caught.value.retry_after == timedelta(seconds=40)
    assert api.rate_limit_hits[0].chat_id == CHANNEL


async def test_thirty_messages_a_second_across_chats(api: FakeBotAPI, bot: Bot) -> None:
    """The 31st message within one second is refused even though each chat is new."""
    for chat_id in range(1, 31):
        api.add_chat(-chat_id, "channel")
        await bot.send_message(-chat_id, "hello")
    api.add_chat(-31, "channel")
    with pytest.raises(RetryAfter):
        await bot.send_message(-31, "hello")


async def test_time_scale_shrinks_the_windows() -> None:
    """With time_scale=0.01 a 1 s window lasts 10 ms of the test's clock."""
    clock = ManualClock()
    with FakeBotAPI(time_scale=0.01, clock=clock) as api:
        api.add_chat(CHANNEL, "channel")
        async with Bot(api.token, base_url=api.base_url) as bot:
            await bot.send_message(CHANNEL, "one")
            clock.now += 0.005
            with pytest.raises(RetryAfter):
                await bot.send_message(CHANNEL, "two")
            clock.now += 0.005
            await bot.send_message(CHANNEL, "two")


@pytest.mark.parametrize(
    ("setup", "chat", "message"),
    [
        (lambda api: api.kick(CHANNEL), CHANNEL, "bot was kicked from the channel chat"),
        (lambda api: api.kick(GROUP), GROUP, "bot was kicked from the group chat"),
        (
            lambda api: api.set_bot_status(CHANNEL, "left"),
            CHANNEL,
            "bot is not a member of the channel chat",
        ),
        (lambda api: api.block(USER), USER, "bot was blocked by the user"),
        (
            lambda api: api.add_chat(888, "private", started=False),
            888,
            "bot can't initiate conversation with a user",
        ),
    ],
)
async def test_chats_the_bot_may_not_write_to_are_forbidden(
    api: FakeBotAPI, bot: Bot, setup: object, chat: int, message: str
) -> None:
    """Kicked, not a member, blocked, never started: each is Forbidden with Telegram's text."""
    setup(api)  # type: ignore[operator]
    with pytest.raises(Forbidden, match=f"^Forbidden: {message}$"):
        await bot.send_message(chat, "hello")


async def test_unknown_chat_is_chat_not_found(bot: Bot) -> None:
    """An unregistered id, and @name of a private user, are "Chat not found"."""
    for chat in (-100999, "@ada"):
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await bot.send_message(chat, "hello")


async def test_migrated_group_raises_chat_migrated(api: FakeBotAPI, bot: Bot) -> None:
    """After the group became a supergroup, sending there gives ChatMigrated with the new id."""
    api.migrate(GROUP, -1009990001)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP, "hello")
    assert caught.value.new_chat_id == -1009990001
    await bot.send_message(-1009990001, "hello again")


async def test_unknown_method_is_endpoint_not_found(api: FakeBotAPI, bot: Bot) -> None:
    """An unknown method answers 404, which an initialised PTB bot raises as EndPointNotFound."""
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicateChat", api_kwargs={"chat_id": CHANNEL})
    assert api.requests[-1].description == "Not Found: method not found"


async def test_wrong_token_is_invalid_token(api: FakeBotAPI) -> None:
    """A bot with another token cannot even initialise: InvalidToken."""
    with pytest.raises(InvalidToken):
        async with Bot("42:wrong", base_url=api.base_url):
            pass
    assert api.requests[-1].status == 401


async def test_long_poll_waits_for_an_injected_message(api: FakeBotAPI, bot: Bot) -> None:
    """A held getUpdates returns a message pushed later, and does not block other calls."""
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await until(lambda: api.polls_waiting == 1)
    await bot.send_message(CHANNEL, "sent while the poll is held")
    api.push_message(USER, "/start", USER)
    [update] = await poll
    assert update.message is not None
    assert update.message.text == "/start"
    assert update.message.entities[0].type == "bot_command"
    again = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert again == ()


async def test_application_polling_runs_a_command_handler(api: FakeBotAPI) -> None:
    """A real Application polling the fake runs its CommandHandler for a pushed command."""
    seen: list[str] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(update.effective_message.text or "")
        await update.effective_message.reply_text("welcome")

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    app.add_handler(CommandHandler("start", on_start))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        api.push_message(USER, "/start@releasebot_test_bot", USER, first_name="Ada")
        await until(lambda: bool(api.messages(USER)))
        await app.updater.stop()
        await app.stop()
    assert seen == ["/start@releasebot_test_bot"]
    assert api.messages(USER)[0].text == "welcome"


async def test_a_newer_long_poll_ends_the_older_with_conflict(api: FakeBotAPI) -> None:
    """Two bot instances polling at once: the older poll gets Conflict, as on Telegram."""
    async with (
        Bot(api.token, base_url=api.base_url) as first,
        Bot(api.token, base_url=api.base_url) as second,
    ):
        older = asyncio.create_task(first.get_updates(timeout=10))
        await until(lambda: api.polls_waiting == 1)
        newer = asyncio.create_task(second.get_updates(timeout=10))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await older
        api.push_channel_post(CHANNEL, "post")
        [update] = await newer
        assert update.channel_post is not None


async def test_edit_with_same_content_is_not_modified(api: FakeBotAPI, bot: Bot) -> None:
    """Editing to identical text and markup gives "Message is not modified"."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Cite", callback_data="c")]])
    sent = await bot.send_message(CHANNEL, "<i>v1</i>", parse_mode="HTML", reply_markup=keyboard)
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text(
            "<i>v1</i>", CHANNEL, sent.message_id, parse_mode="HTML", reply_markup=keyboard
        )


async def test_edit_without_markup_removes_the_buttons(api: FakeBotAPI, bot: Bot) -> None:
    """An edit that omits reply_markup drops the keyboard; the old version stays in history."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Cite", callback_data="c")]])
    sent = await bot.send_message(CHANNEL, "v1", reply_markup=keyboard)
    edited = await bot.edit_message_text("v1", CHANNEL, sent.message_id)
    assert not isinstance(edited, bool)
    [message] = api.messages(CHANNEL)
    assert message.reply_markup is None
    assert message.history[0].reply_markup == keyboard.to_dict()


@pytest.mark.parametrize(
    ("button", "message"),
    [
        (InlineKeyboardButton("x", callback_data="é" * 33), "^Button_data_invalid$"),
        (
            InlineKeyboardButton("x", url="http://localhost:8080/a"),
            "^Inline keyboard button url 'http://localhost:8080/a' is invalid: wrong http url$",
        ),
        (
            InlineKeyboardButton("x", url="https://t.me/releasebot_test_bot?start=" + "a" * 65),
            "is invalid: wrong start parameter$",
        ),
    ],
)
async def test_bad_buttons_are_refused(
    bot: Bot, button: InlineKeyboardButton, message: str
) -> None:
    """Over-long callback data, local URLs and long deep-link payloads are BadRequest."""
    with pytest.raises(BadRequest, match=message):
        await bot.send_message(CHANNEL, "hi", reply_markup=InlineKeyboardMarkup([[button]]))


async def test_callback_answers_are_checked_and_recorded(api: FakeBotAPI, bot: Bot) -> None:
    """A pressed button's query can be answered once, with at most 200 characters."""
    sent = await bot.send_message(
        GROUP,
        "vote",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]]),
    )
    query_id = api.push_callback(GROUP, sent.message_id, "yes", USER)
    [update] = await bot.get_updates(timeout=0)
    assert update.callback_query is not None
    assert update.callback_query.data == "yes"
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="Noted")
    with pytest.raises(BadRequest, match=r"^Query is too old"):
        await bot.answer_callback_query(query_id)
    assert [a.text for a in api.callback_answers] == ["Noted"]


async def test_scripted_failures_and_delays(api: FakeBotAPI, bot: Bot) -> None:
    """fail_next gives the scripted status once; set_delay makes a short client timeout fire."""
    api.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(NetworkError, match=r"^Bad Gateway$"):
        await bot.send_message(CHANNEL, "one")
    await bot.send_message(CHANNEL, "one")
    api.fail_next("getChat", 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7})
    with pytest.raises(RetryAfter):
        await bot.get_chat(CHANNEL)
    assert [(hit.method, hit.retry_after) for hit in api.rate_limit_hits] == [("getChat", 7)]
    api.set_delay("getChat", 0.5)
    with pytest.raises(TimedOut):
        await bot.get_chat(CHANNEL, read_timeout=0.05)


async def test_a_dropped_connection_is_a_network_error_and_sends_nothing(
    api: FakeBotAPI, bot: Bot
) -> None:
    """drop_next closes the socket unanswered: PTB raises NetworkError, nothing is posted."""
    api.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(CHANNEL, "lost")
    await bot.send_message(CHANNEL, "kept")
    assert [m.text for m in api.messages(CHANNEL)] == ["kept"]
    assert [r.status for r in api.requests_for("sendMessage")] == [0, 200]


async def test_a_failure_scripted_for_one_chat_leaves_the_others_alone(
    api: FakeBotAPI, bot: Bot
) -> None:
    """fail_next(chat=...) answers only that chat's call, whichever chat asks first."""
    api.fail_next("sendMessage", 400, "Bad Request: have no rights to send a message", chat=GROUP)
    await bot.send_message(CHANNEL, "goes through")
    with pytest.raises(BadRequest, match=r"^Have no rights to send a message$"):
        await bot.send_message(GROUP, "refused")
    await bot.send_message(GROUP, "goes through")


async def test_chat_info_membership_and_commands(api: FakeBotAPI, bot: Bot) -> None:
    """getChat, getChatMember and setMyCommands answer objects PTB can read."""
    chat = await bot.get_chat("@press_news")
    assert (chat.id, chat.title) == (CHANNEL, "Press news")
    me = await bot.get_chat_member(CHANNEL, bot.id)
    assert me.status == "administrator"
    api.set_member(GROUP, USER, "creator")
    assert (await bot.get_chat_member(GROUP, USER)).status == "creator"
    await bot.set_my_commands([("subscribe", "Follow a feed")])
    assert api.commands() == [{"command": "subscribe", "description": "Follow a feed"}]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Bad-Name", "x")])


def test_json_bodies_are_accepted_like_form_bodies(api: FakeBotAPI) -> None:
    """A client posting JSON (not PTB's form encoding) is served the same way."""
    url = f"{api.base_url}{api.token}/sendMessage"
    answer = httpx.post(url, json={"chat_id": CHANNEL, "text": "<b>json</b>", "parse_mode": "HTML"})
    assert answer.status_code == 200
    assert answer.json()["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 4}]


async def until(condition: Callable[[], bool]) -> None:
    """Wait (without blocking the event loop) until condition() is true; give up after 5 s."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 -- the state lives in the server's threads
            await asyncio.sleep(0.01)
