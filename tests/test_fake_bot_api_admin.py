"""The fake Bot API's admin side, driven by the real python-telegram-bot client: chat
members and rights, injected updates as Telegram shapes them, forum topics, command scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeChatAdministrators,
    BotCommandScopeChatMember,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    Message,
    Update,
)
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.fakes.bot_api import FakeBotAPI
from tests.test_fake_bot_api import ManualClock, until

CHANNEL = -1001234567890
GROUP = -4001
SUPER = -1002000
FORUM = -1003000
USER = 777
OWNER = 42
ANONYMOUS_BOT = 1087968824


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> Iterator[FakeBotAPI]:
    with FakeBotAPI(clock=clock) as server:
        server.add_chat(CHANNEL, "channel", username="press_news", title="Press news")
        server.add_chat(GROUP, "group", title="Editors")
        server.add_chat(SUPER, "supergroup", username="editors", title="Editors room")
        server.add_chat(FORUM, "supergroup", username="newsroom", title="Newsroom", is_forum=True)
        server.add_chat(USER, "private", title="Ada", username="ada")
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


async def one_update(bot: Bot, allowed: list[str] | None = None) -> Update:
    """The single pending update (confirmed, so the next call sees only newer ones)."""
    updates = await bot.get_updates(timeout=0, allowed_updates=allowed)
    assert len(updates) == 1, updates
    await bot.get_updates(offset=updates[0].update_id + 1, timeout=0)
    return updates[0]


# --- getChatMember ---------------------------------------------------------------------


async def test_each_status_is_the_chat_member_class_ptb_expects(api: FakeBotAPI, bot: Bot) -> None:
    """creator, administrator, member, restricted, left, kicked parse as PTB's six classes."""
    expected = {
        1: ("creator", ChatMemberOwner),
        2: ("administrator", ChatMemberAdministrator),
        3: ("member", ChatMemberMember),
        4: ("restricted", ChatMemberRestricted),
        5: ("left", ChatMemberLeft),
        6: ("kicked", ChatMemberBanned),
    }
    for user_id, (status, _) in expected.items():
        api.set_member(SUPER, user_id, status)
    for user_id, (status, kind) in expected.items():
        member = await bot.get_chat_member(SUPER, user_id)
        assert (member.status, type(member)) == (status, kind)
        assert member.user.id == user_id
    restricted = await bot.get_chat_member(SUPER, 4)
    assert isinstance(restricted, ChatMemberRestricted)
    assert restricted.can_send_messages is False


async def test_a_user_who_never_joined_is_left(bot: Bot) -> None:
    """getChatMember on a stranger answers status "left", as Telegram does."""
    member = await bot.get_chat_member(CHANNEL, 99999)
    assert isinstance(member, ChatMemberLeft)


async def test_post_messages_exists_only_on_channel_admins(api: FakeBotAPI, bot: Bot) -> None:
    """A channel admin has can_post_messages; a group admin has can_change_info and not it."""
    api.set_member(CHANNEL, USER, "administrator")
    api.set_member(SUPER, USER, "administrator", can_change_info=False)
    channel_admin = await bot.get_chat_member("@press_news", USER)
    group_admin = await bot.get_chat_member(SUPER, USER)
    assert isinstance(channel_admin, ChatMemberAdministrator)
    assert isinstance(group_admin, ChatMemberAdministrator)
    assert (channel_admin.can_post_messages, channel_admin.can_change_info) == (True, True)
    assert (group_admin.can_post_messages, group_admin.can_change_info) == (None, False)
    assert group_admin.can_manage_chat
    assert not group_admin.can_promote_members
    assert group_admin.can_manage_topics is True  # supergroups only
    with pytest.raises(ValueError, match="can_post_messages"):
        api.set_member(SUPER, USER, "administrator", can_post_messages=True)
    with pytest.raises(ValueError, match="supergroup"):
        api.set_member(CHANNEL, USER, "restricted")


async def test_a_demoted_admin_reads_member_at_once(api: FakeBotAPI, bot: Bot) -> None:
    """set_member at any time changes what the next getChatMember answers."""
    api.set_member(CHANNEL, USER, "administrator", can_post_messages=False)
    first = await bot.get_chat_member(CHANNEL, USER)
    assert isinstance(first, ChatMemberAdministrator)
    assert first.can_post_messages is False
    api.set_member(CHANNEL, USER, "member")
    assert isinstance(await bot.get_chat_member(CHANNEL, USER), ChatMemberMember)


