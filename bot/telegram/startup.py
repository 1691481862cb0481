"""The PTB side of starting and staying up: the start-up calls, and the error handler.

`startup_steps` are the calls made before the bot goes online (getMe, setMyCommands per
scope), with PTB's errors turned into ours so bot/services/startup.py can retry them.
`on_error` is the Application's error handler: whatever a handler, a job or the update
fetcher raises is logged once (the log filter redacts the token) and the bot goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import CallbackContext

from bot.services.startup import Step
from bot.telegram.admin_members import set_command_menus
from bot.telegram.sender import translate

log = logging.getLogger(__name__)


def startup_steps(bot: Bot, redact: Callable[[str], str], owners: Sequence[int] = ()) -> list[Step]:
    """getMe (PTB's Bot.initialize: the bot's @username; a rejected token stops here), then
    the command menus (readers' for everyone, admin commands for chat administrators and
    the owners), which the bot can do without."""

    async def get_me() -> None:
        try:
            await bot.initialize()
        except TelegramError as exc:
            raise translate(exc, redact) from exc

    async def set_commands() -> None:
        try:
            await set_command_menus(bot, owners)
        except TelegramError as exc:
            raise translate(exc, redact) from exc

    return [Step("getMe", get_me), Step("setMyCommands", set_commands, required=False)]


async def on_error(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
    """Log what PTB caught: a failed getUpdates is one line (PTB tries again, waiting up to
    30 s); anything else is unexpected and logged with its traceback."""
    error = context.error
    if error is None:
        return
    if update is None and context.job is None and isinstance(error, TelegramError):
        log.warning("Telegram: cannot fetch updates (%s); trying again", error.message)
        return
    if isinstance(update, Update):
        where = f"handling update {update.update_id}"
    elif context.job is not None:
        where = f"in job {context.job.name}"
    else:
        where = "in a background task"
    log.error("unexpected error %s; the bot goes on", where, exc_info=error)
