"""A 400 about the chat pauses it and keeps every post; a 400 about one message fails only it.

The real PTB client and TelegramSender against the strict fake Bot API, whose chats are
demoted, restricted, renamed or deleted as on Telegram; the dispatcher over a real Store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot
from telegram.error import BadRequest

from bot.errors import ChatNotWritableError, ChatUnavailableError, MessageRejectedError
from bot.telegram.sender import CHAT_LEVEL_400, TelegramSender, translate
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.virtual_time import VirtualClock
from tests.test_dispatcher import Harness

CHANNEL_A, CHANNEL_B, SUPERGROUP = -1001, -1002, -1004001
ADMIN = 501

MESSAGE_LEVEL = (
    'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
    "Bad Request: message is too long",
    "Bad Request: text must be non-empty",
    "Bad Request: BUTTON_URL_INVALID",
    "Bad Request: wrong HTTP URL specified",
    "Bad Request: message to reply not found",
)


@pytest.fixture
def api(virtual_bot_api: FakeBotAPI) -> FakeBotAPI:
    virtual_bot_api.add_chat(CHANNEL_A, "channel", username="a_news", title="A news")
    virtual_bot_api.add_chat(CHANNEL_B, "channel", title="B news")
    virtual_bot_api.add_chat(SUPERGROUP, "supergroup", title="Editors")
    virtual_bot_api.add_chat(ADMIN, "private", title="Ada")
    return virtual_bot_api


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


@pytest.fixture
def harness(tmp_path: Path, bot: Bot, vclock: VirtualClock) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*channels: tuple[str, Any, list[str]]) -> Harness:
        specs = [{"name": name, "chat": chat, "feeds": feeds} for name, chat, feeds in channels]
        made.append(Harness(tmp_path, bot, specs, vclock))
        return made[-1]

    yield make
    for h in made:
        h.store.close()


def urls(api: FakeBotAPI, chat: int) -> list[str]:
    return [m.buttons[0]["url"] for m in api.messages(chat)]


# --- translate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "description",
    [
        "Bad Request: chat not found",
        "Bad Request: need administrator rights in the channel chat",
        "Bad Request: not enough rights to send text messages to the chat",
        "Bad Request: have no rights to send a message",
        "Bad Request: CHAT_WRITE_FORBIDDEN",
    ],
)
def test_chat_level_400s_are_chat_problems(description: str) -> None:
    """Telegram's chat-level 400 texts (as PTB capitalises them) pause like a 403 would."""
    error = translate(BadRequest(description))
    assert isinstance(error, ChatNotWritableError)
    assert isinstance(error, ChatUnavailableError)
    assert error.message == BadRequest(description).message


@pytest.mark.parametrize("description", MESSAGE_LEVEL)
def test_message_level_400s_reject_only_the_message(description: str) -> None:
    """Entities, length, buttons, replies: the message is refused, not the chat."""
    error = translate(BadRequest(description))
    assert type(error) is MessageRejectedError


@given(
    phrase=st.sampled_from(CHAT_LEVEL_400),
    upper=st.lists(st.booleans(), min_size=60, max_size=60),
    prefix=st.sampled_from(["Bad Request: ", "", "[Error]: "]),
    suffix=st.text(max_size=20),
)
def test_chat_level_phrases_match_in_any_case(
    phrase: str, upper: list[bool], prefix: str, suffix: str
) -> None:
    """Whatever the casing PTB or Telegram give it, a chat-level phrase is recognised."""
    cased = "".join(c.upper() if up else c.lower() for c, up in zip(phrase, upper, strict=False))
    error = translate(BadRequest(prefix + cased + suffix))
    assert isinstance(error, ChatNotWritableError)


# --- the fake answers as Telegram does ------------------------------------------------------


