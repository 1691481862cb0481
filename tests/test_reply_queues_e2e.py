"""Readers' replies under hostile load, end to end: the real `releasebot run` process and
the strict fake Bot API.

A flood from one reader gets a few answers and one "slow down"; other readers are
answered meanwhile; a dropped connection does not lose a reply; a slow command does not
hold up another reader's; and SIGTERM with replies queued stops within seconds, leaving
the channel's posts queued in the outbox.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store.codec import release_row
from bot.telegram.reply_tasks import MAX_PENDING_PER_READER
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import DeliveredMessage
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import (
    CHANNEL_A,
    BotProcess,
    Item,
    deliveries,
    one_channel_config,
    rss,
    sent_rows_match_messages,
)

SLOW_DOWN = "Slow down, please"


@dataclass
class Live:
    api: FakeBotAPI
    bot: BotProcess
    config: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`releasebot run` with one feed of six releases, all posted before the tests begin."""
    tmp = tmp_path_factory.mktemp("replies")
    with FakeBotAPI() as api, FeedServer() as feeds:
        api.add_chat(CHANNEL_A, "channel", title="A news")
        url = feeds.serve("/nida.xml", rss(*(Item(n) for n in range(1, 7))))
        config = one_channel_config(tmp, api, url, backlog=2)
        bot = BotProcess(config, token=api.token)
        try:
            bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 2, "the backlog posts")
            yield Live(api, bot, config)
        finally:
            bot.terminate()
            bot.kill()


def replies_to(api: FakeBotAPI, chat: int) -> list[DeliveredMessage]:
    try:
        return api.messages(chat)
    except KeyError:  # the chat does not exist until its reader writes
        return []


def test_a_flood_from_one_reader_gets_a_few_answers_and_one_slow_down(live: Live) -> None:
    """50 commands at once: N answers then one "slow down", the rest dropped (and logged);
    another reader writing after the flood is answered before the flood's last reply."""
    flooder, other = 6001, 6002
    live.api.set_delay("sendMessage", 0.3)  # every command is in before the first reply is out
    try:
        for n in range(50):
            live.api.push_message(flooder, f"/latest {n % 5 + 1}", flooder)
        live.api.push_message(other, "/help", other)
        live.bot.wait_for(
            lambda: any(SLOW_DOWN in m.text for m in replies_to(live.api, flooder)),
            "the slow-down answer",
        )
        live.bot.wait_for(
            lambda: f"reader {flooder} sent commands faster" in live.bot.stderr,
            "the log of the unanswered commands",
        )
    finally:
        live.api.set_delay("sendMessage", 0)
    got = live.api.messages(flooder)
    assert len(got) == MAX_PENDING_PER_READER + 1
    assert [SLOW_DOWN in m.text for m in got] == [False] * MAX_PENDING_PER_READER + [True]
    assert all(m.text.startswith("Latest releases") for m in got[:-1])
    unanswered = 50 - MAX_PENDING_PER_READER
    assert f"reader {flooder} sent commands faster than replies can go: {unanswered}" in (
        live.bot.stderr
    )
    [answer] = live.api.messages(other)
    order = [(m.chat_id, m.message_id) for m in live.api.all_messages()]
    assert order.index((other, answer.message_id)) < order.index((flooder, got[-1].message_id))
    # Once the burst is over, the reader is answered again.
    live.api.push_message(flooder, "/help", flooder)
    live.bot.wait_for(lambda: len(live.api.messages(flooder)) == len(got) + 1, "a new answer")


def test_a_reply_whose_connection_drops_is_sent_again(live: Live) -> None:
    """The connection resets as the reply is sent: it is sent again and arrives once."""
    reader = 6101
    live.api.drop_next("sendMessage")
    live.api.push_message(reader, "/help", reader)
    live.bot.wait_for(lambda: bool(replies_to(live.api, reader)), "the reply")
    live.bot.wait_for(
        lambda: [r.status for r in live.api.requests_for("sendMessage")][-2:] == [0, 200],
        "the dropped send and the one after it",
    )
    [reply] = live.api.messages(reader)
    assert reply.text.startswith("Commands")
    assert "not sent" not in live.bot.stderr


def huge_release(config: Path) -> int:
    """Store a release with a 3 MB title straight into the bot's database (as a feed could
    have before titles were capped at ingest); returns its id. It is old, so /latest skips it.
    """
    title = "Substance use research and policy findings " * 70_000
    release = make_release(99, title=title, published=datetime(2001, 1, 1, tzinfo=UTC))
    row = release_row(release, first_seen=datetime.now(UTC))
    conn = sqlite3.connect(config.parent / "bot.db", timeout=10)
    try:
        with conn:
            cursor = conn.execute(
                f"INSERT INTO releases ({', '.join(row)})"  # noqa: S608
                f" VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
        return int(cursor.lastrowid or 0)
    finally:
        conn.close()


def test_a_slow_command_does_not_hold_up_another_reader(live: Live) -> None:
    """A /cite that takes a second or more to render, then another reader's /latest:
    the /latest is answered first."""
    slow, fast = 6201, 6202
    target = huge_release(live.config)
    live.api.push_message(slow, f"/cite mla #{target}", slow)
    time.sleep(0.2)  # the bot has taken the /cite and is working on it
    live.api.push_message(fast, "/latest", fast)
    live.bot.wait_for(
        lambda: bool(replies_to(live.api, slow) and replies_to(live.api, fast)), "both replies"
    )
    [cited], [latest] = live.api.messages(slow), live.api.messages(fast)
    assert cited.text.startswith(f"#{target} · MLA 9\n\n“Substance Use Research")
    assert latest.text.startswith("Latest releases")
    order = [(m.chat_id, m.message_id) for m in live.api.all_messages()]
    assert order.index((fast, latest.message_id)) < order.index((slow, cited.message_id))


def test_sigterm_with_replies_queued_stops_within_seconds(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """60 commands from two readers and 30 posts owed to a channel, then SIGTERM: the bot
    exits 0 within 10 s without a traceback; the posts not sent stay queued, none is left
    half-sent, and every post the channel received is recorded as sent."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/nida.xml", rss(*(Item(n) for n in range(1, 31))))
    config = one_channel_config(tmp_path, fake_bot_api, url, backlog=30)
    bot = BotProcess(config, token=fake_bot_api.token)
    readers = (6301, 6302)
    try:
        bot.wait_for(lambda: len(fake_bot_api.messages(CHANNEL_A)) >= 1, "the first post")
        for n in range(30):
            for reader in readers:
                fake_bot_api.push_message(reader, f"/search release {n}", reader)
        bot.wait_for(
            lambda: all(replies_to(fake_bot_api, reader) for reader in readers),
            "the first replies",
        )
        assert bot.terminate(timeout=10) == 0
    finally:
        bot.kill()
    states = [row["state"] for row in deliveries(config)]
    assert "sending" not in states
    assert states.count("pending") >= 10  # 1 post a second: most of the 30 still wait
    sent_rows_match_messages(fake_bot_api, config, {CHANNEL_A: "a-news"})
    assert "Traceback" not in bot.stderr
