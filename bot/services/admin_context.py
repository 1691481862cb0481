"""What every admin command works with: `AdminContext` (the running bot's parts) and
`Target` (the chat being managed, resolved from where the command was sent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.fetch.client import Fetcher
from bot.models import RoutingView
from bot.services.admin_types import ChatKind, MemberLookup
from bot.services.routing import build_view
from bot.store import Store


@dataclass(frozen=True, slots=True)
class Target:
    """The chat (or forum topic) a command manages."""

    chat_id: int
    kind: ChatKind
    title: str
    username: str | None = None  # without "@"
    thread_id: int | None = None
    channel: str | None = None  # its channel name in the store; None until it has a route


@dataclass(slots=True)
class AdminContext:
    """The running bot's parts the admin services use; `rerouted` is told the new view
    after every change (the runtime hands it to poller, dispatcher and reader commands)."""

    settings: Settings
    store: Store
    clock: Callable[[], datetime]
    members: MemberLookup
    fetcher: Fetcher | None  # None where nothing may be fetched (tests of other commands)
    bot_username: str
    rerouted: Callable[[Settings, RoutingView], None] = lambda settings, view: None

    def view(self) -> RoutingView:
        return build_view(self.store, self.settings)

    def changed(self) -> RoutingView:
        """After a change: the new view, handed to the runtime."""
        view = self.view()
        self.rerouted(self.settings, view)
        return view
