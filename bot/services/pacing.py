"""Pace sends before Telegram's limits are hit: per chat, per group or channel, and overall.

Telegram's limits are rolling windows (1 message per chat in any 1 s, 20 per group or
channel in any 60 s, 30 overall in any 1 s). A leaky bucket (aiolimiter, PTB's
AIORateLimiter) either lets 20 + 20 through in one 60 s window or, set tight enough not
to, needs 180 s for 40 messages where the window allows 79 s; so the windows are
counted exactly with the `limits` library's moving-window strategy.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

# Sends leave here a little later than the window frees, so that network jitter on
# loopback or the internet cannot make two of them arrive inside one window.
SAFETY_MARGIN = 0.03


PER_CHAT = RateLimitItemPerSecond(1, 1)
PER_GROUP = RateLimitItemPerMinute(20, 1)
OVERALL = RateLimitItemPerSecond(30, 1)


@dataclass(frozen=True, slots=True)
class Limits:
    per_chat: RateLimitItem = PER_CHAT
    per_group: RateLimitItem = PER_GROUP
    overall: RateLimitItem = OVERALL


class Pacer:
    """`await pacer.wait_turn(chat_id)` before each send; `pause(chat_id, s)` after a 429."""

    def __init__(self, limits: Limits | None = None, *, margin: float = SAFETY_MARGIN) -> None:
        self.limits = limits or Limits()
        self.margin = margin
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._paused_until: dict[int | str, float] = {}

    def _windows(self, chat_id: int | str) -> list[tuple[RateLimitItem, str]]:
        windows = [(self.limits.overall, "all"), (self.limits.per_chat, f"chat:{chat_id}")]
        # Groups, supergroups and channels have negative ids (or an @username).
        if isinstance(chat_id, str) or chat_id < 0:
            windows.append((self.limits.per_group, f"group:{chat_id}"))
        return windows

    def pause(self, chat_id: int | str, seconds: float) -> None:
        """Hold this chat for `seconds` (Telegram's retry_after) plus the margin."""
        until = time.time() + seconds + self.margin
        self._paused_until[chat_id] = max(until, self._paused_until.get(chat_id, 0.0))

    async def wait_turn(self, chat_id: int | str) -> None:
        """Return once a send to `chat_id` fits every window, and count it."""
        windows = self._windows(chat_id)
        while True:
            now = time.time()
            wait = self._paused_until.get(chat_id, 0.0) - now
            if wait <= 0:
                blocked = [w for w in windows if not self._limiter.test(*w)]
                if not blocked:
                    for item, key in windows:
                        self._limiter.hit(item, key)
                    return
                frees_at = max(self._limiter.get_window_stats(*w).reset_time for w in blocked)
                wait = frees_at - now + self.margin
            await asyncio.sleep(max(wait, 0.001))
