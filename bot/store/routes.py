"""Channels and routes: keeping them in step with the config; a new route gets its backlog;
what the routing view is built from."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.feeds.filters import RouteFilter
from bot.models import ChatSpec, RouteSpec
from bot.store.codec import instant_text
from bot.store.identity import plan_labels
from bot.store.provision import ProvisionQueries
from bot.store.releases import ReleaseQueries


class RouteQueries(ReleaseQueries, ProvisionQueries):
    def sync_routes(
        self,
        channels: Sequence[tuple[str, str] | ChatSpec],
        routes: Sequence[RouteSpec],
        *,
        now: datetime,
    ) -> int:
        """Mirror the configured channels and routes; returns the deliveries queued as backlog.

        A route new to the database (or removed and re-added) is owed its feed's newest
        `backlog` releases; a config route the file no longer lists is removed and its
        pending deliveries cancelled. Routes made in a chat stay; one the file now lists
        too becomes the file's (its settings from then on the file's).
        """
        specs = [spec if isinstance(spec, ChatSpec) else ChatSpec(*spec) for spec in channels]
        with self.writing():
            self._sync_channels(specs)
            wanted = {(r.feed, r.channel): r for r in routes}
            cursor = self.db.execute("SELECT * FROM routes")
            columns = [column[0] for column in cursor.description]
            present = {
                (row["feed"], row["channel"]): row
                for row in (dict(zip(columns, values, strict=True)) for values in cursor)
            }
            for key, row in present.items():
                if row["origin"] == "config" and key not in wanted:
                    self.drop_route(*key)
            queued = 0
            for key in wanted.keys() - present.keys():
                queued += self.insert_route(wanted[key], origin="config", now=now)
            # Only what changed: a start with an unchanged config writes nothing at all.
            for key in wanted.keys() & present.keys():
                self._provision_route(wanted[key], present[key])
        return queued

    def insert_route(self, route: RouteSpec, *, origin: str, now: datetime) -> int:
        """A new route, owed its feed's newest `backlog` releases; returns those queued."""
        self.db.table("routes").insert(
            {
                "feed": route.feed,
                "channel": route.channel,
                "created_at": instant_text(now),
                "backlog": route.backlog,
                "backlog_done": 0,
                "origin": origin,
                **_route_values(route),
            }
        )
        wanted = RouteFilter(include=route.include, exclude=route.exclude)
        return self._apply_backlog(
            route.feed, route.channel, route.backlog, None if wanted.is_empty else wanted
        )

    def _provision_route(self, route: RouteSpec, row: Mapping[str, Any]) -> None:
        """The file's settings onto the stored route `row`, the columns that differ only."""
        values = {"origin": "config", "backlog": route.backlog, **_route_values(route)}
        changed = {k: v for k, v in values.items() if row[k] != v}
        if changed:
            self._update("routes", {"feed": route.feed, "channel": route.channel}, **changed)

    def _sync_channels(self, channels: Sequence[ChatSpec]) -> None:
        """A channel is its chat (and forum topic), its name a label: a new name for a
        stored chat renames it, keeping its deliveries (nothing is posted again), routes,
        pause and chat id. A chat-made channel for the same chat is adopted the same way."""
        self._move_chat_rows_aside("channels", {spec.name for spec in channels})
        stored = {
            row[0]: (row[1], row[2], row[3])
            for row in self.db.execute("SELECT name, chat, chat_id, thread_id FROM channels")
        }
        targets = [(spec.name, (spec.chat, spec.thread_id)) for spec in channels]
        plan = plan_labels(targets, stored, _same_target)
        if plan.steps:
            # name is the key that routes and deliveries refer to; checked at commit.
            self.db.execute("PRAGMA defer_foreign_keys = ON")
        for old, new in plan.steps:
            self._relabel("channels", old, new)
        rows = self._rows_by_name("channels")  # as relabelled
        for position, spec in enumerate(channels):
            self._provision_channel(spec, position, plan.owner[spec.name], stored, rows)
        self._retire_unlisted("channels", [spec.name for spec in channels])

    def _provision_channel(
        self,
        spec: ChatSpec,
        position: int,
        row: str | None,
        stored: dict[str, tuple[str, int | None, int | None]],
        rows: Mapping[str, Mapping[str, Any]],
    ) -> None:
        name, chat = spec.name, spec.chat
        chat_id = int(chat) if chat.lstrip("-").isdigit() else None
        values = {
            "origin": "config",
            "position": position,
            "thread_id": spec.thread_id,
            "citation_style": spec.citation_style,
            "summary_length": spec.summary_length,
            "link_preview": spec.link_preview,
            "silent": spec.silent,
            "backlog": spec.backlog,
        }
        if row is None:
            self.db.table("channels").insert(
                {"name": name, "chat": chat, "chat_id": chat_id, **values}
            )
            return
        if _same_target((chat, spec.thread_id), stored[row]):
            if stored[row][0] != chat:  # e.g. @username given as its numeric id now
                self.db.execute(
                    "UPDATE channels SET chat = ?, chat_id = coalesce(?, chat_id) WHERE name = ?",
                    [chat, chat_id, name],
                )
        else:  # the same name, another chat reference: resolve it afresh
            self.db.execute(
                "UPDATE channels SET chat = ?, chat_id = ?, paused = 0, pause_error = NULL"
                " WHERE name = ?",
                [chat, chat_id, name],
            )
        self._update_changed("channels", name, values, rows.get(name))

    def drop_route(self, feed: str, channel: str) -> int:
        """Remove a route; its pending posts are cancelled, never sent later (they stay as
        rows so `status` can count them). Returns how many were cancelled."""
        cancelled = self.db.execute(
            "UPDATE deliveries SET state = 'cancelled', error = 'route removed'"
            " WHERE channel = ? AND state = 'pending'"
            " AND release_id IN (SELECT id FROM releases WHERE feed = ?)",
            [channel, feed],
        ).rowcount
        self.db.execute("DELETE FROM routes WHERE feed = ? AND channel = ?", [feed, channel])
        return cancelled

    # What the routing view is built from (bot/services/routing.py): one query each.

    def feed_sources(self) -> dict[str, str]:
        """Each stored feed's source (URL or file path) as synced, by name."""
        return dict(self.db.execute("SELECT name, url FROM feeds"))

    def feed_rows(self) -> list[sqlite3.Row]:
        """The feeds in service (config and chat), the file's in its order, then by name."""
        return self._rows(_FEED_ROWS + " ORDER BY origin = 'chat', position, name")

    def channel_rows(self) -> list[sqlite3.Row]:
        """The channels in service, the file's in its order, then by name."""
        return self._rows(_CHANNEL_ROWS + " ORDER BY origin = 'chat', position, name")

    def route_rows(self) -> list[sqlite3.Row]:
        """Every stored route with its settings, in no order (the view orders them)."""
        return self._rows(_ROUTE_ROWS)

    def chat_rows(self, channel: str) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
        """One channel's row (if in service) and its routes: an admin's change to one chat
        re-reads these, not every route (bot/services/routing.py `refresh_chat`)."""
        chat = self._rows(_CHANNEL_ROWS + " AND name = ?", [channel])
        return chat, self._rows(_ROUTE_ROWS + " WHERE channel = ?", [channel])

    def feed_rows_named(self, names: Sequence[str]) -> list[sqlite3.Row]:
        """The feeds in service among `names` (at most a chat's routes' worth)."""
        marks = ", ".join("?" * len(names))
        return self._rows(_FEED_ROWS + f" AND name IN ({marks})", list(names))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # sqlite3.Row: read by column name, made in C (thousands per view built).
        cursor = self.db.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()


