"""The Telegram side of admin commands, against the strict fake Bot API with the real PTB
Application: who and where a command comes from, replies in the right topic with their
buttons and files, presses, OPML uploads, getChatMember, the greeting, the command menus.

The admin service here is a recording stand-in (the services have their own tests): these
tests show what the adapter hands it and what reaches Telegram.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
from telegram.ext import Application, ApplicationBuilder

from bot.render.telegram_html import Html
from bot.services.admin_types import (
    GROUP_ANONYMOUS_BOT,
    Actor,
    AdminReply,
    AdminRequest,
    Choice,
    Membership,
    Place,
    Press,
    ReplyFile,
)
from bot.telegram.admin import MAX_IMPORT_BYTES, AdminCommands
from bot.telegram.admin_members import (
    ADMIN_MENU,
    READER_COMMANDS,
    Greeter,
    TelegramMembers,
    set_command_menus,
)
from bot.telegram.application import ALLOWED_UPDATES, file_url
from bot.telegram.sender import DEFAULTS, use_timedelta_periods
from tests.fakes.bot_api import FakeBotAPI

BOT = "releasebot_test_bot"
OWNER, ADA, BOB = 501, 601, 602
CHANNEL, GROUP, FORUM = -1001, -4001, -1004001
T = TypeVar("T")
OPML = (
    b'<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
    b'<outline type="rss" text="NIDA" xmlUrl="https://example.org/nida.xml"/></body></opml>'
)


STRANGER = 999  # not an admin anywhere


class RecordingService:
    """Records what the adapter hands over; answers with buttons, files and toasts."""

    def __init__(self) -> None:
        self.requests: list[AdminRequest] = []
        self.presses: list[Press] = []

    async def handle(self, request: AdminRequest) -> AdminReply | None:
        self.requests.append(request)
        if request.command == "export":
            return AdminReply(Html("Your feeds"), file=ReplyFile("feeds.opml", OPML))
        if request.command == "add":
            buttons = (Choice("Subscribe, newest 1", "a:1:1"), Choice("Cancel", "a:1:x"))
            return AdminReply(Html(f"<b>Add</b> {request.args}"), choices=(buttons,))
        if request.command == "audit":
            raise RuntimeError("a bug in the service")
        if request.command == "import":
            size = len(request.upload.content) if request.upload else 0
            return AdminReply(Html(f"imported {size} bytes"))
        return AdminReply(Html(f"done: {request.command}"))

    async def refusal(self, request: AdminRequest) -> AdminReply | None:
        """Everyone may, but STRANGER (the adapter asks before a download)."""
        if request.actor.user_id == STRANGER:
            return AdminReply(Html("Only this chat's admins may /import here."))
        return None

    async def press(self, press: Press) -> AdminReply:
        self.presses.append(press)
        return AdminReply(Html("Subscribed."), toast="Subscribed")


async def eventually(check: Callable[[], T | None], what: str, within: float = 10) -> T:
    """Wait (on the event loop, so the Application runs) until `check()` is truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(
    api: FakeBotAPI, service: RecordingService, owners: tuple[int, ...] = (OWNER,)
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """A PTB Application with the admin handlers, polling the fake."""
    use_timedelta_periods()
    app = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(file_url(api.base_url))
        .defaults(DEFAULTS)
        .build()
    )
    admin = AdminCommands(service, pacer=None, greeter=Greeter(owners))
    app.add_handlers(admin.handlers())
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await admin.stop()
            await app.stop()


@pytest.fixture
def api() -> FakeBotAPI:
    with FakeBotAPI(username=BOT, time_scale=0.01) as fake:
        fake.add_chat(CHANNEL, "channel", username="nida_news", title="NIDA news")
        fake.add_chat(GROUP, "group", title="Editors")
        fake.add_chat(FORUM, "supergroup", title="Newsroom", username="newsroom", is_forum=True)
        fake.add_chat(OWNER, "private", title="Olga", username="olga")
        yield fake


