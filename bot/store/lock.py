"""One `releasebot run` per database: an OS lock on a sidecar file next to the database.

Two processes sending from one outbox post the same release twice (each takes the same
pending rows, and a starting run re-queues the other's sends in flight), so `run` in every
form holds an exclusive `flock` on `<database>.lock` for its whole life. The kernel drops
the lock when the process ends, however it ends (kill -9 included), so no stale lock is
ever left to clean up. The file itself stays; it holds the holder's PID, host and start
time for the message a second run prints. Read-only commands never take the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import DatabaseInUseError, StoreError

# The holder writes its details just after taking the lock; a second run that arrives in
# between reads an empty file, so it reads again for a moment before giving up on them.
_HOLDER_READS = 10
_HOLDER_READ_PAUSE = 0.02


@dataclass(frozen=True, slots=True)
class LockHolder:
    """What the lock file says about the process holding it (any field may be unknown)."""

    pid: int | None = None
    host: str = ""
    started: datetime | None = None
    what: str = "run"  # the command holding it: run, poll, status


def lock_path(database: Path) -> Path:
    """The sidecar lock file of a database: `bot.db` -> `bot.db.lock`, beside the real file
    (symlinks resolved), so two configs naming one database by different paths share it."""
    real = database.resolve()
    return real.with_name(real.name + ".lock")


@contextlib.contextmanager
def config_lock(database: Path, *, now: datetime, what: str) -> Iterator[str | None]:
    """For `poll` and `status`, which sync the config into the database: None while this
    process holds the run lock (it may sync), else why it may not (a live run, which keeps
    the database in step with its own config until it restarts, or no lock file here)."""
    reason: str | None = None
    with contextlib.ExitStack() as stack:
        try:  # only taking the lock: errors from the `with` body pass through untouched
            stack.enter_context(run_lock(database, now=now, what=what))
        except DatabaseInUseError as exc:
            reason = exc.message
        except StoreError as exc:
            reason = str(exc)
        yield reason


@contextlib.contextmanager
def run_lock(database: Path, *, now: datetime, what: str = "run") -> Iterator[Path]:
    """Hold the database's run lock for the `with` block; raise DatabaseInUseError if another
    process holds it. `now` is written to the file as this run's start time."""
    path = lock_path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(
            f"cannot create the lock file {path}: {exc.strerror or exc}"
            " (releasebot run needs to write next to its database)"
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise DatabaseInUseError(
                f"another releasebot {holder.what} ({describe_holder(holder)}) is using"
                f" {database}; stop it first",
                holder.pid,
            ) from None
        except OSError as exc:  # e.g. a file system without locks
            raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from exc
        _write_holder(fd, now, what)
        yield path
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def lock_holder(database: Path) -> LockHolder | None:
    """Who holds `database`'s run lock (as its lock file says); None when nobody does.
    Takes a shared lock for an instant only: a run starting meanwhile finds it taken."""
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # no run ever used this database here
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the lock file {path}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _write_holder(fd: int, now: datetime, what: str) -> None:
    record = {
        "what": what,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": now.astimezone(UTC).isoformat(),
    }
    data = (json.dumps(record) + "\n").encode()
    # The details only make the message a second run prints; the lock holds without them
    # (a full disk must not stop the run).
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)


def _read_holder(fd: int) -> LockHolder:
    for attempt in range(_HOLDER_READS):
        try:
            raw = os.pread(fd, 4096, 0)
        except OSError:
            return LockHolder()
        if raw.strip():
            return _parse_holder(raw)
        if attempt + 1 < _HOLDER_READS:
            time.sleep(_HOLDER_READ_PAUSE)
    return LockHolder()


def _parse_holder(raw: bytes) -> LockHolder:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return LockHolder()
    if not isinstance(record, dict):
        return LockHolder()
    pid = record.get("pid")
    host = record.get("host")
    try:
        started = datetime.fromisoformat(str(record.get("started")))
    except ValueError:
        started = None
    what = record.get("what")
    return LockHolder(
        what=what if isinstance(what, str) and what.isalpha() else "run",
        pid=pid if isinstance(pid, int) else None,
        host=host if isinstance(host, str) else "",
        started=started,
    )


def describe_holder(holder: LockHolder) -> str:
    """'PID 1234, started 2026-11-29 19:20 UTC' (with the host when it is another machine)."""
    parts = [f"PID {holder.pid}" if holder.pid is not None else "PID unknown"]
    if holder.host and holder.host != socket.gethostname():
        parts.append(f"on {holder.host}")
    if holder.started is not None:
        parts.append(f"started {holder.started.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return ", ".join(parts)
