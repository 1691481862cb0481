"""/add and /import through the real AdminService (bot/services/admin.py) for each role:
owner, chat admin (with and without [admin] chat_admins_add_feeds), anonymous admin, plain
member, and a button pressed by someone other than the one who asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import FetchSettings
from bot.fetch.client import Fetcher
from bot.services.admin_import import register
from bot.services.admin_types import Actor, AdminReply, AdminRequest, Upload
from tests.admin_world import GROUP_ADMIN, LAB, MEMBER, OWNER, World, anonymous, make_world
from tests.fakes.feed_server import FeedServer

FEED = (
    b'<rss version="2.0"><channel><title>Health Agency</title>'
    b"<item><guid>a</guid><title>First</title><link>https://h.example/1</link>"
    b"<pubDate>Tue, 01 Apr 2014 10:00:00 -0400</pubDate></item>"
    b"<item><guid>b</guid><title>Second</title><link>https://h.example/2</link>"
    b"<pubDate>Wed, 02 Apr 2014 10:00:00 -0400</pubDate></item></channel></rss>"
)


async def _world(tmp_path: Path, **admin: Any) -> AsyncIterator[World]:
    worlds = make_world(tmp_path, **admin)
    world = next(worlds)
    fetcher = Fetcher(FetchSettings(allow_private_addresses=True, timeout=5), user_agent="t")
    world.service.ctx.fetcher = fetcher
    register(world.service)
    try:
        yield world
    finally:
        await fetcher.aclose()
        worlds.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in _world(tmp_path):
        yield made


def button(reply: AdminReply | None, label: str) -> str:
    assert reply is not None
    return next(c.data for row in reply.choices for c in row if c.text.startswith(label))


def routed(world: World, feed: str) -> bool:
    return world.service.ctx.view().route(feed, "lab") is not None


async def test_owner_adds_a_new_url_and_subscribes(world: World, feed_server: FeedServer) -> None:
    """An owner's /add of a new URL previews it; their press subscribes the chat."""
    url = feed_server.serve("/h.xml", FEED)
    reply = await world.send(f"/add {url}", OWNER)
    assert reply is not None
    assert "Health Agency" in reply.text
    done = await world.press(button(reply, "Subscribe: newest 1"), OWNER)
    assert "subscribed" in done.text
    assert routed(world, "health-agency")
    assert world.deliveries("lab") == {"pending": 3}  # cdc's two, and the newest here
    assert world.woken == 1  # the dispatcher is started: the post goes out now


async def test_no_backlog_does_not_wake_the_dispatcher(world: World) -> None:
    """Nothing owed at once, nothing to start."""
    reply = await world.send("/add nida", OWNER)
    await world.press(button(reply, "Subscribe: no backlog"), OWNER)
    assert routed(world, "nida")
    assert world.woken == 0


async def test_a_chat_admin_may_not_add_a_new_url_by_default(
    world: World, feed_server: FeedServer
) -> None:
    """A chat admin without chat_admins_add_feeds: refused, nothing fetched."""
    url = feed_server.serve("/h.xml", FEED)
    reply = await world.send(f"/add {url}", GROUP_ADMIN)
    assert reply is not None
    assert "only the bot's owners may follow a new feed URL" in reply.text
    assert feed_server.hits("/h.xml") == 0


async def test_a_chat_admin_may_add_a_new_url_with_the_setting(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """With chat_admins_add_feeds = true a chat admin may follow a new URL."""
    url = feed_server.serve("/h.xml", FEED)
    async for world in _world(tmp_path, chat_admins_add_feeds=True):
        reply = await world.send(f"/add {url}", GROUP_ADMIN)
        await world.press(button(reply, "Subscribe: no backlog"), GROUP_ADMIN)
        assert routed(world, "health-agency")


async def test_a_chat_admin_subscribes_to_a_known_feed(world: World) -> None:
    """Chat admins may always subscribe their chat to a feed the bot follows."""
    reply = await world.send("/add nida", GROUP_ADMIN)
    assert reply is not None
    assert "already followed" in reply.text
    await world.press(button(reply, "Subscribe: newest 5"), GROUP_ADMIN)
    assert routed(world, "nida")
    assert world.audit_rows() == 1


async def test_an_anonymous_admin_subscribes(world: World) -> None:
    """A message sent as the group counts as its admin's."""
    reply = await world.send("/add nida", **anonymous(LAB))
    assert reply is not None
    assert reply.choices


async def test_a_plain_member_is_refused(world: World, feed_server: FeedServer) -> None:
    """A member's /add changes nothing and fetches nothing."""
    url = feed_server.serve("/h.xml", FEED)
    reply = await world.send(f"/add {url}", MEMBER)
    assert reply is not None
    assert not reply.choices
    assert feed_server.hits("/h.xml") == 0
    assert world.audit_rows() == 0


async def test_a_chat_admin_cannot_press_an_owners_new_feed_through(
    world: World, feed_server: FeedServer
) -> None:
    """The press is checked for the one who presses: a chat admin may not complete an
    owner's /add of a new URL (chat_admins_add_feeds is off)."""
    url = feed_server.serve("/h.xml", FEED)
    reply = await world.send(f"/add {url}", OWNER)
    done = await world.press(button(reply, "Subscribe: newest 1"), GROUP_ADMIN)
    assert "only the bot's owners" in done.text
    assert not routed(world, "health-agency")


async def test_a_member_cannot_press(world: World) -> None:
    """A plain member's press is refused by the core; nothing changes."""
    reply = await world.send("/add nida", GROUP_ADMIN)
    await world.press(button(reply, "Subscribe: newest 1"), MEMBER)
    assert not routed(world, "nida")


async def test_import_needs_a_document(world: World) -> None:
    """/import without an OPML file says how to send one."""
    reply = await world.send("/import", OWNER)
    assert reply is not None
    assert "caption of an OPML file" in reply.text


async def test_import_with_a_document_subscribes(world: World, feed_server: FeedServer) -> None:
    """/import with an OPML document: one summary message."""
    url = feed_server.serve("/h.xml", FEED)
    opml = (
        f'<opml version="2.0"><body><outline xmlUrl="{url}"/>'
        '<outline xmlUrl="https://example.org/nida.xml"/></body></opml>'
    ).encode()
    request = AdminRequest(
        "import", "", Actor(OWNER, "owner"), LAB, upload=Upload("f.opml", "text/xml", opml)
    )
    reply = await world.service.handle(request)
    assert reply is not None
    assert "2 feeds in the file: 2 added" in reply.text
    assert routed(world, "nida")
    assert routed(world, "health-agency")
