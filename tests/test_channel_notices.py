"""The admins' notices about a channel the bot cannot post to, and `check --network`'s lines:
Telegram's answers sorted into plain words with a fix (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.chat_problems import (
    how_to_fix,
    problem_from_answer,
    problem_from_status,
    what_happened,
)
from bot.render.notices import channel_paused_notice, channel_resumed_notice
from tests.fakes.telegram_html import validate_message_text

BOT = "releasebot_test_bot"


@pytest.mark.parametrize(
    ("answer", "said", "fix"),
    [
        (
            "Forbidden: bot was kicked from the channel chat",
            "the bot was kicked out of the channel @news",
            f"add @{BOT} back as an administrator of @news with 'Post messages'",
        ),
        (
            "Forbidden: bot is not a member of the channel chat",
            "the bot is no longer a member of the channel @news",
            f"add @{BOT} back as an administrator of @news with 'Post messages'",
        ),
        (
            "Need administrator rights in the channel chat",
            "the bot is not an administrator of the channel @news with the right to post",
            f"make @{BOT} an administrator of @news and give it 'Post messages'",
        ),
        (
            "Chat not found",
            "Telegram finds no chat @news (deleted, or its @username changed)",
            "check the @username @news in the config (channels[].chat), or use the chat's"
            " numeric chat id, which never changes",
        ),
    ],
    ids=["kicked", "left", "demoted", "not-found"],
)
def test_telegram_answers_become_plain_words_with_the_fix(answer: str, said: str, fix: str) -> None:
    """Each refusal Telegram gives for a channel reads as a sentence and names the fix."""
    problem = problem_from_answer(answer, "@news")
    assert what_happened(problem) == said
    assert how_to_fix(problem, BOT) == fix


@pytest.mark.parametrize(
    ("status", "chat_type", "answer"),
    [
        ("left", "channel", "Forbidden: bot is not a member of the channel chat"),
        ("kicked", "channel", "Forbidden: bot was kicked from the channel chat"),
        ("member", "channel", "Bad Request: need administrator rights in the channel chat"),
        ("restricted", "supergroup", "Bad Request: not enough rights to send text messages"),
    ],
)
def test_a_member_status_says_the_same_as_the_send_that_failed(
    status: str, chat_type: str, answer: str
) -> None:
    """getChatMember's status (a check) and sendMessage's refusal (a send) read the same."""
    by_status = problem_from_status(status, chat_type, "@news")
    by_answer = problem_from_answer(answer, "@news")
    assert by_status.kind == by_answer.kind
    assert how_to_fix(by_status, BOT) == how_to_fix(by_answer, BOT)


def test_a_numeric_chat_not_found_says_to_check_the_id() -> None:
    """'chat not found' for a numeric id points at the id in the config."""
    problem = problem_from_answer("Bad Request: chat not found", -1001234)
    assert "check the numeric chat id -1001234 in the config" in how_to_fix(problem, BOT)


def test_an_unknown_refusal_is_quoted() -> None:
    """A refusal not recognised is quoted as Telegram gave it, with a general fix."""
    problem = problem_from_answer("Bad Request: SOMETHING_NEW", "@news")
    assert problem.kind == "other"
    assert "SOMETHING_NEW" in what_happened(problem)


def test_the_paused_notice_has_no_raw_phrases() -> None:
    """The notice for a kicked bot reads plainly: no 'Forbidden', no 'kicked from the channel
    chat', and says when it is checked again."""
    problem = problem_from_answer("Forbidden: bot was kicked from the channel chat", -1001)
    text = validate_message_text(
        channel_paused_notice("a-news", problem, bot_username=BOT, recheck_every="10 min"),
        parse_mode="HTML",
    ).text
    assert "Forbidden" not in text
    assert "channel chat" not in text
    assert "release-bot cannot post to a-news: the bot was kicked out of the channel -1001." in text
    assert "checked every 10 min" in text


PRINTABLE = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300)
CHATS = st.one_of(st.integers(-(10**13), 10**13), PRINTABLE)


@given(
    channel=PRINTABLE,
    chat=CHATS,
    answer=PRINTABLE,
    status=st.sampled_from(["left", "kicked", "member", "restricted", "administrator", "x<&>"]),
    username=st.text(max_size=40),
    waiting=st.integers(0, 10**6),
)
def test_the_channel_notices_are_valid_telegram_html_whatever_the_names(
    channel: str, chat: str | int, answer: str, status: str, username: str, waiting: int
) -> None:
    """Telegram accepts the paused and resumed notices for any channel name, chat, answer text
    or status, and shows the channel name as written."""
    for problem in (
        problem_from_answer(answer, chat),
        problem_from_status(status, "channel", chat),
    ):
        notice = channel_paused_notice(
            channel, problem, bot_username=username, recheck_every="10 min"
        )
        assert channel in validate_message_text(notice, parse_mode="HTML").text
    resumed = validate_message_text(
        channel_resumed_notice(channel, str(chat), waiting), parse_mode="HTML"
    )
    assert channel in resumed.text
