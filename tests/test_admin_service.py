"""Admin commands at the service level (bot/services/admin.py): who may do what, where, how
often; buttons that expire, cannot be forged and act only for an admin of their chat; every
change with its audit row; config routes read-only but for pausing.

Real Store on a temporary database synced from a real config; getChatMember and getChat
answered by `Members` (tests/admin_world.py) as Telegram answers them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.feeds.opml import parse_opml
from bot.models import AuditEntry
from bot.render.telegram_html import escape
from bot.services.admin import callback_data
from bot.services.admin_auth import Caller
from bot.services.admin_types import GROUP_ANONYMOUS_BOT, AdminReply, Membership, Press
from bot.services.routing import build_view
from bot.store import PendingAction
from tests.admin_world import (
    CHANNEL_ADMIN,
    CREATOR,
    ELSEWHERE,
    GROUP_ADMIN,
    LAB,
    MEMBER,
    NEWS,
    OWNER,
    WEAK_ADMIN,
    Place,
    World,
    make_world,
    private,
)
from tests.fakes.telegram_html import validate_message_text

REFUSED = "Nothing was changed"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def text_of(reply: AdminReply | None) -> str:
    assert reply is not None
    return str(reply.text)


# --- every command, every role ---------------------------------------------------------

# (command, what an allowed sender's reply shows)
COMMANDS = [
    ("remove cdc", "Stop posting cdc"),
    ("subs", "follows 2 feeds"),
    ("set cdc silent on", "silent default → on"),
    ("filter cdc exclude mouse", "exclude: mouse"),
    ("pause cdc", "Paused cdc"),
    ("resume cdc", "Resumed cdc"),
    ("retry", "No failed posts"),
    ("status", "<pre>feed"),
    ("export", "as OPML"),
]


@pytest.mark.parametrize(
    ("sender", "send"),
    [
        ("owner in the channel", {"user": OWNER, "place": NEWS}),
        ("owner naming the channel in private", {"user": OWNER, "named": "-100100"}),
        ("channel admin who may post", {"user": CHANNEL_ADMIN, "place": NEWS}),
        (
            "channel admin naming @channel in private",
            {"user": CHANNEL_ADMIN, "named": "@agency_news"},
        ),
        (
            "a post in the channel itself",
            {"user": None, "place": NEWS, "sender_chat": NEWS.chat_id},
        ),
    ],
)
async def test_each_admin_command_works_for_owners_and_channel_admins(
    world: World, sender: str, send: dict[str, Any]
) -> None:
    """Owners, the channel's posting admins (there or from a private chat naming it) and a
    command posted in the channel itself get each command's answer, and /audit is owners'."""
    for command, shows in COMMANDS:
        reply = await _send(world, command, **send)
        assert shows in text_of(reply), (sender, command)
    audit = text_of(await _send(world, "audit", **send))
    if send["user"] == OWNER:
        assert "<b>set</b> cdc -&gt; news" in audit
    else:
        assert "for the bot's owners" in audit


@pytest.mark.parametrize(
    ("sender", "send"),
    [
        ("group admin who may change info", {"user": GROUP_ADMIN, "place": LAB}),
        ("group creator", {"user": CREATOR, "place": LAB}),
        (
            "anonymous group admin",
            {"user": GROUP_ANONYMOUS_BOT, "place": LAB, "sender_chat": LAB.chat_id},
        ),
        ("group admin naming the group in private", {"user": GROUP_ADMIN, "named": "-100200"}),
    ],
)
async def test_each_admin_command_works_for_group_admins(
    world: World, sender: str, send: dict[str, Any]
) -> None:
    """A group's admins with can_change_info, its creator and its anonymous admins manage
    its routes (the group follows one feed: cdc)."""
    for command, shows in COMMANDS:
        shows = "follows 1 feed" if command == "subs" else shows
        reply = await _send(world, command, **send)
        assert shows in text_of(reply), (sender, command)
    assert "for the bot's owners" in text_of(await _send(world, "audit", **send))


@pytest.mark.parametrize(
    ("sender", "send"),
    [
        ("plain member", {"user": MEMBER, "place": LAB}),
        ("administrator without can_change_info", {"user": WEAK_ADMIN, "place": LAB}),
        ("admin of another chat", {"user": CHANNEL_ADMIN, "place": LAB}),
        ("user never in the chat, in private", {"user": 999, "named": "-100200"}),
        (
            "group admin naming a channel it does not admin",
            {"user": GROUP_ADMIN, "named": "@agency_news"},
        ),
        (
            "someone writing as another channel",
            {"user": 136817688, "place": LAB, "sender_chat": NEWS.chat_id},
        ),
        ("channel admin without can_post_messages", {"user": 11, "place": NEWS}),
    ],
)
async def test_everyone_else_is_refused_every_admin_command_and_nothing_changes(
    world: World, sender: str, send: dict[str, Any]
) -> None:
    """Members, admins without the right, admins of another chat, and a message sent as some
    other chat get a polite refusal for every admin command; nothing is written."""
    world.members.set(NEWS, 11, Membership("administrator", can_post_messages=False))
    before = (build_view(world.store, world.service.ctx.settings), world.deliveries("lab"))
    for command, _ in [*COMMANDS, ("audit", "")]:
        reply = text_of(await _send(world, command, **send))
        assert REFUSED in reply, (sender, command)
        assert reply.startswith("Sorry"), (sender, command)
    assert (build_view(world.store, world.service.ctx.settings), world.deliveries("lab")) == before
    assert world.audit_rows() == 0
    assert world.store.db.execute("SELECT count(*) FROM pending_actions").fetchone()[0] == 0


async def test_the_table_covers_every_command_the_service_answers(world: World) -> None:
    """Each command the service answers is in the role tables above."""
    tested = {command.split()[0] for command, _ in COMMANDS} | {"audit"}
    assert tested == set(world.service.names)
    assert await world.send("/latest", OWNER) is None  # a reader command: not ours


async def _send(
    world: World,
    command: str,
    *,
    user: int | None,
    place: Place = LAB,
    named: str | None = None,
    sender_chat: int | None = None,
) -> AdminReply | None:
    if named is not None:
        name, _, rest = command.partition(" ")
        return await world.send(f"/{name} {named} {rest}", user, private(user or 0))
    return await world.send(f"/{command}", user, place, sender_chat=sender_chat)


# --- where: the chat managed --------------------------------------------------------------


async def test_a_private_chat_naming_no_chat_is_told_how(world: World) -> None:
    """/subs in a private chat without a chat: the reply says how to name one."""
    reply = text_of(await world.send("/subs", GROUP_ADMIN, private(GROUP_ADMIN)))
    assert "/subs @mychannel" in reply


async def test_a_chat_the_bot_cannot_see_is_named_as_such(world: World) -> None:
    """Naming a chat getChat does not know: the reply says to add the bot first."""
    reply = text_of(await world.send("/subs @nobody_here", OWNER, private(OWNER)))
    assert "cannot see the chat @nobody_here" in reply


async def test_a_forum_topic_is_its_own_target(world: World) -> None:
    """A command sent in a forum topic manages that topic's routes, not the chat's."""
    with world.store.writing():
        world.store.add_chat_channel("lab-topic", LAB.chat_id, 7)
        world.store.add_chat_route("nida", "lab-topic", 0, now=world.clock())
    topic = Place(LAB.chat_id, LAB.kind, LAB.title, thread_id=7)
    reply = text_of(await world.send("/subs", GROUP_ADMIN, topic))
    assert "<b>nida</b>" in reply
    assert "<b>cdc</b>" not in reply
    assert "<b>cdc</b>" in text_of(await world.send("/subs", GROUP_ADMIN, LAB))


# --- when: rights change, rate ------------------------------------------------------------


async def test_an_admin_demoted_a_minute_ago_is_no_longer_one(world: World) -> None:
    """getChatMember answers are cached under a minute: within it the admin is asked once;
    a minute after being demoted they are refused, and nothing changes."""
    assert "follows 1 feed" in text_of(await world.send("/subs", GROUP_ADMIN))
    world.members.set(LAB, GROUP_ADMIN, Membership("member"))
    world.clock.advance(30)
    assert "follows 1 feed" in text_of(await world.send("/subs", GROUP_ADMIN))
    assert world.members.lookups == 1
    world.clock.advance(31)
    assert REFUSED in text_of(await world.send("/pause", GROUP_ADMIN))
    assert world.members.lookups == 2
    assert world.store.held_posts("lab") == 0
    assert world.audit_rows() == 0


async def test_twenty_commands_a_minute_then_a_polite_refusal(world: World) -> None:
    """The 21st admin command within a minute is refused and changes nothing; a minute
    later the admin may go on."""
    for _ in range(20):
        assert "follows 1 feed" in text_of(await world.send("/subs", GROUP_ADMIN))
        world.clock.advance(2)
    reply = text_of(await world.send("/pause", GROUP_ADMIN))
    assert "more than 20 admin commands in a minute" in reply
    assert REFUSED in reply
    assert world.store.held_posts("lab") == 0
    assert "follows 1 feed" in text_of(await world.send("/subs", OWNER))  # others go on
    world.clock.advance(21)
    assert "Paused cdc" in text_of(await world.send("/pause", GROUP_ADMIN))


# --- buttons ------------------------------------------------------------------------------


async def _ask_remove(world: World, user: int = GROUP_ADMIN, place: Place = LAB) -> dict[str, str]:
    reply = await world.send("/remove CDC", user, place)
    assert reply is not None
    assert reply.choices
    return {choice.text: choice.data for row in reply.choices for choice in row}


async def test_remove_asks_then_cancels_the_route_s_pending_posts(world: World) -> None:
    """/remove asks first; Remove drops the route, cancels its two unsent posts (never sent
    later), writes one audit row with it and hands the runtime a view without the route."""
    buttons = await _ask_remove(world)
    assert all(len(data.encode()) <= 64 for data in buttons.values())
    assert world.store.pending_for_channel("lab", world.clock())
    reply = await world.press(buttons["Remove"], GROUP_ADMIN)
    assert "cdc no longer posts to Lab &amp; friends. 2 unsent posts were cancelled" in reply.text
    assert world.deliveries("lab") == {"cancelled": 2}
    assert world.store.pending_for_channel("lab", world.clock()) == []
    assert world.views[-1].route("cdc", "lab") is None
    entry = world.store.audit(10)[0]
    assert (entry.action, entry.target, entry.user_id) == ("remove", "cdc -> lab", GROUP_ADMIN)
    again = await world.press(buttons["Remove"], GROUP_ADMIN)  # a second press does nothing
    assert "expired" in again.text
    assert world.audit_rows() == 1


async def test_cancel_changes_nothing(world: World) -> None:
    """Cancel leaves the route and its posts as they were."""
    buttons = await _ask_remove(world)
    assert "nothing was changed" in (await world.press(buttons["Cancel"], GROUP_ADMIN)).text
    assert world.deliveries("lab") == {"pending": 2}
    assert world.audit_rows() == 0


async def test_a_button_expires_after_ten_minutes(world: World) -> None:
    """Ten minutes on, the button says so and the route stays."""
    buttons = await _ask_remove(world)
    world.clock.advance(600)
    reply = await world.press(buttons["Remove"], GROUP_ADMIN)
    assert "This button has expired; send the command again." in reply.text
    assert reply.choices == ()
    assert world.deliveries("lab") == {"pending": 2}


async def test_forged_button_data_acts_on_nothing(world: World) -> None:
    """A made-up token, a real token under another kind, or junk: expired, nothing changes."""
    buttons = await _ask_remove(world)
    token = buttons["Remove"].split(":")[1]
    for data in ("remove:AAAAAAAAAAAA:yes", f"add:{token}:yes", "x" * 70, "remove::yes", ""):
        reply = await world.press(data, GROUP_ADMIN)
        assert "expired" in reply.text, data
    assert world.deliveries("lab") == {"pending": 2}
    assert world.audit_rows() == 0


async def test_a_button_pressed_in_another_chat_is_refused(world: World) -> None:
    """The token of lab's /remove pressed in another group does nothing there or in lab."""
    buttons = await _ask_remove(world)
    world.members.set(ELSEWHERE, GROUP_ADMIN, Membership("creator"))
    reply = await world.press(buttons["Remove"], GROUP_ADMIN, ELSEWHERE)
    assert reply.text == ""
    assert "another chat" in reply.toast
    assert world.deliveries("lab") == {"pending": 2}
    assert "no longer posts" in (await world.press(buttons["Remove"], GROUP_ADMIN)).text


