"""Migration m005: a database from before the edit budget upgrades, and its posts stay editable."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.models import RouteSpec
from bot.store import Store
from tests.factories import make_release

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_post_sent_before_the_upgrade_is_still_owed_its_edit(tmp_path: Path) -> None:
    """A post sent and then corrected under an older version is still edited after the
    upgrade: nothing on record says the chat already shows the correction."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 1)], now=NOW)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    [delivery] = [owed.delivery for owed in store.pending_for_channel("news", NOW)]
    store.mark_sending(delivery.id)
    store.mark_sent(delivery.id, 77, NOW)
    store.ingest("nida", [make_release(1, title="Corrected title")], now=NOW, flood_limit=10)
    store.close()
    conn = sqlite3.connect(path)  # as the older version left it
    with conn:
        for column in ("shown_hash", "sent_chat", "edit_window", "edits_in_window"):
            conn.execute(f"ALTER TABLE deliveries DROP COLUMN {column}")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_delivery_edit_budget'")
    conn.close()
    store = Store.open(path)
    try:
        [owed] = [o.delivery for o in store.edits_for_channel("news", NOW + timedelta(minutes=1))]
    finally:
        store.close()
    assert (owed.id, owed.message_id, owed.changes) == (delivery.id, 77, 1)
    assert (owed.shown, owed.sent_chat, owed.edit_window, owed.edits_in_window) == (
        None,
        None,
        None,
        0,
    )
