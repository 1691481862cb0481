"""`releasebot check --network`, its Telegram half: is the token good, may the bot post in
each configured channel, and if not, what to do about it.

Imported only when TELEGRAM_BOT_TOKEN is set (python-telegram-bot costs every other
command start-up time). Nothing is sent: getMe, then getChat and getChatMember per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram.error import InvalidToken, TelegramError

from bot.config import ChannelSettings, Settings
from bot.errors import (
    ChatMigratedError,
    ChatUnavailableError,
    DeliveryError,
    MessageRejectedError,
    TelegramAuthError,
)
from bot.logs import Redactor
from bot.render.chat_problems import (
    ChatProblem,
    how_to_fix,
    problem_from_answer,
    problem_from_status,
    what_happened,
)
from bot.telegram.sender import TelegramSender, make_bot, token_rejected, translate


@dataclass(frozen=True, slots=True)
class CheckLine:
    """One line of the report; `failed` makes `check` exit 1."""

    text: str
    failed: bool = False


async def check_telegram(settings: Settings, token: str) -> list[CheckLine]:
    """The token (getMe), then each channel. Raises TelegramAuthError for a rejected token."""
    redact = Redactor(token)
    bot = make_bot(token, base_url=settings.bot.api_base_url)
    try:
        await bot.initialize()  # getMe
    except InvalidToken as exc:
        raise token_rejected(exc) from exc
    except TelegramError as exc:
        reason = translate(exc, redact)
        message = getattr(reason, "message", str(reason))
        where = redact(settings.bot.api_base_url)
        return [CheckLine(f"telegram: FAILED: no answer from {where}: {message}", True)]
    try:
        username = bot.username
        lines = [CheckLine(f"telegram: ok, the token belongs to @{username}")]
        sender = TelegramSender(bot, redact)
        for channel in settings.channels:
            lines.append(await _check_channel(sender, channel, username))
        return lines
    finally:
        await bot.shutdown()


async def _check_channel(
    sender: TelegramSender, channel: ChannelSettings, username: str
) -> CheckLine:
    label = f"channel {channel.name} ({channel.chat})"
    try:
        info = await sender.chat_info(channel.chat)
    except TelegramAuthError:
        raise
    except ChatMigratedError as exc:
        return CheckLine(
            f"{label}: FAILED: the group became a supergroup; "
            f"fix: set chat = {exc.new_chat_id} in the config",
            True,
        )
    except (ChatUnavailableError, MessageRejectedError) as exc:
        return _failed(label, problem_from_answer(exc.message, channel.chat), username)
    except DeliveryError as exc:  # a timeout, a 5xx, a 429: no verdict on this channel
        return CheckLine(f"{label}: FAILED: cannot check it now: {exc.message}", True)
    if not info.can_post:
        return _failed(label, problem_from_status(info.status, info.kind, channel.chat), username)
    return CheckLine(f"{label}: ok, the bot may post in the {info.kind} {info.title!r}")


def _failed(label: str, problem: ChatProblem, username: str) -> CheckLine:
    return CheckLine(
        f"{label}: FAILED: {what_happened(problem)}; fix: {how_to_fix(problem, username)}", True
    )
