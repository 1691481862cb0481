"""Channels and routes: keeping them in step with the config; a new route gets its backlog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.models import RouteSpec
from bot.store.codec import instant_text
from bot.store.releases import ReleaseQueries


class RouteQueries(ReleaseQueries):
    def sync_routes(
        self, channels: Sequence[tuple[str, str]], routes: Sequence[RouteSpec], *, now: datetime
    ) -> int:
        """Mirror the configured channels and routes; returns the deliveries queued as backlog.

        A route new to the database (or removed and re-added) is owed its feed's newest
        `backlog` releases; a removed route's pending deliveries are dropped.
        """
        with self.db.atomic():
            for name, chat in channels:
                self._sync_channel(name, chat)
            wanted = {(r.feed, r.channel): r for r in routes}
            present = {
                (feed, channel)
                for feed, channel in self.db.execute("SELECT feed, channel FROM routes")
            }
            for feed, channel in present - wanted.keys():
                self._drop_route(feed, channel)
            queued = 0
            for key in wanted.keys() - present:
                route = wanted[key]
                self.db.table("routes").insert(
                    {
                        "feed": route.feed,
                        "channel": route.channel,
                        "created_at": instant_text(now),
                        "backlog": route.backlog,
                        "backlog_done": 0,
                    }
                )
                queued += self._apply_backlog(route.feed, route.channel, route.backlog)
            for key in wanted.keys() & present:
                self.db.execute(
                    "UPDATE routes SET backlog = ? WHERE feed = ? AND channel = ?",
                    [wanted[key].backlog, *key],
                )
        return queued

    def _sync_channel(self, name: str, chat: str) -> None:
        rows = self.db.execute("SELECT chat FROM channels WHERE name = ?", [name]).fetchall()
        if not rows:
            chat_id = int(chat) if chat.lstrip("-").isdigit() else None
            self.db.table("channels").insert({"name": name, "chat": chat, "chat_id": chat_id})
        elif rows[0][0] != chat:
            chat_id = int(chat) if chat.lstrip("-").isdigit() else None
            self.db.execute(
                "UPDATE channels SET chat = ?, chat_id = ?, paused = 0, pause_error = NULL"
                " WHERE name = ?",
                [chat, chat_id, name],
            )

    def _drop_route(self, feed: str, channel: str) -> None:
        self.db.execute(
            "DELETE FROM deliveries WHERE channel = ? AND state = 'pending'"
            " AND release_id IN (SELECT id FROM releases WHERE feed = ?)",
            [channel, feed],
        )
        self.db.execute("DELETE FROM routes WHERE feed = ? AND channel = ?", [feed, channel])

    def routed_feeds(self, channel: str) -> list[str]:
        rows = self.db.execute("SELECT feed FROM routes WHERE channel = ? ORDER BY feed", [channel])
        return [row[0] for row in rows]
