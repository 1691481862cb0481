"""The routing view: which feeds, chats and routes there are, built from the store after a sync.

`sync_config` writes the config file into the store (feeds, channels, routes with their
backlog); `build_view` reads them back into one immutable `RoutingView` that the poller,
the dispatcher, the commands (`Answers`) and `releasebot status` read, so none of them asks
the config file or the store's tables what is routed where:

    config file ──► sync_config ──► store ──► build_view ──► RoutingView ──► services

What is in the view and what is not. The view holds what was *decided*: a feed's source and
publisher, a chat's reference and options, the routes and their backlog. It changes only when
something decides again: a sync (at start, and for each CLI command that syncs), and, with
chat-managed feeds (issue 12, ../shared/design/admin.md), an admin command; each builds a new
view. What Telegram *reports* between syncs stays store state and is read where it is used:
a chat's numeric id (resolved by getChat, moved by a group's migration) and whether the chat
is paused. The dispatcher writes those in the middle of a drain and reads them back per
batch (`ChannelState`), the channel check writes them at start and on each recheck; a view
holding them would have to be rebuilt at each of those writes, and one missed rebuild would
send to a group's old id. Feed fetch state (ETag, failures, a redirected URL) is store state
for the same reason.

Where the options come from. Everything is in the store (../shared/design/admin.md): the
sync writes the config file's feeds, channels and routes with their settings (origin
`config`), admin commands write theirs (origin `chat`), and `build_view` reads them back
in three queries, applying `settings.defaults` where a setting is not given. Store rows the
config no longer names (`retired`, kept for their releases and posts) are not in the view,
nor are chat-made feeds no route follows (their releases stay; they are not polled).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from sys import intern
from typing import Any, TypeVar

from bot.config import Defaults, FeedSettings, Settings
from bot.models import Chat, ChatOptions, Feed, Publisher, Route, RouteOverrides, RoutingView
from bot.store import Row, Store

T = TypeVar("T")
E = TypeVar("E", Feed, Chat)


def publisher_of(feed: FeedSettings) -> Publisher:
    """What the config says about who issues `feed`'s releases (the one place it is read)."""
    return Publisher(name=feed.publisher, short_name=feed.short_name)


def build_view(store: Store, settings: Settings) -> RoutingView:
    """The routing view of `store` (see the module docstring): three queries, whatever
    the number of feeds; safe on a read-only or unsynced store (it shows what it holds)."""
    defaults = settings.defaults
    chats = tuple(_chat(row, defaults) for row in store.channel_rows())
    chat_names = {chat.name for chat in chats}
    routes_rows = [row for row in store.route_rows() if row["channel"] in chat_names]
    routed = {row["feed"] for row in routes_rows}
    feeds = tuple(
        _feed(row, defaults)
        for row in store.feed_rows()
        if row["origin"] == "config" or row["name"] in routed
    )
    return _assemble(feeds, chats, (_route(row) for row in routes_rows))


def refresh_chat(view: RoutingView, store: Store, settings: Settings, channel: str) -> RoutingView:
    """`view` after a change to one chat (an admin's /add, /remove, /set, /filter, /pause):
    that chat and its routes read again, the feeds they need added, chat-made feeds no
    route follows any more dropped; everything else kept. Equal to `build_view` as long as
    nothing else changed since `view` was built (tests/test_routing.py checks it)."""
    chat_rows, route_rows = store.chat_rows(channel)
    fresh = [_chat(row, settings.defaults) for row in chat_rows]
    routes = [r for r in view.routes if r.chat != channel]
    routes += [_route(row) for row in route_rows] if fresh else []
    routed = {route.feed for route in routes}
    feeds = [f for f in view.feeds if f.origin == "config" or f.name in routed]
    missing = sorted(routed - {feed.name for feed in feeds})
    if missing:
        feeds += [_feed(row, settings.defaults) for row in store.feed_rows_named(missing)]
    return _assemble(_in_view_order(feeds), _with_chat(view.chats, channel, fresh), routes)


