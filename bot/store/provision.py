"""What config-provisioned and chat-made rows share: origins, relabelling aside, retiring.

A feed or channel row is `config` (the file declares it), `chat` (an admin made it in
Telegram) or `retired` (the file no longer declares it; kept for its releases and posts).
The sync writes `config` rows; chat-made rows are the admin commands' (bot/store/admin.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from bot.feeds.names import MAX_NAME_LENGTH
from bot.store.base import StoreBase

Table = Literal["feeds", "channels"]
_REFERENCE = {"feeds": "feed", "channels": "channel"}  # the routes column naming a row
_RENAMES = {
    "feeds": (
        "UPDATE feeds SET name = ? WHERE name = ?",
        "UPDATE releases SET feed = ? WHERE feed = ?",
        "UPDATE routes SET feed = ? WHERE feed = ?",
    ),
    "channels": (
        "UPDATE channels SET name = ? WHERE name = ?",
        "UPDATE routes SET channel = ? WHERE channel = ?",
        "UPDATE deliveries SET channel = ? WHERE channel = ?",
    ),
}


def free_label(name: str, used: Collection[str]) -> str:
    """`name`, or `name-2`, `name-3` ... within 32 characters: the first not in `used`."""
    if name not in used:
        return name
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
        if candidate not in used:
            return candidate
        number += 1


class ProvisionQueries(StoreBase):
    def _labels(self, table: Table) -> set[str]:
        return {row[0] for row in self.db.execute(f"SELECT name FROM {table}")}  # noqa: S608

    def _move_chat_rows_aside(self, table: Table, names: Collection[str]) -> None:
        """Chat-made rows named as the config now names another entry get a free name: the
        file wins a name, and the chat's row (matched by identity, if it is the same feed
        or chat, before this: see the callers) keeps everything else."""
        rows = self.db.execute(
            f"SELECT name FROM {table} WHERE origin = 'chat'"  # noqa: S608 -- our table
        ).fetchall()
        clashing = [row[0] for row in rows if row[0] in names]
        if not clashing:
            return
        self.db.execute("PRAGMA defer_foreign_keys = ON")
        used = self._labels(table) | set(names)
        for name in clashing:
            new = free_label(name, used)
            used.add(new)
            self._relabel(table, name, new)

    def _relabel(self, table: Table, old: str, new: str) -> None:
        """Move a row's label in every table that names it (the FTS index keys on rowid)."""
        for sql in _RENAMES[table]:
            self.db.execute(sql, [new, old])

    def _retire_unlisted(
        self, table: Table, listed: Collection[str], chat_interval: float | None = None
    ) -> None:
        """Config rows the file no longer lists: `retired`, or `chat` while a route made in
        a chat still uses them (its subscribers keep their posts; `config export` shows it).
        A feed that becomes the chat's is polled no faster than `chat_interval` (as a feed
        added in a chat: the file's own interval no longer applies)."""
        column = _REFERENCE[table]
        rows = self.db.execute(
            f"SELECT name, EXISTS (SELECT 1 FROM routes r WHERE r.{column} = t.name"  # noqa: S608
            f" AND r.origin = 'chat') FROM {table} t WHERE t.origin = 'config'"
        ).fetchall()
        for name, chat_routed in rows:
            if name not in listed:
                origin = "chat" if chat_routed else "retired"
                self.db.execute(
                    f"UPDATE {table} SET origin = ? WHERE name = ?",  # noqa: S608
                    [origin, name],
                )
                if table == "feeds" and origin == "chat" and chat_interval is not None:
                    self.db.execute(
                        "UPDATE feeds SET interval = max(coalesce(interval, ?), ?) WHERE name = ?",
                        [chat_interval, chat_interval, name],
                    )

    def _rows_by_name(self, table: Table) -> dict[str, dict[str, Any]]:
        """Every row of `table` by name, in one query (a sync compares each entry's settings
        with its row: one query per entry cost ~0.1 s at every start with 2,000 feeds)."""
        cursor = self.db.execute(f"SELECT * FROM {table}")  # noqa: S608 -- our table
        columns = [column[0] for column in cursor.description]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor}

    def _update_changed(
        self,
        table: Table,
        name: str,
        values: Mapping[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        """Write only the columns whose value differs from `current` (the row as read):
        a start with an unchanged config writes nothing at all."""
        if current is None:
            return
        changed = {k: v for k, v in values.items() if current.get(k) != _stored(v)}
        if changed:
            self._update(table, {"name": name}, **{k: _stored(v) for k, v in changed.items()})


def _stored(value: Any) -> Any:
    """As SQLite hands it back: booleans are integers."""
    return int(value) if isinstance(value, bool) else value
