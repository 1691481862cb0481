"""The admin commands that report (/subs, /status, /export, /audit) and /retry, for
`AdminService` (bot/services/admin.py), which has checked the caller's role already.

`target` None means an owner asking from a private chat without naming a chat: the whole
bot (every feed's and chat's health, every feed as OPML, every change). Each report reads
the routing view plus one or two queries.
"""

from __future__ import annotations

from bot.errors import ReleaseBotError
from bot.feeds.filters import RouteFilter, describe_filter
from bot.feeds.opml import OpmlFeed, render_opml
from bot.models import AuditEntry, Route, RoutingView
from bot.render import admin_replies
from bot.render.admin_replies import SubsLine
from bot.render.retry import failed_list_reply, parse_retry, requeued_reply
from bot.render.status import channel_lines, feed_lines
from bot.services.admin_auth import Caller
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_types import GROUP_ANONYMOUS_BOT, AdminReply, ReplyFile
from bot.services.retry import failed_posts
from bot.store import FeedSummary, RouteActivity

_NO_ACTIVITY = RouteActivity()


def audit_entry(
    ctx: AdminContext,
    caller: Caller,
    chat: str,
    action: str,
    target: Route | str,
    before: str = "",
    after: str = "",
) -> AuditEntry:
    """The audit row of a change `caller` makes now (`target`: a route, or what else)."""
    what = f"{target.feed} -> {target.chat}" if isinstance(target, Route) else target
    user_id = caller.actor.user_id
    return AuditEntry(
        at=ctx.clock(),
        user_id=None if user_id == GROUP_ANONYMOUS_BOT else user_id,
        user_name=caller.actor.name,
        chat=chat,
        action=action,
        target=what,
        before=before,
        after=after,
    )


def subs(ctx: AdminContext, target: Target) -> AdminReply:
    """This chat's routes: feed, origin, options, filters, paused?, last post, failures."""
    view = ctx.view()
    routes = view.routes_of(target.channel) if target.channel else ()
    if not routes or target.channel is None:
        return AdminReply(admin_replies.no_feeds_here(target.title))
    activity = ctx.store.route_activity(target.channel)
    summaries = ctx.store.feed_summaries(route.feed for route in routes)
    lines = [
        _subs_line(view, route, summaries.get(route.feed), activity.get(route.feed, _NO_ACTIVITY))
        for route in routes
    ]
    return AdminReply(admin_replies.subs_reply(target.title, lines))


def _subs_line(
    view: RoutingView, route: Route, summary: FeedSummary | None, activity: RouteActivity
) -> SubsLine:
    feed = view.feed(route.feed)
    paused = "paused" if route.paused else ""
    if feed is not None and feed.paused:
        paused = "feed paused" if not paused else "paused, feed paused"
    return SubsLine(
        feed=route.feed,
        title=summary.title if summary else "",
        url=summary.url if summary else (feed.source if feed else ""),
        origin=route.origin,
        options=options_text(view, route),
        filters=describe_filter(RouteFilter(route.include, route.exclude)),
        paused=paused,
        last_post=activity.last_sent,
        failures=summary.failures if summary else 0,
        last_error=(summary.last_error or "") if summary else "",
        failed_posts=activity.failed,
        held=activity.pending if route.paused else 0,
    )


def options_text(view: RoutingView, route: Route) -> str:
    """The route's effective options; those it sets itself marked with *."""
    options = view.options(route.feed, route.chat)
    if options is None:
        return ""
    own = route.overrides

    def mark(value: object) -> str:
        return "*" if value is not None else ""

    def on(flag: bool) -> str:
        return "on" if flag else "off"

    return (
        f"style {options.citation_style}{mark(own.citation_style)},"
        f" summary {options.summary_length}{mark(own.summary_length)},"
        f" preview {on(options.link_preview)}{mark(own.link_preview)},"
        f" silent {on(options.silent)}{mark(own.silent)}, backlog {route.backlog}"
    )


