"""Capped exponential backoff: the one retry policy for Telegram calls and store writes.

Each user keeps its own numbers on purpose: reaching Telegram at start (1 s doubling to a
minute, so the log has at most a line a minute and the bot is up soon after Telegram is),
a post Telegram answered with 5xx (2 s to 10 minutes, as its own row waits in the outbox),
our own store that cannot write (30 s to 15 minutes, so a freed disk is noticed soon).
A failing feed's next poll is scheduled by bot/feeds/backoff.py instead: it doubles from
the feed's own interval, adds jitter so that feeds failing together do not retry together,
and honours the server's Retry-After; it lives in the pure core with the poll schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

_MAX_DOUBLINGS = 64  # 2**64 x any first wait is far past any cap; 2.0**1024 overflows


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between attempts: first, 2 x first, 4 x first ... at most `most` seconds."""

    first: float = 1.0
    most: float = 60.0

    def delay(self, failures: int) -> float:
        """The wait after `failures` failures in a row (1 or more; 0 counts as 1)."""
        doublings = min(max(0, failures - 1), _MAX_DOUBLINGS)
        return min(self.most, self.first * 2.0**doublings)
