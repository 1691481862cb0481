"""`/add`: subscribe a chat (or forum topic) to a feed, by URL, by web page or by name.

    /add URL-or-feed [name]
      ├─ a feed the bot follows (by name, or by its URL) ─────────────► preview from the store
      └─ a new URL: checked, permitted, under [admin] max_feeds, fetched ONCE
           ├─ a feed ─────────────────────────────────────────────────► preview of the fetch
           └─ a web page: its <link rel="alternate"> feeds
                ├─ none: refused      ├─ one: fetched once ──────────► preview
                └─ several: a button each ("addpick" pending actions) ► pressed: fetched, preview
    preview: title, release count, the newest release as it would be posted here, and
    buttons "Subscribe: no backlog / newest 1 / newest 5 / Cancel" (an "add" pending action)

Nothing is stored before a Subscribe button is pressed. Then, in one transaction with its
audit row: the feed (created, or revived if retired), the chat's channel row (one per forum
topic), and the route with its backlog. The releases fetched for the preview are stored in
that transaction too, so "newest 1" is owed at once and posted at the dispatcher's next
round rather than after the next poll (when the preview is gone, e.g. after a restart, the
first poll stores them and the backlog is queued then).

The pending actions (store.put_action/get_action/drop_action) and the press handler registry
that calls `finish_add` after re-checking permission and expiry belong to the admin core
(bot/services/admin.py). `import_opml` (bot/services/admin_import.py) checks each feed of
an OPML file the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.errors import FeedError, ReleaseBotError
from bot.feeds.backoff import next_poll_after_success
from bot.feeds.discover import DiscoveredFeed, discover_feeds, looks_like_html
from bot.feeds.names import NAME_PATTERN, feed_name_from_title
from bot.feeds.order import newest_first
from bot.feeds.parse import parse_feed
from bot.feeds.urls import check_feed_url
from bot.models import NO_PUBLISHER, AuditEntry, ChatOptions, FetchResult, ParsedFeed, Release
from bot.render.admin_add import (
    ADD_USAGE,
    already_text,
    cancelled_text,
    pick_text,
    preview_text,
    refusal,
    subscribed_text,
    visible_length,
)
from bot.render.cite import citation_key
from bot.render.post import MAX_TEXT, PostOptions, render_post
from bot.render.telegram_html import Html
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_types import GROUP_ANONYMOUS_BOT, Actor, AdminReply, Choice
from bot.store import Store
from bot.store.pending import PendingAction

ADD = "add"  # pending action: the preview's Subscribe / Cancel buttons
PICK = "addpick"  # pending action: one of the feeds a web page links to
CANCEL = "cancel"
PICK_GO = "go"
BACKLOGS = {"0": 0, "1": 1, "5": 5}  # button choice -> releases posted at once
MAX_PICKS = 8  # feeds of one page offered as buttons
PREVIEW_TTL = timedelta(minutes=10)  # as long as a button lives
PREVIEWS_KEPT = 16


class AddRefusedError(ReleaseBotError):
    """`/add` (or one feed of `/import`) cannot go ahead; `message` says why, to the user."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feed about to be subscribed: one the bot follows (`known`), or a fetched new one."""

    url: str
    title: str
    known: str = ""  # the name of a feed the bot follows
    revive: str = ""  # the name of a retired feed at this URL
    fetched: FetchResult | None = None
    parsed: ParsedFeed | None = None
    body_hash: str = ""  # of the fetched body, as the poller keeps it


@dataclass(frozen=True, slots=True)
class Subscribed:
    feed: str
    channel: str
    new_feed: bool
    already: bool = False
    queued: int = 0  # backlog posts owed at once


