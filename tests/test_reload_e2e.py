"""Reload end to end: the real `releasebot run` process re-reads its config on SIGHUP and on
`releasebot reload`, against the strict fake Bot API and loopback feeds (helpers from
tests/test_run_e2e.py).

One live run goes through the whole story (`story`, read by several tests): an invalid file
refused by `releasebot reload` (exit 2, nothing signalled), the same file sent by SIGHUP
(the owners told, the bot posting on), then a valid file by `releasebot reload` adding a
feed and a channel and removing a route whose posts were waiting (paused at Telegram).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.processes import releasebot
from tests.test_run_e2e import (
    ADMIN,
    CHANNEL_A,
    CHANNEL_B,
    BotProcess,
    Item,
    deliveries,
    read_urls,
    release_url,
    rss,
    write_config,
)

CHANNEL_C = -1005
# A feed the validation refuses twice; "<Base>" must reach the owners escaped (the strict
# fake Bot API refuses an unknown tag, so an unescaped notice would never arrive).
BROKEN_FEED = """
[[feeds]]
name = "bad"
url = "ftp://example.org/feed.xml"
timezone = "Mars/<Base>"
"""


def log_lines(bot: BotProcess, marker: str) -> list[str]:
    return [line for line in bot.stderr.splitlines() if marker in line]


# --- the dry run ----------------------------------------------------------------------


def test_sighup_to_a_dry_run_adds_the_new_channel(tmp_path: Path) -> None:
    """`run --dry-run` keeps running on SIGHUP and, from then on, prints posts for the
    channel the file now adds (its backlog), under the route the file declares."""
    feed = tmp_path / "nida.xml"
    feed.write_bytes(rss(Item(1), Item(2)))
    api, feeds = "http://127.0.0.1:9/bot", {"nida": str(feed)}
    config = write_config(
        tmp_path, api_base_url=api, feeds=feeds, channels=[("a-news", CHANNEL_A, ["nida"])]
    )
    bot = BotProcess(config, "--dry-run", token=None)
    try:
        bot.wait_for(lambda: bot.stdout.count(f"to {CHANNEL_A} ─") == 2, "the first posts")
        both = [("a-news", CHANNEL_A, ["nida"]), ("b-news", CHANNEL_B, ["nida"])]
        write_config(tmp_path, api_base_url=api, feeds=feeds, channels=both)
        bot.proc.send_signal(signal.SIGHUP)
        bot.wait_for(lambda: bot.stdout.count(f"to {CHANNEL_B} ─") == 2, "the new channel's posts")
        assert bot.terminate() == 0
    finally:
        bot.kill()
    [line] = log_lines(bot, "reloaded")
    assert line.endswith(f"reloaded {config}: feeds +0 -0, channels +1 -0, routes +1 -0")
    assert bot.stdout.count(f"to {CHANNEL_A} ─") == 2  # A's posts were not printed again


# --- the live bot, one story read by several tests ------------------------------------


@dataclass
class Story:
    api: FakeBotAPI
    config: Path
    bot: BotProcess
    refused: subprocess.CompletedProcess[str]  # `releasebot reload` of the invalid file
    signalled: subprocess.CompletedProcess[str]  # `releasebot reload` of the valid file
    after_stop: subprocess.CompletedProcess[str]  # `releasebot reload` once the run ended
    exit_code: int


def notices(api: FakeBotAPI, marker: str) -> list[str]:
    return [m.text for m in api.messages(ADMIN) if marker in m.text]


def nothing_pending(config: Path) -> bool:
    return not [d for d in deliveries(config) if d["state"] in ("pending", "sending")]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """A live run: A follows nida, B follows nida and nih but the bot may not post in B yet
    (paused: its posts wait). Then an invalid file, refused by `releasebot reload` and sent
    by SIGHUP; release 3; then a valid file by `releasebot reload`: feed cdc to A and to new
    channel C, and B no longer follows nida. The bot is then made admin in B."""
    tmp = tmp_path_factory.mktemp("reload")
    with FakeBotAPI(time_scale=0.01) as api, FeedServer() as feeds:
        api.add_chat(ADMIN, "private", title="Ada")
        api.add_chat(CHANNEL_A, "channel", title="A news")
        api.add_chat(CHANNEL_B, "channel", title="B news", bot_status="member")
        api.add_chat(CHANNEL_C, "channel", title="C news")
        nida = feeds.serve("/nida.xml", rss(Item(1), Item(2)))
        nih = feeds.serve("/nih.xml", rss(Item(10, guid="nih-10")))
        cdc = feeds.serve("/cdc.xml", rss(Item(30, guid="cdc-30")))
        first = {"nida": nida, "nih": nih}
        routes = [("a-news", CHANNEL_A, ["nida"]), ("b-news", CHANNEL_B, ["nida", "nih"])]

        def configure(
            feeds_: dict[str, str], channels: list[tuple[str, int, list[str]]], extra: str = ""
        ) -> Path:
            path = write_config(
                tmp,
                api_base_url=api.base_url,
                feeds=feeds_,
                channels=channels,
                tick="0.25s",
                recheck_paused="0.5s",
            )
            path.write_text(path.read_text() + extra)
            return path

        config = configure(first, routes)
        bot = BotProcess(config, token=api.token)
        try:
            bot.wait_for(
                lambda: len(api.messages(CHANNEL_A)) == 2 and bool(notices(api, "b-news")),
                "A's posts, and B paused",
            )
            configure(first, routes, BROKEN_FEED)
            refused = releasebot(config, "reload")
            bot.proc.send_signal(signal.SIGHUP)
            bot.wait_for(lambda: bool(notices(api, "did not reload")), "the owners to be told")
            feeds.serve("/nida.xml", rss(Item(1), Item(2), Item(3)))
            bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 3, "release 3 in A")
            configure(
                {**first, "cdc": cdc},
                [
                    ("a-news", CHANNEL_A, ["nida", "cdc"]),
                    ("b-news", CHANNEL_B, ["nih"]),
                    ("c-news", CHANNEL_C, ["cdc"]),
                ],
            )
            signalled = releasebot(config, "reload")
            bot.wait_for(
                lambda: (
                    read_urls(api, CHANNEL_C) == [release_url(30)]
                    and release_url(30) in read_urls(api, CHANNEL_A)
                ),
                "the new routes' posts",
            )
            api.set_bot_status(CHANNEL_B, "administrator")
            bot.wait_for(lambda: bool(api.messages(CHANNEL_B)), "B's first post")
            # A post still owed to B would be pending (or going out) until it arrived.
            bot.wait_for(lambda: nothing_pending(config), "nothing left to send")
            exit_code = bot.terminate()
        finally:
            bot.kill()
        after_stop = releasebot(config, "reload")
        yield Story(api, config, bot, refused, signalled, after_stop, exit_code)


def test_reload_refuses_an_invalid_file_and_signals_nothing(story: Story) -> None:
    """`releasebot reload` of an invalid file: exit 2, each problem listed as `check` lists
    them; the run was not signalled (the owners heard once: of the SIGHUP sent after)."""
    assert story.refused.returncode == 2
    assert f"configuration error in {story.config}" in story.refused.stderr
    assert "feeds[3].url: must be an http(s) URL" in story.refused.stderr
    assert "feeds[3].timezone: unknown time zone 'Mars/<Base>'" in story.refused.stderr
    assert story.refused.stdout == ""
    assert len(notices(story.api, "did not reload")) == 1
    assert len(log_lines(story.bot, "not reloading")) == 1


def test_sighup_with_an_invalid_file_tells_the_owners_and_keeps_running(story: Story) -> None:
    """SIGHUP with an invalid file: one message to the owners with the problems (escaped,
    read as written), the log lists them, and the bot goes on posting new releases."""
    [notice] = notices(story.api, "did not reload")
    assert f"did not reload {story.config}" in notice
    assert "keeps running with the configuration it had" in notice
    assert "feeds[3].timezone: unknown time zone 'Mars/<Base>'" in notice
    assert "feeds[3].url: must be an http(s) URL" in notice
    assert log_lines(story.bot, "unknown time zone 'Mars/<Base>'")
    assert release_url(3) in read_urls(story.api, CHANNEL_A)


def test_reload_signals_the_run_which_applies_the_file(story: Story) -> None:
    """`releasebot reload` of a valid file: exit 0 naming the run's PID; the run logs one
    line saying what changed."""
    assert story.signalled.returncode == 0, story.signalled.stderr
    pid = story.bot.proc.pid
    assert story.signalled.stdout == f"sent SIGHUP to releasebot run (pid {pid})\n"
    [line] = log_lines(story.bot, "reloaded")
    assert line.endswith(f"reloaded {story.config}: feeds +1 -0, channels +1 -0, routes +2 -1")


def test_a_route_added_by_a_reload_posts(story: Story) -> None:
    """The new feed's release reaches A (a new route to a known channel) and new channel C."""
    assert read_urls(story.api, CHANNEL_C) == [release_url(30)]
    assert read_urls(story.api, CHANNEL_A) == [release_url(n) for n in (1, 2, 3, 30)]


