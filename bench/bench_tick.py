"""Benchmark: the store work of one `bot.tick` with 10,000 feeds, in a real SQLite file.

The database (built once per run of this script, in a temporary folder): 10,000 feeds,
100 channels, each feed routed to one channel (10,000 routes), 3 releases per feed
(30,000, with their full-text index) whose 30,000 posts were sent. Every feed was
polled, with its next poll spread over the next 15 minutes.

A tick is what `run_round` does each `bot.tick` (bot/telegram/app.py), without Telegram
and the network: `Poller.poll_due()` with a fetcher that answers 304 at once, the read of
the channels' states that the paused-channel recheck makes, `Dispatcher.drain()` with a
sender that takes each post at once (no pacer), and the round line's count of waiting
posts. Two kinds:

- quiet: no feed due and nothing owed (the clock stays where every poll is ahead);
- busy: the clock moves on 9 s, so about 100 feeds are due (polled: 304, state written),
  and 50 feeds got a new release each just before (stored through `Store.ingest`, not
  timed), so 50 posts are owed to up to 50 channels and are sent (rendering included).

Also `feed_states()` and `channel_states()` (what `status` and /feeds read). Each figure
is min / median / max over the runs, wall time (perf_counter) and this process's CPU
time; "statements" is how many SQL statements one such tick ran (an untimed extra run
with sqlite3's trace callback).

Run from the repository root: `python bench/bench_tick.py [--runs 7]`. To time other code
with the same script, put its checkout first: `PYTHONPATH=/tmp/old python bench/bench_tick.py`
(the `bot` it imports is printed first).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if "PYTHONPATH" not in os.environ and str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `python bench/x.py` puts bench/, not the repo, on the path

import bot  # noqa: E402
from bench.common import machine, today  # noqa: E402
from bot.config import Settings, settings_from_dict  # noqa: E402
from bot.models import FetchResult, Release  # noqa: E402
from bot.render.post import Post  # noqa: E402
from bot.services.config_sync import sync_config  # noqa: E402
from bot.services.dispatcher import Dispatcher  # noqa: E402
from bot.services.poller import Poller  # noqa: E402
from bot.services.progress import Progress  # noqa: E402
from bot.store import Store  # noqa: E402

FEEDS = 10_000
CHANNELS = 100
HISTORY = 3  # releases per feed, all sent
INTERVAL = 900.0  # seconds between two polls of a feed (the default)
STEP = 9.0  # seconds the clock moves per busy tick: about FEEDS * STEP / INTERVAL due
NEW_PER_TICK = 50  # feeds with a new release before each busy tick
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class NotModified:
    """A fetcher whose every feed answers 304 at once."""

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        return FetchResult(
            status="not_modified",
            url=url,
            permanent_url=None,
            body=b"",
            content_type="",
            etag=etag,
            last_modified=last_modified,
        )


class Instant:
    """A sender Telegram answers at once."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, chat: int | str, post: Post) -> int:
        self.sent += 1
        return self.sent

    async def edit(self, chat: int | str, message_id: int, post: Post) -> None:
        return None

    async def send_text(self, chat: int | str, text: str) -> None:
        return None


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(folder: Path) -> Settings:
    per_channel = FEEDS // CHANNELS
    return settings_from_dict(
        {
            "bot": {"database": str(folder / "tick.db")},
            "defaults": {"backlog": HISTORY, "flood_limit": 100},
            "feeds": [
                {"name": f"f{n}", "url": f"https://f{n}.example.org/news.xml", "publisher": "P"}
                for n in range(FEEDS)
            ],
            "channels": [
                {
                    "name": f"c{c}",
                    "chat": -1001000000000 - c,
                    "feeds": [f"f{n}" for n in range(c * per_channel, (c + 1) * per_channel)],
                }
                for c in range(CHANNELS)
            ],
        },
        folder,
    )


def release(feed: str, n: int) -> Release:
    return Release(
        feed=feed,
        key=f"https://{feed}.example.org/news/{n}",
        title=f"Release {n} of {feed} about addiction research",
        link=f"https://{feed}.example.org/news/{n}",
        url=f"https://{feed}.example.org/news/{n}",
        published=T0 - timedelta(days=30 - n),
        updated=None,
        author="",
        feed_author="",
        feed_title=f"News of {feed}",
        summary=f"Summary of release {n} of {feed}. " * 5,
        language="en",
    )


