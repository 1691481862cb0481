"""A monotonic clock whose seconds pass only while the code under test sleeps.

`sleep(s)` returns without real waiting: once every other task has had its turns, the
clock jumps to the earliest sleeper's end and wakes it, so sleepers wake in the order
of their ends, as on a real clock, and a test of minutes of pacing runs in milliseconds.
Pass the clock itself as the clock (monotonic seconds) and `clock.sleep` as the sleep.
Time never runs backwards, and it moves only as far as the earliest sleeper asked for.

Work that is not a task of this event loop (a call to the fake Bot API, answered by
another thread) is invisible to it: pass `quiet`, saying when no such call is under way,
and the clock moves only then, so to the code under test Telegram answers at once.
`hold()` stops it moving while a test sets up what should happen before.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Iterator

SETTLE = 20  # passes of the event loop other tasks get before the clock jumps
POLL = 0.001  # real seconds between looks at `quiet()` while something is under way


class VirtualClock:
    """Monotonic seconds from `start`; `await clock.sleep(s)` moves them on, in order."""

    def __init__(self, start: float = 1000.0, *, quiet: Callable[[], bool] | None = None) -> None:
        self.now = start
        self.quiet = quiet or (lambda: True)
        self.slept: list[float] = []  # each sleep asked for, in seconds
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._waker: asyncio.Task[None] | None = None
        self._held = 0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on by hand (a sleeper whose end has come wakes at its turn)."""
        self.now += seconds

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """The clock stands still inside (sleepers wait); it moves on again after."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), future))
        if self._waker is None or self._waker.done():
            self._waker = asyncio.create_task(self._wake_in_order(), name="virtual-clock")
        await future

    async def _settled(self) -> None:
        """Return once every other task has had its turns and nothing is under way."""
        while True:
            for _ in range(SETTLE):
                await asyncio.sleep(0)
            if not self._held and self.quiet():
                return
            await asyncio.sleep(POLL)

    async def _wake_in_order(self) -> None:
        while self._sleepers:
            await self._settled()
            end, _, future = heapq.heappop(self._sleepers)
            if future.done():  # its sleeper was cancelled
                continue
            self.now = max(self.now, end)
            future.set_result(None)
