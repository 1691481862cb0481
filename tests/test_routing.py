"""The routing view: after a sync it holds what the config says, the next sync's renames and
removed routes show in the next view, and the services read the view, not the config file.

Real store (SQLite), real sync, real Dispatcher (printing through the dry-run sender), real
Answers and a real Poller against the loopback feed server.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings, settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import Chat, ChatOptions, Feed, Publisher, Route, RoutingView
from bot.render.command_args import Command
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import apply_config
from bot.services.dispatcher import Dispatcher
from bot.services.poller import Poller
from bot.services.routing import build_view
from bot.store import Store
from bot.telegram.dryrun import DryRunSender
from tests.fakes.feed_server import FeedServer

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BOT = "releasebot_test_bot"
NIDA_URL = "https://example.org/nida.xml"
NIDA = Publisher("National Institute on Drug Abuse", "NIDA")


def config(tmp_path: Path, **data: Any) -> Settings:
    return settings_from_dict(data, tmp_path)


FIRST: dict[str, Any] = {
    "defaults": {"interval": "15m", "citation_style": "apa", "backlog": 1},
    "feeds": [
        {
            "name": "nida",
            "url": NIDA_URL,
            "publisher": NIDA.name,
            "short_name": NIDA.short_name,
            "timezone": "America/New_York",
            "interval": "1h",
        },
        {"name": "nih", "url": "nih.xml", "short_name": "NIH"},
        {"name": "old", "url": "https://example.org/old.xml"},
    ],
    "channels": [
        {
            "name": "news",
            "chat": "@agency_news",
            "feeds": ["nida", "nih"],
            "citation_style": "mla",
            "backlog": 3,
        },
        {
            "name": "lab",
            "chat": -1001234,
            "feeds": ["nih", "old"],
            "summary_length": 0,
            "link_preview": False,
        },
    ],
}

# nida renamed (same URL), news renamed (same chat), nih no longer posted to it,
# old dropped from the config (its row stays in the store, for its releases).
SECOND: dict[str, Any] = {
    **FIRST,
    "feeds": [{**FIRST["feeds"][0], "name": "drugs"}, FIRST["feeds"][1]],
    "channels": [
        {**FIRST["channels"][0], "name": "press", "feeds": ["drugs"]},
        {**FIRST["channels"][1], "feeds": ["nih"]},
    ],
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "bot.db")
    yield store
    store.close()


def test_the_view_after_a_sync_holds_what_the_config_says(tmp_path: Path, store: Store) -> None:
    """Feeds with source, publisher, zone and interval; chats with their reference and
    options (defaults applied); routes with their backlog: exactly the config's."""
    view = apply_config(store, config(tmp_path, **FIRST), NOW)
    mla = ChatOptions(citation_style="mla", summary_length=600, link_preview=True)
    quiet = ChatOptions(citation_style="apa", summary_length=0, link_preview=False)
    assert view == RoutingView(
        feeds=(
            Feed("nida", NIDA_URL, NIDA, "America/New_York", 3600.0),
            Feed("nih", str(tmp_path / "nih.xml"), Publisher("", "NIH"), None, 900.0),
            Feed("old", "https://example.org/old.xml", Publisher("", ""), None, 900.0),
        ),
        chats=(Chat("news", "@agency_news", mla), Chat("lab", "-1001234", quiet)),
        routes=(
            Route("nida", "news", 3),
            Route("nih", "news", 3),
            Route("nih", "lab", 1),
            Route("old", "lab", 1),
        ),
    )
    assert {item.origin for item in (*view.feeds, *view.chats, *view.routes)} == {"config"}
    assert view.publisher("nida") == NIDA
    assert view.publisher("gone") == Publisher("", "")
    assert view.feeds_of("lab") == ("nih", "old")
    assert [chat.name for chat in view.chats_of("nih")] == ["news", "lab"]
    assert [chat.username for chat in view.chats] == ["@agency_news", None]


def test_renames_and_removed_routes_show_in_the_next_view(tmp_path: Path, store: Store) -> None:
    """The next sync renames a feed and a channel and drops routes and a feed: the next view
    has the new names, only the remaining routes, and not the feed the config dropped."""
    first = apply_config(store, config(tmp_path, **FIRST), NOW)
    second = apply_config(store, config(tmp_path, **SECOND), NOW)
    assert second.feed_names == ("drugs", "nih")
    assert second.chat_names == ("press", "lab")
    assert [(r.feed, r.chat, r.backlog) for r in second.routes] == [
        ("drugs", "press", 3),
        ("nih", "lab", 1),
    ]
    assert second.feed("drugs") == Feed("drugs", NIDA_URL, NIDA, "America/New_York", 3600.0)
    assert "old" in store.feed_sources()  # kept for its releases, but not routed or polled
    assert first.feed("old") is not None
    assert second.feed("old") is None


names = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid config over a few names, URLs and chats (so syncs rename and move them)."""
    feed_names = draw(st.lists(names, unique=True, max_size=4))
    urls = draw(st.permutations(range(6)))
    feeds = [
        {"name": n, "url": f"https://example.org/{u}.xml", "short_name": n.upper() * u}
        for n, u in zip(feed_names, urls, strict=False)
    ]
    chat_names = draw(st.lists(names, unique=True, max_size=3))
    chats = draw(st.permutations(["@chat_one", "@chat_two", "-100123", "-100456"]))
    channels = [
        {
            "name": f"ch-{n}",
            "chat": chat,
            "feeds": draw(st.lists(st.sampled_from(feed_names), unique=True)) if feed_names else [],
            "citation_style": draw(st.sampled_from(["apa", "mla", "none"])),
            "backlog": draw(st.integers(0, 3)),
        }
        for n, chat in zip(chat_names, chats, strict=False)
    ]
    return {"feeds": feeds, "channels": channels}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(configs(), min_size=1, max_size=3))
def test_each_sync_s_view_is_its_config(steps: list[dict[str, Any]]) -> None:
    """Whatever configs follow one another on one database, each sync's view has exactly
    that config's feeds, chats, routes, publishers and styles."""
    store = Store.open(":memory:")
    try:
        for data in steps:
            settings_ = settings_from_dict(data, Path("."))
            view = apply_config(store, settings_, NOW)
            assert [(f.name, f.source, f.publisher.short_name) for f in view.feeds] == [
                (f["name"], f["url"], f["short_name"]) for f in data["feeds"]
            ]
            assert [(c.name, c.chat, c.options.citation_style) for c in view.chats] == [
                (c["name"], c["chat"], c["citation_style"]) for c in data["channels"]
            ]
            assert {(r.feed, r.chat, r.backlog) for r in view.routes} == {
                (feed, c["name"], c["backlog"]) for c in data["channels"] for feed in c["feeds"]
            }
            assert view == build_view(store, settings_)  # rebuilding reads the same
    finally:
        store.close()


# --- the services read the view -------------------------------------------------------------

FILE_CONFIG: dict[str, Any] = {
    "fetch": {"allow_private_addresses": True},  # the feed server lives on 127.0.0.1
    "feeds": [{"name": "nida", "url": NIDA_URL, "publisher": NIDA.name}],
    "channels": [{"name": "news", "chat": "@agency_news", "feeds": ["nida"]}],
}


def with_chat_made_route(tmp_path: Path, store: Store, url: str) -> tuple[Settings, RoutingView]:
    """The config file's view plus a feed, chat and route made in a chat (issue 12): the
    store has their rows, with the route's own style; the config file knows nothing of them."""
    settings_ = config(tmp_path, **FILE_CONFIG)
    apply_config(store, settings_, NOW)
    with store.writing():
        store.add_chat_feed("cdc", url, title="CDC", interval=900.0)
        store.add_chat_channel("lab", -100777, None)
        store.add_chat_route("cdc", "lab", 1, now=NOW)
        store.set_route_options("cdc", "lab", citation_style="mla")
    view = build_view(store, settings_)
    assert [(f.name, f.origin) for f in view.feeds] == [("nida", "config"), ("cdc", "chat")]
    assert view.route("cdc", "lab") is not None
    return settings_, view


