"""The running bot's parts, opened and closed together: store, fetcher, poller, dispatcher,
and the study lookups (with `[study] enabled`: their client, and their task once started).

`open_runtime` builds them for every form of `releasebot run` (bot/telegram/run.py holds
the flow, bot/telegram/rounds.py the poll rounds, bot/telegram/application.py the PTB
Application). Here too: the lines a run says at start, after `--once` and at the stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot import __version__
from bot.config import Settings
from bot.fetch.client import Fetcher, default_user_agent
from bot.fetch.studies import StudyClient
from bot.logs import log_fields
from bot.models import RoutingView
from bot.render.progress import counted, start_line
from bot.services.channels import ChatChecker, check_channels
from bot.services.config_sync import apply_config
from bot.services.dispatcher import Dispatcher, DrainReport, Sender
from bot.services.metrics import Metrics
from bot.services.pacing import Pacer
from bot.services.parse_pool import ParsePool
from bot.services.poller import Poller, PollOutcome
from bot.services.progress import HEARTBEAT, Progress, polled
from bot.services.studies import StudyLookups
from bot.services.study_pages import StudyPages
from bot.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# The longest of Telegram's rate windows (20 posts per group or channel in any 60 s).
RATE_WINDOW_MEMORY = timedelta(seconds=60)


class Rerouted(Protocol):
    """A part that reads the routing view and the settings (poller, dispatcher, Answers)."""

    def reroute(self, settings: Settings, view: RoutingView) -> None: ...


@dataclass(slots=True)
class Runtime:
    """Everything a running bot holds; built once, passed to jobs and handlers."""

    settings: Settings
    store: Store
    poller: Poller
    dispatcher: Dispatcher
    clock: Clock
    progress: Progress
    view: RoutingView  # feeds, chats and routes as synced at start, or at the last change
    channels_checked_at: datetime | None = None
    pruned_at: datetime | None = None  # the last daily prune of old deliveries
    pages: StudyPages | None = None  # reads new releases' pages for their study (rounds.py)
    round: asyncio.Task[None] | None = None  # the poll round (or reload) under way, if any
    online: bool = False  # Telegram answered at start: rounds may send
    # Parts built once the bot is online that read the view too (the reader commands'
    # Answers, the admin commands): each registers here, so `reroute` reaches it.
    followers: list[Rerouted] = field(default_factory=list)
    metrics: Metrics | None = None  # with `[metrics] listen`: what /metrics and /healthz say
    studies: StudyLookups | None = None  # None with `[study] enabled = false`
    study_task: asyncio.Task[None] | None = None  # the lookups' own task, beside the rounds

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """Run with `settings` and `view` from now on, everywhere at once: the poller, the
        dispatcher and every follower. The one way the view changes while the bot runs (a
        reload, an admin command); call it right after the sync that made `view`, with no
        `await` between them, so no part ever reads a view the store has moved past."""
        self.settings = settings
        self.view = view
        parts: list[Rerouted] = [self.poller, self.dispatcher, *self.followers]
        if self.studies is not None:
            parts.append(self.studies)
        for part in parts:
            part.reroute(settings, view)

    def start_study_lookups(self) -> None:
        """Start the study lookups' task (once): they run beside the rounds and the sends,
        so no lookup ever holds up a poll or a post."""
        if self.studies is not None and self.study_task is None:
            self.study_task = asyncio.create_task(self.studies.run(), name="study-lookups")

    async def stop_study_lookups(self) -> None:
        """Cancel the lookups' task; a lookup cut short is simply due again next run."""
        if self.study_task is not None and not self.study_task.done():
            self.study_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.study_task

    def wake_dispatcher(self) -> None:
        """Posts are owed an edit (their study was found): send them, once the bot is online
        (before that, the first round starts the workers)."""
        if self.online:
            self.dispatcher.start_workers()


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    sender: Sender,
    *,
    clock: Clock,
    bot_username: str,
    dry_run: bool,
    heartbeat: float = HEARTBEAT,
    metrics: Metrics | None = None,
) -> AsyncIterator[Runtime]:
    store = Store.open(settings.database_path)
    parser = ParsePool(processes=1)
    try:
        view = apply_config(store, settings, clock())
        recovered = store.recover_in_flight()
        if recovered:
            log.warning("%d sends were in flight at the last stop; sending them again", recovered)
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            dispatcher = Dispatcher(
                settings,
                store=store,
                sender=sender,
                clock=clock,
                pacer=None if dry_run else restarted_pacer(store, clock()),
                bot_username=bot_username,
                dry_run=dry_run,
                view=view,
                metrics=metrics,
            )
            poller = Poller(
                settings,
                store=store,
                fetcher=fetcher,
                clock=clock,
                parser=parser,
                notify=dispatcher.notify_admins,  # e.g. the database cannot be written
                view=view,
                metrics=metrics,
            )
            progress = Progress(clock, lambda: waiting_posts(store), heartbeat=heartbeat)
            runtime = Runtime(
                settings, store, poller, dispatcher, clock, progress, view, metrics=metrics
            )
            async with contextlib.AsyncExitStack() as lookups:
                if settings.study.enabled:
                    client = await lookups.enter_async_context(StudyClient(settings.study))
                    runtime.studies = StudyLookups(
                        store,
                        client,
                        settings.study,
                        clock=clock,
                        wake=runtime.wake_dispatcher,
                        counted=metrics.study_looked_up if metrics is not None else None,
                    )
                try:
                    yield runtime
                finally:
                    await runtime.stop_study_lookups()
    finally:
        parser.close()
        store.close()


