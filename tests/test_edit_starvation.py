"""A feed that rewrites its entries on every poll cannot starve a chat with edits.

A real Store in tmp_path, the real Dispatcher and TelegramSender, a real PTB `Bot` against
the strict fake Bot API, and a clock moved by hand. No pacer, and the fake's windows shrunk
to microseconds: what is shown here is the order and number of calls, not their pacing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.config import settings_from_dict
from bot.models import Release
from bot.render.post import Post
from bot.services.config_sync import sync_config
from bot.services.dispatcher import Dispatcher
from bot.store import Store
from bot.telegram.sender import TelegramSender, make_bot
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI

CHANNEL = -1001
NOISY = range(1, 6)  # the releases of the feed that rewrites every title ("nida")
NEWS = range(101, 113)  # another feed's twelve new posts ("nih")
DAY = timedelta(days=1)


class EditHook(TelegramSender):
    """The real sender; `before_edit` runs while an edit is under way (before Telegram has it)."""

    before_edit: Callable[[], None] = staticmethod(lambda: None)

    async def edit(self, chat: int | str, message_id: int, post: Post) -> None:
        self.before_edit()
        await super().edit(chat, message_id, post)


class Harness:
    """One channel fed by 'nida' and 'nih'; a clock moved by hand."""

    def __init__(self, tmp_path: Path, bot: Bot, api: FakeBotAPI, **channel: Any) -> None:
        data = {
            "bot": {"database": str(tmp_path / "bot.db"), "admins": [501]},
            "defaults": {"backlog": 10},
            "feeds": [
                {"name": name, "url": f"https://example.org/{name}.xml", "publisher": name.upper()}
                for name in ("nida", "nih")
            ],
            "channels": [{"name": "news", "chat": CHANNEL, "feeds": ["nida", "nih"], **channel}],
        }
        self.api = api
        self.settings = settings_from_dict(data, tmp_path)
        self.store = Store.open(self.settings.database_path)
        self.now = datetime.now(UTC)
        sync_config(self.store, self.settings, self.now)
        self.sender = EditHook(bot)
        self.dispatcher = Dispatcher(
            self.settings,
            store=self.store,
            sender=self.sender,
            clock=lambda: self.now,
            pacer=None,
            bot_username=bot.username,
        )

    def poll(self, feed: str, releases: list[Release], minutes: float = 1) -> None:
        """A poll `minutes` after the last one, storing `releases`."""
        self.now += timedelta(minutes=minutes)
        self.store.ingest(feed, releases, now=self.now, flood_limit=50)

    def edits(self) -> dict[str, int]:
        """How many times each message was edited, by its first line (the title it had first)."""
        return {
            (m.history[0].text if m.history else m.text).split("\n")[0]: len(m.history)
            for m in self.api.messages(CHANNEL)
        }

    def calls(self) -> list[str]:
        """Each answered send or edit to the channel, in order: 'send <title>' or 'edit'."""
        return [
            "edit" if r.method == "editMessageText" else "send " + first_line(r.params["text"])
            for r in self.api.requests
            if r.method in ("sendMessage", "editMessageText") and r.status == 200
        ]


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(time_scale=0.00001) as server:
        server.add_chat(CHANNEL, "channel", title="News")
        server.add_chat(501, "private", title="Ada")
        yield server


@pytest.fixture
async def harness(tmp_path: Path, api: FakeBotAPI) -> AsyncIterator[Harness]:
    async with make_bot(api.token, base_url=api.base_url) as bot:
        h = Harness(tmp_path, bot, api)
        try:
            yield h
        finally:
            h.store.close()


def first_line(html: str) -> str:
    """The headline of a post as sent (HTML), without its markup."""
    return re.sub(r"<[^>]+>", "", html.split("\n", 1)[0])


def rewritten(poll: int) -> list[Release]:
    """The noisy feed on its `poll`-th poll: every title reworded, as such feeds do."""
    return [make_release(n, title=f"Release {n} (revision {poll}) on research") for n in NOISY]


def news(n: int) -> Release:
    return make_release(n, feed="nih", key=f"nih-{n}", url=f"https://nih.example.org/{n}")


async def posted(h: Harness) -> None:
    """Both feeds posted once: the noisy feed's releases and one earlier release of 'nih'."""
    h.poll("nida", rewritten(0))
    h.poll("nih", [news(100)])
    await h.dispatcher.drain()
    assert len(h.api.messages(CHANNEL)) == len(NOISY) + 1


async def test_new_posts_go_out_before_edits(harness: Harness) -> None:
    """A feed rewording every title on every poll: another feed's 12 new posts, found in the
    same round, all go out before any of the edits."""
    h = harness
    await posted(h)
    for poll in range(1, 4):
        h.poll("nida", rewritten(poll))
        h.poll("nih", [news(n) for n in NEWS] if poll == 2 else [], minutes=0)
        calls_before = len(h.calls())
        await h.dispatcher.drain()
        arrived = h.calls()[calls_before:]
        sends = [call for call in arrived if call != "edit"]
        assert arrived == sends + ["edit"] * (len(arrived) - len(sends)), poll
    assert [first_line(m.html) for m in h.api.messages(CHANNEL)[-12:]] == [
        news(n).title for n in NEWS
    ]