async def test_only_an_admin_of_that_chat_may_press(world: World) -> None:
    """A member pressing leaves the message and its buttons for the admins; another admin
    of the chat may press."""
    buttons = await _ask_remove(world)
    reply = await world.press(buttons["Remove"], MEMBER)
    assert reply.text == ""
    assert "Only the admin who asked" in reply.toast
    assert world.deliveries("lab") == {"pending": 2}
    assert "no longer posts" in (await world.press(buttons["Remove"], CREATOR)).text


async def test_a_press_checks_the_rights_again(world: World) -> None:
    """The asker demoted seconds after asking cannot press: the press asks Telegram again."""
    buttons = await _ask_remove(world)
    world.members.set(LAB, GROUP_ADMIN, Membership("member"))
    world.clock.advance(5)
    reply = await world.press(buttons["Remove"], GROUP_ADMIN)
    assert reply.text == ""
    assert world.deliveries("lab") == {"pending": 2}


async def test_a_button_from_a_private_chat_acts_on_the_chat_named(world: World) -> None:
    """An admin managing the channel from a private chat presses there; the channel's route
    goes. Another user's private chat cannot use that token."""
    reply = await world.send("/remove @agency_news cdc", CHANNEL_ADMIN, private(CHANNEL_ADMIN))
    assert reply is not None
    remove = reply.choices[0][0].data
    other = await world.press(remove, OWNER, private(OWNER))
    assert other.text == ""
    assert world.deliveries("news").get("pending") == 4
    done = await world.press(remove, CHANNEL_ADMIN, private(CHANNEL_ADMIN))
    assert "no longer posts to Agency &lt;news&gt;" in done.text
    assert world.deliveries("news") == {"pending": 2, "cancelled": 2}


