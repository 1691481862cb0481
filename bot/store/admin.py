"""What admins change from Telegram (or the CLI): chat-made feeds, chats and routes, route
settings, filters, pauses, and the audit trail written in each change's own transaction.

Every change goes through `change(entry)`: one transaction holding the change and its
audit row, so there is never a change without its entry nor an entry without its change.
Rows the config file provisions are refused here by the services (bot/services/admin.py)
before they get this far, except pauses, which work on both origins (admin.md).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from bot.feeds.filters import RouteFilter, passes
from bot.models import AuditEntry, RouteOverrides, RouteSpec
from bot.store.codec import instant_text, text_to_categories, text_to_instant
from bot.store.routes import RouteQueries

_ROUTE_OPTIONS = ("citation_style", "summary_length", "link_preview", "silent", "backlog")


class AdminQueries(RouteQueries):
    @contextlib.contextmanager
    def change(self, entry: AuditEntry) -> Iterator[None]:
        """One transaction: the caller's writes, then `entry` in the audit table."""
        with self.writing():
            yield
            self.db.execute(
                "INSERT INTO audit (at, user_id, user_name, chat, action, target, before, after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    instant_text(entry.at),
                    entry.user_id,
                    entry.user_name,
                    entry.chat,
                    entry.action,
                    entry.target,
                    entry.before,
                    entry.after,
                ],
            )

    def audit(self, limit: int, chat: str | None = None) -> list[AuditEntry]:
        """The newest `limit` changes, newest first (of one chat's, when given)."""
        where, params = ("WHERE chat = ?", [chat]) if chat is not None else ("", [])
        rows = self.db.execute(
            "SELECT at, user_id, user_name, chat, action, target, before, after"  # noqa: S608
            f" FROM audit {where} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [
            AuditEntry(
                at=text_to_instant(at) or datetime.min.replace(tzinfo=UTC),
                user_id=user_id,
                user_name=user_name,
                chat=chat_name,
                action=action,
                target=target,
                before=before,
                after=after,
            )
            for at, user_id, user_name, chat_name, action, target, before, after in rows
        ]

    # Feeds and chats made in a chat

    def feed_by_url(self, url: str) -> tuple[str, str] | None:
        """(name, origin) of the stored feed at `url` (as added, or after redirects)."""
        row = self.db.execute(
            "SELECT name, origin FROM feeds WHERE url = ? OR current_url = ?"
            " ORDER BY origin = 'retired', name LIMIT 1",
            [url, url],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def feed_names(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT name FROM feeds")}

    def chat_names(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT name FROM channels")}

    def add_chat_feed(self, name: str, url: str, *, title: str, interval: float) -> None:
        """A feed an admin follows from a chat (its name new: see `feed_by_url` first)."""
        self.db.table("feeds").insert(
            {
                "name": name,
                "url": url,
                "current_url": url,
                "title": title,
                "origin": "chat",
                "interval": interval,
            }
        )

    def revive_feed(self, name: str, *, interval: float) -> None:
        """A retired feed followed again from a chat: it is the chat's now, polled at most
        every `interval` (the file may have polled it more often than a chat's feed may)."""
        self.db.execute(
            "UPDATE feeds SET origin = 'chat', interval = max(coalesce(interval, ?), ?)"
            " WHERE name = ? AND origin = 'retired'",
            [interval, interval, name],
        )

    def chat_target(self, chat_id: int, thread_id: int | None) -> tuple[str, str] | None:
        """(name, origin) of the stored channel posting to `chat_id` (and that topic)."""
        row = self.db.execute(
            "SELECT name, origin FROM channels WHERE (chat_id = ? OR chat = ?)"
            " AND thread_id IS ? ORDER BY origin = 'retired', name LIMIT 1",
            [chat_id, str(chat_id), thread_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def add_chat_channel(self, name: str, chat_id: int, thread_id: int | None) -> None:
        self.db.table("channels").insert(
            {
                "name": name,
                "chat": str(chat_id),
                "chat_id": chat_id,
                "thread_id": thread_id,
                "origin": "chat",
            }
        )

    def revive_channel(self, name: str) -> None:
        self.db.execute(
            "UPDATE channels SET origin = 'chat' WHERE name = ? AND origin = 'retired'", [name]
        )

    # Routes

    def add_chat_route(self, feed: str, channel: str, backlog: int, *, now: datetime) -> int:
        """A route made in a chat; returns the backlog posts queued (none until the feed has
        releases: then the newest `backlog`)."""
        return self.insert_route(RouteSpec(feed, channel, backlog), origin="chat", now=now)

    def route_count(self, channel: str) -> int:
        row = self.db.execute("SELECT count(*) FROM routes WHERE channel = ?", [channel])
        return int(row.fetchone()[0])

    def feed_count(self) -> int:
        """Feeds in service: the file's, and those made in chats that a route still follows
        (one no route follows is not polled, so it takes no place under `max_feeds`)."""
        row = self.db.execute(
            "SELECT count(*) FROM feeds f WHERE f.origin = 'config' OR (f.origin = 'chat'"
            " AND EXISTS (SELECT 1 FROM routes r WHERE r.feed = f.name))"
        )
        return int(row.fetchone()[0])

    def set_route_options(self, feed: str, channel: str, **values: Any) -> None:
        """Set a route's own settings (None: the chat's apply again)."""
        unknown = set(values) - set(_ROUTE_OPTIONS)
        if unknown:
            raise ValueError(f"not a route option: {sorted(unknown)}")
        stored = {k: int(v) if isinstance(v, bool) else v for k, v in values.items()}
        self._update("routes", {"feed": feed, "channel": channel}, **stored)

    def set_route_filter(
        self, feed: str, channel: str, include: tuple[str, ...], exclude: tuple[str, ...]
    ) -> int:
        """Set a route's keyword filter. Posts it still owes (pending: queued, or held by a
        pause) that fail the new filter are cancelled, as if they had never been owed;
        returns how many."""
        with self.writing():
            self._update(
                "routes",
                {"feed": feed, "channel": channel},
                include=json.dumps(list(include)),
                exclude=json.dumps(list(exclude)),
            )
            wanted = RouteFilter(include=include, exclude=exclude)
            if wanted.is_empty:
                return 0
            owed = self.db.execute(
                "SELECT d.id, r.title, r.summary, r.categories FROM deliveries d"
                " JOIN releases r ON r.id = d.release_id"
                " WHERE d.channel = ? AND r.feed = ? AND d.state = 'pending'",
                [channel, feed],
            ).fetchall()
            failing = [
                delivery
                for delivery, title, summary, categories in owed
                if not passes(
                    wanted,
                    title=title,
                    summary=summary,
                    categories=text_to_categories(categories),
                )
            ]
            for delivery in failing:
                self.db.execute(
                    "UPDATE deliveries SET state = 'cancelled', error = 'filtered out'"
                    " WHERE id = ? AND state = 'pending'",
                    [delivery],
                )
        return len(failing)

    def set_route_paused(self, channel: str, paused: bool, feed: str | None = None) -> int:
        """Pause (or resume) one route of `channel`, or all of them; returns routes changed.
        A paused route's posts wait in the outbox (bot/store/outbox.py) until it resumes."""
        sql = "UPDATE routes SET paused = ? WHERE channel = ? AND paused != ?"
        params: list[Any] = [int(paused), channel, int(paused)]
        if feed is not None:
            sql += " AND feed = ?"
            params.append(feed)
        return self.write_one(sql, params)

    def set_feed_paused(self, feed: str, paused: bool) -> int:
        """Pause (or resume) a whole feed: a paused feed is not polled."""
        return self.write_one(
            "UPDATE feeds SET paused = ? WHERE name = ? AND paused != ?",
            [int(paused), feed, int(paused)],
        )

    def held_posts(self, channel: str, feed: str | None = None) -> int:
        """Posts waiting for a paused route of `channel` (of `feed`'s, when given)."""
        sql = (
            "SELECT count(*) FROM deliveries d JOIN releases r ON r.id = d.release_id"
            " JOIN routes rt ON rt.feed = r.feed AND rt.channel = d.channel"
            " WHERE d.channel = ? AND d.state = 'pending' AND rt.paused = 1"
        )
        params: list[Any] = [channel]
        if feed is not None:
            sql += " AND rt.feed = ?"
            params.append(feed)
        return int(self.db.execute(sql, params).fetchone()[0])

    # What /add, /import and the CLI read and write beside the above (bot/services/admin_add.py)

    def feed_overview(self, name: str) -> tuple[str, int]:
        """A stored feed's title (as last fetched; "" when never) and its stored releases."""
        row = self.db.execute("SELECT title FROM feeds WHERE name = ?", [name]).fetchone()
        count = self.db.execute("SELECT count(*) FROM releases WHERE feed = ?", [name])
        return (row[0] if row else "") or "", int(count.fetchone()[0])

    def chat_target_by_ref(self, chat: str, thread_id: int | None) -> tuple[str, str] | None:
        """(name, origin) of the stored channel known by `chat` ("@username" or an id as
        text, usernames ignoring case) and that forum topic."""
        row = self.db.execute(
            "SELECT name, origin FROM channels WHERE lower(chat) = lower(?)"
            " AND thread_id IS ? ORDER BY origin = 'retired', name LIMIT 1",
            [chat, thread_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def add_chat_channel_ref(self, name: str, chat: str, thread_id: int | None) -> None:
        """A chat-made channel known by "@username" (its id resolved when first sent to)."""
        chat_id = int(chat) if chat.lstrip("-").isdigit() else None
        self.db.table("channels").insert(
            {
                "name": name,
                "chat": chat,
                "chat_id": chat_id,
                "thread_id": thread_id,
                "origin": "chat",
            }
        )


def overrides_text(overrides: RouteOverrides) -> str:
    """For the audit trail: the settings a route has of its own."""
    given = {
        "style": overrides.citation_style,
        "summary_length": overrides.summary_length,
        "link_preview": overrides.link_preview,
        "silent": overrides.silent,
    }
    return ", ".join(f"{k}={v}" for k, v in given.items() if v is not None)
