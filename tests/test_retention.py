"""Retention: `[bot] keep_deliveries` prunes old sent and cancelled delivery rows, in
batches, never the rows still owed something or needed for an edit; releases stay."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import settings_from_dict
from bot.models import RouteSpec
from bot.services.retention import prune, prune_batches, prune_due
from bot.store import Store
from bot.store.codec import instant_text
from bot.store.retention import PRUNE_BATCH
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_cli import run_here, write_config
from tests.test_run_e2e import (
    CHANNEL_A,
    BotProcess,
    Item,
    db_rows,
    deliveries,
    one_channel_config,
    read_urls,
    release_url,
    rss,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KEEP = 90 * 86400.0

# What each release's one post to "news" went through (see `outbox`).
SCENARIO = {
    1: "sent 100 days ago",
    2: "sent 10 days ago",
    3: "sent 100 days ago, owed an edit",
    4: "sent 100 days ago, its release changed 10 days ago and edited",
    5: "pending",
    6: "failed",
    7: "sending",
    8: "dry run",
    9: "cancelled 100 days ago",
    10: "cancelled 10 days ago",
}
PRUNED = {1, 9}


def set_rows(store: Store, sql: str, params: list[object]) -> None:
    with store.writing():
        store.db.execute(sql, params)


def send(store: Store, delivery: int, at: datetime) -> None:
    assert store.mark_sending(delivery)
    assert store.mark_sent(delivery, message_id=1000 + delivery, now=at, chat="@news")


def outbox(path: Path, now: datetime) -> Store:
    """A database with releases 1-10 of "nida", each owed to "news" as SCENARIO says
    (release n's delivery has id n), every row queued 200 days before `now`."""
    store = Store.open(path)
    store.sync_feeds([("nida", "https://nida.example/feed")])
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 10)], now=now - 200 * DAY)
    store.ingest("nida", [make_release(n) for n in SCENARIO], now=now - 200 * DAY, flood_limit=20)
    set_rows(store, "UPDATE deliveries SET created_at = ?", [instant_text(now - 200 * DAY)])
    old, recent = now - 100 * DAY, now - 10 * DAY
    for n in (1, 3, 4):
        send(store, n, old)
    send(store, 2, recent)
    store.ingest("nida", [make_release(3, title="Corrected 3")], now=old + DAY, flood_limit=20)
    store.ingest("nida", [make_release(4, title="Corrected 4")], now=recent, flood_limit=20)
    assert store.mark_edited(4)
    assert store.mark_sending(6)
    assert store.mark_failed(6, "Bad Request: chat not found")
    assert store.mark_sending(7)
    assert store.mark_dry_run(8, now=old)
    set_rows(store, "UPDATE deliveries SET state = 'cancelled' WHERE id IN (9, 10)", [])
    set_rows(store, "UPDATE deliveries SET created_at = ? WHERE id = 10", [instant_text(recent)])
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = outbox(tmp_path / "bot.db", NOW)
    yield store
    store.close()


def delivery_ids(store: Store) -> set[int]:
    return {row[0] for row in store.db.execute("SELECT id FROM deliveries")}


def test_only_old_sent_and_cancelled_rows_no_edit_needs_are_pruned(store: Store) -> None:
    """Of the ten posts, only the one sent 100 days ago and the one cancelled 100 days ago
    go; pending, sending, failed, dry-run, recent ones and those edits need stay, and so
    does every release."""
    counted = prune(store, NOW, KEEP, dry_run=True)
    assert delivery_ids(store) == set(SCENARIO)  # a dry run only counts
    pruned = prune(store, NOW, KEEP)
    assert (pruned.sent, pruned.cancelled) == (counted.sent, counted.cancelled) == (1, 1)
    assert delivery_ids(store) == set(SCENARIO) - PRUNED
    assert store.db.execute("SELECT count(*) FROM releases").fetchone()[0] == len(SCENARIO)
    assert prune(store, NOW, KEEP).total == 0  # nothing more to do


def test_posts_kept_for_edits_are_still_edited(store: Store) -> None:
    """After a prune the post owed an edit still gets it, and so does the post whose release
    changed recently when it changes again."""
    prune(store, NOW, KEEP)
    for n in (1, 4):
        store.ingest("nida", [make_release(n, title=f"Again {n}")], now=NOW, flood_limit=20)
    owed = [post.delivery for post in store.edits_for_channel("news", NOW + DAY)]
    assert [(d.id, d.message_id) for d in owed] == [(3, 1003), (4, 1004)]


