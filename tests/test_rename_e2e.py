"""End to end: renaming a feed and a channel in the config posts nothing again.

The real `releasebot run --once` process against the strict fake Bot API, then the config
is edited to give the same feed URL and the same chat new names, and run again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import (
    CHANNEL_A,
    REPO,
    BotProcess,
    Item,
    db_rows,
    read_urls,
    release_url,
    rss,
    write_config,
)


def latest_urls(config: Path) -> list[str]:
    """The release URLs `releasebot latest` prints, as an operator reads them."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "latest", "-n", "50"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line.split()[-1] for line in done.stdout.splitlines() if "https://" in line]


def test_renaming_a_feed_and_its_channel_posts_nothing_again(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """After a rename of both (same URL, same chat) a second `run --once` sends no message,
    and `releasebot latest` lists each release once, under the new feed name."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/nida.xml", rss(*(Item(n) for n in range(1, 3))))
    options = {"api_base_url": fake_bot_api.base_url}
    config = write_config(
        tmp_path, feeds={"nida": url}, channels=[("a-news", CHANNEL_A, ["nida"])], **options
    )
    first = BotProcess(config, "--once", token=fake_bot_api.token)
    assert first.wait() == 0, first.stderr
    posted = read_urls(fake_bot_api, CHANNEL_A)
    assert posted == [release_url(n) for n in range(1, 3)]

    write_config(
        tmp_path, feeds={"drugs": url}, channels=[("agency", CHANNEL_A, ["drugs"])], **options
    )
    second = BotProcess(config, "--once", token=fake_bot_api.token)
    assert second.wait() == 0, second.stderr
    assert read_urls(fake_bot_api, CHANNEL_A) == posted  # zero new messages
    assert len(fake_bot_api.requests_for("sendMessage")) == 2

    assert sorted(latest_urls(config)) == sorted(posted)
    assert db_rows(config, "SELECT name FROM feeds") == [{"name": "drugs"}]
    assert db_rows(config, "SELECT DISTINCT channel FROM deliveries") == [{"channel": "agency"}]
