"""`releasebot config export` and `releasebot opml export`: what the bot follows, written out.

`export_config` writes the effective configuration, both origins (the file's entries and
those made in chats, ../shared/design/admin.md), as a TOML config that `check` accepts and
that, synced into an empty database, gives the same routing view: this is how an admin
moves chat-made feeds, channels and routes into the file. Every route becomes a
`[[routes]]` table with its own settings and filters (channels list no `feeds`), so one
shape holds both origins. The settings sections keep only what differs from the defaults.
Pauses are database state, not configuration: a paused route is exported with a comment.

`export_opml` writes the feeds (of one channel, or all) as OPML 2.0 for feed readers and
for `releasebot opml import` / `/import`.
"""

from __future__ import annotations

import json
from typing import Any

from bot.config import Settings
from bot.feeds.opml import OpmlFeed, render_opml
from bot.feeds.urls import is_http_url
from bot.models import RoutingView
from bot.render.toml_text import document
from bot.services.routing import build_view
from bot.store import Row, Store

HEADER = (
    "release-bot configuration exported by `releasebot config export`:\n"
    "the config file's entries and those made in Telegram chats."
)


def export_config(store: Store, settings: Settings) -> str:
    """The effective configuration as TOML (see the module docstring)."""
    view = build_view(store, settings)
    feed_rows = {row["name"]: row for row in store.feed_rows()}
    chat_rows = {row["name"]: row for row in store.channel_rows()}
    route_rows = {(row["feed"], row["channel"]): row for row in store.route_rows()}
    tables = {
        section: getattr(settings, section).model_dump(exclude_defaults=True)
        for section in ("bot", "fetch", "defaults", "admin")
    }
    feeds = [(_origin_note(f.origin), _feed_table(feed_rows[f.name])) for f in view.feeds]
    chats = [(_origin_note(c.origin), _chat_table(chat_rows[c.name])) for c in view.chats]
    routes = [
        (_route_note(r.origin, r.paused), _route_table(route_rows[(r.feed, r.chat)]))
        for r in view.routes
    ]
    arrays = {"feeds": feeds, "channels": chats, "routes": routes}
    return document(tables, arrays, header=HEADER)


def _origin_note(origin: str) -> str:
    return "made in a Telegram chat" if origin == "chat" else ""


def _route_note(origin: str, paused: bool) -> str:
    notes = [_origin_note(origin), "paused in the database" if paused else ""]
    return "; ".join(note for note in notes if note)


def _feed_table(row: Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "url": row["url"],
        "publisher": row["publisher"] or None,
        "short_name": row["short_name"] or None,
        "timezone": row["timezone"],
        "interval": row["interval"],
        "language": row["language"] or None,
        "fetch_page": bool(row["fetch_page"]) or None,
    }


def _chat_table(row: Row) -> dict[str, Any]:
    chat: str | int = row["chat"]
    if isinstance(chat, str) and chat.lstrip("-").isdigit():
        chat = int(chat)
    return {
        "name": row["name"],
        "chat": chat,
        "thread": row["thread_id"],
        **_options(row),
        "backlog": row["backlog"],
    }


def _route_table(row: Row) -> dict[str, Any]:
    include, exclude = json.loads(row["include"]), json.loads(row["exclude"])
    return {
        "feed": row["feed"],
        "channel": row["channel"],
        **_options(row),
        "backlog": row["backlog"],
        "include": include or None,
        "exclude": exclude or None,
    }


def _options(row: Row) -> dict[str, Any]:
    def flag(value: int | None) -> bool | None:
        return None if value is None else bool(value)

    return {
        "citation_style": row["citation_style"],
        "summary_length": row["summary_length"],
        "link_preview": flag(row["link_preview"]),
        "silent": flag(row["silent"]),
    }


def opml_feeds(store: Store, view: RoutingView, chat: str | None) -> list[OpmlFeed]:
    """The view's feeds (those routed to `chat`, when given) with a web URL, titled."""
    names = list(view.feeds_of(chat)) if chat is not None else list(view.feed_names)
    summaries = store.feed_summaries(names)
    feeds = []
    for name in names:
        feed = view.feed(name)
        if feed is None or not is_http_url(feed.source):
            continue  # a local file is no subscription a reader can follow
        summary = summaries.get(name)
        title = summary.title if summary and summary.title else name
        feeds.append(OpmlFeed(url=feed.source, title=title))
    return feeds


def export_opml(store: Store, settings: Settings, chat: str | None = None) -> bytes:
    """An OPML 2.0 file of the feeds (routed to `chat`, when given)."""
    view = build_view(store, settings)
    title = f"release-bot feeds of {chat}" if chat else "release-bot feeds"
    return render_opml(title, opml_feeds(store, view, chat))
