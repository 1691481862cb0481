"""What every admin command works with: `AdminContext` (the running bot's parts) and
`Target` (the chat being managed, resolved from where the command was sent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Settings
from bot.fetch.client import Fetcher
from bot.models import RoutingView
from bot.services.admin_types import ChatKind, MemberLookup
from bot.services.routing import build_view, refresh_chat
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

    # The view as last built, with the settings and audit mark it was built at.
    _built: tuple[Settings, int, RoutingView] | None = field(default=None, repr=False)

    def view(self) -> RoutingView:
        """The routing view, built afresh only when a change was audited since the last one
        (every admin change writes an audit row: see Store.change) or the settings changed:
        a build reads every feed and route (~10 ms at 2,000 feeds), a command should not."""
        mark = self.store.audit_mark()
        built = self._built
        if built is None or built[0] is not self.settings or built[1] != mark:
            built = self._built = (self.settings, mark, build_view(self.store, self.settings))
        return built[2]

    def changed(self, chat: str | None = None) -> RoutingView:
        """After a change: the new view, handed to the runtime. A change to one `chat`'s
        routes re-reads only that chat (`refresh_chat`) when the view in hand was built
        just before it (its audit row is the only one since); anything else, a full build."""
        mark, built = self.store.audit_mark(), self._built
        if (
            chat is not None
            and built is not None
            and built[0] is self.settings
            and (mark == built[1] + 1)
        ):
            view = refresh_chat(built[2], self.store, self.settings, chat)
        else:
            view = build_view(self.store, self.settings)
        self._built = (self.settings, mark, view)
        self.rerouted(self.settings, view)
        return view

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """Follow the runtime (a reload, another part's change): register the context among
        `Runtime.followers`, so its settings and view are the running bot's."""
        self.settings = settings
        self._built = (settings, self.store.audit_mark(), view)
