"""Who may manage which chat (../shared/design/admin.md, "Roles"), and how often.

`resolve_target` finds the chat a command manages: the chat it was sent in (and its forum
topic), or, from a private chat, the `@channel` or chat id given as its first argument.
`AdminAuth` decides the sender's role there and limits how many admin commands each
sender makes a minute:

- owner: a user id in `bot.admins`: everything, in any chat and from a private chat;
- chat_admin (when `[admin] chat_admins`): getChatMember says `creator`, or
  `administrator` with `can_post_messages` (a channel) or `can_change_info` (a group);
  a message sent as the group itself (an anonymous admin) or posted in the channel itself
  (only its admins can) counts too, in that chat only;
- member: everyone else.

getChatMember answers are cached at most `MEMBERSHIP_TTL` on the context's clock (a user
demoted a minute ago is no longer an admin), and a button press asks again (`fresh`).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import ReleaseBotError
from bot.render import admin_replies
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_types import (
    GROUP_ANONYMOUS_BOT,
    Actor,
    AdminReply,
    AdminRequest,
    MemberLookup,
    Membership,
    Place,
    Role,
)
from bot.store import Store

MEMBERSHIP_TTL = timedelta(seconds=60)
RATE_WINDOW = timedelta(minutes=1)
_MAX_REMEMBERED = 10_000  # cache entries and rate-limit senders kept before a sweep
# A chat named as the first argument: "@username", or a group's or channel's id (negative:
# positive ids are users, and "/audit 20" must stay a count).
_CHAT_REF = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-\d{1,19}")


@dataclass(frozen=True, slots=True)
class Resolved:
    """The chat a command manages (None: a private chat naming none) and the arguments
    left once the chat named first is taken off."""

    target: Target | None
    args: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent an admin command (or pressed its button), their role in the chat managed,
    and that chat (None: an owner in a private chat naming none, i.e. bot-wide)."""

    actor: Actor
    role: Role
    target: Target | None

    @property
    def may_manage(self) -> bool:
        return self.role in ("owner", "chat_admin")

    @property
    def owner(self) -> bool:
        return self.role == "owner"


def target_of(place: Place, store: Store) -> Target:
    """`place` as the chat managed, with its channel name in the store, if it has one."""
    stored = store.chat_target(place.chat_id, place.thread_id)
    return Target(
        chat_id=place.chat_id,
        kind=place.kind,
        title=place.title,
        username=place.username,
        thread_id=place.thread_id,
        channel=stored[0] if stored else None,
    )


async def resolve_target(
    request: AdminRequest, store: Store, members: MemberLookup, *, required: bool = True
) -> Resolved | AdminReply:
    """The chat `request` manages (see the module docstring), or a polite reply saying why
    there is none: a private chat naming no chat (when `required`), a chat the bot cannot
    see, a private chat named."""
    place = request.place
    if place.kind != "private":
        return Resolved(target_of(place, store), request.args)
    first, _, rest = request.args.strip().partition(" ")
    if not _CHAT_REF.fullmatch(first):
        if required:
            return AdminReply(admin_replies.name_the_chat(request.command))
        return Resolved(None, request.args)
    ref: int | str = int(first) if first.startswith("-") else first
    try:
        found = await members.chat(ref)
    except ReleaseBotError as exc:
        return AdminReply(admin_replies.chat_unseen(first, str(exc)))
    if found is None:
        return AdminReply(admin_replies.chat_unseen(first, ""))
    if found.kind == "private":
        return AdminReply(admin_replies.not_a_group(first))
    chat = Place(found.chat_id, found.kind, found.title, found.username, thread_id=None)
    return Resolved(target_of(chat, store), rest.strip())


class AdminAuth:
    """Roles (cached getChatMember answers) and the per-sender command rate."""

    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self._members: dict[tuple[int, int], tuple[Membership, datetime]] = {}
        self._recent: dict[tuple[str, int], deque[datetime]] = {}

    # Rate

    def over_rate(self, actor: Actor) -> bool:
        """Count one admin command by `actor`; True (and not counted) when it is one more
        than `[admin] commands_per_minute` within the last minute."""
        now = self.ctx.clock()
        key = _sender_key(actor)
        if len(self._recent) > _MAX_REMEMBERED:
            self._recent = {
                k: q for k, q in self._recent.items() if q and now - q[-1] < RATE_WINDOW
            }
        recent = self._recent.setdefault(key, deque())
        while recent and now - recent[0] >= RATE_WINDOW:
            recent.popleft()
        if len(recent) >= self.ctx.settings.admin.commands_per_minute:
            return True
        recent.append(now)
        return False

    # Roles

    async def role(
        self, actor: Actor, target: Target | None, place: Place, *, fresh: bool = False
    ) -> Role:
        """`actor`'s role in `target` (sent from `place`); `fresh` asks Telegram again.
        Raises ReleaseBotError when Telegram cannot answer getChatMember."""
        if actor.user_id is not None and actor.user_id in self.ctx.settings.bot.admins:
            return "owner"
        if target is None or not self.ctx.settings.admin.chat_admins:
            return "member"
        # Sent as the managed chat itself, in it: an anonymous group admin, or a post in
        # the channel. (In a group, a user may also write as some channel: not this chat.)
        if actor.sender_chat_id == target.chat_id == place.chat_id:
            return "chat_admin"
        if actor.user_id is None or actor.user_id == GROUP_ANONYMOUS_BOT:
            return "member"
        membership = await self.membership(target.chat_id, actor.user_id, fresh=fresh)
        return "chat_admin" if _admin_rights(membership, target) else "member"

    async def membership(self, chat_id: int, user_id: int, *, fresh: bool = False) -> Membership:
        """getChatMember, answered from the cache while younger than MEMBERSHIP_TTL."""
        now = self.ctx.clock()
        key = (chat_id, user_id)
        cached = self._members.get(key)
        if cached is not None and not fresh and now - cached[1] < MEMBERSHIP_TTL:
            return cached[0]
        membership = await self.ctx.members.membership(chat_id, user_id)
        if len(self._members) > _MAX_REMEMBERED:
            self._members = {k: v for k, v in self._members.items() if now - v[1] < MEMBERSHIP_TTL}
        self._members[key] = (membership, now)
        return membership

    def forget(self, chat_id: int, user_id: int) -> None:
        """Drop a cached answer (a chat_member update said the rights changed)."""
        self._members.pop((chat_id, user_id), None)


def _admin_rights(membership: Membership, target: Target) -> bool:
    if membership.status == "creator":
        return True
    if membership.status != "administrator":
        return False
    return membership.can_post_messages if target.kind == "channel" else membership.can_change_info


def _sender_key(actor: Actor) -> tuple[str, int]:
    """Whose rate a command counts against: the user, else the chat it was sent as."""
    if actor.user_id is not None and actor.user_id != GROUP_ANONYMOUS_BOT:
        return ("user", actor.user_id)
    return ("chat", actor.sender_chat_id or 0)
