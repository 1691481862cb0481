"""Open the SQLite database (WAL, busy timeout, foreign keys) and apply migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from bot.errors import StoreError
from bot.store.schema import migrations

BUSY_TIMEOUT_MS = 10_000


def open_database(path: Path | str) -> Database:
    """Open (creating if needed) and migrate the database at `path`; ':memory:' for tests."""
    try:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        db = Database(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the database {path}: {exc}") from exc
    return db


class StoreBase:
    """Holds the connection; the query mixins use `self.db`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        self.db.close()

    def integrity_problems(self) -> list[str]:
        """What `PRAGMA integrity_check` and pending migrations say is wrong (empty when fine)."""
        rows = self.db.execute("PRAGMA integrity_check").fetchall()
        problems = [row[0] for row in rows if row[0] != "ok"]
        problems += [f"migration {m.name} not applied" for m in migrations.pending(self.db)]
        return problems
