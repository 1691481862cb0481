"""Updates a test injects into the fake Bot API, shaped as Telegram delivers them.

Each `push_*` queues one update (update ids increase by one) that the next getUpdates
returns, if its type is in the `allowed_updates` the bot last gave (Telegram's default
when none: every type but chat_member and the reactions). What each looks like:

- a user's text: `message` with `from`; in a forum topic `message_thread_id`,
  `is_topic_message` and, unless it replies to something else, `reply_to_message` = the
  topic's forum_topic_created message (as Telegram sends it);
- an anonymous group admin's text: `from` = GroupAnonymousBot (1087968824), `sender_chat`
  = the group;
- a channel post: `channel_post`, `sender_chat` = the channel, no `from`;
- a document: `document` {file_id, file_unique_id, file_name, mime_type, file_size}, the
  caption with a bot_command caption entity when it starts with a command;
- a button press: `callback_query` {id, from, message, chat_instance, data}; it must be
  answered within 15 s of the fake's clock, once;
- the bot's own membership changing: `my_chat_member` {chat, from, date,
  old_chat_member, new_chat_member}.

A mixin of `BotApiState`, whose attributes it uses.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakes.bot_api_members import member_json
from tests.fakes.bot_api_objects import (
    GROUP_ANONYMOUS_BOT,
    ChatRecord,
    FileRecord,
    MessageRecord,
)
from tests.fakes.telegram_html import Entity

CALLBACK_TIMEOUT = 15.0  # seconds of the fake's clock a callback query stays answerable
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_])")


@dataclass
class CallbackState:
    """A pushed callback query: when (fake's clock) and whether it was answered."""

    query_id: str
    pushed_at: float
    answered: bool = False


class UpdatesMixin:
    """push_message, push_document, push_callback, push_my_chat_member and friends."""

    bot_user: dict[str, Any]
    _cond: threading.Condition
    _clock: Callable[[], float]
    _chats: dict[int, ChatRecord]
    _messages: dict[int, dict[int, MessageRecord]]
    _callbacks: dict[str, CallbackState]
    _next_callback: int

    if TYPE_CHECKING:  # provided by BotApiState and the other mixins

        def _chat(self, ref: int | str) -> ChatRecord: ...
        def _user(
            self, user_id: int, *, first_name: str | None = None, username: str | None = None
        ) -> dict[str, Any]: ...
        def _new_message_id(self, chat_id: int) -> int: ...
        def _queue_update(self, kind: str, payload: dict[str, Any]) -> int: ...
        def add_chat(
            self,
            chat_id: int,
            type: str,
            *,
            username: str | None = None,
            title: str | None = None,
            bot_status: str = "administrator",
            started: bool = True,
            is_forum: bool = False,
        ) -> None: ...
        def set_bot_status(self, chat: int | str, status: str, **rights: Any) -> None: ...
        def add_file(
            self, data: bytes, file_name: str | None = None, mime_type: str | None = None
        ) -> FileRecord: ...

    # --- messages --------------------------------------------------------------------------

    def push_message(
        self,
        chat_id: int,
        text: str,
        from_user_id: int,
        *,
        username: str | None = None,
        first_name: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:
        """A user writes `text` in a chat (in forum topic `thread_id`, replying to message
        `reply_to`); returns its message_id. Commands get their bot_command entity.

        Writing in a private chat that is not registered registers it (the user started it).
        """
        with self._cond:
            user = self._user(from_user_id, first_name=first_name, username=username)
            if chat_id not in self._chats and chat_id == from_user_id:
                self.add_chat(chat_id, "private", username=username, title=first_name)
            chat = self._chat(chat_id)
            if chat.type == "channel":
                raise ValueError("a channel has posts, not messages: use push_channel_post")
            if chat.type == "private":
                chat.started = True
            record = self._new_record(chat, text, thread_id, reply_to)
            record.from_user = user
            return self._push(chat, record, "message")

    def push_anonymous_admin_message(
        self,
        chat: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:
        """An anonymous admin writes in a group: `sender_chat` = the group, `from` =
        GroupAnonymousBot; returns its message_id."""
        with self._cond:
            record_chat = self._chat(chat)
            if record_chat.type not in ("group", "supergroup"):
                raise ValueError("only groups have anonymous admins")
            record = self._new_record(record_chat, text, thread_id, reply_to)
            record.from_user = dict(GROUP_ANONYMOUS_BOT)
            record.sender_chat = record_chat.to_json()
            return self._push(record_chat, record, "message")

    def push_channel_post(self, chat_id: int | str, text: str) -> int:
        """An admin posts `text` in a channel; returns its message_id."""
        with self._cond:
            chat = self._chat(chat_id)
            if chat.type != "channel":
                raise ValueError(f"chat {chat_id} is not a channel")
            return self._push(chat, self._new_record(chat, text, None, None), "channel_post")

    def push_document(
        self,
        chat: int | str,
        data: bytes,
        file_name: str,
        *,
        from_user_id: int | None = None,
        mime_type: str | None = None,
        caption: str = "",
        thread_id: int | None = None,
        reply_to: int | None = None,
        anonymous_admin: bool = False,
    ) -> tuple[int, FileRecord]:
        """A user (or, with from_user_id None, the channel; with anonymous_admin, an
        anonymous admin) sends a document with a caption; returns (message_id, the file)."""
        with self._cond:
            record_chat = self._chat(chat)
            channel = record_chat.type == "channel"
            if not channel and from_user_id is None and not anonymous_admin:
                raise ValueError("a document in a group or private chat needs from_user_id")
            document = self.add_file(data, file_name, mime_type)
            record = self._new_record(record_chat, caption, thread_id, reply_to)
            record.document = document
            if anonymous_admin:
                record.from_user = dict(GROUP_ANONYMOUS_BOT)
                record.sender_chat = record_chat.to_json()
            elif from_user_id is not None and not channel:
                record.from_user = self._user(from_user_id)
            kind = "channel_post" if channel else "message"
            return self._push(record_chat, record, kind), document

    def _new_record(
        self, chat: ChatRecord, text: str, thread_id: int | None, reply_to: int | None
    ) -> MessageRecord:
        record = MessageRecord(chat.id, self._new_message_id(chat.id), int(time.time()), text)
        command = _COMMAND.match(text)
        if command:
            record.entities = (Entity("bot_command", 0, command.end()),)
        if thread_id is not None:
            topic = chat.topics.get(thread_id)
            if topic is None or topic.deleted:
                raise ValueError(f"no topic {thread_id} in chat {chat.id}")
            record.thread_id = thread_id
            record.reply_to = self._messages[chat.id][thread_id]
        if reply_to is not None:
            record.reply_to = self._messages[chat.id][reply_to]
        return record

    def _push(self, chat: ChatRecord, record: MessageRecord, kind: str) -> int:
        self._messages[chat.id][record.message_id] = record
        self._queue_update(kind, record.to_json(chat, self.bot_user))
        return record.message_id

    # --- callbacks -------------------------------------------------------------------------

    def push_callback(
        self, chat_id: int | str, message_id: int, data: str, from_user_id: int
    ) -> str:
        """A user presses a button with `data` under a message (any data: a client can forge
        it); returns the callback query id."""
        with self._cond:
            chat = self._chat(chat_id)
            record = self._messages[chat.id][message_id]
            query_id = f"cb{self._next_callback}"
            self._next_callback += 1
            self._callbacks[query_id] = CallbackState(query_id, self._clock())
            self._queue_update(
                "callback_query",
                {
                    "id": query_id,
                    "from": self._user(from_user_id),
                    "chat_instance": str(chat.id),
                    "message": record.to_json(chat, self.bot_user),
                    "data": data,
                },
            )
            return query_id

    def press(self, chat: int | str, message_id: int, button_text: str, from_user_id: int) -> str:
        """A user presses the callback button labelled `button_text` under a message the bot
        sent; returns the callback query id (ValueError if there is no such button)."""
        with self._cond:
            record = self._messages[self._chat(chat).id][message_id]
            rows = (record.reply_markup or {}).get("inline_keyboard", [])
            for button in (b for row in rows for b in row):
                if button.get("text") == button_text and "callback_data" in button:
                    return self.push_callback(
                        chat, message_id, button["callback_data"], from_user_id
                    )
            raise ValueError(f"no callback button {button_text!r} under message {message_id}")

    @property
    def unanswered_callbacks(self) -> list[str]:
        """Callback query ids pushed and never answered (expired ones included)."""
        with self._cond:
            return [q.query_id for q in self._callbacks.values() if not q.answered]

    # --- the bot's membership --------------------------------------------------------------

    def push_my_chat_member(
        self, chat: int | str, status: str, by_user_id: int, **rights: Any
    ) -> int:
        """The bot's status in a chat changes (added: left -> administrator/member; promoted;
        demoted; removed: -> left/kicked; in a private chat the user blocks: kicked, or
        restarts: member), done by user `by_user_id`; returns the update_id."""
        with self._cond:
            record = self._chat(chat)
            old = record.bot_member()
            if record.type == "private":
                if status not in ("member", "kicked") or rights:
                    raise ValueError("a private chat's bot is a member or kicked (blocked)")
                record.blocked = status == "kicked"
                record.started = record.started or status == "member"
            else:
                self.set_bot_status(chat, status, **rights)
            payload = {
                "chat": record.to_json(),
                "from": self._user(by_user_id),
                "date": int(time.time()),
                "old_chat_member": member_json(self.bot_user, old),
                "new_chat_member": member_json(self.bot_user, record.bot_member()),
            }
            return self._queue_update("my_chat_member", payload)

    def push_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue any other update as given; returns its update_id."""
        with self._cond:
            return self._queue_update(kind, payload)
