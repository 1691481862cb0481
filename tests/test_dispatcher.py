"""The outbox dispatcher against the strict fake Bot API, through the real PTB client.

A real Store in tmp_path, a real `Bot` pointed at FakeBotAPI, the real TelegramSender and
Pacer. The Pacer and the fake's rate windows keep Telegram's real ones (1 message per
second per chat, 20 a minute per channel, 30 a second overall) on one virtual clock
(tests/fakes/virtual_time.py) that moves only while the Pacer waits and no call to the
fake is under way: pacing costs no real time, and a send paced too early would meet a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.config import settings_from_dict
from bot.models import Release
from bot.render.post import Post
from bot.services.config_sync import sync_config
from bot.services.dispatcher import Dispatcher
from bot.services.pacing import Pacer
from bot.store import Store
from bot.telegram.sender import TelegramSender, make_bot
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import NOT_MODIFIED
from tests.fakes.virtual_time import VirtualClock

CHANNEL_A, CHANNEL_B, GROUP, SUPERGROUP = -1001, -1002, -4001, -1004001
ADMIN, LURKER = 501, 502  # LURKER never pressed Start in the bot


class Clock:
    """The dispatcher's clock, moved by hand so retry delays pass without waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingSender(TelegramSender):
    """The real sender, counting its calls to Telegram under way (the virtual clock waits
    for them, as Telegram's answer takes no time on it)."""

    under_way = 0

    async def send(self, chat: int | str, post: Post) -> int:
        with self._counted():
            return await super().send(chat, post)

    async def edit(self, chat: int | str, message_id: int, post: Post) -> None:
        with self._counted():
            await super().edit(chat, message_id, post)

    async def send_text(self, chat: int | str, text: str) -> None:
        with self._counted():
            await super().send_text(chat, text)

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        self.under_way += 1
        try:
            yield
        finally:
            self.under_way -= 1


class Harness:
    """Store, settings and dispatcher for one test; `chats` maps channel name to chat id.

    With `pacing_clock`, the Pacer runs on that virtual clock, else on the real one.
    """

    def __init__(
        self,
        tmp_path: Path,
        bot: Bot,
        channels: list[dict[str, Any]],
        pacing_clock: VirtualClock | None = None,
    ) -> None:
        data = {
            "bot": {"database": str(tmp_path / "bot.db"), "admins": [ADMIN, LURKER]},
            "defaults": {"backlog": 10},
            "feeds": [
                {
                    "name": name,
                    "url": f"https://example.org/{name}.xml",
                    "publisher": "National Institute on Drug Abuse",
                    "short_name": name.upper(),
                }
                for name in ("nida", "nih")
            ],
            "channels": channels,
        }
        self.settings = settings_from_dict(data, tmp_path)
        self.store = Store.open(self.settings.database_path)
        self.clock = Clock()
        sync_config(self.store, self.settings, self.clock())
        sender = CountingSender(bot)
        if pacing_clock is not None:  # it moves on only while no call is under way
            others = pacing_clock.quiet  # another Harness's sender on the same clock
            pacing_clock.quiet = lambda: sender.under_way == 0 and others()
        self.dispatcher = Dispatcher(
            self.settings,
            store=self.store,
            sender=sender,
            clock=self.clock,
            pacer=Pacer()
            if pacing_clock is None
            else Pacer(clock=pacing_clock, sleep=pacing_clock.sleep),
            bot_username=bot.username,
        )

    def ingest(self, feed: str, releases: list[Release]) -> None:
        self.store.ingest(feed, releases, now=self.clock(), flood_limit=50)

    def rows(self, channel: str) -> list[dict[str, Any]]:
        """The channel's deliveries, oldest first, with their release URL."""
        return list(
            self.store.db.query(
                "SELECT d.*, r.url FROM deliveries d JOIN releases r ON r.id = d.release_id"
                " WHERE d.channel = ? ORDER BY d.id",
                [channel],
            )
        )


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is read as seconds; opt in to timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def api(vclock: VirtualClock) -> Iterator[FakeBotAPI]:
    with FakeBotAPI(time_scale=1.0, clock=vclock) as fake:
        fake.add_chat(CHANNEL_A, "channel", title="A news")
        fake.add_chat(CHANNEL_B, "channel", title="B news")
        fake.add_chat(GROUP, "group", title="Editors")
        fake.add_chat(ADMIN, "private", title="Ada")
        fake.add_chat(LURKER, "private", title="Lurker", started=False)
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(api.token, base_url=api.base_url) as client:
        yield client


