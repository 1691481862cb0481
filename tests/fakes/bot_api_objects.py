"""Records and JSON shapes of the fake Bot API: chats, messages, request parameters, keyboards.

The frozen dataclasses here are what tests read back from `FakeBotAPI`; the mutable
records are the server's own state. JSON builders produce objects python-telegram-bot
can de_json (Message, Chat, ChatFullInfo, User, ChatMember).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.bot_api_members import MemberRecord, make_member
from tests.fakes.telegram_html import Entity
from tests.fakes.telegram_links import LinkError, check_link

CHAT_TYPES = frozenset({"channel", "supergroup", "group", "private"})
# "restricted": muted in a supergroup (can_send_messages false); channels have no such status
BOT_STATUSES = frozenset({"administrator", "member", "restricted", "kicked", "left"})
# Telegram's placeholder sender of messages an anonymous group admin writes
GROUP_ANONYMOUS_BOT = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


class ApiError(Exception):
    """An error answer: HTTP status, the Bot API description and optional parameters."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        self.status = status
        self.description = description
        self.parameters = parameters
        super().__init__(f"{status} {description}")

    def to_json(self) -> dict[str, Any]:
        """The body Telegram sends with this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str) -> ApiError:
    """A 400 whose description gets the Bot API's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class MessageVersion:
    """One earlier state of an edited message."""

    text: str
    entities: tuple[Entity, ...]
    html: str
    reply_markup: dict[str, Any] | None


