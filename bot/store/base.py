"""Open the SQLite database (WAL, busy timeout, foreign keys), refuse an unusable one, migrate.

Only a missing file is created. An empty file, a file that is not a release-bot database,
one written by a newer release-bot and a damaged one are refused before anything is
written, with one message naming the file and what to do: carrying on would re-post the
backlog, reuse release ids (old "Cite" buttons would cite other releases) or fail row by
row. A database this user may not write opens read-only for the commands that only read.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database

from bot.errors import DatabaseUnusableError, StoreError
from bot.store.schema import migrations

BUSY_TIMEOUT_MS = 10_000
MAX_PROBLEMS = 20  # an integrity check of a badly damaged file can list thousands
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

# "quick": PRAGMA quick_check, every page read once (O(size): ~0.07 s for 100,000 releases);
# "full": then PRAGMA integrity_check, which also matches every index against its table
# (it stops at the first unreadable page, where quick_check says which page it was).
Verify = Literal["none", "quick", "full"]
_PRAGMAS = {"quick": ("quick_check",), "full": ("quick_check", "integrity_check")}


@dataclass(frozen=True, slots=True)
class OpenedDatabase:
    db: Database
    read_only: bool


def open_database(
    path: Path | str, *, write: bool = True, verify: Verify = "quick"
) -> OpenedDatabase:
    """Open (creating if missing), check and migrate the database at `path`.

    `write=False` (commands that only read) opens a database this user may not write
    read-only instead of refusing it. ':memory:' is for tests.
    """
    if str(path) == ":memory:":
        db = _configure(sqlite3.connect(":memory:", check_same_thread=False))
        migrations.apply(db)
        return OpenedDatabase(db, read_only=False)
    path = Path(path)
    _refuse_empty(path)
    if not path.exists() and path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        raise DatabaseUnusableError(
            f"{path} does not exist, and this user may not create it in {path.parent}"
        )
    reason = read_only_reason(path)
    if write:
        refuse_read_only(path, reason)
    try:
        db = _connect_read_only(path) if reason else _connect(path)
    except (sqlite3.Error, OSError) as exc:
        raise _unusable(path, exc) from exc
    try:
        _refuse_foreign(db, path)
        for pragma in _PRAGMAS.get(verify, ()):
            _refuse_damaged(db, path, pragma)
        if reason:
            _refuse_outdated(db, path, reason)
        else:
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
    except DatabaseUnusableError:
        db.close()
        raise
    except sqlite3.Error as exc:
        db.close()
        raise _unusable(path, exc) from exc
    return OpenedDatabase(db, read_only=bool(reason))


def refuse_read_only(path: Path, reason: str | None = None) -> None:
    """Raise DatabaseUnusableError when a command that writes cannot write `path`."""
    reason = read_only_reason(path) if reason is None else reason
    if reason:
        raise DatabaseUnusableError(
            f"{path} is read-only: {reason}; this command writes to it, so make the file"
            " and its folder writable by the user running releasebot"
        )


def read_only_reason(path: Path) -> str:
    """Why this process may not write the existing database at `path` ("" when it may).

    WAL needs the folder too: SQLite creates the -wal and -shm files beside the database.
    """
    if not path.exists():
        return ""
    if not os.access(path, os.W_OK):
        return "this user may not write the file"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"this user may not write its folder {path.parent}"
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists() and not os.access(side, os.W_OK):
            return f"this user may not write {side.name} beside it"
    return ""


def _configure(conn: sqlite3.Connection) -> Database:
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def _connect(path: Path) -> Database:
    if not path.exists():
        _create(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    return _configure(conn)


def _create(path: Path) -> None:
    """Make a new database beside `path`, then link it into place.

    The database file never exists half-made, so an empty one is never ours: a crash
    leaves only the temporary file, and a process starting meanwhile sees no file, or a
    whole one. If another process created it first, theirs is kept.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        db = _configure(sqlite3.connect(str(temp)))
        try:
            db.enable_wal()
            migrations.apply(db)
        finally:
            db.close()
        try:
            os.link(temp, path)  # no-clobber, unlike a rename
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(temp, path)
    finally:
        for leftover in ("", "-wal", "-shm"):
            Path(f"{temp}{leftover}").unlink(missing_ok=True)


def _connect_read_only(path: Path) -> Database:
    """A read-only connection: immutable when no -wal (or -journal) file is beside the file.

    Without one, nothing has the database open for writing and every committed change is
    in the file itself, so reading it as immutable is exact, and it creates no -shm and
    -wal files that would be read-only later (a read-only folder could not hold them).
    With one, a plain read-only connection reads the writer's changes from it.
    """
    uri = f"{path.absolute().as_uri()}?mode=ro"
    wal, shm = (path.with_name(path.name + side) for side in ("-wal", "-shm"))
    if not wal.exists() and not path.with_name(path.name + "-journal").exists():
        uri += "&immutable=1"
    elif not shm.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        # SQLite reads a -wal through a -shm index it must create; here it cannot.
        raise DatabaseUnusableError(
            f"{path} has changes in {wal.name} that SQLite can read only with a {shm.name}"
            f" file, which it may not create in the read-only folder {path.parent}: make the"
            " folder writable, or copy the database with its -wal file to a writable folder"
        )
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    return _configure(conn)