def _in_view_order(entries: Sequence[E]) -> list[E]:
    """The file's entries in its order, then the chats' by name (as `build_view` reads them)."""
    made_in_chats = sorted((e for e in entries if e.origin == "chat"), key=lambda e: e.name)
    return [e for e in entries if e.origin == "config"] + made_in_chats


def _with_chat(chats: Sequence[Chat], name: str, fresh: list[Chat]) -> list[Chat]:
    """`chats` with the one called `name` replaced by `fresh` (none: removed, or added)."""
    if any(chat.name == name for chat in chats) and fresh:
        return [fresh[0] if chat.name == name else chat for chat in chats]
    return _in_view_order([*(chat for chat in chats if chat.name != name), *fresh])


def _assemble(feeds: Sequence[Feed], chats: Sequence[Chat], routes: Iterable[Route]) -> RoutingView:
    feed_order = {feed.name: n for n, feed in enumerate(feeds)}
    chat_order = {chat.name: n for n, chat in enumerate(chats)}
    ordered = sorted(
        (route for route in routes if route.feed in feed_order and route.chat in chat_order),
        key=lambda route: (chat_order[route.chat], feed_order[route.feed]),
    )
    return RoutingView(feeds=tuple(feeds), chats=tuple(chats), routes=tuple(ordered))


def _feed(row: Row, defaults: Defaults) -> Feed:
    # Names, publishers and origins repeat over thousands of feeds and routes: each row
    # brings its own copy of the string, interned here to one (about 2 MB at 10,000 feeds).
    return Feed(
        name=_interned(row["name"]),
        source=row["url"],
        publisher=Publisher(name=_interned(row["publisher"]), short_name=row["short_name"]),
        timezone=_interned(row["timezone"]),
        interval=row["interval"] if row["interval"] is not None else defaults.interval,
        origin=_interned(row["origin"]),
        language=row["language"],
        paused=bool(row["paused"]),
        fetch_page=bool(row["fetch_page"]),
    )


def _chat(row: Row, defaults: Defaults) -> Chat:
    options = ChatOptions(
        citation_style=_given(row["citation_style"], defaults.citation_style),
        summary_length=_given(row["summary_length"], defaults.summary_length),
        link_preview=bool(_given(row["link_preview"], defaults.link_preview)),
        silent=bool(_given(row["silent"], False)),
    )
    return Chat(
        name=_interned(row["name"]),
        chat=row["chat"],
        options=options,
        origin=row["origin"],
        thread_id=row["thread_id"],
    )


def _route(row: Row) -> Route:
    return Route(
        feed=_interned(row["feed"]),
        chat=_interned(row["channel"]),
        backlog=row["backlog"],
        origin=_interned(row["origin"]),
        overrides=_overrides(row),
        include=_terms(row["include"]),
        exclude=_terms(row["exclude"]),
        paused=bool(row["paused"]),
    )


NO_OVERRIDES = RouteOverrides()


def _overrides(row: Row) -> RouteOverrides:
    # Most routes have none of their own: one shared object (the view is rebuilt after
    # every admin change, over thousands of routes).
    style, length, preview, silent = (
        row["citation_style"],
        row["summary_length"],
        row["link_preview"],
        row["silent"],
    )
    if style is None and length is None and preview is None and silent is None:
        return NO_OVERRIDES
    return RouteOverrides(
        citation_style=style,
        summary_length=length,
        link_preview=None if preview is None else bool(preview),
        silent=None if silent is None else bool(silent),
    )


def _interned(value: Any) -> Any:
    """A row's text as the one shared copy (None and numbers as they are)."""
    return intern(value) if isinstance(value, str) else value


def _terms(text: str) -> tuple[str, ...]:
    return () if text == "[]" else tuple(json.loads(text))


def _given(value: T | None, default: T) -> T:
    return default if value is None else value
