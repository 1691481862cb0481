"""Start-up never dies because Telegram is down or answers something unreadable.

Unit tests drive bot/services/startup.py's Connection with a fake clock and sleep (no
waiting); the end-to-end tests start the real `releasebot run` while nothing listens on the
Bot API's port, then start the fake Bot API there, and script answers PTB cannot read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.errors import (
    MessageRejectedError,
    RateLimitedError,
    TelegramAuthError,
    TransientDeliveryError,
)
from bot.services.startup import Backoff, Connection, Step, TelegramUnreachableError
from bot.telegram.startup import on_error
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.processes import releasebot
from tests.test_run_e2e import (
    ADMIN,
    CHANNEL_A,
    BotProcess,
    Item,
    db_rows,
    deliveries,
    one_channel_config,
    read_urls,
    release_url,
    rss,
    write_config,
)

UNREACHABLE = "Telegram not reachable"

# --- the retry loop, with a fake clock ------------------------------------------------------


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def failing(*errors: Exception) -> tuple[Callable[[], Awaitable[None]], list[int]]:
    """A step that raises each error in turn, then succeeds; and its call count."""
    calls = [0]

    async def call() -> None:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]

    return call, calls


def connection(steps: list[Step], time: FakeTime, patience: float | None = None) -> Connection:
    return Connection(
        steps, backoff=Backoff(), sleep=time.sleep, clock=time.clock, patience=patience
    )


def down(n: int) -> list[Exception]:
    return [TransientDeliveryError("httpx.ConnectError: All connection attempts failed")] * n


async def test_telegram_down_is_retried_one_line_per_attempt_then_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nine failed getMe calls: waits of 1, 2, 4 ... s, then a minute; a warning per attempt."""
    time = FakeTime()
    get_me, calls = failing(*down(9))
    link = connection([Step("getMe", get_me)], time)
    with caplog.at_level(logging.WARNING):
        assert await link.first_attempt() is False
        await link.until_reached()
    assert link.reached
    assert calls == [10]
    assert time.slept == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 9
    assert all(line.startswith(UNREACHABLE) for line in lines)
    assert "attempt 7 failed; trying again in 1 min" in lines[6]
    assert not any(r.exc_info for r in caplog.records)


@given(st.integers(min_value=7, max_value=200))
def test_after_the_first_few_attempts_at_most_one_a_minute(failures: int) -> None:
    """However long Telegram stays down, the waits never grow past a minute nor shrink."""
    delays = [Backoff().delay(n) for n in range(1, failures + 1)]
    assert delays == sorted(delays)
    assert set(delays[6:]) == {60.0}


async def test_a_rejected_token_stops_at_once() -> None:
    """401 on getMe is no outage: it raises at the first attempt, with no wait."""
    time = FakeTime()
    get_me, _ = failing(TelegramAuthError("Telegram rejected the bot token (401)"))
    with pytest.raises(TelegramAuthError):
        await connection([Step("getMe", get_me)], time).first_attempt()
    assert time.slept == []


async def test_a_failed_step_is_tried_again_without_repeating_those_done() -> None:
    """getMe answered; setMyCommands timed out twice: only setMyCommands is asked again."""
    time = FakeTime()
    get_me, me_calls = failing()
    set_commands, command_calls = failing(*down(2))
    link = connection([Step("getMe", get_me), Step("setMyCommands", set_commands, False)], time)
    assert await link.first_attempt() is False
    await link.until_reached()
    assert (me_calls, command_calls) == ([1], [3])


async def test_a_429_at_start_waits_as_long_as_telegram_asks() -> None:
    """Flood control on getMe: the next attempt waits the retry_after, not just 1 s."""
    time = FakeTime()
    get_me, _ = failing(RateLimitedError("Too Many Requests: retry after 90", 90.0))
    link = connection([Step("getMe", get_me)], time)
    await link.first_attempt()
    await link.until_reached()
    assert time.slept == [90.0]