def test_callback_data_fits_in_64_bytes() -> None:
    """A kind, a token and a choice fit Telegram's 64 bytes; more is refused."""
    assert callback_data("remove", "A" * 12, "yes") == "remove:AAAAAAAAAAAA:yes"
    with pytest.raises(ValueError, match="not a button"):
        callback_data("remove", "A" * 43, "x" * 16)


async def test_a_registered_kind_gets_its_presses(world: World) -> None:
    """Another service's buttons (admin_add's) reach the handler registered for their kind,
    checked and consumed like /remove's."""
    seen: list[tuple[str, dict[str, Any]]] = []

    async def on_add(
        press: Press, action: PendingAction, choice: str, caller: Caller
    ) -> AdminReply:
        seen.append((choice, action.payload))
        return AdminReply(escape(caller.target.title if caller.target else ""))

    world.service.register_press("add", on_add)
    token = world.store.put_action(
        "add",
        {"url": "https://x.example/feed"},
        chat_id=LAB.chat_id,
        thread_id=None,
        user_id=GROUP_ADMIN,
        now=world.clock(),
    )
    assert (await world.press(f"add:{token}:5", MEMBER)).text == ""
    assert (await world.press(f"add:{token}:5", GROUP_ADMIN)).text == "Lab &amp; friends"
    assert seen == [("5", {"url": "https://x.example/feed"})]
    assert world.store.get_action(token) is None


