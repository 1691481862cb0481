"""Defects found by the red-team review of the issue 10 merge, each pinned by what a user
or operator would see (real loopback feed server, real Fetcher, Poller and SQLite store)."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from pathlib import Path

import pytest

from bot.fetch.client import Fetcher, default_user_agent
from bot.services.poller import Poller
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_feed_errors import NOW, Clock, open_store, poll_settings
from tests.test_poller import GOOD
from tests.test_run_e2e import (
    ADMIN,
    CHANNEL_N,
    GROUP,
    SUPERGROUP,
    BotProcess,
    Item,
    db_rows,
    read_urls,
    release_url,
    rss,
    write_config,
)

# A host name that is not valid IDNA (an A-label with no Punycode content): a typo in the
# config, or a server's broken redirect.
BAD_IDNA_URL = "http://xn--zz.example/feed.xml"


async def test_a_malformed_host_is_an_invalid_url_not_a_bug(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A feed whose URL (or redirect target) has a malformed international host name shows
    as a permanent "invalid URL", not as an internal error logged as a bug in release-bot."""
    feeds = {
        "typo": BAD_IDNA_URL,
        "moved": feed_server.redirect("/moved.xml", BAD_IDNA_URL, status=301),
        "good": feed_server.serve("/good.xml", GOOD),
    }
    settings = poll_settings(tmp_path, feeds)
    store = open_store(tmp_path, settings, NOW)
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(
                settings, store=store, fetcher=fetcher, clock=Clock(NOW), rng=random.Random(1)
            )
            with caplog.at_level(logging.WARNING):
                outcomes = {o.feed: o for o in await poller.poll_all()}
        states = {name: store.feed_state(name) for name in feeds}
    finally:
        store.close()
    assert outcomes["good"].status == "ok"
    for name in ("typo", "moved"):
        assert outcomes[name].status == "error"
        assert (outcomes[name].error or "").startswith("invalid URL"), outcomes[name].error
        assert states[name].error_permanent, name
    assert not [r for r in caplog.records if "bug while polling" in r.getMessage()]


async def test_a_feed_with_a_non_ascii_etag_keeps_polling(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A server whose ETag holds a non-ASCII byte is polled fine the first time and every
    time after (the validator it cannot send back is left out), not failed from then on."""
    url = feed_server.serve("/feed.xml", GOOD, etag='"caf\u00e9"')
    settings = poll_settings(tmp_path, {"agency": url})
    store = open_store(tmp_path, settings, NOW)
    clock = Clock(NOW)
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=clock)
            first = await poller.poll_all()
            clock.now += timedelta(days=1)
            second = await poller.poll_due()
        state = store.feed_state("agency")
    finally:
        store.close()
    assert [o.status for o in first] == ["ok"]
    assert [o.status for o in second] == ["unchanged"], second
    assert state.failures == 0
    assert feed_server.hits("/feed.xml") == 2


def test_a_group_that_became_a_supergroup_does_not_stop_the_channel_check(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """At start, getChat on a group that became a supergroup answers "upgraded": the check
    records the new id and goes on to the next channel, which it finds the bot cannot post
    in, so that channel's post waits instead of being sent and refused (no traceback)."""
    with FakeBotAPI(time_scale=0.01) as api:
        api.add_chat(GROUP, "group", title="Editors")
        api.add_chat(CHANNEL_N, "channel", title="N news", bot_status="member")
        api.add_chat(ADMIN, "private", title="Ada")
        api.migrate(GROUP, SUPERGROUP)
        config = write_config(
            tmp_path,
            api_base_url=api.base_url,
            feeds={"nida": feed_server.serve("/nida.xml", rss(Item(1)))},
            channels=[("editors", GROUP, ["nida"]), ("n-news", CHANNEL_N, ["nida"])],
        )
        bot = BotProcess(config, "--once", token=api.token)
        assert bot.wait() == 1  # n-news cannot be posted to
        sends = [r.params.get("chat_id") for r in api.requests_for("sendMessage")]
        supergroup_posts = read_urls(api, SUPERGROUP)
    [editors] = db_rows(config, "SELECT chat_id FROM channels WHERE name = 'editors'")
    assert "Traceback" not in bot.stderr, bot.stderr
    assert str(CHANNEL_N) not in [str(chat) for chat in sends]  # paused by the check first
    assert supergroup_posts == [release_url(1)]
    assert editors["chat_id"] == SUPERGROUP


async def test_an_odd_retry_after_is_an_http_status_not_a_bug(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 503 whose Retry-After is a Latin-1 digit ("²", a digit to str.isdigit but not to
    float) is recorded as the 503 it is, not as an internal error logged as a bug."""
    url = feed_server.serve("/feed.xml", b"busy", status=503, retry_after="\u00b2")
    settings = poll_settings(tmp_path, {"agency": url})
    store = open_store(tmp_path, settings, NOW)
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=Clock(NOW))
            with caplog.at_level(logging.WARNING):
                [outcome] = await poller.poll_all()
    finally:
        store.close()
    assert (outcome.error or "").startswith("HTTP 503"), outcome.error
    assert not [r for r in caplog.records if "bug while polling" in r.getMessage()]