async def test_an_answer_that_cannot_be_read_is_logged_with_its_traceback_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """getMe answers three times with a user PTB cannot build: one traceback, then one line
    per attempt, and the bot goes on when the answer is right."""
    time = FakeTime()
    unreadable = TypeError("User.__init__() missing 2 required positional arguments")
    get_me, calls = failing(unreadable, unreadable, unreadable)
    link = connection([Step("getMe", get_me)], time)
    with caplog.at_level(logging.WARNING):
        await link.first_attempt()
        await link.until_reached()
    assert calls == [4]
    assert len([r for r in caplog.records if r.exc_info]) == 1
    attempts = [r.getMessage() for r in caplog.records if not r.exc_info]
    assert len(attempts) == 3
    assert "getMe: TypeError: User.__init__() missing" in attempts[0]


@pytest.mark.parametrize(
    "error",
    [MessageRejectedError("Bad Request: BOT_COMMAND_INVALID"), KeyError("result")],
    ids=["refused", "unreadable"],
)
async def test_setmycommands_refused_or_unreadable_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    """The command menu is optional: a refusal or an unreadable answer is logged, no retry."""
    time = FakeTime()
    set_commands, calls = failing(error)
    link = connection([Step("setMyCommands", set_commands, required=False)], time)
    with caplog.at_level(logging.ERROR):
        assert await link.first_attempt() is True
    assert calls == [1]
    assert time.slept == []
    assert "going on without it" in caplog.records[0].getMessage()


async def test_patience_runs_out_with_what_was_wrong() -> None:
    """With 30 s of patience (`run --once`), it gives up before 30 s of waiting, saying why."""
    time = FakeTime()
    get_me, _ = failing(*down(100))
    link = connection([Step("getMe", get_me)], time, patience=30.0)
    await link.first_attempt()
    with pytest.raises(TelegramUnreachableError) as caught:
        await link.until_reached()
    assert sum(time.slept) <= 30
    assert time.slept == [1, 2, 4, 8]
    assert caught.value.message == (
        f"{UNREACHABLE} (getMe: httpx.ConnectError: All connection attempts failed)"
        " after 5 attempts in 15 s"
    )


# --- end to end: the real process -------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_config(tmp: Path, port: int, feed_url: str) -> Path:
    return write_config(
        tmp,
        api_base_url=f"http://127.0.0.1:{port}/bot",
        feeds={"nida": feed_url},
        channels=[("a-news", CHANNEL_A, ["nida"])],
    )




def attempt_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if UNREACHABLE in line]


def test_run_waits_for_telegram_storing_feeds_and_posts_once_it_answers(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Nothing listens on the Bot API port: `run` keeps going with one line per attempt (no
    traceback), stores the feed's releases meanwhile, and posts them once Telegram answers."""
    port = free_port()
    config = unreachable_config(tmp_path, port, feed_server.serve("/n.xml", rss(Item(1), Item(2))))
    api = FakeBotAPI(port=port, time_scale=0.01)
    api.add_chat(CHANNEL_A, "channel")
    bot = BotProcess(config, token=api.token)
    try:
        bot.wait_for(
            lambda: (
                len(attempt_lines(bot.stderr)) >= 2
                and len(db_rows(config, "SELECT id FROM releases")) == 2
            ),
            "two attempts and the releases stored",
        )
        latest = releasebot(config, "latest")
        assert "Release 1 on drug use" in latest.stdout
        assert "Release 2 on drug use" in latest.stdout
        with api:
            bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 2, "the posts", within=60)
            assert read_urls(api, CHANNEL_A) == [release_url(1), release_url(2)]
            assert bot.terminate() == 0
    finally:
        bot.kill()
    lines = attempt_lines(bot.stderr)
    assert [f"attempt {n} failed" in line for n, line in enumerate(lines, 1)] == [True] * len(lines)
    assert "getMe: httpx.ConnectError" in lines[0]
    assert "Traceback" not in bot.stderr
    assert {row["state"] for row in deliveries(config)} == {"sent"}


