"""Typed feed errors (issue 10 point 4): each way a feed fails has its own type that knows
whether it is permanent; permanent failures back off harder and are shown as such in
`releasebot status` and the admins' /feeds; a bug in our code surfaces with its traceback
while the other feeds still poll.

Real loopback feed server, real Fetcher, parser, Poller and SQLite store throughout; the
clock is an argument.
"""

from __future__ import annotations

import itertools
import logging
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import FetchSettings, Settings, settings_from_dict
from bot.errors import (
    AddressRefusedError,
    BadFeedURLError,
    FeedError,
    FeedFetchError,
    FeedHTTPStatusError,
    FeedParseError,
    UnsupportedEncodingError,
)
from bot.feeds.backoff import next_poll_after_failure
from bot.feeds.parse import parse_feed
from bot.fetch.client import Fetcher, default_user_agent
from bot.render import command_args
from bot.render.replies import Reply
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import sync_config
from bot.services.poller import Poller, PollOutcome
from bot.store import Store
from tests.fakes.feed_server import FeedServer
from tests.fakes.internet import ScriptedResolver, StandInInternet
from tests.test_cli import run_here, write_config
from tests.test_poller import BAD_FEEDS, GOOD, MAX_BYTES, TIMEOUT, BadFeed
from tests.test_replies import shown

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INTERVAL = 900.0
HOUR = 3600.0
DAY = 24 * HOUR
ADMIN = ChatRef(9, "private", "", 9)
PUBLIC_IP = "93.184.216.34"


# --- each class of failure, from a real server, has its type and its flag ---------------


@dataclass(frozen=True)
class Failure:
    """A way a feed can fail beyond the poller's matrix, the type it must raise and whether
    that is permanent."""

    name: str
    setup: Callable[[FeedServer], str]  # scripts the server, returns the URL to fetch
    kind: type[FeedError]
    permanent: bool
    message: str  # the start of what a person reads


def _status(status: int, **options: Any) -> Callable[[FeedServer], str]:
    return lambda server: server.serve("/bad", b"nope", status=status, **options)


MORE_FAILURES = [
    Failure("401", _status(401), FeedHTTPStatusError, True, "HTTP 401 Unauthorized — "),
    Failure("403", _status(403), FeedHTTPStatusError, True, "HTTP 403 Forbidden — "),
    Failure("404", _status(404), FeedHTTPStatusError, True, "HTTP 404 Not Found — check the URL"),
    Failure("410", _status(410), FeedHTTPStatusError, True, "HTTP 410 Gone — "),
    Failure("429", _status(429, retry_after="60"), FeedHTTPStatusError, False, "HTTP 429 Too"),
    Failure("500", _status(500), FeedHTTPStatusError, False, "HTTP 500 Internal Server Error"),
    Failure("502", _status(502), FeedHTTPStatusError, False, "HTTP 502 Bad Gateway"),
    Failure("503", _status(503), FeedHTTPStatusError, False, "HTTP 503 Service Unavailable"),
    Failure("400", _status(400), FeedHTTPStatusError, False, "HTTP 400 Bad Request"),
    Failure(
        "brotli",
        lambda s: s.serve("/bad", b"\x8b\x05\x80<rss/>\x03", content_encoding="br"),
        UnsupportedEncodingError,
        True,
        "unsupported Content-Encoding 'br'",
    ),
    Failure(
        "redirect-to-ftp",
        lambda s: s.redirect("/bad", "ftp://agency.example/feed.xml", status=302),
        BadFeedURLError,
        True,
        "redirect to a non-HTTP URL",
    ),
    Failure("invalid-url", lambda s: "http:///feed.xml", BadFeedURLError, True, "invalid URL"),
    Failure(
        "missing-file",
        lambda s: "/nonexistent/releasebot/feed.xml",
        BadFeedURLError,
        True,
        "file not found",
    ),
]


def fetch_settings(**changes: Any) -> FetchSettings:
    """As the poller's matrix fetches (tests/test_poller.py Rig)."""
    values: dict[str, Any] = {
        "timeout": TIMEOUT,
        "connect_timeout": TIMEOUT,
        "max_bytes": MAX_BYTES,
        "allow_private_addresses": True,
    }
    return FetchSettings(**(values | changes))