def waiting_posts(store: Store) -> int:
    """Posts still owed to a channel (pending, including those waiting out a pause)."""
    return sum(states.get("pending", 0) for states in store.delivery_counts().values())


def say_started(runtime: Runtime, username: str) -> None:
    """The start line: version, bot, feeds, channels, database."""
    settings = runtime.settings
    log.info(
        "%s",
        start_line(
            version=__version__,
            username=username,
            feeds=len(settings.feeds),
            channels=len(settings.channels),
            database=str(settings.database_path),
            tick=settings.bot.tick,
            dry_run=runtime.dispatcher.dry_run,
        ),
    )


def say_stopped(runtime: Runtime) -> None:
    log.info("%s", runtime.progress.stopped(runtime.dispatcher.report))


def restarted_pacer(store: Store, now: datetime) -> Pacer:
    """A Pacer whose rate windows already hold the sends of the last minute (a previous
    run's burst still counts at Telegram, so a restart must not send into it)."""
    pacer = Pacer()
    sends: dict[int | str, list[datetime]] = {}
    for chat, sent_at in store.recent_sends(now - RATE_WINDOW_MEMORY):
        sends.setdefault(chat, []).append(sent_at)
    for chat, instants in sends.items():
        pacer.seed(chat, instants, now=now)
    return pacer


async def check_runtime_channels(
    runtime: Runtime, checker: ChatChecker, *, only_paused: bool = False
) -> list[str]:
    """check_channels for the running bot; remembers when, for the paused-channel recheck."""
    runtime.channels_checked_at = runtime.clock()
    return await check_channels(
        runtime.settings, runtime.store, runtime.dispatcher, checker, only_paused=only_paused
    )


def summarize(outcomes: list[PollOutcome], report: DrainReport, *, dry_run: bool = False) -> bool:
    """Log what a run did; True when everything went through."""
    failed_feeds = [o for o in outcomes if o.status == "error"]
    for outcome in failed_feeds:
        log.error(
            "feed %s failed: %s", outcome.feed, outcome.error, extra=log_fields(feed=outcome.feed)
        )
    polls = f"polled {counted(len(outcomes), 'feed')} ({len(failed_feeds)} failed)"
    new = counted(polled(outcomes).new, "new release")
    if dry_run:  # it printed its posts: nothing was sent, and the line must not say so
        log.info("%s, %s; printed %s (dry run)", polls, new, counted(report.printed, "post"))
    else:
        log.info(
            "%s, %s; sent %d, edited %d, failed %d, retrying %d",
            polls,
            new,
            report.sent,
            report.edited,
            report.failed,
            report.retrying,
        )
    if report.interrupted:
        log.warning("stopped before everything was sent; the rest stays queued for the next run")
    return not (
        failed_feeds or report.failed or report.retrying or report.paused or report.interrupted
    )


def say(line: str | None) -> None:
    if line is not None:
        log.info("%s", line)
