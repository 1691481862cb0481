"""SIGHUP: a running bot re-reads its config file and applies it between two rounds.

`releasebot reload` (bot/cli.py) sends the signal; so can `kill -HUP` or a service
manager's reload. A valid file is synced into the store and the new routing view and
settings reach every part at once (`Runtime.reroute`, bot/services/reload.py for what may
change without a restart). An invalid or unreadable file changes nothing: the problems are
logged and the owners (`bot.admins`) get them in one message.

A reload never runs in the middle of a round: it takes the round's place (`Runtime.round`)
once the round under way has finished, so no tick starts a round while it waits, and a stop
cancels it like a round. A second SIGHUP while one reload waits adds nothing: the waiting
reload reads the file as it is when its turn comes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType

from bot.config import load_settings
from bot.errors import ConfigError
from bot.render.notices import config_rejected_notice
from bot.render.telegram_html import Html
from bot.services.reload import reload_config
from bot.telegram.app import Runtime

log = logging.getLogger(__name__)


class EarlyHangups:
    """SIGHUPs that arrive before the run can reload (while it takes its lock and opens the
    database): remembered, and applied once it can. Without this, SIGHUP's default action
    would end the process, e.g. a `releasebot reload` sent just after a start."""

    def __init__(self) -> None:
        self.pending = False

    @classmethod
    def catch(cls) -> EarlyHangups:
        hangups = cls()
        signal.signal(signal.SIGHUP, hangups.caught)
        return hangups

    def caught(self, number: int, frame: FrameType | None) -> None:
        self.pending = True  # nothing else in a signal handler: it may interrupt a log line


class Reloading:
    """SIGHUP for the whole run (`with`): reload `config` between two rounds.

    `once`: a `run --once` reads the config only at its start and says so. `stopped` tells
    whether the run is stopping (then nothing more is reloaded).
    """

    def __init__(
        self,
        runtime: Runtime,
        config: Path,
        loop: asyncio.AbstractEventLoop,
        *,
        once: bool = False,
        stopped: Callable[[], bool] = lambda: False,
        early: EarlyHangups | None = None,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.loop = loop
        self.once = once
        self.stopped = stopped
        self.early = early
        self.waiting = False  # a reload waits for the round under way

    def __enter__(self) -> Reloading:
        self.loop.add_signal_handler(signal.SIGHUP, self.on_signal)
        if self.early is not None and self.early.pending:
            self.early.pending = False
            self.on_signal()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.loop.remove_signal_handler(signal.SIGHUP)  # which restores SIGHUP's default
        # A SIGHUP while the run stops must not end it before its sends are recorded.
        signal.signal(signal.SIGHUP, self.early.caught if self.early else signal.SIG_IGN)

    def on_signal(self) -> None:
        if self.once:
            log.warning("SIGHUP: run --once reads %s only at its start; not reloading", self.config)
            return
        if self.stopped():
            return
        if self.waiting:
            log.info("SIGHUP: a reload already waits for the round under way")
            return
        self.waiting = True
        previous = self.runtime.round
        if previous is not None and not previous.done():
            log.info("SIGHUP: reloading %s once the round under way ends", self.config)
        self.runtime.round = self.loop.create_task(self.after(previous), name="reload")

    async def after(self, previous: asyncio.Task[None] | None) -> None:
        """Reload once `previous` (the round under way) is over; a stop cancels both."""
        if previous is not None and not previous.done():
            try:
                await asyncio.wait([previous])
            except asyncio.CancelledError:
                previous.cancel()
                await asyncio.wait([previous])
                raise
        self.waiting = False
        try:
            notice = reload_now(self.runtime, self.config)
            if notice is not None:
                await self.runtime.dispatcher.notify_admins(notice)
        except Exception:  # keep the bot alive, as a failed round does
            log.exception("reloading %s failed; keeping the running configuration", self.config)


def reload_now(runtime: Runtime, config: Path) -> Html | None:
    """Read `config` and apply it (all without an `await`, so nothing reads the store or
    the view half-way); the notice for the owners when the file is refused, else None."""
    try:
        loaded = load_settings(config)
    except ConfigError as exc:
        log.error("not reloading %s: keeping the running configuration; its problems:", config)
        for problem in exc.problems:
            log.error("  %s", problem)
        return config_rejected_notice(str(config), exc.problems)
    # A failure here (the database cannot be written) raises before anything is rerouted.
    reloaded = reload_config(runtime.store, runtime.settings, runtime.view, loaded, runtime.clock())
    runtime.reroute(reloaded.settings, reloaded.view)
    log.info("%s", reloaded.line(str(config)))
    return None
