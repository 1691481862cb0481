"""A round's workers share out the hosts: a hanging host or a broken URL stops no other feed."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings, settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.services.config_sync import sync_config
from bot.services.poller import Poller, PollOutcome
from bot.store import Store
from tests.fakes.feed_server import FeedServer, Route

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>News</title>'
    b"<link>https://agency.example/</link><item><guid>one</guid><title>One</title>"
    b"<link>https://agency.example/r/1</link></item></channel></rss>\n"
)


def _settings(tmp_path: Path, urls: dict[str, str], **fetch: object) -> Settings:
    return settings_from_dict(
        {
            "fetch": {"allow_private_addresses": True, "timeout": 60, **fetch},
            "feeds": [{"name": name, "url": url} for name, url in urls.items()],
            "channels": [],
        },
        tmp_path,
    )


async def test_a_hanging_host_does_not_hold_up_the_feeds_of_another_host(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """One host hangs (10 feeds, 1 fetch at a time per host, 2 in all): the other host's
    10 feeds are all polled meanwhile, as when each feed had its own coroutine."""
    fast = {f"fast-{n}": feed_server.serve(f"/{n}.xml", BODY) for n in range(10)}
    with FeedServer(host="127.0.0.2") as hanging:
        slow = {f"slow-{n}": hanging.route(f"/{n}.xml", Route(BODY, delay=60)) for n in range(10)}
        # the hanging host's feeds first, in turn with the others
        pairs = zip(slow.items(), fast.items(), strict=True)
        urls = {name: url for pair in pairs for name, url in pair}
        settings = _settings(tmp_path, urls, concurrency=2, per_host=1)
        store = Store.open(tmp_path / "releasebot.db")
        sync_config(store, settings, NOW)
        fast_done = asyncio.Event()
        finished: list[str] = []

        def polled(outcome: PollOutcome) -> None:
            finished.append(outcome.feed)
            if set(fast) <= set(finished):
                fast_done.set()

        try:
            async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
                poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
                round_ = asyncio.create_task(poller.poll_all(settings.feeds, polled=polled))
                try:
                    await asyncio.wait_for(fast_done.wait(), timeout=10)
                finally:
                    hanging.stop()  # its answers give up: the round ends
                    outcomes = await round_
        finally:
            store.close()
    assert [o.feed for o in outcomes] == list(urls)
    assert {o.status for o in outcomes if o.feed in fast} == {"ok"}


async def test_a_feed_url_python_cannot_split_fails_that_feed_alone(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A config URL with a broken IPv6 host (accepted by the config) is that feed's error;
    the round still polls the other feed (it used to end every round before any poll)."""
    urls = {"good": feed_server.serve("/good.xml", BODY), "typo": "http://[::1/feed.xml"}
    settings = _settings(tmp_path, urls)
    store = Store.open(tmp_path / "releasebot.db")
    sync_config(store, settings, NOW)
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
            outcomes = await poller.poll_due()
    finally:
        store.close()
    assert [(o.feed, o.status) for o in outcomes] == [("good", "ok"), ("typo", "error")]


async def test_a_round_cancelled_midway_leaves_no_poll_running_and_keeps_what_it_stored(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A stop (SIGTERM, stop_rounds) cancels a round stuck on a hanging host: no worker or
    poll is left running, and the feeds polled before it are stored as polled."""
    fast = {f"fast-{n}": feed_server.serve(f"/{n}.xml", BODY) for n in range(6)}
    with FeedServer(host="127.0.0.2") as hanging:
        slow = {f"slow-{n}": hanging.route(f"/{n}.xml", Route(BODY, delay=60)) for n in range(6)}
        urls = {**slow, **fast}
        settings = _settings(tmp_path, urls, concurrency=2, per_host=1)
        store = Store.open(tmp_path / "releasebot.db")
        sync_config(store, settings, NOW)
        fast_done = asyncio.Event()
        finished: set[str] = set()

        def polled(outcome: PollOutcome) -> None:
            finished.add(outcome.feed)
            if set(fast) <= finished:
                fast_done.set()

        try:
            async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
                poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
                round_ = asyncio.create_task(poller.poll_all(settings.feeds, polled=polled))
                await asyncio.wait_for(fast_done.wait(), timeout=10)
                round_.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await round_
                left = asyncio.all_tasks() - {asyncio.current_task()}
                states = {state.name: state for state in store.feed_states()}
        finally:
            store.close()
    assert left == set()
    assert all(states[name].last_success == NOW for name in fast)
    assert all(states[name].last_success is None for name in slow)