def build(store: Store, config: Settings, rng: random.Random) -> None:
    """The history: every feed polled, its releases posted; polls spread over 15 minutes."""
    sync_config(store, config, T0 - timedelta(days=1))
    for feed in config.feeds:
        store.ingest(
            feed.name, [release(feed.name, n) for n in range(HISTORY)], now=T0, flood_limit=None
        )
        store.record_fetch_success(
            feed.name,
            now=T0,
            next_poll=T0 + timedelta(seconds=rng.uniform(1.0, INTERVAL)),
            etag='"v1"',
            last_modified=None,
            body_hash="h",
        )
    # Setup only: as if each post had gone out.
    with store.db.conn:
        store.db.execute(
            "UPDATE deliveries SET state = 'sent', message_id = id, sent_at = ?, attempts = 1",
            [T0.isoformat()],
        )


@dataclass
class Tick:
    config: Settings
    store: Store
    clock: Clock
    poller: Poller
    dispatcher: Dispatcher
    progress: Progress

    async def __call__(self) -> tuple[int, int]:
        """One round as run_round does it; returns (feeds polled, posts sent)."""
        outcomes = await self.poller.poll_due()
        any(state.paused for state in self.store.channel_states())  # the recheck's read
        before = self.dispatcher.report.sent
        report = await self.dispatcher.drain()
        self.progress.after_round(outcomes, report)
        return len(outcomes), report.sent - before


def waiting(store: Store) -> int:
    return sum(states.get("pending", 0) for states in store.delivery_counts().values())


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]
    statements: int
    work: str

    @staticmethod
    def cell(values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return f"{min(ms):.1f} / {statistics.median(ms):.1f} / {max(ms):.1f}"


async def measure(
    runs: int,
    prepare: Callable[[], None],
    action: Callable[[], Coroutine[Any, Any, Any]],
    store: Store,
) -> Timing:
    wall, cpu, done = [], [], []
    for _ in range(runs + 1):  # the first run warms the page cache, and is not counted
        prepare()
        w0, c0 = time.perf_counter(), time.process_time()
        done.append(await action())
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    work = " / ".join(_span([d[i] for d in done[1:]]) for i in range(len(done[0])))
    statements = [0]

    def count(_: str) -> None:
        statements[0] += 1

    prepare()
    store.db.conn.set_trace_callback(count)
    try:
        await action()
    finally:
        store.db.conn.set_trace_callback(None)
    return Timing(wall[1:], cpu[1:], statements[0], work)


async def bench(folder: Path, runs: int) -> None:
    config = settings(folder)
    store = Store.open(config.database_path)
    rng = random.Random(1)
    started = time.perf_counter()
    build(store, config, rng)
    print(f"built {FEEDS:,} feeds in {time.perf_counter() - started:.0f} s", flush=True)
    clock = Clock(T0)
    tick = Tick(
        config,
        store,
        clock,
        Poller(config, store=store, fetcher=NotModified(), clock=clock, rng=rng),  # type: ignore[arg-type]
        Dispatcher(
            config, store=store, sender=Instant(), clock=clock, pacer=None, bot_username="b"
        ),
        Progress(clock, lambda: waiting(store)),
    )
    news = [0]

    def quiet() -> None:
        pass

    def busy() -> None:
        clock.now += timedelta(seconds=STEP)
        news[0] += 1
        for feed in rng.sample(range(FEEDS), NEW_PER_TICK):
            store.ingest(
                f"f{feed}", [release(f"f{feed}", 100 + news[0])], now=clock.now, flood_limit=100
            )

    async def states() -> tuple[int, int]:
        return len(store.feed_states()), len(store.channel_states())

    rows = [
        ("quiet tick: polled / sent", await measure(runs, quiet, tick, store)),
        ("busy tick: polled / sent", await measure(runs, busy, tick, store)),
        ("feed_states / channel_states: rows", await measure(runs, quiet, states, store)),
    ]
    store.close()
    print("| measure | wall ms min / median / max | CPU ms min / median / max | statements |")
    print("|---|---:|---:|---:|")
    for name, timing in rows:
        print(
            f"| {name}: {timing.work} | {Timing.cell(timing.wall)} | {Timing.cell(timing.cpu)}"
            f" | {timing.statements:,} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{today()}, {machine()}; bot from {Path(bot.__file__).parent}", flush=True)
    print(f"load average before: {load}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(bench(Path(folder), args.runs))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average after: {load}")


if __name__ == "__main__":
    main()
