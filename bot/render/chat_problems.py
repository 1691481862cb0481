"""Why the bot cannot post in a chat, and what a person does about it, in plain words (pure).

Telegram says it in its own terms: "Forbidden: bot was kicked from the channel chat", a
getChatMember status of 'left', "Bad Request: need administrator rights in the channel
chat". Each is sorted into one `ProblemKind` here, so the admin notice, `releasebot check
--network` and the log all say the same thing, with the same fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProblemKind = Literal[
    "kicked", "removed", "no_rights", "muted", "not_found", "blocked", "not_started", "other"
]

# Telegram's descriptions (lower-cased fragments), most specific first.
_ANSWERS: tuple[tuple[str, ProblemKind], ...] = (
    ("bot was kicked", "kicked"),
    ("bot is not a member", "removed"),
    ("channel_private", "removed"),
    ("need administrator rights", "no_rights"),
    ("chat_admin_required", "no_rights"),
    ("not enough rights to send", "muted"),
    ("have no rights to send", "muted"),
    ("chat_write_forbidden", "muted"),
    ("chat_restricted", "muted"),
    ("chat not found", "not_found"),
    ("peer_id_invalid", "not_found"),
    ("group chat was deactivated", "not_found"),
    ("bot was blocked by the user", "blocked"),
    ("can't initiate conversation", "not_started"),
)
# getChatMember statuses of a bot that cannot post.
_STATUSES: dict[str, ProblemKind] = {
    "kicked": "kicked",
    "left": "removed",
    "member": "no_rights",  # in a channel only admins post
    "administrator": "no_rights",  # a channel admin without 'Post messages'
    "restricted": "muted",
}
MAX_DETAIL = 200  # characters of an unrecognised answer quoted


@dataclass(frozen=True, slots=True)
class ChatProblem:
    """Why the bot cannot post in `chat` (as configured: '@news' or '-1001234')."""

    kind: ProblemKind
    chat: str
    place: str = "chat"  # channel, group or chat (not known)
    detail: str = ""  # Telegram's own words, quoted only for a kind not recognised


def _place(text: str) -> str:
    lowered = text.lower()
    if "channel" in lowered:
        return "channel"
    return "group" if "group" in lowered else "chat"


def problem_from_answer(description: str, chat: str | int) -> ChatProblem:
    """The problem behind Telegram's description of a refused call about the chat."""
    lowered = description.lower()
    kind: ProblemKind = next((k for phrase, k in _ANSWERS if phrase in lowered), "other")
    place = _place(description)
    if kind == "muted" and place == "channel":
        kind = "no_rights"  # nobody is muted in a channel: only admins post there
    detail = description if kind == "other" else ""
    return ChatProblem(kind, str(chat), place, detail[:MAX_DETAIL])


def problem_from_status(status: str, chat_type: str, chat: str | int) -> ChatProblem:
    """The problem behind the bot's getChatMember status in a chat where it cannot post."""
    place = "channel" if chat_type == "channel" else "group" if "group" in chat_type else "chat"
    kind = _STATUSES.get(status, "other")
    detail = f"the bot's status there is {status!r}" if kind == "other" else ""
    return ChatProblem(kind, str(chat), place, detail)


def _bot(username: str) -> str:
    return f"@{username.removeprefix('@')}" if username else "the bot"


def what_happened(problem: ChatProblem) -> str:
    """One sentence (no final stop) saying why the bot cannot post there."""
    where = f"the {problem.place} {problem.chat}"
    match problem.kind:
        case "kicked":
            return f"the bot was kicked out of {where}"
        case "removed":
            return f"the bot is no longer a member of {where}"
        case "no_rights":
            return f"the bot is not an administrator of {where} with the right to post"
        case "muted":
            return f"the bot is not allowed to send messages in {where}"
        case "not_found":
            return f"Telegram finds no chat {problem.chat} (deleted, or its @username changed)"
        case "blocked":
            return f"the user {problem.chat} has blocked the bot"
        case "not_started":
            return f"the user {problem.chat} has never started a chat with the bot"
        case _:
            return f"Telegram refuses to let the bot post in {where}: {problem.detail}"


def how_to_fix(problem: ChatProblem, bot_username: str) -> str:
    """What an admin does so that the bot can post there again (no final stop)."""
    bot, chat = _bot(bot_username), problem.chat
    rights = "" if problem.place == "group" else " with 'Post messages'"  # a channel's right
    match problem.kind:
        case "kicked" | "removed":
            return f"add {bot} back as an administrator of {chat}{rights}"
        case "no_rights":
            return f"make {bot} an administrator of {chat} and give it 'Post messages'"
        case "muted":
            return f"allow {bot} to send messages in {chat}, or make it an administrator there"
        case "not_found" if chat.startswith("@"):
            return (
                f"check the @username {chat} in the config (channels[].chat), "
                "or use the chat's numeric chat id, which never changes"
            )
        case "not_found":
            return f"check the numeric chat id {chat} in the config (channels[].chat)"
        case "blocked":
            return f"ask them to unblock {bot}"
        case "not_started":
            return f"ask them to open {bot} in Telegram and press Start"
        case _:
            return f"make sure {bot} is an administrator of {chat}{rights}"
