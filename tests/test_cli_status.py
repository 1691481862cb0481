"""`releasebot status`: admins see failing feeds and paused channels; the exit code says so."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.store import Store
from tests.processes import releasebot

ROOT = Path(__file__).resolve().parents[1]




def demo_copy(folder: Path, *, extra_feed: str = "") -> Path:
    shutil.copy(ROOT / "config" / "demo-feed.xml", folder / "demo-feed.xml")
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8") + extra_feed
    (folder / "demo.toml").write_text(text, encoding="utf-8")
    return folder / "demo.toml"


def test_status_of_a_healthy_demo_after_a_dry_run(tmp_path):
    """After the quickstart run: the feed polled, the channel ok with 3 dry-run posts, exit 0."""
    config = demo_copy(tmp_path)
    assert releasebot(config, "run", "--once", "--dry-run").returncode == 0
    proc = releasebot(config, "status")
    assert proc.returncode == 0, proc.stderr
    feed_line = next(line for line in proc.stdout.splitlines() if line.startswith("nida "))
    assert "never" not in feed_line.split("  ")[1]  # it has a last success
    channel_line = next(line for line in proc.stdout.splitlines() if line.startswith("nida-news"))
    assert channel_line.split()[2:7] == ["ok", "0", "0", "0", "3"]


def test_status_shows_a_failing_feed_and_a_paused_channel_and_exits_1(tmp_path):
    """A missing feed file and a channel that kicked the bot are both named, with why."""
    config = demo_copy(
        tmp_path,
        extra_feed='\n[[feeds]]\nname = "gone"\nurl = "missing.xml"\n',
    )
    assert releasebot(config, "poll").returncode == 1
    store = Store.open(tmp_path / "demo.db")
    store.pause_channel("nida-news", "Forbidden: bot was kicked from the channel chat")
    store.close()
    proc = releasebot(config, "status")
    assert proc.returncode == 1
    gone = next(line for line in proc.stdout.splitlines() if line.startswith("gone "))
    assert "file not found" in gone
    assert " 1 " in gone  # one consecutive failure
    channel = next(line for line in proc.stdout.splitlines() if line.startswith("nida-news"))
    assert "paused" in channel
    assert "bot was kicked from the channel chat" in channel
