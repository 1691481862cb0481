"""The admin commands' CLI side: `releasebot opml import FILE --chat CHAT` and `releasebot
audit`. The operator at the shell is an owner: nothing is asked of Telegram, and new feed
URLs may be followed.

CHAT names a channel of the config or the database, or a chat by "@username" or numeric id
(a chat the database does not know gets a channel row, as `/add` makes one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.config import Settings
from bot.errors import NotFoundError
from bot.fetch.client import Fetcher, default_user_agent
from bot.render.admin_add import ImportSummary
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_import import Progress, import_feeds
from bot.services.admin_types import Actor, Membership, Place
from bot.services.routing import build_view
from bot.store import Store

CLI_ACTOR = Actor(user_id=None, name="releasebot (CLI)")


class NoMembers:
    """The CLI asks Telegram nothing: nobody is a member of anything."""

    async def membership(self, chat_id: int, user_id: int) -> Membership:
        return Membership("left")

    async def chat(self, ref: int | str) -> Place | None:
        return None


def cli_target(store: Store, settings: Settings, chat: str) -> Target:
    """The chat `chat` names: a channel's name, "@username" or a numeric chat id."""
    ref = chat.strip()
    view = build_view(store, settings)
    known = view.chat(ref)
    if known is not None:
        chat_id = int(known.chat) if known.chat.lstrip("-").isdigit() else 0
        return Target(
            chat_id=chat_id,
            kind="channel",
            title=known.name,
            username=known.username[1:] if known.username else None,
            thread_id=known.thread_id,
            channel=known.name,
        )
    if ref.startswith("@") and len(ref) > 1:
        return Target(chat_id=0, kind="channel", title=ref, username=ref[1:])
    if ref.lstrip("-").isdecimal():  # "²" is a digit to isdigit, and int("²") raises
        return Target(chat_id=int(ref), kind="channel", title=ref)
    names = ", ".join(view.chat_names) or "none"
    raise NotFoundError(
        f"no channel named {ref!r} (its channels: {names}); or give @username or a chat id"
    )


async def import_file(
    settings: Settings,
    store: Store,
    target: Target,
    data: bytes,
    *,
    clock: Callable[[], datetime],
    progress: Progress | None = None,
) -> ImportSummary:
    """Subscribe `target` to the feeds of the OPML `data`, as `/import` from an owner."""
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        ctx = AdminContext(
            settings=settings,
            store=store,
            clock=clock,
            members=NoMembers(),
            fetcher=fetcher,
            bot_username=settings.bot.username,
        )
        return await import_feeds(
            ctx, target, data, may_add_new=True, actor=CLI_ACTOR, progress=progress
        )
