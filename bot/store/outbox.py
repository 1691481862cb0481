"""The outbox: deliveries move pending -> sending -> sent / failed (or dry_run)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.models import ChannelState, Delivery, EditBudget, OwedPost
from bot.store.base import StoreBase
from bot.store.codec import instant_text, row_to_stored, text_to_instant
from bot.store.studies import attach_studies

# A pending delivery `d` is ready when no older pending delivery of its channel is still
# waiting out a retry delay (nor itself): retries never reorder a chat's posts.
_BEFORE_FIRST_WAITING = (
    "d.id < coalesce((SELECT min(w.id) FROM deliveries w WHERE w.channel = d.channel"
    " AND w.state = 'pending' AND w.not_before > ?), 9223372036854775807)"
)
# Not the post of a route an admin paused: it waits in the outbox until the route resumes.
_NOT_HELD = (
    "NOT EXISTS (SELECT 1 FROM routes rt JOIN releases rl ON rl.feed = rt.feed"
    " WHERE rl.id = d.release_id AND rt.channel = d.channel AND rt.paused = 1)"
)
# A delivery with its release in one row: the release's columns as r_<column>.
_WITH_RELEASE = (
    "SELECT d.*, r.id AS r_id, r.feed AS r_feed, r.key AS r_key, r.title AS r_title,"
    " r.link AS r_link, r.url AS r_url, r.published AS r_published, r.updated AS r_updated,"
    " r.sort_at AS r_sort_at, r.author AS r_author, r.feed_author AS r_feed_author,"
    " r.feed_title AS r_feed_title, r.summary AS r_summary, r.language AS r_language,"
    " r.content_hash AS r_content_hash, r.first_seen AS r_first_seen,"
    " r.changed_at AS r_changed_at, r.categories AS r_categories"
    " FROM deliveries d LEFT JOIN releases r ON r.id = d.release_id"
)


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        release_id=row["release_id"],
        channel=row["channel"],
        state=row["state"],
        message_id=row["message_id"],
        error=row["error"],
        attempts=row["attempts"],
        changes=row["needs_edit"],
        sent_at=text_to_instant(row["sent_at"]),
        shown=row.get("shown_hash"),
        sent_chat=_chat_ref(row.get("sent_chat")),
        edit_window=text_to_instant(row.get("edit_window")),
        edits_in_window=row.get("edits_in_window") or 0,
    )


def _owed(row: dict[str, Any]) -> OwedPost:
    release = {name[2:]: value for name, value in row.items() if name.startswith("r_")}
    stored = row_to_stored(release) if release["id"] is not None else None
    return OwedPost(_delivery(row), stored)


def _chat_ref(text: str | None) -> int | str | None:
    """A chat as stored in text: a numeric id back to an int, an @username as it is."""
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


class OutboxQueries(StoreBase):
    def recover_in_flight(self) -> int:
        """After a crash, sends that were in flight are owed again (at least once)."""
        return self.write_one("UPDATE deliveries SET state = 'pending' WHERE state = 'sending'", [])

    def channels_with_work(self, now: datetime, *, edits: bool = True) -> list[str]:
        """Unpaused channels whose oldest pending delivery is ready, or (unless `edits` is
        False) with a sent post to edit."""
        # Posts to edit are looked up per channel, through the small index of the posts
        # owed an edit (m009), not among every post ever sent.
        rows = self.db.execute(
            "SELECT d.channel FROM deliveries d JOIN channels c ON c.name = d.channel"  # noqa: S608
            f" WHERE c.paused = 0 AND d.state = 'pending' AND {_BEFORE_FIRST_WAITING}"
            f" AND {_NOT_HELD}"
            " UNION SELECT c.name FROM channels c WHERE ? AND c.paused = 0 AND EXISTS"
            " (SELECT 1 FROM deliveries d WHERE d.channel = c.name AND d.state = 'sent'"
            " AND d.needs_edit > 0 AND (d.not_before IS NULL OR d.not_before <= ?))"
            " ORDER BY 1",
            [instant_text(now), int(edits), instant_text(now)],
        )
        return [row[0] for row in rows]

    def pending_for_channel(self, channel: str, now: datetime, limit: int = 50) -> list[OwedPost]:
        """The channel's pending deliveries with their releases, oldest first, up to the first
        one waiting out a retry delay: a chat's posts keep their order even when one of them
        must wait."""
        return self._owed(
            f"{_WITH_RELEASE} WHERE d.channel = ? AND d.state = 'pending'"
            f" AND {_BEFORE_FIRST_WAITING} AND {_NOT_HELD} ORDER BY d.id LIMIT ?",
            [channel, instant_text(now), limit],
        )

    def edits_for_channel(self, channel: str, now: datetime, limit: int = 50) -> list[OwedPost]:
        """Sent posts whose release changed, with their releases, oldest first, but not those
        waiting (out a retry delay, or for their next day of edits)."""
        return self._owed(
            f"{_WITH_RELEASE} WHERE d.channel = ? AND d.state = 'sent' AND d.needs_edit > 0"
            " AND (d.not_before IS NULL OR d.not_before <= ?) ORDER BY d.id LIMIT ?",
            [channel, instant_text(now), limit],
        )

    def _owed(self, sql: str, params: list[Any]) -> list[OwedPost]:
        cursor = self.db.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        owed = [_owed(dict(zip(columns, row, strict=True))) for row in cursor]
        stored = attach_studies(self.db, [item.stored for item in owed if item.stored])
        by_id = {item.id: item for item in stored}
        return [
            replace(item, stored=by_id[item.stored.id]) if item.stored else item for item in owed
        ]

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        """Per channel, how many deliveries are in each state."""
        counts: dict[str, dict[str, int]] = {}
        rows = self.db.execute(
            "SELECT channel, state, count(*) FROM deliveries GROUP BY channel, state"
        )
        for channel, state, count in rows:
            counts.setdefault(channel, {})[state] = count
        return counts

    def outbox_backlog(self) -> list[tuple[str, int, datetime]]:
        """Per channel with posts owed (pending or in flight, but not held by a paused
        route): how many, and when the oldest was queued (the metrics' outbox gauges)."""
        rows = self.db.execute(
            "SELECT d.channel, count(*), min(d.created_at) FROM deliveries d"  # noqa: S608
            f" WHERE d.state IN ('pending', 'sending') AND {_NOT_HELD} GROUP BY d.channel"
        )
        return [(channel, count, datetime.fromisoformat(oldest)) for channel, count, oldest in rows]

    def _set(self, delivery_id: int, expected: str, **values: Any) -> bool:
        """Change the delivery only if it is still in the `expected` state; True if it was.

        Every state change is conditional, so that two writers (a second process, a late
        answer) can never both take a row, nor re-queue a post already sent.
        """
        return self._update("deliveries", {"id": delivery_id, "state": expected}, **values) == 1

    def mark_sending(self, delivery_id: int) -> bool:
        """Take a pending delivery for one send; False when it is no longer pending (taken)."""
        changed = self.write_one(
            "UPDATE deliveries SET state = 'sending', attempts = attempts + 1"
            " WHERE id = ? AND state = 'pending'",
            [delivery_id],
        )
        return changed == 1

    def mark_sent(
        self,
        delivery_id: int,
        message_id: int,
        now: datetime,
        shown: str | None = None,
        chat: int | str | None = None,
    ) -> bool:
        """Telegram took the post into `chat` (the id or @username it was sent to, where an
        edit must go); `shown` is its fingerprint (bot.render.changes). A change owed to it
        while it was on its way (a study found, bot/store/studies.py) stays owed."""
        return self._set(
            delivery_id,
            "sending",
            state="sent",
            message_id=message_id,
            error=None,
            sent_at=instant_text(now),
            shown_hash=shown,
            sent_chat=None if chat is None else str(chat),
        )

    def mark_dry_run(self, delivery_id: int, now: datetime) -> bool:
        return self._set(delivery_id, "pending", state="dry_run", sent_at=instant_text(now))

    def mark_failed(self, delivery_id: int, error: str) -> bool:
        """Telegram refused the send under way for good."""
        return self._set(delivery_id, "sending", state="failed", error=error)

    def mark_unsendable(self, delivery_id: int, error: str) -> bool:
        """A pending delivery that cannot be made (release or route gone, rendering failed)."""
        return self._set(delivery_id, "pending", state="failed", error=error)

    def mark_retry(self, delivery_id: int, error: str, not_before: datetime) -> bool:
        return self._set(
            delivery_id,
            "sending",
            state="pending",
            error=error,
            not_before=instant_text(not_before),
        )

    def mark_edited(self, delivery_id: int) -> bool:
        return self._set(delivery_id, "sent", needs_edit=0, not_before=None)

    def record_edit(self, delivery: Delivery, budget: EditBudget, shown: str | None) -> bool:
        """Telegram answered an edit of `delivery` (took it, or refused it for good).

        The changes it was rendered from are settled; one recorded while the edit was under
        way is not, and waits with any other for `budget.next_edit`, when the latest
        content goes out in one edit. `shown` is the new fingerprint (None: unchanged).
        """
        changed = self.write_one(
            "UPDATE deliveries SET needs_edit = max(needs_edit - ?, 0), error = NULL,"
            " not_before = ?, edit_window = ?, edits_in_window = ?,"
            " shown_hash = coalesce(?, shown_hash) WHERE id = ? AND state = 'sent'",
            [
                delivery.changes,
                instant_text(budget.next_edit) if budget.next_edit else None,
                instant_text(budget.window),
                budget.used,
                shown,
                delivery.id,
            ],
        )
        return changed == 1

    def skip_edit(self, delivery: Delivery) -> bool:
        """No edit for the changes read: the chat already shows them, or the message can no
        longer be edited. Changes recorded since stay owed."""
        changed = self.write_one(
            "UPDATE deliveries SET needs_edit = max(needs_edit - ?, 0)"
            " WHERE id = ? AND state = 'sent'",
            [delivery.changes, delivery.id],
        )
        return changed == 1

    def defer_edit(self, delivery_id: int, until: datetime) -> bool:
        """The post had its edits for the day: the change waits (and gathers later ones)."""
        return self._set(delivery_id, "sent", not_before=instant_text(until))

    def mark_edit_retry(self, delivery_id: int, error: str, not_before: datetime) -> bool:
        return self._set(delivery_id, "sent", error=error, not_before=instant_text(not_before))

    def recent_sends(self, since: datetime) -> list[tuple[int | str, datetime]]:
        """(chat, sent_at) of every post sent at or after `since`, oldest first.

        The chat is what the dispatcher sends to (the resolved id, else the configured
        chat), so the pacer's rate windows can be refilled after a restart.
        """
        rows = self.db.execute(
            "SELECT c.chat_id, c.chat, d.sent_at FROM deliveries d"
            " JOIN channels c ON c.name = d.channel"
            " WHERE d.state = 'sent' AND d.sent_at >= ? ORDER BY d.sent_at",
            [instant_text(since)],
        )
        return [
            (chat_id if chat_id is not None else chat, datetime.fromisoformat(sent_at))
            for chat_id, chat, sent_at in rows
        ]

    # Channels

    def channel_state(self, name: str) -> ChannelState:
        row = self.db.execute(
            "SELECT name, chat, chat_id, paused, pause_error FROM channels WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            raise StoreError(f"no channel named {name!r} in the database")
        return ChannelState(
            name=row[0], chat=row[1], chat_id=row[2], paused=bool(row[3]), pause_error=row[4]
        )

    def channel_states(self) -> list[ChannelState]:
        """Every channel's state, by name: one query."""
        rows = self.db.execute(
            "SELECT name, chat, chat_id, paused, pause_error FROM channels ORDER BY name"
        )
        return [
            ChannelState(name=name, chat=chat, chat_id=chat_id, paused=bool(paused), pause_error=e)
            for name, chat, chat_id, paused, e in rows
        ]

    def set_chat_id(self, name: str, chat_id: int) -> None:
        self._set_channel(name, chat_id=chat_id)

    def pause_channel(self, name: str, error: str) -> None:
        self._set_channel(name, paused=1, pause_error=error)

    def resume_channel(self, name: str) -> None:
        self._set_channel(name, paused=0, pause_error=None)

    def _set_channel(self, name: str, **values: Any) -> None:
        self._update("channels", {"name": name}, **values)

    # Failed posts, for `releasebot retry` and /retry

    def failed_deliveries(
        self, channel: str | None = None, delivery_id: int | None = None
    ) -> list[Delivery]:
        """Failed deliveries (of one channel, or one by id, when given), oldest first."""
        rows = self.db.query(
            "SELECT * FROM deliveries WHERE state = 'failed'"
            " AND (? IS NULL OR channel = ?) AND (? IS NULL OR id = ?) ORDER BY id",
            [channel, channel, delivery_id, delivery_id],
        )
        return [_delivery(row) for row in rows]

    def requeue_failed(
        self, channel: str | None = None, delivery_id: int | None = None
    ) -> dict[str, int]:
        """Failed deliveries become pending again, attempts reset, their last error kept.

        Returns how many were re-queued per channel. They keep their place (oldest first).
        """
        with self.writing():
            rows = self.db.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, not_before = NULL"
                " WHERE state = 'failed' AND (? IS NULL OR channel = ?) AND (? IS NULL OR id = ?)"
                " RETURNING channel",
                [channel, channel, delivery_id, delivery_id],
            ).fetchall()
        counts: dict[str, int] = {}
        for (name,) in rows:
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))
