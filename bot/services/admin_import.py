"""`/import` (and `releasebot opml import`): subscribe a chat to the feeds of an OPML file.

The file is hostile XML until parse_opml (bot/feeds/opml.py) has read it. Each feed is then
checked as `/add` checks one (bot/services/admin_add.py): its URL, a feed the bot follows
skips the fetch, a new one is fetched once (at most IMPORT_CONCURRENCY at a time, within
the Fetcher's own limits), a web page is searched for its one feed. Then, in file order,
each is subscribed with no backlog and no button, in its own transaction with its audit
row; the limits (max_feeds, max_routes_per_chat) hold at each write. One summary says
what was added, what was already there and what was refused, with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.errors import FeedError, OpmlError
from bot.feeds.opml import OpmlFeed, parse_opml
from bot.feeds.urls import check_feed_url
from bot.render.admin_add import IMPORT_USAGE, NO_CHAT, ImportSummary, import_html, refusal
from bot.services.admin import AdminService
from bot.services.admin_add import (
    ADD,
    PICK,
    AddRefusedError,
    Candidate,
    feed_reason,
    finish_add,
    resolve,
    start_add,
    subscribe,
)
from bot.services.admin_auth import Caller
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_types import Actor, AdminReply, AdminRequest, Press, Upload
from bot.store import PendingAction

IMPORT_CONCURRENCY = 8  # feeds checked (fetched) at once
Progress = Callable[[int, int], None]  # (feeds checked, feeds in the file)


async def import_opml(
    ctx: AdminContext,
    target: Target,
    upload: Upload,
    *,
    may_add_new: bool,
    actor: Actor,
    progress: Progress | None = None,
) -> AdminReply:
    """`/import` with an OPML document: one summary message (or why the file was refused)."""
    try:
        summary = await import_feeds(
            ctx, target, upload.content, may_add_new=may_add_new, actor=actor, progress=progress
        )
    except OpmlError as exc:
        return AdminReply(refusal(exc.message))
    return AdminReply(import_html(summary))


async def import_feeds(
    ctx: AdminContext,
    target: Target,
    data: bytes,
    *,
    may_add_new: bool,
    actor: Actor,
    progress: Progress | None = None,
) -> ImportSummary:
    """Check and subscribe each feed of the OPML `data`; OpmlError when it cannot be read."""
    document = parse_opml(data)
    feeds = document.feeds
    checked = 0
    slots = asyncio.Semaphore(IMPORT_CONCURRENCY)

    async def check(feed: OpmlFeed) -> Candidate | str:
        nonlocal checked
        async with slots:
            try:
                return await _check(ctx, feed, may_add_new=may_add_new)
            except AddRefusedError as exc:
                return exc.message
            except FeedError as exc:
                return feed_reason(exc)
            finally:
                checked += 1
                if progress is not None:
                    progress(checked, len(feeds))

    if progress is not None:
        progress(0, len(feeds))
    outcomes = await asyncio.gather(*(check(feed) for feed in feeds))
    added: list[str] = []
    already: list[str] = []
    refused: list[tuple[str, str]] = []
    for feed, outcome in zip(feeds, outcomes, strict=True):
        if isinstance(outcome, str):
            refused.append((feed.url, outcome))
            continue
        try:
            done = subscribe(
                ctx,
                target,
                outcome,
                name="",
                backlog=0,
                actor=actor,
                action="import",
                may_add_new=may_add_new,  # checked again at the time of writing, as /add does
            )
        except AddRefusedError as exc:
            refused.append((feed.url, exc.message))
            continue
        (already if done.already else added).append(done.feed)
    return ImportSummary(added=tuple(added), already=tuple(already), refused=tuple(refused))


async def _check(ctx: AdminContext, feed: OpmlFeed, *, may_add_new: bool) -> Candidate:
    url = check_feed_url(feed.url)
    found = await resolve(ctx, url, may_add_new=may_add_new)
    if isinstance(found, tuple):
        raise AddRefusedError(
            f"the page links to {len(found)} feeds; add the one you want with /add"
        )
    if not found.known and not found.title and feed.title:
        return Candidate(
            url=found.url,
            title=feed.title,
            revive=found.revive,
            fetched=found.fetched,
            parsed=found.parsed,
            body_hash=found.body_hash,
        )
    return found


# Wiring into the admin service (bot/services/admin.py)


def may_add_new(ctx: AdminContext, caller: Caller) -> bool:
    """Owners may follow new feed URLs; chat admins only with [admin] chat_admins_add_feeds."""
    if caller.owner:
        return True
    return caller.role == "chat_admin" and ctx.settings.admin.chat_admins_add_feeds


def register(service: AdminService) -> None:
    """/add and /import, and the buttons of /add, on `service` (after its target, role and
    rate checks, and for a press its re-check of who pressed, where and when)."""
    ctx = service.ctx

    async def add(request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        if caller.target is None:
            return AdminReply(NO_CHAT)
        allowed = may_add_new(ctx, caller)
        return await start_add(ctx, caller.target, args, may_add_new=allowed, actor=caller.actor)

    async def imported(request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        if caller.target is None:
            return AdminReply(NO_CHAT)
        if request.upload is None:
            return AdminReply(IMPORT_USAGE)
        allowed = may_add_new(ctx, caller)
        return await import_opml(
            ctx, caller.target, request.upload, may_add_new=allowed, actor=caller.actor
        )

    async def pressed(
        press: Press, action: PendingAction, choice: str, caller: Caller
    ) -> AdminReply:
        if caller.target is None:
            return AdminReply(NO_CHAT)
        allowed = may_add_new(ctx, caller)
        return await finish_add(
            ctx, caller.target, action, choice, caller.actor, may_add_new=allowed, wake=service.wake
        )

    service.register_command("add", add)
    service.register_command("import", imported)
    service.register_press(ADD, pressed)
    service.register_press(PICK, pressed)
