"""Apply a re-read config file to a running bot: what may change now, and what changed.

A SIGHUP (or `releasebot reload`) re-reads the file (bot/telegram/reload.py). Feeds,
channels, routes, their options, the owners and the defaults take effect at once, through
the sync every start does (`apply_config`). Some settings were built into the running
process at start (the database it opened, the Telegram client's base URL and timeouts, the
fetcher's connection pool, the tick's schedule): those keep their running values until a
restart, and the caller logs which of them the file changed (`Reloaded.need_restart`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.models import RoutingView
from bot.services.config_sync import apply_config
from bot.store import Store

# Per section, the keys the running process cannot take without a restart.
RESTART_ONLY: dict[str, tuple[str, ...]] = {
    "bot": ("database", "api_base_url", "username", "tick", "request_timeout", "log_format"),
    "fetch": (
        "timeout",
        "connect_timeout",
        "max_bytes",
        "concurrency",
        "per_host",
        "allow_private_addresses",
    ),
    "metrics": ("listen",),  # the endpoint is bound once, at start
    "webhook": ("url", "listen", "path"),  # setWebhook and the server: once, at start
    # The study lookups' client is built once, at start (edit_window follows a reload).
    "study": (
        "enabled",
        "doi_resolver",
        "ncbi_api",
        "contact_email",
        "requests_per_second",
        "timeout",
    ),
}


def keep_running_values(running: Settings, loaded: Settings) -> tuple[Settings, list[str]]:
    """`loaded` with the restart-only keys (and the folder relative paths start from) set
    back to their running values; and those keys `loaded` wanted changed ("bot.tick")."""
    changed: list[str] = []
    update: dict[str, Any] = {"base_dir": running.base_dir}
    for section, keys in RESTART_ONLY.items():
        now, wanted = getattr(running, section), getattr(loaded, section)
        changed += [f"{section}.{key}" for key in keys if getattr(now, key) != getattr(wanted, key)]
        update[section] = wanted.model_copy(update={key: getattr(now, key) for key in keys})
    if running.base_dir != loaded.base_dir and running.database_path != loaded.database_path:
        changed.append("bot.database")  # the same name, read from another folder
    return loaded.model_copy(update=update), sorted(set(changed))


@dataclass(frozen=True, slots=True)
class ViewChange:
    """What a reload added to and removed from the routing view, by name."""

    feeds_added: tuple[str, ...] = ()
    feeds_removed: tuple[str, ...] = ()
    chats_added: tuple[str, ...] = ()
    chats_removed: tuple[str, ...] = ()
    routes_added: tuple[tuple[str, str], ...] = ()  # (feed, chat)
    routes_removed: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.feeds_added,
                self.feeds_removed,
                self.chats_added,
                self.chats_removed,
                self.routes_added,
                self.routes_removed,
            )
        )

    def summary(self) -> str:
        """'feeds +1 -0, channels +1 -0, routes +2 -1'."""
        parts = (
            ("feeds", self.feeds_added, self.feeds_removed),
            ("channels", self.chats_added, self.chats_removed),
            ("routes", self.routes_added, self.routes_removed),
        )
        return ", ".join(f"{what} +{len(added)} -{len(gone)}" for what, added, gone in parts)


def view_change(before: RoutingView, after: RoutingView) -> ViewChange:
    def diff(old: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[tuple[Any, ...], ...]:
        return tuple(x for x in new if x not in old), tuple(x for x in old if x not in new)

    feeds = diff(before.feed_names, after.feed_names)
    chats = diff(before.chat_names, after.chat_names)
    routes = diff(
        tuple((r.feed, r.chat) for r in before.routes),
        tuple((r.feed, r.chat) for r in after.routes),
    )
    return ViewChange(*feeds, *chats, *routes)


@dataclass(frozen=True, slots=True)
class Reloaded:
    """A reload applied: the settings and view to run with now, and what changed."""

    settings: Settings
    view: RoutingView
    change: ViewChange
    need_restart: list[str]  # keys the file changed that keep their running values

    def line(self, source: str) -> str:
        """The one log line a reload says."""
        what = "nothing changed" if self.change.empty else self.change.summary()
        line = f"reloaded {source}: {what}"
        if self.need_restart:
            keys = ", ".join(self.need_restart)
            line += f"; changed in the file but kept until a restart: {keys}"
        return line


def reload_config(
    store: Store, running: Settings, view: RoutingView, loaded: Settings, now: datetime
) -> Reloaded:
    """Sync `loaded` into the store (a removed route's pending deliveries are never sent)
    and build the new view; the restart-only settings keep their running values."""
    settings, need_restart = keep_running_values(running, loaded)
    new_view = apply_config(store, settings, now)
    return Reloaded(settings, new_view, view_change(view, new_view), need_restart)
