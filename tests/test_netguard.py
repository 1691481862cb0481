"""The guard on the processes the tests start: none of them reaches the internet unnoticed.

Every Python subprocess loads tests/netguard/sitecustomize.py (conftest puts it on
PYTHONPATH), which blocks non-loopback connections and name lookups at once and logs each
attempt; conftest fails the test, and the session, on a logged attempt. Each test here that
makes an attempt on purpose takes it from the log, so the run does not fail for it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import take_subprocess_attempts
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import CHANNEL_A, REPO, BotProcess, db_rows, one_channel_config

PUBLIC = "93.184.216.34"  # outside loopback: would leave the machine
FEED = Path(__file__).parent / "fixtures" / "feeds" / "nida_study.rss.xml"


def python(code: str) -> subprocess.CompletedProcess[str]:
    """`python -c code`, started as the tests start their processes (inheriting os.environ)."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30
    )


def test_a_subprocess_connecting_out_fails_at_once_and_is_reported(subprocess_net_log):
    """A subprocess's connection to a public address raises the guard's error (no waiting for
    a timeout), and the attempt is logged with the process that made it."""
    done = python(f"import socket; socket.create_connection(({PUBLIC!r}, 80), timeout=1)")
    assert done.returncode != 0
    assert f"OSError: internet access blocked in tests: {PUBLIC}" in done.stderr
    attempts = take_subprocess_attempts(subprocess_net_log)
    assert len(attempts) == 1
    assert attempts[0].startswith(f"connection to {PUBLIC} (pid ")
    assert "socket.create_connection" in attempts[0]


def test_a_subprocess_looking_up_a_public_name_fails_and_is_reported(subprocess_net_log):
    """A name lookup fails as an unknown name would; a `.invalid` one fails unreported."""
    done = python(
        "import socket\n"
        "for name in ('doi.org', 'nowhere.invalid'):\n"
        "    try:\n"
        "        socket.getaddrinfo(name, 443)\n"
        "    except socket.gaierror as exc:\n"
        "        print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"[Errno {socket.EAI_NONAME}] name lookup blocked in tests: doi.org",
        f"[Errno {socket.EAI_NONAME}] name lookup blocked in tests: nowhere.invalid",
    ]
    attempts = take_subprocess_attempts(subprocess_net_log)
    assert [a.split(" (pid ")[0] for a in attempts] == ["DNS lookup of doi.org"]


def test_a_subprocess_reaches_loopback():
    """Loopback is allowed: a subprocess connects to a server here, by address and by name,
    and nothing is reported (the fixtures would fail this test)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        done = python(
            "import socket\n"
            f"for host in ('127.0.0.1', 'localhost'):\n"
            f"    socket.create_connection((host, {port}), timeout=5).close()\n"
            "print('connected')\n"
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "connected\n"


def test_the_bot_still_starts_from_this_checkout():
    """`python -m bot --version` runs under the guard, importing bot/ of this checkout."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    where = python("import bot, socket; print(bot.__file__, socket._releasebot_netguard)")
    assert where.stdout.split() == [str(REPO / "bot" / "__init__.py"), "True"]


def test_a_bot_run_left_on_the_real_doi_org_is_caught(tmp_path, subprocess_net_log):
    """`releasebot run --once` on a feed with a DOI and no `[study]` section (so the real
    https://doi.org/ and NCBI): the posts go out, and its attempt to reach doi.org is
    blocked and reported, naming the bot process."""
    with FakeBotAPI(time_scale=0.01) as api, FeedServer() as feeds:
        api.add_chat(CHANNEL_A, "channel", title="A news")
        url = feeds.serve("/nida.xml", FEED.read_bytes())
        config = one_channel_config(tmp_path, api, url)
        assert "[study]" not in config.read_text(encoding="utf-8")
        bot = BotProcess(config, "--once", token=api.token)
        try:
            bot.wait(timeout=60)
        finally:
            bot.kill()
        assert len(api.messages(CHANNEL_A)) == 3, bot.stderr
    attempts = take_subprocess_attempts(subprocess_net_log)
    assert any(a.startswith("DNS lookup of doi.org (pid ") for a in attempts), attempts
    assert all("-m bot --config" in a for a in attempts), attempts
    assert db_rows(config, "SELECT ref FROM studies")  # it did look its studies up
