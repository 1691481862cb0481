"""The SQLite store: dedupe, updates, the outbox written with releases, backlog, flood guard."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.errors import StoreError
from bot.models import RouteSpec
from bot.store import Store
from tests.factories import make_release

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "test.db")
    store.sync_feeds([("nida", "https://example.org/feed"), ("nih", "https://example.org/nih")])
    yield store
    store.close()


def route(store: Store, feed: str = "nida", channel: str = "news", backlog: int = 1) -> int:
    return store.sync_routes(
        [(channel, "@news_channel")], [RouteSpec(feed, channel, backlog)], now=NOW
    )


def pending(store: Store) -> list[tuple[str, str]]:
    """(channel, release title) of every pending delivery, oldest first."""
    rows = store.db.execute(
        "SELECT d.channel, r.title FROM deliveries d JOIN releases r ON r.id = d.release_id"
        " WHERE d.state = 'pending' ORDER BY d.id"
    )
    return [tuple(row) for row in rows]


def test_known_key_is_not_new(store):
    """Polling the same entries twice stores them once."""
    releases = [make_release(i) for i in range(1, 4)]
    assert store.ingest("nida", releases, now=NOW, flood_limit=10).new == 3
    again = store.ingest("nida", releases, now=NOW, flood_limit=10)
    assert (again.new, again.updated) == (0, 0)
    assert len(store.latest(10)) == 3


def test_changed_title_is_an_update_and_flags_sent_posts_for_editing(store):
    """A corrected title is an update, and the message already sent is marked for an edit."""
    route(store, backlog=1)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    delivery = store.pending_for_channel("news", NOW)[0].delivery
    store.mark_sending(delivery.id)
    store.mark_sent(delivery.id, message_id=77, now=NOW)
    result = store.ingest(
        "nida", [make_release(1, title="Corrected title")], now=NOW, flood_limit=10
    )
    assert (result.new, result.updated) == (0, 1)
    assert [owed.delivery.id for owed in store.edits_for_channel("news", NOW)] == [delivery.id]
    assert store.latest(1)[0].release.title == "Corrected title"


def test_guid_churn_with_same_canonical_url_is_the_same_release(store):
    """A feed that changes an entry's guid but not its URL does not produce a second post."""
    route(store)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    churned = make_release(1, key="urn:uuid:new-guid")
    result = store.ingest("nida", [churned], now=NOW, flood_limit=10)
    assert result.new == 0
    assert len(pending(store)) == 1


def test_first_poll_of_new_route_queues_only_the_backlog(store):
    """A new route is owed the newest `backlog` releases, oldest first; older ones nothing."""
    route(store, backlog=2)
    store.ingest("nida", [make_release(i) for i in range(1, 6)], now=NOW, flood_limit=10)
    assert pending(store) == [
        ("news", "Release number 4 about addiction research"),
        ("news", "Release number 5 about addiction research"),
    ]


def test_backlog_zero_posts_only_later_releases(store):
    """backlog = 0: nothing old is posted, every release after the first poll is."""
    route(store, backlog=0)
    store.ingest("nida", [make_release(1), make_release(2)], now=NOW, flood_limit=10)
    assert pending(store) == []
    store.ingest("nida", [make_release(3), make_release(1)], now=NOW, flood_limit=10)
    assert pending(store) == [("news", "Release number 3 about addiction research")]


def test_route_added_to_a_known_feed_gets_its_backlog_at_once(store):
    """Adding a channel to a feed that already has releases queues its backlog immediately."""
    store.ingest("nida", [make_release(i) for i in range(1, 4)], now=NOW, flood_limit=10)
    assert route(store, backlog=1) == 1
    assert pending(store) == [("news", "Release number 3 about addiction research")]


def test_removed_route_drops_its_pending_deliveries(store):
    """A channel no longer following a feed gets none of its pending posts."""
    route(store, backlog=3)
    store.ingest("nida", [make_release(i) for i in range(1, 4)], now=NOW, flood_limit=10)
    store.sync_routes([("news", "@news_channel")], [], now=NOW)
    assert pending(store) == []


def test_flood_guard_queues_only_the_newest(store):
    """A known feed that suddenly lists 30 new entries queues the newest flood_limit of them."""
    route(store, backlog=1)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    result = store.ingest("nida", [make_release(i) for i in range(2, 32)], now=NOW, flood_limit=10)
    assert (result.new, result.queued, result.flooded) == (30, 10, 20)
    titles = [title for _, title in pending(store)]
    assert titles[-1] == "Release number 31 about addiction research"
    assert "Release number 21 about addiction research" not in titles
    assert len(store.latest(100)) == 31


def test_cross_posted_release_reaches_a_chat_once(store):
    """Two feeds carrying the same canonical URL, both routed to one channel: one delivery."""
    store.sync_routes(
        [("news", "@news_channel")],
        [RouteSpec("nida", "news", 0), RouteSpec("nih", "news", 0)],
        now=NOW,
    )
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    store.ingest("nida", [make_release(2)], now=NOW, flood_limit=10)
    store.ingest("nih", [make_release(1, feed="nih")], now=NOW, flood_limit=10)
    store.ingest("nih", [make_release(2, feed="nih", key="nih-2")], now=NOW, flood_limit=10)
    assert pending(store) == [("news", "Release number 2 about addiction research")]