async def failure_of(url: str, settings: FetchSettings | None = None) -> FeedError:
    """What fetching and parsing `url` raises, as the poller would do both."""
    async with Fetcher(settings or fetch_settings(), user_agent=default_user_agent()) as fetcher:
        try:
            fetched = await fetcher.fetch(url)
            parse_feed(
                fetched.body,
                feed_name="bad",
                base_url=fetched.url,
                content_type=fetched.content_type,
            )
        except FeedError as exc:
            return exc
    raise AssertionError(f"{url} fetched and parsed without an error")


@pytest.mark.parametrize("bad", BAD_FEEDS, ids=[bad.name for bad in BAD_FEEDS])
async def test_each_failure_of_the_matrix_has_its_type_and_flag(
    feed_server: FeedServer, bad: BadFeed
) -> None:
    """Every broken feed of the poller's matrix raises its own type, permanent or not, with
    the message people already read."""
    error = await failure_of(bad.setup(feed_server))
    assert type(error) is bad.kind, repr(error)
    assert error.permanent is bad.permanent
    assert error.message.startswith(bad.error)


@pytest.mark.parametrize("failure", MORE_FAILURES, ids=[f.name for f in MORE_FAILURES])
async def test_each_status_and_url_failure_has_its_type_and_flag(
    feed_server: FeedServer, failure: Failure
) -> None:
    """401/403/404/410 are permanent, 5xx/429 (and other statuses) transient; a coding we
    cannot decode and a URL that cannot lead to a feed are permanent."""
    error = await failure_of(failure.setup(feed_server))
    assert type(error) is failure.kind, repr(error)
    assert error.permanent is failure.permanent
    assert error.message.startswith(failure.message), error.message


async def test_a_refused_private_address_is_permanent_and_typed(feed_server: FeedServer) -> None:
    """A loopback feed with the guard on is an AddressRefusedError naming the setting."""
    url = feed_server.serve("/feed.xml", GOOD)
    error = await failure_of(url, fetch_settings(allow_private_addresses=False))
    assert type(error) is AddressRefusedError
    assert error.permanent
    assert isinstance(error, FeedFetchError)
    assert error.url == url  # the feed's URL, not just the host the guard refused
    assert "fetch.allow_private_addresses" in error.message


def test_the_types_share_the_roots_callers_catch() -> None:
    """Fetch failures are FeedFetchErrors and parse failures FeedParseErrors, all FeedErrors."""
    fetch_kinds = {bad.kind for bad in BAD_FEEDS if issubclass(bad.kind, FeedFetchError)}
    parse_kinds = {bad.kind for bad in BAD_FEEDS if issubclass(bad.kind, FeedParseError)}
    assert len(fetch_kinds) >= 4
    assert len(parse_kinds) >= 4
    assert all(issubclass(kind, FeedError) for kind in fetch_kinds | parse_kinds)


# --- permanent failures back off harder (clock-driven) ----------------------------------


