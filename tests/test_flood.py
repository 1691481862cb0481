"""A feed listing a flood of items: only the newest `fetch.max_items` are taken, they are
stored in steps the event loop can breathe between, and polling it again writes nothing.

The 100,000-item case is measured in bench/bench_flood.py; these tests use a few
thousand items, which exercise the same code in a fraction of the time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.config import Settings, settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import IngestResult, RouteSpec
from bot.services.config_sync import sync_config
from bot.services.poller import Poller, PollOutcome
from bot.store import Store
from tests.factories import make_release
from tests.fakes.feed_server import FeedServer

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FIRST_DAY = datetime(2000, 1, 1, 12, 0, tzinfo=UTC)


def flood(items: int, *, build: int = 0) -> bytes:
    """An RSS document of `items` small items, item n dated n hours after 1 January 2000;
    `build` changes the bytes (lastBuildDate) and nothing else."""
    body = "".join(
        f"<item><guid isPermaLink='false'>item-{n}</guid><title>Item {n}</title>"
        f"<pubDate>{format_datetime(FIRST_DAY + timedelta(hours=n))}</pubDate></item>"
        for n in range(items)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Flood</title>"
        f"<link>https://flood.example/</link><lastBuildDate>{build}</lastBuildDate>{body}"
        "</channel></rss>"
    ).encode()


def settings_for(tmp_path: Path, url: str, **fetch: object) -> Settings:
    data = {
        "fetch": {"allow_private_addresses": True, "max_bytes": 64 * 1024 * 1024, **fetch},
        "feeds": [{"name": "flood", "url": url}],
        "channels": [{"name": "news", "chat": "@agency_news", "feeds": ["flood"]}],
    }
    return settings_from_dict(data, tmp_path)


async def poll(settings: Settings, store: Store) -> PollOutcome:
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
        (outcome,) = await poller.poll_all()
    assert outcome.status == "ok", outcome.error
    return outcome


def database_bytes(store: Store) -> int:
    """The database's size, its write-ahead log included (the file alone lags behind it)."""
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    return int(pages * store.db.execute("PRAGMA page_size").fetchone()[0])


async def test_a_flood_polled_three_times_is_capped_and_stops_growing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """2,000 items, max_items 1,000: the newest 1,000 are stored, the poll says it skipped
    1,000, and the next two polls of the same items (new bytes) rewrite nothing."""
    url = feed_server.serve("/feed.xml", flood(2_000))
    settings = settings_for(tmp_path, url)
    assert settings.fetch.max_items == 1_000  # the documented default
    store = Store.open(tmp_path / "bot.db")
    sync_config(store, settings, NOW)
    try:
        outcomes, sizes = [], []
        for build in range(3):
            feed_server.serve("/feed.xml", flood(2_000, build=build))
            outcomes.append(await poll(settings, store))
            sizes.append(database_bytes(store))
        keys = {row[0] for row in store.db.execute("SELECT key FROM releases")}
        rewritten = store.db.execute("SELECT count(*) FROM releases WHERE changed_at IS NOT NULL")
        assert rewritten.fetchone()[0] == 0
    finally:
        store.close()
    assert [o.skipped for o in outcomes] == [1_000, 1_000, 1_000]
    assert [o.result.new if o.result else None for o in outcomes] == [1_000, 0, 0]
    assert keys == {f"item-{n}" for n in range(1_000, 2_000)}  # the newest
    assert sizes[2] == sizes[1] == sizes[0], sizes


async def test_commands_are_answered_while_a_flood_is_stored(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Between two steps of storing 1,000 new releases, other work on the event loop runs
    (and sees the releases stored so far): the bot does not freeze for the whole ingest."""
    url = feed_server.serve("/feed.xml", flood(1_000))
    settings = settings_for(tmp_path, url)
    store = Store.open(tmp_path / "bot.db")
    sync_config(store, settings, NOW)
    seen: set[int] = set()
    polling = asyncio.ensure_future(poll(settings, store))
    try:
        while not polling.done():
            seen.add(len(store.latest(10_000)))  # what a /latest answered meanwhile would read
            await asyncio.sleep(0)
        await polling
    finally:
        store.close()
    assert {0, 1_000} <= seen
    assert any(0 < count < 1_000 for count in seen), sorted(seen)


# --- the store's steps keep the flood guard and backlog whole ------------------------------


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(tmp_path / "steps.db")
    store.sync_feeds([("nida", "https://example.org/feed")])
    yield store
    store.close()


def queued_titles(store: Store) -> list[str]:
    rows = store.db.execute(
        "SELECT r.title FROM deliveries d JOIN releases r ON r.id = d.release_id ORDER BY r.id"
    )
    return [row[0] for row in rows]


def test_the_flood_guard_holds_over_all_steps_not_per_step(store: Store) -> None:
    """250 new releases of a known feed, stored 100 at a time: the newest 10 are queued in
    all, not 10 per step."""
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 1)], now=NOW)
    store.ingest("nida", [make_release(0)], now=NOW, flood_limit=10)
    flood_releases = [make_release(n) for n in range(1, 251)]
    steps = list(store.ingest_steps("nida", flood_releases, now=NOW, flood_limit=10, chunk=100))
    assert len(steps) == 3
    assert steps[-1] == IngestResult(new=250, updated=0, queued=10, flooded=240)
    newest = [make_release(n).title for n in range(241, 251)]
    assert queued_titles(store) == [make_release(0).title, *newest]


def test_a_new_route_gets_its_backlog_once_after_the_last_step(store: Store) -> None:
    """The first store of 250 releases in steps queues the route's backlog of 2: the newest."""
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 2)], now=NOW)
    releases = [make_release(n) for n in range(1, 251)]
    result = list(store.ingest_steps("nida", releases, now=NOW, flood_limit=10, chunk=100))[-1]
    assert (result.new, result.queued) == (250, 2)
    assert queued_titles(store) == [make_release(249).title, make_release(250).title]


def test_an_ingest_stopped_between_steps_loses_nothing_and_posts_nothing_twice(
    store: Store,
) -> None:
    """Stopped after its first step (a crash, a SIGTERM), the next poll stores the rest and
    queues the same newest 10 an uninterrupted ingest would have."""
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 1)], now=NOW)
    store.ingest("nida", [make_release(0)], now=NOW, flood_limit=10)
    releases = [make_release(n) for n in range(1, 251)]
    steps = store.ingest_steps("nida", releases, now=NOW, flood_limit=10, chunk=100)
    first = next(steps)
    steps.close()  # the rest never runs
    assert (first.new, len(store.latest(1_000))) == (100, 101)
    again = store.ingest("nida", releases, now=NOW, flood_limit=10)
    assert (again.new, again.queued) == (150, 10)
    newest = [make_release(n).title for n in range(241, 251)]
    assert queued_titles(store) == [make_release(0).title, *newest]
