"""The one set of rules for what a test may reach on the network, and the guard that applies them.

Loopback (127.0.0.0/8, ::1), `localhost` and unix sockets are allowed. A name under the
reserved `.invalid` domain fails as real DNS would (so tests may rely on that) and is not
an attempt. Any other name lookup or connection raises at once, so nothing hangs, and is
reported to `record`.

The pytest process applies these rules through its `no_internet` fixture (tests/conftest.py);
every Python subprocess the tests start applies them through sitecustomize.py next to this
file, which the session puts on PYTHONPATH. Kept free of imports beyond `socket` and
`os`: each subprocess pays for them at start-up.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from typing import Any

LOG_VARIABLE = "RELEASEBOT_TEST_NET_LOG"
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}

Record = Callable[[str], None]


def is_loopback(host: object) -> bool:
    from ipaddress import ip_address  # only once a connection is made: start-up stays cheap

    try:
        return ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def is_ip_literal(host: str) -> bool:
    from ipaddress import ip_address

    try:
        ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def guarded(record: Record) -> dict[tuple[Any, str], Any]:
    """The replacements for the real lookup and connect functions, keyed by (owner, name).

    They call the functions that are there now, so apply them once (or undo them after).
    """
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "localhost")
        name = name.lower().rstrip(".")
        local = name in LOCAL_NAMES or name.endswith(".localhost") or is_ip_literal(name)
        if not local:
            if not name.endswith(".invalid"):
                record(f"DNS lookup of {name}")
            raise socket.gaierror(socket.EAI_NONAME, f"name lookup blocked in tests: {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        if is_loopback(address[0]):
            return True
        record(f"connection to {address[0]}")
        return False

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(self, address):
            raise OSError(f"internet access blocked in tests: {address[0]}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(self, address):
            raise OSError(f"internet access blocked in tests: {address[0]}")
        return real_connect_ex(self, address)  # type: ignore[no-any-return]

    return {
        (socket, "getaddrinfo"): getaddrinfo,
        (socket.socket, "connect"): connect,
        (socket.socket, "connect_ex"): connect_ex,
    }


def append_to(path: str) -> Record:
    """A recorder appending one line per attempt to `path`, naming the process that made it.

    One write on an O_APPEND file per line, so lines of processes writing at once stay whole.
    """

    def record(attempt: str) -> None:
        command = " ".join(" ".join(getattr(sys, "orig_argv", sys.argv)).split())[:200]
        line = f"{attempt} (pid {os.getpid()}: {command})\n".encode(errors="replace")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    return record


def install_in_this_process() -> None:
    """Guard this (sub)process for good, if the test session named a log file."""
    path = os.environ.get(LOG_VARIABLE)
    if not path or getattr(socket, "_releasebot_netguard", False):
        return
    for (owner, name), replacement in guarded(append_to(path)).items():
        setattr(owner, name, replacement)
    socket._releasebot_netguard = True  # type: ignore[attr-defined]


def read_attempts(path: str | os.PathLike[str]) -> list[str]:
    """The attempts logged to `path` so far (none if it does not exist)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            return [line.rstrip("\n") for line in log if line.strip()]
    except FileNotFoundError:
        return []
