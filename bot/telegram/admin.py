"""The PTB side of admin commands: /add /remove /subs /set /filter /pause /resume /retry
/status /export /import /audit, their buttons, and the bot's own membership changes.

`AdminCommands` holds thin handlers on the Application, as bot/telegram/commands.py does
for readers: an update is read into an `AdminRequest` or a `Press`
(bot/telegram/admin_updates.py), the admin service answers with an `AdminReply`, and the
reply goes back where the command was asked (the same forum topic), its `choices` as an
inline keyboard and its `file` as a document. A press is always answered
(answerCallbackQuery, with the reply's `toast`) and edits the message it was under.

Commands arrive as messages and as channel posts (CHATS), with or without `@botname`
(CommandHandler drops those for another bot); `/import` also as the caption of a
document (CommandHandler reads only text), or replying to one. The document is fetched
here (getFile, then the download), at most MAX_IMPORT_BYTES.

Each command runs as a task (`ReplyTasks`: a few per admin, dropped at a stop), so an
/add fetching a slow feed never holds up other updates. PTB objects never leave
bot/telegram/.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackContext,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.config import Settings
from bot.errors import RateLimitedError
from bot.models import RoutingView
from bot.render import admin_telegram as texts
from bot.render.command_args import parse_command
from bot.services.admin_context import AdminContext
from bot.services.admin_types import AdminReply, AdminRequest, Press, Upload
from bot.services.metrics import Metrics
from bot.services.pacing import Pacer
from bot.telegram.admin_members import Greeter
from bot.telegram.admin_updates import (
    ADMIN_COMMANDS,
    IMPORT_CAPTION,
    actor_of,
    command_text,
    document_of,
    place_of,
    press_of,
)
from bot.telegram.reply_tasks import ReplyTasks
from bot.telegram.sender import NOT_MODIFIED, translate

if TYPE_CHECKING:
    from telegram import Bot, Document

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 1024 * 1024  # an OPML list of thousands of feeds is well under this
MAX_CAPTION = 1024  # Telegram's limit on a document's caption
CHATS = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST  # not edits
AnyContext = CallbackContext[Any, Any, Any, Any]


class Service(Protocol):
    """The admin service (bot/services/admin.py) as the adapter calls it."""

    async def handle(self, request: AdminRequest) -> AdminReply | None: ...

    async def refusal(self, request: AdminRequest) -> AdminReply | None: ...

    async def press(self, press: Press) -> AdminReply: ...


def too_big_reply(size: int) -> AdminReply:
    return AdminReply(texts.too_big_to_import(size, MAX_IMPORT_BYTES))


def markup(reply: AdminReply) -> InlineKeyboardMarkup | None:
    if not reply.choices:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(c.text, callback_data=c.data) for c in row] for row in reply.choices]
    )


def is_not_cite(data: object) -> bool:
    """Presses the admin side answers: every button but the readers' citation styles."""
    return isinstance(data, str) and not data.startswith("cite:")