def _refuse_empty(path: Path) -> None:
    """A zero-byte file is a database that lost its contents, not a new one."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DatabaseUnusableError(f"{path} cannot be read: {exc.strerror}") from exc
    wal = path.with_name(path.name + "-wal")
    if size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        raise DatabaseUnusableError(
            f"{path} is empty (0 bytes): restore it from a backup, or delete it to start"
            " a new database"
        )


def _known_migrations() -> set[str]:
    # Every migration is pending on a database that has none applied.
    blank = Database(memory=True)
    try:
        return {m.name for m in migrations.pending(blank)}
    finally:
        blank.close()


def _refuse_foreign(db: Database, path: Path) -> None:
    """Refuse a file that is not a SQLite database, another program's database, or ours
    from a newer release-bot (its rows would fail one by one)."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and migrations.migrations_table not in tables:
        raise DatabaseUnusableError(
            f"{path} is a SQLite database, but not release-bot's: check [bot] database in"
            " the config"
        )
    unknown = [m.name for m in migrations.applied(db) if m.name not in _known_migrations()]
    if unknown:
        raise DatabaseUnusableError(
            f"{path} was written by a newer release-bot (its schema has {', '.join(unknown)}):"
            " upgrade release-bot, or restore a backup made before the upgrade"
        )


def _refuse_damaged(db: Database, path: Path, pragma: str) -> None:
    rows = db.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})").fetchall()
    problems = [
        line
        for (text,) in rows
        for line in str(text).splitlines()
        if line != "ok" and not line.startswith("*** in database")
    ]
    if problems:
        raise _damaged(path, problems)


def _refuse_outdated(db: Database, path: Path, reason: str) -> None:
    """A read-only database must already have this release-bot's schema: it cannot migrate."""
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        raise DatabaseUnusableError(
            f"{path} needs upgrading to this release-bot's schema ({', '.join(pending)}),"
            f" but it is read-only: {reason}; make it writable and run `releasebot check`"
        )


def _damaged(path: Path, problems: list[str]) -> DatabaseUnusableError:
    more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
    return DatabaseUnusableError(
        f"{path} is damaged ({problems[0]}{more}): restore it from a backup"
        " (`releasebot check` lists the problems)",
        problems,
    )


def _unusable(path: Path, exc: sqlite3.Error | OSError) -> StoreError:
    """Our error for a failure to open or read the database at start."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return DatabaseUnusableError(
            f"{path} is not a SQLite database ({exc}): check [bot] database in the config,"
            " or restore it from a backup"
        )
    if name.startswith("SQLITE_CORRUPT"):
        return _damaged(path, [str(exc)])
    if name.startswith("SQLITE_READONLY"):
        return DatabaseUnusableError(
            f"{path} is read-only: {exc}; make the file and its folder writable by the user"
            " running releasebot"
        )
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return StoreError(f"the database {path} is busy: {exc}")
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return DatabaseUnusableError(f"cannot open the database {path}: {detail}")


class StoreBase:
    """Holds the connection; the query mixins use `self.db`.

    One transaction style: every write runs inside `writing()`. Outermost, that is one
    transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any error); nested (a `mark_*`
    called inside another `writing()` block) it is a savepoint, so nothing is committed
    until the outermost block ends, and a failure there rolls the inner write back too.
    """

    def __init__(self, db: Database, *, read_only: bool = False) -> None:
        self.db = db
        self.read_only = read_only

    def write_one(self, sql: str, params: Sequence[Any]) -> int:
        """One statement in its own transaction (or the caller's); returns the rows it changed.

        On a failure (disk full, I/O error) the transaction is rolled back before the error
        goes up: left open, it would hold the write lock and be committed, or rolled back,
        by whichever write came next on this shared connection.
        """
        with self.writing():
            return self.db.conn.execute(sql, params).rowcount

    def _update(self, table: str, key: Mapping[str, Any], **values: Any) -> int:
        """UPDATE `table` SET `values` WHERE every `key` column equals its value, through
        `write_one`; returns the rows changed. Table and column names are ours, never input:
        they are checked to be plain identifiers all the same."""
        names = [table, *values, *key]
        if not values or not key or not all(_IDENTIFIER.fullmatch(name) for name in names):
            raise ValueError(f"not an update of our own columns: {names}")
        assignments = ", ".join(f"{column} = ?" for column in values)
        condition = " AND ".join(f"{column} = ?" for column in key)
        sql = f"UPDATE {table} SET {assignments} WHERE {condition}"  # noqa: S608 -- checked names
        return self.write_one(sql, [*values.values(), *key.values()])

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction that takes the write lock at its start (BEGIN IMMEDIATE);
        inside another, a savepoint (see the class docstring).

        A plain BEGIN reads first and asks for the lock at its first write; in WAL mode, if
        another process (`poll` or `status` beside `run`) committed in between, that write
        fails at once with "database is locked" instead of waiting `busy_timeout`.
        """
        if self.db.conn.in_transaction:  # nested: a savepoint inside the outer transaction
            with self.db.atomic():
                yield
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.conn.rollback()
            raise
        try:
            self.db.conn.commit()
        except BaseException:  # e.g. a deferred foreign key broken, or the disk full
            self.db.conn.rollback()
            raise

    def write_problem(self) -> str | None:
        """Why the database cannot be written now (None when it can): takes the write lock
        and lets it go (BEGIN IMMEDIATE; ROLLBACK), writing nothing. Inside a transaction
        under way it says nothing new (None)."""
        if self.read_only:
            return "opened read-only"
        if self.db.conn.in_transaction:
            return None
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
            self.db.conn.rollback()
        except sqlite3.Error as exc:
            return str(exc)
        return None

    def close(self) -> None:
        self.db.close()
