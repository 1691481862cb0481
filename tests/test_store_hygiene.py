"""The store's writes nest in one transaction, and the tick's reads do not grow with the data.

A `mark_*` (or any one-statement write) called inside `writing()` becomes part of that
transaction: a failure later in the block rolls it back, and no other process sees it
before the block commits. The tick reads the due feeds in one query, each batch of posts
with their releases, and `status` reads the feeds' and channels' states in one query each.
Statements are counted with sqlite3's own trace callback on the real connection.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings, settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import RouteSpec
from bot.services.config_sync import sync_config
from bot.services.dispatcher import Dispatcher
from bot.services.poller import Poller
from bot.store import Store
from bot.telegram.dryrun import DryRunSender
from tests.factories import make_release

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class LaterFailureError(Exception):
    """A failure later in the same transaction."""


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store's connection runs inside the block."""
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store.db.conn.set_trace_callback(None)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A database with one feed routed to one channel and two releases owed to it."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 2)], now=NOW)
    store.ingest("nida", [make_release(1), make_release(2)], now=NOW, flood_limit=10)
    store.close()
    return path


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    store = Store.open(path)
    yield store
    store.close()


def owed_ids(store: Store) -> list[int]:
    return [owed.delivery.id for owed in store.pending_for_channel("news", NOW)]


def write_then_fail(store: Store, delivery: int) -> None:
    """Inside one transaction: re-queue the failed posts, take `delivery`, pause the channel,
    record its chat id and a poll; then fail."""
    with store.writing():
        assert store.requeue_failed() == {"news": 1}
        assert store.mark_sending(delivery)
        store.pause_channel("news", "Forbidden: bot was kicked")
        store.set_chat_id("news", -1001)
        store.record_fetch_success(
            "nida", now=NOW, next_poll=NOW, etag='"v2"', last_modified=None, body_hash="h"
        )
        raise LaterFailureError


def test_a_failure_inside_a_transaction_rolls_back_the_marks_made_in_it(store: Store) -> None:
    """Taking a post, failing another, pausing the channel, recording a poll and re-queuing
    failed posts, all inside one transaction that then fails: none of it is kept."""
    first, second = owed_ids(store)
    store.mark_sending(first)
    store.mark_failed(first, "Bad Request: message is too long")
    with pytest.raises(LaterFailureError):
        write_then_fail(store, second)
    assert owed_ids(store) == [second]  # still owed, not taken
    assert [d.id for d in store.failed_deliveries()] == [first]  # still failed
    channel = store.channel_state("news")
    assert (channel.paused, channel.chat_id) == (False, None)
    assert store.feed_state("nida").etag is None


def test_another_process_sees_nothing_of_a_transaction_before_it_commits(path: Path) -> None:
    """A mark inside an open transaction is not committed halfway: `releasebot status` or a
    second bot reading meanwhile still sees the post owed, and sees it taken after."""
    writer, reader = Store.open(path), Store.open(path)
    try:
        first, _ = owed_ids(writer)
        with writer.writing():
            assert writer.mark_sending(first)
            writer.pause_channel("news", "Forbidden: bot was kicked")
            assert first in owed_ids(reader)
            assert not reader.channel_state("news").paused
        assert first not in owed_ids(reader)
        assert reader.channel_state("news").paused
    finally:
        writer.close()
        reader.close()


def test_a_write_that_fails_on_its_own_is_rolled_back_and_the_store_goes_on(store: Store) -> None:
    """A one-statement write the database refuses leaves no transaction open: the next
    write commits on its own and is seen by others."""
    first, second = owed_ids(store)
    store.db.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON deliveries"
        " WHEN OLD.id = (SELECT min(id) FROM deliveries)"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.Error, match="disk full"):
        store.mark_sending(first)
    assert not store.db.conn.in_transaction
    assert store.mark_sending(second)
    assert owed_ids(store) == [first]


# --- the tick's reads ----------------------------------------------------------------------


def many(tmp_path: Path, feeds: int, channels: int = 1) -> Settings:
    """A config of `feeds` feeds spread over `channels` channels."""
    return settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "bot.db")},
            "defaults": {"backlog": 0},
            "feeds": [
                {"name": f"f{n}", "url": f"https://f{n}.example.org/rss"} for n in range(feeds)
            ],
            "channels": [
                {
                    "name": f"c{c}",
                    "chat": -1001 - c,
                    "feeds": [f"f{n}" for n in range(c, feeds, channels)],
                }
                for c in range(channels)
            ],
        },
        tmp_path,
    )


@pytest.mark.parametrize("feeds", [1, 300])
async def test_a_tick_with_nothing_due_reads_the_feeds_once_however_many(
    tmp_path: Path, feeds: int
) -> None:
    """With no feed due, a tick's poll asks the database one question, for 1 feed or 300."""
    settings = many(tmp_path, feeds)
    store = Store.open(settings.database_path)
    try:
        sync_config(store, settings, NOW)
        for feed in settings.feeds:
            store.record_fetch_success(
                feed.name,
                now=NOW,
                next_poll=NOW + timedelta(minutes=5),
                etag=None,
                last_modified=None,
                body_hash="h",
            )
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
            with statements(store) as seen:
                assert await poller.poll_due() == []
            assert len(seen) == 1
            later = NOW + timedelta(minutes=5)
            assert store.due_feeds([f.name for f in settings.feeds], later) == [
                f.name for f in settings.feeds
            ]
    finally:
        store.close()


