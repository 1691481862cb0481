"""Wire `releasebot run`: store, fetcher, poller, dispatcher and the PTB Application.

`run --once` polls every feed, drains the outbox and exits; plain `run` ticks a JobQueue
job that polls the due feeds and keeps the outbox draining until SIGTERM or Ctrl-C.
`--dry-run` builds no Application at all: nothing is sent to Telegram.

Start-up never dies because Telegram is down: the store and poller are built first; getMe
and setMyCommands are retried with backoff (bot/services/startup.py) while the feeds are
polled and stored, and posts wait in the outbox until Telegram answers. `run --once` waits
at most `bot.request_timeout` for Telegram, then exits 1 with one line (what it polled is
stored). Every form of `run` says what it does: a start line, a line per round that found
or sent something (bot/services/progress.py), and a stop line.
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

from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot import __version__
from bot.config import Settings
from bot.fetch.client import Fetcher, default_user_agent
from bot.logs import Redactor
from bot.render.progress import counted, start_line
from bot.services.channels import check_channels
from bot.services.config_sync import sync_config
from bot.services.dispatcher import Dispatcher, DrainReport, Sender
from bot.services.pacing import Pacer
from bot.services.parse_pool import ParsePool
from bot.services.poller import Poller, PollOutcome
from bot.services.progress import HEARTBEAT, Progress, polled
from bot.services.startup import Backoff, Connection, Sleep, TelegramUnreachableError
from bot.store import Store
from bot.telegram.commands import register, stop_readers
from bot.telegram.dryrun import DryRunSender
from bot.telegram.sender import DEFAULTS, TelegramSender, use_timedelta_periods
from bot.telegram.startup import on_error, startup_steps

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# The longest of Telegram's rate windows (20 posts per group or channel in any 60 s).
RATE_WINDOW_MEMORY = timedelta(seconds=60)
STARTUP_BACKOFF = Backoff()  # 1, 2, 4 ... s between attempts to reach Telegram, then 1 a minute
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(slots=True)
class Runtime:
    """Everything a running bot holds; built once, passed to jobs and handlers."""

    settings: Settings
    store: Store
    poller: Poller
    dispatcher: Dispatcher
    clock: Clock
    progress: Progress
    channels_checked_at: datetime | None = None
    round: asyncio.Task[None] | None = None  # the poll round under way, if any
    online: bool = False  # Telegram answered at start: rounds may send


def build_application(settings: Settings, token: str) -> Application:  # type: ignore[type-arg]
    use_timedelta_periods()
    return (
        ApplicationBuilder()
        .token(token)
        .defaults(DEFAULTS)
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
    settings: Settings,
    sender: Sender,
    *,
    clock: Clock,
    bot_username: str,
    dry_run: bool,
    heartbeat: float = HEARTBEAT,
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
            progress = Progress(clock, lambda: waiting_posts(store), heartbeat=heartbeat)
            yield Runtime(settings, store, poller, dispatcher, clock, progress)
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
        pacer.seed(chat, instants)
    return pacer


async def check_runtime_channels(
    runtime: Runtime, sender: TelegramSender, *, only_paused: bool = False
) -> list[str]:
    """check_channels for the running bot; remembers when, for the paused-channel recheck."""
    runtime.channels_checked_at = runtime.clock()
    return await check_channels(
        runtime.settings, runtime.store, runtime.dispatcher, sender, only_paused=only_paused
    )


def summarize(outcomes: list[PollOutcome], report: DrainReport, *, dry_run: bool = False) -> bool:
    """Log what a run did; True when everything went through."""
    failed_feeds = [o for o in outcomes if o.status == "error"]
    for outcome in failed_feeds:
        log.error("feed %s failed: %s", outcome.feed, outcome.error)
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


async def poll_and_drain(
    runtime: Runtime, connecting: asyncio.Future[None] | None = None
) -> tuple[list[PollOutcome], DrainReport]:
    """Poll every feed, then send what is owed; SIGTERM or Ctrl-C stops both cleanly.

    `connecting`, when given, is Telegram being reached meanwhile: nothing is sent unless it
    succeeds (the caller reads its error). On a signal the polls still under way are
    cancelled (each ingest step is one transaction with its deliveries, and a feed counts
    as fetched only after its last step, so the rest is new at the next poll), sends in
    flight finish and are recorded, and nothing new is sent: what is left stays pending
    for the next run.
    """
    loop = asyncio.get_running_loop()
    polling = asyncio.ensure_future(runtime.poller.poll_all())
    stopping: list[asyncio.Task[None]] = []

    def on_signal(number: int) -> None:
        if not stopping:
            log.warning("stopping on signal %d: finishing the sends under way", number)
            polling.cancel()
            if connecting is not None:
                connecting.cancel()
            stopping.append(loop.create_task(runtime.dispatcher.stop()))

    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, on_signal, number)
    try:
        try:
            outcomes = await polling
        except asyncio.CancelledError:
            if not stopping:
                raise
            outcomes = []
        if connecting is not None:
            await asyncio.wait([connecting])
        if connecting is None or reached(connecting):
            report = await runtime.dispatcher.drain()
        else:
            report = runtime.dispatcher.report
        if stopping:
            await stopping[0]
            report.interrupted = True
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
    return outcomes, report


def reached(connecting: asyncio.Future[None]) -> bool:
    return connecting.done() and not connecting.cancelled() and connecting.exception() is None


async def go_online(runtime: Runtime, sender: TelegramSender, username: str) -> list[str]:
    """Telegram answered: say so, check the channels, let rounds send. Returns the channels
    the bot cannot post in. A check that fails unexpectedly is logged; the bot goes on."""
    runtime.dispatcher.bot_username = username
    say_started(runtime, username)
    try:
        blocked = await check_runtime_channels(runtime, sender)
    except Exception:
        log.exception("checking the channels at start failed; posting to them as configured")
        blocked = []
    runtime.online = True
    return blocked


async def run_once(
    settings: Settings,
    *,
    token: str | None,
    clock: Clock,
    backoff: Backoff = STARTUP_BACKOFF,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Poll every feed now, drain the outbox, exit 0 (all well) or 1.

    Telegram is given `bot.request_timeout` to answer at start, while the feeds are polled;
    then `run --once` exits 1 (TelegramUnreachableError) with what it stored still owed.
    """
    if token is None:
        sender: Sender = DryRunSender(sys.stdout)
        async with open_runtime(
            settings, sender, clock=clock, bot_username=settings.bot.username, dry_run=True
        ) as runtime:
            say_started(runtime, settings.bot.username)
            outcomes, report = await poll_and_drain(runtime)
        return 0 if summarize(outcomes, report, dry_run=True) else 1
    app = build_application(settings, token)
    telegram = TelegramSender(app.bot, Redactor(token))
    connection = Connection(
        startup_steps(app.bot, telegram.redact),
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        patience=settings.bot.request_timeout,
    )
    blocked: list[str] = []
    async with open_runtime(
        settings, telegram, clock=clock, bot_username=settings.bot.username, dry_run=False
    ) as runtime:
        try:
            if await connection.first_attempt():
                blocked = await go_online(runtime, telegram, app.bot.username)
                outcomes, report = await poll_and_drain(runtime)
            else:

                async def connect() -> None:
                    await connection.until_reached()
                    blocked.extend(await go_online(runtime, telegram, app.bot.username))

                connecting = asyncio.ensure_future(connect())
                outcomes, report = await poll_and_drain(runtime, connecting)
                if not connecting.cancelled() and connecting.exception() is not None:
                    raise_unreached(connecting, outcomes)
        finally:
            await app.bot.shutdown()
    return 0 if summarize(outcomes, report) and not blocked else 1


