"""Channels that are one forum topic of a group, and silent posts (issue 12): the real PTB
client and TelegramSender against the strict fake Bot API, the dispatcher over a real Store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.virtual_time import VirtualClock
from tests.test_dispatcher import Harness

FORUM = -1005001
ADMIN = 501


@pytest.fixture
def api(virtual_bot_api: FakeBotAPI) -> FakeBotAPI:
    virtual_bot_api.add_chat(FORUM, "supergroup", title="Lab", is_forum=True)
    virtual_bot_api.add_chat(ADMIN, "private", title="Ada")
    return virtual_bot_api


@pytest.fixture
async def bot(api: FakeBotAPI) -> Any:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


@pytest.fixture
def harness(tmp_path: Path, bot: Bot, vclock: VirtualClock) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*channels: dict[str, Any]) -> Harness:
        made.append(Harness(tmp_path, bot, list(channels), vclock))
        return made[-1]

    yield make
    for h in made:
        h.store.close()


async def test_each_topic_channel_posts_into_its_topic(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """Two channels on one forum, one per topic: each feed's posts land in its own topic, the
    silent one without a notification."""
    grants = api.create_topic(FORUM, "Grants")
    drugs = api.create_topic(FORUM, "Drugs")
    h = harness(
        {"name": "grants", "chat": FORUM, "thread": grants, "feeds": ["nih"], "silent": True},
        {"name": "drugs", "chat": FORUM, "thread": drugs, "feeds": ["nida"]},
    )
    h.ingest("nida", [make_release(1)])
    h.ingest("nih", [make_release(2, feed="nih")])
    report = await h.dispatcher.drain()
    assert (report.sent, report.failed) == (2, 0)
    posts = {m.message_thread_id: m for m in api.messages(FORUM)}
    assert set(posts) == {grants, drugs}
    assert make_release(2).title in posts[grants].text
    assert make_release(1).title in posts[drugs].text
    assert (posts[grants].disable_notification, posts[drugs].disable_notification) == (True, False)


async def test_a_closed_topic_pauses_its_channel_and_keeps_the_posts(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """TOPIC_CLOSED: that topic's channel pauses with every post owed; the other topic goes on."""
    grants = api.create_topic(FORUM, "Grants")
    drugs = api.create_topic(FORUM, "Drugs")
    h = harness(
        {"name": "grants", "chat": FORUM, "thread": grants, "feeds": ["nih"]},
        {"name": "drugs", "chat": FORUM, "thread": drugs, "feeds": ["nida"]},
    )
    api.close_topic(FORUM, grants)
    h.ingest("nih", [make_release(n, feed="nih") for n in (1, 2)])
    h.ingest("nida", [make_release(3)])
    report = await h.dispatcher.drain()
    assert report.failed == 0
    assert [row["state"] for row in h.rows("grants")] == ["pending", "pending"]
    state = h.store.channel_state("grants")
    assert state.paused
    assert "TOPIC_CLOSED" in (state.pause_error or "").upper()
    assert [m.message_thread_id for m in api.messages(FORUM)] == [drugs]
