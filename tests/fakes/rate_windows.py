"""The fake Bot API's flood control: exact rolling windows over accepted sends.

Telegram does not publish its algorithm; our design doc fixes these rules, and the
benchmarks' bounds are computed from them:

- per chat: at most 1 message in any 1 s;
- per group, supergroup or channel: at most 20 messages in any 60 s;
- overall: at most 30 messages in any 1 s.

A send at time t is accepted when every window it belongs to holds fewer than `limit`
accepted sends in (t - seconds, t]; refused sends are not counted. `time_scale` shrinks
every window (0.01 turns 1 s into 10 ms) so tests run fast. Pure: time comes in as `now`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable


class RollingWindow:
    """At most `limit` events per key in any window of `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: dict[Hashable, deque[float]] = {}

    def wait_before_next(self, key: Hashable, now: float) -> float:
        """Seconds from `now` until one more event for `key` fits (0.0 if it fits now)."""
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        # The window frees once enough of the oldest events have left it.
        return events[len(events) - self.limit] + self.seconds - now

    def record(self, key: Hashable, now: float) -> None:
        """Count one event for `key` at `now`."""
        self._events.setdefault(key, deque()).append(now)


class SendRateLimits:
    """The three windows a sendMessage must fit, with their scale applied."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.per_chat = RollingWindow(1, 1.0 * time_scale)
        self.per_group = RollingWindow(20, 60.0 * time_scale)
        self.overall = RollingWindow(30, 1.0 * time_scale)

    def try_send(self, chat_id: int, *, is_group_or_channel: bool, now: float) -> int:
        """Record the send and return 0, or return retry_after (scaled seconds, at least 1)."""
        windows = [(self.per_chat, chat_id), (self.overall, "all")]
        if is_group_or_channel:
            windows.append((self.per_group, chat_id))
        wait = max(window.wait_before_next(key, now) for window, key in windows)
        if wait > 0:
            # Round the scaled wait to 1 µs first so float noise cannot add a second.
            return max(1, math.ceil(round(wait / self.time_scale, 6)))
        for window, key in windows:
            window.record(key, now)
        return 0