class _Previews:
    """What /add fetched, by pending-action token, until its button is pressed: stored
    then, it saves the first poll fetching the feed again. Bounded; lost on restart."""

    def __init__(self, limit: int = PREVIEWS_KEPT) -> None:
        self.limit = limit
        self._kept: OrderedDict[str, tuple[datetime, Candidate]] = OrderedDict()

    def keep(self, token: str, found: Candidate, now: datetime) -> None:
        if found.fetched is None:
            return
        self._kept[token] = (now, replace(found, fetched=replace(found.fetched, body=b"")))
        while len(self._kept) > self.limit:
            self._kept.popitem(last=False)

    def take(self, token: str, now: datetime) -> Candidate | None:
        kept = self._kept.pop(token, None)
        if kept is None or now - kept[0] > PREVIEW_TTL:
            return None
        return kept[1]


PREVIEWS = _Previews()


# /add


async def start_add(
    ctx: AdminContext, target: Target, args: str, *, may_add_new: bool, actor: Actor
) -> AdminReply:
    """`/add URL-or-feed [name]`: the preview with its buttons, the page's feeds to pick
    from, or a refusal saying why. Changes nothing."""
    ref, _, rest = args.strip().partition(" ")
    if not ref:
        return AdminReply(ADD_USAGE)
    try:
        name = given_name(rest)
        found = await resolve(ctx, ref, may_add_new=may_add_new)
        if isinstance(found, tuple):
            return _pick_reply(ctx, target, ref, found, name, actor)
        return preview_reply(ctx, target, found, name, actor)
    except AddRefusedError as exc:
        return AdminReply(refusal(exc.message))
    except FeedError as exc:
        return AdminReply(refusal(feed_reason(exc)))


async def finish_add(
    ctx: AdminContext,
    target: Target,
    action: PendingAction,
    choice: str,
    actor: Actor,
    *,
    may_add_new: bool = True,
    wake: Callable[[], None] | None = None,
) -> AdminReply:
    """A button of /add pressed (the core re-checked who pressed it and that it is not
    expired): subscribe, cancel, or (a page's feed picked) fetch it and preview.
    `may_add_new`: whether the one who pressed may follow a new feed URL (another admin of
    the chat may press the buttons of the one who asked); `wake` starts the dispatcher
    when the backlog is owed at once."""
    ctx.store.drop_action(action.token)
    now = ctx.clock()
    preview = PREVIEWS.take(action.token, now)
    if choice == CANCEL:
        return AdminReply(cancelled_text(), toast="Cancelled")
    payload = action.payload
    name = str(payload.get("name") or "")
    try:
        if action.kind == PICK:
            found = await follow_discovered(ctx, str(payload["url"]), may_add_new=may_add_new)
            return preview_reply(ctx, target, found, name, actor)
        backlog = BACKLOGS.get(choice)
        if backlog is None:
            raise AddRefusedError("that button is not one of this message's")
        candidate = Candidate(
            url=str(payload.get("url") or ""),
            title=str(payload.get("title") or ""),
            known=str(payload.get("feed") or ""),
            revive=str(payload.get("revive") or ""),
        )
        if preview is not None and preview.url == candidate.url:
            candidate = preview
        done = subscribe(
            ctx, target, candidate, name=name, backlog=backlog, actor=actor, may_add_new=may_add_new
        )
    except AddRefusedError as exc:
        return AdminReply(refusal(exc.message), toast="Not added")
    except FeedError as exc:
        return AdminReply(refusal(feed_reason(exc)), toast="Not added")
    if done.already:
        return AdminReply(already_text(done.feed, done.channel), toast="Already subscribed")
    if done.queued and wake is not None:
        wake()
    text = subscribed_text(done.feed, target.title or done.channel, backlog, new_feed=done.new_feed)
    return AdminReply(text, toast="Subscribed")


def feed_reason(exc: FeedError) -> str:
    """A feed error as one line for the user."""
    return f"the feed could not be read: {exc.message}"