def raise_unreached(connecting: asyncio.Future[None], outcomes: list[PollOutcome]) -> None:
    """Raise why Telegram was not reached, saying what was stored meanwhile."""
    error = connecting.exception()
    if isinstance(error, TelegramUnreachableError):
        new = counted(polled(outcomes).new, "new release")
        raise TelegramUnreachableError(
            f"{error.message}; {new} stored, their posts wait for the next run"
        ) from error
    if error is not None:
        raise error


async def run_dry_forever(settings: Settings, *, clock: Clock, heartbeat: float = HEARTBEAT) -> int:
    """`run --dry-run` without --once: tick like the real bot, print instead of sending."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(
        settings,
        DryRunSender(sys.stdout),
        clock=clock,
        bot_username=settings.bot.username,
        dry_run=True,
        heartbeat=heartbeat,
    ) as runtime:
        say_started(runtime, settings.bot.username)
        while not stop.is_set():
            outcomes = await runtime.poller.poll_due()
            report = await runtime.dispatcher.drain()
            say(runtime.progress.after_round(outcomes, report))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.bot.tick)
        say_stopped(runtime)
    return 0


def say(line: str | None) -> None:
    if line is not None:
        log.info("%s", line)


def run_forever(
    settings: Settings,
    *,
    token: str,
    clock: Clock,
    backoff: Backoff = STARTUP_BACKOFF,
    heartbeat: float = HEARTBEAT,
) -> int:
    """The live bot: reach Telegram (polling feeds meanwhile), then PTB's run_polling owns
    the loop and the signals until SIGTERM or Ctrl-C."""
    app = build_application(settings, token)
    telegram = TelegramSender(app.bot, Redactor(token))
    connection = Connection(
        startup_steps(app.bot, telegram.redact), backoff=backoff, sleep=asyncio.sleep, clock=clock
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stack = contextlib.AsyncExitStack()
    runtime: Runtime | None = None
    try:
        runtime = loop.run_until_complete(
            stack.enter_async_context(
                open_runtime(
                    settings,
                    telegram,
                    clock=clock,
                    bot_username=settings.bot.username,
                    dry_run=False,
                    heartbeat=heartbeat,
                )
            )
        )
        online = loop.run_until_complete(reach_telegram(connection, runtime, telegram, app))
    except BaseException:  # e.g. the token rejected: the caller says so in one line
        loop.run_until_complete(close_runtime(runtime, stack, quiet=True))
        loop.close()
        raise
    if not online:  # stopped before Telegram answered
        loop.run_until_complete(close_runtime(runtime, stack))
        loop.close()
        return 0
    install_hooks(app, runtime, telegram, stack)
    # bootstrap_retries=-1: should Telegram vanish again before polling starts, PTB retries.
    app.run_polling(
        allowed_updates=["message", "channel_post", "callback_query"], bootstrap_retries=-1
    )
    return 0


def install_hooks(
    app: Application,  # type: ignore[type-arg]
    runtime: Runtime,
    sender: TelegramSender,
    stack: contextlib.AsyncExitStack,
) -> None:
    """What run_polling runs once the bot is online: handlers, the first round and the tick;
    at stop, the rounds and sends; at shutdown, the stop line and the store."""

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        application.bot_data["runtime"] = runtime
        register(application)
        application.add_error_handler(on_error)
        start_round(runtime, sender)  # the first poll now, not a tick from now
        assert application.job_queue is not None  # noqa: S101 -- the job-queue extra is a dependency
        every = runtime.settings.bot.tick
        application.job_queue.run_repeating(tick, interval=every, first=every)

    async def post_stop(application: Application) -> None:  # type: ignore[type-arg]
        await stop_rounds(runtime)
        # Together: queued replies are dropped, sends under way finish (posts recorded).
        await asyncio.gather(runtime.dispatcher.stop(), stop_readers(application))

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        await close_runtime(runtime, stack)

    app.post_init = post_init
    app.post_stop = post_stop
    app.post_shutdown = post_shutdown


async def reach_telegram(
    connection: Connection,
    runtime: Runtime,
    sender: TelegramSender,
    app: Application,  # type: ignore[type-arg]
) -> bool:
    """Reach Telegram, polling and storing feeds while it does not answer, then go online.

    False when SIGTERM or Ctrl-C came first. A rejected token raises TelegramAuthError.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stopped: list[int] = []

    def on_signal(number: int) -> None:
        if not stopped and task is not None:
            log.warning("stopping on signal %d before Telegram answered", number)
            stopped.append(number)
            task.cancel()

    for number in STOP_SIGNALS:  # run_polling installs its own once the bot is online
        loop.add_signal_handler(number, on_signal, number)
    try:
        if not await connection.first_attempt():
            offline = asyncio.create_task(poll_while_offline(runtime, sender))
            try:
                await connection.until_reached()
            finally:
                offline.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await offline
        await go_online(runtime, sender, app.bot.username)
    except asyncio.CancelledError:
        if not stopped:
            raise
    return not stopped