async def test_get_chat_member_calls_are_counted_per_chat_and_user(
    api: FakeBotAPI, bot: Bot
) -> None:
    """member_lookups counts each call by (chat, user), whether asked by id or @name."""
    await bot.get_chat_member(CHANNEL, USER)
    await bot.get_chat_member("@press_news", USER)
    await bot.get_chat_member(CHANNEL, OWNER)
    assert api.member_lookups(CHANNEL, USER) == 2
    assert api.member_lookups("@press_news", OWNER) == 1
    assert api.member_lookups(GROUP, USER) == 0


async def test_the_bots_own_membership(api: FakeBotAPI, bot: Bot) -> None:
    """The bot reads itself as a channel administrator; kicked, it is Forbidden."""
    me = await bot.get_chat_member(CHANNEL, bot.id)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_post_messages is True
    api.kick(CHANNEL)
    with pytest.raises(Forbidden, match="bot was kicked from the channel chat"):
        await bot.get_chat_member(CHANNEL, USER)


# --- updates as Telegram delivers them -------------------------------------------------


async def test_user_messages_in_private_group_and_supergroup(api: FakeBotAPI, bot: Bot) -> None:
    """A user's text arrives as `message` with `from` and the chat's type, ids increasing."""
    ids = []
    for chat, kind in ((USER, "private"), (GROUP, "group"), (SUPER, "supergroup")):
        api.push_message(chat, "/subs", USER)
        update = await one_update(bot)
        assert update.message is not None
        assert update.message.chat.type == kind
        assert update.message.from_user is not None
        assert update.message.from_user.id == USER
        assert update.message.sender_chat is None
        ids.append(update.update_id)
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_a_message_in_a_forum_topic(api: FakeBotAPI, bot: Bot) -> None:
    """In a forum topic: message_thread_id, is_topic_message, the forum chat, and the topic's
    creation message as reply_to_message."""
    topic = api.create_topic(FORUM, "Releases")
    api.push_message(FORUM, "/add https://example.org/feed", USER, thread_id=topic)
    message = (await one_update(bot)).message
    assert message is not None
    assert (message.message_thread_id, message.is_topic_message) == (topic, True)
    assert message.chat.is_forum is True
    assert message.reply_to_message is not None
    assert message.reply_to_message.forum_topic_created is not None
    assert message.reply_to_message.forum_topic_created.name == "Releases"


async def test_a_channel_post_has_the_channel_as_sender(api: FakeBotAPI, bot: Bot) -> None:
    """A channel post is `channel_post` with sender_chat = the channel and no `from`."""
    api.push_channel_post(CHANNEL, "/subs")
    update = await one_update(bot)
    post = update.channel_post
    assert post is not None
    assert update.message is None
    assert post.sender_chat is not None
    assert post.sender_chat.id == CHANNEL
    assert post.from_user is None
    assert post.entities[0].type == "bot_command"


async def test_an_anonymous_admin_writes_as_the_group(api: FakeBotAPI, bot: Bot) -> None:
    """sender_chat is the group; from is GroupAnonymousBot (1087968824)."""
    api.push_anonymous_admin_message(SUPER, "/pause")
    update = await one_update(bot)
    message = update.message
    assert message is not None
    assert update.effective_sender == message.sender_chat
    assert message.sender_chat is not None
    assert message.sender_chat.id == SUPER
    assert message.from_user is not None
    assert (message.from_user.id, message.from_user.username) == (
        ANONYMOUS_BOT,
        "GroupAnonymousBot",
    )
    assert message.sender_chat.type == "supergroup"
    with pytest.raises(ValueError, match="groups"):
        api.push_anonymous_admin_message(CHANNEL, "/pause")


