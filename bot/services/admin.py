"""Admin commands: one `AdminRequest` in, one `AdminReply` out (../shared/design/admin.md).

`AdminService.handle` finds the chat a command manages (bot/services/admin_auth.py), the
sender's role there and their rate, refuses politely whoever may not, and dispatches on
the command to a handler; `press` does the same for a button, whose callback_data
(`kind:token:choice`) names only a pending action kept in the store (bot/store/pending.py).
Handlers are registered by name, so /add and /import (bot/services/admin_add.py) plug in:

    service.register_command("add", handler)   # handler(request, caller, args) -> AdminReply
    service.register_press("add", on_press)    # on_press(press, action, choice, caller)

Every change runs in one transaction with its audit row (`store.change(entry)`), then
`ctx.changed()` hands the new routing view to the runtime. Routes the config file declares
are read-only here but for /pause and /resume. The read-only commands (/subs, /status,
/export, /audit) and /retry live in bot/services/admin_reports.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.errors import ReleaseBotError
from bot.feeds.filters import RouteFilter, describe_filter
from bot.models import AuditEntry, Route, RoutingView
from bot.render import admin_args, admin_replies
from bot.render.command_args import CommandArgumentError
from bot.services import admin_reports
from bot.services.admin_auth import AdminAuth, Caller, Resolved, resolve_target, target_of
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_types import (
    GROUP_ANONYMOUS_BOT,
    AdminReply,
    AdminRequest,
    Choice,
    Place,
    Press,
)
from bot.store import PendingAction
from bot.store.admin import overrides_text

CommandHandler = Callable[[AdminRequest, Caller, str], Awaitable[AdminReply]]
PressHandler = Callable[[Press, PendingAction, str, Caller], Awaitable[AdminReply]]

MAX_CALLBACK_BYTES = 64
# What an owner may send from a private chat naming no chat: about the whole bot.
BOT_WIDE = frozenset({"status", "export", "audit", "retry", "pause", "resume"})
OWNERS_ONLY = frozenset({"audit"})
_DATA = re.compile(r"([a-z_]{1,16}):([A-Za-z0-9_-]{8,43}):([A-Za-z0-9_-]{0,16})")


def callback_data(kind: str, token: str, choice: str) -> str:
    """A button's callback_data: `kind:token:choice`, at most 64 bytes."""
    data = f"{kind}:{token}:{choice}"
    if not _DATA.fullmatch(data) or len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"not a button's data: {data!r}")
    return data