def status(ctx: AdminContext, target: Target | None) -> AdminReply:
    """`releasebot status`'s tables: the whole bot's (target None), else this chat's."""
    view = ctx.view()
    names: list[str] | None = None  # every feed
    if target is None:
        feeds = {feed.name for feed in view.feeds}
        chats = set(view.chat_names)
    elif target.channel is None:
        return AdminReply(admin_replies.no_feeds_here(target.title))
    else:
        names = list(view.feeds_of(target.channel))
        feeds = set(names)
        chats = {target.channel}
    feed_states = [state for state in ctx.store.feed_states(names) if state.name in feeds]
    feed_states.sort(key=lambda state: state.failures == 0)  # failing feeds first: a message
    # holds ~40 lines, and with hundreds of feeds those are the ones an owner asks about
    channel_states = [state for state in ctx.store.channel_states() if state.name in chats]
    counts = {name: n for name, n in ctx.store.delivery_counts().items() if name in chats}
    return AdminReply(
        admin_replies.status_reply(feed_lines(feed_states), channel_lines(channel_states, counts))
    )


def export(ctx: AdminContext, target: Target | None) -> AdminReply:
    """An OPML file of this chat's feeds (target None: every feed)."""
    view = ctx.view()
    if target is None:
        names = list(view.feed_names)
    elif target.channel is None:
        return AdminReply(admin_replies.no_feeds_here(target.title))
    else:
        names = list(view.feeds_of(target.channel))
    summaries = ctx.store.feed_summaries(names)
    feeds = [
        OpmlFeed(url=found.url, title=found.title or name)
        for name in names
        if (found := summaries.get(name)) is not None
        and found.url.startswith(("http://", "https://"))
    ]
    title = target.title if target else "release-bot"
    content = render_opml(f"{title} feeds", feeds)
    file_name = f"{target.channel if target else 'releasebot'}-feeds.opml"
    return AdminReply(
        admin_replies.export_caption(len(feeds), target.title if target else None),
        file=ReplyFile(file_name, content),
    )


def audit(ctx: AdminContext, target: Target | None, count: int) -> AdminReply:
    """The last `count` changes: every one (target None), else this chat's."""
    if target is None:
        entries = ctx.store.audit(count)
    else:
        entries = ctx.store.audit(count, chat=target.channel) if target.channel else []
    return AdminReply(admin_replies.audit_reply(entries))


def retry(ctx: AdminContext, caller: Caller, args: str) -> tuple[AdminReply, bool]:
    """Re-queue failed posts: this chat's, or (an owner naming no chat) as `/retry [list |
    channel]` always did. Returns the reply and whether any post was re-queued."""
    target = caller.target
    channel: str | None
    if target is None:
        try:
            request = parse_retry(args, list(ctx.view().chat_names))
        except ReleaseBotError as exc:
            return AdminReply(admin_replies.argument_problem(str(exc))), False
        if request.listing:
            return AdminReply(
                admin_replies.from_reply(failed_list_reply(failed_posts(ctx.store)))
            ), False
        channel = request.channel
    elif target.channel is None:
        return AdminReply(admin_replies.no_feeds_here(target.title)), False
    else:
        channel = target.channel
        if args.strip().lower() == "list":
            posts = failed_posts(ctx.store, channel)
            return AdminReply(admin_replies.from_reply(failed_list_reply(posts))), False
    failed = len(ctx.store.failed_deliveries(channel))
    if not failed:
        return AdminReply(admin_replies.from_reply(requeued_reply({}))), False
    entry = audit_entry(
        ctx, caller, channel or "", "retry", channel or "every chat", f"{failed} failed", "pending"
    )
    with ctx.store.change(entry):
        counts = ctx.store.requeue_failed(channel)
    return AdminReply(admin_replies.from_reply(requeued_reply(counts))), True
