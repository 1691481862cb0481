"""What admin commands read beyond the routing view: a chat's posts per route (/subs) and
its feeds' titles and health, in one query each, whatever the number of feeds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.store.base import StoreBase
from bot.store.codec import text_to_instant


@dataclass(frozen=True, slots=True)
class RouteActivity:
    """One route's posts: how many in each state, and when the last one went out."""

    pending: int = 0  # waiting (held, when the route is paused), or being sent
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    last_sent: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedSummary:
    """A feed as /subs and /export show it."""

    name: str
    url: str  # as added (the config's, or the one typed in /add)
    current_url: str  # after permanent redirects
    title: str  # the feed's own title ("" until fetched)
    failures: int
    last_error: str | None
    error_permanent: bool
    last_success: datetime | None


class AdminReads(StoreBase):
    def audit_mark(self) -> int:
        """The newest audit row's id (0: none): every admin change writes one, so a view
        built when it was this is still the store's while it stays this."""
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0])

    def route_activity(self, channel: str) -> dict[str, RouteActivity]:
        """`channel`'s posts per feed (its routes', and any it had before)."""
        counts: dict[str, dict[str, int]] = {}
        last: dict[str, datetime | None] = {}
        rows = self.db.execute(
            "SELECT r.feed, d.state, count(*), max(d.sent_at) FROM deliveries d"
            " JOIN releases r ON r.id = d.release_id WHERE d.channel = ?"
            " GROUP BY r.feed, d.state",
            [channel],
        )
        for feed, state, count, sent_at in rows:
            counts.setdefault(feed, {})[state] = count
            if state == "sent":
                last[feed] = text_to_instant(sent_at)
        return {
            feed: RouteActivity(
                pending=numbers.get("pending", 0) + numbers.get("sending", 0),
                sent=numbers.get("sent", 0),
                failed=numbers.get("failed", 0),
                cancelled=numbers.get("cancelled", 0),
                last_sent=last.get(feed),
            )
            for feed, numbers in counts.items()
        }

    def feed_summaries(self, names: Iterable[str]) -> dict[str, FeedSummary]:
        """The stored feeds among `names`, by name."""
        rows = self.db.execute(
            "SELECT name, url, current_url, title, failures, last_error,"
            " last_error_permanent, last_success FROM feeds"
            " WHERE name IN (SELECT value FROM json_each(?))",
            [json.dumps(list(names))],
        )
        return {
            row[0]: FeedSummary(
                name=row[0],
                url=row[1],
                current_url=row[2],
                title=row[3],
                failures=row[4],
                last_error=row[5],
                error_permanent=bool(row[6]),
                last_success=text_to_instant(row[7]),
            )
            for row in rows
        }
