"""Pace sends before Telegram's limits are hit: per chat, per group or channel, and overall.

Telegram's limits are rolling windows (1 message per chat in any 1 s, 20 per group or
channel in any 60 s, 30 overall in any 1 s). A leaky bucket (aiolimiter, PTB's
AIORateLimiter) either lets 20 + 20 through in one 60 s window or, set tight enough not
to, needs 117 s for 40 messages where the window allows 79 s; so the windows are
counted exactly: each keeps the instants of its sends, oldest first, and a send fits
once fewer than the limit remain inside the window.

A send is counted when its answer arrives, the latest moment Telegram can have counted
it, and holds a reserved place in every window while it is under way. Counting it when
it leaves is not enough: a burst of 30 sends reaches Telegram spread over tens of
milliseconds, so the next burst, one second after the first one left, would meet the
last of them still inside Telegram's window and get 429s.

Sends to one chat line up first come, first served, and only the first in each line
waits on that chat's windows; then they queue, again first come, first served, for the
shared overall window. So five hundred replies waiting for one chat cost one waiter
waking once a second, not five hundred each time a place frees, and hundreds of waiting
chats do not all wake each time one overall place frees.

Time is an argument: a monotonic clock (wall-clock time can be set back under a running
bot) and the matching `sleep`, so tests drive the Pacer with a fake clock and wait for
nothing. Nothing runs in the background: a window forgets its old sends when it is read.

A new Pacer's windows are empty, but Telegram's are not after a restart: `seed()` counts
the sends a previous run made (their `sent_at` in the outbox) at the instants they were
answered, so a restart right after a burst waits instead of meeting 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

# Float rounding and clock reads must not put two sends inside one window (a send is
# counted from its answer, so latency already lies on the safe side): each window is
# this much longer than Telegram's.
SAFETY_MARGIN = 0.002
# The shortest wait before the windows are read again, so a clock read a hair before the
# instant a window frees does not spin.
SHORTEST_WAIT = 0.001
# Every this many answered sends, windows holding nothing are dropped (else each chat the
# bot ever answered would keep one for the life of the process).
FORGET_EVERY = 1000

OVERALL_KEY = "all"


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` sends in any `seconds`."""

    count: int
    seconds: float


PER_CHAT = Rate(1, 1.0)
PER_GROUP = Rate(20, 60.0)
OVERALL = Rate(30, 1.0)


@dataclass(frozen=True, slots=True)
class Limits:
    per_chat: Rate = PER_CHAT
    per_group: Rate = PER_GROUP
    overall: Rate = OVERALL


@dataclass(slots=True)
class _Window:
    """One rolling window: the instants its sends were answered, oldest first, and how
    many sends hold a place in it while under way."""

    rate: Rate
    span: float  # the rate's seconds plus the safety margin
    answered: deque[float] = field(default_factory=deque)
    in_flight: int = 0

    def forget_before(self, now: float) -> None:
        while self.answered and self.answered[0] <= now - self.span:
            self.answered.popleft()

    def fits_at(self, now: float) -> float | None:
        """When one more send fits (`now` or earlier if it fits now); None when only a
        send under way ending can make room (answered sends alone cannot)."""
        self.forget_before(now)
        excess = len(self.answered) + self.in_flight + 1 - self.rate.count
        if excess <= 0:
            return now
        if excess > len(self.answered):
            return None
        return self.answered[excess - 1] + self.span

    def idle(self, now: float) -> bool:
        self.forget_before(now)
        return not self.answered and not self.in_flight