@dataclass(frozen=True)
class DeliveredMessage:
    """A message the bot sent, as it stands now; `history` holds earlier versions, oldest first.

    `html` is the text exactly as the bot sent it (HTML source when parse_mode was HTML);
    `text` and `entities` are what Telegram shows.
    """

    chat_id: int
    message_id: int
    text: str
    entities: tuple[Entity, ...]
    html: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    link_preview_options: dict[str, Any] | None
    disable_notification: bool
    date: int
    history: tuple[MessageVersion, ...] = ()
    message_thread_id: int | None = None  # the forum topic it was posted in
    document: FileRecord | None = None  # a sendDocument: text/entities/html are its caption
    reply_to_message_id: int | None = None  # from reply_parameters

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline buttons, row after row (empty when there is no keyboard)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server answered: method as sent, decoded params, HTTP status."""

    method: str
    params: dict[str, Any]
    status: int
    description: str | None = None


@dataclass(frozen=True)
class RateLimitHit:
    """One 429 the server answered."""

    method: str
    chat_id: int
    retry_after: int
    at: float


@dataclass(frozen=True)
class CallbackAnswer:
    """An answerCallbackQuery the bot made."""

    callback_query_id: str
    text: str | None
    show_alert: bool


@dataclass(frozen=True)
class FileRecord:
    """A file the fake knows: a document a test pushed in or one the bot uploaded.

    `file_path` is set once getFile was asked for it (only then can it be downloaded).
    """

    file_id: str
    file_unique_id: str
    file_name: str | None
    mime_type: str | None
    data: bytes
    file_path: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)

    def to_json(self) -> dict[str, Any]:
        """The Document object."""
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name is not None:
            data["file_name"] = self.file_name
        if self.mime_type is not None:
            data["mime_type"] = self.mime_type
        return data


@dataclass
class TopicRecord:
    """A forum topic: its thread id is the id of the service message that created it."""

    thread_id: int
    name: str
    icon_color: int
    closed: bool = False
    deleted: bool = False


@dataclass
class ChatRecord:
    """The server's view of one chat and the bot's place in it."""

    id: int
    type: str
    title: str | None
    username: str | None
    bot_status: str
    started: bool = True
    blocked: bool = False
    migrated_to: int | None = None
    members: dict[int, MemberRecord] = field(default_factory=dict)
    deleted: bool = False  # every call about it answers "chat not found"
    members_may_write: bool = True  # a group's default permission can_send_messages
    is_forum: bool = False  # a supergroup with topics
    topics: dict[int, TopicRecord] = field(default_factory=dict)
    bot_rights: dict[str, Any] = field(default_factory=dict)  # overrides of the defaults

    def bot_member(self) -> MemberRecord:
        """The bot's own ChatMember fields here (a private chat: a plain member)."""
        if self.type == "private":
            return (
                MemberRecord("kicked", {"until_date": 0})
                if self.blocked
                else MemberRecord("member")
            )
        return make_member(self.bot_status, self.type, self.bot_rights, is_bot=True)

    def to_json(self) -> dict[str, Any]:
        """The Chat object."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.title or f"User {self.id}"
        else:
            data["title"] = self.title or f"Chat {self.id}"
        if self.username:
            data["username"] = self.username
        if self.is_forum:
            data["is_forum"] = True
        return data

    def to_full_json(self) -> dict[str, Any]:
        """The ChatFullInfo object getChat answers."""
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
        )
        gifts["gifts_from_channels"] = False
        return {
            **self.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }


@dataclass
class MessageRecord:
    """A message in a chat: sent by the bot or pushed in by a test."""

    chat_id: int
    message_id: int
    date: int
    text: str
    entities: tuple[Entity, ...] = ()
    from_user: dict[str, Any] | None = None
    html: str = ""
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    link_preview_options: dict[str, Any] | None = None
    disable_notification: bool = False
    edit_date: int | None = None
    sent_by_bot: bool = False
    history: list[MessageVersion] = field(default_factory=list)
    thread_id: int | None = None  # forum topic
    reply_to: MessageRecord | None = None  # a reply, or a topic's creation message
    sender_chat: dict[str, Any] | None = None  # an anonymous admin's group
    document: FileRecord | None = None  # then text and entities are the caption
    service: dict[str, Any] | None = None  # e.g. {"forum_topic_created": {...}}

    def to_json(
        self, chat: ChatRecord, bot_user: dict[str, Any], *, nested: bool = False
    ) -> dict[str, Any]:
        """The Message object (`nested`: as a reply_to_message, which carries no reply)."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": chat.to_json(),
        }
        if self.thread_id is not None:
            data["message_thread_id"] = self.thread_id
            if chat.is_forum:
                data["is_topic_message"] = True
        if chat.type == "channel":
            data["sender_chat"] = chat.to_json()
        else:
            data["from"] = self.from_user or bot_user
            if self.sender_chat is not None:
                data["sender_chat"] = self.sender_chat
        self._content_json(data)
        if self.reply_to is not None and not nested:
            data["reply_to_message"] = self.reply_to.to_json(chat, bot_user, nested=True)
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.link_preview_options:
            data["link_preview_options"] = self.link_preview_options
        return data

    def _content_json(self, data: dict[str, Any]) -> None:
        """Text, or document and caption, or the service message's own field."""
        entities = [entity.to_api() for entity in self.entities]
        if self.service is not None:
            data.update(self.service)
        elif self.document is not None:
            data["document"] = self.document.to_json()
            if self.text:
                data["caption"] = self.text
            if entities:
                data["caption_entities"] = entities
        else:
            data["text"] = self.text
            if entities:
                data["entities"] = entities

    def snapshot(self) -> DeliveredMessage:
        """The frozen read-back view of this message."""
        return DeliveredMessage(
            chat_id=self.chat_id,
            message_id=self.message_id,
            text=self.text,
            entities=self.entities,
            html=self.html,
            parse_mode=self.parse_mode,
            reply_markup=self.reply_markup,
            link_preview_options=self.link_preview_options,
            disable_notification=self.disable_notification,
            date=self.date,
            history=tuple(self.history),
            message_thread_id=self.thread_id,
            document=self.document,
            reply_to_message_id=self.reply_to.message_id
            if self.reply_to is not None and self.reply_to.service is None
            else None,
        )


class Params:
    """Request parameters: form fields arrive as strings, JSON bodies as typed values."""

    _JSON_FIELDS = frozenset(
        {"reply_markup", "link_preview_options", "commands", "scope", "allowed_updates"}
        | {"entities", "reply_parameters", "caption_entities"}
    )

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def decoded(self) -> dict[str, Any]:
        """Every parameter, JSON-encoded ones decoded where they parse, for the request log."""
        out: dict[str, Any] = {}
        for key, value in self.raw.items():
            if key in self._JSON_FIELDS and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            out[key] = value
        return out

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f'field "{name}" must be a valid Number') from exc

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, error: str) -> Any:
        value = self.raw.get(name)
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(error) from exc


def validate_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Check an inline keyboard as strictly as Telegram; return it, or None for no keyboard."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("reply markup must be an Object")
    if "inline_keyboard" not in markup:
        return markup  # reply keyboards and removals are not checked further
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        if not isinstance(row, list):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
            )
        for button in row:
            _validate_button(button)
    return markup


def _validate_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not button["text"].strip():
        raise bad_request("text buttons are unallowed in the inline keyboard")
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        try:
            check_link(url if isinstance(url, str) else "")
        except LinkError as exc:
            raise bad_request(
                f"inline keyboard button URL '{url}' is invalid: {exc.reason}"
            ) from exc
