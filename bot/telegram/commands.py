"""The PTB side of readers' commands: /start /help /latest /cite /search /feeds, and the
admins' /retry.

The answers come from `Answers` (bot/services/commands.py). `ReaderCommands` holds the thin
PTB handlers: read the update, admit it (`ReplyTasks`: a few pending
replies per reader, dropped at a stop), ask `Answers` in a worker thread (`ReadThreads`:
its own read-only connection, a time budget), send or edit the reply (retried after a
429 or a transient failure). PTB objects never leave this module.

Commands arrive as messages (private chats, groups, `/cmd@botname`) and as channel posts
(`CHATS`: CommandHandler sees channel posts given that filter). A `CommandHandler` takes the
commands the bot knows, and PTB drops those addressed to another bot (`/latest@otherbot`);
a MessageHandler after it takes any other command, which the pure `parse_command` reads:
an unknown one gets a hint in a private chat or when addressed to this bot, and a command
for another bot is ignored.

Style buttons come back as callback queries: a release's (`cite:<id>:<style>`) and a
study's (`cite:study:<id>:<style>`, under `/cite study`) alike are handed to
`Answers.restyle`, which edits the message in place; both start with "cite:", which the
admins' press handler leaves to this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.errors import RateLimitedError, TransientDeliveryError
from bot.render import command_args, replies
from bot.render.command_args import Command
from bot.render.replies import Reply
from bot.services.commands import Answers, ChatRef
from bot.services.metrics import Metrics
from bot.services.pacing import Pacer
from bot.store.reading import QueryTooSlowError, ReadThreads
from bot.telegram.reply_tasks import ReplyTasks
from bot.telegram.sender import NOT_MODIFIED, translate

if TYPE_CHECKING:
    from telegram import Bot

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 30.0  # a reply that would wait longer than this after a 429 is dropped
REPLY_ATTEMPTS = 3  # a reply is sent at most this many times (after 429s, transient failures)
TRANSIENT_WAITS = (0.5, 2.0)  # seconds before the 2nd and 3rd attempt after a network failure
SLOW_DOWN_NOTICE = "Slow down, please: one press at a time."
CHATS = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST  # not edits
KNOWN = (*command_args.COMMANDS, "retry")
# The handlers need only the bot and the Application, whatever the context's data types.
AnyContext = CallbackContext[Any, Any, Any, Any]


def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=b.callback_data) for b in row]
            for row in reply.keyboard
        ]
    )


class ReaderCommands:
    """The PTB handlers; replies are paced with the dispatcher's pacer, so they share limits.

    A handler only admits the command (`ReplyTasks`: a few pending per reader) and starts
    its reply as a task; the store reads and rendering run in `reads`' worker threads, so
    one reader's slow command never holds up another's. /retry writes, so it is answered
    on the event loop through the loop's own Store.
    """

    def __init__(
        self,
        answers: Answers,
        pacer: Pacer | None,
        reads: ReadThreads | None = None,
        tasks: ReplyTasks | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics  # counts and times each command (None: not counted)
        self.answers = answers
        self.pacer = pacer
        self.reads = reads
        self.tasks = tasks or ReplyTasks()

    def handlers(self) -> list[BaseHandler[Update, AnyContext, None]]:
        """The known commands, then any other command, then the style buttons."""
        return [
            CommandHandler(KNOWN, self.on_command, filters=CHATS),
            MessageHandler(filters.COMMAND & CHATS, self.on_command),
            CallbackQueryHandler(self.on_callback),
        ]

    async def on_command(self, update: Update, context: AnyContext) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or not message.text:
            return
        if not context.application.running:  # stopping: PTB hands over the updates it holds
            return
        command = command_args.parse_command(message.text, context.bot.username)
        if command is None:
            return
        user = update.effective_user
        where = ChatRef(chat.id, chat.type, chat.username or "", user.id if user else None)
        if self.answers.ignores(command, where):
            return
        reader = where.user_id if where.user_id is not None else chat.id
        verdict = self.tasks.admit(reader, chat.id)
        if verdict == "drop":
            return
        bot, reply_to = context.bot, (None if where.private else message.message_id)

        def make(earlier: list[asyncio.Task[None]]) -> Coroutine[Any, Any, None]:
            if verdict == "slow down":
                answer = self._constant(replies.slow_down_reply(self.tasks.per_reader))
            else:
                answer = self._answer(command, where)
            reply = self._reply(bot, chat.id, reply_to, answer, earlier)  # made as the task runs
            return reply if self.metrics is None else self.metrics.timed(command.name, reply)

        self.tasks.start(reader, chat.id, make)

    async def on_callback(self, update: Update, context: AnyContext) -> None:
        query = update.callback_query
        if query is None or not context.application.running:
            return
        message = query.message
        chat_id = message.chat.id if isinstance(message, Message) else query.from_user.id
        verdict = self.tasks.admit(query.from_user.id, chat_id)
        if verdict == "drop":
            return
        if verdict == "slow down":
            await self._answer_press(query, SLOW_DOWN_NOTICE)
            return
        self.tasks.start(query.from_user.id, chat_id, lambda _: self._press(context.bot, query))

    async def stop(self) -> None:
        """Drop the replies not yet sent, let those under way finish, close the readers."""
        await self.tasks.stop()
        if self.reads is not None:
            await asyncio.to_thread(self.reads.close)

    async def _answer(self, command: Command, where: ChatRef) -> Reply | None:
        try:
            if command.name == "retry" or self.reads is None:
                return self.answers.answer(command, where)
            return await self.reads.run(
                lambda store: self.answers.using(store).answer(command, where)
            )
        except QueryTooSlowError:
            log.warning("/%s in chat %s ran past its time budget", command.name, where.id)
            return replies.too_slow_reply()
        except Exception:
            log.exception("answering /%s in chat %s failed", command.name, where.id)
            return replies.failure_reply()

    @staticmethod
    async def _constant(reply: Reply) -> Reply | None:
        return reply

    async def _reply(
        self,
        bot: Bot,
        chat_id: int,
        reply_to: int | None,
        answer: Coroutine[Any, Any, Reply | None],
        earlier: list[asyncio.Task[None]],
    ) -> None:
        """Work out the answer, then send it once this reader's earlier replies are out."""
        reply = await answer
        if earlier:
            await asyncio.wait(earlier)
        if reply is not None:
            await self.send(bot, chat_id, reply, reply_to)

    async def _press(self, bot: Bot, query: CallbackQuery) -> None:
        """A style button: edit the citation in place, then answer the press."""
        notice = ""
        try:
            message = query.message
            if query.data and isinstance(message, Message):
                chat, user = message.chat, query.from_user
                where = ChatRef(chat.id, chat.type, chat.username or "", user.id)
                reply, notice = await self._restyle(query.data, where)
                if reply is not None:
                    with self.tasks.sending():
                        await self.edit(bot, chat.id, message.message_id, reply)
        except Exception:
            log.exception("answering a button press failed")
        await self._answer_press(query, notice)

    async def _restyle(self, data: str, where: ChatRef) -> tuple[Reply | None, str]:
        if self.reads is None:
            return self.answers.restyle(data, where)
        try:
            return await self.reads.run(
                lambda store: self.answers.using(store).restyle(data, where)
            )
        except QueryTooSlowError:
            return None, "That took too long, sorry. Please try again."

    @staticmethod
    async def _answer_press(query: CallbackQuery, notice: str) -> None:
        try:
            await query.answer(text=notice or None)
        except TelegramError as exc:
            log.warning("could not answer a button press: %s", exc.message)

    async def send(self, bot: Bot, chat_id: int, reply: Reply, reply_to: int | None) -> None:
        """Send a reply; after a 429 (up to MAX_RETRY_AFTER) or a transient failure, try again.

        A connection dropped after the request left may have delivered the reply: sending
        it again may show it twice, which beats a question left unanswered.
        """
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                async with self._turn(chat_id):
                    with self.tasks.sending():
                        await bot.send_message(
                            chat_id=chat_id,
                            text=reply.text,
                            reply_markup=_markup(reply),
                            reply_parameters=(
                                ReplyParameters(reply_to, allow_sending_without_reply=True)
                                if reply_to is not None
                                else None
                            ),
                        )
                return
            except TelegramError as exc:
                error = translate(exc)
            wait = self._retry_wait(error, attempt)
            if wait is None:
                log.warning("reply to chat %s not sent: %s", chat_id, error)
                return
            log.info("reply to chat %s: %s; trying again in %.1f s", chat_id, error, wait)
            if isinstance(error, RateLimitedError) and self.pacer is not None:
                self.pacer.pause(chat_id, wait)  # the next turn waits it out
            else:
                await asyncio.sleep(wait)

    def _retry_wait(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying a reply again; None to give it up."""
        if attempt >= REPLY_ATTEMPTS or self.tasks.stopping:
            return None
        if isinstance(error, RateLimitedError):
            return error.retry_after if error.retry_after <= MAX_RETRY_AFTER else None
        if isinstance(error, TransientDeliveryError):  # no answer, 5xx: likely gone in a moment
            return TRANSIENT_WAITS[attempt - 1]
        return None

    def _turn(self, chat_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        """The pacer's turn for this chat (counted when Telegram answers), or no wait."""
        return self.pacer.turn(chat_id) if self.pacer is not None else contextlib.nullcontext()

    async def edit(self, bot: Bot, chat_id: int, message_id: int, reply: Reply) -> None:
        """Replace a citation in place, keyboard included (an edit without it drops it)."""
        try:
            await bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=reply.text,
                reply_markup=_markup(reply),
            )
        except BadRequest as exc:
            if NOT_MODIFIED not in exc.message.lower():
                log.warning("editing message %s in chat %s failed: %s", message_id, chat_id, exc)
        except TelegramError as exc:
            log.warning("editing message %s in chat %s failed: %s", message_id, chat_id, exc)
