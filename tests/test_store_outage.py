"""Our own outage: the database cannot be written (disk full), then it can again.

The real Poller, a real Store file and the loopback feed server, with a clock moved by
hand. A full disk is real SQLite: `PRAGMA max_page_count` set to the database's size on
the store's connection makes every write that needs a page fail with SQLITE_FULL
"database or disk is full"; raising it is the disk freed. Admin notices go to a recording
notifier (the poller's own callback, wired to the dispatcher in the real bot).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot

from bot.config import Settings, settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import RouteSpec
from bot.render.notices import MAX_ERROR, store_recovered_notice, store_unwritable_notice
from bot.services.config_sync import sync_config
from bot.services.poller import Poller, PollOutcome
from bot.store import Store
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_html import validate_message_text
from tests.fakes.virtual_time import VirtualClock
from tests.test_dispatcher import CHANNEL_A, Harness

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TICK = 30.0  # seconds: the bot's default tick
PATH = "/agency.xml"


def rss(items: list[tuple[int, datetime | None]]) -> bytes:
    """An RSS document; each item is (number, publication time or None for undated)."""
    body = "".join(
        f"<item><guid>agency-{n}</guid><title>Agency release {n}</title>"
        f"<link>https://agency.example/r/{n}</link>"
        + (f"<pubDate>{format_datetime(when)}</pubDate>" if when else "")
        + f"<description>About release {n}.</description></item>"
        for n, when in reversed(items)  # newest first, as feeds list them
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Agency</title><link>https://agency.example/</link>{body}</channel></rss>"
    ).encode()


OLD = [(n, NOW - timedelta(days=4 - n)) for n in range(1, 4)]  # known before the outage
OUTAGE_START = NOW + timedelta(hours=1)
# 42 releases published during the outage, one every 5 minutes
DURING = [(n, OUTAGE_START + timedelta(minutes=5 * (n - 3))) for n in range(4, 46)]


class Rig:
    """One feed routed to one channel; a Poller whose clock and notices the test holds."""

    def __init__(self, tmp_path: Path, server: FeedServer) -> None:
        self.server = server
        self.now = NOW
        self.notices: list[str] = []
        self.round_errors: list[Exception] = []
        url = server.serve(PATH, rss(OLD))
        data = {
            "bot": {"database": str(tmp_path / "bot.db")},
            "fetch": {"allow_private_addresses": True, "timeout": 2.0},
            "defaults": {"flood_limit": 10},
            "feeds": [{"name": "agency", "url": url}],
            "channels": [{"name": "news", "chat": "@agency_news", "feeds": ["agency"]}],
        }
        self.settings: Settings = settings_from_dict(data, tmp_path)
        self.store = Store.open(self.settings.database_path)
        sync_config(self.store, self.settings, self.now)

    async def notify(self, text: str) -> None:
        self.notices.append(text)

    def poller(self, fetcher: Fetcher, *, notify: bool = True) -> Poller:
        return Poller(
            self.settings,
            store=self.store,
            fetcher=fetcher,
            clock=lambda: self.now,
            rng=random.Random(7),
            **({"notify": self.notify} if notify else {}),
        )

    def fill_disk(self, failure: str = "full") -> None:
        """Make writes fail: "full" (no new page), or "read-only" (no write at all, as on a
        file system remounted read-only after I/O errors)."""
        if failure == "read-only":
            self.store.db.execute("PRAGMA query_only = ON")
            return
        pages = self.store.db.execute("PRAGMA page_count").fetchone()[0]
        self.store.db.execute(f"PRAGMA max_page_count = {pages}")

    def free_disk(self) -> None:
        self.store.db.execute("PRAGMA query_only = OFF")
        self.store.db.execute("PRAGMA max_page_count = 1073741823")

    async def ticks(self, poller: Poller, count: int) -> list[PollOutcome]:
        """`count` ticks of the running bot, TICK seconds apart; a round that raises is
        kept in `round_errors` and the next tick goes on, as the bot's tick job does."""
        outcomes: list[PollOutcome] = []
        for _ in range(count):
            try:
                outcomes += await poller.poll_due()
            except Exception as exc:  # the tick job logs it and goes on; the test keeps it
                self.round_errors.append(exc)
            self.now += timedelta(seconds=TICK)
        return outcomes

    def pending_titles(self) -> list[str]:
        rows = self.store.db.execute(
            "SELECT r.title FROM deliveries d JOIN releases r ON r.id = d.release_id"
            " WHERE d.state = 'pending' ORDER BY d.id"
        )
        return [row[0] for row in rows]


