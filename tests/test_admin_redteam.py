"""Red-team findings on the admin side (issue 12): each test shows one defect fixed.

Same world as tests/test_admin_service.py (tests/admin_world.py): a real Store synced from a
real config, getChatMember answered as Telegram would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings, settings_from_dict
from bot.errors import NotFoundError
from bot.services import admin_import
from bot.services.admin_add import Candidate, subscribe
from bot.services.admin_cli import cli_target
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_types import (
    GROUP_ANONYMOUS_BOT,
    Actor,
    AdminReply,
    AdminRequest,
    Upload,
)
from bot.services.config_sync import apply_config
from bot.store import Store
from tests.admin_world import (
    CDC_URL,
    CONFIG,
    ELSEWHERE,
    GROUP_ADMIN,
    LAB,
    OWNER,
    START,
    Members,
    World,
    anonymous,
    make_world,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def text_of(reply: AdminReply | None) -> str:
    assert reply is not None
    return str(reply.text)


@pytest.mark.parametrize("command", ["/set cdc summary_length ²", "/set cdc backlog ³", "/audit ²"])
async def test_a_superscript_digit_is_a_usage_hint_not_a_crash(world: World, command: str) -> None:
    """`/set cdc backlog ³` and `/audit ²` (digits to str.isdigit, not to int) get a hint."""
    before = world.audit_rows()
    reply = await world.send(command, OWNER if command.startswith("/audit") else GROUP_ADMIN, LAB)
    assert "whole number" in text_of(reply) or "Use /audit" in text_of(reply)
    assert world.audit_rows() == before


async def test_a_feed_the_file_retired_comes_back_from_a_chat_no_faster_than_min_interval(
    tmp_path: Path,
) -> None:
    """A feed the file polled every minute, retired, then /add-ed in a chat: polled at most
    every [admin] min_interval (10 min), as any feed added in a chat."""
    url = "https://fast.example/feed.xml"
    base: dict[str, object] = {"bot": {"admins": [OWNER]}}
    declared = {
        **base,
        "feeds": [{"name": "fast", "url": url, "interval": "1m"}],
        "channels": [{"name": "news", "chat": -100100, "feeds": ["fast"]}],
    }
    store = Store.open(tmp_path / "bot.db")
    try:
        apply_config(store, settings_from_dict(declared, tmp_path), START)
        settings = settings_from_dict({**base, "admin": {"min_interval": "10m"}}, tmp_path)
        apply_config(store, settings, START)  # the file no longer declares it: retired
        ctx = AdminContext(
            settings=settings,
            store=store,
            clock=lambda: START,
            members=Members(),
            fetcher=None,
            bot_username="releasebot_test_bot",
        )
        lab = Target(chat_id=LAB.chat_id, kind="supergroup", title=LAB.title)
        done = subscribe(
            ctx, lab, Candidate(url=url, title="Fast"), name="", backlog=0, actor=Actor(OWNER, "o")
        )
        assert done.feed == "fast"
        feed = ctx.view().feed("fast")
        assert feed is not None
        assert feed.origin == "chat"
        assert feed.interval >= 600
    finally:
        store.close()


def reload(world: World, tmp_path: Path, **changes: object) -> Settings:
    """A reload with the file changed: synced, and the admin side told (as Runtime.reroute)."""
    settings = settings_from_dict({**CONFIG, **changes}, tmp_path)
    apply_config(world.store, settings, world.clock())
    world.service.ctx.settings = settings
    return settings


def routes(world: World) -> set[tuple[str, str]]:
    return set(world.store.db.execute("SELECT feed, channel FROM routes").fetchall())


async def test_a_preview_pressed_after_a_reload_gave_its_name_away_subscribes_what_it_showed(
    world: World, tmp_path: Path
) -> None:
    """/add cdc, then a reload declares another feed named "cdc" (the chat's is moved aside
    to "cdc-2"): Subscribe follows the feed the preview showed, not the file's new one."""
    admin_import.register(world.service)
    reply = await world.send("/add cdc", OWNER, ELSEWHERE)
    assert reply is not None
    assert reply.choices
    other = {"name": "cdc", "url": "https://other.example/cdc.xml"}
    reload(world, tmp_path, feeds=[*CONFIG["feeds"], other])
    await world.press(reply.choices[0][0].data, OWNER, ELSEWHERE)
    followed = {feed for feed, channel in routes(world) if channel == "other-group"}
    assert followed == {"cdc-2"}
    assert world.store.feed_by_url(CDC_URL) == ("cdc-2", "chat")


