"""Two processes writing one database: a write transaction waits for the other, never fails."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.models import RouteSpec
from bot.store import Store
from tests.factories import make_release

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_a_write_transaction_survives_a_commit_made_after_its_first_read(tmp_path: Path) -> None:
    """`poll` or `status` beside `run`: a commit between a transaction's read and its write
    delays that write (busy_timeout) instead of failing it with "database is locked"."""
    path = tmp_path / "bot.db"
    first, second = Store.open(path), Store.open(path)
    try:
        first.sync_feeds([("nida", "https://nida.example/feed")])
        other = threading.Thread(
            target=second.sync_feeds, args=([("nih", "https://nih.example/feed")],)
        )
        with first.writing():
            first.db.execute("SELECT count(*) FROM feeds").fetchone()
            other.start()
            other.join(timeout=0.3)  # a plain BEGIN lets the other commit here
            result = first.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
        other.join(timeout=10)
        assert result.new == 1
        assert not other.is_alive()
        names = [r[0] for r in second.db.execute("SELECT name FROM feeds ORDER BY name")]
        assert names == ["nida", "nih"]
    finally:
        first.close()
        second.close()


def test_sync_and_ingest_from_two_connections_at_once_all_land(tmp_path: Path) -> None:
    """Many syncs and ingests interleaved from two connections: every write lands, none fails."""
    path = tmp_path / "bot.db"
    stores = [Store.open(path), Store.open(path)]
    stores[0].sync_feeds([("nida", "https://nida.example/feed")])
    errors: list[BaseException] = []

    def ingest_many(store: Store) -> None:
        try:
            for n in range(40):
                release = make_release(n)
                store.ingest("nida", [release], now=NOW, flood_limit=100)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def sync_many(store: Store) -> None:
        try:
            for _ in range(40):
                store.sync_feeds([("nida", "https://nida.example/feed")])
                store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 0)], now=NOW)
                store.db.execute("SELECT count(*) FROM releases").fetchone()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=ingest_many, args=(stores[0],)),
        threading.Thread(target=sync_many, args=(stores[1],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        count = stores[0].db.execute("SELECT count(*) FROM releases").fetchone()[0]
        assert count == 40
    finally:
        for store in stores:
            store.close()