@pytest.fixture
def rig(tmp_path: Path, feed_server: FeedServer) -> Iterator[Rig]:
    made = Rig(tmp_path, feed_server)
    yield made
    made.store.close()


def fetcher(rig: Rig) -> Fetcher:
    return Fetcher(rig.settings.fetch, user_agent=default_user_agent())


async def outage(
    rig: Rig, poller: Poller, *, items: list[tuple[int, datetime | None]], failure: str = "full"
) -> None:
    """Store the feed, then fill the disk while `items` are published; 30 min of ticks."""
    await rig.ticks(poller, 1)
    assert len(rig.store.latest(100)) == 3
    rig.server.serve(PATH, rss(OLD + items))
    rig.fill_disk(failure)
    rig.now = OUTAGE_START + timedelta(hours=4)  # the disk fills; releases pile up meanwhile
    await rig.ticks(poller, 60)


async def recover(rig: Rig, poller: Poller) -> None:
    rig.free_disk()
    await rig.ticks(poller, 60)  # within 30 min the backoff retries


@pytest.mark.parametrize(
    ("failure", "error"),
    [("full", "database or disk is full"), ("read-only", "attempt to write a readonly database")],
)
async def test_a_store_that_cannot_write_is_retried_with_backoff_not_every_tick(
    rig: Rig, caplog: pytest.LogCaptureFixture, failure: str, error: str
) -> None:
    """60 ticks with the disk full (or read-only) fetch the feed a few times, log one line
    (no traceback), and count no failure against the feed: it is our outage."""
    caplog.set_level(logging.INFO)
    async with fetcher(rig) as client:
        poller = rig.poller(client, notify=False)
        await outage(rig, poller, items=DURING, failure=failure)
        # one fetch that stored, then retries after 30 s, 1 min, 2, 4, 8 and 15 min
        assert 2 <= rig.server.hits(PATH) <= 1 + 6
        assert rig.round_errors == []
        assert [r for r in caplog.records if r.exc_info] == []
        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(problems) == 1
        assert error in problems[0].getMessage()
        state = rig.store.feed_state("agency")
        assert (state.failures, state.last_error) == (0, None)


async def test_the_admins_are_told_once_when_the_store_fails_and_once_when_it_recovers(
    rig: Rig,
) -> None:
    """One notice when writes start failing, naming the file, one when they work again."""
    async with fetcher(rig) as client:
        poller = rig.poller(client)
        await outage(rig, poller, items=DURING)
        assert len(rig.notices) == 1
        assert "cannot write to its database" in rig.notices[0]
        assert "database or disk is full" in rig.notices[0]
        assert "bot.db</b>" in rig.notices[0]
        await recover(rig, poller)
    assert len(rig.notices) == 2
    assert "again" in rig.notices[1]


async def test_every_release_published_during_the_outage_is_owed_after_it(rig: Rig) -> None:
    """42 releases appeared while the disk was full (flood_limit 10): all 42 are queued."""
    async with fetcher(rig) as client:
        poller = rig.poller(client, notify=False)
        await outage(rig, poller, items=DURING)
        await recover(rig, poller)
    assert len(rig.store.latest(100)) == 45
    owed = [f"Agency release {n}" for n in range(4, 46)]
    assert rig.pending_titles()[-42:] == owed


async def test_after_a_restart_the_releases_of_the_outage_are_still_all_owed(rig: Rig) -> None:
    """The bot restarted once the disk was freed (the poller's memory is gone): the 42
    releases dated since the feed was last stored still all reach the channel."""
    async with fetcher(rig) as client:
        await outage(rig, rig.poller(client, notify=False), items=DURING)
        rig.free_disk()
        await rig.ticks(rig.poller(client, notify=False), 1)
    owed = [f"Agency release {n}" for n in range(4, 46)]
    assert rig.pending_titles()[-42:] == owed


async def test_undated_releases_missed_during_the_outage_are_owed_too(rig: Rig) -> None:
    """Without dates nothing shows they are recent: the poller remembers the outage and
    does not flood-guard the feed's first store after it."""
    async with fetcher(rig) as client:
        poller = rig.poller(client, notify=False)
        await outage(rig, poller, items=[(n, None) for n, _ in DURING])
        await recover(rig, poller)
    assert len(rig.pending_titles()) == 1 + 42  # the route's backlog of 1, then the 42


# --- the flood guard itself ---------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "guard.db")
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes([("news", "@news_channel")], [RouteSpec("nida", "news", 1)], now=NOW)
    yield store
    store.close()


def stored_at(store: Store, moment: datetime) -> None:
    store.record_fetch_success(
        "nida", now=moment, next_poll=moment, etag=None, last_modified=None, body_hash=None
    )


