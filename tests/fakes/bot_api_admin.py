"""What the admin side needs from the fake Bot API: members, forum topics, command scopes.

getChatMember answers per (chat, user) with Telegram's statuses and rights and counts its
calls, so a test can see whether the bot caches. Forum topics are created, closed and
deleted by the test; a send into a closed topic answers "TOPIC_CLOSED" (unless the bot
has can_manage_topics, as on Telegram), into an unknown or deleted one "message thread
not found". setMyCommands keeps one list per (scope, language); `commands_for` answers
what a given user sees in a given chat, the most specific scope winning in the order of
the Bot API docs ("Determining list of commands"). Error texts follow tdlib's
BotCommand.cpp / BotCommandScope.cpp, with the Bot API's "Bad Request: " prefix.

A mixin of `BotApiState`, whose attributes it uses.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fakes.bot_api_members import is_chat_admin, make_member, member_json
from tests.fakes.bot_api_objects import (
    ChatRecord,
    MessageRecord,
    Params,
    TopicRecord,
    bad_request,
)

_COMMAND_CHARS = re.compile(r"^[a-z0-9_]+$")
_LANGUAGE = re.compile(r"^([a-z]{2})?$")
_GLOBAL_SCOPES = frozenset({"default", "all_private_chats", "all_group_chats"}) | {
    "all_chat_administrators"
}
_CHAT_SCOPES = frozenset({"chat", "chat_administrators", "chat_member"})
# (scope type, chat id, user id): where a command list is stored
ScopeKey = tuple[str, int | None, int | None]
DEFAULT_ICON_COLOR = 0x6FB9F0


class AdminMixin:
    """getChatMember, forum topics and command scopes, with their test-side API."""

    bot_id: int
    bot_user: dict[str, Any]
    _cond: threading.Condition
    _chats: dict[int, ChatRecord]
    _messages: dict[int, dict[int, MessageRecord]]
    _commands: dict[tuple[ScopeKey, str], list[dict[str, str]]]
    _member_lookups: dict[tuple[int, int], int]

    if TYPE_CHECKING:  # provided by BotApiState

        def _chat(self, ref: int | str) -> ChatRecord: ...
        def _resolve(self, ref: str) -> ChatRecord: ...
        def _user(
            self, user_id: int, *, first_name: str | None = None, username: str | None = None
        ) -> dict[str, Any]: ...
        def _new_message_id(self, chat_id: int) -> int: ...
        def _check_read_access(self, chat: ChatRecord) -> None: ...

    def admin_handlers(self) -> dict[str, Callable[[Params], Any]]:
        """Method name (lower case) to handler, for the methods this mixin answers."""
        return {
            "getchatmember": self._get_chat_member,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
        }

    # --- members: test-side API ----------------------------------------------------------

    def set_member(
        self,
        chat: int | str,
        user_id: int,
        status: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        **fields: Any,
    ) -> None:
        """Give a user a status in a chat, now or at any later moment of the test.

        status: creator, administrator, member, restricted (supergroups), left, kicked.
        `fields` override Telegram's defaults for that status, e.g. can_change_info=False,
        can_post_messages=False (channels only), is_anonymous=True, until_date=...;
        an administrator starts with every right but can_promote_members.
        """
        with self._cond:
            record = self._chat(chat)
            member = make_member(status, record.type, fields)
            record.members[user_id] = member
            self._user(user_id, first_name=first_name, username=username)

    def member_lookups(self, chat: int | str, user_id: int) -> int:
        """How many getChatMember calls asked about this user in this chat."""
        with self._cond:
            return self._member_lookups.get((self._chat(chat).id, user_id), 0)

    def _get_chat_member(self, params: Params) -> Any:
        chat_ref = params.text("chat_id")
        if not chat_ref:
            raise bad_request("chat_id is empty")
        user_id = params.integer("user_id")
        if user_id is None:
            raise bad_request("user_id is empty")
        with self._cond:
            chat = self._resolve(chat_ref)
            key = (chat.id, user_id)
            self._member_lookups[key] = self._member_lookups.get(key, 0) + 1
            self._check_read_access(chat)
            if user_id == self.bot_id:
                return member_json(self.bot_user, chat.bot_member())
            member = chat.members.get(user_id)
            if member is None:  # never joined; the other side of a private chat is a member
                member = make_member("member" if chat.id == user_id else "left", chat.type, {})
            return member_json(self._user(user_id), member)

    # --- forum topics: test-side API -----------------------------------------------------

    def create_topic(
        self, chat: int | str, name: str, *, icon_color: int = DEFAULT_ICON_COLOR
    ) -> int:
        """Open a topic in a forum supergroup; returns its message_thread_id (the id of the
        forum_topic_created service message, as on Telegram). No update is queued."""
        with self._cond:
            record = self._chat(chat)
            if not record.is_forum:
                raise ValueError(f"chat {chat} is not a forum (add_chat(..., is_forum=True))")
            thread_id = self._new_message_id(record.id)
            created = {"name": name, "icon_color": icon_color}
            root = MessageRecord(record.id, thread_id, int(time.time()), "")
            root.thread_id, root.service = thread_id, {"forum_topic_created": created}
            root.from_user = self._user(1, first_name="Group owner")
            self._messages[record.id][thread_id] = root
            record.topics[thread_id] = TopicRecord(thread_id, name, icon_color)
            return thread_id

    def close_topic(self, chat: int | str, thread_id: int, closed: bool = True) -> None:
        """Close (or reopen) a topic: sends into it answer 400 "TOPIC_CLOSED"."""
        with self._cond:
            self._topic(chat, thread_id).closed = closed

    def delete_topic(self, chat: int | str, thread_id: int) -> None:
        """Delete a topic: sends into it answer 400 "message thread not found"."""
        with self._cond:
            self._topic(chat, thread_id).deleted = True

    def _topic(self, chat: int | str, thread_id: int) -> TopicRecord:
        return self._chat(chat).topics[thread_id]

    def _check_thread(self, chat: ChatRecord, thread_id: int | None) -> MessageRecord | None:
        """Raise what Telegram answers for a send into this thread; the topic's root message."""
        if thread_id is None:
            return None
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise bad_request("message thread not found")
        if topic.closed and not chat.bot_member().fields.get("can_manage_topics"):
            raise bad_request("TOPIC_CLOSED")
        return self._messages[chat.id][thread_id]

    # --- commands ------------------------------------------------------------------------

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The command list set for exactly this scope (default scope when None)."""
        with self._cond:
            key = self._scope_key(scope or {"type": "default"})
            return list(self._commands.get((key, language_code), []))

    def commands_for(
        self, chat: int | str, user_id: int, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The commands this user sees in this chat: the most specific scope set wins
        (chat_member, chat_administrators for admins, chat, all_chat_administrators for
        admins, all_group_chats, default in groups; chat, all_private_chats, default in a
        private chat), a list for the user's language before the one for all languages."""
        with self._cond:
            record = self._chat(chat)
            if record.type == "channel":
                return []  # channels have no command menu
            member = record.members.get(user_id)
            admin = member is not None and is_chat_admin(member)
            order: list[ScopeKey]
            if record.type == "private":
                order = [("chat", record.id, None), ("all_private_chats", None, None)]
            else:
                order = [("chat_member", record.id, user_id)]
                order += [("chat_administrators", record.id, None)] if admin else []
                order += [("chat", record.id, None)]
                order += [("all_chat_administrators", None, None)] if admin else []
                order += [("all_group_chats", None, None)]
            order.append(("default", None, None))
            languages = [language_code, ""] if language_code else [""]
            for key in order:
                for language in languages:
                    if (key, language) in self._commands:
                        return list(self._commands[(key, language)])
            return []

    def _set_my_commands(self, params: Params) -> Any:
        commands = params.json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        key = self._params_scope(params)
        cleaned = [_clean_command(command) for command in commands]
        if len(cleaned) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in cleaned:
            if not _COMMAND_CHARS.match(command["command"]):
                raise bad_request("BOT_COMMAND_INVALID")
        with self._cond:
            if cleaned:
                self._commands[key] = cleaned
            else:  # an empty list resets the scope, as deleteMyCommands
                self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: Params) -> Any:
        key = self._params_scope(params)
        with self._cond:
            return list(self._commands.get(key, []))

    def _delete_my_commands(self, params: Params) -> Any:
        key = self._params_scope(params)
        with self._cond:
            self._commands.pop(key, None)
        return True

    def _params_scope(self, params: Params) -> tuple[ScopeKey, str]:
        scope = params.json("scope", "can't parse BotCommandScope JSON object")
        with self._cond:
            key = self._scope_key(scope or {"type": "default"})
        language = params.text("language_code") or ""
        if not _LANGUAGE.match(language):
            raise bad_request("invalid language code specified")
        return key, language

    def _scope_key(self, scope: Any) -> ScopeKey:
        """Check a BotCommandScope as tdlib does and give the key its list is stored under."""
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in _GLOBAL_SCOPES:
            return kind, None, None
        if kind not in _CHAT_SCOPES:
            raise bad_request("unsupported BotCommandScope type")
        chat_ref = scope.get("chat_id")
        if chat_ref in (None, ""):
            raise bad_request("chat_id is empty")
        chat = self._resolve(str(chat_ref))
        self._check_read_access(chat)
        user_id: int | None = None
        if kind == "chat_member":
            try:
                user_id = int(scope.get("user_id", ""))
            except (TypeError, ValueError) as exc:
                raise bad_request("invalid user_id specified") from exc
        if chat.type == "private" and kind != "chat":
            raise bad_request("can't use specified scope in private chats")
        if chat.type == "channel":
            raise bad_request("can't change commands in channel chats")
        return kind, chat.id, user_id


def _clean_command(command: Any) -> dict[str, str]:
    """One BotCommand trimmed and length-checked as tdlib does (characters come later)."""
    if not isinstance(command, dict):
        raise bad_request("can't parse BotCommand JSON object")
    name = str(command.get("command") or "").strip()
    name = name.removeprefix("/")
    if not name:
        raise bad_request("command must be non-empty")
    if len(name) > 32:
        raise bad_request("command length must not exceed 32")
    description = str(command.get("description") or "").strip()
    if not description:
        raise bad_request("command description must be non-empty")
    if len(description) > 256:
        raise bad_request("command description length must not exceed 256")
    return {"command": name, "description": description}