@dataclass(slots=True)
class _Line:
    """The sends waiting for one chat: the lock hands the turn on in arrival order."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


WindowKey = tuple[Rate, str]


class Pacer:
    """`async with pacer.turn(chat_id):` around each send; `pause(chat_id, s)` after a 429.

    `clock` is monotonic seconds and `sleep` waits that many of them (a fake clock's
    sleep moves it on).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        margin: float = SAFETY_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or Limits()
        self.margin = margin
        self.clock = clock
        self.sleep = sleep
        self.wakeups = 0  # times a waiter woke to read the windows again (a measure of churn)
        self._lines: dict[int | str, _Line] = {}  # each chat's waiters, first come first served
        self._windows: dict[str, _Window] = {}
        self._answers = 0  # sends answered since idle windows were last forgotten
        self._paused_until: dict[int | str, float] = {}
        self._queue: asyncio.Lock | None = None  # the line for the overall window
        self._finished: asyncio.Event | None = None  # set when a send under way ends

    def _keys(self, chat_id: int | str) -> list[WindowKey]:
        keys = [(self.limits.per_chat, f"chat:{chat_id}")]
        # Groups, supergroups and channels have negative ids (or an @username).
        if isinstance(chat_id, str) or chat_id < 0:
            keys.append((self.limits.per_group, f"group:{chat_id}"))
        return keys

    def _window(self, key: WindowKey) -> _Window:
        rate, name = key
        window = self._windows.get(name)
        if window is None:
            window = self._windows[name] = _Window(rate, rate.seconds + self.margin)
        return window

    def seed(self, chat_id: int | str, sent_at: Iterable[datetime], *, now: datetime) -> None:
        """Count sends to `chat_id` answered at `sent_at` (aware instants, the outbox's
        wall-clock time) before this Pacer existed, in every window they belong to.

        Each is placed by its age at `now` (the same wall clock): the pacer's own clock is
        monotonic and shares no epoch with it. Sends older than a window do not count in
        it; one ahead of `now` (the clock was set back) counts as now.
        """
        mono_now = self.clock()
        ages = [max((now - moment).total_seconds(), 0.0) for moment in sent_at]
        for key in [*self._keys(chat_id), (self.limits.overall, OVERALL_KEY)]:
            window = self._window(key)
            recent = [mono_now - age for age in ages if age < window.span]
            window.answered = deque(sorted([*window.answered, *recent]))

    def pause(self, chat_id: int | str, seconds: float) -> None:
        """Hold this chat for `seconds` (Telegram's retry_after) plus the margin."""
        until = self.clock() + seconds + self.margin
        self._paused_until[chat_id] = max(until, self._paused_until.get(chat_id, until))

    def _paused(self, chat_id: int | str, now: float) -> float | None:
        """Until when `chat_id` is paused, or None."""
        until = self._paused_until.get(chat_id)
        if until is not None and until <= now:
            del self._paused_until[chat_id]
            return None
        return until

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int | str) -> AsyncIterator[None]:
        """Wait until a send to `chat_id` fits every window; count it once it is answered."""
        own = self._keys(chat_id)
        overall = (self.limits.overall, OVERALL_KEY)
        if self._queue is None:
            self._queue = asyncio.Lock()
        async with self._first_in_line(chat_id):  # left once this send has its place
            while True:
                await self._wait_until_fits(own, paused_chat=chat_id)
                async with self._queue:
                    await self._wait_until_fits([overall])
                    # Else a send to this group came first, or a 429 paused the chat: again.
                    if self._fits(own) and self._paused(chat_id, self.clock()) is None:
                        every = [*own, overall]
                        for key in every:
                            self._window(key).in_flight += 1
                        break
        try:
            yield
        finally:
            self._answered(every)

    def _answered(self, keys: list[WindowKey]) -> None:
        now = self.clock()
        for key in keys:
            window = self._window(key)
            window.in_flight -= 1
            window.answered.append(now)
        if self._finished is not None:
            self._finished.set()
            self._finished = None
        self._answers += 1
        if self._answers >= FORGET_EVERY:
            self._answers = 0
            for name in [name for name, w in self._windows.items() if w.idle(now)]:
                del self._windows[name]

    @contextlib.asynccontextmanager
    async def _first_in_line(self, chat_id: int | str) -> AsyncIterator[None]:
        """Wait behind the earlier sends to this chat (asyncio.Lock wakes its waiters in order)."""
        line = self._lines.get(chat_id)
        if line is None:
            line = self._lines[chat_id] = _Line()
        line.waiting += 1
        try:
            async with line.lock:
                yield
        finally:
            line.waiting -= 1
            if not line.waiting:
                del self._lines[chat_id]

    def _fits(self, keys: list[WindowKey]) -> bool:
        now = self.clock()
        for key in keys:
            at = self._window(key).fits_at(now)
            if at is None or at > now:
                return False
        return True

    async def _wait_until_fits(
        self, keys: list[WindowKey], *, paused_chat: int | str | None = None
    ) -> None:
        while True:
            now = self.clock()
            paused = self._paused(paused_chat, now) if paused_chat is not None else None
            if paused is not None:
                await self.sleep(paused - now)
                self.wakeups += 1
                continue
            fits_at = [self._window(key).fits_at(now) for key in keys]
            if None in fits_at:  # full with sends under way: wait until one is answered
                await self._a_send_ends()
            else:
                latest = max(at for at in fits_at if at is not None)
                if latest <= now:
                    return
                await self.sleep(max(latest - now, SHORTEST_WAIT))
            self.wakeups += 1

    async def _a_send_ends(self) -> None:
        """Wait until a send under way is answered. Only that can make room here (an
        answered send's place frees at an instant known in advance), and every send
        under way is answered or fails, so no timeout is needed."""
        if self._finished is None:
            self._finished = asyncio.Event()
        await self._finished.wait()
