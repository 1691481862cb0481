"""Find the `releasebot run` using a database, and send it SIGHUP (`releasebot reload`).

A run holds an exclusive flock on `<database>.lock` for its whole life, and the file says
who holds it (bot/store/lock.py). So the lock, not a PID file, tells whether a run is alive:
a PID left in the file by a run that ended is never signalled (the kernel dropped its lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import time
from pathlib import Path

from bot.errors import ReleaseBotError
from bot.store.lock import LockHolder, describe_holder, lock_path

# A run writes its details just after taking the lock: read again for a moment if empty.
_READS, _READ_PAUSE = 10, 0.02


class NoRunError(ReleaseBotError):
    """No `releasebot run` on this host can be signalled for the database (exit 1)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def lock_holder(database: Path) -> LockHolder | None:
    """Who holds `database`'s run lock (as its lock file says); None when nobody does."""
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # no run ever used this database here
        return None
    except OSError as exc:
        raise NoRunError(f"cannot read the lock file {path}: {exc.strerror or exc}") from exc
    try:
        try:
            # Shared, and only for an instant: a run starting meanwhile would find it taken.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _holder(fd: int) -> LockHolder:
    raw = b""
    for _ in range(_READS):
        raw = os.pread(fd, 4096, 0)
        if raw.strip():
            break
        time.sleep(_READ_PAUSE)
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return LockHolder()
    if not isinstance(record, dict):
        return LockHolder()
    pid, host, what = record.get("pid"), record.get("host"), record.get("what")
    return LockHolder(
        pid=pid if isinstance(pid, int) else None,
        host=host if isinstance(host, str) else "",
        what=what if isinstance(what, str) and what.isalpha() else "run",
    )


def signal_run(database: Path, number: signal.Signals = signal.SIGHUP) -> int:
    """Send `number` to the `releasebot run` using `database`; its PID. NoRunError says
    why not: no run, a run on another host, a PID unknown or not ours to signal."""
    holder = lock_holder(database)
    if holder is None or holder.what != "run":
        busy = f" (a releasebot {holder.what} holds its lock for a moment)" if holder else ""
        raise NoRunError(f"no releasebot run is using {database}{busy}: nothing to reload")
    if holder.host and holder.host != socket.gethostname():
        raise NoRunError(
            f"the releasebot run using {database} is on host {holder.host}"
            f" ({describe_holder(holder)}): run releasebot reload there"
        )
    if holder.pid is None:
        raise NoRunError(
            f"a releasebot run is using {database}, but its lock file"
            f" {lock_path(database)} does not say its PID"
        )
    try:
        os.kill(holder.pid, number)
    except ProcessLookupError:  # the run ended between the check and the signal
        raise NoRunError(f"no releasebot run is using {database}: nothing to reload") from None
    except PermissionError:
        raise NoRunError(
            f"not allowed to signal the releasebot run using {database} (PID {holder.pid},"
            " another user's process): run releasebot reload as that user"
        ) from None
    return holder.pid
