"""Chat members of the fake Bot API: statuses, rights and the ChatMember JSON shapes.

Telegram's ChatMember is one of ChatMemberOwner (`creator`), ChatMemberAdministrator,
ChatMemberMember, ChatMemberRestricted, ChatMemberLeft and ChatMemberBanned (`kicked`).
Rights exist only where Telegram has them: `can_post_messages` and `can_edit_messages`
only on channel administrators, `can_pin_messages` only in groups, `can_manage_topics`
only in supergroups; a right given where it cannot exist is a test bug (ValueError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})

_ADMIN_COMMON = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_ADMIN_CHANNEL_ONLY = ("can_post_messages", "can_edit_messages", "can_manage_direct_messages")
_ADMIN_GROUP_ONLY = ("can_pin_messages",)
_ADMIN_SUPERGROUP_ONLY = ("can_manage_topics",)
_ADMIN_NOT_BY_DEFAULT = frozenset({"can_promote_members"})
_RESTRICTED_PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)


@dataclass
class MemberRecord:
    """One user's membership: status plus the status's own fields (rights, until_date...)."""

    status: str
    fields: dict[str, Any] = field(default_factory=dict)


def admin_right_names(chat_type: str) -> tuple[str, ...]:
    """The boolean rights a ChatMemberAdministrator carries in this kind of chat."""
    names = _ADMIN_COMMON
    if chat_type == "channel":
        names += _ADMIN_CHANNEL_ONLY
    else:
        names += _ADMIN_GROUP_ONLY
    if chat_type == "supergroup":
        names += _ADMIN_SUPERGROUP_ONLY
    return names


def make_member(
    status: str, chat_type: str, overrides: dict[str, Any], *, is_bot: bool = False
) -> MemberRecord:
    """A member with Telegram's defaults for `status` in this chat type, then `overrides`.

    Administrators get what a client's "promote" screen ticks by default: every right
    except can_promote_members (and, for a bot, except can_manage_topics, so a closed
    forum topic refuses it). Restricted members start with every permission off.
    """
    if status not in MEMBER_STATUSES:
        raise ValueError(f"bad member status {status!r}")
    if status == "restricted" and chat_type != "supergroup":
        raise ValueError("only a supergroup can restrict a member")
    if chat_type == "private" and status not in ("member", "left", "kicked"):
        raise ValueError(f"a private chat has no {status!r} member")
    allowed, fields = _defaults(status, chat_type, is_bot=is_bot)
    for name, value in overrides.items():
        if name not in allowed:
            raise ValueError(f"{name!r} does not exist on a {status!r} member of a {chat_type}")
        fields[name] = value
    return MemberRecord(status, fields)


def _defaults(status: str, chat_type: str, *, is_bot: bool) -> tuple[set[str], dict[str, Any]]:
    """(field names a test may set, default field values) for one status."""
    if status == "administrator":
        rights = admin_right_names(chat_type)
        fields: dict[str, Any] = {
            name: name not in _ADMIN_NOT_BY_DEFAULT and not (is_bot and name == "can_manage_topics")
            for name in rights
        }
        fields.update(can_be_edited=False, is_anonymous=False)
        return {*rights, "can_be_edited", "is_anonymous", "custom_title"}, fields
    if status == "creator":
        return {"is_anonymous", "custom_title"}, {"is_anonymous": False}
    if status == "restricted":
        fields = dict.fromkeys(_RESTRICTED_PERMISSIONS, False)
        fields.update(is_member=True, until_date=0)
        return {*_RESTRICTED_PERMISSIONS, "is_member", "until_date", "tag"}, fields
    if status == "kicked":
        return {"until_date"}, {"until_date": 0}
    if status == "member":
        return {"until_date", "tag"}, {}
    return set(), {}


def member_json(user: dict[str, Any], member: MemberRecord) -> dict[str, Any]:
    """The ChatMember object getChatMember answers (and my_chat_member carries)."""
    return {"status": member.status, "user": user, **member.fields}


def is_chat_admin(member: MemberRecord) -> bool:
    """Whether Telegram counts this member among the chat's administrators (command scopes)."""
    return member.status in ("creator", "administrator")