def test_run_once_gives_telegram_request_timeout_then_exits_1_in_one_line(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`run --once` while Telegram is down: it stores what it polled, waits at most
    bot.request_timeout, exits 1 saying so in one line; the next `run --once` posts it all."""
    port = free_port()
    config = unreachable_config(tmp_path, port, feed_server.serve("/n.xml", rss(Item(1), Item(2))))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[bot]\n", '[bot]\nrequest_timeout = "2s"\n', 1), "utf-8")
    first = BotProcess(config, "--once", token="123456789:TEST-token_for-the-fake-api")
    assert first.wait() == 1
    last = first.stderr.splitlines()[-1]
    assert last.startswith(f"releasebot: {UNREACHABLE} (getMe: httpx.ConnectError")
    assert last.endswith("2 new releases stored, their posts wait for the next run")
    assert "Traceback" not in first.stderr
    assert [row["state"] for row in deliveries(config)] == ["pending", "pending"]
    with FakeBotAPI(port=port, time_scale=0.01) as api:
        api.add_chat(CHANNEL_A, "channel")
        second = BotProcess(config, "--once", token=api.token)
        assert second.wait() == 0, second.stderr
        assert read_urls(api, CHANNEL_A) == [release_url(1), release_url(2)]


def unreadable(result: object) -> bytes:
    """An answer that says ok but holds a result PTB cannot turn into its object."""
    return json.dumps({"ok": True, "result": result}).encode()


def test_answers_ptb_cannot_read_never_stop_the_bot(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """getMe answers a user without a name, setMyCommands an HTML page, getChat a chat without
    a type, and a getUpdates a 502: each is logged (once, with its traceback where
    unexpected), and the bot still posts and answers."""
    api = fake_bot_api
    api.add_chat(CHANNEL_A, "channel")
    api.add_chat(ADMIN, "private")
    api.answer_next_raw("getMe", unreadable({"id": 1}))
    api.answer_next_raw("setMyCommands", b"<html>502 Bad Gateway</html>")
    api.answer_next_raw("getChat", unreadable({"id": CHANNEL_A}))
    url = feed_server.serve("/n.xml", rss(Item(1)))
    bot = BotProcess(one_channel_config(tmp_path, api, url), token=api.token)
    try:
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 1, "the first post")
        api.fail_next("getUpdates", 502, "Bad Gateway")
        api.push_message(ADMIN, "/help", ADMIN)  # ends the long poll: the next one fails
        bot.wait_for(lambda: "cannot fetch updates" in bot.stderr, "the failed getUpdates")
        api.push_message(ADMIN, "/start", ADMIN)
        bot.wait_for(lambda: len(api.messages(ADMIN)) == 2, "both replies")
        feed_server.serve("/n.xml", rss(Item(1), Item(2)))
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 2, "the next post")
        assert bot.terminate() == 0
    finally:
        bot.kill()
    log = bot.stderr
    assert log.count("getMe failed with an unexpected error") == 1
    assert "TypeError: User.__init__() missing" in log
    assert "setMyCommands: unreadable answer from Telegram (TelegramError: Invalid" in log
    # the readers' menu (no scope) asked twice; the admin scopes once, after it went through
    menus = [r.params.get("scope") for r in api.requests_for("setMyCommands")]
    assert menus.count(None) == 2
    assert log.count("checking the channels at start failed") == 1
    assert log.count("Telegram: cannot fetch updates (Bad Gateway); trying again") == 1
    assert "No error handlers are registered" not in log


async def test_a_handler_or_job_that_raises_is_logged_once_and_the_bot_goes_on(
    fake_bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """With on_error registered, a handler's and a job's exceptions are each logged once with
    their traceback; the next update is still handled."""
    api, seen = fake_bot_api, []

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(update.effective_message.text)
        if update.effective_message.text == "/boom":
            raise RuntimeError("a bug in a handler")

    async def nightly(context: ContextTypes.DEFAULT_TYPE) -> None:
        raise ValueError("a bug in a job")

    def ours() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "bot.telegram.startup"]

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    app.add_handler(MessageHandler(filters.ALL, handler))
    app.add_error_handler(on_error)
    async with app:
        assert app.updater is not None
        assert app.job_queue is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        app.job_queue.run_once(nightly, 0)
        api.push_message(ADMIN, "/boom", ADMIN)
        api.push_message(ADMIN, "/next", ADMIN)
        async with asyncio.timeout(10):
            while len(seen) < 2 or len(ours()) < 2:  # noqa: ASYNC110 -- server threads
                await asyncio.sleep(0.01)
        await app.updater.stop()
        await app.stop()
    assert seen == ["/boom", "/next"]
    logged = sorted((r.getMessage(), str(r.exc_info[1]) if r.exc_info else "") for r in ours())
    assert logged == [
        ("unexpected error handling update 1; the bot goes on", "a bug in a handler"),
        ("unexpected error in job nightly; the bot goes on", "a bug in a job"),
    ]
