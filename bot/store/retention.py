"""Retention: old delivery rows are removed, in small batches; releases are kept.

What goes, once older than `[bot] keep_deliveries` (the cutoff):
- a `sent` post sent before the cutoff, owed no edit (`needs_edit = 0`), whose release has
  not changed since the cutoff. Edits need a post's row (its message id and chat): a post
  owed an edit keeps it until the edit is made, and so does every post of a release that
  changed within the retention (a release that changes tends to change again). A release
  that changes for the first time after its posts' rows went is not edited in those chats.
- a `cancelled` post (its route was removed) queued before the cutoff: were the route
  added again, its backlog would queue it afresh either way.
Pending, sending, failed and dry-run rows are never removed.

The rows also keep a chat from getting one URL twice (a cross-post from a second feed, a
route removed and added again): that holds within the retention, not beyond it.

Each batch is one short transaction of at most `PRUNE_BATCH` rows, so a first prune of a
large outbox never holds the write lock for long. A batch walks the `deliveries_state
(state, id)` index from where the last one stopped, so the rows kept are read once.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from bot.errors import StoreError
from bot.store.base import StoreBase
from bot.store.codec import instant_text

PRUNE_BATCH = 1000
PRUNED_STATES = ("sent", "cancelled")

# Per state, what makes a row old enough to go (`:cutoff` the cutoff's instant text).
_OLD = {
    "sent": (
        "d.sent_at < :cutoff AND d.needs_edit = 0 AND NOT EXISTS (SELECT 1 FROM releases r"
        " WHERE r.id = d.release_id AND r.changed_at >= :cutoff)"
    ),
    "cancelled": "d.created_at < :cutoff",
}


@dataclass(frozen=True, slots=True)
class PruneBatch:
    """One batch's outcome: rows removed, and where the next batch starts (None: done)."""

    removed: int
    next_after: int | None


class RetentionQueries(StoreBase):
    def prunable_deliveries(self, cutoff: datetime) -> dict[str, int]:
        """How many rows of each pruned state a prune at `cutoff` would remove."""
        counts = {}
        for state in PRUNED_STATES:
            (count,) = self.db.execute(
                f"SELECT count(*) FROM deliveries d WHERE d.state = :state AND {_OLD[state]}",  # noqa: S608
                {"state": state, "cutoff": instant_text(cutoff)},
            ).fetchone()
            counts[state] = int(count)
        return counts

    def prune_batch(
        self, state: str, cutoff: datetime, *, after: int = 0, limit: int = PRUNE_BATCH
    ) -> PruneBatch:
        """Remove up to `limit` old rows in `state` (one of PRUNED_STATES) with ids above
        `after`, in one transaction."""
        try:
            with self.writing():
                rows = self.db.execute(
                    "DELETE FROM deliveries WHERE id IN (SELECT d.id FROM deliveries d"  # noqa: S608
                    f" WHERE d.state = :state AND d.id > :after AND {_OLD[state]}"
                    " ORDER BY d.id LIMIT :limit) RETURNING id",
                    {
                        "state": state,
                        "after": after,
                        "cutoff": instant_text(cutoff),
                        "limit": limit,
                    },
                ).fetchall()
        except sqlite3.Error as exc:  # busy past the timeout, disk full: the next prune goes on
            raise StoreError(f"pruning old deliveries failed: {exc}") from exc
        last = max((row[0] for row in rows), default=None)
        return PruneBatch(len(rows), last if len(rows) == limit else None)