def given_name(text: str) -> str:
    """The feed name typed after the URL ("" when none); refused when invalid or taken."""
    name = text.strip().lower()
    if not name:
        return ""
    if not NAME_PATTERN.fullmatch(name):
        raise AddRefusedError(
            f"{name!r} cannot be a feed name: 1-32 characters of a-z, 0-9, '-' and '_',"
            " starting with a letter or digit"
        )
    return name


async def resolve(
    ctx: AdminContext, ref: str, *, may_add_new: bool
) -> Candidate | tuple[DiscoveredFeed, ...]:
    """What `ref` (a feed name, a feed URL or a web page's URL) leads to; fetches a new URL
    once (and the one feed a page links to once)."""
    known = known_by_name(ctx, ref)
    if known is not None:
        return known
    url = check_feed_url(ref)
    hit = _followed_at(ctx, url)
    if hit is not None:
        return hit
    retired = ctx.store.feed_by_url(url)
    may_follow_new(ctx, may_add_new)
    fetched = await _fetch(ctx, url)
    if looks_like_html(fetched.body, fetched.content_type):
        feeds = discover_feeds(fetched.body, fetched.url)
        if not feeds:
            raise AddRefusedError(
                f"{url} is a web page that links to no RSS or Atom feed; send the feed's URL"
            )
        if len(feeds) > 1:
            return feeds[:MAX_PICKS]
        return await follow_discovered(ctx, feeds[0].url, may_add_new=may_add_new)
    return await _candidate(ctx, url, fetched, revive=retired[0] if retired else "")


async def follow_discovered(ctx: AdminContext, url: str, *, may_add_new: bool) -> Candidate:
    """The feed a web page links to: the one the bot follows at that URL, or fetched once."""
    url = check_feed_url(url)
    hit = _followed_at(ctx, url)
    if hit is not None:
        return hit
    may_follow_new(ctx, may_add_new)
    retired = ctx.store.feed_by_url(url)
    fetched = await _fetch(ctx, url)
    if looks_like_html(fetched.body, fetched.content_type):
        raise AddRefusedError(f"{url}, which the page links to as a feed, is a web page")
    return await _candidate(ctx, url, fetched, revive=retired[0] if retired else "")


def known_by_name(ctx: AdminContext, ref: str) -> Candidate | None:
    """The followed feed named `ref` (case ignored), or None."""
    wanted = ref.strip().lower()
    if not NAME_PATTERN.fullmatch(wanted):
        # A URL is never a name: no need to read every feed (an /import of 10,000 URLs
        # did so for each, holding the bot's one event loop for over a minute).
        return None
    for row in ctx.store.feed_rows():
        if row["name"].lower() == wanted:
            return _known(ctx, row["name"], row["url"])
    return None


def _followed_at(ctx: AdminContext, url: str) -> Candidate | None:
    hit = ctx.store.feed_by_url(url)
    if hit is None or hit[1] == "retired":
        return None
    return _known(ctx, hit[0], url)


def _known(ctx: AdminContext, name: str, url: str) -> Candidate:
    title, _ = ctx.store.feed_overview(name)
    return Candidate(url=url, title=title or name, known=name)


def may_follow_new(ctx: AdminContext, may_add_new: bool) -> None:
    """Refuse a feed URL the bot does not follow yet: not permitted, or over max_feeds."""
    if not may_add_new:
        raise AddRefusedError(
            "only the bot's owners may follow a new feed URL here; you can subscribe this"
            " chat to a feed the bot already follows (/feeds lists them)"
        )
    limit = ctx.settings.admin.max_feeds
    if ctx.store.feed_count() >= limit:
        raise AddRefusedError(f"the bot follows {limit:,} feeds, its limit ([admin] max_feeds)")


async def _fetch(ctx: AdminContext, url: str) -> FetchResult:
    if ctx.fetcher is None:
        raise AddRefusedError("this bot cannot fetch feeds here")
    # The Fetcher's address guard checks the first request and every redirect hop.
    return await ctx.fetcher.fetch(url)


