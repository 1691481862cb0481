"""A monotonic clock whose seconds pass only while the code under test sleeps.

`sleep(s)` returns without real waiting: once every other task has had its turns, the
clock jumps to the earliest sleeper's end and wakes it, so sleepers wake in the order
of their ends, as on a real clock, and a test of minutes of pacing runs in milliseconds.
Pass `clock` as the clock (monotonic seconds) and `clock.sleep` as the sleep.

Other tasks get their turns before the clock moves (SETTLE passes of the event loop),
and the loopback I/O of a send in flight `settle` real seconds, so a send under way is
answered before time moves on. Time never runs backwards, and it moves only as far as
the earliest sleeper asked for.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

SETTLE = 20  # passes of the event loop other tasks get before the clock jumps


class VirtualClock:
    """Monotonic seconds from `start`; `await clock.sleep(s)` moves them on, in order."""

    def __init__(self, start: float = 1000.0, *, settle: float = 0.0) -> None:
        self.now = start
        self.settle = settle  # real seconds to let loopback I/O finish before each jump
        self.slept: list[float] = []  # each sleep asked for, in seconds
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._waker: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on by hand (a sleeper whose end has come wakes at its turn)."""
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), future))
        if self._waker is None or self._waker.done():
            self._waker = asyncio.create_task(self._wake_in_order(), name="virtual-clock")
        await future

    async def _wake_in_order(self) -> None:
        while self._sleepers:
            for _ in range(SETTLE):
                await asyncio.sleep(0)
            if self.settle:
                await asyncio.sleep(self.settle)
            end, _, future = heapq.heappop(self._sleepers)
            if future.done():  # its sleeper was cancelled
                continue
            self.now = max(self.now, end)
            future.set_result(None)