@pytest.fixture
def harness(tmp_path: Path, bot: Bot, vclock: VirtualClock) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*channels: tuple[Any, ...], **extra: Any) -> Harness:
        """Channels as (name, chat, feeds[, settings]); `extra` settings apply to all."""
        specs = [
            {"name": c[0], "chat": c[1], "feeds": c[2], **extra, **(c[3] if len(c) > 3 else {})}
            for c in channels
        ]
        made.append(Harness(tmp_path, bot, specs, vclock))
        return made[-1]

    yield make
    for h in made:
        h.store.close()


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (without blocking the loop) until `check()` holds; fail after `within` seconds."""
    for _ in range(int(within / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def urls(api: FakeBotAPI, chat: int) -> list[str]:
    """The 'Read the release' URL of each message the chat received, in order."""
    return [m.buttons[0]["url"] for m in api.messages(chat)]


def release_url(n: int) -> str:
    return make_release(n).url


async def test_posts_go_oldest_first_and_are_marked_sent_with_their_message_id(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """Each chat gets its posts oldest first, and each delivery records Telegram's message_id."""
    h = harness(("a-news", CHANNEL_A, ["nida"]), ("b-news", CHANNEL_B, ["nida"]))
    h.ingest("nida", [make_release(3), make_release(1), make_release(2)])
    report = await h.dispatcher.drain()
    assert report.sent == 6
    for channel, chat in (("a-news", CHANNEL_A), ("b-news", CHANNEL_B)):
        assert urls(api, chat) == [release_url(1), release_url(2), release_url(3)]
        by_url = {m.buttons[0]["url"]: m.message_id for m in api.messages(chat)}
        for row in h.rows(channel):
            assert (row["state"], row["message_id"]) == ("sent", by_url[row["url"]])
            assert row["attempts"] == 1


async def test_a_send_is_marked_sending_while_telegram_has_it(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """While the call is in flight the delivery is `sending`; once answered, `sent`."""
    h = harness(("a-news", CHANNEL_A, ["nida"]))
    h.ingest("nida", [make_release(1)])
    api.set_delay("sendMessage", 0.4)
    drain = asyncio.create_task(h.dispatcher.drain())
    await eventually(lambda: h.rows("a-news")[0]["state"] != "pending")
    assert h.rows("a-news")[0]["state"] == "sending"
    assert api.messages(CHANNEL_A) == []
    await drain
    [message] = api.messages(CHANNEL_A)
    assert (h.rows("a-news")[0]["state"], h.rows("a-news")[0]["message_id"]) == (
        "sent",
        message.message_id,
    )


async def test_429_pauses_that_chat_for_retry_after_while_others_go_on(
    api: FakeBotAPI, harness: Callable[..., Harness], vclock: VirtualClock
) -> None:
    """A 429 holds its chat for retry_after; another chat's posts go out meanwhile; none is lost."""
    h = harness(("a-news", CHANNEL_A, ["nih"]), ("b-news", CHANNEL_B, ["nida"]))
    api.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 2", parameters={"retry_after": 2}
    )
    h.ingest("nih", [make_release(1, feed="nih"), make_release(2, feed="nih")])
    with vclock.hold():  # B's posts come within A's pause
        drain = asyncio.create_task(h.dispatcher.drain())
        await eventually(lambda: api.rate_limited_count > 0)
        h.ingest("nida", [make_release(n) for n in (3, 4)])
        h.dispatcher.start_workers()  # what the tick job does
        await eventually(lambda: h.rows("b-news")[0]["state"] == "sent")
    await drain
    assert [hit.chat_id for hit in api.rate_limit_hits] == [CHANNEL_A]
    assert urls(api, CHANNEL_A) == [release_url(1), release_url(2)]  # order kept after the 429
    assert urls(api, CHANNEL_B) == [release_url(3), release_url(4)]
    order = [m.chat_id for m in api.all_messages()]
    assert order == [CHANNEL_B] * 2 + [CHANNEL_A] * 2  # B's two went out during A's 2 s pause
    assert {row["state"] for row in h.rows("a-news") + h.rows("b-news")} == {"sent"}


