"""Feed rows: keeping them in step with the config, and their fetch state."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.models import FeedSpec, FeedState
from bot.store.codec import instant_text, text_to_instant
from bot.store.identity import plan_labels
from bot.store.provision import ProvisionQueries


class FeedQueries(ProvisionQueries):
    def sync_feeds(
        self, feeds: Iterable[tuple[str, str] | FeedSpec], *, chat_interval: float | None = None
    ) -> None:
        """Ensure a row per configured feed, marked `config`; a feed is its URL, its name a
        label.

        A configured name new to the database whose URL is a stored feed's (as configured
        or after redirects) renames that feed, keeping its releases, routes and state, so
        nothing is fetched as new or listed twice; a feed made in a chat is adopted that
        way too. A URL changed under the same name keeps the row and its releases (a
        publisher moving its feed) but resets the fetch state. Feeds dropped from the
        config keep their rows (and releases) as `retired`, or as `chat` while a route made
        in a chat still follows them. A chat-made feed whose name the config now takes for
        another URL is relabelled (`name-2`).
        """
        wanted = [spec if isinstance(spec, FeedSpec) else FeedSpec(*spec) for spec in feeds]
        with self.writing():
            self._move_chat_rows_aside("feeds", {spec.name for spec in wanted})
            stored = {
                row[0]: (row[1], row[2])
                for row in self.db.execute("SELECT name, url, current_url FROM feeds")
            }
            pairs = [(spec.name, spec.url) for spec in wanted]
            plan = plan_labels(pairs, stored, lambda url, urls: url in urls)
            if plan.steps:
                # name is the key that releases and routes refer to; checked at commit.
                self.db.execute("PRAGMA defer_foreign_keys = ON")
            for old, new in plan.steps:
                self._relabel("feeds", old, new)
            rows = self._rows_by_name("feeds")  # as relabelled
            for position, spec in enumerate(wanted):
                self._provision_feed(spec, position, plan.owner[spec.name], stored, rows)
            self._retire_unlisted("feeds", [spec.name for spec in wanted], chat_interval)

    def _provision_feed(
        self,
        spec: FeedSpec,
        position: int,
        row: str | None,
        stored: dict[str, tuple[str, str]],
        rows: Mapping[str, Mapping[str, Any]],
    ) -> None:
        values = {
            "origin": "config",
            "position": position,
            "interval": spec.interval,
            "publisher": spec.publisher,
            "short_name": spec.short_name,
            "timezone": spec.timezone,
            "language": spec.language,
            "fetch_page": int(spec.fetch_page),
        }
        if row is None:
            self.db.table("feeds").insert(
                {"name": spec.name, "url": spec.url, "current_url": spec.url, **values}
            )
            return
        if stored[row][0] != spec.url:
            self.db.execute(
                "UPDATE feeds SET url = ?, current_url = ?, etag = NULL,"
                " last_modified = NULL, body_hash = NULL, next_poll = NULL,"
                " failures = 0 WHERE name = ?",
                [spec.url, spec.url, spec.name],
            )
        self._update_changed("feeds", spec.name, values, rows.get(spec.name))

    def _feed_row(self, name: str) -> dict[str, Any] | None:
        # Plain execute: this runs for every feed on every poll, and db.query() or
        # table.update() add a savepoint or schema look-ups around each statement.
        cursor = self.db.execute("SELECT * FROM feeds WHERE name = ?", [name])
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip((column[0] for column in cursor.description), row, strict=True))

    def _update_feed(self, name: str, values: dict[str, Any]) -> None:
        try:
            self._update("feeds", {"name": name}, **values)
        except sqlite3.Error as exc:  # disk full, I/O error: the poller backs off on this
            raise StoreError(f"recording the state of feed {name!r} failed: {exc}") from exc

    def feed_state(self, name: str) -> FeedState:
        row = self._feed_row(name)
        if row is None:
            raise KeyError(name)
        return self._feed_state(row)

    @staticmethod
    def _feed_state(row: dict[str, Any]) -> FeedState:
        return FeedState(
            name=row["name"],
            url=row["current_url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            last_success=text_to_instant(row["last_success"]),
            last_error=row["last_error"],
            failures=row["failures"],
            next_poll=text_to_instant(row["next_poll"]),
            error_permanent=bool(row["last_error_permanent"]),
        )

    def feed_states(self, names: Sequence[str] | None = None) -> list[FeedState]:
        """Every feed's state (or those of `names`), by name: one query (`status` and /feeds
        read them all; a chat's /status its own)."""
        sql, params = "SELECT * FROM feeds", []
        if names is not None:
            sql += " WHERE name IN (SELECT value FROM json_each(?))"
            params = [json.dumps(list(names))]
        cursor = self.db.execute(sql + " ORDER BY name", params)
        columns = [column[0] for column in cursor.description]
        return [self._feed_state(dict(zip(columns, row, strict=True))) for row in cursor]

    def due_feeds(self, names: Iterable[str], now: datetime) -> list[str]:
        """Of `names`, in their order, those whose next poll time has come (or was never
        set, or that have no row yet). One query however many feeds: it runs every tick."""
        rows = self.db.execute(
            "SELECT wanted.value FROM json_each(?) AS wanted"
            " LEFT JOIN feeds ON feeds.name = wanted.value"
            " WHERE feeds.next_poll IS NULL OR feeds.next_poll <= ? ORDER BY wanted.key",
            [json.dumps(list(names)), instant_text(now)],
        )
        return [row[0] for row in rows]

    def record_fetch_success(
        self,
        name: str,
        *,
        now: datetime,
        next_poll: datetime,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        title: str | None = None,
        current_url: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "last_success": instant_text(now),
            "last_error": None,
            "last_error_at": None,
            "last_error_permanent": 0,
            "failures": 0,
            "next_poll": instant_text(next_poll),
            "etag": etag,
            "last_modified": last_modified,
            "body_hash": body_hash,
        }
        if title is not None:
            values["title"] = title
        if current_url is not None:
            values["current_url"] = current_url
        self._update_feed(name, values)

    def record_fetch_failure(
        self,
        name: str,
        *,
        now: datetime,
        next_poll: datetime,
        error: str,
        failures: int,
        permanent: bool = False,
    ) -> None:
        """Record a failed poll; `failures` is the consecutive count including this one,
        `permanent` whether this error needs someone to act (see bot.errors.FeedError)."""
        self._update_feed(
            name,
            {
                "last_error": error,
                "last_error_at": instant_text(now),
                "last_error_permanent": int(permanent),
                "failures": failures,
                "next_poll": instant_text(next_poll),
            },
        )