def test_a_route_removed_by_a_reload_never_posts_what_it_was_owed(story: Story) -> None:
    """B's nida posts waited (the bot could not post in B) when the reload removed that
    route: once B can be posted to, only its remaining route's post arrives, and the run
    stops with nothing owed."""
    assert read_urls(story.api, CHANNEL_B) == [release_url(10)]
    owed_to_b = [d for d in deliveries(story.config) if d["channel"] == "b-news"]
    assert {d["url"]: d["state"] for d in owed_to_b}.get(release_url(10)) == "sent"
    assert not [d for d in owed_to_b if d["url"] != release_url(10) and d["state"] == "sent"]
    assert story.exit_code == 0
    assert "0 posts waiting for the next start" in story.bot.stderr


def test_reload_without_a_run_exits_1(story: Story, tmp_path: Path) -> None:
    """No run uses the database (it stopped, or none ever started): exit 1, one line."""
    never = write_config(tmp_path, api_base_url="http://127.0.0.1:9/bot", feeds={}, channels=[])
    for done in (story.after_stop, releasebot(never, "reload")):
        assert done.returncode == 1
        assert done.stdout == ""
        [line] = done.stderr.splitlines()
        assert line.startswith("releasebot: no releasebot run is using ")
        assert line.endswith("bot.db: nothing to reload")
