"""Renaming is not re-creating: a feed is its URL, a channel its chat; names are labels.

Syncing a config that renames a feed or a channel relabels the stored row in place: no
new row, no release stored twice, no delivery lost or queued again, pause and chat id kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Delivery, RouteSpec
from bot.store import Store
from bot.store.identity import plan_labels
from tests.factories import make_release

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NIDA_URL = "https://example.org/feed"
NIH_URL = "https://example.org/nih"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "test.db")
    yield store
    store.close()


def sync(
    store: Store,
    feeds: dict[str, str],
    channels: dict[str, str],
    routes: list[tuple[str, str]],
    *,
    backlog: int = 10,
) -> int:
    """What sync_config does with a config of these feeds, channels and routes."""
    store.sync_feeds(feeds.items())
    specs = [RouteSpec(feed, channel, backlog) for feed, channel in routes]
    return store.sync_routes(list(channels.items()), specs, now=NOW)


def poll(store: Store, feed: str, numbers: range, *, flood_limit: int = 10) -> int:
    """Ingest releases `numbers` as feed `feed` lists them; returns how many were new."""
    releases = [make_release(n, feed=feed) for n in numbers]
    return store.ingest(feed, releases, now=NOW, flood_limit=flood_limit).new


def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in store.db.execute(sql)]


def deliveries(store: Store) -> list[tuple[object, ...]]:
    """(channel, release id, state, message id) of every delivery, oldest first."""
    return rows(store, "SELECT channel, release_id, state, message_id FROM deliveries ORDER BY id")


def pending(store: Store) -> list[Delivery]:
    """Every pending delivery, oldest first, read as the dispatcher reads the outbox."""
    owed = [
        owed.delivery
        for channel in store.channels_with_work(NOW, edits=False)
        for owed in store.pending_for_channel(channel, NOW, limit=1_000)
    ]
    return sorted(owed, key=lambda delivery: delivery.id)


def release_count(store: Store) -> int:
    """How many releases /latest can list."""
    return len(store.latest(1_000))


def send_all(store: Store) -> None:
    """Mark every pending delivery sent, as the dispatcher would."""
    for number, delivery in enumerate(pending(store), start=100):
        store.mark_sending(delivery.id)
        store.mark_sent(delivery.id, message_id=number, now=NOW)


def assert_consistent(store: Store) -> None:
    """No dangling reference and an intact full-text index."""
    assert rows(store, "PRAGMA foreign_key_check") == []
    store.db.execute("INSERT INTO releases_fts (releases_fts) VALUES ('integrity-check')")


def test_renaming_a_channel_keeps_its_deliveries_and_queues_nothing(store: Store) -> None:
    """Same chat under a new name: its 4 sent posts stay sent, nothing is owed again."""
    sync(store, {"nida": NIDA_URL}, {"news": "@agency_news"}, [("nida", "news")])
    poll(store, "nida", range(1, 5))
    send_all(store)
    before = deliveries(store)
    route_before = rows(store, "SELECT created_at, backlog_done FROM routes")

    for _ in range(2):  # a second sync of the same config changes nothing more
        queued = sync(store, {"nida": NIDA_URL}, {"agency": "@agency_news"}, [("nida", "agency")])
        assert queued == 0
    assert rows(store, "SELECT name, chat FROM channels") == [("agency", "@agency_news")]
    assert deliveries(store) == [("agency", *row[1:]) for row in before]
    assert rows(store, "SELECT created_at, backlog_done FROM routes") == route_before
    assert pending(store) == []
    assert_consistent(store)


def test_a_renamed_channel_keeps_its_pause_and_chat_id(store: Store) -> None:
    """Renamed and given by its numeric id: still paused, still the resolved chat."""
    sync(store, {"nida": NIDA_URL}, {"news": "@agency_news"}, [("nida", "news")])
    store.set_chat_id("news", -1001)
    store.pause_channel("news", "Forbidden: bot was kicked")
    sync(store, {"nida": NIDA_URL}, {"agency": "-1001"}, [("nida", "agency")])
    state = store.channel_state("agency")
    assert (state.chat, state.chat_id, state.paused) == ("-1001", -1001, True)
    assert state.pause_error == "Forbidden: bot was kicked"
    assert [c.name for c in store.channel_states()] == ["agency"]


def test_a_migrated_group_renamed_under_its_new_id_keeps_its_deliveries(store: Store) -> None:
    """The group became a supergroup (id followed); the config now names the new id under
    a new name: the same chat, so its sent posts are not owed again."""
    sync(store, {"nida": NIDA_URL}, {"editors": "-4001"}, [("nida", "editors")])
    poll(store, "nida", range(1, 3))
    send_all(store)
    store.set_chat_id("editors", -1004001)
    queued = sync(store, {"nida": NIDA_URL}, {"eds": "-1004001"}, [("nida", "eds")])
    assert queued == 0
    assert rows(store, "SELECT name, chat, chat_id FROM channels") == [
        ("eds", "-1004001", -1004001)
    ]
    assert {row[0] for row in deliveries(store)} == {"eds"}


def test_renaming_a_feed_lists_its_releases_once(store: Store) -> None:
    """Same URL under a new name: no second row, `latest` lists each release once, a new
    poll finds nothing new, and the route's deliveries follow."""
    sync(store, {"nida": NIDA_URL}, {"news": "@agency_news"}, [("nida", "news")])
    poll(store, "nida", range(1, 5))
    send_all(store)
    for _ in range(2):
        queued = sync(store, {"drugs": NIDA_URL}, {"news": "@agency_news"}, [("drugs", "news")])
        assert queued == 0
    assert rows(store, "SELECT name, url FROM feeds") == [("drugs", NIDA_URL)]
    assert poll(store, "drugs", range(1, 5)) == 0
    latest = store.latest(100)
    assert len(latest) == 4
    assert {stored.release.feed for stored in latest} == {"drugs"}
    assert pending(store) == []
    assert [s.release.feed for s in store.search("addiction", 5, ["drugs"])] == ["drugs"] * 4
    assert store.find_release(str(latest[0].id), ["drugs"]) is not None
    assert_consistent(store)


