"""Find the `releasebot run` using a database, and send it SIGHUP (`releasebot reload`).

A run holds an exclusive flock on `<database>.lock` for its whole life, and the file says
who holds it (bot/store/lock.py). So the lock, not a PID file, tells whether a run is alive:
a PID left in the file by a run that ended is never signalled (the kernel dropped its lock).
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from bot.errors import ReleaseBotError, StoreError
from bot.store.lock import describe_holder, lock_holder, lock_path


class NoRunError(ReleaseBotError):
    """No `releasebot run` on this host can be signalled for the database (exit 1)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def signal_run(database: Path, number: signal.Signals = signal.SIGHUP) -> int:
    """Send `number` to the `releasebot run` using `database`; its PID. NoRunError says
    why not: no run, a run on another host, a PID unknown or not ours to signal."""
    try:
        holder = lock_holder(database)
    except StoreError as exc:
        raise NoRunError(str(exc)) from exc
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