# --- what each command does ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["/remove nida", "/set nida style mla", "/filter nida include vaccine", "/filter nida clear"],
)
async def test_config_routes_are_changed_in_the_file(world: World, command: str) -> None:
    """A route the config file declares is refused from Telegram, owners included."""
    reply = text_of(await world.send(command, OWNER, NEWS))
    assert "declared in the config file; change it there" in reply
    assert world.audit_rows() == 0
    assert world.store.db.execute("SELECT count(*) FROM pending_actions").fetchone()[0] == 0


async def test_pause_holds_posts_and_resume_releases_them(world: World) -> None:
    """/pause on a config route holds its posts in the outbox; /resume sends them on."""
    assert len(world.store.pending_for_channel("news", world.clock())) == 4
    assert "Paused nida" in text_of(await world.send("/pause NIDA", CHANNEL_ADMIN, NEWS))
    assert len(world.store.pending_for_channel("news", world.clock())) == 2  # cdc's
    assert "<b>nida</b> [paused]" in text_of(await world.send("/subs", CHANNEL_ADMIN, NEWS))
    reply = text_of(await world.send("/resume", CHANNEL_ADMIN, NEWS))
    assert "Resumed nida. 2 held posts go out now" in reply
    assert len(world.store.pending_for_channel("news", world.clock())) == 4
    assert world.woken == 1
    assert [e.action for e in world.store.audit(10)] == ["resume", "pause"]


async def test_owners_pause_a_whole_feed_from_a_private_chat(world: World) -> None:
    """/pause feed nida (owners): the feed is paused everywhere; others may not."""
    refused = text_of(await world.send("/pause feed nida", CHANNEL_ADMIN, NEWS))
    assert "for the bot's owners" in refused
    reply = text_of(await world.send("/pause feed nida", OWNER, private(OWNER)))
    assert "nida is paused for every chat" in reply
    view = build_view(world.store, world.service.ctx.settings)
    assert view.feed("nida") is not None
    assert view.feed("nida").paused
    assert "polled again" in text_of(await world.send("/resume feed nida", OWNER, private(OWNER)))
    assert [e.action for e in world.store.audit(10)] == ["resume feed", "pause feed"]


