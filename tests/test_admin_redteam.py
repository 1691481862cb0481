"""Red-team findings on the admin side (issue 12): each test shows one defect fixed.

Same world as tests/test_admin_service.py (tests/admin_world.py): a real Store synced from a
real config, getChatMember answered as Telegram would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import settings_from_dict
from bot.services.admin_add import Candidate, subscribe
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_types import Actor, AdminReply
from bot.services.config_sync import apply_config
from bot.store import Store
from tests.admin_world import GROUP_ADMIN, LAB, OWNER, START, Members, World, make_world


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
