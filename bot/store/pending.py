"""Pending actions: what an admin command's buttons act on, kept server-side.

A button's callback_data is `kind:token:choice`; the token is unguessable and names a row
here holding the action's kind, its payload, the chat it manages and who asked. A client
may send any callback_data it likes, so it can only name a token: the chat, the route and
everything else come from this row, and the service (bot/services/admin.py `press`)
re-checks who pressed, where, and whether the action has expired. Rows live
`ACTION_TTL` (ten minutes); older ones are pruned whenever a new one is put.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.base import StoreBase
from bot.store.codec import instant_text, text_to_instant

ACTION_TTL = timedelta(minutes=10)
TOKEN_BYTES = 9  # 12 URL-safe characters: 72 random bits, and room in 64-byte callback_data


@dataclass(frozen=True, slots=True)
class PendingAction:
    """A command waiting for its button: `chat_id`/`thread_id` are the chat (and forum
    topic) it manages, `user_id` who asked (None: a channel post or an anonymous admin)."""

    token: str
    kind: str
    payload: dict[str, Any]
    chat_id: int
    thread_id: int | None
    user_id: int | None
    created_at: datetime

    def expired(self, now: datetime) -> bool:
        return now - self.created_at >= ACTION_TTL


class PendingQueries(StoreBase):
    def put_action(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        chat_id: int,
        thread_id: int | None,
        user_id: int | None,
        now: datetime,
    ) -> str:
        """Keep an action for its buttons; returns its token (see the module docstring).
        `payload` must be JSON-serialisable."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.writing():
            self.db.execute(
                "DELETE FROM pending_actions WHERE created_at < ?",
                [instant_text(now - ACTION_TTL)],
            )
            self.db.execute(
                "INSERT INTO pending_actions"
                " (token, kind, payload, chat_id, thread_id, user_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [token, kind, json.dumps(payload), chat_id, thread_id, user_id, instant_text(now)],
            )
        return token

    def get_action(self, token: str) -> PendingAction | None:
        """The action `token` names, expired or not (None: no such token, or pruned)."""
        row = self.db.execute(
            "SELECT token, kind, payload, chat_id, thread_id, user_id, created_at"
            " FROM pending_actions WHERE token = ?",
            [token],
        ).fetchone()
        if row is None:
            return None
        token, kind, payload, chat_id, thread_id, user_id, created_at = row
        return PendingAction(
            token=token,
            kind=kind,
            payload=json.loads(payload),
            chat_id=chat_id,
            thread_id=thread_id,
            user_id=user_id,
            created_at=text_to_instant(created_at) or datetime.min.replace(tzinfo=UTC),
        )

    def drop_action(self, token: str) -> bool:
        """Forget an action; False when it was gone already (pressed twice: act once)."""
        return self.write_one("DELETE FROM pending_actions WHERE token = ?", [token]) > 0
