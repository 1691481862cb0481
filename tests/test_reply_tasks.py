"""The replies under way: a few per reader, in the reader's order, dropped at a stop.

ReplyTasks runs plain coroutines here; the end-to-end behaviour with PTB and the fake Bot
API is in tests/test_reply_queues_e2e.py.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.render.command_args import Command
from bot.services.commands import Answers, ChatRef
from bot.telegram.reply_tasks import ReplyMaker, ReplyTasks

READER, OTHER, CHAT, GROUP = 1, 2, 1, -10


async def settled() -> None:
    """Wait for every other task on the loop: the replies admitted so far."""
    while others := asyncio.all_tasks() - {asyncio.current_task()}:
        await asyncio.wait(others)


def holding(gate: asyncio.Event, log: list[str], name: str) -> ReplyMaker:
    """A reply that waits for `gate`, then for the reader's earlier replies, then logs."""

    async def reply(earlier: list[asyncio.Task[None]]) -> None:
        await gate.wait()
        if earlier:
            await asyncio.wait(earlier)
        log.append(name)

    return reply


async def test_a_reader_gets_a_few_answers_one_slow_down_then_nothing() -> None:
    """Per reader: N answers, then one slow-down, then drops; once all are out, answers again."""
    tasks = ReplyTasks(per_reader=3)
    gate, log = asyncio.Event(), list[str]()
    verdicts: list[str] = []
    for n in range(10):
        verdict = tasks.admit(READER, CHAT)
        verdicts.append(verdict)
        if verdict != "drop":
            tasks.start(READER, CHAT, holding(gate, log, f"{verdict} {n}"))
    assert verdicts == ["answer"] * 3 + ["slow down"] + ["drop"] * 6
    assert tasks.admit(OTHER, OTHER) == "answer"  # another reader is not held back
    gate.set()
    await settled()
    assert log == ["answer 0", "answer 1", "answer 2", "slow down 3"]
    assert tasks.admit(READER, CHAT) == "answer"


async def test_a_chat_has_a_cap_across_its_readers() -> None:
    """In a group, many readers together fill the chat's cap; later ones are dropped quietly."""
    tasks = ReplyTasks(per_reader=3, per_chat=4)
    gate, log = asyncio.Event(), list[str]()
    verdicts: list[str] = []
    for reader in range(10, 16):
        verdict = tasks.admit(reader, GROUP)
        verdicts.append(verdict)
        if verdict != "drop":
            tasks.start(reader, GROUP, holding(gate, log, str(reader)))
    assert verdicts == ["answer"] * 4 + ["drop"] * 2
    gate.set()
    await tasks.stop(grace=1)


async def test_a_readers_replies_go_out_in_order_even_when_the_first_is_slow() -> None:
    """The second reply is ready first but waits for the first: the reader reads them in order."""
    tasks = ReplyTasks()
    slow, quick = asyncio.Event(), asyncio.Event()
    log: list[str] = []
    tasks.start(READER, CHAT, holding(slow, log, "first"))
    tasks.start(READER, CHAT, holding(quick, log, "second"))
    quick.set()
    await asyncio.sleep(0.01)
    assert log == []
    slow.set()
    await settled()
    assert log == ["first", "second"]


async def test_stop_drops_the_waiting_replies_and_lets_the_one_being_sent_finish() -> None:
    """A reply under way (sending) is finished and kept; those waiting are dropped at once."""
    tasks = ReplyTasks()
    sent: list[str] = []
    in_flight, answered = asyncio.Event(), asyncio.Event()

    async def being_sent(earlier: list[asyncio.Task[None]]) -> None:
        with tasks.sending():
            in_flight.set()
            await answered.wait()
            sent.append("under way")

    async def waiting(earlier: list[asyncio.Task[None]]) -> None:
        await asyncio.sleep(3600)  # a pacer turn far off
        sent.append("waiting")

    tasks.start(READER, READER, being_sent)
    tasks.start(OTHER, OTHER, waiting)
    await in_flight.wait()
    stopping = asyncio.ensure_future(tasks.stop(grace=5))
    await asyncio.sleep(0.01)
    assert not stopping.done()  # it waits for the send under way
    answered.set()
    await asyncio.wait_for(stopping, timeout=1)
    assert sent == ["under way"]
    assert tasks.pending == 0
    assert tasks.admit(READER, READER) == "drop"  # nothing new once stopping


async def test_stop_gives_up_on_a_send_that_outlasts_the_grace() -> None:
    """A send that never answers is cancelled when the grace is over."""
    tasks = ReplyTasks()

    async def hung(earlier: list[asyncio.Task[None]]) -> None:
        with tasks.sending():
            await asyncio.sleep(3600)

    tasks.start(READER, READER, hung)
    await asyncio.sleep(0)
    await asyncio.wait_for(tasks.stop(grace=0.05), timeout=1)
    assert tasks.pending == 0


async def test_a_failing_reply_is_logged_and_frees_its_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in one reply is logged with its traceback; the reader can ask again."""
    tasks = ReplyTasks(per_reader=1)

    async def broken(earlier: list[asyncio.Task[None]]) -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR):
        tasks.start(READER, CHAT, broken)
        await settled()
    assert "a reply failed" in caplog.text
    assert "ValueError: boom" in caplog.text
    assert tasks.admit(READER, CHAT) == "answer"


@pytest.mark.parametrize(
    ("name", "chat_type", "addressed", "ignored"),
    [
        ("frobnicate", "group", False, True),  # maybe another bot's
        ("retry", "supergroup", False, True),
        ("frobnicate", "group", True, False),  # /frobnicate@ourbot: answered with a hint
        ("latest", "group", False, False),
        ("frobnicate", "private", False, False),
    ],
)
def test_commands_for_another_bot_are_never_queued(
    name: str, chat_type: str, addressed: bool, ignored: bool
) -> None:
    """A bare unknown command in a group is ignored before it is queued, so a burst of
    them never draws a "slow down" from this bot."""
    chat = ChatRef(-5 if chat_type != "private" else 7, chat_type, "", 7)
    assert Answers.ignores(Command(name, "", addressed), chat) is ignored
