"""Admin commands' updates read into our shapes: who (`Actor`), where (`Place`), what file.

Pure reading of PTB objects (no call to Telegram), so bot/telegram/admin.py stays about
handling and sending. Telegram's conventions (../shared/design/admin.md):

- a user's message: `from` is the user ("@username", else the full name);
- an anonymous group admin: `from` is GroupAnonymousBot (1087968824) and `sender_chat` is
  the group; a message sent "as a channel" in a group carries that channel as
  `sender_chat` (the services decide what either may do: the adapter says what Telegram
  said);
- a channel post: no `from`, `sender_chat` is the channel;
- a forum topic: `message_thread_id` with `is_topic_message` (a reply in a group without
  topics carries a thread id too, which is not a topic).
"""

from __future__ import annotations

import re

from telegram import CallbackQuery, Chat, ChatFullInfo, Document, Message, User

from bot.services.admin_types import Actor, ChatKind, Place, Press

ADMIN_COMMANDS = (
    "add",
    "remove",
    "subs",
    "set",
    "filter",
    "pause",
    "resume",
    "retry",
    "status",
    "export",
    "import",
    "audit",
)
# A document whose caption starts with /import (or /import@bot): CommandHandler reads only
# a message's text, so a caption command needs its own MessageHandler.
IMPORT_CAPTION = re.compile(r"^/import(?:@[A-Za-z0-9_]{1,64})?(?![A-Za-z0-9_@])", re.IGNORECASE)
KINDS: tuple[ChatKind, ...] = ("private", "group", "supergroup", "channel")


def user_name(user: User) -> str:
    """How replies and the audit trail name a user: "@username", else the full name."""
    if user.username:
        return f"@{user.username}"
    return user.full_name or str(user.id)


def chat_name(chat: Chat | ChatFullInfo) -> str:
    """A chat's title; a private chat's user's name; else its @username or id."""
    name = chat.title or chat.full_name
    if name:
        return name
    return f"@{chat.username}" if chat.username else str(chat.id)


def actor_of(message: Message) -> Actor:
    """Who sent a command: a user, an anonymous group admin (as the group), a channel."""
    sender_chat = message.sender_chat
    user = message.from_user
    if sender_chat is not None:  # `from`, if any, is a placeholder (GroupAnonymousBot)
        user_id = user.id if user is not None else None
        return Actor(user_id, chat_name(sender_chat), sender_chat_id=sender_chat.id)
    if user is None:  # a channel post without sender_chat (old clients): the channel
        return Actor(None, chat_name(message.chat), sender_chat_id=message.chat.id)
    return Actor(user.id, user_name(user))


def place_of_chat(chat: Chat | ChatFullInfo, thread_id: int | None = None) -> Place:
    kind: ChatKind = next((k for k in KINDS if k == str(chat.type)), "group")
    return Place(
        chat_id=chat.id,
        kind=kind,
        title=chat_name(chat),
        username=chat.username,
        thread_id=thread_id,
    )


def place_of(message: Message) -> Place:
    """Where a command was sent; the forum topic only when the message is in one."""
    thread = message.message_thread_id if message.is_topic_message else None
    return place_of_chat(message.chat, thread)


def press_of(query: CallbackQuery) -> Press | None:
    """A button press under one of the bot's messages; None when the message is gone
    (too old for Telegram to include) or the press carries no data."""
    message = query.message
    if not isinstance(message, Message) or not query.data:
        return None
    actor = Actor(query.from_user.id, user_name(query.from_user))
    return Press(query.data, actor, place_of(message), message.message_id)


def command_text(message: Message) -> str:
    """The text a command is read from: the message's text, or a document's caption."""
    return message.text or message.caption or ""


def document_of(message: Message) -> Document | None:
    """The document an /import comes with: attached, or the one the command replies to."""
    if message.document is not None:
        return message.document
    replied = message.reply_to_message
    if replied is not None and replied.document is not None:
        return replied.document
    return None