async def test_set_changes_what_the_view_says_and_default_clears_it(world: World) -> None:
    """/set writes the route's option into the next view; `default` gives the chat's back;
    an unknown option or a value out of range is explained and changes nothing."""
    for command in ("/set cdc style mla", "/set cdc summary_length 0", "/set cdc link_preview off"):
        await world.send(command, GROUP_ADMIN)
    options = world.views[-1].options("cdc", "lab")
    assert options is not None
    assert (options.citation_style, options.summary_length, options.link_preview) == (
        "mla",
        0,
        False,
    )
    await world.send("/set cdc style default", GROUP_ADMIN)
    assert world.views[-1].options("cdc", "lab").citation_style == "apa"  # type: ignore[union-attr]
    rows = world.audit_rows()
    assert "0 to 3000" in text_of(await world.send("/set cdc summary_length 3001", GROUP_ADMIN))
    assert "no style “chicago-ish”" in text_of(
        await world.send("/set cdc style chicago-ish", GROUP_ADMIN)
    )
    assert "no option" in text_of(await world.send("/set cdc colour red", GROUP_ADMIN))
    assert "no feed “nope”" in text_of(await world.send("/set nope silent on", GROUP_ADMIN))
    assert world.audit_rows() == rows == 4


async def test_filter_include_exclude_and_clear(world: World) -> None:
    """/filter stores the terms as typed (phrases kept), shows them in /subs, and clears."""
    await world.send('/filter cdc include measles "bird flu"', GROUP_ADMIN)
    await world.send("/filter cdc exclude mouse", GROUP_ADMIN)
    route = world.views[-1].route("cdc", "lab")
    assert route is not None
    assert (route.include, route.exclude) == (
        ("measles", "bird flu"),
        ("mouse",),
    )
    assert 'include: measles, "bird flu"; exclude: mouse' in text_of(
        await world.send("/subs", GROUP_ADMIN)
    )
    assert "quote is not closed" in text_of(
        await world.send('/filter cdc include "bird', GROUP_ADMIN)
    )
    assert "no filter" in text_of(await world.send("/filter cdc clear", GROUP_ADMIN))
    assert world.views[-1].route("cdc", "lab").include == ()  # type: ignore[union-attr]


async def test_a_failed_change_leaves_no_audit_row(world: World) -> None:
    """When the database refuses the change, neither it nor its audit row is kept."""
    world.store.db.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON routes BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        await world.send("/set cdc silent on", GROUP_ADMIN)
    assert world.audit_rows() == 0
    assert world.views == []


async def test_retry_requeues_this_chat_s_failed_posts(world: World) -> None:
    """/retry in a chat re-queues its failed posts only; an owner's /retry in private
    re-queues every chat's, as before."""
    for channel in ("lab", "news"):
        for post in world.store.pending_for_channel(channel, world.clock())[:1]:
            world.store.mark_unsendable(post.delivery.id, "Forbidden: bot was kicked")
    reply = text_of(await world.send("/retry", GROUP_ADMIN))
    assert "Re-queued 1 failed post (lab 1)" in reply
    assert world.deliveries("lab") == {"pending": 2}
    assert world.deliveries("news")["failed"] == 1
    assert world.woken == 1
    listing = text_of(await world.send("/retry list", OWNER, private(OWNER)))
    assert "Failed posts (1)" in listing
    assert "bot was kicked" in listing
    assert "Re-queued 1 failed post (news 1)" in text_of(
        await world.send("/retry", OWNER, private(OWNER))
    )
    assert [e.action for e in world.store.audit(10)] == ["retry", "retry"]


async def test_status_owners_see_everything_chat_admins_their_chat(world: World) -> None:
    """An owner's /status in private lists every feed and chat; a group admin's only theirs."""
    owner = text_of(await world.send("/status", OWNER, private(OWNER)))
    assert "nida" in owner
    assert "news" in owner
    assert "lab" in owner
    admin = text_of(await world.send("/status", GROUP_ADMIN))
    assert "cdc" in admin
    assert "lab" in admin
    assert "nida" not in admin
    assert "news" not in admin


