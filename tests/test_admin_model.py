"""Where settings live (issue 12): config-provisioned and chat-made feeds, chats and routes
in one store, read through one routing view; removed routes cancel, paused routes hold,
filters decide what a route is owed, every change has its audit row."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, settings_from_dict
from bot.errors import ConfigError
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import AuditEntry
from bot.services.config_sync import apply_config
from bot.services.dispatcher import Dispatcher
from bot.services.poller import Poller
from bot.services.routing import build_view
from bot.store import Store
from tests.factories import make_release
from tests.fakes.feed_server import FeedServer

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NIDA = "https://nida.example/feed"
NIH = "https://nih.example/feed"
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    b"<item><title>One</title><link>https://x.example/1</link><guid>x-1</guid></item>"
    b"</channel></rss>"
)


def config(tmp_path: Path, **data: Any) -> Settings:
    return settings_from_dict({"bot": {"database": "bot.db"}, **data}, tmp_path)


def file_config(
    tmp_path: Path, *, routes: list[dict[str, Any]] | None = None, **extra: Any
) -> Settings:
    data: dict[str, Any] = {
        "feeds": [{"name": "nida", "url": NIDA}, {"name": "nih", "url": NIH}],
        "channels": [{"name": "news", "chat": "@agency_news", "feeds": ["nida"]}],
        **extra,
    }
    if routes is not None:
        data["routes"] = routes
    return config(tmp_path, **data)


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(tmp_path / "bot.db")
    yield store
    store.close()


def pending_titles(store: Store, channel: str) -> list[str]:
    return [
        owed.stored.release.title
        for owed in store.pending_for_channel(channel, NOW)
        if owed.stored is not None
    ]


def chat_route(store: Store, feed: str, url: str, channel: str = "lab", backlog: int = 0) -> None:
    """What an admin's /add leaves: a chat-made feed (unless known), channel and route."""
    with store.change(AuditEntry(NOW, 7, "@ann", channel, "add", feed, "", "route")):
        if store.feed_by_url(url) is None:
            store.add_chat_feed(feed, url, title=feed.upper(), interval=900.0)
        if store.chat_target(-100777, None) is None:
            store.add_chat_channel(channel, -100777, None)
        store.add_chat_route(feed, channel, backlog, now=NOW)


def test_a_route_the_config_drops_cancels_its_pending_posts(tmp_path: Path, store: Store) -> None:
    """A route removed from the file: its pending posts become `cancelled`, never sent."""
    settings = file_config(tmp_path)
    apply_config(store, settings, NOW)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)  # the backlog
    store.ingest("nida", [make_release(2)], now=NOW, flood_limit=10)
    assert len(pending_titles(store, "news")) == 2
    dropped = file_config(
        tmp_path, channels=[{"name": "news", "chat": "@agency_news", "feeds": ["nih"]}]
    )
    apply_config(store, dropped, NOW)
    assert pending_titles(store, "news") == []
    assert store.delivery_counts()["news"] == {"cancelled": 2}


def test_chat_made_entries_survive_a_sync_and_join_the_view(tmp_path: Path, store: Store) -> None:
    """A feed, chat and route made in a chat stay through a sync of the file, marked `chat`."""
    settings = file_config(tmp_path)
    apply_config(store, settings, NOW)
    chat_route(store, "cdc", "https://cdc.example/feed")
    view = apply_config(store, settings, NOW)
    assert [(f.name, f.origin) for f in view.feeds] == [
        ("nida", "config"),
        ("nih", "config"),
        ("cdc", "chat"),
    ]
    assert [(c.name, c.origin, c.chat) for c in view.chats] == [
        ("news", "config", "@agency_news"),
        ("lab", "chat", "-100777"),
    ]
    route = view.route("cdc", "lab")
    assert route is not None
    assert route.origin == "chat"


def test_the_file_adopts_a_chat_made_feed_with_its_url(tmp_path: Path, store: Store) -> None:
    """The file now declaring a chat-made feed's URL takes that row (one feed, its releases
    kept, its chat route kept) under the file's name."""
    apply_config(store, file_config(tmp_path), NOW)
    chat_route(store, "cdc-news", "https://cdc.example/feed")
    store.ingest("cdc-news", [make_release(1, feed="cdc-news")], now=NOW, flood_limit=10)
    adopted = file_config(
        tmp_path,
        feeds=[
            {"name": "nida", "url": NIDA},
            {"name": "nih", "url": NIH},
            {"name": "cdc", "url": "https://cdc.example/feed"},
        ],
    )
    view = apply_config(store, adopted, NOW)
    assert [(f.name, f.origin) for f in view.feeds][-1] == ("cdc", "config")
    assert view.feed("cdc-news") is None
    assert [s.release.title for s in store.latest(5, ["cdc"])] == [make_release(1).title]
    route = view.route("cdc", "lab")
    assert route is not None
    assert route.origin == "chat"