async def test_a_remove_pressed_after_a_reload_renamed_the_chat_removes_only_its_own_route(
    world: World, tmp_path: Path
) -> None:
    """A Lab admin asks /remove cdc; a reload gives the name "lab" to another chat's channel
    (Lab's becomes "lab-2"), whose admin follows cdc there. The press removes Lab's route,
    never the other chat's."""
    admin_import.register(world.service)
    asked = await world.send("/remove cdc", GROUP_ADMIN, LAB)
    assert asked is not None
    assert asked.choices
    elsewhere = {"name": "lab", "chat": ELSEWHERE.chat_id, "feeds": []}
    reload(world, tmp_path, channels=[*CONFIG["channels"], elsewhere])
    added = await world.send("/add cdc", OWNER, ELSEWHERE)
    assert added is not None
    assert added.choices
    await world.press(added.choices[0][0].data, OWNER, ELSEWHERE)
    assert ("cdc", "lab") in routes(world)  # the other chat's, now called "lab"

    await world.press(asked.choices[0][0].data, GROUP_ADMIN, LAB)
    assert ("cdc", "lab") in routes(world)
    assert ("cdc", "lab-2") not in routes(world)


async def test_an_anonymous_admins_import_is_audited_as_their_other_changes_are(
    world: World,
) -> None:
    """An anonymous Lab admin's /set and /import: both audited under the group's name with
    no user id (not as Telegram's placeholder user 1087968824, which is nobody)."""
    admin_import.register(world.service)
    await world.send("/set cdc silent on", **anonymous(LAB), place=LAB, name="Lab & friends")
    nida = (
        '<opml version="2.0"><body><outline xmlUrl="https://example.org/nida.xml"/></body></opml>'
    )
    document = Upload("feeds.opml", "text/x-opml", nida.encode())
    actor = Actor(GROUP_ANONYMOUS_BOT, "Lab & friends", LAB.chat_id)
    await world.service.handle(AdminRequest("import", "", actor, LAB, document))
    imported, tuned = world.store.audit(2)
    assert (imported.action, tuned.action) == ("import", "set")
    assert imported.user_id is None
    assert tuned.user_id is None


async def test_an_import_of_many_urls_does_not_read_every_feed_for_each(world: World) -> None:
    """A chat admin's /import of 500 URLs with 300 feeds followed: the feed list is not read
    once per URL (it was: 10,000 URLs at 2,000 feeds held the bot's event loop, every chat's
    commands and posts, for over a minute). Each URL is still checked and refused."""
    admin_import.register(world.service)
    with world.store.writing():
        for n in range(300):
            url = f"https://f{n}.example/feed.xml"
            world.store.add_chat_feed(f"f{n}", url, title="t", interval=900.0)
    outlines = "".join(f'<outline xmlUrl="https://new{n}.example/x.xml"/>' for n in range(500))
    document = f'<opml version="2.0"><body>{outlines}</body></opml>'.encode()
    every_feed: list[str] = []
    world.store.db.conn.set_trace_callback(
        lambda sql: (
            every_feed.append(sql)
            if sql.endswith("ORDER BY origin = 'chat', position, name")
            else None
        )
    )
    actor = Actor(GROUP_ADMIN, "@admin")
    reply = await world.service.handle(
        AdminRequest("import", "", actor, LAB, Upload("f.opml", "text/x-opml", document))
    )
    world.store.db.conn.set_trace_callback(None)
    assert "500 feeds in the file: 0 added, 0 already there, 500 refused" in text_of(reply)
    assert len(every_feed) < 10


def test_opml_import_to_a_chat_named_with_a_superscript_is_refused_by_name(
    world: World,
) -> None:
    """`releasebot opml import FILE --chat ²`: told which channels there are, not a
    ValueError traceback."""
    with pytest.raises(NotFoundError, match="no channel named"):
        cli_target(world.store, world.service.ctx.settings, "²")