async def _candidate(
    ctx: AdminContext, url: str, fetched: FetchResult, *, revive: str
) -> Candidate:
    moved = _followed_at(ctx, fetched.url)  # redirected to a feed the bot follows
    if moved is not None:
        return moved
    parsed = await asyncio.to_thread(
        parse_feed,
        fetched.body,
        feed_name=revive or "new",
        base_url=fetched.url,
        content_type=fetched.content_type,
        max_items=ctx.settings.fetch.max_items,
    )
    return Candidate(
        url=url,
        title=parsed.title,
        revive=revive,
        fetched=fetched,
        parsed=parsed,
        body_hash=hashlib.sha256(fetched.body).hexdigest(),
    )


# Replies


def preview_reply(
    ctx: AdminContext, target: Target, found: Candidate, name: str, actor: Actor
) -> AdminReply:
    """The preview and its Subscribe / Cancel buttons (an "add" pending action)."""
    if found.known:
        channel = channel_of(ctx.store, target)
        if channel and ctx.view().route(found.known, channel[0]) is not None:
            return AdminReply(already_text(found.known, target.title or channel[0]))
    check_route_limit(ctx, target)
    now = ctx.clock()
    if found.parsed is not None:
        releases = newest_first(found.parsed.releases)
        count, newest = len(found.parsed.releases), releases[0] if releases else None
    else:
        _, count = ctx.store.feed_overview(found.known)
        stored = ctx.store.latest(1, [found.known])
        newest = stored[0].release if stored else None
    text = _preview_text(ctx, target, found, count, newest, now)
    payload = {
        "url": found.url,
        "title": found.title,
        "feed": found.known,
        "revive": found.revive,
        "name": name,
    }
    token = _put(ctx, ADD, payload, target, actor, now)
    PREVIEWS.keep(token, found, now)
    data = f"{ADD}:{token}:"
    choices = (
        (Choice("Subscribe: no backlog", data + "0"),),
        (Choice("Subscribe: newest 1", data + "1"), Choice("Subscribe: newest 5", data + "5")),
        (Choice("Cancel", data + CANCEL),),
    )
    return AdminReply(text, choices=choices)


def _pick_reply(
    ctx: AdminContext,
    target: Target,
    page: str,
    feeds: tuple[DiscoveredFeed, ...],
    name: str,
    actor: Actor,
) -> AdminReply:
    now = ctx.clock()
    rows: list[tuple[Choice, ...]] = []
    for feed in feeds:
        payload = {"url": feed.url, "name": name, "page": page}
        token = _put(ctx, PICK, payload, target, actor, now)
        label = (feed.title or feed.url)[:60]
        rows.append((Choice(f"{label} ({feed.kind.upper()})", f"{PICK}:{token}:{PICK_GO}"),))
    first = rows[0][0].data.rsplit(":", 1)[0]
    rows.append((Choice("Cancel", f"{first}:{CANCEL}"),))
    titles = [feed.title or feed.url for feed in feeds]
    return AdminReply(pick_text(page, titles), choices=tuple(rows))


def _put(
    ctx: AdminContext,
    kind: str,
    payload: dict[str, Any],
    target: Target,
    actor: Actor,
    now: datetime,
) -> str:
    return ctx.store.put_action(
        kind,
        payload,
        chat_id=target.chat_id,
        thread_id=target.thread_id,
        user_id=_user_id(actor),
        now=now,
    )


def _user_id(actor: Actor) -> int | None:
    """Who asked, for a pending action and the audit; None for an anonymous group admin
    (Telegram's placeholder user, shared by every anonymous admin), as the core does."""
    return None if actor.user_id == GROUP_ANONYMOUS_BOT else actor.user_id