def test_status_reads_the_feeds_and_the_channels_in_one_query_each(tmp_path: Path) -> None:
    """`status` and /feeds list 200 feeds and 20 channels, by name, in two queries."""
    settings = many(tmp_path, 200, 20)
    store = Store.open(settings.database_path)
    try:
        sync_config(store, settings, NOW)
        store.record_fetch_failure(
            "f7", now=NOW, next_poll=NOW + timedelta(hours=1), error="HTTP 503", failures=2
        )
        store.pause_channel("c3", "Forbidden: bot was kicked")
        with statements(store) as seen:
            feeds = store.feed_states()
            channels = store.channel_states()
        assert len(seen) == 2
    finally:
        store.close()
    assert [f.name for f in feeds] == sorted(f"f{n}" for n in range(200))
    failed = next(f for f in feeds if f.name == "f7")
    assert (failed.last_error, failed.failures, failed.next_poll) == (
        "HTTP 503",
        2,
        NOW + timedelta(hours=1),
    )
    assert [c.name for c in channels] == sorted(f"c{c}" for c in range(20))
    paused = next(c for c in channels if c.name == "c3")
    assert (paused.paused, paused.pause_error, paused.chat) == (
        True,
        "Forbidden: bot was kicked",
        "-1004",
    )


@pytest.mark.parametrize("posts", [1, 8])
async def test_the_dispatcher_reads_each_post_with_its_release(tmp_path: Path, posts: int) -> None:
    """A dry run prints every owed post with its own release, in order, and reads the
    releases once per batch: as often for 8 posts a channel as for 1."""
    settings = many(tmp_path, 2, 2)
    store = Store.open(settings.database_path)
    out = io.StringIO()
    try:
        sync_config(store, settings, NOW)
        for feed in ("f0", "f1"):
            store.ingest(
                feed, [make_release(0, feed=feed, key=f"{feed}-0")], now=NOW, flood_limit=50
            )
            releases = [
                make_release(n, feed=feed, key=f"{feed}-{n}", url=f"https://{feed}.example.org/{n}")
                for n in range(1, posts + 1)
            ]
            store.ingest(feed, releases, now=NOW, flood_limit=50)
        dispatcher = Dispatcher(
            settings,
            store=store,
            sender=DryRunSender(out),
            clock=lambda: NOW,
            pacer=None,
            bot_username="releasebot_test_bot",
            dry_run=True,
        )
        with statements(store) as seen:
            report = await dispatcher.drain()
    finally:
        store.close()
    assert report.printed == 2 * posts
    titles = [f"Release number {n} about addiction research" for n in range(1, posts + 1)]
    for chat in ("-1001", "-1002"):
        printed = out.getvalue().split(f"to {chat} ────")[1:]
        assert [title in text for text, title in zip(printed, titles, strict=True)] == [
            True
        ] * posts
    # Reads of posts (the query finding channels with work looks at releases only to hold a
    # paused route's posts: one query per round, whatever the number of posts).
    reads = [s for s in seen if "releases" in s and not s.startswith("SELECT d.channel")]
    assert len(reads) == 2 * 2  # per channel: its batch, then the read that finds none left


@contextmanager
def vm_steps(store: Store) -> Iterator[list[int]]:
    """How much work SQLite does inside the block, in virtual machine steps."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0  # go on

    store.db.conn.set_progress_handler(count, 1)
    try:
        yield steps
    finally:
        store.db.conn.set_progress_handler(None, 0)


def work_of_a_round(tmp_path: Path, sent: int) -> int:
    """SQLite's work to find what a round owes after `sent` posts went out, one of which
    now needs an edit: which channels have work, then that channel's posts and edits."""
    store = Store.open(tmp_path / f"sent-{sent}.db")
    try:
        store.sync_feeds([("nida", "https://example.org/feed")])
        store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", sent)], now=NOW)
        store.ingest("nida", [make_release(n) for n in range(sent)], now=NOW, flood_limit=sent)
        for number, owed in enumerate(store.pending_for_channel("news", NOW, limit=sent)):
            store.mark_sending(owed.delivery.id)
            store.mark_sent(owed.delivery.id, number + 1, NOW)
        store.ingest("nida", [make_release(0, title="Corrected")], now=NOW, flood_limit=sent)
        with vm_steps(store) as steps:
            assert store.channels_with_work(NOW) == ["news"]
            assert store.pending_for_channel("news", NOW) == []
            [edit] = store.edits_for_channel("news", NOW)
        assert edit.stored is not None
        assert edit.stored.release.title == "Corrected"
        return steps[0]
    finally:
        store.close()


def test_a_round_does_not_read_every_post_ever_sent(tmp_path: Path) -> None:
    """Finding the one post to edit costs about the same after 2,000 posts as after 20: the
    tick does not slow down as the outbox grows."""
    few, many_sent = work_of_a_round(tmp_path, 20), work_of_a_round(tmp_path, 2_000)
    assert many_sent <= few + 5, (few, many_sent)