class Clock:
    """The time the poller reads; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def open_store(tmp_path: Path, settings: Settings, now: datetime) -> Store:
    store = Store.open(tmp_path / "releasebot.db")
    sync_config(store, settings, now)
    return store


def poll_settings(tmp_path: Path, feeds: dict[str, str], **fetch: Any) -> Settings:
    data = {
        "bot": {"admins": [ADMIN.id]},
        "fetch": {
            "timeout": TIMEOUT,
            "connect_timeout": TIMEOUT,
            "allow_private_addresses": True,
            **fetch,
        },
        "feeds": [{"name": name, "url": url} for name, url in feeds.items()],
    }
    return settings_from_dict(data, tmp_path)


async def test_a_404_backs_off_harder_than_a_503(tmp_path: Path, feed_server: FeedServer) -> None:
    """Over three days of ticks, a 404 feed is retried after an hour, then ever less often up
    to once a day; a 503 feed keeps being retried at least every 6 hours."""
    feeds = {
        "gone": feed_server.serve("/gone.xml", b"gone", status=404),
        "down": feed_server.serve("/down.xml", b"down", status=503),
    }
    settings = poll_settings(tmp_path, feeds)
    clock = Clock(NOW)
    store = open_store(tmp_path, settings, NOW)
    polled: dict[str, list[datetime]] = {"gone": [], "down": []}
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(
                settings, store=store, fetcher=fetcher, clock=clock, rng=random.Random(3)
            )
            while clock.now < NOW + timedelta(days=3):
                for outcome in await poller.poll_due():
                    polled[outcome.feed].append(clock.now)
                clock.now += timedelta(minutes=5)
        gone, down = store.feed_state("gone"), store.feed_state("down")
    finally:
        store.close()
    assert feed_server.hits("/gone.xml") == len(polled["gone"])
    gaps = {name: [b - a for a, b in itertools.pairwise(t)] for name, t in polled.items()}
    assert timedelta(hours=0.8) <= gaps["gone"][0] <= timedelta(hours=1.2) + timedelta(minutes=5)
    assert gaps["down"][0] <= timedelta(minutes=15 * 1.2 + 5)  # its interval, jittered
    assert max(gaps["gone"]) > timedelta(hours=6 * 1.2)  # past the transient cap...
    assert gone.next_poll is not None
    assert gone.next_poll - clock.now <= timedelta(days=1.2)  # ...but never past a day
    assert max(gaps["down"]) <= timedelta(hours=6 * 1.2) + timedelta(minutes=5)
    assert len(polled["gone"]) < len(polled["down"])
    assert (gone.error_permanent, down.error_permanent) == (True, False)


@given(
    interval=st.floats(min_value=60.0, max_value=7 * DAY),
    failures=st.integers(min_value=1, max_value=10_000),
    jitter=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_a_permanent_failure_never_retries_sooner_and_within_a_day(
    interval: float, failures: int, jitter: float
) -> None:
    """For any interval and run of failures, a permanent failure waits at least as long as a
    transient one would, at least an hour (jitter aside), and at most a day (jitter aside)."""

    def wait(permanent: bool) -> float:
        when = next_poll_after_failure(
            NOW, interval, failures, retry_after=None, jitter=jitter, permanent=permanent
        )
        return (when - NOW).total_seconds()

    scale = 0.8 + 0.4 * jitter
    assert wait(permanent=True) >= wait(permanent=False)
    slack = 1e-3  # datetimes keep microseconds
    assert HOUR * scale - slack <= wait(permanent=True) <= DAY * scale + slack


def test_permanent_backoff_doubles_from_an_hour_to_a_day() -> None:
    """With a 15-minute interval: 1 h, 2 h, 4 h, 8 h, 16 h, then a day (jitter 0.5: no scaling)."""
    waits = [
        next_poll_after_failure(NOW, INTERVAL, n, retry_after=None, jitter=0.5, permanent=True)
        - NOW
        for n in range(1, 8)
    ]
    assert [wait.total_seconds() / HOUR for wait in waits] == [1, 2, 4, 8, 16, 24, 24]


# --- status and /feeds show which -----------------------------------------------------


def test_status_labels_failing_feeds_permanent_or_transient(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a poll, `releasebot status` says a 404 is permanent (with what to do) and a 503
    transient; exit 1 as for any failing feed."""
    config = write_config(
        tmp_path,
        {
            "gone": feed_server.serve("/gone.xml", b"gone", status=404),
            "down": feed_server.serve("/down.xml", b"down", status=503),
            "good": feed_server.serve("/good.xml", GOOD),
        },
    )
    assert run_here(capsys, "poll", cwd=tmp_path, config=config).returncode == 1
    done = run_here(capsys, "status", cwd=tmp_path, config=config)
    assert done.returncode == 1
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert rows["gone"].endswith("permanent: HTTP 404 Not Found — check the URL")
    assert rows["down"].endswith("transient: HTTP 503 Service Unavailable")
    assert "permanent" not in rows["good"]
    assert "transient" not in rows["good"]