def test_a_chat_feed_whose_name_the_file_takes_is_relabelled(tmp_path: Path, store: Store) -> None:
    """The file naming another URL `cdc` moves the chat's `cdc` to `cdc-2`, nothing lost."""
    apply_config(store, file_config(tmp_path), NOW)
    chat_route(store, "cdc", "https://cdc.example/feed")
    taken = file_config(
        tmp_path,
        feeds=[
            {"name": "nida", "url": NIDA},
            {"name": "nih", "url": NIH},
            {"name": "cdc", "url": "https://other.example/cdc"},
        ],
    )
    view = apply_config(store, taken, NOW)
    cdc, chat_cdc = view.feed("cdc"), view.feed("cdc-2")
    assert cdc is not None
    assert cdc.source == "https://other.example/cdc"
    assert chat_cdc is not None
    assert (chat_cdc.source, chat_cdc.origin) == (
        "https://cdc.example/feed",
        "chat",
    )
    assert view.route("cdc-2", "lab") is not None


def test_a_dropped_config_feed_stays_while_a_chat_route_follows_it(
    tmp_path: Path, store: Store
) -> None:
    """A feed the file drops: retired (not polled) unless a chat's route follows it; then it
    becomes the chat's, so that chat keeps its posts."""
    apply_config(store, file_config(tmp_path), NOW)
    chat_route(store, "nih", NIH)  # a chat subscribed to the file's nih
    only_nida = file_config(tmp_path, feeds=[{"name": "nida", "url": NIDA}])
    view = apply_config(store, only_nida, NOW)
    nih = view.feed("nih")
    assert nih is not None
    assert nih.origin == "chat"
    store.drop_route("nih", "lab")
    view = apply_config(store, only_nida, NOW)
    assert view.feed("nih") is None  # no route follows it: not polled; its rows stay
    assert "nih" in store.feed_sources()


def test_routes_table_sets_route_options_and_filters(tmp_path: Path, store: Store) -> None:
    """`[[routes]]`: a route's own style, silence and filters, over the channel's."""
    settings = file_config(
        tmp_path,
        routes=[
            {
                "feed": "nih",
                "channel": "news",
                "citation_style": "mla",
                "silent": True,
                "include": ["vaccine", "opioid use"],
                "exclude": ["mouse"],
            }
        ],
    )
    view = apply_config(store, settings, NOW)
    route = view.route("nih", "news")
    assert route is not None
    assert (route.include, route.exclude) == (("vaccine", "opioid use"), ("mouse",))
    options = view.options("nih", "news")
    assert options is not None
    assert (options.citation_style, options.silent) == ("mla", True)
    plain = view.options("nida", "news")
    assert plain is not None
    assert (plain.citation_style, plain.silent) == ("apa", False)


def test_a_filtered_route_is_owed_only_what_passes(tmp_path: Path, store: Store) -> None:
    """Stored, but owed nothing: releases that fail the route's filter never queue."""
    settings = file_config(
        tmp_path,
        routes=[{"feed": "nida", "channel": "news", "include": ["fentanyl"], "exclude": ["mice"]}],
    )
    apply_config(store, settings, NOW)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)  # backlog: none pass
    releases = [
        make_release(2, title="Fentanyl-laced pills rise"),
        make_release(3, title="Sleep and memory"),
        make_release(4, title="FENTANYL in mice"),
        make_release(5, title="Overdoses", summary="A study of fentanyl use."),
    ]
    store.ingest("nida", releases, now=NOW, flood_limit=10)
    assert pending_titles(store, "news") == ["Fentanyl-laced pills rise", "Overdoses"]
    assert len(store.latest(10, ["nida"])) == 5  # every release stored


def test_a_filtered_new_routes_backlog_is_the_newest_that_pass(
    tmp_path: Path, store: Store
) -> None:
    """A new route with backlog 2 and a filter gets the newest 2 releases that pass."""
    apply_config(store, file_config(tmp_path), NOW)
    titles = ["Opioid report", "Sleep", "Opioid trial", "Diet", "Opioid survey", "Weather"]
    store.ingest(
        "nih",
        [make_release(n, title=t, feed="nih") for n, t in enumerate(titles, 1)],
        now=NOW,
        flood_limit=10,
    )
    settings = file_config(
        tmp_path, routes=[{"feed": "nih", "channel": "news", "backlog": 2, "include": ["opioid"]}]
    )
    apply_config(store, settings, NOW)
    assert pending_titles(store, "news") == ["Opioid trial", "Opioid survey"]