def _preview_text(
    ctx: AdminContext,
    target: Target,
    found: Candidate,
    count: int,
    newest: Release | None,
    now: datetime,
) -> Html:
    """The preview, within Telegram's 4,096 characters: the newest release's summary is
    cut to the room the rest of the message leaves (the post alone may fill them)."""
    if newest is None:
        return preview_text(found.title, count, None, known=found.known)
    bare = _as_posted(ctx, target, found.known, newest, now, summary_room=0)
    others = visible_length(preview_text(found.title, count, bare, known=found.known))
    shown = _as_posted(
        ctx, target, found.known, newest, now, summary_room=max(0, MAX_TEXT - others - 2)
    )
    return preview_text(found.title, count, shown, known=found.known)


def _as_posted(
    ctx: AdminContext,
    target: Target,
    feed: str,
    release: Release,
    now: datetime,
    *,
    summary_room: int,
) -> str:
    view = ctx.view()
    options = _chat_options(ctx, target, feed)
    post = render_post(
        release,
        view.publisher(feed) if feed else NO_PUBLISHER,
        release_id=0,
        options=PostOptions(
            citation_style=options.citation_style,
            summary_length=min(options.summary_length, summary_room),
            link_preview=options.link_preview,
            bot_username="",  # no Cite button: the release has no id yet
            silent=options.silent,
            thread_id=target.thread_id,
        ),
        accessed=now.date(),
    )
    return post.text  # Telegram HTML made by render_post


def _chat_options(ctx: AdminContext, target: Target, feed: str) -> ChatOptions:
    channel = channel_of(ctx.store, target)
    view = ctx.view()
    options = view.options(feed, channel[0]) if channel else None
    if options is not None:
        return options
    defaults = ctx.settings.defaults
    return ChatOptions(defaults.citation_style, defaults.summary_length, defaults.link_preview)


# Subscribing


def channel_of(store: Store, target: Target) -> tuple[str, str] | None:
    """(name, origin) of the stored channel row posting to `target` (that forum topic)."""
    if target.channel:
        rows, _ = store.chat_rows(target.channel)
        if rows:
            return rows[0]["name"], rows[0]["origin"]
    found = store.chat_target(target.chat_id, target.thread_id) if target.chat_id else None
    if found is None and target.username:
        found = store.chat_target_by_ref(f"@{target.username}", target.thread_id)
    return found


def new_channel_name(ctx: AdminContext, target: Target) -> str:
    """A channel name for a chat seen for the first time: from its @username or title."""
    base = target.username or target.title or f"chat {abs(target.chat_id)}"
    if target.thread_id is not None:
        base = f"{base} topic {target.thread_id}"
    taken = ctx.store.chat_names()
    if NAME_PATTERN.fullmatch(base.lower()) and base.lower() not in taken:
        return base.lower()  # a @username as it is: "science_news"
    return feed_name_from_title(base, taken)


def routes_in_chat(ctx: AdminContext, target: Target) -> int:
    """The routes of every channel row of the target's chat (its forum topics too)."""
    refs = {str(target.chat_id)} if target.chat_id else set()
    if target.username:
        refs.add(f"@{target.username}".lower())
    view = ctx.view()
    chats = {chat.name for chat in view.chats if chat.chat.lower() in refs}
    if target.channel:
        chats.add(target.channel)
    return sum(1 for route in view.routes if route.chat in chats)


def check_route_limit(ctx: AdminContext, target: Target) -> None:
    limit = ctx.settings.admin.max_routes_per_chat
    if routes_in_chat(ctx, target) >= limit:
        raise AddRefusedError(
            f"this chat has {limit} subscriptions, its limit ([admin] max_routes_per_chat);"
            " /remove one first"
        )