def test_ingest_is_atomic(store):
    """If storing one release fails, no release of that poll and no delivery is kept."""
    route(store, backlog=5)
    store.db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON releases WHEN NEW.title = 'boom'"
        " BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    releases = [make_release(1), make_release(2, title="boom"), make_release(3)]
    with pytest.raises(StoreError):
        store.ingest("nida", releases, now=NOW, flood_limit=10)
    assert store.latest(10) == []
    assert pending(store) == []


def test_in_flight_sends_are_owed_again_after_a_crash(store):
    """A delivery left 'sending' by a crash goes back to pending on restart."""
    route(store)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    delivery = store.pending_for_channel("news", NOW)[0].delivery
    store.mark_sending(delivery.id)
    assert store.channels_with_work(NOW) == []
    assert store.recover_in_flight() == 1
    assert [owed.delivery.id for owed in store.pending_for_channel("news", NOW)] == [delivery.id]


@pytest.mark.parametrize(
    ("words", "title"),
    [
        ("COVID-19", "COVID-19 vaccines and opioid use"),
        ("NIH's", "NIH's new initiative on pain"),
        ('"quoted"', 'A "quoted" study on cannabis'),
        ("cannabis adolescents", "Cannabis use among adolescents rises"),
    ],
)
def test_search_takes_punctuation_literally(store, words, title):
    """Readers can search for words with hyphens, apostrophes and quotes."""
    titles = [
        "COVID-19 vaccines and opioid use",
        "NIH's new initiative on pain",
        'A "quoted" study on cannabis',
        "Cannabis use among adolescents rises",
    ]
    store.ingest(
        "nida",
        [make_release(i, title=t) for i, t in enumerate(titles, start=1)],
        now=NOW,
        flood_limit=10,
    )
    assert store.search(words, 5)[0].release.title == title


def test_search_with_no_usable_words_finds_nothing(store):
    """Punctuation alone is not an FTS syntax error, just no match."""
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    assert store.search('"" - * ( )', 5) == []


def test_find_release_by_id_url_and_key(store):
    """/cite accepts an id, '#id', the canonical or original URL, or the key."""
    store.ingest("nida", [make_release(1, key="guid-1")], now=NOW, flood_limit=10)
    release_id = store.latest(1)[0].id
    for ref in (
        str(release_id),
        f"#{release_id}",
        "https://example.org/releases/1",
        "https://example.org/releases/1?utm_source=rss",
        "guid-1",
    ):
        found = store.find_release(ref)
        assert found is not None, ref
        assert found.id == release_id, ref


def test_latest_orders_by_publication_date(store):
    """Newest first by the publisher's date, whatever order the feed listed them in."""
    store.ingest(
        "nida", [make_release(2), make_release(5), make_release(1)], now=NOW, flood_limit=10
    )
    assert [s.release.key for s in store.latest(3)] == [make_release(n).key for n in (5, 2, 1)]


def test_dates_round_trip_with_their_offset(store):
    """A release stored at 22:30 -04:00 comes back at 22:30 -04:00, still 3 April."""
    value = make_release(1).published
    assert value is not None
    late = replace(make_release(1), published=value.replace(day=3, hour=22, minute=30))
    store.ingest("nida", [late], now=NOW, flood_limit=10)
    back = store.latest(1)[0].release.published
    assert back == late.published
    assert back.isoformat() == "2014-04-03T22:30:00-04:00"


def test_scoped_search_finds_a_quiet_feeds_release_behind_many_newer_matches(store):
    """A channel of a quiet feed still finds its release when 2,500 newer ones match too."""
    store.ingest(
        "nih",
        [make_release(1, feed="nih", title="Vaccine trial in rural clinics")],
        now=NOW,
        flood_limit=10,
    )
    busy = [make_release(n, title=f"Vaccine update {n}") for n in range(2, 2502)]
    store.ingest("nida", busy, now=NOW, flood_limit=10)
    found = store.search("vaccine", 5, feeds=["nih"])
    assert [s.release.title for s in found] == ["Vaccine trial in rural clinics"]
    assert len(store.search("vaccine", 5)) == 5
    assert store.search("vaccine", 5, feeds=[]) == []


def test_a_change_while_the_post_is_on_its_way_is_edited_in_after_it_is_sent(store):
    """The dispatcher renders a post, then sends it at the channel's pace: a correction
    stored in between is owed an edit once the post is sent (not lost)."""
    route(store, backlog=1)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    delivery = store.pending_for_channel("news", NOW)[0].delivery  # read, rendered
    store.mark_sending(delivery.id)
    store.ingest("nida", [make_release(1, title="Corrected title")], now=NOW, flood_limit=10)
    store.mark_sent(delivery.id, message_id=77, now=NOW)
    assert [owed.delivery.id for owed in store.edits_for_channel("news", NOW)] == [delivery.id]
