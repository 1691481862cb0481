"""Readers' commands are bounded in time: the store work runs in worker threads with their
own read-only connections, a query past its budget is interrupted, and a search looks
for a dozen words at most.

A real database file; a query made endless on purpose (a recursive CTE) stands in for a
search that would take too long on a large database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.render import command_args
from bot.store import Store
from bot.store.reading import QueryTooSlowError, ReadThreads
from tests.factories import make_release

ENDLESS = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    """A database with three releases, held open by the bot's own Store (as `run` does)."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("nida", "https://example.org/nida.xml")])
    releases = [make_release(n) for n in (1, 2, 3)]
    store.ingest("nida", releases, now=datetime.now(UTC), flood_limit=None)
    yield path
    store.close()


def endless(store: Store) -> int:
    return int(store.db.execute(ENDLESS).fetchone()[0])


def newest_title(store: Store) -> str:
    return store.latest(1)[0].release.title


async def test_a_query_past_its_budget_is_interrupted(database: Path) -> None:
    """An endless query ends with QueryTooSlowError once its budget is spent; the thread
    then serves the next call."""
    reads = ReadThreads(database, threads=1, budget=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(QueryTooSlowError):
            await reads.run(endless)
        assert time.monotonic() - started < 5  # interrupted, not run to the end
        assert await reads.run(newest_title) == "Release number 3 about addiction research"
    finally:
        reads.close()


async def test_a_slow_read_does_not_hold_up_another(database: Path) -> None:
    """While one thread runs a long query, another answers a quick read."""
    reads = ReadThreads(database, threads=2, budget=2.0)
    try:
        slow = asyncio.ensure_future(reads.run(endless))
        await asyncio.sleep(0.05)
        assert await asyncio.wait_for(reads.run(newest_title), timeout=1.5)
        assert not slow.done()
        with pytest.raises(QueryTooSlowError):
            await slow
    finally:
        reads.close()


async def test_close_interrupts_the_reads_under_way(database: Path) -> None:
    """At a stop, a query under way ends at once: close() does not wait out its budget."""
    reads = ReadThreads(database, threads=1, budget=60.0)
    slow = asyncio.ensure_future(reads.run(endless))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await asyncio.to_thread(reads.close)
    assert time.monotonic() - started < 5
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        await slow


async def test_the_worker_connections_cannot_write(database: Path) -> None:
    """The threads' connections are read-only: a write through them is refused."""
    reads = ReadThreads(database, threads=1)

    def write(store: Store) -> None:
        store.db.execute("DELETE FROM releases")

    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reads.run(write)
        assert await reads.run(lambda store: len(store.latest(10))) == 3
    finally:
        reads.close()


def test_reads_run_in_worker_threads_not_the_callers(database: Path) -> None:
    """The work runs on a thread of the pool, never on the event loop's thread."""
    reads = ReadThreads(database, threads=1)
    try:
        name = asyncio.run(reads.run(lambda _: threading.current_thread().name))
        assert name.startswith("reader")
    finally:
        reads.close()


def test_a_search_looks_for_a_dozen_words_at_most() -> None:
    """A long word list is cut to its first MAX_QUERY_WORDS words, for /search and /cite."""
    words = " ".join(f"w{n}" for n in range(40))
    kept = " ".join(f"w{n}" for n in range(command_args.MAX_QUERY_WORDS))
    assert command_args.parse_search(words) == kept
    assert command_args.parse_cite(f"mla {words}") == command_args.CiteRequest("mla", kept)
    url = "https://example.org/news?id=1&utm_source=x"
    assert command_args.parse_cite(url).ref == url