async def test_a_document_with_a_command_caption_and_a_reply_to_it(
    api: FakeBotAPI, bot: Bot
) -> None:
    """A document carries file_id, file_unique_id, name, mime type and size; its caption's
    command is a caption entity; a later reply carries the document message."""
    opml = b"<opml version='2.0'><body/></opml>"
    message_id, document = api.push_document(
        SUPER, opml, "feeds.opml", from_user_id=USER, mime_type="text/x-opml", caption="/import"
    )
    message = (await one_update(bot)).message
    assert message is not None
    assert message.document is not None
    assert message.document.file_id == document.file_id
    assert message.document.file_unique_id == document.file_unique_id
    assert (message.document.file_name, message.document.mime_type) == (
        "feeds.opml",
        "text/x-opml",
    )
    assert message.document.file_size == len(opml)
    assert (message.caption, message.text) == ("/import", None)
    assert [e.type for e in message.caption_entities] == ["bot_command"]
    api.push_message(SUPER, "/import", OWNER, reply_to=message_id)
    reply = (await one_update(bot)).message
    assert reply is not None
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.document is not None
    assert reply.reply_to_message.document.file_id == document.file_id


async def test_a_button_press_is_a_callback_query(api: FakeBotAPI, bot: Bot) -> None:
    """press() finds the button by label: id, from, message, data and chat_instance arrive."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Subscribe", callback_data="s:1")]])
    sent = await bot.send_message(SUPER, "Follow?", reply_markup=keyboard)
    query_id = api.press(SUPER, sent.message_id, "Subscribe", USER)
    query = (await one_update(bot)).callback_query
    assert query is not None
    assert (query.id, query.data, query.from_user.id) == (query_id, "s:1", USER)
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.chat_instance
    with pytest.raises(ValueError, match="no callback button"):
        api.press(SUPER, sent.message_id, "Cancel", USER)


async def test_my_chat_member_added_promoted_removed(api: FakeBotAPI, bot: Bot) -> None:
    """The bot's own status changes arrive as my_chat_member with who did it, old and new;
    removed from the channel, sending there is Forbidden."""
    api.add_chat(-1005000, "channel", title="New channel", bot_status="left")
    api.push_my_chat_member(-1005000, "administrator", OWNER, can_post_messages=False)
    added = (await one_update(bot)).my_chat_member
    assert added is not None
    assert (added.from_user.id, added.chat.id) == (OWNER, -1005000)
    assert (added.old_chat_member.status, added.new_chat_member.status) == (
        "left",
        "administrator",
    )
    assert isinstance(added.new_chat_member, ChatMemberAdministrator)
    assert added.new_chat_member.can_post_messages is False
    api.push_my_chat_member(-1005000, "administrator", OWNER)
    promoted = (await one_update(bot)).my_chat_member
    assert promoted is not None
    assert isinstance(promoted.new_chat_member, ChatMemberAdministrator)
    assert promoted.new_chat_member.can_post_messages is True
    await bot.send_message(-1005000, "hello")
    api.push_my_chat_member(-1005000, "kicked", OWNER)
    removed = (await one_update(bot)).my_chat_member
    assert removed is not None
    assert removed.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="bot was kicked from the channel chat"):
        await bot.send_message(-1005000, "still here?")


async def test_allowed_updates_filter_what_is_delivered(api: FakeBotAPI, bot: Bot) -> None:
    """A type left out of allowed_updates is dropped, never delivered, even once allowed
    later; the last list given is recorded; the list stays until changed."""
    assert api.allowed_updates is None
    allowed = ["message", "channel_post", "callback_query"]
    assert await bot.get_updates(timeout=0, allowed_updates=allowed) == ()
    assert api.allowed_updates == allowed
    dropped = api.push_my_chat_member(SUPER, "member", OWNER)
    api.push_message(SUPER, "hello", USER)
    update = await one_update(bot)  # no allowed_updates: the previous list holds
    assert update.message is not None
    assert [u["update_id"] for u in api.dropped_updates] == [dropped]
    await bot.get_updates(timeout=0, allowed_updates=[*allowed, "my_chat_member"])
    kept = api.push_my_chat_member(SUPER, "administrator", OWNER)
    update = await one_update(bot)
    assert update.my_chat_member is not None
    assert update.update_id == kept > dropped
    assert api.allowed_updates == [*allowed, "my_chat_member"]


async def test_application_replies_into_the_topic_it_was_asked_in(api: FakeBotAPI) -> None:
    """A real Application answering a topic message with reply_text posts into that topic."""

    async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("got it")

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    topic = api.create_topic(FORUM, "Feeds")
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        api.push_document(FORUM, b"<opml/>", "f.opml", from_user_id=USER, thread_id=topic)
        await until(lambda: bool(api.messages(FORUM)))
        await app.updater.stop()
        await app.stop()
    [reply] = api.messages(FORUM)
    assert (reply.text, reply.message_thread_id) == ("got it", topic)


# --- forum topics ----------------------------------------------------------------------


async def test_sends_into_topics_open_closed_deleted_unknown(
    api: FakeBotAPI, bot: Bot, clock: ManualClock
) -> None:
    """An open topic takes the post (recorded with its thread); closed is TOPIC_CLOSED,
    deleted or unknown is "message thread not found"."""
    topic = api.create_topic(FORUM, "Releases")
    sent = await bot.send_message(FORUM, "first", message_thread_id=topic)
    clock.now += 1  # Telegram's 1 message a second per chat
    assert (sent.message_thread_id, sent.is_topic_message) == (topic, True)
    assert api.messages(FORUM)[0].message_thread_id == topic
    api.close_topic(FORUM, topic)
    with pytest.raises(BadRequest, match=r"^Topic_closed$"):
        await bot.send_message(FORUM, "second", message_thread_id=topic)
    assert api.requests[-1].description == "Bad Request: TOPIC_CLOSED"
    api.close_topic(FORUM, topic, closed=False)
    await bot.send_message(FORUM, "reopened", message_thread_id=topic)
    api.delete_topic(FORUM, topic)
    for thread in (topic, 9999):
        with pytest.raises(BadRequest, match=r"^Message thread not found$"):
            await bot.send_message(FORUM, "gone", message_thread_id=thread)
    with pytest.raises(BadRequest, match=r"^Message thread not found$"):
        await bot.send_message(SUPER, "not a forum", message_thread_id=topic)
    assert [m.text for m in api.messages(FORUM)] == ["first", "reopened"]


async def test_a_bot_that_manages_topics_may_post_in_a_closed_one(
    api: FakeBotAPI, bot: Bot
) -> None:
    """As on Telegram, an admin with can_manage_topics writes into a closed topic."""
    topic = api.create_topic(FORUM, "Releases")
    api.close_topic(FORUM, topic)
    api.set_bot_status(FORUM, "administrator", can_manage_topics=True)
    await bot.send_message(FORUM, "still allowed", message_thread_id=topic)
    with pytest.raises(ValueError, match="not a forum"):
        api.create_topic(SUPER, "nope")


# --- getChat ---------------------------------------------------------------------------


async def test_get_chat_for_channels_groups_and_forums(bot: Bot) -> None:
    """getChat answers type, title, username and is_forum."""
    forum = await bot.get_chat("@newsroom")
    assert (forum.id, forum.type, forum.title, forum.username, forum.is_forum) == (
        FORUM,
        "supergroup",
        "Newsroom",
        "newsroom",
        True,
    )
    channel = await bot.get_chat(CHANNEL)
    assert (channel.type, channel.username, channel.is_forum) == ("channel", "press_news", None)
    group = await bot.get_chat(GROUP)
    assert (group.type, group.title) == ("group", "Editors")


# --- command scopes --------------------------------------------------------------------


async def test_the_most_specific_command_scope_wins(api: FakeBotAPI, bot: Bot) -> None:
    """Each user sees the list of the most specific scope set for them, in the docs' order."""
    api.set_member(SUPER, OWNER, "creator")
    api.set_member(SUPER, USER, "member")
    await bot.set_my_commands([BotCommand("latest", "Newest releases")])
    assert api.commands_for(SUPER, USER) == [
        {"command": "latest", "description": "Newest releases"}
    ]
    await bot.set_my_commands(
        [BotCommand("subs", "Subscriptions")], scope=BotCommandScopeAllChatAdministrators()
    )
    await bot.set_my_commands([BotCommand("help", "Help")], scope=BotCommandScopeAllGroupChats())
    await bot.set_my_commands(
        [BotCommand("start", "Start")], scope=BotCommandScopeAllPrivateChats()
    )
    await bot.set_my_commands([BotCommand("hilfe", "Hilfe")], language_code="de")

    def names(chat: int, user: int, language: str = "") -> list[str]:
        return [c["command"] for c in api.commands_for(chat, user, language)]

    assert (names(SUPER, OWNER), names(SUPER, USER), names(USER, USER)) == (
        ["subs"],
        ["help"],
        ["start"],
    )
    await bot.set_my_commands(
        [BotCommand("add", "Add a feed")], scope=BotCommandScopeChatAdministrators(SUPER)
    )
    await bot.set_my_commands([BotCommand("cite", "Cite")], scope=BotCommandScopeChat("@editors"))
    await bot.set_my_commands(
        [BotCommand("audit", "Audit")], scope=BotCommandScopeChatMember(SUPER, USER)
    )
    assert (names(SUPER, OWNER), names(SUPER, USER), names(SUPER, 5)) == (
        ["add"],
        ["audit"],
        ["cite"],
    )
    assert names(GROUP, USER, "de") == ["help"]  # a group scope outranks a default in German
    await bot.delete_my_commands(scope=BotCommandScopeAllGroupChats())
    assert names(GROUP, USER, "de") == ["hilfe"]
    assert names(GROUP, USER) == ["latest"]
    assert api.commands_for(CHANNEL, USER) == []  # channels have no command menu
    got = await bot.get_my_commands(scope=BotCommandScopeChat(SUPER))
    assert [c.command for c in got] == ["cite"]
    assert api.commands({"type": "chat", "chat_id": "@editors"}) == [
        {"command": "cite", "description": "Cite"}
    ]