async def test_the_fake_answers_demoted_restricted_renamed_and_deleted_chats(
    api: FakeBotAPI, bot: Bot
) -> None:
    """Demoted in a channel, muted in a supergroup, renamed, deleted: each a chat-level 400."""
    sender = TelegramSender(bot)
    api.set_bot_status(CHANNEL_A, "member")
    api.set_bot_status(SUPERGROUP, "restricted")
    api.rename_chat(CHANNEL_B, "b_news_new")
    expected = {
        CHANNEL_A: "Need administrator rights in the channel chat",
        SUPERGROUP: "Not enough rights to send text messages to the chat",
    }
    for chat, message in expected.items():
        with pytest.raises(BadRequest, match=f"^{message}$"):
            await bot.send_message(chat, "hello")
        info = await sender.chat_info(chat)  # getChat/getChatMember still answer
        assert not info.can_post
    assert (await sender.chat_info("@b_news_new")).chat_id == CHANNEL_B
    api.delete_chat(CHANNEL_B)
    for ref in (CHANNEL_B, "@b_news_new"):
        with pytest.raises(ChatNotWritableError, match=r"^Chat not found$"):
            await sender.chat_info(ref)
    api.rename_chat(CHANNEL_A, "a_news_2")
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.get_chat("@a_news")
    with pytest.raises(ValueError, match="supergroup"):
        api.set_bot_status(CHANNEL_A, "restricted")


# --- the dispatcher -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chat", "break_it", "reason"),
    [
        (CHANNEL_A, lambda api: api.set_bot_status(CHANNEL_A, "member"), "administrator rights"),
        (SUPERGROUP, lambda api: api.set_bot_status(SUPERGROUP, "restricted"), "enough rights"),
        (CHANNEL_A, lambda api: api.delete_chat(CHANNEL_A), "Chat not found"),
        ("@a_news", lambda api: api.rename_chat(CHANNEL_A, "a_news_2"), "Chat not found"),
        (
            CHANNEL_A,
            lambda api: api.fail_next(
                "sendMessage", 400, "Bad Request: have no rights to send a message", chat=CHANNEL_A
            ),
            "no rights",
        ),
    ],
    ids=["demoted", "restricted", "deleted", "renamed", "no-rights"],
)
async def test_a_chat_level_400_pauses_the_channel_and_loses_no_post(
    api: FakeBotAPI,
    harness: Callable[..., Harness],
    chat: int | str,
    break_it: Callable[[FakeBotAPI], None],
    reason: str,
) -> None:
    """0 failed, every post still owed, the channel paused with Telegram's reason, admins told
    once; the other channel goes on."""
    h = harness(("a-news", chat, ["nida"]), ("b-news", CHANNEL_B, ["nih"]))
    break_it(api)
    h.ingest("nida", [make_release(n) for n in (1, 2)])
    h.ingest("nih", [make_release(3, feed="nih")])
    report = await h.dispatcher.drain()
    await h.dispatcher.drain()  # nothing more is tried while it is paused
    assert report.failed == 0
    assert [row["state"] for row in h.rows("a-news")] == ["pending"] * 2
    state = h.store.channel_state("a-news")
    assert state.paused
    assert reason in (state.pause_error or "")
    to_a = [r for r in api.requests_for("sendMessage") if r.params["chat_id"] == str(chat)]
    assert [r.status for r in to_a] == [400]
    [notice] = api.messages(ADMIN)
    assert "a-news" in notice.text
    assert urls(api, CHANNEL_B) == [make_release(3).url]


async def test_a_message_level_400_fails_only_that_post(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """One post refused for itself: it fails with Telegram's words, the others are sent, no
    pause and no notice."""
    h = harness(("a-news", CHANNEL_A, ["nida"]))
    description = MESSAGE_LEVEL[0]
    api.fail_next("sendMessage", 400, description)
    h.ingest("nida", [make_release(n) for n in (1, 2)])
    report = await h.dispatcher.drain()
    assert (report.sent, report.failed) == (1, 1)
    rows = h.rows("a-news")
    assert [row["state"] for row in rows] == ["failed", "sent"]
    assert rows[0]["error"] == BadRequest(description).message
    assert urls(api, CHANNEL_A) == [make_release(2).url]
    assert not h.store.channel_state("a-news").paused
    assert api.messages(ADMIN) == []