async def poll_while_offline(runtime: Runtime, sender: TelegramSender) -> None:
    """Until Telegram answers: a round every tick, which polls and stores but sends nothing."""
    while True:
        start_round(runtime, sender)
        await asyncio.sleep(runtime.settings.bot.tick)


async def close_runtime(
    runtime: Runtime | None, stack: contextlib.AsyncExitStack, *, quiet: bool = False
) -> None:
    """Stop the round and the sends under way, say the stop line (unless `quiet`), close the
    store. Nothing here may keep the store from closing."""
    try:
        if runtime is not None:
            await stop_rounds(runtime)
            await runtime.dispatcher.stop()
            if not quiet:
                say_stopped(runtime)
    except Exception:
        log.exception("stopping failed; closing the database")
    finally:
        await stack.aclose()


async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one scheduled job: start a round (poll the due feeds, then let the outbox drain)."""
    runtime: Runtime = context.application.bot_data["runtime"]
    start_round(runtime, TelegramSender(context.bot))


def start_round(runtime: Runtime, sender: TelegramSender) -> None:
    """Start a round unless one is under way.

    The round runs as a task of its own so that a stop never waits for a slow feed: PTB
    waits for running jobs before anything else, and a fetch may take `fetch.timeout`.
    """
    if runtime.round is None or runtime.round.done():
        runtime.round = asyncio.create_task(run_round(runtime, sender))


async def run_round(runtime: Runtime, sender: TelegramSender) -> None:
    """Poll the due feeds; once online, recheck paused channels and start sending. Then say
    what the round found and what was sent since the last line (if anything)."""
    try:
        outcomes = await runtime.poller.poll_due()
        if runtime.online:
            await recheck_paused_channels(runtime, sender)
            runtime.dispatcher.start_workers()
        say(runtime.progress.after_round(outcomes, runtime.dispatcher.report))
    except Exception:  # keep the bot alive; the next tick tries again
        log.exception("a poll round failed")


async def stop_rounds(runtime: Runtime) -> None:
    """Cancel the poll round under way (each ingest step is one transaction; what a
    cancelled poll did not store is new at the next one)."""
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
        await check_runtime_channels(runtime, sender, only_paused=True)