async def test_commands_from_every_kind_of_sender_reach_the_service_as_who_and_where(
    api: FakeBotAPI,
) -> None:
    """A user (by @username, else by name), an anonymous group admin, a channel post and a
    message in a forum topic each become a request saying who sent it and where; a command
    for another bot is left alone."""
    topic = api.create_topic(FORUM, "Releases")
    service = RecordingService()
    async with running(api, service):
        api.push_message(OWNER, "/subs", OWNER, username="olga")
        api.push_message(GROUP, "/pause nida", ADA, first_name="Ada")
        api.push_message(GROUP, "/pause@other_bot nida", ADA, first_name="Ada")
        api.push_anonymous_admin_message(FORUM, f"/status@{BOT}")
        api.push_channel_post(CHANNEL, "/resume")
        api.push_message(FORUM, "/set nida style short", BOB, username="bob", thread_id=topic)
        await eventually(lambda: len(service.requests) == 5, "five requests")
    got = {(r.command, r.args, r.actor, r.place) for r in service.requests}
    assert got == {
        ("subs", "", Actor(OWNER, "@olga"), Place(OWNER, "private", "Olga", "olga")),
        ("pause", "nida", Actor(ADA, "Ada"), Place(GROUP, "group", "Editors")),
        (
            "status",
            "",
            Actor(GROUP_ANONYMOUS_BOT, "Newsroom", sender_chat_id=FORUM),
            Place(FORUM, "supergroup", "Newsroom", "newsroom"),
        ),
        (
            "resume",
            "",
            Actor(None, "NIDA news", sender_chat_id=CHANNEL),
            Place(CHANNEL, "channel", "NIDA news", "nida_news"),
        ),
        (
            "set",
            "nida style short",
            Actor(BOB, "@bob"),
            Place(FORUM, "supergroup", "Newsroom", "newsroom", thread_id=topic),
        ),
    }


async def test_a_reply_goes_to_the_topic_it_was_asked_in_with_its_buttons(
    api: FakeBotAPI,
) -> None:
    """The reply lands in the command's forum topic, answering it, with the choices as
    inline buttons carrying their callback data; in a private chat it is a plain message."""
    topic = api.create_topic(FORUM, "Releases")
    service = RecordingService()
    async with running(api, service):
        asked = api.push_message(FORUM, "/add https://x.org/f", BOB, thread_id=topic)
        api.push_message(OWNER, "/remove nida", OWNER)
        await eventually(lambda: api.messages(FORUM) and api.messages(OWNER), "both replies")
    [reply] = api.messages(FORUM)
    assert reply.message_thread_id == topic
    assert reply.reply_to_message_id == asked
    assert reply.html == "<b>Add</b> https://x.org/f"
    assert [(b["text"], b["callback_data"]) for b in reply.buttons] == [
        ("Subscribe, newest 1", "a:1:1"),
        ("Cancel", "a:1:x"),
    ]
    [private] = api.messages(OWNER)
    assert (private.text, private.reply_to_message_id, private.buttons) == (
        "done: remove",
        None,
        [],
    )


async def test_a_press_is_answered_with_its_toast_and_edits_the_message_it_was_under(
    api: FakeBotAPI,
) -> None:
    """Pressing a button hands the service the data, the presser and the place; the press
    is answered (toast) and the message shows the outcome without the spent buttons."""
    topic = api.create_topic(FORUM, "Releases")
    service = RecordingService()
    async with running(api, service):
        api.push_message(FORUM, "/add https://x.org/f", BOB, username="bob", thread_id=topic)
        [reply] = await eventually(lambda: api.messages(FORUM), "the /add reply")
        query = api.press(FORUM, reply.message_id, "Subscribe, newest 1", BOB)
        await eventually(lambda: api.callback_answers, "the press answered")
        await eventually(lambda: api.message(FORUM, reply.message_id).history, "the edit")
    assert service.presses == [
        Press(
            "a:1:1",
            Actor(BOB, "@bob"),
            Place(FORUM, "supergroup", "Newsroom", "newsroom", thread_id=topic),
            reply.message_id,
        )
    ]
    [answer] = api.callback_answers
    assert (answer.callback_query_id, answer.text) == (query, "Subscribed")
    edited = api.message(FORUM, reply.message_id)
    assert (edited.text, edited.buttons) == ("Subscribed.", [])
    assert api.unanswered_callbacks == []


