"""Run the pure feed parser off the event loop: in one worker process, or in a thread.

feedparser is pure Python and CPU-bound. In one worker process it has a core of its
own, while the event loop goes on fetching, storing and (in `run`) answering commands on
the other; a thread would share the loop's GIL and slow every fetch down.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from zoneinfo import ZoneInfo

from bot.errors import FeedParseError
from bot.feeds.parse import parse_feed
from bot.models import ParsedFeed


class ParsePool:
    """`await pool.parse(body, ...)`: parse_feed in a worker process (or a thread)."""

    def __init__(self, *, processes: int = 1) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    async def parse(
        self,
        body: bytes,
        *,
        feed_name: str,
        base_url: str,
        timezone: ZoneInfo | None,
        content_type: str,
    ) -> ParsedFeed:
        call = functools.partial(
            parse_feed,
            body,
            feed_name=feed_name,
            base_url=base_url,
            timezone=timezone,
            content_type=content_type,
        )
        if self.processes < 1:
            return await asyncio.to_thread(call)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), call)
        except BrokenProcessPool as exc:
            self._executor = None  # the next feed gets a fresh worker
            raise FeedParseError("the parser process died (out of memory?)") from exc

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: never fork a process that runs an event loop and threads.
            context = multiprocessing.get_context("forkserver")
            self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