def subscribe(
    ctx: AdminContext,
    target: Target,
    found: Candidate,
    *,
    name: str,
    backlog: int,
    actor: Actor,
    action: str = "add",
    may_add_new: bool = True,
) -> Subscribed:
    """Subscribe `target` to `found` in one transaction with its audit row: the feed made
    (or revived), the channel row made (or revived), the fetched releases stored, the route
    added with its backlog. No await inside: nothing else writes in between."""
    store, now = ctx.store, ctx.clock()
    feed, origin = _feed_to_follow(ctx, found, name)
    channel = channel_of(ctx.store, target)
    if channel is not None and ctx.view().route(feed, channel[0]) is not None:
        return Subscribed(feed, channel[0], new_feed=False, already=True)
    check_route_limit(ctx, target)
    if origin != "followed":
        may_follow_new(ctx, may_add_new)  # who pressed, and max_feeds, at the time of writing
    channel_name = channel[0] if channel else new_channel_name(ctx, target)
    interval = ctx.settings.chat_feed_interval
    after = f"backlog {backlog}" + (f"; feed {found.url}" if origin != "followed" else "")
    entry = AuditEntry(
        at=now,
        user_id=_user_id(actor),
        user_name=actor.name,
        chat=channel_name,
        action=action,
        target=f"{feed} -> {channel_name}",
        before="",
        after=after,
    )
    with store.change(entry):
        if origin == "new":
            store.add_chat_feed(feed, found.url, title=found.title, interval=interval)
        elif origin == "retired":
            store.revive_feed(feed, interval=interval)
        if channel is None:
            _add_channel(ctx, target, channel_name)
        elif channel[1] == "retired":
            store.revive_channel(channel_name)
        if origin != "followed" and found.parsed is not None and found.fetched is not None:
            _store_fetched(ctx, feed, found.fetched, found.parsed, found.body_hash, interval, now)
        queued = store.add_chat_route(feed, channel_name, backlog, now=now)
    ctx.changed(channel_name)  # that chat re-read: an import subscribes hundreds in a row
    return Subscribed(feed, channel_name, new_feed=origin != "followed", queued=queued)


def _feed_to_follow(ctx: AdminContext, found: Candidate, name: str) -> tuple[str, str]:
    """(name, origin): "followed" (the bot follows it), "retired" (revive) or "new"."""
    store = ctx.store
    # By URL first: a name is a label, and a reload since the preview may have given it to
    # another feed (the file's new "cdc", the chat's moved aside to "cdc-2").
    hit = store.feed_by_url(found.url) if found.url else None
    if hit is not None:
        return hit[0], "followed" if hit[1] != "retired" else "retired"
    if found.known and not found.url and store.feed_rows_named([found.known]):
        return found.known, "followed"
    if found.known:  # gone since the preview: refuse
        raise AddRefusedError(f"the bot no longer follows {found.known}")
    taken = store.feed_names()
    if name:
        if name in taken:
            raise AddRefusedError(f"a feed named {name} exists already; choose another name")
        return name, "new"
    return feed_name_from_title(found.title or found.url, taken), "new"


def _add_channel(ctx: AdminContext, target: Target, name: str) -> None:
    if target.chat_id:
        ctx.store.add_chat_channel(name, target.chat_id, target.thread_id)
    elif target.username:
        ctx.store.add_chat_channel_ref(name, f"@{target.username}", target.thread_id)
    else:
        raise AddRefusedError("the chat has neither an id nor a @username")


def _store_fetched(
    ctx: AdminContext,
    feed: str,
    fetched: FetchResult,
    parsed: ParsedFeed,
    body_hash: str,
    interval: float,
    now: datetime,
) -> None:
    """Store the releases the preview fetched (as a poll would) so a backlog is owed at once."""
    releases = [replace(release, feed=feed) for release in parsed.releases]
    ctx.store.ingest(
        feed,
        releases,
        now=now,
        flood_limit=ctx.settings.defaults.flood_limit,
        cite_key_of=lambda release: citation_key(release, NO_PUBLISHER),
    )
    ctx.store.record_fetch_success(
        feed,
        now=now,
        next_poll=next_poll_after_success(now, interval),
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        body_hash=body_hash or None,
        title=parsed.title,
        current_url=fetched.permanent_url,
    )
