"""One `releasebot run` per database: a second one (of any kind) is refused with the first's
PID and exit 2; read commands and `poll` work beside it; kill -9 leaves no stale lock."""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import DatabaseInUseError, StoreError
from bot.store.lock import config_lock, lock_path, run_lock
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.processes import releasebot
from tests.test_run_e2e import (
    CHANNEL_A,
    BotProcess,
    Item,
    deliveries,
    one_channel_config,
    read_urls,
    release_url,
    rss,
)

STARTED = datetime(2026, 11, 29, 19, 20, 41, tzinfo=UTC)


# --- the lock itself ------------------------------------------------------------------


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_start(tmp_path: Path) -> None:
    """While one holder has the lock, another gets one line naming its PID and start time."""
    database = tmp_path / "bot.db"
    with (
        run_lock(database, now=STARTED),
        pytest.raises(DatabaseInUseError) as refused,
        run_lock(database, now=datetime.now(UTC)),
    ):
        pytest.fail("a second holder got the lock")
    assert refused.value.pid == os.getpid()
    assert refused.value.message == (
        f"another releasebot run (PID {os.getpid()}, started 2026-11-29 19:20 UTC)"
        f" is using {database}; stop it first"
    )
    with run_lock(database, now=STARTED):  # released at the end of the block
        pass


def test_a_lock_file_left_behind_does_not_hold_the_lock(tmp_path: Path) -> None:
    """Only a live process holds the lock: the file a dead one left names nobody who counts."""
    database = tmp_path / "bot.db"
    lock_path(database).write_text('{"pid": 999999, "host": "x", "started": "2020-01-01"}\n')
    with run_lock(database, now=STARTED) as path:
        assert f'"pid": {os.getpid()}' in path.read_text()



def test_one_database_named_through_a_symlink_shares_its_lock(tmp_path: Path) -> None:
    """Two configs naming one database by different paths (a symlink) cannot both run."""
    database = tmp_path / "data" / "bot.db"
    database.parent.mkdir()
    database.write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    alias = tmp_path / "elsewhere" / "bot.db"
    alias.symlink_to(database)
    with (
        run_lock(database, now=STARTED),
        pytest.raises(DatabaseInUseError),
        run_lock(alias, now=STARTED),
    ):
        pytest.fail("a second holder got the lock through the symlink")


def test_config_lock_lets_one_process_sync_and_tells_the_others_who_runs(tmp_path: Path) -> None:
    """`poll`/`status` sync the config only while no run holds the database; else they are
    told which run does (and an error from their own work is not taken for the lock's)."""
    database = tmp_path / "bot.db"
    with config_lock(database, now=STARTED, what="poll") as busy:
        assert busy is None
    with run_lock(database, now=STARTED), config_lock(database, now=STARTED, what="poll") as busy:
        assert busy is not None
        assert busy.startswith(f"another releasebot run (PID {os.getpid()}")
    with (
        pytest.raises(StoreError, match="from the body"),
        config_lock(database, now=STARTED, what="status"),
    ):
        raise StoreError("from the body")

# --- real processes ---------------------------------------------------------------------


@dataclass
class Live:
    api: FakeBotAPI
    feeds: FeedServer
    config: Path
    bot: BotProcess


@contextlib.contextmanager
def live_run(tmp: Path, api: FakeBotAPI, feeds: FeedServer, *, interval: str) -> Iterator[Live]:
    """`releasebot run` that has posted (and recorded) release 1 and is polling for updates."""
    api.add_chat(CHANNEL_A, "channel")
    url = feeds.serve("/nida.xml", rss(Item(1)))
    config = one_channel_config(tmp, api, url, tick="0.25s")
    config.write_text(config.read_text().replace('interval = "0.25s"', f'interval = "{interval}"'))
    bot = BotProcess(config, token=api.token)
    try:
        bot.wait_for(
            lambda: (
                len(api.messages(CHANNEL_A)) == 1
                and api.polls_waiting > 0
                and [row["state"] for row in deliveries(config)] == ["sent"]
            ),
            "the first run to post and poll",
        )
        yield Live(api, feeds, config, bot)
    finally:
        bot.kill()


@pytest.fixture
def live(tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer) -> Iterator[Live]:
    """A live run that polls its feed four times a second."""
    with live_run(tmp_path, fake_bot_api, feed_server, interval="0.25s") as running:
        yield running


def assert_refused(live: Live, second: BotProcess) -> None:
    """The second process exits 2 with one line naming the first's PID and the database."""
    assert second.wait(timeout=20) == 2, second.stderr
    [line] = second.stderr.strip().splitlines()
    database = live.config.parent / "bot.db"
    assert line.startswith(f"releasebot: another releasebot run (PID {live.bot.proc.pid}, started")
    assert line.endswith(f" UTC) is using {database}; stop it first")
    assert second.stdout == ""


