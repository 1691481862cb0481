"""`releasebot run` says what it is doing: a start line, a line per round that found or sent
something (a heartbeat at most hourly otherwise), a stop line; a dry run says "printed".

The heartbeat is tested with a clock; the lines themselves with the real `run` process
against the fake Bot API and the loopback feed server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import __version__
from bot.models import IngestResult
from bot.services.dispatcher import DrainReport
from bot.services.poller import PollOutcome
from bot.services.progress import Progress
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import CHANNEL_A, BotProcess, Item, one_channel_config, rss

# --- when a line is due, with a clock ---------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def polls(*new: int, failed: int = 0) -> Sequence[PollOutcome]:
    """One outcome per feed with that many new releases, and `failed` feeds that failed."""
    found = [
        PollOutcome(f"feed{i}", "ok", IngestResult(new=n, updated=0, queued=n, flooded=0))
        for i, n in enumerate(new)
    ]
    return [*found, *(PollOutcome(f"bad{i}", "error", error="HTTP 500") for i in range(failed))]


def test_a_round_that_finds_releases_says_so_and_an_idle_one_says_nothing() -> None:
    """New releases make a line (with what still waits); the next idle rounds make none."""
    clock = Clock()
    progress = Progress(clock, waiting=lambda: 3)
    report = DrainReport()
    assert progress.after_round(polls(2, 1, failed=1), report) == (
        "3 new releases (3 feed polls, 1 failed); 3 posts waiting"
    )
    for _ in range(10):
        clock.advance(30)
        assert progress.after_round(polls(0, 0), report) is None


def test_posts_sent_after_a_round_show_in_the_next_line_once() -> None:
    """Sends counted by the dispatcher since the last line are said once, with edits."""
    clock = Clock()
    progress = Progress(clock, waiting=lambda: 0)
    report = DrainReport()
    progress.after_round(polls(2), report)
    report.sent, report.edited = 2, 1
    assert progress.after_round(polls(0), report) == (
        "nothing new (1 feed poll); sent 2 posts, edited 1; 0 posts waiting"
    )
    assert progress.after_round(polls(0), report) is None


def test_a_quiet_bot_says_it_is_alive_at_most_once_an_hour() -> None:
    """Nothing new for an hour of 30 s rounds: one heartbeat after 60 minutes, not before."""
    clock = Clock()
    progress = Progress(clock, waiting=lambda: 0, heartbeat=3600)
    lines = []
    for _ in range(240):  # two hours
        clock.advance(30)
        lines.append(progress.after_round(polls(0, 0), DrainReport()))
    said = [(n, line) for n, line in enumerate(lines, 1) if line is not None]
    assert said == [
        (120, "still running: nothing new in the last 1 h (240 feed polls); 0 posts waiting"),
        (240, "still running: nothing new in the last 1 h (240 feed polls); 0 posts waiting"),
    ]


def test_a_dry_run_says_printed_never_sent() -> None:
    """What a dry run printed is called printed, in its round line and its stop line."""
    progress = Progress(Clock(), waiting=lambda: 0)
    report = DrainReport(printed=2)
    line = progress.after_round(polls(2), report)
    assert line == "2 new releases (1 feed poll); printed 2 posts (dry run); 0 posts waiting"
    stop = progress.stopped(report)
    assert stop == (
        "release-bot stopped: this run found 2 new releases and printed 2 posts (dry run);"
        " 0 posts waiting for the next start"
    )
    assert "sent" not in line + stop


# --- the real process ---------------------------------------------------------------------------


def sent_said(stderr: str) -> int:
    """How many posts the round lines say were sent."""
    return sum(int(n) for n in re.findall(r"\bsent (\d+) posts?", stderr))


def info_lines(stderr: str, marker: str) -> list[str]:
    return [line for line in stderr.splitlines() if marker in line]


def test_run_says_it_started_what_each_busy_round_did_and_that_it_stopped(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Start line (version, @username, counts, database); a line for the round that found two
    releases and for the sends; none for idle rounds; a stop line after SIGTERM."""
    api = fake_bot_api
    api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/n.xml", rss(Item(1), Item(2)), etag='"v1"')
    config = one_channel_config(tmp_path, api, url)
    bot = BotProcess(config, token=api.token)
    try:
        bot.wait_for(lambda: sent_said(bot.stderr) == 2, "the lines saying the posts went out")
        said = len(bot.stderr.splitlines())
        hits = feed_server.hits("/n.xml")
        bot.wait_for(lambda: feed_server.hits("/n.xml") >= hits + 2, "two idle rounds")
        idle = bot.stderr.splitlines()[said:]
        assert bot.terminate() == 0
    finally:
        bot.kill()
    assert idle == []
    database = tmp_path / "bot.db"
    [start] = info_lines(bot.stderr, "release-bot ")[:1]
    assert start.endswith(
        f"INFO bot.telegram.app: release-bot {__version__} running as @releasebot_test_bot:"
        f" 1 feed, 1 channel, database {database}; polling due feeds every 1 s"
    )
    assert info_lines(bot.stderr, "2 new releases (1 feed poll); 2 posts waiting")
    assert bot.stderr.splitlines()[-1].endswith(
        "release-bot stopped: this run found 2 new releases and sent 2 posts;"
        " 0 posts waiting for the next start"
    )
    assert "Traceback" not in bot.stderr


def test_the_first_poll_is_at_start_not_a_tick_later(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """With `tick = "1h"` the feed is still polled, and its releases posted, at start."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/n.xml", rss(Item(1)))
    config = one_channel_config(tmp_path, fake_bot_api, url)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('tick = "1s"', 'tick = "1h"'), encoding="utf-8")
    bot = BotProcess(config, token=fake_bot_api.token)
    try:
        bot.wait_for(lambda: len(fake_bot_api.messages(CHANNEL_A)) == 1, "the post")
        assert bot.terminate() == 0
    finally:
        bot.kill()
    assert "polling due feeds every 1 h" in bot.stderr


def test_dry_run_says_printed_not_sent(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """`run --dry-run` (and with --once) print posts and say "printed" for them, never "sent"."""
    url = feed_server.serve("/n.xml", rss(Item(1), Item(2)))
    config = one_channel_config(tmp_path, fake_bot_api, url, username="releasebot_demo_bot")
    dry = BotProcess(config, "--dry-run", token=fake_bot_api.token)
    try:
        dry.wait_for(lambda: "printed 2 posts" in dry.stderr, "the round line")
        assert dry.terminate() == 0
    finally:
        dry.kill()
    assert dry.stdout.count("──── post ") == 2
    assert f"release-bot {__version__} dry run as @releasebot_demo_bot (prints posts," in dry.stderr
    assert dry.stderr.splitlines()[-1].endswith(
        "release-bot stopped: this run found 2 new releases and printed 2 posts (dry run);"
        " 0 posts waiting for the next start"
    )
    assert "sent" not in dry.stderr
    feed_server.serve("/n.xml", rss(Item(1), Item(2), Item(3)))
    once = BotProcess(config, "--once", "--dry-run", token=fake_bot_api.token)
    assert once.wait() == 0, once.stderr
    assert "polled 1 feed (0 failed), 1 new release; printed 1 post (dry run)" in once.stderr
    assert "sent" not in once.stderr
    assert fake_bot_api.requests == []
