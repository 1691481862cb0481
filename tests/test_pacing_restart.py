"""A restart right after a burst: the rate windows are refilled from the outbox's send times,
so the restarted bot waits for Telegram's windows instead of meeting 429s.

The fake Bot API runs Telegram's real windows (time_scale=1.0) on wall-clock time, the
clock the outbox's `sent_at` instants and the Pacer use. The previous run's burst is
replayed at instants in the past (the fake's clock pinned to each), so the 60 s window is
full without the test waiting a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot

from bot.config import Settings, settings_from_dict
from bot.services.config_sync import sync_config
from bot.services.pacing import Pacer
from bot.store import Store
from bot.telegram.app import open_runtime
from bot.telegram.sender import TelegramSender
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI

CHANNEL = -1001
BURST = 20  # what Telegram allows one channel in any 60 s
QUEUED = 2  # each one more queued post adds a second (1 post per second per chat)


class FakeApiClock:
    """Wall-clock time for the fake's windows, or a pinned past instant; logs each send's time."""

    def __init__(self) -> None:
        self.pinned: float | None = None
        self.sends: list[float] = []  # the fake reads its clock once per sendMessage

    def __call__(self) -> float:
        now = time.time() if self.pinned is None else self.pinned
        self.sends.append(now)
        return now


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is read as seconds; opt in to timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> FakeApiClock:
    return FakeApiClock()


@pytest.fixture
def api(clock: FakeApiClock) -> Iterator[FakeBotAPI]:
    with FakeBotAPI(time_scale=1.0, clock=clock) as fake:
        fake.add_chat(CHANNEL, "channel", title="A news")
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


def one_channel(tmp_path: Path) -> Settings:
    return settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "bot.db")},
            "defaults": {"backlog": BURST + QUEUED},
            "feeds": [
                {
                    "name": "nida",
                    "url": "https://example.org/nida.xml",
                    "publisher": "National Institute on Drug Abuse",
                    "short_name": "NIDA",
                }
            ],
            "channels": [{"name": "a-news", "chat": CHANNEL, "feeds": ["nida"]}],
        },
        tmp_path,
    )


async def replay_previous_run(
    settings: Settings, bot: Bot, clock: FakeApiClock, first: float
) -> None:
    """Queue BURST + QUEUED posts; send the oldest BURST one a second from `first` on (the
    fake counts them then) and record them in the outbox as sent then, as a run does."""
    store = Store.open(settings.database_path)
    try:
        now = datetime.now(UTC)
        sync_config(store, settings, now)
        releases = [make_release(n) for n in range(1, BURST + QUEUED + 1)]
        store.ingest("nida", releases, now=now, flood_limit=BURST + QUEUED)
        owed = [o.delivery for o in store.pending_for_channel("a-news", now, limit=100)]
        assert len(owed) == BURST + QUEUED
        for i, delivery in enumerate(owed[:BURST]):
            clock.pinned = first + i
            message = await bot.send_message(CHANNEL, f"post {i + 1}")
            store.mark_sending(delivery.id)
            store.mark_sent(delivery.id, message.message_id, datetime.fromtimestamp(first + i, UTC))
        clock.pinned = None
    finally:
        store.close()


async def test_a_restart_after_a_burst_waits_for_the_window_instead_of_meeting_429s(
    tmp_path: Path, api: FakeBotAPI, bot: Bot, clock: FakeApiClock
) -> None:
    """20 posts in the last minute, then a restart with 2 more queued: no 429, and post 21
    goes out only once post 1 has left Telegram's 60 s window, post 22 once post 2 has."""
    settings = one_channel(tmp_path)
    first = time.time() - 59.5  # post 1 leaves the window half a second from now
    await replay_previous_run(settings, bot, clock, first)
    assert api.rate_limited_count == 0
    clock.sends.clear()

    async with open_runtime(
        settings,
        TelegramSender(bot),
        clock=lambda: datetime.now(UTC),
        bot_username=bot.username,
        dry_run=False,
    ) as runtime:
        report = await runtime.dispatcher.drain()

    assert api.rate_limited_count == 0
    assert report.sent == QUEUED
    assert len(api.messages(CHANNEL)) == BURST + QUEUED
    assert len(clock.sends) == QUEUED
    for k, sent in enumerate(clock.sends):
        assert sent >= first + k + 60.0  # post k+1 of the burst had left the window
    assert clock.sends[0] < first + 60.0 + 1.0  # and no needless wait beyond it


async def test_seeded_sends_hold_their_windows_and_older_ones_do_not() -> None:
    """A group's 20 sends in the last minute hold it, a chat's send half a second ago holds
    that chat; sends older than a window hold nothing."""
    pacer = Pacer()
    now = datetime.now(UTC)
    pacer.seed(-1001, [now - timedelta(seconds=59.0 - i) for i in range(20)])
    pacer.seed(-1002, [now - timedelta(seconds=81.0 - i) for i in range(20)])
    pacer.seed(501, [now - timedelta(seconds=0.5)])
    pacer.seed(502, [now - timedelta(seconds=1.5)])
    for held in (-1001, 501):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pacer.wait_turn(held), 0.1)
    for free in (-1002, 502):
        await asyncio.wait_for(pacer.wait_turn(free), 0.1)
