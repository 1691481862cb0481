"""The PTB Application of the live bot: built once, typed, with its hooks on the builder.

`build_application` sets what every call shares (`DEFAULTS`: HTML, no link preview), the
timeouts, where files are downloaded from, a typed `bot_data` (`BotData`: the Runtime, the
reader and admin commands, instead of string keys), and the hooks run_polling calls:
`post_init` adds the handlers (the admin commands, bot/telegram/admin.py, before the
readers') and the tick, `post_stop` lets the sends under way finish before PTB closes the
bot's connections.
Opening and closing the runtime is not theirs: bot/telegram/run.py does it the same way
for every form of `run`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackContext,
    ContextTypes,
    ExtBot,
    JobQueue,
)

from bot.config import Settings
from bot.services import admin_import
from bot.services.admin import AdminService
from bot.services.admin_context import AdminContext
from bot.services.commands import Answers
from bot.services.metrics import Metrics
from bot.store.reading import ReadThreads
from bot.telegram.admin import AdminCommands
from bot.telegram.admin_members import Greeter, TelegramMembers
from bot.telegram.app import Runtime
from bot.telegram.commands import ReaderCommands
from bot.telegram.observed import AnsweredRequest
from bot.telegram.rounds import run_round, start_round
from bot.telegram.sender import DEFAULTS, TelegramSender, use_timedelta_periods
from bot.telegram.startup import on_error


class BotData:
    """What the Application holds for its hooks, handlers and jobs (PTB's `bot_data`)."""

    runtime: Runtime  # set by bot/telegram/run.py before run_polling
    readers: ReaderCommands | None = None  # set by post_init
    admin: AdminCommands | None = None  # set by post_init
    stopping = False  # set at SIGINT/SIGTERM: no new round


Context = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
App = Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Context]]
# run_polling asks Telegram only for these (PTB's default leaves channel posts out):
# commands, button presses, and the bot's own membership changes (my_chat_member).
ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "my_chat_member"]


def file_url(api_base_url: str) -> str:
    """Where files are downloaded from: the same server as the API (Telegram's own, or a
    self-hosted Bot API server), `<host>/file/bot` beside `<host>/bot`."""
    root = api_base_url.rstrip("/").removesuffix("/bot")
    return f"{root}/file/bot"


def build_application(settings: Settings, token: str, metrics: Metrics | None = None) -> App:
    """The Application; its Bot API answers are told to `metrics` (when given)."""
    use_timedelta_periods()
    timeout = settings.bot.request_timeout
    return (
        ApplicationBuilder()
        .token(token)
        .defaults(DEFAULTS)
        .context_types(ContextTypes(bot_data=BotData))
        .job_queue(JobQueue[Context]())
        .base_url(settings.bot.api_base_url)
        .base_file_url(file_url(settings.bot.api_base_url))
        # PTB's own HTTPXRequest with these settings, which tells `metrics` of each answer;
        # getUpdates keeps PTB's default request settings (one connection).
        .request(
            AnsweredRequest(
                metrics,
                connection_pool_size=64,
                pool_timeout=30.0,
                connect_timeout=10.0,
                read_timeout=timeout,
                write_timeout=timeout,
            )
        )
        .get_updates_request(AnsweredRequest(metrics, connection_pool_size=1))
        .post_init(add_handlers_and_tick)
        .post_stop(finish_sends)
        .build()
    )


async def add_handlers_and_tick(app: App) -> None:
    """Once the bot is online: the readers' commands, the error handler, a round, the tick."""
    runtime = app.bot_data.runtime
    answers = Answers(
        runtime.settings,
        runtime.store,
        runtime.clock,
        app.bot.username,
        wake=runtime.dispatcher.start_workers,
        view=runtime.view,
    )
    runtime.followers.append(answers)  # a reload or an admin's change reaches the readers too
    readers = ReaderCommands(
        answers,
        runtime.dispatcher.pacer,
        ReadThreads(runtime.settings.database_path),
        metrics=runtime.metrics,
    )
    admin = admin_commands(app, runtime)
    app.add_handlers(admin.handlers())  # first: the readers' catch-alls would take these
    app.add_handlers(readers.handlers())
    app.add_error_handler(on_error)
    app.bot_data.readers, app.bot_data.admin = readers, admin
    # The first round now, not a tick from now. It cannot be a job: the JobQueue starts
    # later, and APScheduler skips a run more than a second late.
    start_round(runtime, lambda: run_round(runtime, TelegramSender(app.bot)))
    assert app.job_queue is not None  # noqa: S101 -- the job-queue extra is a dependency
    every = runtime.settings.bot.tick
    app.job_queue.run_repeating(tick, interval=every, first=every)


def admin_commands(app: App, runtime: Runtime) -> AdminCommands:
    """The admin side: the service over the runtime's parts, its handlers, and a follower
    of the runtime, so a reload reaches it (its own changes reroute the runtime)."""
    context = AdminContext(
        settings=runtime.settings,
        store=runtime.store,
        clock=runtime.clock,
        members=TelegramMembers(app.bot),
        fetcher=runtime.poller.fetcher,
        bot_username=app.bot.username,
        rerouted=runtime.reroute,
    )
    service = AdminService(context, wake=runtime.dispatcher.start_workers)
    admin_import.register(service)  # /add, /import and the buttons of /add
    admin = AdminCommands(
        service,
        pacer=runtime.dispatcher.pacer,
        greeter=Greeter(runtime.settings.bot.admins),
        context=context,
        metrics=runtime.metrics,
    )
    runtime.followers.append(admin)
    return admin


async def finish_sends(app: App) -> None:
    """At a stop, before PTB closes the bot's connections: the posts and replies under way
    finish (and are recorded); the replies not yet sent are dropped."""
    data = app.bot_data
    parts = [part.stop() for part in (data.readers, data.admin) if part is not None]
    await asyncio.gather(data.runtime.dispatcher.stop(), *parts)


async def tick(context: Context) -> None:
    """The one scheduled job: start a round, as a task PTB tracks (a stop cancels it first,
    bot/telegram/run.py, so PTB's wait for its tasks never waits for a slow feed)."""
    if context.bot_data.stopping:
        return
    runtime, sender = context.bot_data.runtime, TelegramSender(context.bot)
    start_round(runtime, lambda: run_round(runtime, sender), spawn=context.application.create_task)