async def test_the_readers_citation_buttons_are_not_taken(api: FakeBotAPI) -> None:
    """A citation-style button (cite:...) is left to the readers' handler."""
    service = RecordingService()
    async with running(api, service):
        api.push_message(OWNER, "/add x", OWNER)
        [reply] = await eventually(lambda: api.messages(OWNER), "the reply")
        api.push_callback(OWNER, reply.message_id, "cite:1:apa", OWNER)
        api.push_message(OWNER, "/subs", OWNER)
        await eventually(lambda: len(service.requests) == 2, "the next command")
    assert service.presses == []


async def test_an_export_arrives_as_a_document_in_its_topic(api: FakeBotAPI) -> None:
    """A reply with a file is sent as a document (its name and bytes kept), the text as its
    caption, in the topic the command came from."""
    topic = api.create_topic(FORUM, "Releases")
    service = RecordingService()
    async with running(api, service):
        api.push_message(FORUM, "/export", BOB, thread_id=topic)
        [sent] = await eventually(lambda: api.messages(FORUM), "the export")
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.data) == ("feeds.opml", OPML)
    assert (sent.text, sent.message_thread_id) == ("Your feeds", topic)


async def test_import_reads_the_document_it_captions_or_replies_to(api: FakeBotAPI) -> None:
    """/import as a document's caption (also in a channel) or replying to a document hands
    the service the downloaded file; /import alone hands it none."""
    service = RecordingService()
    async with running(api, service):
        api.push_document(GROUP, OPML, "feeds.opml", from_user_id=ADA, caption="/import")
        api.push_document(CHANNEL, OPML, "c.opml", caption=f"/import@{BOT}")
        shared, _ = api.push_document(GROUP, OPML + b" ", "more.opml", from_user_id=BOB)
        api.push_message(GROUP, "/import", ADA, reply_to=shared)
        api.push_message(OWNER, "/import", OWNER)
        await eventually(lambda: len(service.requests) == 4, "four imports")
    uploads = {
        (r.place.chat_id, r.upload.file_name if r.upload else None): (
            r.upload.content if r.upload else None
        )
        for r in service.requests
    }
    assert uploads == {
        (GROUP, "feeds.opml"): OPML,
        (CHANNEL, "c.opml"): OPML,
        (GROUP, "more.opml"): OPML + b" ",
        (OWNER, None): None,
    }
    assert len(api.downloads) == 3


async def test_an_oversized_import_is_refused_without_downloading_it(api: FakeBotAPI) -> None:
    """A document over the import limit gets a clear refusal; nothing is downloaded and the
    service is not asked."""
    service = RecordingService()
    big = b"<opml>" + b" " * MAX_IMPORT_BYTES
    async with running(api, service):
        api.push_document(GROUP, big, "huge.opml", from_user_id=ADA, caption="/import")
        [reply] = await eventually(lambda: api.messages(GROUP), "the refusal")
    assert "too big to import" in reply.text
    assert service.requests == []
    assert api.downloads == []


async def test_an_import_by_someone_who_may_not_is_refused_before_any_download(
    api: FakeBotAPI,
) -> None:
    """A member who may not manage the chat sends /import with a document: refused, and the
    bot fetches nothing (no getFile, no download)."""
    service = RecordingService()
    async with running(api, service):
        api.push_document(GROUP, OPML, "a.opml", from_user_id=STRANGER, caption="/import")
        [reply] = await eventually(lambda: api.messages(GROUP), "the refusal")
    assert "Only this chat's admins may /import here." in reply.text
    assert api.requests_for("getFile") == []
    assert api.downloads == []
    assert service.requests == []


async def test_a_file_telegram_will_not_give_and_a_failing_service_get_an_answer(
    api: FakeBotAPI,
) -> None:
    """getFile refused: the admin hears the file could not be fetched; a service that
    raises: an apology. Neither stays unanswered."""
    service = RecordingService()
    api.fail_next("getFile", 400, "Bad Request: invalid file_id")
    async with running(api, service):
        asked, _ = api.push_document(GROUP, OPML, "a.opml", from_user_id=ADA, caption="/import")
        broken = api.push_message(GROUP, "/audit", ADA)
        await eventually(lambda: len(api.messages(GROUP)) == 2, "both answers")
    answers = {m.reply_to_message_id: m.text for m in api.messages(GROUP)}
    assert answers[asked].startswith("Sorry, I could not fetch that file from Telegram")
    assert answers[broken].startswith("Sorry, that did not work")
    assert [r.command for r in service.requests] == ["audit"]