@pytest.mark.parametrize(
    ("commands", "scope", "language", "message"),
    [
        ([("x" * 33, "d")], None, None, "Command length must not exceed 32"),
        ([("Latest", "d")], None, None, "Bot_command_invalid"),
        ([("late-st", "d")], None, None, "Bot_command_invalid"),
        ([("latest", " ")], None, None, "Command description must be non-empty"),
        ([("latest", "d" * 257)], None, None, "Command description length must not exceed 256"),
        ([(f"c{n}", "d") for n in range(101)], None, None, "Bot_commands_too_much"),
        ([("latest", "d")], None, "eng", "Invalid language code specified"),
        (
            [("latest", "d")],
            BotCommandScopeChatAdministrators(USER),
            None,
            "Can't use specified scope in private chats",
        ),
        (
            [("latest", "d")],
            BotCommandScopeChat(CHANNEL),
            None,
            "Can't change commands in channel chats",
        ),
        ([("latest", "d")], BotCommandScopeChat(-1009), None, "Chat not found"),
    ],
)
async def test_bad_commands_and_scopes_are_refused(
    api: FakeBotAPI,
    bot: Bot,
    commands: list[tuple[str, str]],
    scope: BotCommandScopeChat | None,
    language: str | None,
    message: str,
) -> None:
    """Names of 1-32 a-z0-9_, descriptions of 1-256, at most 100, valid scopes and languages."""
    with pytest.raises(BadRequest, match=f"^{message}$"):
        await bot.set_my_commands(commands, scope=scope, language_code=language)
    assert api.commands() == []


