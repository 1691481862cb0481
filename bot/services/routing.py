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

Where the options come from. The store keeps which entries exist (a feed is its URL, a chat
its chat, names are labels: see bot/store/identity.py) and the routes with their backlog; a
config entry's other settings (publisher, time zone, interval, citation style, summary
length, link preview) are taken from the `Settings` the sync applied, joined by name. Store
rows the config no longer names (kept for their releases and posts) are not in the view.
Chat-made entries will carry `origin="chat"` and their options in the store; `build_view`
then adds them from there, and nothing downstream changes shape.
"""

from __future__ import annotations

from bot.config import ChannelSettings, FeedSettings, Settings
from bot.models import Chat, ChatOptions, Feed, Publisher, Route, RoutingView
from bot.store import Store


def publisher_of(feed: FeedSettings) -> Publisher:
    """What the config says about who issues `feed`'s releases (the one place it is read)."""
    return Publisher(name=feed.publisher, short_name=feed.short_name)


def chat_options(settings: Settings, channel: ChannelSettings) -> ChatOptions:
    return ChatOptions(
        citation_style=settings.style_for(channel),
        summary_length=settings.summary_length_for(channel),
        link_preview=settings.link_preview_for(channel),
    )


def build_view(store: Store, settings: Settings) -> RoutingView:
    """The routing view of `store` as synced with `settings` (see the module docstring).

    Three queries, whatever the number of feeds; safe on a read-only or unsynced store
    (it then shows what the store holds under the config's names).
    """
    sources = store.feed_sources()
    chats = store.channel_chats()
    feeds = tuple(
        Feed(
            name=feed.name,
            source=sources[feed.name],
            publisher=publisher_of(feed),
            timezone=feed.timezone,
            interval=settings.interval_for(feed),
            language=feed.language,
        )
        for feed in settings.feeds
        if feed.name in sources
    )
    channels = tuple(
        Chat(name=channel.name, chat=chats[channel.name], options=chat_options(settings, channel))
        for channel in settings.channels
        if channel.name in chats
    )
    feed_order = {feed.name: n for n, feed in enumerate(feeds)}
    chat_order = {chat.name: n for n, chat in enumerate(channels)}
    routes = sorted(
        (
            Route(feed=feed, chat=chat, backlog=backlog)
            for feed, chat, backlog in store.route_rows()
            if feed in feed_order and chat in chat_order
        ),
        key=lambda route: (chat_order[route.chat], feed_order[route.feed]),
    )
    return RoutingView(feeds=feeds, chats=channels, routes=tuple(routes))
