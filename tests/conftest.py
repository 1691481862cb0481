"""Shared fixtures: no test, nor any process it starts, reaches the internet; a loopback feed
server on demand."""

from __future__ import annotations

import compileall
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests import processes
from tests.fakes.feed_server import FeedServer
from tests.netguard import releasebot_netguard as netguard

NETGUARD = Path(__file__).resolve().parent / "netguard"

# Cache pytest's rewritten test modules even under PYTHONDONTWRITEBYTECODE (set on some
# machines): each xdist worker would otherwise rewrite and compile every test file again,
# about 4.5 s of CPU a worker.
sys.dont_write_bytecode = False

# Tests assert no times (bench/ measures them): Hypothesis' per-example deadline would only
# fail property tests on a loaded machine.
hypothesis_settings.register_profile("releasebot", deadline=None)
hypothesis_settings.load_profile("releasebot")


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


@pytest.fixture(autouse=True, scope="session")
def subprocess_net_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every Python process the tests start is guarded like this one; the file its attempts go to.

    Subprocesses inherit os.environ: tests/netguard goes first on PYTHONPATH, so each one
    loads its sitecustomize.py, which blocks by the rules of tests/netguard/releasebot_netguard.py
    and logs each attempt to the file named by RELEASEBOT_TEST_NET_LOG (one per pytest
    process, so one per xdist worker). `python -m bot` still imports bot/ from its cwd, the
    repo, which comes before PYTHONPATH. The log is checked after each test (no_internet) and
    once more here, for processes that outlived the last test.
    """
    log = tmp_path_factory.getbasetemp() / f"net-attempts-{os.getpid()}.log"
    saved = {name: os.environ.get(name) for name in (netguard.LOG_VARIABLE, "PYTHONPATH")}
    os.environ[netguard.LOG_VARIABLE] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD), saved["PYTHONPATH"]]))
    yield log
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    attempts = netguard.read_attempts(log)
    if attempts:
        header = "a process the tests started tried to reach the internet:\n"
        pytest.fail(header + "\n".join(attempts))


def take_subprocess_attempts(log: Path) -> list[str]:
    """The attempts subprocesses logged since the last call; the log is emptied."""
    if not log.exists() or log.stat().st_size == 0:  # the usual case: one stat per test
        return []
    attempts = netguard.read_attempts(log)
    log.write_bytes(b"")
    return attempts


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch, subprocess_net_log: Path) -> Iterator[None]:
    """Block every name lookup and connection that could leave this machine.

    Loopback (127.0.0.0/8, ::1), `localhost` and unix sockets work. Names under the
    reserved `.invalid` domain fail as real DNS would, so tests may rely on that. Any
    other lookup or connection raises at once (no hanging) and fails the test at teardown,
    even when the code under test swallowed the error; so does one made by a process the
    test started (see subprocess_net_log). The rules: tests/netguard/releasebot_netguard.py.
    """
    attempts: list[str] = []
    for (owner, name), replacement in netguard.guarded(attempts.append).items():
        monkeypatch.setattr(owner, name, replacement)
    yield
    attempts += take_subprocess_attempts(subprocess_net_log)
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