def test_a_large_prune_runs_in_short_batches(tmp_path: Path) -> None:
    """2,500 old posts go in batches of at most 1,000 rows; between two batches another
    connection may write at once (the write lock is not held), and the recent posts stay."""
    store = Store.open(tmp_path / "bot.db")
    store.sync_feeds([("nida", "https://nida.example/feed")])
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 3000)], now=NOW)
    releases = [make_release(n) for n in range(1, 2601)]
    store.ingest("nida", releases, now=NOW - 200 * DAY, flood_limit=None)
    old, recent = instant_text(NOW - 100 * DAY), instant_text(NOW - DAY)
    set_rows(store, "UPDATE deliveries SET state = 'sent', message_id = id, sent_at = ?", [old])
    set_rows(store, "UPDATE deliveries SET sent_at = ? WHERE id % 26 = 0", [recent])
    other = sqlite3.connect(tmp_path / "bot.db", timeout=0, isolation_level=None)
    batches = []
    for state, removed in prune_batches(store, NOW - 90 * DAY):
        batches.append((state, removed))
        other.execute("BEGIN IMMEDIATE")  # fails at once if a batch still held the lock
        other.execute("UPDATE feeds SET title = 'written between batches'")
        other.execute("COMMIT")
    other.close()
    assert all(removed <= PRUNE_BATCH for _, removed in batches)
    assert sum(removed for _, removed in batches) == 2500
    assert len([b for b in batches if b[0] == "sent"]) == 3
    assert store.db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 100
    store.close()


def test_the_daily_prune_is_due_at_start_then_once_a_day() -> None:
    """The running bot prunes at its first round, then again a day later, not before."""
    assert prune_due(None, NOW)
    assert not prune_due(NOW, NOW + timedelta(hours=23, minutes=59))
    assert prune_due(NOW, NOW + DAY)


def test_keep_deliveries_takes_days_and_defaults_to_90() -> None:
    """`keep_deliveries = "30d"` is 30 days; unset, 90 days; other durations still parse."""
    assert settings_from_dict({}, Path()).bot.keep_deliveries == KEEP
    bot = settings_from_dict({"bot": {"keep_deliveries": "30d", "tick": "1.5m"}}, Path()).bot
    assert (bot.keep_deliveries, bot.tick) == (30 * 86400.0, 90.0)


def test_prune_command_says_what_it_removed_or_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`releasebot prune --dry-run` counts and removes nothing; `prune` removes as many;
    `[bot] keep_deliveries = "7d"` also takes the rows of 10 days ago."""
    config = write_config(tmp_path, {"nida": "https://nida.example/feed"})
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[bot]\n", '[bot]\nkeep_deliveries = "7d"\n', 1), "utf-8")
    outbox(tmp_path / "releasebot.db", datetime.now(UTC)).close()
    dry = run_here(capsys, "prune", "--dry-run", cwd=tmp_path, config=config)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == "would prune 5 delivery rows older than 7 days (3 sent, 2 cancelled)\n"
    done = run_here(capsys, "prune", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "pruned 5 delivery rows older than 7 days (3 sent, 2 cancelled)\n"
    conn = sqlite3.connect(tmp_path / "releasebot.db")
    kept = {row[0] for row in conn.execute("SELECT id FROM deliveries")}
    conn.close()
    assert kept == set(SCENARIO) - {1, 2, 4, 9, 10}


def test_the_running_bot_prunes_at_its_first_round(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Posts sent 100 days ago: a started `releasebot run` removes their rows (and says so)
    while keeping the releases, and nothing is posted again."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
    config = one_channel_config(tmp_path, fake_bot_api, url)
    assert BotProcess(config, "--once", token=fake_bot_api.token).wait() == 0
    conn = sqlite3.connect(tmp_path / "bot.db")
    with conn:
        conn.execute("UPDATE deliveries SET sent_at = ?", [instant_text(NOW - 100 * DAY)])
    conn.close()
    bot = BotProcess(config, token=fake_bot_api.token)
    try:
        said = "pruned 2 delivery rows older than 90 days (2 sent, 0 cancelled)"
        bot.wait_for(lambda: said in bot.stderr, "the daily prune")
        assert bot.terminate() == 0
    finally:
        bot.kill()
    assert deliveries(config) == []
    assert len(db_rows(config, "SELECT id FROM releases")) == 2
    assert read_urls(fake_bot_api, CHANNEL_A) == [release_url(1), release_url(2)]