def test_a_paused_route_holds_its_posts_and_resume_releases_them(
    tmp_path: Path, store: Store
) -> None:
    """Paused: the route's posts wait (other routes of the chat flow); resumed: they go."""
    settings = file_config(
        tmp_path, channels=[{"name": "news", "chat": "@agency_news", "feeds": ["nida", "nih"]}]
    )
    apply_config(store, settings, NOW)
    store.set_route_paused("news", True, feed="nida")
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    store.ingest("nih", [make_release(2, feed="nih", title="NIH news")], now=NOW, flood_limit=10)
    assert pending_titles(store, "news") == ["NIH news"]
    assert store.held_posts("news") == 1
    assert build_view(store, settings).route("nida", "news").paused  # type: ignore[union-attr]
    store.set_route_paused("news", False)
    assert pending_titles(store, "news") == [make_release(1).title, "NIH news"]
    assert store.channels_with_work(NOW) == ["news"]


def test_a_paused_routes_chat_has_no_work_to_wake_for(tmp_path: Path, store: Store) -> None:
    """Only held posts: the dispatcher is not woken for the chat (no busy loop)."""
    apply_config(store, file_config(tmp_path), NOW)
    store.set_route_paused("news", True)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    assert store.channels_with_work(NOW) == []


def test_a_readded_route_gets_its_cancelled_post_back_as_backlog(
    tmp_path: Path, store: Store
) -> None:
    """Removed (posts cancelled), then added again with backlog 1: the newest is owed again."""
    apply_config(store, file_config(tmp_path), NOW)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    store.drop_route("nida", "news")
    assert pending_titles(store, "news") == []
    apply_config(store, file_config(tmp_path), NOW)
    assert pending_titles(store, "news") == [make_release(1).title]


def test_a_change_and_its_audit_row_commit_together(tmp_path: Path, store: Store) -> None:
    """`change`: the audit row is written with the change, and neither when it fails."""
    apply_config(store, file_config(tmp_path), NOW)
    entry = AuditEntry(NOW, 7, "@ann", "news", "pause", "nida -> news", "running", "paused")
    with store.change(entry):
        store.set_route_paused("news", True, feed="nida")
    assert store.audit(5) == [entry]
    failing = AuditEntry(NOW, 7, "@ann", "news", "resume", "nida -> news", "paused", "running")

    def resume_then_fail() -> None:
        with store.change(failing):
            store.set_route_paused("news", False, feed="nida")
            raise RuntimeError("the reply could not be rendered")

    with pytest.raises(RuntimeError):
        resume_then_fail()
    assert store.audit(5) == [entry]
    route = build_view(store, file_config(tmp_path)).route("nida", "news")
    assert route is not None
    assert route.paused


@pytest.mark.parametrize(
    ("routes", "problem"),
    [
        ([{"feed": "cdc", "channel": "news"}], "routes[1].feed: unknown feed 'cdc'"),
        ([{"feed": "nida", "channel": "lab"}], "routes[1].channel: unknown channel 'lab'"),
        (
            [{"feed": "nih", "channel": "news"}, {"feed": "nih", "channel": "news"}],
            "routes[2]: duplicate route 'nih' -> 'news'",
        ),
        ([{"feed": "nih", "channel": "news", "include": "vaccine"}], "routes[1].include: must be"),
        ([{"feed": "nih", "channel": "news", "include": [" "]}], "routes[1].include: each term"),
    ],
)
def test_bad_routes_tables_are_refused_with_their_place(
    tmp_path: Path, routes: list[dict[str, Any]], problem: str
) -> None:
    """`check` names the [[routes]] entry and what is wrong with it."""
    with pytest.raises(ConfigError) as caught:
        file_config(tmp_path, routes=routes)
    assert any(line.startswith(problem) for line in caught.value.problems), caught.value.problems


def test_one_chat_may_be_two_channels_by_forum_topic(tmp_path: Path, store: Store) -> None:
    """A forum topic is its own target: two channels on one chat with other threads are
    fine; the same chat and thread twice is refused."""
    topics = [
        {"name": "grants", "chat": -1001, "thread": 5, "feeds": ["nih"]},
        {"name": "drugs", "chat": -1001, "thread": 9, "feeds": ["nida"]},
    ]
    view = apply_config(store, file_config(tmp_path, channels=topics), NOW)
    assert [(c.name, c.thread_id) for c in view.chats] == [("grants", 5), ("drugs", 9)]
    with pytest.raises(ConfigError, match="duplicate chat"):
        file_config(tmp_path, channels=[topics[0], {**topics[1], "thread": 5}])


