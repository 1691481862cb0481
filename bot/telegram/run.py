"""`releasebot run` in each of its forms, as one flow (`run`):

1. open the runtime (store, fetcher, poller, dispatcher) and take SIGINT/SIGTERM (`Stopping`);
2. start the study lookups' task (bot/services/studies.py: it runs beside everything else
   until the stop); reach Telegram, polling the feeds meanwhile (`come_online`; a dry run
   reaches no one), then say that the bot runs and check the channels;
3. the rounds (bot/telegram/rounds.py), which is where the forms differ (a SIGHUP between
   two rounds re-reads the config, bot/telegram/reload.py):
   - `--once`: one round over every feed, then the outbox drained, then (at most `[study]
     timeout`) the study lookups under way finished and the edits they owe sent
     (`run_through`);
   - `--dry-run`: a round every tick, its posts printed, until a signal;
   - live: PTB's run_polling (bot/telegram/application.py): a round every tick from its
     JobQueue, and the readers' commands, until a signal; with `[webhook] url`, PTB's
     run_webhook instead (bot/telegram/webhook.py);
4. stop: the round under way is cancelled, sends in flight finish and are recorded, the
   rest stays queued; say what the run did (`--once`: exit 0 only if all went through).

Start-up never dies because Telegram is down: getMe and setMyCommands are retried with
backoff (bot/services/startup.py) while the feeds are polled and stored, and posts wait in
the outbox until Telegram answers. `run --once` waits at most `bot.request_timeout`, then
exits 1 with one line (what it polled is stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from bot import __version__
from bot.config import Settings
from bot.logs import Redactor
from bot.render.progress import counted
from bot.services.dispatcher import Sender
from bot.services.metrics import Metrics
from bot.services.poller import PollOutcome
from bot.services.progress import HEARTBEAT, polled
from bot.services.startup import Backoff, Connection, Sleep, TelegramUnreachableError
from bot.telegram.app import Clock, Runtime, open_runtime, say_stopped, summarize
from bot.telegram.application import ALLOWED_UPDATES, App, build_application
from bot.telegram.dryrun import DryRunSender
from bot.telegram.observed import metrics_served
from bot.telegram.reload import EarlyHangups, Reloading
from bot.telegram.rounds import go_online, start_round, stop_rounds, studies_due, ticking
from bot.telegram.sender import TelegramSender
from bot.telegram.startup import startup_steps
from bot.telegram.webhook import Webhook, serve_webhook

log = logging.getLogger(__name__)

STARTUP_BACKOFF = Backoff()  # 1, 2, 4 ... s between attempts to reach Telegram, then 1 a minute
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")
Polling = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Live:
    """The Telegram side of a run with a token: the Application, its sender, the start-up."""

    app: App
    sender: TelegramSender
    connection: Connection
    webhook: Webhook | None = None  # webhook mode ([webhook] url), else polling

    @classmethod
    def build(
        cls,
        settings: Settings,
        token: str,
        *,
        once: bool,
        clock: Clock,
        backoff: Backoff,
        sleep: Sleep,
        metrics: Metrics | None = None,
        webhook_secret: str | None = None,
    ) -> Live:
        app = build_application(settings, token, metrics)
        sender = TelegramSender(app.bot, Redactor(token))
        connection = Connection(
            startup_steps(app.bot, sender.redact, settings.bot.admins),
            backoff=backoff,
            sleep=sleep,
            clock=clock,
            patience=settings.bot.request_timeout if once else None,
        )
        # `--once` sends and exits: it takes no updates, so it needs no webhook.
        webhook = None if once else Webhook.plan(settings, token, webhook_secret or "")
        return cls(app, sender, connection, webhook)


class Stopping:
    """SIGINT/SIGTERM, for the whole run: the round under way is cancelled (what it did not
    store is new at the next poll), the sends in flight finish and are recorded, nothing
    new is sent, and what the run waits for (`until`, or PTB's run_polling) ends."""

    def __init__(self, runtime: Runtime, loop: asyncio.AbstractEventLoop) -> None:
        self.runtime = runtime
        self.loop = loop
        self.event = asyncio.Event()
        self.sends: asyncio.Task[None] | None = None  # the dispatcher stopping
        self.then: Callable[[], None] | None = None  # e.g. PTB's stop_running

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def __enter__(self) -> Stopping:
        for number in STOP_SIGNALS:
            self.loop.add_signal_handler(number, self._on_signal, number)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for number in STOP_SIGNALS:
            self.loop.remove_signal_handler(number)

    def _on_signal(self, number: int) -> None:
        if self.stopped:
            return
        log.warning("stopping on signal %d: finishing the sends under way", number)
        self.event.set()
        if self.runtime.round is not None:
            self.runtime.round.cancel()
        self.sends = self.loop.create_task(self.runtime.dispatcher.stop())
        if self.then is not None:
            self.then()

    async def until(self, work: Coroutine[Any, Any, T]) -> T | None:
        """What `work` returns, or None when a signal comes first (`work` is cancelled)."""
        task = asyncio.ensure_future(work)
        signalled = asyncio.ensure_future(self.event.wait())
        try:
            await asyncio.wait([task, signalled], return_when=asyncio.FIRST_COMPLETED)
        finally:
            signalled.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        return task.result()


def run(
    settings: Settings,
    *,
    token: str | None,
    once: bool,
    clock: Clock,
    backoff: Backoff = STARTUP_BACKOFF,
    sleep: Sleep = asyncio.sleep,
    heartbeat: float = HEARTBEAT,
    config: Path | None = None,
    early: EarlyHangups | None = None,
    webhook_secret: str | None = None,
) -> int:
    """Run the bot (without a token: a dry run, which prints its posts and sends nothing).
    Returns the exit code: `--once` 0 when everything went through, else 1; otherwise 0.
    With `[webhook] url`, the live bot takes its updates by webhook (`webhook_secret`).

    SIGHUP re-reads `config` (bot/telegram/reload.py); `early` holds one that came before
    the run could reload. Without `config` a SIGHUP ends the process, as by default."""
    live = None
    metrics = None  # served by `run` and `run --dry-run` with `[metrics] listen`, not `--once`
    if settings.metrics.listen is not None and not once:
        metrics = Metrics(__version__, clock=clock, tick=settings.bot.tick, telegram=bool(token))
    if token is not None:
        live = Live.build(
            settings,
            token,
            once=once,
            clock=clock,
            backoff=backoff,
            sleep=sleep,
            metrics=metrics,
            webhook_secret=webhook_secret,
        )
    sender: Sender = DryRunSender(sys.stdout) if live is None else live.sender
    # One event loop for the whole run, which PTB's run_polling borrows while it runs.
    with asyncio.Runner() as runner:
        stack = contextlib.AsyncExitStack()
        opening = open_runtime(
            settings,
            sender,
            clock=clock,
            bot_username=settings.bot.username,
            dry_run=live is None,
            heartbeat=heartbeat,
            metrics=metrics,
        )
        runtime = runner.run(stack.enter_async_context(opening))
        stopping = Stopping(runtime, runner.get_loop())
        reloading: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        if config is not None:
            reloading = Reloading(
                runtime,
                config,
                runner.get_loop(),
                once=once,
                stopped=lambda: stopping.stopped,
                early=early,
            )
        finished = False
        try:
            runner.run(stack.enter_async_context(metrics_served(runtime)))
            with stopping, reloading:
                if once:
                    code = runner.run(run_through(runtime, live, stopping))
                else:
                    code = 0
                    serve(runner, runtime, live, stopping)
            finished = True
            return code
        finally:  # after an error too (a rejected token, said in one line): no stop line then
            runner.run(close(runtime, live, stopping, stack, say_stop=finished and not once))


async def come_online(runtime: Runtime, live: Live | None, polling: Polling) -> list[str]:
    """Reach Telegram, with `polling` under way while it does not answer; then say that the
    bot runs and check the channels. Returns the channels the bot cannot post in.

    A rejected token raises TelegramAuthError; `run --once` gives up with
    TelegramUnreachableError after `bot.request_timeout`.
    """
    runtime.start_study_lookups()  # from the start: none of them waits for Telegram
    if live is None:  # a dry run: nothing to reach
        return await go_online(runtime, None, runtime.settings.bot.username)
    if not await live.connection.first_attempt():
        meanwhile = asyncio.create_task(polling())
        try:
            await live.connection.until_reached()
        finally:  # the round under way goes on
            meanwhile.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await meanwhile
    return await go_online(runtime, live.sender, live.app.bot.username)


async def run_through(runtime: Runtime, live: Live | None, stopping: Stopping) -> int:
    """`run --once`: poll every feed (while Telegram is reached), then send what is owed."""
    outcomes: list[PollOutcome] = []

    async def poll_every_feed() -> None:
        outcomes.extend(await runtime.poller.poll_all())
        studies_due(runtime)

    async def start() -> None:
        if not stopping.stopped:
            start_round(runtime, poll_every_feed)

    try:
        blocked = await stopping.until(come_online(runtime, live, start))
    except TelegramUnreachableError as exc:
        await finish_round(runtime)
        new = counted(polled(outcomes).new, "new release")
        raise TelegramUnreachableError(
            f"{exc.message}; {new} stored, their posts wait for the next run"
        ) from exc
    await start()
    await finish_round(runtime)
    report = runtime.dispatcher.report
    if blocked is not None and not stopping.stopped:
        report = await runtime.dispatcher.drain()
        if await stopping.until(studies_settled(runtime)) and not stopping.stopped:
            report = await runtime.dispatcher.drain()  # the edits of posts whose study came
    if stopping.sends is not None:
        await stopping.sends
        report.interrupted = True
    return 0 if summarize(outcomes, report, dry_run=live is None) and not blocked else 1


async def studies_settled(runtime: Runtime) -> bool:
    """`run --once`, its posts sent: wait for the study lookups under way, at most `[study]
    timeout` (what is not looked up by then is due at the next run). True when a study was
    found since the start, so sent posts may be owed an edit."""
    studies = runtime.studies
    if studies is None:
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(studies.settled(), timeout=runtime.settings.study.timeout)
    return studies.found > 0


async def finish_round(runtime: Runtime) -> None:
    """Wait for the round under way (a signal cancels it)."""
    if runtime.round is not None:
        await asyncio.wait([runtime.round])


def serve(runner: asyncio.Runner, runtime: Runtime, live: Live | None, stopping: Stopping) -> None:
    """`run` and `run --dry-run`: a round every tick until a signal. Offline rounds only
    poll; once online, the live bot's rounds come from PTB's JobQueue, beside the commands."""
    checker = None if live is None else live.sender

    async def offline() -> None:
        await ticking(runtime, checker, wait_for_sends=False)

    if runner.run(stopping.until(come_online(runtime, live, offline))) is None:
        return  # stopped before Telegram answered
    if live is None:  # printing is instant: each round prints all it can
        runner.run(stopping.until(ticking(runtime, None, wait_for_sends=True)))
        return
    live.app.bot_data.runtime = runtime
    stopping.then = lambda: stop_polling(live.app)
    try:
        if live.webhook is not None:
            serve_webhook(live.app, live.webhook, ALLOWED_UPDATES)
            return
        # bootstrap_retries=-1: should Telegram vanish again before polling starts, PTB retries.
        # PTB calls deleteWebhook first: a webhook left by an earlier run in webhook mode goes.
        live.app.run_polling(
            allowed_updates=ALLOWED_UPDATES,
            bootstrap_retries=-1,
            stop_signals=None,
            close_loop=False,
        )
    finally:
        stopping.then = None


def stop_polling(app: App) -> None:
    """From the signal: no tick starts another round, and run_polling stops (post_stop
    then lets the sends under way finish)."""
    app.bot_data.stopping = True
    if app.running:
        app.stop_running()  # ends run_polling's loop between two steps
    else:
        asyncio.get_running_loop().create_task(stop_once_running(app))


async def stop_once_running(app: App, patience: float = 10.0) -> None:
    """A signal while run_polling starts: `stop_running` would be ignored until the
    Application runs, and SystemExit (what PTB's own signal handler raises) in the middle
    of a start-up step can leave the loop to stop again later ("Event loop stopped before
    Future completed"). So wait for it to run; SystemExit only if starting takes longer
    than `patience` (PTB retrying to reach Telegram)."""
    waited = 0.0
    while not app.running and waited < patience:
        await asyncio.sleep(0.05)
        waited += 0.05
    if not app.running:
        raise SystemExit
    app.stop_running()


async def close(
    runtime: Runtime,
    live: Live | None,
    stopping: Stopping,
    stack: contextlib.AsyncExitStack,
    *,
    say_stop: bool,
) -> None:
    """Stop the round and the sends under way, say the stop line, close the store. Nothing
    here may keep the store from closing."""
    try:
        await stop_rounds(runtime)
        await runtime.stop_study_lookups()
        await asyncio.gather(
            runtime.dispatcher.stop(), *([stopping.sends] if stopping.sends else [])
        )
        if say_stop:
            say_stopped(runtime)
        if live is not None:
            await live.app.bot.shutdown()  # after run_polling: already done, a no-op
    except Exception:
        log.exception("stopping failed; closing the database")
    finally:
        await stack.aclose()
