"""Benchmark: poll a 100,000-item feed three times; how long the event loop stalls, and how
the database grows.

The feed is served by `tests/fakes/feed_server.py` from another process (no shared GIL),
its bytes changed before each poll (lastBuildDate), so that every poll parses and stores.
Two cases: the same items every time, and new items every time (each poll's items carry
new guids). The real `Poller` polls it with the parse worker (`ParsePool(processes=1)`)
and the real SQLite store in a temp dir, as `releasebot run` does. A ticker coroutine
sleeps 5 ms at a time on the same loop; the longest it waited beyond that is the longest
stall any command would have seen. Database size is SQLite's own (pages x page size,
the write-ahead log included); the files are listed beside it.

Run from the repository root: `python bench/bench_flood.py [--items N] [--polls N]`
(or `python -m bench.bench_flood`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.common import machine, table, today
from bot.config import settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.services.config_sync import sync_config
from bot.services.parse_pool import ParsePool
from bot.services.poller import Poller
from bot.store import Store
from tests.fakes.feed_server import FeedServer

T = TypeVar("T")
FIRST_DAY = datetime(2000, 1, 1, 12, 0, tzinfo=UTC)
TICK = 0.005


def flood(items: int, *, build: int, generation: int) -> bytes:
    """`items` small items, newest first; `generation` renames every guid."""
    body = "".join(
        f"<item><guid isPermaLink='false'>g{generation}-{n}</guid><title>Item {n}</title>"
        f"<pubDate>{format_datetime(FIRST_DAY + timedelta(minutes=n))}</pubDate></item>"
        for n in reversed(range(items))
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Flood</title>"
        f"<link>https://flood.example/</link><lastBuildDate>{build}</lastBuildDate>{body}"
        "</channel></rss>"
    ).encode()


def _serve(conn: Connection) -> None:
    """Child process: one feed at /feed.xml; a body sent on the pipe replaces it."""
    with FeedServer() as server:
        conn.send(server.url("/feed.xml"))
        while (body := conn.recv()) is not None:
            server.serve("/feed.xml", body)
            conn.send("ok")


@dataclass
class PollRow:
    case: str
    poll: int
    wall: float
    stall: float
    new: int
    skipped: int
    releases: int
    size: int
    files: int


def releases(store: Store) -> int:
    """How many releases the database holds (the store has no such query: the bot needs none)."""
    return int(store.db.execute("SELECT count(*) FROM releases").fetchone()[0])


async def polls(
    url: str, conn: Connection, folder: Path, *, case: str, items: int, count: int
) -> list[PollRow]:
    settings = settings_from_dict(
        {
            "fetch": {"allow_private_addresses": True, "max_bytes": 64 * 1024 * 1024},
            "feeds": [{"name": "flood", "url": url}],
            "channels": [{"name": "news", "chat": "@flood_news", "feeds": ["flood"]}],
        },
        folder,
    )
    path = folder / f"{case}.db"
    store = Store.open(path)
    sync_config(store, settings, datetime.now(UTC))
    parser = ParsePool(processes=1)
    rows = []
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(
                settings,
                store=store,
                fetcher=fetcher,
                clock=lambda: datetime.now(UTC),
                parser=parser,
            )
            for number in range(1, count + 1):
                generation = number if case == "new items every poll" else 0
                conn.send(flood(items, build=number, generation=generation))
                conn.recv()
                start = time.perf_counter()
                outcome, stall = await _timed(poller.poll_all())
                wall = time.perf_counter() - start
                (result,) = outcome
                assert result.status == "ok", result.error
                pages = store.db.execute("PRAGMA page_count").fetchone()[0]
                page = store.db.execute("PRAGMA page_size").fetchone()[0]
                files = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
                rows.append(
                    PollRow(
                        case=case,
                        poll=number,
                        wall=wall,
                        stall=stall,
                        new=result.result.new if result.result else 0,
                        skipped=getattr(result, "skipped", 0),
                        releases=releases(store),
                        size=pages * page,
                        files=files,
                    )
                )
    finally:
        parser.close()
        store.close()
    return rows


async def _timed(work: Awaitable[T]) -> tuple[T, float]:
    """Run `work`; also the longest the loop kept a 5 ms sleeper waiting beyond 5 ms."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    worst = 0.0
    while not task.done():
        before = loop.time()
        await asyncio.sleep(TICK)
        worst = max(worst, loop.time() - before - TICK)
    return task.result(), worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000, help="items in the feed")
    parser.add_argument("--polls", type=int, default=3, help="polls of each case")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    server = context.Process(target=_serve, args=(child,))
    server.start()
    url = conn.recv()
    rows: list[PollRow] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for case in ("same items", "new items every poll"):
                rows += asyncio.run(
                    polls(url, conn, Path(tmp), case=case, items=args.items, count=args.polls)
                )
    finally:
        conn.send(None)
        server.join()
    body = len(flood(args.items, build=0, generation=0))
    print(f"{today()}, {machine()}")
    print(
        f"one feed of {args.items:,} items ({body / 1e6:.1f} MB),"
        f" polled {args.polls} times per case"
    )
    lines = [
        [
            "case",
            "poll",
            "wall s",
            "longest stall ms",
            "new",
            "skipped",
            "stored",
            "db MB",
            "files MB",
        ]
    ]
    for row in rows:
        lines.append(
            [
                row.case,
                str(row.poll),
                f"{row.wall:.1f}",
                f"{row.stall * 1000:.0f}",
                str(row.new),
                str(row.skipped),
                str(row.releases),
                f"{row.size / 1e6:.1f}",
                f"{row.files / 1e6:.1f}",
            ]
        )
    print(table(lines))


if __name__ == "__main__":
    main()