async def test_export_is_an_opml_file_of_this_chat_s_feeds(world: World) -> None:
    """/export in a chat: its feeds; an owner in private: every feed. The file parses back."""
    here = await world.send("/export", GROUP_ADMIN)
    assert here is not None
    assert here.file is not None
    assert [f.url for f in parse_opml(here.file.content).feeds] == ["https://cdc.example/feed.xml"]
    every = await world.send("/export", OWNER, private(OWNER))
    assert every is not None
    assert every.file is not None
    urls = {f.url for f in parse_opml(every.file.content).feeds}
    assert urls == {"https://example.org/nida.xml", "https://cdc.example/feed.xml"}


async def test_audit_shows_the_last_n_changes_escaped(world: World) -> None:
    """/audit n lists the newest n changes with who made them, escaped."""
    await world.send("/set cdc silent on", GROUP_ADMIN, name="<Ann>")
    await world.send("/pause", GROUP_ADMIN, name="<Ann>")
    reply = text_of(await world.send("/audit 1", OWNER, private(OWNER)))
    assert "&lt;Ann&gt; in lab: <b>pause</b>" in reply
    assert "silent" not in reply
    assert "1-100" in text_of(await world.send("/audit 500", OWNER, private(OWNER)))


async def test_subs_shows_held_and_failed_posts(world: World) -> None:
    """/subs says how many posts are held by a pause and how many failed."""
    post = world.store.pending_for_channel("lab", world.clock())[0]
    world.store.mark_unsendable(post.delivery.id, "Bad Request: chat not found")
    await world.send("/pause", GROUP_ADMIN)
    reply = text_of(await world.send("/subs", GROUP_ADMIN))
    assert "1 posts held until /resume" in reply
    assert "1 posts failed" in reply


async def test_chat_admins_manage_nothing_when_the_config_says_so(tmp_path: Path) -> None:
    """With [admin] chat_admins = false only owners manage chats."""
    for world in make_world(tmp_path, chat_admins=False):
        assert REFUSED in text_of(await world.send("/pause", GROUP_ADMIN))
        assert REFUSED in text_of(await world.send("/subs", None, NEWS, sender_chat=NEWS.chat_id))
        assert "Paused cdc" in text_of(await world.send("/pause", OWNER))
        assert world.members.lookups == 0


async def test_a_change_made_elsewhere_shows_in_the_next_command(world: World) -> None:
    """A route another service adds (with its audit row) is in the next /subs: the view a
    command reads is rebuilt whenever a change was audited since."""
    assert "follows 1 feed" in text_of(await world.send("/subs", GROUP_ADMIN))
    entry = AuditEntry(world.clock(), OWNER, "owner", "lab", "add", "nida -> lab", "", "backlog 0")
    with world.store.change(entry):
        world.store.add_chat_route("nida", "lab", 0, now=world.clock())
    assert "follows 2 feeds" in text_of(await world.send("/subs", GROUP_ADMIN))


ARGS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    command=st.sampled_from([*(c.split()[0] for c, _ in COMMANDS), "audit"]), args=ARGS, name=ARGS
)
def test_any_arguments_get_a_valid_telegram_html_reply(
    world: World, command: str, args: str, name: str
) -> None:
    """Whatever an admin types after a command (and whatever their name), the reply is HTML
    Telegram accepts: the words are escaped, never taken as markup, and nothing crashes."""
    world.clock.advance(61)  # under the rate limit
    for text in (f"/{command} {args}", f"/{command} cdc {args}"):
        reply = asyncio.run(world.send(text, OWNER, LAB, name=name))
        assert reply is not None
        validate_message_text(reply.text, parse_mode="HTML")


def test_a_status_of_many_feeds_keeps_the_channel_table_and_says_what_is_left_out() -> None:
    """2,000 feeds cannot fit one message: the channels' table is shown whole, the feeds'
    table (failing feeds first, as the service orders them) fills the rest, and the reply
    says how many lines `releasebot status` has beyond it."""
    from bot.render.admin_replies import status_reply
    from tests.fakes.telegram_html import validate_message_text

    feeds = ["feed  last success  fails", "broken  never  7"] + [
        f"feed-{n:04d}  2026-11-30 01:00 UTC  0" for n in range(2000)
    ]
    channels = ["channel  chat  state", "news  @agency_news  paused", "lab  -100200  ok"]
    text = status_reply(feeds, channels)
    validate_message_text(text, parse_mode="HTML")
    assert "broken  never  7" in text
    assert "news  @agency_news  paused" in text
    assert "lab  -100200  ok" in text
    shown = text.count("feed-")
    assert f"… and {len(feeds) - 2 - shown} more lines" in text
