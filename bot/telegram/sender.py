"""The Telegram adapter: send and edit posts, look up chats; PTB errors become ours.

PTB objects never leave this module: callers get ints and our own error classes, whose
messages never carry the bot token (Telegram may echo it; PTB may lower-case it).
`BadRequest` and `TimedOut` are subclasses of `NetworkError`, so they are caught first.

Every bot the program talks through carries `DEFAULTS` (the Application's, or `make_bot`'s):
messages are Telegram HTML and show no link preview unless a post asks for one, so no call
repeats it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import httpx
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Defaults, ExtBot
from telegram.request import BaseRequest

from bot.errors import (
    AnswerLostError,
    ChatMigratedError,
    ChatNotWritableError,
    ChatUnavailableError,
    MessageRejectedError,
    RateLimitedError,
    TelegramAuthError,
    TransientDeliveryError,
)
from bot.logs import Redactor
from bot.models import ChatInfo
from bot.render.post import Post, button_rows
from bot.render.telegram_html import Html

NOT_MODIFIED = "message is not modified"
DEFAULTS = Defaults(
    parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
)
POSTING_STATUSES = {"creator", "administrator"}

# 400s about the chat rather than the message (matched case-insensitively in Telegram's
# description; PTB strips "Bad Request: " and capitalises): the chat is deleted or its
# @username changed, or the bot lost the right to post. Like a 403, they pause the channel.
# A channel may be one forum topic of a group: a closed or deleted topic pauses it too.
CHAT_LEVEL_400 = (
    "topic_closed",
    "message thread not found",
    "chat not found",
    "need administrator rights in the channel chat",
    "not enough rights to send",
    "have no rights to send a message",
    "chat_write_forbidden",
    "chat_restricted",
    "chat_admin_required",
    "channel_private",
    "peer_id_invalid",
    "group chat was deactivated",
)
# httpx failures that prove the request never reached Telegram: retrying cannot double a post.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def use_timedelta_periods() -> None:
    """Take PTB 23's durations now: PTB 22 warns at every 429 (as it builds RetryAfter) that
    `retry_after` will become a timedelta, unless PTB_TIMEDELTA opts in, which the warning
    itself suggests. `translate` reads either type. Called as a bot is built, not at import."""
    os.environ["PTB_TIMEDELTA"] = "true"


def make_bot(token: str, *, base_url: str, request: BaseRequest | None = None) -> ExtBot[None]:
    """A bot with `DEFAULTS`, as the Application's is, for a sender without an Application
    (`check --network`, tests)."""
    use_timedelta_periods()
    return ExtBot(token, base_url=base_url, request=request, defaults=DEFAULTS)


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_chat_level(description: str) -> bool:
    """Whether a 400's description is about the chat (pause it) rather than this message."""
    lowered = description.lower()
    return any(phrase in lowered for phrase in CHAT_LEVEL_400)


def _network(exc: NetworkError) -> Exception:
    """A failure without an answer: was the request surely never sent, or may it have landed?

    PTB raises TimedOut/NetworkError `from` the httpx error. Without one, or from a
    TelegramError (a 5xx answer, readable or not), Telegram answered: nothing was posted.
    """
    message = exc.message or type(exc).__name__
    cause = exc.__cause__
    if cause is None or isinstance(cause, (TelegramError, *NOT_SENT)):
        return TransientDeliveryError(message)
    return AnswerLostError(message)


def _as_is(text: str) -> str:
    return text


def token_rejected(exc: InvalidToken) -> TelegramAuthError:
    """The one message for a rejected token: never PTB's, which quotes the token."""
    answers = [exc.message, *(str(e) for e in (exc.__cause__, exc.__context__) if e)]
    status = 404 if any("not found" in answer.lower() for answer in answers) else 401
    return TelegramAuthError(f"Telegram rejected the bot token ({status})")


