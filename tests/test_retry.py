"""Re-queuing failed posts: the store query and the pure texts of `releasebot retry` and /retry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import RouteSpec
from bot.render.command_args import CommandArgumentError
from bot.render.post import MAX_TEXT
from bot.render.retry import (
    FailedPost,
    RetryRequest,
    failed_lines,
    failed_list_reply,
    parse_retry,
    requeued_reply,
    requeued_summary,
)
from bot.store import Store
from tests.factories import make_release
from tests.fakes.telegram_html import validate_message_text

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "test.db")
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes(
        [("a-news", "@a"), ("b-news", "@b")],
        [RouteSpec("nida", "a-news", 3), RouteSpec("nida", "b-news", 3)],
        now=NOW,
    )
    store.ingest("nida", [make_release(n) for n in (1, 2, 3)], now=NOW, flood_limit=10)
    yield store
    store.close()


def fail(store: Store, channel: str, n: int, error: str = "Message is too long") -> int:
    """Send and fail the n-th pending post of a channel; returns its delivery id."""
    delivery = store.pending_for_channel(channel, NOW)[n - 1].delivery
    store.mark_sending(delivery.id)
    store.mark_failed(delivery.id, error)
    return delivery.id


def test_requeue_makes_failed_posts_pending_again_in_their_place(store):
    """Failed rows become pending, attempts reset, error kept; sent and pending rows untouched."""
    first = fail(store, "a-news", 1)
    fail(store, "b-news", 2)
    sent = store.pending_for_channel("a-news", NOW)[0].delivery  # release 2: sent
    store.mark_sending(sent.id)
    store.mark_sent(sent.id, 9, NOW)
    assert store.requeue_failed() == {"a-news": 1, "b-news": 1}
    again = [owed.delivery for owed in store.pending_for_channel("a-news", NOW)]
    assert (len(again), again[0].id) == (2, first)  # in its place: before release 3
    assert (again[0].attempts, again[0].error) == (0, "Message is too long")
    assert store.requeue_failed() == {}
    counts = store.delivery_counts()
    assert counts["a-news"] == {"pending": 2, "sent": 1}


def test_requeue_by_channel_or_by_delivery(store):
    """--channel and --delivery narrow what is re-queued; a delivery not failed matches nothing."""
    a1, b1, b3 = fail(store, "a-news", 1), fail(store, "b-news", 1), fail(store, "b-news", 2)
    assert store.requeue_failed(channel="a-news") == {"a-news": 1}
    assert store.requeue_failed(delivery_id=a1) == {}
    assert [d.id for d in store.failed_deliveries()] == [b1, b3]
    assert store.requeue_failed(channel="b-news", delivery_id=b3) == {"b-news": 1}
    assert [d.id for d in store.failed_deliveries("b-news")] == [b1]


def test_the_texts_name_each_failed_post_and_count_what_was_requeued():
    """The CLI lines and the replies say which posts, where, and why."""
    posts = [FailedPost(12, "a-news", 5, "Teens <18 & vaping", "Message is too long")]
    assert failed_lines(posts) == [
        "delivery 12  a-news  #5  Teens <18 & vaping",
        "    Message is too long",
    ]
    assert (
        requeued_summary({"a-news": 2, "b-news": 1})
        == "re-queued 3 failed posts (a-news 2, b-news 1)"
    )
    assert requeued_summary({}) == ""
    assert requeued_reply({"a-news": 1}).text.startswith("Re-queued 1 failed post (a-news 1).")
    assert requeued_reply({}).text == "No failed posts to retry."
    listed = validate_message_text(failed_list_reply(posts).text, parse_mode="HTML")
    assert listed.text.startswith("Failed posts (1)\n\na-news · #5 Teens <18 & vaping\n")


def test_retry_arguments():
    """Nothing, `list`, or a channel's name (any case); anything else names the channels."""
    channels = ["a-news", "b-news"]
    assert parse_retry("", channels) == RetryRequest(listing=False, channel=None)
    assert parse_retry(" LIST ", channels) == RetryRequest(listing=True, channel=None)
    assert parse_retry("B-News", channels) == RetryRequest(listing=False, channel="b-news")
    with pytest.raises(CommandArgumentError, match="channels: a-news, b-news"):
        parse_retry("c-news", channels)


@given(
    st.lists(
        st.builds(
            FailedPost,
            st.integers(1, 10**9),
            st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True),
            st.integers(1, 10**9),
            st.text(max_size=3000),
            st.text(max_size=3000),
        ),
        max_size=80,
    )
)
def test_the_failed_list_is_always_one_valid_message(posts):
    """Whatever the titles and errors hold, /retry list is valid HTML that fits one message."""
    parsed = validate_message_text(failed_list_reply(posts).text, parse_mode="HTML")
    assert len(parsed.text) <= MAX_TEXT