_FEED_ROWS = (
    "SELECT name, url, origin, paused, interval, publisher, short_name, timezone,"
    " language, fetch_page FROM feeds WHERE origin IN ('config', 'chat')"
)
_CHANNEL_ROWS = (
    "SELECT name, chat, origin, thread_id, citation_style, summary_length,"
    " link_preview, silent, backlog FROM channels WHERE origin IN ('config', 'chat')"
)
_ROUTE_ROWS = (
    "SELECT feed, channel, origin, backlog, paused, citation_style, summary_length,"
    " link_preview, silent, include, exclude FROM routes"
)


def _route_values(route: RouteSpec) -> dict[str, Any]:
    overrides = route.overrides
    return {
        "citation_style": overrides.citation_style,
        "summary_length": overrides.summary_length,
        "link_preview": None if overrides.link_preview is None else int(overrides.link_preview),
        "silent": None if overrides.silent is None else int(overrides.silent),
        "include": json.dumps(list(route.include)),
        "exclude": json.dumps(list(route.exclude)),
    }


def _same_target(target: tuple[str, int | None], row: tuple[str, int | None, int | None]) -> bool:
    """The same chat (see `_same_chat`) and the same forum topic."""
    chat, thread = target
    return thread == row[2] and _same_chat(chat, (row[0], row[1]))


def _same_chat(chat: str, row: tuple[str, int | None]) -> bool:
    """The configured chat is the stored one: the same reference (usernames ignore case),
    or the numeric id the stored @username was resolved to."""
    stored_chat, chat_id = row
    if chat.lower() == stored_chat.lower():
        return True
    return chat.lstrip("-").isdigit() and chat_id is not None and int(chat) == chat_id