def translate(exc: TelegramError, redact: Callable[[str], str] = _as_is) -> Exception:
    """Our error for a PTB error (the caller raises it `from exc`).

    `redact` takes the token out of Telegram's text first, in `exc` itself too: it is
    chained to ours, so a logged traceback prints it.
    """
    exc.message = redact(exc.message)
    if isinstance(exc, RetryAfter):
        return RateLimitedError(exc.message, _seconds(exc.retry_after))
    if isinstance(exc, ChatMigrated):
        return ChatMigratedError(exc.message, int(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        return ChatUnavailableError(exc.message)
    if isinstance(exc, InvalidToken):
        return token_rejected(exc)
    if isinstance(exc, BadRequest):
        if is_chat_level(exc.message):
            return ChatNotWritableError(exc.message)
        return MessageRejectedError(exc.message)
    if isinstance(exc, TimedOut | NetworkError):
        return _network(exc)
    # An answer came but could not be read (a broken proxy, a Telegram bug): the request
    # reached Telegram, so the message may have been posted, as after a lost answer.
    return AnswerLostError(f"unreadable answer from Telegram ({type(exc).__name__}: {exc.message})")


def _markup(post: Post) -> InlineKeyboardMarkup | None:
    if not post.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button.text, url=button.url) for button in row]
            for row in button_rows(post.buttons)
        ]
    )


def _preview(post: Post) -> LinkPreviewOptions:
    if post.link_preview and post.preview_url:
        return LinkPreviewOptions(is_disabled=False, url=post.preview_url)
    return LinkPreviewOptions(is_disabled=not post.link_preview)


class TelegramSender:
    """Sends and edits posts through one PTB bot carrying `DEFAULTS`; errors it raises never
    carry its token."""

    def __init__(self, bot: Bot, redact: Callable[[str], str] | None = None) -> None:
        self.bot = bot
        self.redact = redact or Redactor(bot.token)

    async def send(self, chat: int | str, post: Post) -> int:
        """Send `post`; returns Telegram's message_id."""
        try:
            message = await self.bot.send_message(
                chat_id=chat,
                text=post.text,
                reply_markup=_markup(post),
                link_preview_options=_preview(post),
                disable_notification=post.silent,
                message_thread_id=post.thread_id,
            )
        except TelegramError as exc:
            raise translate(exc, self.redact) from exc
        return int(message.message_id)

    async def edit(self, chat: int | str, message_id: int, post: Post) -> None:
        """Replace a sent post's text; its buttons are sent again or Telegram drops them."""
        try:
            await self.bot.edit_message_text(
                chat_id=chat,
                message_id=message_id,
                text=post.text,
                reply_markup=_markup(post),
                link_preview_options=_preview(post),
            )
        except BadRequest as exc:
            if NOT_MODIFIED in exc.message.lower():
                return
            raise translate(exc, self.redact) from exc
        except TelegramError as exc:
            raise translate(exc, self.redact) from exc

    async def send_text(self, chat: int | str, text: Html) -> None:
        """A notice (e.g. to an admin), rendered by bot.render.notices."""
        try:
            await self.bot.send_message(chat_id=chat, text=text)
        except TelegramError as exc:
            raise translate(exc, self.redact) from exc

    async def chat_info(self, chat: int | str) -> ChatInfo:
        """Resolve a configured chat and whether the bot may post there."""
        try:
            found = await self.bot.get_chat(chat_id=chat)
            member = await self.bot.get_chat_member(chat_id=found.id, user_id=self.bot.id)
        except TelegramError as exc:
            raise translate(exc, self.redact) from exc
        status = str(member.status)
        if found.type in ("channel",):
            # an administrator may lack 'Post messages' (sendMessage would answer 400)
            demoted = isinstance(member, ChatMemberAdministrator) and (
                member.can_post_messages is False
            )
            can_post = status in POSTING_STATUSES and not demoted
        elif isinstance(member, ChatMemberRestricted):  # muted: sendMessage would answer 400
            can_post = member.is_member and member.can_send_messages
        else:
            can_post = status in POSTING_STATUSES | {"member"}
        problem = "" if can_post else f"the bot is '{status}' in this {found.type}, cannot post"
        return ChatInfo(
            chat_id=int(found.id),
            kind=str(found.type),
            title=found.title or found.username or str(found.id),
            status=status,
            problem=problem,
        )
