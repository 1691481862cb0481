"""Membership through the Bot API, for the admin side: getChatMember behind `MemberLookup`,
the greeting when the bot joins a chat (my_chat_member), and the command menus per scope.

- `TelegramMembers` is the services' `MemberLookup`: `membership` (getChatMember) answers
  a `Membership`, a user Telegram does not know ("user not found") having status `left`,
  as getChatMember answers for one who never joined; `chat` (getChat) a `Place`, None for
  a chat the bot cannot see; other failures become our errors (bot/errors.py).
- `Greeter`: when the bot is added to a channel or group (or promoted there), the user who
  did it gets a private message saying how to subscribe the chat; a user who never
  started the bot cannot be written to first, so the owners get it instead. Removal is
  logged.
- `command_menus`: the reader commands for everyone, the admin commands for chat
  administrators and for the owners' private chats (the most specific scope wins).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeChat,
    ChatMember,
    ChatMemberAdministrator,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CallbackContext

from bot.render import admin_telegram as texts
from bot.render.telegram_html import Html
from bot.services.admin_types import Membership, Place
from bot.telegram.admin_updates import place_of_chat
from bot.telegram.sender import translate

if TYPE_CHECKING:
    from telegram import Bot, Chat

log = logging.getLogger(__name__)

UNKNOWN_USER = ("user not found", "participant_id_invalid", "user_not_participant")
JOINED = ("member", "administrator")
GONE = ("left", "kicked")

READER_COMMANDS = (
    ("latest", "Newest releases: /latest [n] [feed]"),
    ("cite", "Cite a release or its study: /cite [study] [style] [id, URL or words]"),
    ("search", "Search releases: /search words or a DOI"),
    ("feeds", "Feeds followed here"),
    ("help", "Every command, with examples"),
    ("start", "What this bot does"),
)
ADMIN_MENU = (
    ("add", "Subscribe this chat: /add URL-or-feed [name]"),
    ("remove", "Unsubscribe this chat: /remove feed"),
    ("subs", "This chat's feeds, options and filters"),
    ("set", "Route option: /set feed option value"),
    ("filter", "Keyword filter: /filter feed include|exclude words, or clear"),
    ("pause", "Pause this chat's feeds: /pause [feed]"),
    ("resume", "Resume this chat's feeds: /resume [feed]"),
    ("retry", "Send failed posts again"),
    ("status", "Feeds' and chats' health"),
    ("export", "This chat's feeds as an OPML file"),
    ("import", "Subscribe to an OPML file's feeds (caption or reply)"),
    ("audit", "Owners: the last changes: /audit [n]"),
)
AnyContext = CallbackContext[Any, Any, Any, Any]


def membership(member: ChatMember) -> Membership:
    rights = member if isinstance(member, ChatMemberAdministrator) else None
    return Membership(
        status=str(member.status),
        can_post_messages=bool(rights and rights.can_post_messages),
        can_change_info=bool(rights and rights.can_change_info),
    )


class TelegramMembers:
    """`MemberLookup` with getChatMember (the service caches)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def membership(self, chat_id: int, user_id: int) -> Membership:
        try:
            member = await self.bot.get_chat_member(chat_id=chat_id, user_id=user_id)
        except BadRequest as exc:
            if any(phrase in exc.message.lower() for phrase in UNKNOWN_USER):
                return Membership("left")
            raise translate(exc) from exc
        except TelegramError as exc:
            raise translate(exc) from exc
        return membership(member)

    async def chat(self, ref: int | str) -> Place | None:
        """getChat: the chat as a `Place`; None when Telegram knows no such chat or the bot
        may not see it (not a member, kicked)."""
        try:
            found = await self.bot.get_chat(chat_id=ref)
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                return None
            raise translate(exc) from exc
        except Forbidden:
            return None
        except TelegramError as exc:
            raise translate(exc) from exc
        return place_of_chat(found)


def chat_label(chat: Chat) -> str:
    if chat.username:
        return f"@{chat.username}"
    return chat.title or str(chat.id)


def greeting(chat: Chat, bot_username: str, *, can_post: bool) -> Html:
    return texts.greeting(
        kind=str(chat.type),
        title=chat.title or "",
        ref=f"@{chat.username}" if chat.username else str(chat.id),
        bot_username=bot_username,
        can_post=can_post,
    )


class Greeter:
    """my_chat_member: greet whoever added the bot (else the owners); log removals."""

    def __init__(self, owners: Sequence[int]) -> None:
        self.owners = tuple(owners)

    async def on_my_chat_member(self, update: Update, context: AnyContext) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type == "private":
            return  # a user starting or blocking the bot
        chat, old, new = change.chat, change.old_chat_member, change.new_chat_member
        if new.status in GONE:
            log.info("the bot was removed from %s %s (%s)", chat.type, chat_label(chat), chat.id)
            return
        promoted = old.status == "member" and new.status == "administrator"
        if new.status not in JOINED or not (old.status in GONE or promoted):
            return
        log.info("the bot was added to %s %s (%s)", chat.type, chat_label(chat), chat.id)
        can_post = chat.type != "channel" or bool(
            isinstance(new, ChatMemberAdministrator) and new.can_post_messages
        )
        text = greeting(chat, context.bot.username, can_post=can_post)
        if await self._tell(context.bot, change.from_user.id, text):
            return
        for owner in self.owners:
            if owner != change.from_user.id:
                await self._tell(context.bot, owner, text)

    @staticmethod
    async def _tell(bot: Bot, user_id: int, text: Html) -> bool:
        try:
            await bot.send_message(chat_id=user_id, text=text)
        except Forbidden as exc:  # never started the bot, or blocked it
            log.info("cannot write to user %s: %s", user_id, exc.message)
            return False
        except TelegramError as exc:
            log.warning("greeting user %s failed: %s", user_id, translate(exc))
            return False
        return True


async def set_command_menus(bot: Bot, owners: Sequence[int]) -> None:
    """Reader commands for everyone; admin commands (and the readers') for chat
    administrators and in each owner's private chat. An owner who never started the bot
    has no private chat yet ("chat not found", or 403): logged and skipped."""
    readers = [BotCommand(*command) for command in READER_COMMANDS]
    admins = readers + [BotCommand(*command) for command in ADMIN_MENU]
    await bot.set_my_commands(readers)  # the default scope
    await bot.set_my_commands(admins, scope=BotCommandScopeAllChatAdministrators())
    for owner in owners:
        try:
            await bot.set_my_commands(admins, scope=BotCommandScopeChat(owner))
        except (BadRequest, Forbidden) as exc:
            log.info("no admin command menu for owner %s yet: %s", owner, exc.message)