def test_the_flood_guard_still_holds_back_an_old_archive(store: Store) -> None:
    """A known feed re-listing 30 releases dated before its last store queues 10."""
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    stored_at(store, NOW)
    archive = [make_release(n) for n in range(2, 32)]  # dated 2014
    result = store.ingest("nida", archive, now=NOW + timedelta(minutes=15), flood_limit=10)
    assert (result.new, result.queued, result.flooded) == (30, 10, 20)


def test_the_flood_guard_never_holds_back_releases_dated_since_the_last_store(
    store: Store,
) -> None:
    """20 old archive entries and 15 releases dated since the last store: the 15 are all
    queued, the archive entries held back (the guard has already let 10 through)."""
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    stored_at(store, NOW)
    archive = [make_release(n) for n in range(2, 22)]
    recent = [make_release(n, published=NOW + timedelta(minutes=n)) for n in range(100, 115)]
    later = NOW + timedelta(days=2)
    result = store.ingest("nida", archive + recent, now=later, flood_limit=10)
    assert (result.new, result.queued, result.flooded) == (35, 15, 20)
    pending = {owed.delivery.release_id for owed in store.pending_for_channel("news", later)}
    queued = {r.release.title for r in store.latest(100) if r.id in pending}
    owed = [1, *range(100, 115)]  # the route's backlog of 1, then the recent ones
    assert queued == {f"Release number {n} about addiction research" for n in owed}
    future = [make_release(n, published=later + timedelta(days=9)) for n in range(200, 230)]
    held = store.ingest("nida", future, now=later, flood_limit=10)
    assert held.flooded == 20  # dated in the future: cannot show it is recent


def test_an_archive_re_listed_with_a_fresh_update_date_is_still_held_back(store: Store) -> None:
    """50 archive entries moved to new links, undated but `updated` at the move (as Atom
    feeds do): an update date does not show a release is new, so 40 are held back."""
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    stored_at(store, NOW)
    moved = NOW + timedelta(minutes=5)
    archive = [make_release(n, published=None, updated=moved) for n in range(2, 52)]
    result = store.ingest("nida", archive, now=NOW + timedelta(minutes=15), flood_limit=10)
    assert (result.new, result.queued, result.flooded) == (50, 10, 40)


# --- the notices ------------------------------------------------------------------------

PRINTABLE = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=400)


@given(database=PRINTABLE, error=PRINTABLE, seconds=st.floats(0, 10**7))
def test_the_notices_are_valid_telegram_html_whatever_the_path_and_error(
    database: str, error: str, seconds: float
) -> None:
    """Telegram accepts both notices and shows the path and the engine's words as given."""
    unwritable = validate_message_text(
        store_unwritable_notice(database, error, seconds), parse_mode="HTML"
    )
    assert database in unwritable.text
    assert error[: MAX_ERROR - 1] in unwritable.text
    recovered = validate_message_text(store_recovered_notice(database, seconds), parse_mode="HTML")
    assert database in recovered.text


# --- the dispatcher -------------------------------------------------------------------


@pytest.fixture
async def harness(
    tmp_path: Path, virtual_bot_api: FakeBotAPI, vclock: VirtualClock
) -> AsyncIterator[Harness]:
    virtual_bot_api.add_chat(CHANNEL_A, "channel", title="A news")
    async with Bot(virtual_bot_api.token, base_url=virtual_bot_api.base_url) as client:
        channels = [{"name": "a-news", "chat": CHANNEL_A, "feeds": ["nida"]}]
        made = Harness(tmp_path, client, channels, vclock)
        yield made
        made.store.close()


async def test_the_dispatcher_waits_when_the_outbox_cannot_be_written(
    harness: Harness, virtual_bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """A send cannot be recorded: nothing is sent, the drain returns instead of crashing or
    spinning, one line is logged, and the posts go out once the store can write again."""
    harness.ingest("nida", [make_release(n) for n in range(1, 3)])
    harness.store.db.execute("PRAGMA query_only = ON")  # every write refused by SQLite
    for _ in range(3):
        report = await asyncio.wait_for(harness.dispatcher.drain(), timeout=5)
        harness.clock.advance(5)
    assert report.retrying == 1
    assert virtual_bot_api.requests_for("sendMessage") == []
    assert [r for r in caplog.records if r.exc_info] == []
    assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1
    harness.store.db.execute("PRAGMA query_only = OFF")
    harness.clock.advance(60)  # the dispatcher tries again within a minute
    await asyncio.wait_for(harness.dispatcher.drain(), timeout=10)
    assert len(virtual_bot_api.messages(CHANNEL_A)) == 2
    assert {row["state"] for row in harness.rows("a-news")} == {"sent"}
