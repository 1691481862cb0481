"""Pace sends before Telegram's limits are hit: per chat, per group or channel, and overall.

Telegram's limits are rolling windows (1 message per chat in any 1 s, 20 per group or
channel in any 60 s, 30 overall in any 1 s). A leaky bucket (aiolimiter, PTB's
AIORateLimiter) either lets 20 + 20 through in one 60 s window or, set tight enough not
to, needs 117 s for 40 messages where the window allows 79 s; so the windows are
counted exactly with the `limits` library's moving-window strategy.

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

A new Pacer's windows are empty, but Telegram's are not after a restart: `seed()` counts
the sends a previous run made (their `sent_at` in the outbox) at the instants they were
answered, so a restart right after a burst waits instead of meeting 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.storage.memory import Entry
from limits.strategies import MovingWindowRateLimiter

# Float rounding and clock reads must not put two sends inside one window (a send is
# counted from its answer, so latency already lies on the safe side).
SAFETY_MARGIN = 0.002
# How long a wait for an in-flight send to finish may last before the windows are re-read.
IN_FLIGHT_RECHECK = 1.0

PER_CHAT = RateLimitItemPerSecond(1, 1)
PER_GROUP = RateLimitItemPerMinute(20, 1)
OVERALL = RateLimitItemPerSecond(30, 1)
OVERALL_KEY = "all"

Window = tuple[RateLimitItem, str]


class _Windows(MemoryStorage):
    """The `limits` in-memory storage, able also to count hits made before it existed.

    `limits` has no public way to record a hit at a past instant: `acquire_entry` stamps
    each entry with time.time(). Its moving window for a key is `events[key]`, a list of
    `Entry(atime, expiry)` kept newest first (found by reading limits 4 and 5), so a past
    hit is an Entry with its own instants put in its place in that list. Kept here, in
    one method, so a change in the library breaks one place (tests/test_pacing_restart.py).
    """

    def record_past(self, key: str, instants: Iterable[float], expiry: int) -> None:
        """Count a hit on `key` at each of `instants` (time.time() seconds)."""
        with self.locks[key]:
            events = self.events.setdefault(key, [])
            for instant in instants:
                entry = Entry(expiry)
                entry.atime, entry.expiry = instant, instant + expiry
                events.append(entry)
            events.sort(key=lambda entry: entry.atime, reverse=True)


@dataclass(slots=True)
class _Line:
    """The sends waiting for one chat: the lock hands the turn on in arrival order."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    per_chat: RateLimitItem = PER_CHAT
    per_group: RateLimitItem = PER_GROUP
    overall: RateLimitItem = OVERALL


class Pacer:
    """`async with pacer.turn(chat_id):` around each send; `pause(chat_id, s)` after a 429."""

    def __init__(self, limits: Limits | None = None, *, margin: float = SAFETY_MARGIN) -> None:
        self.limits = limits or Limits()
        self.margin = margin
        self.wakeups = 0  # times a waiter woke to read the windows again (a measure of churn)
        self._lines: dict[int | str, _Line] = {}  # each chat's waiters, first come first served
        self._windows_storage = _Windows()
        self._limiter = MovingWindowRateLimiter(self._windows_storage)
        self._paused_until: dict[int | str, float] = {}
        self._in_flight: Counter[str] = Counter()  # window key -> sends under way
        self._queue: asyncio.Lock | None = None  # the line for the overall window
        self._finished: asyncio.Event | None = None  # set when a send under way ends

    def _windows(self, chat_id: int | str) -> list[Window]:
        windows = [(self.limits.per_chat, f"chat:{chat_id}")]
        # Groups, supergroups and channels have negative ids (or an @username).
        if isinstance(chat_id, str) or chat_id < 0:
            windows.append((self.limits.per_group, f"group:{chat_id}"))
        return windows

    def seed(self, chat_id: int | str, sent_at: Iterable[datetime]) -> None:
        """Count sends to `chat_id` answered at `sent_at` (aware instants) before this Pacer
        existed, in every window they belong to; instants older than a window do not count.

        time.time() is wall-clock time, the same clock the outbox's UTC instants are on.
        """
        now = time.time()
        instants = [moment.timestamp() for moment in sent_at]
        for item, key in [*self._windows(chat_id), (self.limits.overall, OVERALL_KEY)]:
            expiry = item.get_expiry()
            # An instant ahead of the clock (it was set back) counts as now.
            recent = [min(instant, now) for instant in instants if instant > now - expiry]
            if recent:
                self._windows_storage.record_past(item.key_for(key), recent, expiry)

    def pause(self, chat_id: int | str, seconds: float) -> None:
        """Hold this chat for `seconds` (Telegram's retry_after) plus the margin."""
        until = time.time() + seconds + self.margin
        self._paused_until[chat_id] = max(until, self._paused_until.get(chat_id, 0.0))

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int | str) -> AsyncIterator[None]:
        """Wait until a send to `chat_id` fits every window; count it once it is answered."""
        own = self._windows(chat_id)
        overall = (self.limits.overall, OVERALL_KEY)
        if self._queue is None:
            self._queue = asyncio.Lock()
        async with self._first_in_line(chat_id):  # left once this send has its place
            while True:
                await self._wait_until_fits(own, paused_chat=chat_id)
                async with self._queue:
                    await self._wait_until_fits([overall])
                    if self._fits(own):  # else a send to this group came first: wait again
                        every = [*own, overall]
                        for _, key in every:
                            self._in_flight[key] += 1
                        break
        try:
            yield
        finally:
            for item, key in every:
                self._in_flight[key] -= 1
                self._limiter.hit(item, key)
            if self._finished is not None:
                self._finished.set()
                self._finished = None

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

    async def wait_turn(self, chat_id: int | str) -> None:
        """Wait for a turn and count the send at once; `turn()` around a send is more exact."""
        async with self.turn(chat_id):
            pass

    def _fits(self, windows: list[Window]) -> bool:
        return all(
            self._limiter.test(item, key, cost=1 + self._in_flight[key]) for item, key in windows
        )

    async def _wait_until_fits(
        self, windows: list[Window], *, paused_chat: int | str | None = None
    ) -> None:
        while True:
            now = time.time()
            paused = self._paused_until.get(paused_chat, 0.0) if paused_chat is not None else 0
            if paused > now:
                await asyncio.sleep(paused - now)
                self.wakeups += 1
                continue
            if self._fits(windows):
                return
            frees_at = [
                stats.reset_time
                for stats in (self._limiter.get_window_stats(*w) for w in windows)
                if stats.remaining < 1
            ]
            if frees_at:  # full of counted sends: wait until the oldest leaves the window
                await asyncio.sleep(max(max(frees_at) - now + self.margin, 0.001))
            else:  # full only with sends under way: wait until one of them is answered
                await self._wait_for_a_send_to_end()
            self.wakeups += 1

    async def _wait_for_a_send_to_end(self) -> None:
        if self._finished is None:
            self._finished = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._finished.wait(), IN_FLIGHT_RECHECK)
