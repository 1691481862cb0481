"""The shapes admin commands cross layers in (../shared/design/admin.md).

The Telegram adapter (bot/telegram/) turns an update into an `AdminRequest` (who sent it,
where, what) and a button press into a `Press`; the admin services (bot/services/admin*.py)
answer with an `AdminReply` (HTML text, buttons, maybe a file), and look chat members up
through `MemberLookup`, which the adapter implements with getChatMember. No PTB object
crosses: these frozen dataclasses do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.render.telegram_html import Html

Role = Literal["owner", "chat_admin", "member"]
ChatKind = Literal["private", "group", "supergroup", "channel"]
# Telegram's placeholder sender of an anonymous group administrator's messages.
GROUP_ANONYMOUS_BOT = 1087968824


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sent a command or pressed a button."""

    user_id: int | None  # None: a channel post (no usable sender)
    name: str  # for the audit trail and replies: "@username", else the full name
    sender_chat_id: int | None = None  # sent as a chat: anonymous group admin, channel post


@dataclass(frozen=True, slots=True)
class Place:
    """The chat a command was sent in (and its forum topic)."""

    chat_id: int
    kind: ChatKind
    title: str
    username: str | None = None  # without "@"
    thread_id: int | None = None  # the forum topic it was sent in (None: the chat itself)


@dataclass(frozen=True, slots=True)
class Upload:
    """A document sent with the command (or the document it replies to), already fetched."""

    file_name: str
    mime_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class AdminRequest:
    command: str  # without the slash and bot name: "add", "subs"
    args: str  # the text after the command
    actor: Actor
    place: Place
    upload: Upload | None = None


@dataclass(frozen=True, slots=True)
class Press:
    """A button pressed under one of the bot's messages."""

    data: str  # the button's callback_data, as the client sent it (may be forged)
    actor: Actor
    place: Place
    message_id: int


@dataclass(frozen=True, slots=True)
class Choice:
    """An inline button: its label and the callback_data (at most 64 bytes)."""

    text: str
    data: str


@dataclass(frozen=True, slots=True)
class ReplyFile:
    file_name: str
    content: bytes
    mime_type: str = "text/x-opml+xml"


@dataclass(frozen=True, slots=True)
class AdminReply:
    """What the bot answers: text, rows of buttons, maybe a file (sent as a document).
    On a button press, `text` replaces the message the button was under (with `choices`
    as its new buttons); an empty `text` leaves that message and its buttons as they are
    and only shows `toast` (a refused press: the buttons stay for the one who asked)."""

    text: Html
    choices: tuple[tuple[Choice, ...], ...] = ()
    file: ReplyFile | None = None
    toast: str = ""  # the short answer to a button press (answerCallbackQuery)


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's getChatMember answer, as the admin rules need it."""

    status: str  # creator, administrator, member, restricted, left, kicked
    can_post_messages: bool = False  # channel administrators
    can_change_info: bool = False  # administrators


class MemberLookup(Protocol):
    """getChatMember and getChat, behind the Telegram adapter.

    Either may raise a ReleaseBotError (bot.errors) when Telegram refuses (the bot is not
    in that chat, the chat does not exist): the admin services answer it politely."""

    async def membership(self, chat_id: int, user_id: int) -> Membership:
        """getChatMember: a user who never joined answers status `left`."""
        ...

    async def chat(self, ref: int | str) -> Place | None:
        """getChat on a numeric id or an "@username": the chat as a `Place` (thread_id
        None), or None when Telegram knows no such chat (or the bot may not see it)."""
        ...
