"""Edits through the real `releasebot run` process: a dry run leaves them to the live bot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import CHANNEL_A, BotProcess, Item, db_rows, one_channel_config, rss


def test_a_dry_run_with_an_edit_due_finishes_and_leaves_the_edit_to_the_live_bot(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """`run --once --dry-run` on a database where a sent post is owed an edit finishes (it
    used to print that post over and over, forever); the next live run makes the edit."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/nida.xml", rss(Item(1)))
    config = one_channel_config(tmp_path, fake_bot_api, url)
    assert BotProcess(config, "--once", token=fake_bot_api.token).wait() == 0
    feed_server.serve("/nida.xml", rss(Item(1, title="Corrected: release 1")))
    dry = BotProcess(config, "--once", "--dry-run", token=None)
    try:
        code = dry.wait(timeout=30)
    except subprocess.TimeoutExpired:
        dry.kill()
        pytest.fail(f"the dry run did not finish; it printed {len(dry.stdout)} characters")
    assert code == 0, dry.stderr
    assert "Corrected" not in dry.stdout
    assert [row["needs_edit"] for row in db_rows(config, "SELECT * FROM deliveries")] == [1]
    live = BotProcess(config, "--once", token=fake_bot_api.token)
    assert live.wait() == 0, live.stderr
    [message] = fake_bot_api.messages(CHANNEL_A)
    assert message.text.startswith("Corrected: release 1\n")
    assert len(message.history) == 1