def test_a_feed_found_by_its_redirected_url_is_renamed(store: Store) -> None:
    """The config now gives the URL the feed was permanently redirected to, under a new name."""
    sync(store, {"nida": NIDA_URL}, {}, [])
    moved = "https://new.example.org/feed"
    store.record_fetch_success(
        "nida",
        now=NOW,
        next_poll=NOW,
        etag="e1",
        last_modified=None,
        body_hash="h",
        current_url=moved,
    )
    poll(store, "nida", range(1, 3))
    sync(store, {"drugs": moved}, {}, [])
    assert rows(store, "SELECT name, url, current_url FROM feeds") == [("drugs", moved, moved)]
    assert release_count(store) == 2


def test_a_feed_whose_url_changes_under_its_name_keeps_its_releases(store: Store) -> None:
    """A publisher moving its feed: same name, new URL, same row, fetch state reset."""
    sync(store, {"nida": NIDA_URL}, {}, [])
    store.record_fetch_success(
        "nida", now=NOW, next_poll=NOW, etag="e1", last_modified=None, body_hash="h"
    )
    poll(store, "nida", range(1, 3))
    sync(store, {"nida": "https://moved.example.org/rss"}, {}, [])
    state = store.feed_state("nida")
    assert (state.url, state.etag, state.body_hash) == ("https://moved.example.org/rss", None, None)
    assert release_count(store) == 2


def test_two_channels_swapping_names_keep_their_own_deliveries(store: Store) -> None:
    """ "a" and "b" exchange names: each chat keeps what it was sent; nothing is re-queued."""
    sync(store, {"nida": NIDA_URL}, {"a": "@chat_a", "b": "@chat_b"}, [("nida", "a")])
    poll(store, "nida", range(1, 3))
    send_all(store)
    sync(store, {"nida": NIDA_URL}, {"a": "@chat_b", "b": "@chat_a"}, [("nida", "b")])
    assert rows(store, "SELECT name, chat FROM channels ORDER BY name") == [
        ("a", "@chat_b"),
        ("b", "@chat_a"),
    ]
    assert {row[0] for row in deliveries(store)} == {"b"}
    assert pending(store) == []
    assert_consistent(store)


def test_two_feeds_swapping_names_keep_their_own_releases(store: Store) -> None:
    """ "nida" and "nih" exchange names: each URL keeps its releases, none is stored twice."""
    sync(store, {"nida": NIDA_URL, "nih": NIH_URL}, {}, [])
    poll(store, "nida", range(1, 3))
    poll(store, "nih", range(10, 13))
    sync(store, {"nida": NIH_URL, "nih": NIDA_URL}, {}, [])
    assert rows(store, "SELECT name, url FROM feeds ORDER BY name") == [
        ("nida", NIH_URL),
        ("nih", NIDA_URL),
    ]
    assert poll(store, "nida", range(10, 13)) == 0
    assert poll(store, "nih", range(1, 3)) == 0
    assert release_count(store) == 5
    assert_consistent(store)


