"""The fake Bot API's state and methods, without HTTP: chats, messages, updates, flood control.

`BotApiState.call(method, params)` answers one Bot API call as the real server would
(status and JSON body); the scripting methods let a test register chats, inject updates,
script failures and read back what the bot did. Everything is guarded by one condition
variable, so HTTP threads, long polls and the test thread can share it.

Only sendMessage counts against the flood windows (see rate_windows.py); edits do not.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.bot_api_admin import AdminMixin, ScopeKey
from tests.fakes.bot_api_files import Download, FilesMixin
from tests.fakes.bot_api_members import make_member
from tests.fakes.bot_api_methods import MethodsMixin
from tests.fakes.bot_api_objects import (
    BOT_STATUSES,
    CHAT_TYPES,
    ApiError,
    CallbackAnswer,
    ChatRecord,
    DeliveredMessage,
    FileRecord,
    LoggedRequest,
    MessageRecord,
    Params,
    RateLimitHit,
    bad_request,
)
from tests.fakes.bot_api_updates import CallbackState, UpdatesMixin
from tests.fakes.bot_api_webhook import WebhookMixin, WebhookMixinState
from tests.fakes.rate_windows import SendRateLimits

DEFAULT_TOKEN = "123456789:TEST-token_for-the-fake-api"
_NUMERIC = re.compile(r"^-?[0-9]+$")
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class BotApiState(MethodsMixin, AdminMixin, FilesMixin, UpdatesMixin, WebhookMixin):
    """Everything the fake server knows, and the test-facing API to script and inspect it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = "releasebot_test_bot",
        time_scale: float = 1.0,
        clock: Callable[[], float] | None = None,
        local: bool = False,
    ) -> None:
        self.token = token
        self.local = local  # a self-hosted Bot API server's --local mode: http webhooks too
        self._hook = WebhookMixinState()
        self.username = username
        self.time_scale = time_scale
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456789
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Release Bot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._cond = threading.Condition(threading.RLock())
        self._clock = clock or time.monotonic
        self._limits = SendRateLimits(time_scale)
        self._chats: dict[int, ChatRecord] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._messages: dict[int, dict[int, MessageRecord]] = {}
        self._sent: list[tuple[int, int]] = []
        self._last_message_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._allowed_given: list[str] | None = None  # as last given, [] kept
        self._dropped_updates: list[dict[str, Any]] = []
        self._poll_generation = 0
        self._polls_waiting = 0
        self._callbacks: dict[str, CallbackState] = {}
        self._next_callback = 1
        self._failures: dict[str, list[tuple[str | None, ApiError]]] = {}  # (only chat, error)
        self._drops: dict[str, int] = {}
        self._raw_answers: dict[str, list[tuple[int, bytes]]] = {}
        self._delays: dict[str, float] = {}
        self._requests: list[LoggedRequest] = []
        self._rate_hits: list[RateLimitHit] = []
        self._callback_answers: list[CallbackAnswer] = []
        self._commands: dict[tuple[ScopeKey, str], list[dict[str, str]]] = {}
        self._member_lookups: dict[tuple[int, int], int] = {}
        self._files: dict[str, FileRecord] = {}
        self._file_paths: dict[str, str] = {}
        self._next_file = 0
        self._downloads: list[Download] = []
        self._stopping = False

    # --- answering calls ---------------------------------------------------------------

    def call(self, method: str, raw_params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: (HTTP status, JSON body). Logged once answered."""
        params, key = Params(raw_params), method.lower()
        with self._cond:
            delay = self._delays.get(key, 0.0)
        if delay > 0:
            time.sleep(delay)
        try:
            failure = self._take_failure(key, params)
            if failure is not None:
                self._record_scripted_429(method, params, failure)
                raise failure
            handler = self.all_handlers().get(key)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            status, body = 200, {"ok": True, "result": handler(params)}
        except ApiError as exc:
            status, body = exc.status, exc.to_json()
        self.log_request(LoggedRequest(method, params.decoded(), status, body.get("description")))
        return status, body

    def all_handlers(self) -> dict[str, Callable[[Params], Any]]:
        """Every method the fake answers (lower case, as Telegram matches them)."""
        return {
            **self.handlers(),
            **self.admin_handlers(),
            **self.file_handlers(),
            **self.webhook_handlers(),
        }

    def log_request(self, entry: LoggedRequest) -> None:
        """Add one answered request to the log."""
        with self._cond:
            self._requests.append(entry)

    def release_waiters(self) -> None:
        """End every long poll now (with no updates); used when the server stops."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """Let long polls wait again after release_waiters (the server restarts)."""
        with self._cond:
            self._stopping = False
            if self._hook.webhook is not None:
                self._start_deliverer()

    def _record_scripted_429(self, method: str, params: Params, failure: ApiError) -> None:
        """A scripted 429 is counted like a real one: every 429 answered is recorded."""
        if failure.status != 429:
            return
        chat = params.text("chat_id") or ""
        retry_after = int((failure.parameters or {}).get("retry_after", 0))
        hit = RateLimitHit(
            method, int(chat) if _NUMERIC.match(chat) else 0, retry_after, self._clock()
        )
        with self._cond:
            self._rate_hits.append(hit)

    def _take_failure(self, key: str, params: Params) -> ApiError | None:
        chat = params.text("chat_id")
        with self._cond:
            queue = self._failures.get(key, [])
            for i, (only, failure) in enumerate(queue):
                if only is None or only == chat:
                    del queue[i]
                    return failure
            return None

    # --- scripting ---------------------------------------------------------------------

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
    ) -> None:
        """Register a chat. `started` (private chats) says the user pressed Start;
        `is_forum` (supergroups) that it has topics (see create_topic)."""
        if type not in CHAT_TYPES or bot_status not in BOT_STATUSES:
            raise ValueError(f"bad chat type {type!r} or bot_status {bot_status!r}")
        if bot_status == "restricted" and type != "supergroup":
            raise ValueError("only a supergroup can restrict the bot")
        if is_forum and type != "supergroup":
            raise ValueError("only a supergroup can be a forum")
        with self._cond:
            self._chats[chat_id] = ChatRecord(
                chat_id,
                type,
                title,
                username.lstrip("@") if username else None,
                bot_status,
                started,
                is_forum=is_forum,
            )
            self._messages.setdefault(chat_id, {})
            if type == "private":
                self._user(chat_id, first_name=title, username=username)

    def set_members_may_write(self, chat: int | str, allowed: bool) -> None:
        """A group's default permission to send messages; a bot that is a plain member is
        refused with 400 "not enough rights…" while getChatMember still says "member"."""
        with self._cond:
            self._chat(chat).members_may_write = allowed

    def set_bot_status(self, chat: int | str, status: str, **rights: Any) -> None:
        """Change the bot's membership in a chat (administrator, member, restricted, kicked,
        left), silently (push_my_chat_member also tells the bot). A channel demoted to member
        answers sendMessage 400 "need administrator rights in the channel chat"; a bot
        restricted in a supergroup, "not enough rights to send text messages to the chat".
        `rights` override the defaults (the bot has every admin right but
        can_promote_members and can_manage_topics)."""
        if status not in BOT_STATUSES:
            raise ValueError(f"bad bot_status {status!r}")
        with self._cond:
            record = self._chat(chat)
            if status == "restricted" and record.type != "supergroup":
                raise ValueError("only a supergroup can restrict the bot")
            make_member(status, record.type, rights, is_bot=True)  # checks the rights
            record.bot_status, record.bot_rights = status, dict(rights)

    def rename_chat(self, chat: int | str, username: str | None) -> None:
        """The chat takes a new @username (None: none): the old one answers "chat not found"."""
        with self._cond:
            self._chat(chat).username = username.lstrip("@") if username else None

    def delete_chat(self, chat: int | str) -> None:
        """The chat is deleted: every call about it answers 400 "chat not found".

        Its messages stay readable through `messages()` for the test.
        """
        with self._cond:
            record = self._chat(chat)
            record.deleted, record.username = True, None

    def kick(self, chat: int | str) -> None:
        """The bot is removed and banned from the chat."""
        self.set_bot_status(chat, "kicked")

    def block(self, chat: int | str, blocked: bool = True) -> None:
        """The user of a private chat blocks (or unblocks) the bot."""
        with self._cond:
            self._chat(chat).blocked = blocked

    def migrate(self, chat_id: int, new_id: int) -> None:
        """Upgrade a group to a supergroup with id `new_id`, as Telegram does."""
        with self._cond:
            old = self._chat(chat_id)
            self._chats[new_id] = ChatRecord(
                new_id, "supergroup", old.title, old.username, old.bot_status, members=old.members
            )
            self._messages.setdefault(new_id, {})
            old.migrated_to, old.username = new_id, None
            now = int(time.time())
            for chat, key, value in (
                (old, "migrate_to_chat_id", new_id),
                (self._chats[new_id], "migrate_from_chat_id", chat_id),
            ):
                message: dict[str, Any] = {
                    "message_id": self._new_message_id(chat.id),
                    "date": now,
                    "chat": chat.to_json(),
                    "from": self._user(1, first_name="Group owner"),
                    key: value,
                }
                self._queue_update("message", message)

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        count: int = 1,
        parameters: dict[str, Any] | None = None,
        chat: int | str | None = None,
    ) -> None:
        """Answer the next `count` calls of `method` with this error, before any other check;
        with `chat`, only calls whose chat_id is that id or @username, as sent."""
        only = None if chat is None else str(chat)
        with self._cond:
            queue = self._failures.setdefault(method.lower(), [])
            queue.extend((only, ApiError(status, description, parameters)) for _ in range(count))

    def drop_next(self, method: str, count: int = 1) -> None:
        """Close the connection of the next `count` calls of `method` without answering or
        doing anything (a connection reset as the request arrives); logged with status 0."""
        with self._cond:
            self._drops[method.lower()] = self._drops.get(method.lower(), 0) + count

    def take_drop(self, method: str) -> bool:
        """Whether this call of `method` is to be dropped (and log it if so)."""
        with self._cond:
            left = self._drops.get(method.lower(), 0)
            if not left:
                return False
            self._drops[method.lower()] = left - 1
            self._requests.append(LoggedRequest(method, {}, 0, "connection dropped"))
            return True

    def answer_next_raw(self, method: str, body: bytes, status: int = 200, count: int = 1) -> None:
        """Answer the next `count` calls of `method` with these bytes as the HTTP body, as
        a broken proxy or a Telegram bug might: not JSON, or JSON a client cannot read."""
        with self._cond:
            self._raw_answers.setdefault(method.lower(), []).extend([(status, body)] * count)

    def take_raw_answer(self, method: str) -> tuple[int, bytes] | None:
        """The scripted raw answer for this call of `method`, if any (used by the server)."""
        with self._cond:
            queue = self._raw_answers.get(method.lower())
            return queue.pop(0) if queue else None

    def set_delay(self, method: str, seconds: float) -> None:
        """Wait `seconds` (real time) before answering each call of `method`; 0 to stop."""
        with self._cond:
            self._delays[method.lower()] = seconds

    # --- reading back ------------------------------------------------------------------

    def messages(self, chat: int | str) -> list[DeliveredMessage]:
        """The messages the bot sent to a chat, oldest first, as they stand now."""
        with self._cond:
            chat_id = self._chat(chat).id
            return [m.snapshot() for m in self._messages.get(chat_id, {}).values() if m.sent_by_bot]

    def message(self, chat: int | str, message_id: int) -> DeliveredMessage:
        """One message the bot sent, as it stands now."""
        with self._cond:
            return self._messages[self._chat(chat).id][message_id].snapshot()

    def all_messages(self) -> list[DeliveredMessage]:
        """Every message the bot sent, in the order it sent them."""
        with self._cond:
            return [self._messages[c][m].snapshot() for c, m in self._sent]

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every answered request, in the order they were answered."""
        with self._cond:
            return list(self._requests)

    def requests_for(self, method: str) -> list[LoggedRequest]:
        """The answered requests of one method (case-insensitive)."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    @property
    def rate_limit_hits(self) -> list[RateLimitHit]:
        """Every 429 answered."""
        with self._cond:
            return list(self._rate_hits)

    @property
    def rate_limited_count(self) -> int:
        """How many 429s were answered."""
        with self._cond:
            return len(self._rate_hits)

    @property
    def allowed_updates(self) -> list[str] | None:
        """The allowed_updates the bot last gave getUpdates, as given (None: never given;
        [] means Telegram's default: every type but chat_member and the reactions)."""
        with self._cond:
            return None if self._allowed_given is None else list(self._allowed_given)

    @property
    def dropped_updates(self) -> list[dict[str, Any]]:
        """Updates pushed while their type was not in allowed_updates: never delivered."""
        with self._cond:
            return list(self._dropped_updates)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Every answerCallbackQuery accepted."""
        with self._cond:
            return list(self._callback_answers)

    @property
    def polls_waiting(self) -> int:
        """How many getUpdates long polls are being held right now."""
        with self._cond:
            return self._polls_waiting

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return list(self._updates)

    # --- internals shared with the methods ---------------------------------------------

    def _chat(self, ref: int | str) -> ChatRecord:
        """A registered chat by id or @username, for the scripting API (KeyError if none)."""
        if isinstance(ref, str) and ref.startswith("@"):
            name = ref[1:].lower()
            for chat in self._chats.values():
                if chat.username and chat.username.lower() == name:
                    return chat
            raise KeyError(ref)
        return self._chats[int(ref)]

    def _resolve(self, ref: str) -> ChatRecord:
        """A chat as the Bot API finds it from a chat_id parameter."""
        chat: ChatRecord | None = None
        if _NUMERIC.match(ref):
            chat = self._chats.get(int(ref))
        elif ref.startswith("@"):
            name = ref[1:].lower()
            chat = next(
                (
                    c
                    for c in self._chats.values()
                    if c.username
                    and c.username.lower() == name
                    and c.type in ("channel", "supergroup")
                ),
                None,
            )
        if chat is None or chat.deleted:
            raise bad_request("chat not found")
        return chat

    def _user(
        self, user_id: int, *, first_name: str | None = None, username: str | None = None
    ) -> dict[str, Any]:
        user = self._users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": first_name or f"User {user_id}"}
        )
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username.lstrip("@")
        return user

    def _new_message_id(self, chat_id: int) -> int:
        self._messages.setdefault(chat_id, {})
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _queue_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an update, or drop it when its type is not allowed now: Telegram does not
        keep those. (It may still deliver ones kept before allowed_updates changed; the fake
        filters again at delivery, so a type not allowed is never delivered.)"""
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        if self._is_allowed(update):
            self._updates.append(update)
            self._cond.notify_all()
        else:
            self._dropped_updates.append(update)
        return update_id

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _NOT_DEFAULT_UPDATES
