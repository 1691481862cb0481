"""Mirror the configuration into the store: feeds, channels and routes (with backlogs).

`apply_config` syncs and returns the routing view of what was synced (bot/services/routing.py):
everything downstream reads that view, never the config file's feeds and channels.
"""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.models import (
    NO_PUBLISHER,
    ChatSpec,
    FeedSpec,
    Release,
    RouteOverrides,
    RouteSpec,
    RoutingView,
)
from bot.render.cite import citation_key
from bot.services.routing import build_view
from bot.store import Store


def feed_specs(settings: Settings) -> list[FeedSpec]:
    return [
        FeedSpec(
            name=feed.name,
            url=settings.feed_source(feed),
            publisher=feed.publisher,
            short_name=feed.short_name,
            timezone=feed.timezone,
            interval=feed.interval,
            language=feed.language,
            fetch_page=feed.fetch_page,
        )
        for feed in settings.feeds
    ]


def chat_specs(settings: Settings) -> list[ChatSpec]:
    return [
        ChatSpec(
            name=channel.name,
            chat=str(channel.chat),
            thread_id=channel.thread,
            citation_style=channel.citation_style,
            summary_length=channel.summary_length,
            link_preview=channel.link_preview,
            silent=channel.silent,
            backlog=channel.backlog,
        )
        for channel in settings.channels
    ]


def route_specs(settings: Settings) -> list[RouteSpec]:
    specs = []
    for feed, channel_name in settings.route_pairs():
        channel = settings.channel(channel_name)
        route = settings.route_settings(feed, channel_name)
        if route is None:
            specs.append(RouteSpec(feed, channel_name, settings.backlog_for(channel)))
            continue
        backlog = route.backlog if route.backlog is not None else settings.backlog_for(channel)
        overrides = RouteOverrides(
            citation_style=route.citation_style,
            summary_length=route.summary_length,
            link_preview=route.link_preview,
            silent=route.silent,
        )
        specs.append(
            RouteSpec(feed, channel_name, backlog, overrides, route.include, route.exclude)
        )
    return specs


def sync_config(store: Store, settings: Settings, now: datetime) -> int:
    """Mirror feeds, channels and routes into the store; returns backlog deliveries queued."""
    with store.writing():  # one transaction: a reload applies all of the file or none of it
        # A feed the file drops but a chat follows is polled as a chat's feed would be.
        store.sync_feeds(feed_specs(settings), chat_interval=settings.chat_feed_interval)
        return store.sync_routes(chat_specs(settings), route_specs(settings), now=now)


def apply_config(store: Store, settings: Settings, now: datetime) -> RoutingView:
    """Sync the config into the store, then build the view of it (after, never before: the
    store decides which row a renamed feed or chat is)."""
    sync_config(store, settings, now)
    view = build_view(store, settings)
    store.assign_cite_keys(lambda release: _base_key(view, release))
    return view


def _base_key(view: RoutingView, release: Release) -> str:
    feed = view.feed(release.feed)
    return citation_key(release, feed.publisher if feed else NO_PUBLISHER)
