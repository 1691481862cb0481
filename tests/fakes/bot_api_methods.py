"""The Bot API methods the fake server answers, each as strict as the real one.

Checks run in the real server's order: parameters and text first (telegram-bot-api parses
them before it looks at the chat), then the chat, the bot's rights in it, flood control,
and only then the effect. A mixin of `BotApiState`, whose attributes it uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fakes.bot_api_objects import (
    NOT_MODIFIED,
    ApiError,
    CallbackAnswer,
    ChatRecord,
    MessageRecord,
    MessageVersion,
    Params,
    RateLimitHit,
    bad_request,
    validate_reply_markup,
)
from tests.fakes.bot_api_updates import CALLBACK_TIMEOUT, CallbackState
from tests.fakes.rate_windows import SendRateLimits
from tests.fakes.telegram_html import BadRequest, ParsedMessage, validate_message_text

CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_CHAT_KIND = {"channel": "channel chat", "supergroup": "supergroup chat", "group": "group chat"}


class MethodsMixin:
    """sendMessage, editMessageText, getUpdates and the other methods of the fake."""

    bot_id: int
    bot_user: dict[str, Any]
    _cond: threading.Condition
    _clock: Callable[[], float]
    _limits: SendRateLimits
    _messages: dict[int, dict[int, MessageRecord]]
    _sent: list[tuple[int, int]]
    _updates: list[dict[str, Any]]
    _allowed_updates: list[str] | None
    _poll_generation: int
    _polls_waiting: int
    _allowed_given: list[str] | None
    _callbacks: dict[str, CallbackState]
    _rate_hits: list[RateLimitHit]
    _callback_answers: list[CallbackAnswer]
    _stopping: bool

    if TYPE_CHECKING:  # provided by BotApiState and the other mixins

        def _resolve(self, ref: str) -> ChatRecord: ...
        def _new_message_id(self, chat_id: int) -> int: ...
        def _is_allowed(self, update: dict[str, Any]) -> bool: ...
        def _refuse_getupdates_while_hooked(self) -> None: ...
        def _check_thread(
            self, chat: ChatRecord, thread_id: int | None
        ) -> MessageRecord | None: ...

    def handlers(self) -> dict[str, Callable[[Params], Any]]:
        """Method name (lower case, as Telegram matches them) to handler."""
        return {
            "getme": lambda _params: self.bot_user,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "getchat": self._get_chat,
        }

    # --- checks shared with the other mixins -------------------------------------------

    def _check_read_access(self, chat: ChatRecord) -> None:
        _check_access(chat, write=False)

    def _check_write_access(self, chat: ChatRecord) -> None:
        _check_access(chat, write=True)

    def _markup_param(self, params: Params) -> dict[str, Any] | None:
        return _markup(params)

    def _reply_target(self, chat: ChatRecord, params: Params) -> MessageRecord | None:
        """The message reply_parameters points at; 400 as Telegram when it is not there."""
        reply = params.json("reply_parameters", "can't parse reply parameters JSON object")
        if reply is None:
            return None
        if not isinstance(reply, dict) or "message_id" not in reply:
            raise bad_request("can't parse reply parameters JSON object")
        target = self._messages.get(chat.id, {}).get(int(reply["message_id"]))
        if target is None or target.service is not None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return target

    # --- messages ----------------------------------------------------------------------

    def _send_message(self, params: Params) -> Any:
        chat_ref = _chat_ref(params)
        text, parse_mode = params.text("text") or "", params.text("parse_mode") or None
        parsed = _validated(text, parse_mode)
        markup = _markup(params)
        preview = params.json(
            "link_preview_options", "can't parse link preview options JSON object"
        )
        thread_id = params.integer("message_thread_id")
        with self._cond:
            chat = self._resolve(chat_ref)
            _check_access(chat, write=True)
            root = self._check_thread(chat, thread_id)
            reply_to = self._reply_target(chat, params) or root
            self._check_rate("sendMessage", chat)
            record = MessageRecord(
                chat.id, self._new_message_id(chat.id), int(time.time()), parsed.text
            )
            record.entities, record.html, record.parse_mode = parsed.entities, text, parse_mode
            record.reply_markup, record.link_preview_options = markup, preview
            record.disable_notification = params.flag("disable_notification")
            record.thread_id, record.reply_to = thread_id, reply_to
            record.sent_by_bot = True
            self._messages[chat.id][record.message_id] = record
            self._sent.append((chat.id, record.message_id))
            return record.to_json(chat, self.bot_user)

    def _edit_message_text(self, params: Params) -> Any:
        if params.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the fake server")
        chat_ref = _chat_ref(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        text, parse_mode = params.text("text") or "", params.text("parse_mode") or None
        parsed, markup = _validated(text, parse_mode), _markup(params)
        with self._cond:
            chat = self._resolve(chat_ref)
            record = self._editable(chat, message_id)
            if record.document is not None:
                raise bad_request("there is no text in the message to edit")
            if (record.text, record.entities, record.reply_markup) == (
                parsed.text,
                parsed.entities,
                markup,
            ):
                raise ApiError(400, NOT_MODIFIED)
            record.history.append(
                MessageVersion(record.text, record.entities, record.html, record.reply_markup)
            )
            record.text, record.entities, record.html = parsed.text, parsed.entities, text
            record.parse_mode, record.reply_markup = parse_mode, markup
            record.edit_date = int(time.time())
            return record.to_json(chat, self.bot_user)

    def _edit_message_reply_markup(self, params: Params) -> Any:
        if params.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the fake server")
        chat_ref = _chat_ref(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        markup = _markup(params)
        with self._cond:
            chat = self._resolve(chat_ref)
            record = self._editable(chat, message_id)
            if record.reply_markup == markup:
                raise ApiError(400, NOT_MODIFIED)
            record.history.append(
                MessageVersion(record.text, record.entities, record.html, record.reply_markup)
            )
            record.reply_markup, record.edit_date = markup, int(time.time())
            return record.to_json(chat, self.bot_user)

    def _editable(self, chat: ChatRecord, message_id: int) -> MessageRecord:
        """A message the bot may edit, or Telegram's 400 saying why not."""
        _check_access(chat, write=True)
        record = self._messages.get(chat.id, {}).get(message_id)
        if record is None:
            raise bad_request("message to edit not found")
        if not record.sent_by_bot:
            raise bad_request("message can't be edited")
        return record

    def _check_rate(self, method: str, chat: ChatRecord) -> None:
        now = self._clock()
        retry_after = self._limits.try_send(
            chat.id, is_group_or_channel=chat.type != "private", now=now
        )
        if retry_after:
            self._rate_hits.append(RateLimitHit(method, chat.id, retry_after, now))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    # --- updates -----------------------------------------------------------------------

    def _get_updates(self, params: Params) -> Any:
        offset = params.integer("offset", 0) or 0
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(params.integer("timeout", 0) or 0, 0)
        allowed = params.json("allowed_updates", "can't parse allowed updates")
        with self._cond:
            self._refuse_getupdates_while_hooked()  # bot_api_webhook.py
            if allowed is not None:
                self._allowed_given = list(allowed)
                self._allowed_updates = list(allowed) or None
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # an older long poll ends with 409
            self._confirm(offset)
            deadline = time.monotonic() + timeout
            while True:
                if generation != self._poll_generation:
                    raise ApiError(409, CONFLICT)
                batch = [u for u in self._updates if self._is_allowed(u)][:limit]
                remaining = deadline - time.monotonic()
                if batch or self._stopping or remaining <= 0:
                    return batch
                self._polls_waiting += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._polls_waiting -= 1

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    # --- callbacks and chats -----------------------------------------------------------

    def _answer_callback_query(self, params: Params) -> Any:
        query_id = params.text("callback_query_id") or ""
        text = params.text("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        with self._cond:
            state = self._callbacks.get(query_id)
            if (
                state is None
                or state.answered
                or self._clock() - state.pushed_at > CALLBACK_TIMEOUT
            ):
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            state.answered = True
            self._callback_answers.append(CallbackAnswer(query_id, text, params.flag("show_alert")))
        return True

    def _get_chat(self, params: Params) -> Any:
        chat_ref = _chat_ref(params)
        with self._cond:
            chat = self._resolve(chat_ref)
            _check_access(chat, write=False)
            return chat.to_full_json()


def _chat_ref(params: Params) -> str:
    ref = params.text("chat_id")
    if not ref:
        raise bad_request("chat_id is empty")
    return ref


def _validated(text: str, parse_mode: str | None) -> ParsedMessage:
    try:
        return validate_message_text(text, parse_mode=parse_mode)
    except BadRequest as exc:
        raise ApiError(400, exc.description) from exc


def _markup(params: Params) -> dict[str, Any] | None:
    markup = validate_reply_markup(
        params.json("reply_markup", "can't parse reply keyboard markup JSON object")
    )
    if markup is not None and markup.get("inline_keyboard") == []:
        return None  # an empty keyboard is no keyboard
    return markup


def _check_access(chat: ChatRecord, *, write: bool) -> None:
    """Raise what Telegram answers when the bot may not use this chat."""
    if chat.migrated_to is not None:
        raise ApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": chat.migrated_to},
        )
    if chat.type == "private":
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return
    kind = _CHAT_KIND[chat.type]
    if chat.bot_status == "kicked":
        raise ApiError(403, f"Forbidden: bot was kicked from the {kind}")
    if chat.bot_status == "left":
        raise ApiError(403, f"Forbidden: bot is not a member of the {kind}")
    if write and chat.type == "channel" and chat.bot_status != "administrator":
        raise bad_request("need administrator rights in the channel chat")
    if write and chat.bot_status == "restricted":
        raise bad_request("not enough rights to send text messages to the chat")
    if write and chat.bot_status == "member" and not chat.members_may_write:
        # getChatMember still says "member": only the send shows the bot may not write
        raise bad_request("not enough rights to send text messages to the chat")