def test_a_second_run_is_refused_and_kill_9_leaves_no_stale_lock(live: Live) -> None:
    """A second `run` exits 2 naming the first's PID while the first goes on; once the first is
    killed with -9, a new `run` starts at once and posts what is new."""
    second = BotProcess(live.config, token=live.api.token)
    assert_refused(live, second)
    assert live.bot.proc.poll() is None  # the first one is untouched

    live.bot.proc.send_signal(signal.SIGKILL)
    live.bot.proc.wait(timeout=10)
    live.feeds.serve("/nida.xml", rss(Item(1), Item(2)))
    third = BotProcess(live.config, token=live.api.token)
    try:
        third.wait_for(
            lambda: len(live.api.messages(CHANNEL_A)) == 2, "the new run to post release 2"
        )
        assert third.terminate() == 0
    finally:
        third.kill()
    assert read_urls(live.api, CHANNEL_A) == [release_url(1), release_url(2)]
    assert "another releasebot run" not in third.stderr


def test_run_once_and_dry_run_beside_a_live_run_are_refused(live: Live) -> None:
    """`run --once` and `run --dry-run` (which also marks deliveries) beside a live run exit 2
    and neither send nor record anything; the live run posts the new release once."""
    live.feeds.serve("/nida.xml", rss(Item(1), Item(2)))  # something the others could post
    for mode in (["--once"], ["--dry-run"], ["--once", "--dry-run"]):
        second = BotProcess(live.config, *mode, token=live.api.token)
        assert_refused(live, second)
    live.bot.wait_for(lambda: len(live.api.messages(CHANNEL_A)) == 2, "the live run to post 2")
    assert Counter(read_urls(live.api, CHANNEL_A)) == {release_url(1): 1, release_url(2): 1}
    assert {row["state"] for row in deliveries(live.config)} == {"sent"}


def test_status_and_poll_work_beside_a_live_run(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Read commands run beside a live bot; `poll` stores and queues a new release, which the
    live run then posts once."""
    # The live run polls hourly, so only `poll` fetches the new release: two processes
    # writing at once are the store tests' business (tests/test_outbox_claims.py).
    with live_run(tmp_path, fake_bot_api, feed_server, interval="1h") as live:
        beside_a_live_run(live)


def beside_a_live_run(live: Live) -> None:
    status = releasebot(live.config, "status")
    assert status.returncode == 0, status.stderr
    assert any(line.startswith("a-news") for line in status.stdout.splitlines())
    latest = releasebot(live.config, "latest")
    assert latest.returncode == 0, latest.stderr
    assert release_url(1) in latest.stdout

    live.feeds.serve("/nida.xml", rss(Item(1), Item(3)))
    poll = releasebot(live.config, "poll")
    assert poll.returncode == 0, poll.stderr
    live.bot.wait_for(lambda: len(live.api.messages(CHANNEL_A)) == 2, "the live run to post 3")
    assert Counter(read_urls(live.api, CHANNEL_A)) == {release_url(1): 1, release_url(3): 1}
    assert live.bot.proc.poll() is None


def test_a_renamed_config_beside_a_live_run_changes_nothing_under_it(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Renaming the channel in the config, then `status` and `poll` beside the live run: the
    database keeps the run's names (no post of the run is failed as unconfigured), both say
    the config applies when the run restarts, and the run still posts what `poll` queued."""
    with live_run(tmp_path, fake_bot_api, feed_server, interval="1h") as live:
        text = live.config.read_text()
        assert 'name = "a-news"' in text
        live.config.write_text(text.replace('name = "a-news"', 'name = "alpha-news"'))
        status = releasebot(live.config, "status")
        assert "the config is applied when that run restarts" in status.stderr
        assert "not in the database yet: alpha-news" in status.stderr
        live.feeds.serve("/nida.xml", rss(Item(1), Item(3)))
        poll = releasebot(live.config, "poll")
        assert poll.returncode == 0, poll.stderr
        assert "the config is applied when that run restarts" in poll.stderr
        live.bot.wait_for(lambda: len(live.api.messages(CHANNEL_A)) == 2, "the run to post 3")
        live.bot.wait_for(  # the message reaches the chat just before the run records it
            lambda: [row["state"] for row in deliveries(live.config)] == ["sent", "sent"],
            "the run to record both posts as sent",
        )
        assert {row["channel"] for row in deliveries(live.config)} == {"a-news"}