async def test_kicked_channel_pauses_and_tells_each_admin_once(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """403: the channel pauses with Telegram's error kept, its posts wait, each admin hears once."""
    h = harness(("a-news", CHANNEL_A, ["nida"]), ("b-news", CHANNEL_B, ["nida"]))
    api.kick(CHANNEL_A)
    h.ingest("nida", [make_release(1), make_release(2)])
    await h.dispatcher.drain()
    await h.dispatcher.drain()  # a second pass neither sends to A nor tells the admins again
    state = h.store.channel_state("a-news")
    assert state.paused
    assert state.pause_error == "Forbidden: bot was kicked from the channel chat"
    assert [row["state"] for row in h.rows("a-news")] == ["pending", "pending"]
    assert api.messages(CHANNEL_A) == []
    assert urls(api, CHANNEL_B) == [release_url(1), release_url(2)]
    [notice] = api.messages(ADMIN)
    assert "a-news" in notice.text
    assert "kicked" in notice.text
    assert api.messages(LURKER) == []
    to_lurker = [r for r in api.requests_for("sendMessage") if r.params["chat_id"] == str(LURKER)]
    assert [r.status for r in to_lurker] == [403]  # tried once, refused, only logged


async def test_migrated_group_gets_the_post_at_its_new_id(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """A group upgraded to a supergroup: the chat id is updated and the post is sent there."""
    h = harness(("editors", GROUP, ["nida"]))
    api.migrate(GROUP, SUPERGROUP)
    h.ingest("nida", [make_release(1), make_release(2)])
    await h.dispatcher.drain()
    assert urls(api, SUPERGROUP) == [release_url(1), release_url(2)]
    assert h.store.channel_state("editors").chat_id == SUPERGROUP
    rows = h.rows("editors")
    assert [r["message_id"] for r in rows] == [m.message_id for m in api.messages(SUPERGROUP)]


async def test_other_bad_request_fails_with_telegrams_description_and_is_not_retried(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """A 400 about the message fails the delivery with Telegram's words; later drains never
    send it again. "Chat not found" is about the chat: it pauses, the post stays owed."""
    h = harness(("a-news", CHANNEL_A, ["nida"]), ("ghost", -1009999, ["nih"]))
    api.fail_next("sendMessage", 400, "Bad Request: message is too long", chat=CHANNEL_A)
    h.ingest("nida", [make_release(1)])
    h.ingest("nih", [make_release(2, feed="nih")])
    report = await h.dispatcher.drain()
    h.clock.advance(3600)
    await h.dispatcher.drain()
    [too_long] = h.rows("a-news")
    [no_chat] = h.rows("ghost")
    assert (too_long["state"], too_long["error"]) == ("failed", "Message is too long")
    assert (no_chat["state"], no_chat["error"]) == ("pending", "Chat not found")
    assert h.store.channel_state("ghost").pause_error == "Chat not found"
    assert report.failed == 1
    sends = api.requests_for("sendMessage")
    assert len([r for r in sends if r.params["chat_id"].startswith("-")]) == 2  # not to admins
    assert api.messages(CHANNEL_A) == []


async def test_server_errors_are_retried_later_with_growing_backoff(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """A 502 is retried after a delay that grows; the chat's later post waits its turn."""
    h = harness(("a-news", CHANNEL_A, ["nida"]))
    api.fail_next("sendMessage", 502, "Bad Gateway", count=2)
    h.ingest("nida", [make_release(1), make_release(2)])

    def waits() -> float:
        first = h.rows("a-news")[0]
        not_before = datetime.fromisoformat(first["not_before"].replace("Z", "+00:00"))
        return (not_before - h.clock()).total_seconds()

    report = await h.dispatcher.drain()
    assert (report.retrying, report.sent) == (1, 0)
    assert "Bad Gateway" in h.rows("a-news")[0]["error"]
    first_wait = waits()
    await h.dispatcher.drain()  # not due yet: nothing is sent, not even the second post
    assert len(api.requests_for("sendMessage")) == 1
    h.clock.advance(first_wait + 0.5)
    await h.dispatcher.drain()
    second_wait = waits()
    assert 0 < first_wait < second_wait
    h.clock.advance(second_wait + 0.5)
    await h.dispatcher.drain()
    assert urls(api, CHANNEL_A) == [release_url(1), release_url(2)]
    assert [r["state"] for r in h.rows("a-news")] == ["sent", "sent"]


async def test_a_slow_answer_times_out_and_is_retried(
    api: FakeBotAPI, tmp_path: Path, vclock: VirtualClock
) -> None:
    """A send that times out is retried later and ends `sent`; a late copy is the only extra."""
    request = HTTPXRequest(read_timeout=0.3)
    async with make_bot(api.token, base_url=api.base_url, request=request) as slow_bot:
        channels = [{"name": "a-news", "chat": CHANNEL_A, "feeds": ["nida"]}]
        h = Harness(tmp_path, slow_bot, channels, vclock)
        try:
            api.set_delay("sendMessage", 0.8)
            h.ingest("nida", [make_release(1)])
            report = await h.dispatcher.drain()
            assert report.retrying == 1
            assert h.rows("a-news")[0]["state"] == "pending"
            api.set_delay("sendMessage", 0)
            h.clock.advance(60)
            await h.dispatcher.drain()
            await asyncio.sleep(0.6)  # let the late answer to the first call land, if it does
            [row] = h.rows("a-news")
            messages = api.messages(CHANNEL_A)
            assert row["state"] == "sent"
            assert row["message_id"] == messages[-1].message_id
            assert 1 <= len(messages) <= 2  # at least once: the timed-out call may have landed
        finally:
            h.store.close()


async def test_changed_release_is_edited_in_place_with_its_buttons(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """A corrected title edits the message already sent; its buttons are still there."""
    h = harness(("a-news", CHANNEL_A, ["nida"]), ("b-news", CHANNEL_B, ["nida"]))
    h.ingest("nida", [make_release(1)])
    await h.dispatcher.drain()
    before = api.messages(CHANNEL_A)[0]
    h.ingest("nida", [make_release(1, title="Corrected: release one")])
    report = await h.dispatcher.drain()
    assert report.edited == 2
    for chat in (CHANNEL_A, CHANNEL_B):
        [after] = api.messages(chat)
        assert after.text.startswith("Corrected: release one\n")
        assert after.history[0].text.startswith(make_release(1).title)
        assert after.buttons == before.buttons
        assert [b["text"] for b in after.buttons] == ["Read the release", "Cite"]
    assert all(row["needs_edit"] == 0 for row in h.rows("a-news") + h.rows("b-news"))


async def test_message_not_modified_is_not_an_error(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """A change readers cannot see (past the summary cut) of a post sent by an older version,
    which kept no fingerprint of it, gets 'not modified': no error."""
    h = harness(("a-news", CHANNEL_A, ["nida"]), summary_length=40)
    long = "The first sentence is short. " + "More words follow here. " * 20
    h.ingest("nida", [make_release(1, summary=long)])
    await h.dispatcher.drain()
    h.store.db.execute("UPDATE deliveries SET shown_hash = NULL")  # as sent before m005
    h.ingest("nida", [make_release(1, summary=long + "A new last sentence.")])
    report = await h.dispatcher.drain()
    [edit] = api.requests_for("editMessageText")
    assert (edit.status, edit.description) == (400, NOT_MODIFIED)
    [row] = h.rows("a-news")
    assert (row["state"], row["needs_edit"], row["error"]) == ("sent", 0, None)
    assert report.failed == 0
    assert len(api.messages(CHANNEL_A)[0].history) == 0


async def test_hostile_feed_text_reaches_chats_in_every_style(
    api: FakeBotAPI, harness: Callable[..., Harness]
) -> None:
    """Markup-like feed text and a huge summary are accepted by the strict server in each style."""
    h = harness(
        ("a-news", CHANNEL_A, ["nida"], {"citation_style": "mla"}),
        ("b-news", CHANNEL_B, ["nida"], {"citation_style": "bibtex", "summary_length": 3000}),
        ("editors", GROUP, ["nida"], {"citation_style": "none", "link_preview": False}),
    )
    title = "Teens <18 & <b>alcohol</b>"
    h.ingest("nida", [make_release(1, title=title, summary="x < y & z > 0. " * 400)])
    report = await h.dispatcher.drain()
    assert (report.sent, report.failed) == (3, 0)
    for chat in (CHANNEL_A, CHANNEL_B, GROUP):
        [message] = api.messages(chat)
        assert message.text.startswith(title + "\n")
        assert len(message.text) <= 4096
    assert api.messages(GROUP)[0].link_preview_options == {"is_disabled": True}


async def test_pacing_keeps_within_telegrams_real_windows(
    tmp_path: Path, vclock: VirtualClock
) -> None:
    """Against the fake's real (unscaled) windows, a burst of two posts to each of 40
    channels gets no 429 and takes no longer than the windows make it (80 posts at 30 a
    second overall: 2 s)."""
    chats = [-2001 - n for n in range(40)]
    with FakeBotAPI(time_scale=1.0, clock=vclock) as strict:
        for chat in chats:
            strict.add_chat(chat, "channel")
        async with make_bot(strict.token, base_url=strict.base_url) as client:
            channels = [
                {"name": f"c{i}", "chat": chat, "feeds": ["nida"]} for i, chat in enumerate(chats)
            ]
            h = Harness(tmp_path, client, channels, vclock)
            try:
                h.ingest("nida", [make_release(n) for n in (1, 2)])
                started = vclock()
                report = await h.dispatcher.drain()
            finally:
                h.store.close()
        assert report.sent == 80
        assert strict.rate_limited_count == 0
        assert all(urls(strict, chat) == [release_url(n) for n in (1, 2)] for chat in chats)
        assert vclock() - started < 2.1