async def test_each_post_gets_at_most_three_edits_a_day_then_the_latest_in_one(
    harness: Harness,
) -> None:
    """A feed rewording every title on every poll gets at most 3 edits per post in a day;
    the day after, the latest wording arrives in one edit, and the other feed's posts none."""
    h = harness
    await posted(h)
    for poll in range(1, 9):
        h.poll("nida", rewritten(poll))
        await h.dispatcher.drain()
    edits = h.edits()
    assert all(edits[f"Release {n} (revision 0) on research"] == 3 for n in NOISY)
    assert edits[news(100).title] == 0
    h.now += DAY
    await h.dispatcher.drain()
    await h.dispatcher.drain()
    for n in NOISY:
        [message] = [m for m in h.api.messages(CHANNEL) if m.history and f"Release {n} " in m.text]
        assert len(message.history) == 4
        assert message.text.startswith(f"Release {n} (revision 8) on research\n")


async def test_spacing_case_and_tracking_churn_cost_no_edit(harness: Harness) -> None:
    """A feed respacing its summary, recasing its title or renewing the utm_source of a link
    in it, poll after poll, gets no edit: the post already says the same."""
    h = harness
    link = "https://www.nih.gov/news/1"
    first = make_release(1, summary=f"Teens drink less.\n\nDetails: {link}?utm_source=rss")
    h.poll("nida", [first])
    await h.dispatcher.drain()
    for poll, churned in enumerate(
        [
            replace(first, summary=f"Teens  drink less. Details: {link}?utm_source=rss"),
            replace(first, title=first.title.upper()),
            replace(first, summary=f"Teens drink less.\n\nDetails: {link}?utm_source=x&fbclid=2"),
            replace(first, summary=f" Teens drink\u00a0less.\n\nDetails: {link}"),
        ]
    ):
        h.poll("nida", [churned])
        await h.dispatcher.drain()
        assert h.api.requests_for("editMessageText") == [], poll
    [message] = h.api.messages(CHANNEL)
    assert message.text.startswith(first.title + "\n")
    assert h.store.db.execute("SELECT needs_edit FROM deliveries").fetchall() == [(0,)]


async def test_a_real_title_change_is_edited_once(harness: Harness) -> None:
    """A corrected title is edited in once; the feed then respacing or recasing it, or
    listing it again unchanged, edits nothing more."""
    h = harness
    h.poll("nida", [make_release(1)])
    await h.dispatcher.drain()
    corrected = make_release(1, title="Corrected: teens drink less")
    for again in (
        corrected,
        corrected,
        replace(corrected, title="  Corrected:  Teens drink LESS "),
        replace(corrected, title="Corrected: teens\tdrink less"),
    ):
        h.poll("nida", [again])
        await h.dispatcher.drain()
    [edit] = h.api.requests_for("editMessageText")
    assert edit.status == 200
    [message] = h.api.messages(CHANNEL)
    assert message.text.startswith("Corrected: teens drink less\n")
    assert len(message.history) == 1


async def test_a_change_past_the_summary_cut_costs_no_call(tmp_path: Path, api: FakeBotAPI) -> None:
    """A sentence added beyond what the post shows of the summary changes nothing a reader
    sees: no edit is sent at all (before, the call was made and answered 'not modified')."""
    async with make_bot(api.token, base_url=api.base_url) as bot:
        h = Harness(tmp_path, bot, api, summary_length=40)
        try:
            long = "The first sentence is short. " + "More words follow here. " * 20
            h.poll("nida", [make_release(1, summary=long)])
            await h.dispatcher.drain()
            h.poll("nida", [make_release(1, summary=long + "A new last sentence.")])
            await h.dispatcher.drain()
            assert api.requests_for("editMessageText") == []
            assert h.store.db.execute("SELECT needs_edit FROM deliveries").fetchall() == [(0,)]
        finally:
            h.store.close()


async def test_a_change_recorded_while_its_edit_is_under_way_is_edited_in_next(
    harness: Harness,
) -> None:
    """The feed changes a title again while the edit of its first change is under way: the
    second change is not lost, it follows in a second edit."""
    h = harness
    h.poll("nida", [make_release(1)])
    await h.dispatcher.drain()

    def poll_during_edit() -> None:
        h.sender.before_edit = lambda: None
        h.poll("nida", [make_release(1, title="Second correction")], minutes=0)

    h.sender.before_edit = poll_during_edit
    h.poll("nida", [make_release(1, title="First correction")])
    await h.dispatcher.drain()
    [message] = h.api.messages(CHANNEL)
    assert message.text.startswith("Second correction\n")
    assert [v.text.split("\n")[0] for v in message.history] == [
        make_release(1).title,
        "First correction",
    ]


async def test_a_post_sent_before_its_group_became_a_supergroup_is_not_edited_there(
    tmp_path: Path, api: FakeBotAPI
) -> None:
    """A correction to a post the group got before it became a supergroup edits nothing in
    the supergroup, where that message id now belongs to another post."""
    group, supergroup = -4001, -1004001
    api.add_chat(group, "group", title="Editors")
    async with make_bot(api.token, base_url=api.base_url) as bot:
        h = Harness(tmp_path, bot, api, chat=group)
        try:
            h.poll("nida", [make_release(1), make_release(2)])
            await h.dispatcher.drain()
            api.migrate(group, supergroup)
            h.poll("nida", [make_release(1), make_release(2), make_release(3)])
            await h.dispatcher.drain()
            h.poll("nida", [make_release(2, title="Corrected title"), make_release(3)])
            await h.dispatcher.drain()
        finally:
            h.store.close()
    assert [m.text.split("\n")[0] for m in api.messages(supergroup)] == [make_release(3).title]
    assert [len(m.history) for m in api.messages(supergroup)] == [0]
    assert [m.text.split("\n")[0] for m in api.messages(group)] == [
        make_release(1).title,
        make_release(2).title,
    ]