async def test_the_routes_own_style_reaches_the_post(tmp_path: Path, store: Store) -> None:
    """A route's `citation_style` is the one its posts carry; the chat's other route keeps
    the chat's."""
    from bot.telegram.dryrun import DryRunSender

    settings = file_config(
        tmp_path,
        channels=[{"name": "news", "chat": "@agency_news", "feeds": ["nida", "nih"]}],
        routes=[{"feed": "nih", "channel": "news", "citation_style": "mla"}],
    )
    view = apply_config(store, settings, NOW)
    store.ingest("nida", [make_release(1, title="nida release")], now=NOW, flood_limit=10)
    store.ingest("nih", [make_release(2, feed="nih", title="nih release")], now=NOW, flood_limit=10)
    out = io.StringIO()
    dispatcher = Dispatcher(
        settings,
        store=store,
        sender=DryRunSender(out),
        clock=lambda: NOW,
        pacer=None,
        bot_username="releasebot_test_bot",
        dry_run=True,
        view=view,
    )
    await dispatcher.drain()
    printed = out.getvalue()
    nida_post, nih_post = printed.split("──── post 2")
    assert "“Nih Release.”" in nih_post  # the route's MLA: quoted, title case
    assert "(2014, April 2). nida release" in nida_post  # the chat's APA: sentence case


async def test_a_paused_feed_is_not_polled_until_resumed(
    tmp_path: Path, store: Store, feed_server: FeedServer
) -> None:
    """An owner's pause of a whole feed: no request reaches it; resumed, it is polled."""
    paused_url = feed_server.serve("/paused.xml", FEED)
    other_url = feed_server.serve("/other.xml", FEED)
    settings = config(
        tmp_path,
        fetch={"allow_private_addresses": True},
        feeds=[{"name": "paused", "url": paused_url}, {"name": "other", "url": other_url}],
    )
    apply_config(store, settings, NOW)
    store.set_feed_paused("paused", True)

    async def poll_round() -> list[str]:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
            return [o.feed for o in await poller.poll_due()] + [
                o.feed for o in await poller.poll_all()
            ]

    assert await poll_round() == ["other", "other"]
    assert feed_server.hits("/paused.xml") == 0
    store.set_feed_paused("paused", False)
    assert "paused" in await poll_round()
    assert feed_server.hits("/paused.xml") >= 1


def test_a_chat_feed_no_route_follows_takes_no_place_under_max_feeds(
    tmp_path: Path, store: Store
) -> None:
    """`max_feeds` counts feeds in service: a chat-made feed whose last route was removed is
    not polled, so it frees its place."""
    apply_config(store, file_config(tmp_path), NOW)
    assert store.feed_count() == 2
    chat_route(store, "cdc", "https://cdc.example/feed")
    assert store.feed_count() == 3
    store.drop_route("cdc", "lab")
    assert store.feed_count() == 2


def test_a_new_filter_cancels_the_posts_still_owed_that_fail_it(
    tmp_path: Path, store: Store
) -> None:
    """Posts held by a pause (or queued) that the route's new filter refuses are cancelled:
    on /resume only those that pass go out."""
    apply_config(store, file_config(tmp_path), NOW)
    store.ingest("nida", [make_release(1, title="Opioid report")], now=NOW, flood_limit=10)
    store.set_route_paused("news", True)
    store.ingest(
        "nida",
        [make_release(2, title="Sleep study"), make_release(3, title="Opioid trial")],
        now=NOW,
        flood_limit=10,
    )
    assert store.set_route_filter("nida", "news", ("opioid",), ()) == 1
    store.set_route_paused("news", False)
    assert pending_titles(store, "news") == ["Opioid report", "Opioid trial"]
    assert store.delivery_counts()["news"] == {"pending": 2, "cancelled": 1}


def test_a_dropped_fast_config_feed_a_chat_follows_polls_no_faster_than_a_chats_feed(
    tmp_path: Path, store: Store
) -> None:
    """The file polled a feed every minute, then dropped it while a chat still follows it:
    it becomes the chat's, polled no faster than `[admin] min_interval` (and the default)."""
    fast = file_config(
        tmp_path, feeds=[{"name": "nida", "url": NIDA}, {"name": "nih", "url": NIH, "interval": 60}]
    )
    apply_config(store, fast, NOW)
    chat_route(store, "nih", NIH)
    view = apply_config(store, file_config(tmp_path, feeds=[{"name": "nida", "url": NIDA}]), NOW)
    nih = view.feed("nih")
    assert nih is not None
    assert (nih.origin, nih.interval) == ("chat", 900.0)  # max(defaults 15m, min_interval 10m)
