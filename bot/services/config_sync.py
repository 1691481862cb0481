"""Mirror the configuration into the store: feeds, channels and routes (with backlogs).

`apply_config` syncs and returns the routing view of what was synced (bot/services/routing.py):
everything downstream reads that view, never the config file's feeds and channels.
"""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.models import NO_PUBLISHER, Release, RouteSpec, RoutingView
from bot.render.cite import citation_key
from bot.services.routing import build_view
from bot.store import Store


def route_specs(settings: Settings) -> list[RouteSpec]:
    return [
        RouteSpec(feed=feed, channel=channel.name, backlog=settings.backlog_for(channel))
        for channel in settings.channels
        for feed in channel.feeds
    ]


def sync_config(store: Store, settings: Settings, now: datetime) -> int:
    """Mirror feeds, channels and routes into the store; returns backlog deliveries queued."""
    store.sync_feeds((feed.name, settings.feed_source(feed)) for feed in settings.feeds)
    channels = [(c.name, str(c.chat)) for c in settings.channels]
    return store.sync_routes(channels, route_specs(settings), now=now)


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
