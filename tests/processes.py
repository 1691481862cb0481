"""The processes a test run started, found through /proc, so that none outlives the run.

Every process the run starts (a `releasebot run`, its parser worker, multiprocessing's
fork server and resource tracker) inherits the run's environment, so a marker variable
set at the start finds them all, even once a killed parent has left them to init. On a
system without /proc nothing is found.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

MARKER = "RELEASEBOT_TEST_RUN"
_PROC = Path("/proc")
_MULTIPROCESSING_HELPERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str  # "R", "S", ... "Z" for a zombie (exited, not yet reaped)
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} (parent {self.ppid}, state {self.state}): {self.command[:160]}"


def mark_this_run() -> str:
    """Set the marker in our environment (children inherit it); returns its value."""
    value = f"{os.getpid()}-{uuid.uuid4().hex}"
    os.environ[MARKER] = value
    return value


def running() -> list[Proc]:
    """Every process that has not exited (zombies left out)."""
    found = []
    for entry in _PROC.glob("[0-9]*"):
        proc = _read(int(entry.name))
        if proc is not None and proc.state != "Z":
            found.append(proc)
    return found


def descendants(pid: int) -> list[Proc]:
    """The running children of `pid`, their children, and so on."""
    everyone = running()
    family: list[Proc] = []
    parents = {pid}
    while True:
        more = [p for p in everyone if p.ppid in parents and p not in family]
        if not more:
            return family
        family += more
        parents = {p.pid for p in more}


def still_running(procs: list[Proc]) -> list[Proc]:
    """Those of `procs` that have not exited (a reused pid with another command is gone)."""
    now = {p.pid: p for p in running()}
    return [p for p in procs if p.pid in now and now[p.pid].command == p.command]


def wait_until_gone(procs: list[Proc], within: float) -> list[Proc]:
    """Wait up to `within` seconds for `procs` to exit; the ones still running."""
    deadline = time.monotonic() + within
    left = still_running(procs)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = still_running(left)
    return left


def strays(marker: str, within: float = 10.0) -> list[Proc]:
    """Processes of this run that will outlive it, after `within` seconds of grace.

    Our own fork server and resource tracker (and the pool workers of that fork server)
    end with us, so they are not strays; any other marked process is.
    """
    own = os.getpid()

    def leaked() -> list[Proc]:
        marked = [p for p in running() if p.pid != own and _environ_has(p.pid, marker)]
        helpers = {p.pid for p in marked if p.ppid == own and _is_helper(p)}
        return [p for p in marked if p.pid not in helpers and p.ppid not in helpers]

    deadline = time.monotonic() + within
    left = leaked()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = leaked()
    return left


def _is_helper(proc: Proc) -> bool:
    return any(helper in proc.command for helper in _MULTIPROCESSING_HELPERS)


def _read(pid: int) -> Proc | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        command = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:  # it exited meanwhile, or is not ours to read
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    text = command.replace(b"\0", b" ").decode(errors="replace").strip()
    return Proc(pid=pid, ppid=int(fields[1]), state=fields[0], command=text)


def _environ_has(pid: int, marker: str) -> bool:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER}={marker}".encode() in environ.split(b"\0")


REPO = Path(__file__).resolve().parents[1]


def releasebot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A one-shot `releasebot` command (status, poll, cite, retry …), e.g. beside a running bot."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
