"""Mirror the configuration into the store: feeds, channels and routes (with backlogs)."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.models import RouteSpec
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
