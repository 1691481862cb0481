"""Issue 13 red-team findings: each test failed on main before its fix."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import __version__
from bot.services.metrics import Metrics
from bot.services.metrics_server import serving
from bot.store.lock import run_lock
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_cli import run_cli, write_config
from tests.test_retention import SCENARIO, outbox
from tests.test_run_e2e import BotProcess, Item, one_channel_config, rss

SECRET = "the-webhook-secret_4242"
PROC_TCP = Path("/proc/net/tcp")


def test_the_webhook_secret_is_not_in_a_verbose_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With -v, PTB logs setWebhook's parameters: the secret token is redacted there."""
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FeedServer() as feeds, FakeBotAPI(local=True) as api:
        config = one_channel_config(tmp_path, api, feeds.serve("/f.xml", rss(Item(1))))
        with config.open("a") as out:
            out.write(f'[webhook]\nurl = "http://127.0.0.1:{port}"\n')
            out.write(f'listen = "127.0.0.1:{port}"\n')
        bot = BotProcess(config, token=api.token, verbose=True)
        try:
            bot.wait_for(lambda: bool(api.requests_for("setWebhook")), "setWebhook")
            bot.wait_for(lambda: "setWebhook" in bot.stderr, "the setWebhook log line")
        finally:
            bot.kill()
        [call] = api.requests_for("setWebhook")
        assert call.params["secret_token"] == SECRET
        assert SECRET not in bot.stderr + bot.stdout


def test_a_retention_longer_than_the_calendar_prunes_nothing(tmp_path: Path) -> None:
    """`keep_deliveries = "1000000d"` (keep them all) makes `prune` remove nothing, not crash
    (the running bot's daily prune shares the cutoff: it logged a traceback every round)."""
    config = write_config(tmp_path, {"nida": "https://nida.example/feed"})
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[bot]\n", '[bot]\nkeep_deliveries = "1000000d"\n', 1), "utf-8")
    outbox(tmp_path / "releasebot.db", datetime.now(UTC)).close()
    for args in (("prune", "--dry-run"), ("prune",)):
        result = run_cli(*args, cwd=tmp_path, config=config)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(("would prune 0 delivery rows", "pruned 0 delivery rows"))
    with sqlite3.connect(tmp_path / "releasebot.db") as conn:
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone() == (len(SCENARIO),)


def test_a_backup_never_replaces_the_run_lock(tmp_path: Path) -> None:
    """`backup releasebot.db.lock --force` is refused: replacing the lock file would let a
    second `releasebot run` take a fresh lock and post beside the running bot."""
    config = write_config(tmp_path, {"nida": "https://nida.example/feed"})
    outbox(tmp_path / "releasebot.db", datetime.now(UTC)).close()
    lock = tmp_path / "releasebot.db.lock"
    with run_lock(tmp_path / "releasebot.db", now=datetime.now(UTC)):
        before = lock.stat().st_ino
        done = run_cli("backup", str(lock), "--force", cwd=tmp_path, config=config)
        assert done.returncode == 2, done.stdout
        assert "is the database itself" in done.stderr
        assert lock.stat().st_ino == before


async def test_a_scraper_that_stops_reading_is_dropped() -> None:
    """A client that asks for /metrics and never reads the answer (megabytes with many
    feeds) has its connection dropped after the write timeout, instead of holding the
    answer and the socket for as long as it stays connected."""
    metrics = Metrics(__version__, clock=lambda: datetime.now(UTC), tick=1, telegram=False)
    metrics.set_feeds((f"feed-{n}", datetime.now(UTC), 1) for n in range(40_000))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with serving(metrics, "127.0.0.1", port, write_timeout=0.5):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(4)  # the answer is rendered (~1 s), then not read
        received = 0
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), 5):
                received += len(chunk)
        except ConnectionResetError:
            pass
        writer.close()
    assert received < len(metrics.exposition())


def server_side_connections(port: int) -> int:
    """Established TCP connections whose local end is 127.0.0.1:`port` (the server's)."""
    lines = PROC_TCP.read_text().splitlines()[1:]
    local = f"0100007F:{port:04X}"
    return sum(1 for line in lines if line.split()[1] == local and line.split()[3] == "01")


@pytest.mark.skipif(not PROC_TCP.exists(), reason="no /proc/net/tcp here")
async def test_a_flood_of_silent_connections_holds_few_sockets() -> None:
    """200 connections that say nothing: the endpoint keeps at most 32 of them open (each
    one a file descriptor the bot needs for feeds, Telegram and its database); the rest are
    closed at once."""
    metrics = Metrics(__version__, clock=lambda: datetime.now(UTC), tick=1, telegram=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with serving(metrics, "127.0.0.1", port):
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(200)]
        await asyncio.sleep(0.5)  # every connection accepted and handled
        held = server_side_connections(port)
        for _, writer in clients:
            writer.close()
    assert held <= 32
