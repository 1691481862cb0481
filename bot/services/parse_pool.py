"""Run the pure feed parser off the event loop: in one worker process, or in a thread.

feedparser is pure Python and CPU-bound. In one worker process it has a core of its
own, while the event loop goes on fetching, storing and (in `run`) answering commands on
the other; a thread would share the loop's GIL and slow every fetch down.

The worker exits when the process that started the pool dies, even by kill -9: it is a
child of multiprocessing's fork server, not of the bot, and it would otherwise wait on
its task queue forever, keeping the fork server and the resource tracker alive with it.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import select
import threading
import time
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
        max_items: int | None = None,
        language: str = "",
    ) -> ParsedFeed:
        # The cap applies in the worker: only the releases kept cross back to the loop.
        call = functools.partial(
            parse_feed,
            body,
            feed_name=feed_name,
            base_url=base_url,
            timezone=timezone,
            content_type=content_type,
            max_items=max_items,
            language=language,
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
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def exit_with_parent(parent: int) -> None:
    """Worker initializer: a daemon thread ends this process when `parent` has exited."""
    threading.Thread(
        target=_wait_for_exit, args=(parent,), name="exit-with-parent", daemon=True
    ).start()


def _wait_for_exit(parent: int) -> None:
    try:
        handle = os.pidfd_open(parent)  # Linux 5.3+: readable once the process has exited
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # elsewhere: ask every second
        while _alive(parent):
            time.sleep(1.0)
        os._exit(0)
    select.select([handle], [], [])
    os._exit(0)  # no clean-up to do: our parent is gone, and nobody waits for the answer


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
