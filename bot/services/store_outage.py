"""Our own outage: the database cannot be written (disk full, I/O error, locked for long).

Nothing about it can be recorded in the database, so it is kept in memory: when to try
again (exponential backoff, one step per retry however many feeds failed at once), since
when, and which feeds still owe a successful store. The poller consults it before each
poll; it is not a feed's fault, so no feed's failure count moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.services.backoff import Backoff

FIRST_RETRY = 30.0  # seconds
MAX_RETRY = 900.0  # seconds: a full disk freed by an admin is noticed within 15 minutes


@dataclass(slots=True)
class StoreOutage:
    """In-memory state of a store that cannot write; `since` is None while it can."""

    first_retry: float = FIRST_RETRY
    max_retry: float = MAX_RETRY
    since: datetime | None = None
    retries: int = 0
    retry_at: datetime | None = None
    owed: set[str] = field(default_factory=set)  # feeds whose store failed, not yet redone

    def blocked(self, now: datetime) -> bool:
        """True while waiting out the backoff: nothing should try to write before `retry_at`."""
        return self.retry_at is not None and now < self.retry_at

    def failed(self, feed: str, now: datetime) -> bool:
        """A store write for `feed` failed; True when this begins an outage."""
        beginning = self.since is None
        if beginning:
            self.since = now
        self.owed.add(feed)
        if not self.blocked(now):  # feeds failing in the same round count as one retry
            self.retries += 1
            delay = Backoff(self.first_retry, self.max_retry).delay(self.retries)
            self.retry_at = now + timedelta(seconds=delay)
        return beginning

    def stored(self, feed: str, now: datetime) -> timedelta | None:
        """A store write for `feed` worked; the outage's length when this ends it, else None.

        It ends when every feed that failed to store has stored since: a small write that
        happens to fit (a 304 updating a row in place) does not mean the disk has room.
        """
        self.owed.discard(feed)
        if self.since is None or self.owed:
            return None
        lasted = now - self.since
        self.since, self.retries, self.retry_at = None, 0, None
        return lasted

    def retry_in(self, now: datetime) -> float:
        """Seconds until the next try (0 when not blocked)."""
        return max(0.0, (self.retry_at - now).total_seconds()) if self.retry_at else 0.0
