"""Upgrades: a database made by the first released schema (m001 alone), filled as that
version filled it, opens through the normal path with the current schema and keeps every
row: feeds, releases (found by search), channels, routes and posts in every state."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.store import Store
from bot.store.schema import migrations
from tests.test_cli import run_cli, write_config

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FIRST = "m002_releases_by_feed_and_date"  # the first migration the first release lacked

FEEDS = [
    ("nida", "https://nida.example/news.rss", "NIDA News Releases"),
    ("nih", "https://nih.example/feed.xml", "NIH News"),
]
CHANNELS = [
    ("a-news", "@a_news_chan", -1001, 0, None),
    ("b-news", "@b_news_chan", -1002, 1, "Forbidden: bot was kicked from the channel chat"),
    ("es-news", "-1003", -1003, 0, None),
]
ROUTES = [("nida", "a-news", 1), ("nih", "a-news", 3), ("nida", "b-news", 0), ("nih", "es-news", 5)]
TITLES = {
    1: ("nida", "New vaccine candidate against fentanyl overdose", "en"),
    2: ("nida", "Teen vaping declines for the third year", "en"),
    3: ("nih", "La medicación para la adicción a opioides salva vidas", "es"),
    4: ("nih", "Sleep and memory: a study of 2,000 adults", "en"),
}
# (release, channel, state, message id, error, needs_edit): every state m001 knew.
DELIVERIES = [
    (1, "a-news", "sent", 501, None, 0),
    (2, "a-news", "sent", 502, None, 1),  # its release changed: owed an edit
    (3, "a-news", "pending", None, None, 0),
    (4, "a-news", "sending", None, None, 0),
    (1, "b-news", "failed", None, "Bad Request: chat not found", 0),
    (3, "es-news", "dry_run", None, None, 0),
    (4, "es-news", "pending", None, "Too Many Requests: retry after 5", 0),
]


def at(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def first_release_database(path: Path) -> None:
    """Schema m001 only, with the rows its version wrote (its columns, its text formats)."""
    db = Database(path)
    migrations.apply(db, stop_before=FIRST)
    for name, url, title in FEEDS:
        db.execute(
            "INSERT INTO feeds (name, url, current_url, title, etag, last_success, failures,"
            " next_poll) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [name, url, url, title, f'W/"{name}-1"', at(0), 0, at(-1)],
        )
    for n, (feed, title, language) in TITLES.items():
        url = f"https://{feed}.example/releases/{n}"
        db.execute(
            "INSERT INTO releases (id, feed, key, title, link, url, published, sort_at, author,"
            " feed_author, feed_title, summary, language, content_hash, first_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?, ?, ?)",
            [n, feed, f"{feed}-{n}", title, url, url, f"2026-11-{10 + n:02d}", at(20 - n), feed,
             f"Summary of {title}.", language, f"hash-{n}", at(20 - n)],
        )  # fmt: skip
    for name, chat, chat_id, paused, error in CHANNELS:
        db.execute(
            "INSERT INTO channels (name, chat, chat_id, paused, pause_error)"
            " VALUES (?, ?, ?, ?, ?)",
            [name, chat, chat_id, paused, error],
        )
    for feed, channel, backlog in ROUTES:
        db.execute(
            "INSERT INTO routes (feed, channel, created_at, backlog, backlog_done)"
            " VALUES (?, ?, ?, ?, 1)",
            [feed, channel, at(30), backlog],
        )
    for n, (release, channel, state, message_id, error, edit) in enumerate(DELIVERIES, 1):
        db.execute(
            "INSERT INTO deliveries (id, release_id, channel, dedupe, state, message_id, error,"
            " attempts, needs_edit, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [n, release, channel, f"https://x.example/releases/{release}", state, message_id,
             error, 1 if state != "pending" else 0, edit, at(15), at(14) if message_id else None],
        )  # fmt: skip
    db.conn.commit()
    db.close()


KEYS = {
    "feeds": "SELECT name, url, current_url, title, etag FROM feeds ORDER BY name",
    "releases": "SELECT id, feed, key, title, url, summary FROM releases ORDER BY id",
    "channels": "SELECT name, chat, chat_id, paused, pause_error FROM channels ORDER BY name",
    "routes": "SELECT feed, channel, backlog FROM routes ORDER BY feed, channel",
    "deliveries": "SELECT id, release_id, channel, state, message_id, error, needs_edit,"
    " sent_at FROM deliveries ORDER BY id",
}


def key_columns(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(sql).fetchall() for table, sql in KEYS.items()}
    finally:
        conn.close()


def test_a_first_release_database_upgrades_and_keeps_every_row(tmp_path: Path) -> None:
    """Every feed, release, channel, route and post the first version stored is there
    after the upgrade, with the same key columns; every migration has run."""
    path = tmp_path / "bot.db"
    first_release_database(path)
    before = key_columns(path)
    assert [len(rows) for rows in before.values()] == [2, 4, 3, 4, 7]
    store = Store.open(path)
    try:
        assert list(migrations.pending(store.db)) == []
    finally:
        store.close()
    assert key_columns(path) == before


def test_an_upgraded_database_still_searches_posts_and_edits(tmp_path: Path) -> None:
    """After the upgrade: search finds old releases (stemmed, accents folded), the pending
    posts are still owed in order, and the changed post is still owed its edit."""
    path = tmp_path / "bot.db"
    first_release_database(path)
    store = Store.open(path)
    try:
        assert [s.id for s in store.search("vaccines")] == [1]
        assert [s.id for s in store.search("medicacion adiccion")] == [3]
        assert [s.id for s in store.search("vaping")] == [2]
        pending = store.pending_for_channel("a-news", NOW)
        assert [(p.delivery.id, p.stored and p.stored.id) for p in pending] == [(3, 3)]
        [edit] = store.edits_for_channel("a-news", NOW)
        assert (edit.delivery.id, edit.delivery.message_id) == (2, 502)
        assert store.failed_deliveries()[0].error == "Bad Request: chat not found"
        assert store.channel_state("b-news").paused
    finally:
        store.close()


def test_the_cli_opens_a_first_release_database(tmp_path: Path) -> None:
    """`releasebot check` upgrades it and says the database is fine; `latest` lists its
    releases newest first."""
    config = write_config(tmp_path, {"nida": "https://nida.example/news.rss"})
    first_release_database(tmp_path / "releasebot.db")
    checked = run_cli("check", cwd=tmp_path, config=config)
    assert checked.returncode == 0, checked.stderr
    assert "database ok" in checked.stdout
    latest = run_cli("latest", cwd=tmp_path, config=config)
    assert latest.returncode == 0, latest.stderr
    places = [latest.stdout.index(title) for _, title, _ in reversed(TITLES.values())]
    assert places == sorted(places)
