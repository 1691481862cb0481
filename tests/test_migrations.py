"""Migrations repair what older versions stored."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from bot.models import Publisher
from bot.render.cite import STYLES, render_citation
from bot.store import Store
from tests.factories import make_release

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_links_stored_before_they_were_checked_are_dropped_at_upgrade(tmp_path: Path) -> None:
    """A `javascript:` link stored by an older version reaches no citation after the upgrade."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("nida", "https://nida.example/feed")])
    store.ingest("nida", [make_release(1), make_release(2)], now=NOW, flood_limit=10)
    store.close()
    conn = sqlite3.connect(path)  # as an older version left it: before m004, no url, bad link
    with conn:
        conn.execute("UPDATE releases SET link = ' JavaScript:alert(1)', url = '' WHERE id = 1")
        conn.execute(
            "DELETE FROM _sqlite_migrations WHERE name = 'm004_drop_links_that_are_not_http'"
        )
    conn.close()
    store = Store.open(path)
    try:
        bad, good = store.release(1), store.release(2)
    finally:
        store.close()
    assert bad is not None
    assert good is not None
    assert bad.release.link == ""
    assert good.release.link == "https://example.org/releases/2?utm_source=rss"
    publisher = Publisher(name="National Institute on Drug Abuse", short_name="NIDA")
    for style in STYLES:
        cited = render_citation(bad.release, publisher, style, accessed=date(2026, 11, 29))
        assert "javascript" not in cited.lower(), style