async def test_membership_comes_from_get_chat_member(api: FakeBotAPI) -> None:
    """getChatMember answers become Membership: status and the rights the admin rules read;
    a user who never joined is `left`. getChat finds a chat by @username or id."""
    api.set_member(CHANNEL, ADA, "administrator", can_post_messages=False)
    api.set_member(CHANNEL, BOB, "creator")
    api.set_member(GROUP, ADA, "administrator", can_change_info=True)
    api.set_member(GROUP, BOB, "member")
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    async with app:
        members = TelegramMembers(app.bot)
        got = [
            await members.membership(CHANNEL, ADA),
            await members.membership(CHANNEL, BOB),
            await members.membership(GROUP, ADA),
            await members.membership(GROUP, BOB),
            await members.membership(GROUP, 999),
        ]
        chats = [
            await members.chat("@newsroom"),
            await members.chat(CHANNEL),
            await members.chat("@nobody_here"),
        ]
    assert got == [
        Membership("administrator", can_post_messages=False, can_change_info=True),
        Membership("creator"),
        Membership("administrator", can_change_info=True),
        Membership("member"),
        Membership("left"),
    ]
    assert chats == [
        Place(FORUM, "supergroup", "Newsroom", "newsroom"),
        Place(CHANNEL, "channel", "NIDA news", "nida_news"),
        None,
    ]


async def test_whoever_adds_the_bot_is_told_how_to_subscribe_the_chat(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Added to a channel by a user who started the bot: they get how to subscribe it; added
    to a group by one who never did: the owners get it; removed: only a log line."""
    api.add_chat(ADA, "private", title="Ada")
    api.add_chat(BOB, "private", title="Bob", started=False)
    api.add_chat(-1009, "channel", title="Fresh", username="fresh", bot_status="left")
    api.add_chat(-4009, "group", title="Lab", bot_status="left")
    caplog.set_level(logging.INFO, logger="bot.telegram.admin_members")
    service = RecordingService()
    async with running(api, service):
        api.push_my_chat_member(-1009, "administrator", ADA)
        api.push_my_chat_member(-4009, "member", BOB)
        await eventually(lambda: api.messages(ADA) and api.messages(OWNER), "both greetings")
        api.push_my_chat_member(-4009, "left", BOB)
        await eventually(lambda: "removed from group" in caplog.text, "the removal logged")
    [to_ada] = api.messages(ADA)
    assert "/add @fresh URL" in to_ada.text
    assert "Fresh" in to_ada.text
    [to_owner] = api.messages(OWNER)
    assert "/add -4009 URL" in to_owner.text
    assert "Lab" in to_owner.text
    assert api.messages(BOB) == []


async def test_admin_commands_are_in_the_menu_of_chat_admins_and_owners_only(
    api: FakeBotAPI,
) -> None:
    """Everyone sees the reader commands; chat administrators and the owners (in their
    private chat) also see the admin commands; an owner who never started the bot is
    skipped, not an error."""
    api.add_chat(ADA, "private", title="Ada")
    api.set_member(GROUP, ADA, "administrator")
    api.set_member(GROUP, BOB, "member")
    api.add_chat(777, "private", title="Late owner", started=False)
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    async with app:
        await set_command_menus(app.bot, (OWNER, 777))
    readers = [name for name, _ in READER_COMMANDS]
    admins = readers + [name for name, _ in ADMIN_MENU]

    def names(chat: int, user: int) -> list[str]:
        return [c["command"] for c in api.commands_for(chat, user)]

    assert names(GROUP, BOB) == readers
    assert names(ADA, ADA) == readers
    assert names(GROUP, ADA) == admins
    assert names(OWNER, OWNER) == admins
    assert {"import", "cite"} <= set(admins)


def test_updates_the_admin_side_needs_are_asked_for() -> None:
    """getUpdates asks for button presses and the bot's own membership changes."""
    assert {"message", "channel_post", "callback_query", "my_chat_member"} <= set(ALLOWED_UPDATES)


def test_files_come_from_the_api_server_the_bot_talks_to() -> None:
    """Downloads use the configured Bot API server: Telegram's own by default."""
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