async def test_feeds_shows_admins_permanent_and_transient_failures(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """An admin's /feeds says 'failing (permanent, …)' for a 404 and 'failing (transient, …)'
    for a 503; a reader sees no health at all."""
    feeds = {
        "gone": feed_server.serve("/gone.xml", b"gone", status=404),
        "down": feed_server.serve("/down.xml", b"down", status=503),
    }
    settings = poll_settings(tmp_path, feeds)
    store = open_store(tmp_path, settings, NOW)
    try:
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
            await poller.poll_all()
            await poller.poll_all()
        answers = Answers(settings, store, lambda: NOW, "releasebot_test_bot")
        command = command_args.Command("feeds", "", addressed=True)
        admin = shown(answers.answer(command, ADMIN) or Reply(""))
        reader = shown(answers.answer(command, ChatRef(5, "private", "ada", 5)) or Reply(""))
    finally:
        store.close()
    assert "failing (permanent, 2 in a row): HTTP 404 Not Found — check the URL" in admin
    assert "failing (transient, 2 in a row): HTTP 503 Service Unavailable" in admin
    assert "failing" not in reader


# --- a bug surfaces with its traceback; the other feeds still poll ---------------------


class BuggyResolver(ScriptedResolver):
    """A resolver adapter with a bug for one host: a TypeError, as a slip in our code gives."""

    async def __call__(self, host: str, port: int) -> list[str]:
        if host == "buggy.example":
            return sorted([port, host])  # type: ignore[list-item]  # the bug: int < str
        return await super().__call__(host, port)


@pytest.fixture
def public_server() -> Iterator[FeedServer]:
    """A loopback server standing in for the internet host at PUBLIC_IP."""
    with FeedServer() as server:
        server.serve("/feed.xml", GOOD)
        yield server


async def test_a_bug_is_logged_with_its_traceback_and_the_other_feeds_poll(
    tmp_path: Path, public_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A TypeError inside fetching is not 'network error: TypeError': the log has its
    traceback, the feed records an internal error, and the good feed's releases are stored."""
    feeds = {"buggy": "http://buggy.example/feed.xml", "good": "http://good.example/feed.xml"}
    settings = poll_settings(tmp_path, feeds, allow_private_addresses=False)
    store = open_store(tmp_path, settings, NOW)
    resolver = BuggyResolver({"good.example": [[PUBLIC_IP]]})
    internet = StandInInternet({PUBLIC_IP: public_server})
    caplog.set_level(logging.WARNING)
    try:
        async with Fetcher(
            settings.fetch, user_agent="t", resolver=resolver, network_backend=internet
        ) as fetcher:
            poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW)
            outcomes: dict[str, PollOutcome] = {o.feed: o for o in await poller.poll_all()}
        buggy = store.feed_state("buggy")
        stored = store.latest(100, ["good"])
    finally:
        store.close()
    assert outcomes["good"].status == "ok"
    assert len(stored) == 3
    assert outcomes["buggy"].error is not None
    assert outcomes["buggy"].error.startswith("internal error: TypeError: ")
    assert buggy.last_error == outcomes["buggy"].error
    assert not buggy.error_permanent
    traced = [r for r in caplog.records if r.exc_info and r.exc_info[0] is TypeError]
    assert len(traced) == 1
    assert "buggy" in traced[0].getMessage()
    assert "network error" not in caplog.text


# --- the upgrade classifies errors stored before the flag existed -----------------------


def test_errors_stored_before_m007_are_classified_at_upgrade(tmp_path: Path) -> None:
    """A feed an older version left failing with 'HTTP 404' shows as permanent right after the
    upgrade, one with 'HTTP 503' as transient, without waiting for their next poll."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("gone", "https://a.example/feed"), ("down", "https://b.example/feed")])
    store.close()
    conn = sqlite3.connect(path)  # as an older version left it: no column, the bare status
    with conn:
        conn.execute("UPDATE feeds SET last_error = 'HTTP 404', failures = 3 WHERE name = 'gone'")
        conn.execute("UPDATE feeds SET last_error = 'HTTP 503', failures = 2 WHERE name = 'down'")
        conn.execute("ALTER TABLE feeds DROP COLUMN last_error_permanent")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_feed_error_permanent'")
    conn.close()
    store = Store.open(path)
    try:
        gone, down = store.feed_state("gone"), store.feed_state("down")
    finally:
        store.close()
    assert (gone.error_permanent, gone.failures) == (True, 3)
    assert (down.error_permanent, down.failures) == (False, 2)
