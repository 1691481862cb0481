"""Channels and routes: keeping them in step with the config; a new route gets its backlog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.models import RouteSpec
from bot.store.codec import instant_text
from bot.store.identity import plan_labels
from bot.store.releases import ReleaseQueries


class RouteQueries(ReleaseQueries):
    def sync_routes(
        self, channels: Sequence[tuple[str, str]], routes: Sequence[RouteSpec], *, now: datetime
    ) -> int:
        """Mirror the configured channels and routes; returns the deliveries queued as backlog.

        A route new to the database (or removed and re-added) is owed its feed's newest
        `backlog` releases; a removed route's pending deliveries are dropped.
        """
        with self.writing():
            self._sync_channels(channels)
            wanted = {(r.feed, r.channel): r for r in routes}
            present = {
                (feed, channel): backlog
                for feed, channel, backlog in self.db.execute(
                    "SELECT feed, channel, backlog FROM routes"
                )
            }
            for feed, channel in present.keys() - wanted.keys():
                self._drop_route(feed, channel)
            queued = 0
            for key in wanted.keys() - present.keys():
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
            # Only what changed: a start with an unchanged config writes nothing at all.
            for key in wanted.keys() & present.keys():
                if wanted[key].backlog != present[key]:
                    self.db.execute(
                        "UPDATE routes SET backlog = ? WHERE feed = ? AND channel = ?",
                        [wanted[key].backlog, *key],
                    )
        return queued

    def _sync_channels(self, channels: Sequence[tuple[str, str]]) -> None:
        """A channel is its chat, its name a label: a new name for a stored chat renames it,
        keeping its deliveries (nothing is posted again), routes, pause and chat id."""
        stored = {
            row[0]: (row[1], row[2])
            for row in self.db.execute("SELECT name, chat, chat_id FROM channels")
        }
        plan = plan_labels(channels, stored, _same_chat)
        if plan.steps:
            # name is the key that routes and deliveries refer to; checked at commit.
            self.db.execute("PRAGMA defer_foreign_keys = ON")
        for old, new in plan.steps:
            self._rename_channel(old, new)
        for name, chat in channels:
            row = plan.owner[name]
            chat_id = int(chat) if chat.lstrip("-").isdigit() else None
            if row is None:
                self.db.table("channels").insert({"name": name, "chat": chat, "chat_id": chat_id})
            elif _same_chat(chat, stored[row]):
                if stored[row][0] != chat:  # e.g. @username given as its numeric id now
                    self.db.execute(
                        "UPDATE channels SET chat = ?, chat_id = coalesce(?, chat_id)"
                        " WHERE name = ?",
                        [chat, chat_id, name],
                    )
            else:  # the same name, another chat reference: resolve it afresh
                self.db.execute(
                    "UPDATE channels SET chat = ?, chat_id = ?, paused = 0, pause_error = NULL"
                    " WHERE name = ?",
                    [chat, chat_id, name],
                )

    def _rename_channel(self, old: str, new: str) -> None:
        for sql in (
            "UPDATE channels SET name = ? WHERE name = ?",
            "UPDATE routes SET channel = ? WHERE channel = ?",
            "UPDATE deliveries SET channel = ? WHERE channel = ?",
        ):
            self.db.execute(sql, [new, old])

    def _drop_route(self, feed: str, channel: str) -> None:
        self.db.execute(
            "DELETE FROM deliveries WHERE channel = ? AND state = 'pending'"
            " AND release_id IN (SELECT id FROM releases WHERE feed = ?)",
            [channel, feed],
        )
        self.db.execute("DELETE FROM routes WHERE feed = ? AND channel = ?", [feed, channel])

    # What the routing view is built from (bot/services/routing.py): one query each.

    def feed_sources(self) -> dict[str, str]:
        """Each stored feed's source (URL or file path) as synced, by name."""
        return dict(self.db.execute("SELECT name, url FROM feeds"))

    def channel_chats(self) -> dict[str, str]:
        """Each stored channel's chat reference as synced, by name."""
        return dict(self.db.execute("SELECT name, chat FROM channels"))

    def route_rows(self) -> list[tuple[str, str, int]]:
        """Every stored route: (feed, channel, backlog)."""
        rows = self.db.execute("SELECT feed, channel, backlog FROM routes ORDER BY channel, feed")
        return [(feed, channel, backlog) for feed, channel, backlog in rows]


def _same_chat(chat: str, row: tuple[str, int | None]) -> bool:
    """The configured chat is the stored one: the same reference (usernames ignore case),
    or the numeric id the stored @username was resolved to."""
    stored_chat, chat_id = row
    if chat.lower() == stored_chat.lower():
        return True
    return chat.lstrip("-").isdigit() and chat_id is not None and int(chat) == chat_id
