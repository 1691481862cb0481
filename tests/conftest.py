"""Shared fixtures: no test reaches the internet; a loopback feed server on demand."""

from __future__ import annotations

import compileall
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import processes
from tests.fakes.feed_server import FeedServer

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _is_loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def pytest_configure(config: pytest.Config) -> None:
    """Compile bot/ once, before the suite starts its many `python -m bot` processes.

    With PYTHONDONTWRITEBYTECODE set (as on some machines) no process caches its bytecode,
    so each would compile the package again: about a tenth of what those processes cost.
    """
    if not hasattr(config, "workerinput"):  # the main process, not each pytest-xdist worker
        compileall.compile_dir(Path(__file__).resolve().parent.parent / "bot", quiet=1)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (pyproject's addopts): two workers per core.

    The end-to-end tests spend much of their time waiting (Telegram's real 1 s windows per
    chat, the bot's ticks), not computing: with one worker per core, a core sat idle for
    much of the run. Measured on 2 cores, 996 tests: 3 workers 108 s, 4 92 s, 5 88 s (each
    worker also collects the whole suite: more workers cost more CPU).
    PYTEST_XDIST_AUTO_NUM_WORKERS still overrides this.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 * (cores or 1)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Block every name lookup and connection that could leave this machine.

    Loopback (127.0.0.0/8, ::1), `localhost` and unix sockets work. Names under the
    reserved `.invalid` domain fail as real DNS would, so tests may rely on that. Any
    other lookup or connection raises at once (no hanging) and fails the test at teardown,
    even when the code under test swallowed the error.
    """
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "localhost")
        name = name.lower().rstrip(".")
        local = name in _LOCAL_NAMES or name.endswith(".localhost") or _is_ip_literal(name)
        if not local:
            if not name.endswith(".invalid"):
                attempts.append(f"DNS lookup of {name}")
            raise socket.gaierror(socket.EAI_NONAME, f"name lookup blocked in tests: {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        if _is_loopback(address[0]):
            return True
        attempts.append(f"connection to {address[0]}")
        return False

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(self, address):
            raise OSError(f"internet access blocked in tests: {address[0]}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(self, address):
            raise OSError(f"internet access blocked in tests: {address[0]}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield
    if attempts:
        pytest.fail("test tried to reach the internet: " + "; ".join(attempts))


@pytest.fixture(autouse=True, scope="session")
def no_stray_processes() -> Iterator[None]:
    """No process a test started outlives the run (see tests/processes.py)."""
    marker = processes.mark_this_run()
    yield
    left = processes.strays(marker)
    if left:
        pytest.fail("processes the tests left running:\n" + "\n".join(map(str, left)))


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started loopback feed server (see tests/fakes/feed_server.py), stopped afterwards."""
    with FeedServer() as server:
        yield server


# --- Fake Telegram Bot API (tests/fakes/bot_api.py) -------------------------------------


@pytest.fixture
def fake_bot_api() -> Iterator[Any]:
    """A started strict fake Bot API; time_scale=0.01, so its 1 s flood window lasts 10 ms.

    Register chats with `fake_bot_api.add_chat(...)`; point PTB at `fake_bot_api.base_url`
    with `fake_bot_api.token`. retry_after values it answers are in scaled seconds.
    """
    from tests.fakes.bot_api import FakeBotAPI

    with FakeBotAPI(time_scale=0.01) as api:
        yield api


@pytest.fixture
def vclock() -> Any:
    """The Pacer's clock and the fake's: Telegram's windows, no real waiting."""
    from tests.fakes.virtual_time import VirtualClock

    return VirtualClock()


@pytest.fixture
def virtual_bot_api(vclock: Any) -> Iterator[Any]:
    """A fake Bot API keeping Telegram's real rate windows on the Pacer's virtual clock."""
    from tests.fakes.bot_api import FakeBotAPI

    with FakeBotAPI(time_scale=1.0, clock=vclock) as api:
        yield api