async def test_a_chat_made_route_is_polled_posted_and_answered(
    tmp_path: Path, store: Store, feed_server: FeedServer
) -> None:
    """Given a view with a feed, chat and route the config file lacks, the poller polls that
    feed, the dispatcher posts its release to that chat with the view's publisher and style,
    and the chat's /feeds lists it: everything reads the view."""
    url = feed_server.serve(
        "/cdc.xml",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>CDC</title>'
        b"<item><title>Measles update</title><link>https://cdc.example/r/1</link>"
        b"<guid>cdc-1</guid><pubDate>Tue, 30 Apr 2024 10:00:00 GMT</pubDate></item>"
        b"</channel></rss>",
    )
    settings_, view = with_chat_made_route(tmp_path, store, url)

    async with Fetcher(settings_.fetch, user_agent=default_user_agent()) as fetcher:
        poller = Poller(settings_, store=store, fetcher=fetcher, clock=lambda: NOW, view=view)
        outcomes = await poller.poll_all([feed for feed in view.feeds if feed.name == "cdc"])
    assert [(o.feed, o.status) for o in outcomes] == [("cdc", "ok")]

    out = io.StringIO()
    dispatcher = Dispatcher(
        settings_,
        store=store,
        sender=DryRunSender(out),
        clock=lambda: NOW,
        pacer=None,
        bot_username=BOT,
        dry_run=True,
        view=view,
    )
    report = await dispatcher.drain()
    assert (report.printed, report.failed) == (1, 0)
    printed = out.getvalue()
    assert "to -100777" in printed
    assert "\nCDC · 30 April 2024\n" in printed  # the feed's own title: no publisher set
    # The route's own style (MLA: quoted title case), the feed as its author.
    assert "“Measles Update.” CDC," in printed

    answers = Answers(settings_, store, lambda: NOW, BOT, view=view)
    lab = ChatRef(-100777, "channel", "lab_chat", None)
    reply = answers.answer(Command("feeds", "", addressed=True), lab)
    assert reply is not None
    assert "cdc" in reply.text
    assert "nida" not in reply.text


def test_status_shows_the_synced_names_and_not_what_the_config_dropped(tmp_path: Path) -> None:
    """`releasebot status` after a rename: the feed and channel under their new names, the
    feed the config dropped gone (its row stays in the database)."""
    toml = tmp_path / "bot.toml"

    def write(data: dict[str, Any]) -> None:
        lines = ['[bot]\ndatabase = "bot.db"\n']
        for feed in data["feeds"]:
            lines.append(f'[[feeds]]\nname = "{feed["name"]}"\nurl = "{feed["url"]}"\n')
        for channel in data["channels"]:
            feeds = ", ".join(f'"{name}"' for name in channel["feeds"])
            lines.append(
                f'[[channels]]\nname = "{channel["name"]}"\nchat = "{channel["chat"]}"\n'
                f"feeds = [{feeds}]\n"
            )
        toml.write_text("\n".join(lines), encoding="utf-8")

    def status() -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(toml), "status"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]

    write(FIRST)
    assert status() == ["feed", "nida", "nih", "old", "channel", "lab", "news"]
    write(SECOND)
    assert status() == ["feed", "drugs", "nih", "channel", "lab", "press"]


# --- one chat's change, re-read alone ------------------------------------------------------

CHAT_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "drop", "style", "filter", "pause", "new-chat"]),
        st.integers(0, 3),  # which chat
        st.integers(0, 5),  # which feed
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=CHAT_STEPS)
def test_refreshing_one_chat_gives_the_view_a_full_build_gives(
    tmp_path: Path, steps: list[tuple[str, int, int]]
) -> None:
    """After any sequence of one-chat changes (routes added and removed, options, filters,
    pauses, chats made), the view refreshed for that chat equals a full build."""
    from bot.services.routing import refresh_chat

    store = Store.open(":memory:")
    try:
        settings_ = config(
            tmp_path,
            feeds=[{"name": "nida", "url": "https://x.example/nida"}],
            channels=[{"name": "news", "chat": "@agency_news", "feeds": ["nida"]}],
        )
        view = apply_config(store, settings_, NOW)
        made: set[int] = set()
        for action, chat_n, feed_n in steps:
            chat = "news" if chat_n == 0 else f"lab{chat_n}"
            feed = f"chat-feed-{feed_n}" if feed_n else "nida"
            with store.writing():
                if chat != "news" and chat_n not in made:
                    store.add_chat_channel(chat, -100 - chat_n, None)
                    made.add(chat_n)
                if store.feed_by_url(f"https://x.example/{feed}") is None and feed != "nida":
                    store.add_chat_feed(
                        feed, f"https://x.example/{feed}", title=feed, interval=900.0
                    )
                has = view.route(feed, chat) is not None
                if action == "add" and not has:
                    store.add_chat_route(feed, chat, 0, now=NOW)
                elif action == "drop" and has:
                    store.drop_route(feed, chat)
                elif action == "style" and has:
                    store.set_route_options(feed, chat, citation_style="mla")
                elif action == "filter" and has:
                    store.set_route_filter(feed, chat, ("vaccine",), ("mice",))
                elif action == "pause" and has:
                    store.set_route_paused(chat, True, feed)
            view = refresh_chat(view, store, settings_, chat)
            assert view == build_view(store, settings_)
    finally:
        store.close()
