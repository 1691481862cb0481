"""kill -9 of the bot leaves no process behind: its parser worker, fork server and
resource tracker end with it (they used to hold ~70 MB each forever)."""

from __future__ import annotations

import signal
from pathlib import Path

from tests import processes
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import CHANNEL_A, BotProcess, Item, db_rows, rss, write_config


def test_kill_9_of_the_bot_takes_its_parser_processes_with_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """After kill -9 of `releasebot run --dry-run`, every process it started exits within 5 s."""
    config = write_config(
        tmp_path,
        api_base_url="http://127.0.0.1:9/bot",  # a dry run never calls Telegram
        feeds={"nida": feed_server.serve("/feed.xml", rss(Item(1), Item(2)))},
        channels=[("a-news", CHANNEL_A, ["nida"])],
    )
    bot = BotProcess(config, "--dry-run", token=None)
    try:
        # The parser worker starts with the first parse: wait until a release is stored.
        bot.wait_for(
            lambda: (
                (tmp_path / "bot.db").exists() and bool(db_rows(config, "SELECT id FROM releases"))
            ),
            "the first poll",
        )
        family = processes.descendants(bot.proc.pid)
        commands = " ".join(proc.command for proc in family)
        assert "multiprocessing.forkserver" in commands, family
        assert "multiprocessing.resource_tracker" in commands, family
        assert len(family) >= 3, family  # and the worker, a child of the fork server
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(timeout=10)
        left = processes.wait_until_gone(family, within=5.0)
        assert not left, "still running after kill -9 of the bot:\n" + "\n".join(map(str, left))
    finally:
        bot.kill()