async def test_a_leading_slash_and_spaces_are_trimmed(api: FakeBotAPI, bot: Bot) -> None:
    """tdlib trims the name and description and drops one leading slash."""
    await bot.set_my_commands([BotCommand(" /latest ", " Newest ")])
    assert api.commands() == [{"command": "latest", "description": "Newest"}]


async def test_a_document_posted_in_a_channel_is_a_channel_post(api: FakeBotAPI, bot: Bot) -> None:
    """A channel's document (no from_user_id) arrives as channel_post, captioned command."""
    api.push_document(CHANNEL, b"<opml/>", "feeds.opml", caption="/import now")
    post = (await one_update(bot)).channel_post
    assert post is not None
    assert post.document is not None
    assert post.from_user is None
    assert post.caption_entities[0].length == len("/import")
    with pytest.raises(ValueError, match="from_user_id"):
        api.push_document(SUPER, b"<opml/>", "feeds.opml")


async def test_replies_are_recorded_and_checked(api: FakeBotAPI, bot: Bot) -> None:
    """A reply names the message it answers; a reply to a missing message is refused
    unless allow_sending_without_reply."""
    asked = api.push_message(SUPER, "/subs", USER)
    sent = await bot.send_message(SUPER, "2 routes", reply_to_message_id=asked)
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.text == "/subs"
    assert api.message(SUPER, sent.message_id).reply_to_message_id == asked
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_message(CHANNEL, "x", reply_to_message_id=4242)
    await bot.send_message(CHANNEL, "x", reply_to_message_id=4242, allow_sending_without_reply=True)