class AdminCommands:
    """The PTB handlers of the admin side; replies share the dispatcher's pacer."""

    def __init__(
        self,
        service: Service,
        *,
        pacer: Pacer | None,
        greeter: Greeter | None = None,
        context: AdminContext | None = None,
        tasks: ReplyTasks | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.service = service
        self.pacer = pacer
        self.greeter = greeter
        self.context = context  # the service's: follows reloads
        self.tasks = tasks or ReplyTasks()
        self.metrics = metrics

    def handlers(self) -> list[BaseHandler[Update, AnyContext, None]]:
        """Registered before the readers' handlers: their catch-all for unknown commands and
        buttons would otherwise take these."""
        caption = filters.Document.ALL & filters.CaptionRegex(IMPORT_CAPTION) & CHATS
        handlers: list[BaseHandler[Update, AnyContext, None]] = [
            CommandHandler(ADMIN_COMMANDS, self.on_command, filters=CHATS),
            MessageHandler(caption, self.on_command),
            CallbackQueryHandler(self.on_press, pattern=is_not_cite),
        ]
        if self.greeter is not None:
            handlers.append(
                ChatMemberHandler(self.greeter.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
            )
        return handlers

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """A reload or a change: the service reads the new settings from now on."""
        if self.context is not None:
            self.context.settings = settings
        if self.greeter is not None:
            self.greeter.owners = settings.bot.admins

    async def on_command(self, update: Update, context: AnyContext) -> None:
        message = update.effective_message
        if message is None or not context.application.running:
            return
        command = parse_command(command_text(message), context.bot.username)
        if command is None or command.name not in ADMIN_COMMANDS:
            return
        actor = actor_of(message)
        who = actor.user_id if actor.sender_chat_id is None else actor.sender_chat_id
        sender = who if who is not None else message.chat.id
        verdict = self.tasks.admit(sender, message.chat.id)
        if verdict == "drop":
            return
        bot = context.bot

        async def answer(earlier: list[asyncio.Task[None]]) -> None:
            if verdict == "slow down":
                reply: AdminReply | None = AdminReply(texts.SLOW_DOWN)
            else:
                reply = await self._answer(bot, message, command.name, command.args)
            if earlier:
                await asyncio.wait(earlier)
            if reply is not None:
                await self.send(bot, message, reply)

        if self.metrics is None:
            self.tasks.start(sender, message.chat.id, answer)
            return
        metrics = self.metrics

        async def timed(earlier: list[asyncio.Task[None]]) -> None:
            await metrics.timed(command.name, answer(earlier))

        self.tasks.start(sender, message.chat.id, timed)

    async def _answer(self, bot: Bot, message: Message, name: str, args: str) -> AdminReply | None:
        upload = None
        document = document_of(message) if name == "import" else None
        if document is not None:
            asked = AdminRequest(name, args, actor_of(message), place_of(message))
            refused = await self.service.refusal(asked)  # before downloading anything
            if refused is not None:
                return refused
            fetched = await self._upload(bot, document, message.chat.id)
            if isinstance(fetched, AdminReply):
                return fetched
            upload = fetched
        request = AdminRequest(name, args, actor_of(message), place_of(message), upload)
        try:
            return await self.service.handle(request)
        except Exception:
            log.exception("/%s in chat %s failed", name, message.chat.id)
            return AdminReply(texts.FAILED)

    @staticmethod
    async def _upload(bot: Bot, document: Document, chat_id: int) -> Upload | AdminReply:
        """The document's bytes (getFile, then the download), or why there are none: bigger
        than MAX_IMPORT_BYTES (refused before downloading when Telegram says its size), or
        Telegram would not give it."""
        if (document.file_size or 0) > MAX_IMPORT_BYTES:
            return too_big_reply(document.file_size or 0)
        try:
            file = await bot.get_file(document.file_id)
            if (file.file_size or 0) > MAX_IMPORT_BYTES:
                return too_big_reply(file.file_size or 0)
            content = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("fetching a document in chat %s: %s", chat_id, translate(exc))
            return AdminReply(texts.file_unreadable(exc.message))
        if len(content) > MAX_IMPORT_BYTES:
            return too_big_reply(len(content))
        return Upload(
            file_name=document.file_name or "import.opml",
            mime_type=document.mime_type or "application/octet-stream",
            content=content,
        )

    async def on_press(self, update: Update, context: AnyContext) -> None:
        query = update.callback_query
        if query is None or not context.application.running:
            return
        press = press_of(query)
        chat_id = press.place.chat_id if press is not None else query.from_user.id
        verdict = self.tasks.admit(query.from_user.id, chat_id)
        if verdict == "drop":
            return
        if verdict == "slow down" or press is None:
            await self._answer_query(query, texts.PRESS_SLOW_DOWN if press else "")
            return
        bot = context.bot
        self.tasks.start(query.from_user.id, chat_id, lambda _: self._press(bot, query, press))

    async def _press(self, bot: Bot, query: CallbackQuery, press: Press) -> None:
        """Ask the service, answer the press (always), then edit the message it was under."""
        try:
            reply = await self.service.press(press)
        except Exception:
            log.exception("a button press in chat %s failed", press.place.chat_id)
            await self._answer_query(query, texts.PRESS_FAILED)
            return
        await self._answer_query(query, reply.toast)
        with self.tasks.sending():
            if reply.text:  # no text: a refused press, the message and its buttons stay
                await self.edit(bot, press, reply)
            if reply.file is not None:
                await self._send_file(bot, press.place.chat_id, press.place.thread_id, reply, "")

    @staticmethod
    async def _answer_query(query: CallbackQuery, toast: str) -> None:
        try:
            await query.answer(text=toast[:200] or None)
        except TelegramError as exc:
            log.warning("could not answer a button press: %s", exc.message)

    async def edit(self, bot: Bot, press: Press, reply: AdminReply) -> None:
        """Replace the message the button was under, keyboard included (an edit without
        one removes the buttons, which is what a finished choice wants)."""
        chat_id = press.place.chat_id
        try:
            async with self._turn(chat_id):
                await bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=press.message_id,
                    text=reply.text,
                    reply_markup=markup(reply),
                )
        except BadRequest as exc:
            if NOT_MODIFIED not in exc.message.lower():
                log.warning("editing message %s in chat %s: %s", press.message_id, chat_id, exc)
        except TelegramError as exc:
            log.warning("editing message %s in chat %s: %s", press.message_id, chat_id, exc)

    async def send(self, bot: Bot, message: Message, reply: AdminReply) -> None:
        """The reply, in the chat and forum topic of the command (replying to it outside a
        private chat, so a busy group sees what it answers); a file as a document."""
        chat_id = message.chat.id
        thread = message.message_thread_id if message.is_topic_message else None
        reply_to = None if message.chat.type == "private" else message.message_id
        if not reply.text and reply.file is None:
            return  # nothing to say (Telegram refuses an empty message)
        with self.tasks.sending():
            if reply.file is not None and not reply.choices and len(reply.text) <= MAX_CAPTION:
                await self._send_file(bot, chat_id, thread, reply, reply.text, reply_to)
                return
            await self._send_text(bot, chat_id, thread, reply, reply_to)
            if reply.file is not None:
                await self._send_file(bot, chat_id, thread, reply, "", None)

    async def _send_text(
        self, bot: Bot, chat_id: int, thread: int | None, reply: AdminReply, reply_to: int | None
    ) -> None:
        await self._call(
            chat_id,
            lambda: bot.send_message(
                chat_id=chat_id,
                text=reply.text,
                reply_markup=markup(reply),
                message_thread_id=thread,
                reply_parameters=_reply_to(reply_to),
            ),
        )

    async def _send_file(
        self,
        bot: Bot,
        chat_id: int,
        thread: int | None,
        reply: AdminReply,
        caption: str,
        reply_to: int | None = None,
    ) -> None:
        file = reply.file
        if file is None:
            return
        await self._call(
            chat_id,
            lambda: bot.send_document(
                chat_id=chat_id,
                document=InputFile(file.content, filename=file.file_name),
                caption=caption or None,
                message_thread_id=thread,
                reply_parameters=_reply_to(reply_to),
            ),
        )

    async def _call(self, chat_id: int, call: Any) -> None:
        """One send in the pacer's turn; once more after a short 429, else logged."""
        for attempt in (1, 2):
            try:
                async with self._turn(chat_id):
                    await call()
                return
            except TelegramError as exc:
                error = translate(exc)
            if (
                attempt == 1
                and isinstance(error, RateLimitedError)
                and error.retry_after <= 30
                and not self.tasks.stopping
            ):
                if self.pacer is not None:
                    self.pacer.pause(chat_id, error.retry_after)
                else:
                    await asyncio.sleep(error.retry_after)
                continue
            log.warning("admin reply to chat %s not sent: %s", chat_id, error)
            return

    def _turn(self, chat_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        return self.pacer.turn(chat_id) if self.pacer is not None else contextlib.nullcontext()

    async def stop(self) -> None:
        """Drop the replies not yet sent; let those under way finish."""
        await self.tasks.stop()


def _reply_to(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id, allow_sending_without_reply=True)
