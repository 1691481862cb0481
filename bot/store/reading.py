"""Read-only store work off the event loop: a few worker threads, each with its own connection.

Readers' commands query the store and render replies, sometimes for long (a common word
over 100,000 releases, a citation of a long title). On the event loop that stalls every
other reader and the outbox, so `ReadThreads.run` does that work in a worker thread.

Why connections of their own rather than the Store's behind a lock: the Store's connection
belongs to the event loop's thread (the poller, the dispatcher and /retry write through
it). One SQLite connection must not be used by two threads at once, and a lock around it
would make the event loop wait for a slow query: the very stall this avoids. So each
worker thread opens its own connection to the same file and is the only one to use it;
in WAL mode readers and the writer do not block each other, and `PRAGMA query_only` keeps
these connections from writing. Several threads, so one slow command does not hold up
another reader's.

Each call has a time budget: SQLite's progress handler interrupts a query that runs past
it (QueryTooSlowError). `close()` interrupts the queries under way (`interrupt()` is safe
from any thread) and drops the calls not started, so a stop never waits for a reader.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlite_utils import Database

from bot.errors import StoreError
from bot.store import Store
from bot.store.base import BUSY_TIMEOUT_MS

T = TypeVar("T")

READ_THREADS = 3
QUERY_BUDGET = 3.0  # seconds of SQLite work one call may take
PROGRESS_STEPS = 1000  # SQLite VM steps between checks of the budget (well under 1 ms)


class QueryTooSlowError(StoreError):
    """A read went past its time budget and was interrupted."""


@dataclass(slots=True)
class _Worker:
    """One thread's read-only Store and the deadline of the call it is running."""

    store: Store
    connection: sqlite3.Connection
    deadline: float = math.inf


class ReadThreads:
    """`await threads.run(work)` calls `work(store)` in a worker thread with a read-only Store."""

    def __init__(
        self,
        path: Path | str,
        *,
        threads: int = READ_THREADS,
        budget: float = QUERY_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = str(path)
        self.budget = budget
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="reader")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    async def run(self, work: Callable[[Store], T]) -> T:
        """`work(store)` in a worker thread; QueryTooSlowError if its queries ran too long."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, work)

    def close(self) -> None:
        """Interrupt the queries under way, drop the calls not started, close the connections.

        Blocks until the running calls return (their queries end at once; rendering a
        reply is bounded by the field caps), so call it from a thread in async code.
        """
        with self._lock:
            running = list(self._connections)
        for connection in running:
            connection.interrupt()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def _call(self, work: Callable[[Store], T]) -> T:
        worker = self._worker()
        worker.deadline = self.clock() + self.budget
        try:
            return work(worker.store)
        except sqlite3.OperationalError as exc:
            if self.clock() >= worker.deadline and "interrupted" in str(exc):
                raise QueryTooSlowError(f"a read took over {self.budget:g} s") from exc
            raise
        finally:
            worker.deadline = math.inf

    def _worker(self) -> _Worker:
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is None:
            worker = self._open()
            self._local.worker = worker
        return worker

    def _open(self) -> _Worker:
        # check_same_thread=False only so that close() may close it once its thread is done.
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
        connection.execute("PRAGMA query_only = ON")
        worker = _Worker(Store(Database(connection), read_only=True), connection)
        connection.set_progress_handler(lambda: int(self.clock() > worker.deadline), PROGRESS_STEPS)
        with self._lock:
            self._connections.append(connection)
        return worker