class AdminService:
    """Admin commands and their buttons; see the module docstring."""

    def __init__(self, ctx: AdminContext, *, wake: Callable[[], None] | None = None) -> None:
        self.ctx = ctx
        self.auth = AdminAuth(ctx)
        self.wake = wake  # starts the dispatcher's workers: posts resumed or re-queued
        self.commands: dict[str, CommandHandler] = {
            "remove": self._remove,
            "subs": self._subs,
            "set": self._set,
            "filter": self._filter,
            "pause": self._pause,
            "resume": self._resume,
            "retry": self._retry,
            "status": self._status,
            "export": self._export,
            "audit": self._audit,
        }
        self.presses: dict[str, PressHandler] = {"remove": self._press_remove}

    def register_command(self, name: str, handler: CommandHandler) -> None:
        """Handle /name with `handler`, after the target, role and rate checks (a chat's
        admin or an owner, in a chat or naming one)."""
        self.commands[name] = handler

    def register_press(self, kind: str, handler: PressHandler) -> None:
        """Handle presses of buttons whose pending action is of `kind`; called once the
        press is checked (not expired, right chat, an admin pressing) and the action is
        consumed (dropped: a second press finds it gone)."""
        self.presses[kind] = handler

    @property
    def names(self) -> tuple[str, ...]:
        """The admin commands this service answers."""
        return tuple(self.commands)

    # Commands

    async def handle(self, request: AdminRequest) -> AdminReply | None:
        """The reply to an admin command; None when it is not one."""
        handler = self.commands.get(request.command)
        if handler is None:
            return None
        if self.auth.over_rate(request.actor):
            limit = self.ctx.settings.admin.commands_per_minute
            return AdminReply(admin_replies.rate_limited(limit))
        admitted = await self._admitted(request)
        if isinstance(admitted, AdminReply):
            return admitted
        caller, resolved = admitted
        try:
            return await handler(request, caller, resolved.args)
        except CommandArgumentError as exc:
            return AdminReply(admin_replies.argument_problem(exc.message))

    async def refusal(self, request: AdminRequest) -> AdminReply | None:
        """Why `request`'s sender may not give it (None: they may), without running it nor
        counting it: the adapter asks before fetching what the command needs (an /import's
        document), so nobody else makes the bot download files."""
        if request.command not in self.commands:
            return None
        admitted = await self._admitted(request)
        return admitted if isinstance(admitted, AdminReply) else None

    async def _admitted(self, request: AdminRequest) -> tuple[Caller, Resolved] | AdminReply:
        owner = request.actor.user_id in self.ctx.settings.bot.admins
        required = not (owner and request.command in BOT_WIDE)
        resolved = await resolve_target(
            request, self.ctx.store, self.ctx.members, required=required
        )
        if isinstance(resolved, AdminReply):
            return resolved
        caller = await self._caller(request, resolved)
        if isinstance(caller, AdminReply):
            return caller
        return caller, resolved

    async def _caller(self, request: AdminRequest, resolved: Resolved) -> Caller | AdminReply:
        target = resolved.target
        try:
            role = await self.auth.role(request.actor, target, request.place)
        except ReleaseBotError as exc:
            return AdminReply(admin_replies.rights_unknown(str(exc)))
        caller = Caller(request.actor, role, target)
        if not caller.may_manage:
            title = target.title if target else None
            return AdminReply(admin_replies.not_allowed(request.command, title))
        if request.command in OWNERS_ONLY and not caller.owner:
            return AdminReply(admin_replies.owners_only(request.command))
        return caller

    # Buttons

    def ask(
        self,
        kind: str,
        payload: dict[str, Any],
        caller: Caller,
        buttons: Sequence[Sequence[tuple[str, str]]],
    ) -> tuple[tuple[Choice, ...], ...]:
        """Keep an action for `caller`'s chat and return its buttons, rows of (label, choice)."""
        if caller.target is None:
            raise ValueError("buttons act on a chat: the caller names none")
        token = self.ctx.store.put_action(
            kind,
            payload,
            chat_id=caller.target.chat_id,
            thread_id=caller.target.thread_id,
            user_id=_user_id(caller),
            now=self.ctx.clock(),
        )
        return tuple(
            tuple(Choice(label, callback_data(kind, token, choice)) for label, choice in row)
            for row in buttons
        )

    async def press(self, press: Press) -> AdminReply:
        """A button pressed: checked again (who, where, when), then its kind's handler."""
        expired = AdminReply(admin_replies.button_expired(), toast=admin_replies.BUTTON_EXPIRED)
        found = _DATA.fullmatch(press.data) if len(press.data.encode()) <= 64 else None
        if found is None:
            return expired
        kind, token, choice = found.groups()
        action = self.ctx.store.get_action(token)
        handler = self.presses.get(kind)
        if (
            action is None
            or action.kind != kind
            or handler is None
            or action.expired(self.ctx.clock())
        ):
            return expired
        if not _pressed_where_asked(press.place, action):
            return AdminReply(admin_replies.KEEP_MESSAGE, toast=admin_replies.BUTTON_ELSEWHERE)
        caller = await self._presser(press, action)
        if isinstance(caller, AdminReply):
            return caller
        if not self.ctx.store.drop_action(token):
            return expired  # pressed twice: the first press acted
        return await handler(press, action, choice, caller)

    async def _presser(self, press: Press, action: PendingAction) -> Caller | AdminReply:
        """Who pressed, with their role in the action's chat asked afresh."""
        refused = AdminReply(admin_replies.KEEP_MESSAGE, toast=admin_replies.BUTTON_NOT_YOURS)
        try:
            if press.place.chat_id == action.chat_id:
                place = press.place
            else:
                seen = await self.ctx.members.chat(action.chat_id)
                if seen is None:
                    return refused
                place = seen
            where = Place(place.chat_id, place.kind, place.title, place.username, action.thread_id)
            target = target_of(where, self.ctx.store)
            role = await self.auth.role(press.actor, target, press.place, fresh=True)
        except ReleaseBotError:
            return refused
        caller = Caller(press.actor, role, target)
        return caller if caller.may_manage else refused

    # /remove

    async def _remove(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        found = self._chat_made_route(caller, args, usage="Use /remove <feed>.")
        if isinstance(found, AdminReply):
            return found
        activity = self.ctx.store.route_activity(found.chat).get(found.feed)
        pending = activity.pending if activity else 0
        choices = self.ask(
            "remove",
            {"feed": found.feed, "channel": found.chat},
            caller,
            [[(admin_replies.REMOVE_BUTTON, "yes"), (admin_replies.CANCEL_BUTTON, "no")]],
        )
        title = _needs(caller).title
        return AdminReply(admin_replies.remove_confirm(found.feed, title, pending), choices)

    async def _press_remove(
        self, press: Press, action: PendingAction, choice: str, caller: Caller
    ) -> AdminReply:
        if choice != "yes":
            return AdminReply(admin_replies.nothing_done(), toast="Cancelled")
        feed = str(action.payload["feed"])
        # The chat's channel as it is named now (from the action's chat id), not the name
        # asked with: a reload since may have given that name to another chat's channel.
        channel = caller.target.channel if caller.target else None
        route = self.ctx.view().route(feed, channel) if channel else None
        if route is None or channel is None:
            return AdminReply(admin_replies.route_gone(feed))
        if route.origin == "config":
            return AdminReply(admin_replies.config_route(feed))
        with self.ctx.store.change(
            self._entry(caller, channel, "remove", route, _route_text(route), "")
        ):
            cancelled = self.ctx.store.drop_route(feed, channel)
        self.ctx.changed(channel)
        title = caller.target.title if caller.target else channel
        return AdminReply(admin_replies.removed(feed, title, cancelled), toast="Removed")

    # /set, /filter

    async def _set(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        wanted = admin_args.parse_set(args)
        found = self._chat_made_route(caller, wanted.feed, usage=admin_args.SET_USAGE)
        if isinstance(found, AdminReply):
            return found
        value = wanted.value
        if wanted.option == "backlog" and value is None:
            value = self.ctx.settings.defaults.backlog  # the column always holds a number
        before = _option_text(_own_value(found, wanted.column))
        after = _option_text(value)
        entry = self._entry(
            caller,
            found.chat,
            "set",
            found,
            f"{wanted.option}={before}",
            f"{wanted.option}={after}",
        )
        with self.ctx.store.change(entry):
            self.ctx.store.set_route_options(found.feed, found.chat, **{wanted.column: value})
        self.ctx.changed(found.chat)
        note = admin_replies.BACKLOG_NOTE if wanted.option == "backlog" else ""
        return AdminReply(admin_replies.option_set(found.feed, wanted.option, before, after, note))

    async def _filter(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        wanted = admin_args.parse_filter(args)
        found = self._chat_made_route(caller, wanted.feed, usage=admin_args.FILTER_USAGE)
        if isinstance(found, AdminReply):
            return found
        include, exclude = found.include, found.exclude
        if wanted.mode == "clear":
            include, exclude = (), ()
        elif wanted.mode == "include":
            include = wanted.terms
        else:
            exclude = wanted.terms
        before = describe_filter(RouteFilter(found.include, found.exclude))
        after = describe_filter(RouteFilter(include, exclude))
        with self.ctx.store.change(self._entry(caller, found.chat, "filter", found, before, after)):
            self.ctx.store.set_route_filter(found.feed, found.chat, include, exclude)
        self.ctx.changed(found.chat)
        if not include and not exclude:
            return AdminReply(admin_replies.filter_cleared(found.feed))
        return AdminReply(admin_replies.filter_set(found.feed, after))

    # /pause, /resume

    async def _pause(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        return self._pausing(caller, args, resumed=False)

    async def _resume(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        return self._pausing(caller, args, resumed=True)

    def _pausing(self, caller: Caller, args: str, *, resumed: bool) -> AdminReply:
        command = "resume" if resumed else "pause"
        wanted = admin_args.parse_pause(args)
        view = self.ctx.view()
        if wanted.whole_feed:
            return self._pause_feed(caller, view, wanted.feed or "", resumed=resumed)
        if caller.target is None:
            return AdminReply(admin_replies.name_the_chat(command))
        if wanted.feed is None:
            routes = view.routes_of(caller.target.channel) if caller.target.channel else ()
            if not routes:
                return AdminReply(admin_replies.no_feeds_here(caller.target.title))
        else:
            found = self._route(view, caller.target, wanted.feed, usage="")
            if isinstance(found, AdminReply):
                return found
            routes = (found,)
        changing = [route for route in routes if route.paused != (not resumed)]
        if not changing:
            return AdminReply(admin_replies.paused([], 0, resumed=resumed))
        channel = changing[0].chat
        which = changing[0].feed if wanted.feed else None  # None: every route of the chat
        held = self.ctx.store.held_posts(channel, which) if resumed else 0
        names = [route.feed for route in changing]
        what: Route | str = changing[0] if which else f"all feeds -> {channel}"
        entry = self._entry(caller, channel, command, what, "", "")
        with self.ctx.store.change(entry):
            self.ctx.store.set_route_paused(channel, not resumed, which)
        self.ctx.changed(channel)
        if resumed and self.wake is not None:
            self.wake()
        return AdminReply(admin_replies.paused(names, held, resumed=resumed))

    def _pause_feed(
        self, caller: Caller, view: RoutingView, ref: str, *, resumed: bool
    ) -> AdminReply:
        """`/pause feed NAME` (owners): the whole feed, in every chat, is not polled."""
        if not caller.owner:
            return AdminReply(admin_replies.owners_only("pause feed"))
        name = _feed_named(view, ref, self.ctx.store.feed_by_url(ref))
        if name is None:
            return AdminReply(admin_replies.unknown_bot_feed(ref))
        feed = view.feed(name)
        changed = feed is not None and feed.paused == resumed
        if changed:
            action = "resume feed" if resumed else "pause feed"
            with self.ctx.store.change(self._entry(caller, "", action, name, "", "")):
                self.ctx.store.set_feed_paused(name, not resumed)
            self.ctx.changed()
        return AdminReply(admin_replies.feed_paused(name, resumed=resumed, changed=changed))

    # Reports: /subs, /status, /export, /audit, and /retry

    async def _subs(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        return admin_reports.subs(self.ctx, _needs(caller))

    async def _status(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        return admin_reports.status(self.ctx, caller.target)

    async def _export(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        return admin_reports.export(self.ctx, caller.target)

    async def _audit(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        return admin_reports.audit(self.ctx, caller.target, admin_args.parse_audit(args))

    async def _retry(self, request: AdminRequest, caller: Caller, args: str) -> AdminReply:
        reply, requeued = admin_reports.retry(self.ctx, caller, args)
        if requeued and self.wake is not None:
            self.wake()
        return reply

    # Helpers

    def _chat_made_route(self, caller: Caller, ref: str, *, usage: str) -> Route | AdminReply:
        """This chat's route `ref` names, when Telegram may change it: one the config file
        declares is refused (it may only be paused and resumed)."""
        found = self._route(self.ctx.view(), _needs(caller), ref, usage=usage)
        if isinstance(found, Route) and found.origin == "config":
            return AdminReply(admin_replies.config_route(found.feed))
        return found

    def _route(
        self, view: RoutingView, target: Target, ref: str, *, usage: str
    ) -> Route | AdminReply:
        """The route of this chat whose feed `ref` names (its name in any case, or URL)."""
        ref = ref.strip()
        if not ref and usage:
            raise CommandArgumentError(usage)
        routes = view.routes_of(target.channel) if target.channel else ()
        if not routes:
            return AdminReply(admin_replies.no_feeds_here(target.title))
        name = _feed_named(view, ref, self.ctx.store.feed_by_url(ref) if "/" in ref else None)
        found = view.route(name, target.channel or "") if name else None
        if found is None:
            return AdminReply(admin_replies.unknown_feed(ref, [route.feed for route in routes]))
        return found

    def _entry(
        self, caller: Caller, chat: str, action: str, target: Route | str, before: str, after: str
    ) -> AuditEntry:
        return admin_reports.audit_entry(self.ctx, caller, chat, action, target, before, after)


def _needs(caller: Caller) -> Target:
    """The chat managed, for commands that resolve_target made name one."""
    if caller.target is None:  # resolve_target requires one for these commands
        raise ValueError("this command needs the chat it manages")
    return caller.target


def _user_id(caller: Caller) -> int | None:
    """Who asked, for the pending action and the audit (None: no user to name)."""
    user_id = caller.actor.user_id
    return None if user_id == GROUP_ANONYMOUS_BOT else user_id


def _pressed_where_asked(place: Place, action: PendingAction) -> bool:
    """In the chat managed, or in the private chat of the one who asked (a private
    chat's id is its user's)."""
    if place.chat_id == action.chat_id:
        return True
    return (
        place.kind == "private" and action.user_id is not None and place.chat_id == action.user_id
    )


def _feed_named(view: RoutingView, ref: str, by_url: tuple[str, str] | None) -> str | None:
    lowered = ref.lower()
    for feed in view.feeds:
        if feed.name.lower() == lowered or feed.source == ref:
            return feed.name
    return by_url[0] if by_url and view.feed(by_url[0]) is not None else None


def _own_value(route: Route, column: str) -> Any:
    if column == "backlog":
        return route.backlog
    return getattr(route.overrides, column)


def _option_text(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _route_text(route: Route) -> str:
    """A route's settings for the audit trail."""
    parts = [
        overrides_text(route.overrides),
        describe_filter(RouteFilter(route.include, route.exclude)),
    ]
    if route.paused:
        parts.append("paused")
    return "; ".join(part for part in parts if part)
