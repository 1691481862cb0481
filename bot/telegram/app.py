"""Wire `releasebot run`: store, fetcher, poller, dispatcher and the PTB Application.

`run --once` polls every feed, drains the outbox and exits; plain `run` ticks a JobQueue
job that polls the due feeds and keeps the outbox draining until SIGTERM or Ctrl-C.
`--dry-run` builds no Application at all: nothing is sent to Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.config import Settings
from bot.errors import (
    ChatUnavailableError,
    MessageRejectedError,
    TransientDeliveryError,
)
from bot.feeds.fetch import Fetcher, default_user_agent
from bot.logs import Redactor
from bot.render.chat_problems import problem_from_answer, problem_from_status
from bot.render.display import format_duration
from bot.render.notices import channel_paused_notice, channel_resumed_notice
from bot.services.dispatcher import Dispatcher, DrainReport, Sender
from bot.services.pacing import Pacer
from bot.services.parse_pool import ParsePool
from bot.services.poller import Poller, PollOutcome, sync_config
from bot.store import Store
from bot.telegram.commands import register, stop_readers
from bot.telegram.dryrun import DryRunSender
from bot.telegram.sender import TelegramSender, token_rejected, translate

log = logging.getLogger(__name__)

BOT_COMMANDS = (
    ("latest", "Newest releases: /latest [n] [feed]"),
    ("cite", "Cite a release: /cite [style] [id, URL or words]"),
    ("search", "Search releases: /search words"),
    ("feeds", "Feeds followed here"),
    ("help", "Every command, with examples"),
    ("start", "What this bot does"),
)

Clock = Callable[[], datetime]
# The longest of Telegram's rate windows (20 posts per group or channel in any 60 s).
RATE_WINDOW_MEMORY = timedelta(seconds=60)


@dataclass(slots=True)
class Runtime:
    """Everything a running bot holds; built once, passed to jobs and handlers."""

    settings: Settings
    store: Store
    poller: Poller
    dispatcher: Dispatcher
    clock: Clock
    channels_checked_at: datetime | None = None
    round: asyncio.Task[None] | None = None  # the poll round under way, if any


def build_application(settings: Settings, token: str) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.bot.api_base_url)
        .connection_pool_size(64)
        .pool_timeout(30.0)
        .connect_timeout(10.0)
        .read_timeout(settings.bot.request_timeout)
        .write_timeout(settings.bot.request_timeout)
        .build()
    )


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, sender: Sender, *, clock: Clock, bot_username: str, dry_run: bool
) -> AsyncIterator[Runtime]:
    store = Store.open(settings.database_path)
    parser = ParsePool(processes=1)
    try:
        sync_config(store, settings, clock())
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
            )
            poller = Poller(
                settings,
                store=store,
                fetcher=fetcher,
                clock=clock,
                parser=parser,
                notify=dispatcher.notify_admins,  # e.g. the database cannot be written
            )
            yield Runtime(settings, store, poller, dispatcher, clock)
    finally:
        parser.close()
        store.close()


def restarted_pacer(store: Store, now: datetime) -> Pacer:
    """A Pacer whose rate windows already hold the sends of the last minute (a previous
    run's burst still counts at Telegram, so a restart must not send into it)."""
    pacer = Pacer()
    sends: dict[int | str, list[datetime]] = {}
    for chat, sent_at in store.recent_sends(now - RATE_WINDOW_MEMORY):
        sends.setdefault(chat, []).append(sent_at)
    for chat, instants in sends.items():
        pacer.seed(chat, instants)
    return pacer


async def check_channels(
    runtime: Runtime, sender: TelegramSender, *, only_paused: bool = False
) -> list[str]:
    """Resolve each channel's chat id; pause (and tell admins about) those the bot can't post in,
    resume (and tell them about) those it can post in again.

    A 403 or a 400 from getChat/getChatMember ("chat not found" for a deleted chat or a renamed
    @username) pauses like a status that cannot post. The admins hear once per incident: when
    it pauses (here, or in the dispatcher when a send is refused) and when it resumes.

    Returns the names of the channels paused for that reason.
    """
    runtime.channels_checked_at = runtime.clock()
    blocked: list[str] = []
    every = format_duration(runtime.settings.bot.recheck_paused)
    bot_username = runtime.dispatcher.bot_username
    for channel in runtime.settings.channels:
        state = runtime.store.channel_state(channel.name)
        if only_paused and not state.paused:
            continue
        try:
            info = await sender.chat_info(
                state.chat_id if state.chat_id is not None else state.chat
            )
        except (ChatUnavailableError, MessageRejectedError) as exc:
            problem = exc.message
            found = problem_from_answer(exc.message, channel.chat)
        except TransientDeliveryError as exc:
            log.warning("channel %s: cannot check it now (%s)", channel.name, exc.message)
            continue
        else:
            runtime.store.set_chat_id(channel.name, info.chat_id)
            problem = info.problem
            found = problem_from_status(info.status, info.kind, channel.chat)
        if problem:
            blocked.append(channel.name)
            log.error("channel %s (%s): %s; its posts wait", channel.name, channel.chat, problem)
            # told once: a recheck that still fails, or confirms the dispatcher's pause, is quiet
            if not runtime.store.channel_state(channel.name).paused:
                await runtime.dispatcher.notify_admins(
                    channel_paused_notice(
                        channel.name, found, bot_username=bot_username, recheck_every=every
                    )
                )
            runtime.store.pause_channel(channel.name, problem)
        elif state.paused:
            log.info("channel %s: the bot can post again; resuming", channel.name)
            runtime.store.resume_channel(channel.name)
            waiting = runtime.store.delivery_counts().get(channel.name, {}).get("pending", 0)
            await runtime.dispatcher.notify_admins(
                channel_resumed_notice(channel.name, str(channel.chat), waiting)
            )
    return blocked


def summarize(outcomes: list[PollOutcome], report: DrainReport) -> bool:
    """Log what a run did; True when everything went through."""
    failed_feeds = [o for o in outcomes if o.status == "error"]
    for outcome in failed_feeds:
        log.error("feed %s failed: %s", outcome.feed, outcome.error)
    new = sum(o.result.new for o in outcomes if o.result)
    log.info(
        "polled %d feeds (%d failed), %d new releases; sent %d, edited %d, failed %d, retrying %d",
        len(outcomes),
        len(failed_feeds),
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


async def poll_and_drain(runtime: Runtime) -> tuple[list[PollOutcome], DrainReport]:
    """Poll every feed, then send what is owed; SIGTERM or Ctrl-C stops both cleanly.

    On a signal the polls still under way are cancelled (a poll's store write is one
    transaction, so nothing half-written remains), sends in flight finish and are
    recorded, and nothing new is sent: what is left stays pending for the next run.
    """
    loop = asyncio.get_running_loop()
    polling = asyncio.ensure_future(runtime.poller.poll_all())
    stopping: list[asyncio.Task[None]] = []

    def on_signal(number: int) -> None:
        if not stopping:
            log.warning("stopping on signal %d: finishing the sends under way", number)
            polling.cancel()
            stopping.append(loop.create_task(runtime.dispatcher.stop()))

    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, on_signal, number)
    try:
        try:
            outcomes = await polling
        except asyncio.CancelledError:
            if not stopping:
                raise
            outcomes = []
        report = await runtime.dispatcher.drain()
        if stopping:
            await stopping[0]
            report.interrupted = True
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
    return outcomes, report


async def run_once(settings: Settings, *, token: str | None, clock: Clock) -> int:
    """Poll every feed now, drain the outbox, exit 0 (all well) or 1."""
    if token is None:
        sender: Sender = DryRunSender(sys.stdout)
        async with open_runtime(
            settings, sender, clock=clock, bot_username=settings.bot.username, dry_run=True
        ) as runtime:
            outcomes, report = await poll_and_drain(runtime)
        return 0 if summarize(outcomes, report) else 1
    app = build_application(settings, token)
    try:
        async with app:
            telegram = TelegramSender(app.bot)
            async with open_runtime(
                settings, telegram, clock=clock, bot_username=app.bot.username, dry_run=False
            ) as runtime:
                await app.bot.set_my_commands([BotCommand(*c) for c in BOT_COMMANDS])
                blocked = await check_channels(runtime, telegram)
                outcomes, report = await poll_and_drain(runtime)
    except InvalidToken as exc:
        raise token_rejected(exc) from exc
    except TelegramError as exc:
        raise TransientDeliveryError(f"Telegram: {exc.message}") from exc
    return 0 if summarize(outcomes, report) and not blocked else 1


async def run_dry_forever(settings: Settings, *, clock: Clock) -> int:
    """`run --dry-run` without --once: tick like the real bot, print instead of sending."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(
        settings,
        DryRunSender(sys.stdout),
        clock=clock,
        bot_username=settings.bot.username,
        dry_run=True,
    ) as runtime:
        while not stop.is_set():
            await runtime.poller.poll_due()
            await runtime.dispatcher.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.bot.tick)
    return 0


def run_forever(settings: Settings, *, token: str, clock: Clock) -> int:
    """The live bot: PTB's run_polling owns the loop and the signals."""
    app = build_application(settings, token)
    # The token is checked (getMe) before run_polling, on the loop it then runs and closes:
    # run_polling would log a rejected token with a traceback before raising.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(app.bot.initialize())
    except TelegramError as exc:
        loop.close()
        raise translate(exc, Redactor(token)) from exc
    holder: dict[str, contextlib.AsyncExitStack | Runtime] = {}

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        stack = contextlib.AsyncExitStack()
        telegram = TelegramSender(application.bot)
        runtime = await stack.enter_async_context(
            open_runtime(
                settings,
                telegram,
                clock=clock,
                bot_username=application.bot.username,
                dry_run=False,
            )
        )
        holder["stack"], holder["runtime"] = stack, runtime
        application.bot_data["runtime"] = runtime
        register(application)
        await application.bot.set_my_commands([BotCommand(*c) for c in BOT_COMMANDS])
        await check_channels(runtime, telegram)
        assert application.job_queue is not None  # noqa: S101 -- the job-queue extra is a dependency
        application.job_queue.run_repeating(tick, interval=settings.bot.tick, first=0.0)

    async def post_stop(application: Application) -> None:  # type: ignore[type-arg]
        runtime = holder.get("runtime")
        if isinstance(runtime, Runtime):
            await stop_rounds(runtime)
            # Together: queued replies are dropped, sends under way finish (posts recorded).
            await asyncio.gather(runtime.dispatcher.stop(), stop_readers(application))

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        stack = holder.get("stack")
        if isinstance(stack, contextlib.AsyncExitStack):
            await stack.aclose()

    app.post_init = post_init
    app.post_stop = post_stop
    app.post_shutdown = post_shutdown
    app.run_polling(allowed_updates=["message", "channel_post", "callback_query"])
    return 0


async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one scheduled job: start a round (poll the due feeds, then let the outbox drain).

    The round runs as a task of its own so that a stop never waits for a slow feed: PTB
    waits for running jobs before anything else, and a fetch may take `fetch.timeout`.
    """
    runtime: Runtime = context.application.bot_data["runtime"]
    if runtime.round is None or runtime.round.done():
        runtime.round = asyncio.create_task(run_round(runtime, TelegramSender(context.bot)))


async def run_round(runtime: Runtime, sender: TelegramSender) -> None:
    try:
        await runtime.poller.poll_due()
        await recheck_paused_channels(runtime, sender)
        runtime.dispatcher.start_workers()
    except Exception:  # keep the bot alive; the next tick tries again
        log.exception("a poll round failed")


async def stop_rounds(runtime: Runtime) -> None:
    """Cancel the poll round under way (each feed's store write is one transaction)."""
    if runtime.round is not None and not runtime.round.done():
        runtime.round.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runtime.round


async def recheck_paused_channels(runtime: Runtime, sender: TelegramSender) -> None:
    """Every `bot.recheck_paused`, ask Telegram again about the channels that are paused."""
    last = runtime.channels_checked_at
    due = last is None or (runtime.clock() - last).total_seconds() >= (
        runtime.settings.bot.recheck_paused
    )
    if due and any(state.paused for state in runtime.store.channel_states()):
        await check_channels(runtime, sender, only_paused=True)
