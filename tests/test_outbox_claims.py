"""A post is sent once even when two processes drain one outbox: every state change is
conditional, and a sender skips a delivery it could not take.

Two `Store` objects on one file are two SQLite connections, as two processes have.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot

from bot.models import RouteSpec
from bot.store import Store
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.virtual_time import VirtualClock
from tests.test_dispatcher import ADMIN, Harness

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CHATS = {"a-news": -1001, "b-news": -1002, "c-news": -1003}


def one_delivery(path: Path) -> tuple[Store, Store, int]:
    """Two connections to a new database holding one pending delivery; its id."""
    first = Store.open(path)
    first.sync_feeds([("nida", "https://example.org/feed")])
    first.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 1)], now=NOW)
    first.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    [owed] = first.pending_for_channel("news", NOW)
    return first, Store.open(path), owed.delivery.id


def row(store: Store, delivery_id: int) -> dict[str, object]:
    return next(store.db.query("SELECT * FROM deliveries WHERE id = ?", [delivery_id]))


def test_a_delivery_taken_by_one_process_cannot_be_taken_by_another(tmp_path: Path) -> None:
    """The second connection's mark_sending on a row the first took changes nothing."""
    first, second, delivery = one_delivery(tmp_path / "bot.db")
    try:
        assert first.mark_sending(delivery) is True
        assert second.mark_sending(delivery) is False
        assert first.mark_sent(delivery, 77, NOW) is True
        assert second.mark_sending(delivery) is False
        current = row(second, delivery)
        assert (current["state"], current["message_id"], current["attempts"]) == ("sent", 77, 1)
    finally:
        first.close()
        second.close()


def test_a_late_writer_cannot_re_queue_or_fail_a_post_already_sent(tmp_path: Path) -> None:
    """Once sent, a retry, a failure or another 'sent' from elsewhere leaves the row alone."""
    first, second, delivery = one_delivery(tmp_path / "bot.db")
    try:
        first.mark_sending(delivery)
        first.mark_sent(delivery, 77, NOW)
        assert second.mark_retry(delivery, "timed out", NOW) is False
        assert second.mark_failed(delivery, "Bad Request") is False
        assert second.mark_unsendable(delivery, "release gone") is False
        assert second.mark_dry_run(delivery, NOW) is False
        assert second.mark_sent(delivery, 78, NOW) is False
        assert first.pending_for_channel("news", NOW) == []
        current = row(second, delivery)
        assert (current["state"], current["message_id"], current["error"]) == ("sent", 77, None)
    finally:
        first.close()
        second.close()


# Each operation with the state it needs and the state it leaves.
TRANSITIONS = {
    "take": ("pending", "sending"),
    "sent": ("sending", "sent"),
    "retry": ("sending", "pending"),
    "failed": ("sending", "failed"),
    "unsendable": ("pending", "failed"),
    "dry_run": ("pending", "dry_run"),
}


def apply(store: Store, operation: str, delivery: int, n: int) -> bool:
    if operation == "take":
        return store.mark_sending(delivery)
    if operation == "sent":
        return store.mark_sent(delivery, 100 + n, NOW)
    if operation == "retry":
        return store.mark_retry(delivery, "timed out", NOW)
    if operation == "failed":
        return store.mark_failed(delivery, "Bad Request")
    if operation == "unsendable":
        return store.mark_unsendable(delivery, "release gone")
    return store.mark_dry_run(delivery, NOW)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(sorted(TRANSITIONS)), st.booleans()), max_size=12))
def test_interleaved_writers_follow_the_state_machine_and_send_once(
    steps: list[tuple[str, bool]],
) -> None:
    """Whatever two connections do in whatever order, each change happens only from the state
    it needs, and a delivery is recorded sent at most once (with the first message id)."""
    with tempfile.TemporaryDirectory() as folder:
        first, second, delivery = one_delivery(Path(folder) / "bot.db")
        try:
            state, sent = "pending", []
            for n, (operation, use_second) in enumerate(steps):
                changed = apply(second if use_second else first, operation, delivery, n)
                needs, leaves = TRANSITIONS[operation]
                assert changed == (state == needs), (operation, state)
                if changed:
                    state = leaves
                    sent += [100 + n] if operation == "sent" else []
            current = row(first, delivery)
            assert current["state"] == state
            assert len(sent) <= 1
            if sent:
                assert current["message_id"] == sent[0]
        finally:
            first.close()
            second.close()


# --- two dispatchers, no lock ---------------------------------------------------------


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is read as seconds; opt in to timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def api(virtual_bot_api: FakeBotAPI) -> FakeBotAPI:
    for name, chat in CHATS.items():
        virtual_bot_api.add_chat(chat, "channel", title=name)
    virtual_bot_api.add_chat(ADMIN, "private", title="Ada")
    return virtual_bot_api


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


async def test_two_dispatchers_draining_one_outbox_send_each_post_once(
    tmp_path: Path, api: FakeBotAPI, bot: Bot, vclock: VirtualClock
) -> None:
    """Two senders (own connections and pacers, same file) at once: every post reaches its
    channel exactly once, and each delivery is sent with that message's id. (Their pacers
    do not share windows, so some sends meet 429s and are retried: still once each.)"""
    api.set_delay("sendMessage", 0.05)  # sends stay in flight while the other one reads
    channels = [(name, chat, ["nida"]) for name, chat in CHATS.items()]
    specs = [{"name": n, "chat": c, "feeds": f} for n, c, f in channels]
    one, two = Harness(tmp_path, bot, specs, vclock), Harness(tmp_path, bot, specs, vclock)
    try:
        one.ingest("nida", [make_release(n) for n in (1, 2, 3)])
        await asyncio.gather(one.dispatcher.drain(), two.dispatcher.drain())
        for name, chat in CHATS.items():
            received = Counter(m.buttons[0]["url"] for m in api.messages(chat))
            assert received == {make_release(n).url: 1 for n in (1, 2, 3)}, name
            by_url = {m.buttons[0]["url"]: m.message_id for m in api.messages(chat)}
            for delivery in one.rows(name):
                assert delivery["state"] == "sent"
                assert delivery["message_id"] == by_url[delivery["url"]]
        assert one.dispatcher.report.sent + two.dispatcher.report.sent == 9
    finally:
        one.store.close()
        two.store.close()