def test_a_new_chat_taking_a_renamed_channels_old_name_gets_only_the_backlog(store: Store) -> None:
    """ "news" (@a) becomes "news-a", and "news" now names another chat (@b): @a keeps its
    history, @b is a new channel owed the backlog."""
    sync(store, {"nida": NIDA_URL}, {"news": "@chat_aaaa"}, [("nida", "news")], backlog=2)
    poll(store, "nida", range(1, 4))
    send_all(store)
    queued = sync(
        store,
        {"nida": NIDA_URL},
        {"news-a": "@chat_aaaa", "news": "@chat_bbbb"},
        [("nida", "news-a"), ("nida", "news")],
        backlog=2,
    )
    assert queued == 2
    assert rows(store, "SELECT name, chat FROM channels ORDER BY name") == [
        ("news", "@chat_bbbb"),
        ("news-a", "@chat_aaaa"),
    ]
    states = rows(store, "SELECT channel, state, count(*) FROM deliveries GROUP BY 1, 2")
    assert sorted(states) == [("news", "pending", 2), ("news-a", "sent", 2)]
    assert_consistent(store)


def test_an_unconfigured_chat_whose_name_is_taken_is_moved_aside(store: Store) -> None:
    """ "news" now names the chat "b" had: the old "news" chat keeps its row and history
    under another label, and "b"'s chat, newly routed, is owed the backlog."""
    sync(store, {"nida": NIDA_URL}, {"news": "@chat_aaaa", "b": "@chat_bbbb"}, [("nida", "news")])
    poll(store, "nida", range(1, 3))
    send_all(store)
    sync(store, {"nida": NIDA_URL}, {"news": "@chat_bbbb"}, [("nida", "news")])
    assert rows(store, "SELECT name, chat FROM channels ORDER BY name") == [
        ("news", "@chat_bbbb"),
        ("news~1", "@chat_aaaa"),
    ]
    assert {row[:3] for row in deliveries(store)} == {
        ("news~1", 1, "sent"),
        ("news~1", 2, "sent"),
        ("news", 1, "pending"),
        ("news", 2, "pending"),
    }
    assert_consistent(store)


def test_renaming_feed_and_channel_at_once_then_ingesting_stays_consistent(store: Store) -> None:
    """Both renamed in one config edit; later releases reach the chat under the new names."""
    sync(store, {"nida": NIDA_URL}, {"news": "@agency_news"}, [("nida", "news")])
    poll(store, "nida", range(1, 3))
    send_all(store)
    sync(store, {"drugs": NIDA_URL}, {"agency": "@agency_news"}, [("drugs", "agency")])
    assert poll(store, "drugs", range(1, 4)) == 1
    assert [(d.channel, d.release_id) for d in pending(store)] == [("agency", 3)]
    assert_consistent(store)


# --- the plan, for any stored rows and any config ------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d", "a~1"])
KEYS = st.integers(min_value=0, max_value=4)


@given(
    stored=st.dictionaries(NAMES, KEYS, max_size=5),
    wanted=st.dictionaries(NAMES.filter(lambda n: "~" not in n), KEYS, max_size=4),
)
def test_a_label_plan_never_loses_or_merges_rows(
    stored: dict[str, int], wanted: dict[str, int]
) -> None:
    """Running the steps never renames onto a name in use, keeps every row, gives each
    configured name its own row, and a configured key that was stored keeps its row."""
    plan = plan_labels(list(wanted.items()), stored, lambda key, row: key == row)
    names = {name: name for name in stored}  # current label -> original row
    for old, new in plan.steps:
        assert new not in names
        names[new] = names.pop(old)
    assert sorted(names.values()) == sorted(stored)
    owners = [row for row in plan.owner.values() if row is not None]
    assert len(owners) == len(set(owners))
    for name, row in plan.owner.items():
        if row is None:
            assert name not in names
        else:
            assert names[name] == row
            assert stored[row] == wanted[name] or row == name
    for name, key in wanted.items():
        if key in stored.values() and plan.owner[name] is None:
            claimed = {row for row in owners if stored[row] == key}
            assert claimed == {row for row, value in stored.items() if value == key}


def test_a_swap_of_many_labels_takes_temporary_names_only_for_the_cycle() -> None:
    """a->b->c->a rotate; d is renamed straight to its new name."""
    stored = {"a": 1, "b": 2, "c": 3, "d": 4}
    plan = plan_labels([("b", 1), ("c", 2), ("a", 3), ("e", 4)], stored, int.__eq__)
    assert dict(plan.owner) == {"b": "a", "c": "b", "a": "c", "e": "d"}
    assert ("d", "e") in plan.steps
    assert len(plan.steps) == 5  # one temporary step breaks the 3-cycle


def test_an_unchanged_config_syncs_without_writing_a_row(store: Store) -> None:
    """A restart with the same config changes nothing in the database (so a full disk at
    start does not stop the bot before it can back off and tell the admins)."""
    sync(store, {"nida": "https://nida.example/feed"}, {"agency": "@agency"}, [("nida", "agency")])
    poll(store, "nida", range(1, 4))
    before = store.db.conn.total_changes
    sync(store, {"nida": "https://nida.example/feed"}, {"agency": "@agency"}, [("nida", "agency")])
    assert store.db.conn.total_changes == before
