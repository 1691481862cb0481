"""`releasebot backup`: a consistent copy of the database through SQLite's online backup API.

The copy is a reader: it never takes the run lock, and in WAL mode a running bot goes on
writing while it is made. It is made in one backup step, so it is the database as it was
at one instant (a step-by-step backup restarts whenever another connection writes, and
under a busy bot might never end). It is written to a temporary file beside the target,
checked with `PRAGMA integrity_check`, flushed to disk, then moved into place: the target
path never holds a half-written copy, and an existing file is replaced only when asked.
The source is never migrated: a backup taken before an upgrade keeps the old schema.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DatabaseUnusableError, StoreError
from bot.store.base import (
    BUSY_TIMEOUT_MS,
    MAX_PROBLEMS,
    _connect_read_only,
    _refuse_empty,
    _unusable,
    read_only_reason,
)
from bot.store.schema import migrations


class BackupRefusedError(StoreError):
    """The target is taken (an existing file without `force`, or the database itself)."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What `backup_to` made: the copy's path and size, its releases, how long it took."""

    path: Path
    size: int
    releases: int
    seconds: float


def backup_to(
    source: Path,
    target: Path,
    *,
    force: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> BackupReport:
    """Copy the database at `source` to `target`, consistent as of one instant.

    Raises DatabaseUnusableError when `source` is missing, empty or not release-bot's, and
    StoreError when `target` exists (without `force`), the copy fails, or it fails its
    integrity check (nothing is left at `target` then).
    """
    started = clock()
    _refuse_source(source)
    _refuse_target(source, target, force=force)
    temp = target.with_name(f".{target.name}.{os.getpid()}.backup")
    try:
        releases = _copy(source, temp)
        _flush(temp)
        _move_into_place(temp, target, force=force)
    finally:
        for leftover in ("", "-wal", "-shm", "-journal"):
            Path(f"{temp}{leftover}").unlink(missing_ok=True)
    _flush(target.parent)
    return BackupReport(target, target.stat().st_size, releases, clock() - started)


def _refuse_source(source: Path) -> None:
    if not source.exists():
        raise DatabaseUnusableError(f"{source} does not exist: check [bot] database in the config")
    _refuse_empty(source)


def _refuse_target(source: Path, target: Path, *, force: bool) -> None:
    # Replacing the live file would leave a running bot writing to a file no name reaches;
    # replacing its lock file would let a second bot lock the new one and run beside it.
    real = source.resolve()
    sides = {real.with_name(real.name + s) for s in ("", "-wal", "-shm", "-journal", ".lock")}
    if target.resolve() in sides:
        raise BackupRefusedError(f"{target} is the database itself: back it up to another path")
    if target.exists() and not force:
        raise _exists(target)
    if target.is_dir():
        raise BackupRefusedError(f"{target} is a folder: give the backup file's path")


def _exists(target: Path) -> BackupRefusedError:
    return BackupRefusedError(f"{target} exists: choose another path, or use --force to replace it")


def _connect_source(source: Path) -> sqlite3.Connection:
    """A connection that only reads `source` (read-only when this user may not write it)."""
    if read_only_reason(source):
        return _connect_read_only(source).conn
    conn = sqlite3.connect(str(source), timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA query_only = 1")
    return conn


def _copy(source: Path, temp: Path) -> int:
    """Back `source` up into `temp` and check the copy; returns its number of releases."""
    src = _open_source(source)
    try:
        try:
            dest = sqlite3.connect(str(temp))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write in {temp.parent}: {exc}") from exc
        try:
            try:
                # One step (pages=-1): one read transaction, so one instant of the database.
                src.backup(dest, pages=-1)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot back up {source} to {temp.parent}: {exc}") from exc
            return _checked(dest, source)
        finally:
            dest.close()
    finally:
        src.close()


def _open_source(source: Path) -> sqlite3.Connection:
    try:
        conn = _connect_source(source)
    except sqlite3.Error as exc:
        raise _unusable(source, exc) from exc
    try:
        _refuse_foreign(conn, source)
    except sqlite3.Error as exc:  # not a database at all
        conn.close()
        raise _unusable(source, exc) from exc
    except DatabaseUnusableError:
        conn.close()
        raise
    return conn


def _checked(copy: sqlite3.Connection, source: Path) -> int:
    """The copy's number of releases, once `PRAGMA integrity_check` found it sound."""
    try:
        rows = copy.execute(f"PRAGMA integrity_check({MAX_PROBLEMS})").fetchall()
        problems = [str(text) for (text,) in rows if text != "ok"]
        if not problems:
            (releases,) = copy.execute("SELECT count(*) FROM releases").fetchone()
            return int(releases)
    except sqlite3.Error as exc:  # damage bad enough that the check itself stops
        problems = [str(exc)]
    raise StoreError(
        f"the copy of {source} failed its integrity check ({problems[0]}): nothing was"
        " written; run `releasebot check`, which lists the database's problems"
    )


def _refuse_foreign(conn: sqlite3.Connection, source: Path) -> None:
    """Only release-bot's database (of any version: a newer one may be backed up too)."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        [migrations.migrations_table],
    ).fetchone()
    if found is None:
        raise DatabaseUnusableError(
            f"{source} is not release-bot's database: check [bot] database in the config"
        )


def _flush(path: Path) -> None:
    """fsync a file or a folder, so the copy (and its name) survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(temp: Path, target: Path, *, force: bool) -> None:
    """Rename `temp` to `target`: atomically replacing it with `force`, else never over a
    file that appeared meanwhile (a hard link does not clobber, unlike a rename)."""
    try:
        if force:
            os.replace(temp, target)
            return
        try:
            os.link(temp, target)  # the temporary name is removed by the caller
        except FileExistsError:
            raise _exists(target) from None
        except OSError:  # a file system without hard links
            if target.exists():
                raise _exists(target) from None
            os.replace(temp, target)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from exc
