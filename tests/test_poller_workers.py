"""A round over many due feeds polls them a few at a time, not all at once (soak memory)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.config import settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.services.config_sync import sync_config
from bot.services.poller import WORKERS_PER_SLOT, Poller, PollOutcome
from bot.store import Store
from tests.fakes.feed_server import FeedServer

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FEEDS = 120
CONCURRENCY = 2
BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>News</title>'
    b"<link>https://agency.example/</link><item><guid>one</guid><title>One</title>"
    b"<link>https://agency.example/r/1</link></item></channel></rss>\n"
)


async def test_a_round_of_many_feeds_holds_a_few_polls_at_a_time_and_keeps_their_order(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """120 due feeds with 2 fetch slots: never more than 8 polls (and their tasks) alive
    at once, where there were 120; every feed polled, outcomes in the feeds' order."""
    urls = {f"feed-{n}": feed_server.serve(f"/{n}.xml", BODY) for n in range(FEEDS)}
    settings = settings_from_dict(
        {
            "fetch": {"allow_private_addresses": True, "concurrency": CONCURRENCY},
            "feeds": [{"name": name, "url": url} for name, url in urls.items()],
            "channels": [],
        },
        tmp_path,
    )
    store = Store.open(tmp_path / "releasebot.db")
    sync_config(store, settings, NOW)
    most = 0

    def polled(_: PollOutcome) -> None:
        nonlocal most
        most = max(most, len(asyncio.all_tasks()))

    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
            outcomes = await poller.poll_all(settings.feeds, polled=polled)
    finally:
        store.close()
    assert [outcome.feed for outcome in outcomes] == list(urls)
    assert {outcome.status for outcome in outcomes} == {"ok"}
    # the test's own task and the parse threads' bookkeeping besides the workers
    assert most <= CONCURRENCY * WORKERS_PER_SLOT + 2, f"{most} tasks at once"
