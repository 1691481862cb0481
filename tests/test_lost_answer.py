"""A send whose answer is lost is sent once more after a wait, never a third time.

The Bot API has no idempotency key: after a read timeout the message may have been posted.
The real PTB client with a short read timeout talks to the fake Bot API, which holds its
answer past the timeout but still posts the message, as Telegram would. The timeouts are
real; the Pacer's wait before a send is sent again runs on a virtual clock.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest

from bot.errors import AnswerLostError, TransientDeliveryError
from bot.services.dispatcher import SENT_TWICE
from bot.telegram.sender import translate
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.virtual_time import VirtualClock
from tests.test_dispatcher import Harness, eventually

CHANNEL_A = -1001
A_NEWS = [{"name": "a-news", "chat": CHANNEL_A, "feeds": ["nida"]}]
# The client gives up on an answer after LOST_AFTER s; a "lost" answer comes LATE_BY s after
# the send. LOST_AFTER leaves a loaded machine time to answer getMe and the quick calls.
LOST_AFTER, LATE_BY = 1.0, 2.0


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is read as seconds; opt in to timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def _caused_by(exc: NetworkError, cause: BaseException) -> NetworkError:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    "exc",
    [
        _caused_by(TimedOut(), httpx.ReadTimeout("read")),
        _caused_by(NetworkError("httpx.ReadError: reset"), httpx.ReadError("reset")),
        _caused_by(
            NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("disconnected")
        ),
    ],
    ids=["read-timeout", "read-error", "disconnected"],
)
def test_no_answer_after_sending_may_have_posted(exc: NetworkError) -> None:
    """A timeout or a dropped connection after the request left: the post may be there."""
    assert isinstance(translate(exc), AnswerLostError)


@pytest.mark.parametrize(
    "exc",
    [
        _caused_by(TimedOut(), httpx.ConnectTimeout("connect")),
        _caused_by(TimedOut("Pool timeout"), httpx.PoolTimeout("pool")),
        _caused_by(NetworkError("httpx.ConnectError"), httpx.ConnectError("refused")),
        NetworkError("Bad Gateway"),  # Telegram answered 502
    ],
    ids=["connect-timeout", "pool-timeout", "refused", "502"],
)
def test_failures_that_prove_nothing_was_posted_are_plain_retries(exc: NetworkError) -> None:
    """Never connected, no free connection, or an error answer: safe to retry with backoff."""
    error = translate(exc)
    assert isinstance(error, TransientDeliveryError)
    assert not isinstance(error, AnswerLostError)


async def test_a_lost_answer_is_sent_once_more_and_never_a_third_time(
    fake_bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """Every answer comes too late: sent, then once more after bot.request_timeout, then failed
    with a message telling the admin to check the channel; exactly two sends in all."""
    api = fake_bot_api
    api.add_chat(CHANNEL_A, "channel")
    request = HTTPXRequest(read_timeout=LOST_AFTER)
    async with Bot(api.token, base_url=api.base_url, request=request) as slow_bot:
        h = Harness(tmp_path, slow_bot, A_NEWS, VirtualClock())
        try:
            api.set_delay("sendMessage", LATE_BY)
            h.ingest("nida", [make_release(1)])
            first = await h.dispatcher.drain()
            [row] = h.rows("a-news")
            wait = datetime.fromisoformat(row["not_before"]) - h.clock()
            h.clock.advance(29)
            await h.dispatcher.drain()  # not before the wait is over
            sends_in_the_wait = len(api.requests_for("sendMessage"))
            h.clock.advance(1)
            second = await h.dispatcher.drain()
            for _ in range(3):  # later rounds leave it alone
                h.clock.advance(3600)
                await h.dispatcher.drain()
            await asyncio.sleep(LATE_BY - LOST_AFTER + 0.5)  # every late answer has landed
            assert len(api.requests_for("sendMessage")) == 2
            assert len(api.messages(CHANNEL_A)) == 2  # Telegram did post both: the honest cost
            assert (first.retrying, second.failed) == (1, 1)
            assert wait.total_seconds() == h.settings.bot.request_timeout == 30
            assert sends_in_the_wait <= 1
            [row] = h.rows("a-news")
            assert (row["state"], row["error"]) == ("failed", SENT_TWICE)
        finally:
            h.store.close()


async def test_a_429_between_two_lost_answers_does_not_buy_a_third_send(
    fake_bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """Lost answer, then a 429, then a lost answer again: still failed after two real sends."""
    api = fake_bot_api
    api.add_chat(CHANNEL_A, "channel")
    request = HTTPXRequest(read_timeout=LOST_AFTER)
    async with Bot(api.token, base_url=api.base_url, request=request) as slow_bot:
        pacing_clock = VirtualClock()
        h = Harness(tmp_path, slow_bot, A_NEWS, pacing_clock)
        try:
            api.set_delay("sendMessage", LATE_BY)
            h.ingest("nida", [make_release(1)])
            await h.dispatcher.drain()
            await eventually(lambda: len(api.requests_for("sendMessage")) == 1)  # landed late
            api.set_delay("sendMessage", 0)
            api.fail_next(
                "sendMessage",
                429,
                "Too Many Requests: retry after 1",
                parameters={"retry_after": 1},
            )
            h.clock.advance(30)
            pacing_clock.advance(30)
            with pacing_clock.hold():  # the 429's wait lasts until the next answer is slow
                drain = asyncio.create_task(h.dispatcher.drain())
                await eventually(lambda: api.rate_limited_count == 1)  # answered: nothing posted
                api.set_delay("sendMessage", LATE_BY)  # the send after the 429's wait is lost again
            await drain
            [row] = h.rows("a-news")
            assert (row["state"], row["error"]) == ("failed", SENT_TWICE)
            await asyncio.sleep(LATE_BY - LOST_AFTER + 0.5)
            assert len(api.messages(CHANNEL_A)) == 2
        finally:
            h.store.close()


async def test_an_answer_that_cannot_be_read_counts_as_lost(
    fake_bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """sendMessage answered with something PTB cannot read (a broken proxy): the post may have
    landed, so it is sent once more and then failed, never left half-sent or sent blindly."""
    api = fake_bot_api
    api.add_chat(CHANNEL_A, "channel")
    async with Bot(api.token, base_url=api.base_url) as bot:
        h = Harness(tmp_path, bot, A_NEWS, VirtualClock())
        try:
            api.answer_next_raw("sendMessage", b"<html>upstream sent garbage</html>", count=5)
            h.ingest("nida", [make_release(1)])
            first = await h.dispatcher.drain()
            [row] = h.rows("a-news")
            assert (row["state"], first.retrying) == ("pending", 1)
            for _ in range(4):
                h.clock.advance(3600)
                await h.dispatcher.drain()
            assert len(api.requests_for("sendMessage")) == 2
            [row] = h.rows("a-news")
            assert (row["state"], row["error"]) == ("failed", SENT_TWICE)
        finally:
            h.store.close()
