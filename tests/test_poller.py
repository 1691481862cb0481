"""The poller end to end in-process: real loopback HTTP, real parser, real SQLite store.

Every kind of bad input gives a readable error recorded on its own feed row, with a
backoff; nothing crashes, no other feed is touched and no stored release is lost.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, settings_from_dict
from bot.errors import (
    BadFeedURLError,
    EmptyFeedError,
    EntityDeclarationError,
    FeedError,
    FeedHTTPStatusError,
    FeedTimeoutError,
    FeedTooLargeError,
    FeedUnreachableError,
    IllFormedFeedError,
    NotAFeedError,
)
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import FeedState, IngestResult, StoredRelease
from bot.services.config_sync import sync_config
from bot.services.poller import Poller, PollOutcome
from bot.store import Store
from tests.factories import make_release
from tests.fakes.feed_server import FeedServer, Route

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INTERVAL = 900.0  # the default 15 minutes
TIMEOUT = 1.0  # seconds: the timeout cases wait this long, so keep it short
MAX_BYTES = 64 * 1024


def rss(*items: tuple[str, str, str], title: str = "Agency news", extra: str = "") -> bytes:
    """An RSS 2.0 document; each item is (guid, title, link); `extra` varies the bytes."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{heading}</title><link>{link}</link>"
        f"<pubDate>Tue, 0{1 + n % 9} Apr 2014 10:00:00 -0400</pubDate>"
        f"<description>&lt;p&gt;About {heading}.&lt;/p&gt;</description></item>"
        for n, (guid, heading, link) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://agency.example/</link>{extra}{body}"
        "</channel></rss>\n"
    ).encode()


def numbered(prefix: str, count: int, start: int = 0) -> list[tuple[str, str, str]]:
    return [
        (f"{prefix}-{n}", f"{prefix} release {n}", f"https://{prefix}.example/r/{n}")
        for n in range(start, start + count)
    ]


GOOD = rss(*numbered("good", 3))


class Rig:
    """Settings, store and a poll() that runs the real Poller against the real store."""

    def __init__(self, tmp_path: Path, feeds: dict[str, str], **fetch: Any) -> None:
        self.tmp_path = tmp_path
        self.now = NOW
        self.settings = self._settings(feeds, [], fetch)
        self.store = Store.open(tmp_path / "releasebot.db")
        sync_config(self.store, self.settings, self.now)

    def _settings(
        self, feeds: dict[str, str], channels: list[dict[str, Any]], fetch: dict[str, Any]
    ) -> Settings:
        data = {
            "fetch": {
                "timeout": TIMEOUT,
                "connect_timeout": TIMEOUT,
                "max_bytes": MAX_BYTES,
                "allow_private_addresses": True,  # the feed server lives on 127.0.0.1
                **fetch,
            },
            "feeds": [{"name": name, "url": url} for name, url in feeds.items()],
            "channels": channels,
        }
        return settings_from_dict(data, self.tmp_path)

    def route(self, feed: str, channel: str = "news", *, backlog: int = 1) -> None:
        """Send `feed` to a channel, as a config edit would."""
        feeds = {f.name: f.url for f in self.settings.feeds}
        channels = [{"name": channel, "chat": "@agency_news", "feeds": [feed], "backlog": backlog}]
        fetch = self.settings.fetch.model_dump()
        self.settings = self._settings(feeds, channels, fetch)
        sync_config(self.store, self.settings, self.now)

    async def poll(self, *names: str) -> dict[str, PollOutcome]:
        feeds = [f for f in self.settings.feeds if not names or f.name in names]
        async with Fetcher(self.settings.fetch, user_agent=default_user_agent()) as fetcher:
            poller = Poller(
                self.settings,
                store=self.store,
                fetcher=fetcher,
                clock=lambda: self.now,
                rng=random.Random(7),
            )
            outcomes = await poller.poll_all(feeds)
        return {outcome.feed: outcome for outcome in outcomes}

    def state(self, feed: str) -> FeedState:
        return self.store.feed_state(feed)

    def releases(self, feed: str) -> list[StoredRelease]:
        return self.store.latest(100_000, [feed])

    def titles(self, feed: str) -> set[str]:
        return {stored.release.title for stored in self.releases(feed)}

    def feed_row(self, feed: str) -> dict[str, Any]:
        return dict(self.store.db.table("feeds").get(feed))


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(feeds: dict[str, str], **fetch: Any) -> Rig:
        made.append(Rig(tmp_path, feeds, **fetch))
        return made[-1]

    yield make
    for rig in made:
        rig.store.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def result_of(outcome: PollOutcome) -> IngestResult:
    """The ingest counts of a successful poll (fails the test with the error otherwise)."""
    assert outcome.result is not None, outcome.error
    return outcome.result


def assert_backed_off(state: FeedState, failures: int, *, permanent: bool = False) -> None:
    """next_poll lies in the jittered exponential window for `failures` failures; a
    permanent failure starts at an hour instead of the interval."""
    assert state.next_poll is not None
    delay = (state.next_poll - NOW).total_seconds()
    base = (max(3600.0, INTERVAL) if permanent else INTERVAL) * 2 ** (failures - 1)
    assert 0.8 * base <= delay < 1.2 * base


# the bad-input matrix


@dataclass(frozen=True)
class BadFeed:
    """A way a feed can be broken, and the start of the message a person should read."""

    name: str
    setup: Callable[[FeedServer], str]  # scripts the server, returns the feed's URL
    error: str
    kind: type[FeedError]  # what the fetcher or the parser raises for it
    permanent: bool = False  # someone must act: backs off harder


def _fixture(name: str, **options: Any) -> Callable[[FeedServer], str]:
    return lambda server: server.serve("/bad", (FIXTURES / name).read_bytes(), **options)


def _redirect_loop(server: FeedServer) -> str:
    server.redirect("/bad", "/bad-2", status=302)
    server.redirect("/bad-2", "/bad", status=302)
    return server.url("/bad")


BAD_FEEDS = [
    BadFeed(
        "closed-port",
        lambda server: f"http://127.0.0.1:{closed_port()}/feed.xml",
        "connection refused",
        FeedUnreachableError,
    ),
    BadFeed(
        "dns",
        lambda server: "http://feeds.agency.invalid/feed.xml",
        "DNS lookup failed for feeds.agency.invalid",
        FeedUnreachableError,
    ),
    BadFeed(
        "tls",
        lambda server: server.url("/bad").replace("http:", "https:"),
        "TLS error: ",
        FeedUnreachableError,
    ),
    BadFeed(
        "timeout",
        lambda s: s.serve("/bad", GOOD, delay=30),
        "timed out after 1 s",
        FeedTimeoutError,
    ),
    BadFeed(
        "drip",
        lambda s: s.serve("/bad", GOOD, drip=(16, 0.2)),
        "timed out after 1 s",
        FeedTimeoutError,
    ),
    BadFeed(
        "dropped",
        lambda s: s.route("/bad", Route(drop=True)),
        "network error: ",
        FeedUnreachableError,
    ),
    BadFeed(
        "404",
        lambda server: server.url("/missing"),
        "HTTP 404",
        FeedHTTPStatusError,
        permanent=True,
    ),
    BadFeed("500", lambda s: s.serve("/bad", b"oops", status=500), "HTTP 500", FeedHTTPStatusError),
    BadFeed("redirect-loop", _redirect_loop, "too many redirects", BadFeedURLError, permanent=True),
    BadFeed(
        "oversized",
        lambda s: s.serve("/bad", b" " * (MAX_BYTES + 1)),
        "body larger than 64 KB",
        FeedTooLargeError,
        permanent=True,
    ),
    BadFeed(
        "oversized-streamed",
        lambda s: s.serve("/bad", b" " * (4 * MAX_BYTES), send_length=False),
        "body larger than 64 KB",
        FeedTooLargeError,
        permanent=True,
    ),
    BadFeed(
        "gzip-bomb",
        lambda s: s.serve_gzip_bomb("/bad", size=8 * 1024 * 1024),
        "body larger than 64 KB",
        FeedTooLargeError,
        permanent=True,
    ),
    BadFeed(
        "corrupt-gzip",
        lambda s: s.serve("/bad", b"\x1f\x8b\x08\x00garbage", content_encoding="gzip"),
        "corrupt compressed body",
        FeedUnreachableError,
    ),
    BadFeed(
        "html",
        _fixture("html_page.html", content_type="text/html; charset=utf-8"),
        "not a feed: got text/html",
        NotAFeedError,
        permanent=True,
    ),
    BadFeed(
        "html-labelled-xml",
        _fixture("html_page.html", content_type="application/rss+xml"),
        "not a feed: got text/html",
        NotAFeedError,
        permanent=True,
    ),
    BadFeed(
        "json",
        lambda s: s.serve("/bad", b'{"items": []}', content_type="application/json"),
        "not a feed: got application/json",
        NotAFeedError,
        permanent=True,
    ),
    BadFeed("empty", lambda s: s.serve("/bad", b""), "empty body", EmptyFeedError),
    BadFeed("blank", lambda s: s.serve("/bad", b"\r\n  \n"), "empty body", EmptyFeedError),
    BadFeed(
        "ill-formed", _fixture("illformed_unclosed.xml"), "ill-formed XML: ", IllFormedFeedError
    ),
    BadFeed(
        "entities-utf8",
        _fixture("entity_billion_laughs.xml"),
        "entity declarations refused",
        EntityDeclarationError,
        permanent=True,
    ),
    BadFeed(
        "entities-utf16",
        _fixture("entity_utf16.xml"),
        "entity declarations refused",
        EntityDeclarationError,
        permanent=True,
    ),
    BadFeed(
        "entities-utf32",
        _fixture("entity_utf32.xml"),
        "entity declarations refused",
        EntityDeclarationError,
        permanent=True,
    ),
    BadFeed(
        "entities-external",
        _fixture("entity_external.xml"),
        "entity declarations refused",
        EntityDeclarationError,
        permanent=True,
    ),
    BadFeed(
        "entities-parameter",
        _fixture("entity_parameter.xml"),
        "entity declarations refused",
        EntityDeclarationError,
        permanent=True,
    ),
]


@pytest.mark.parametrize("bad", BAD_FEEDS, ids=[bad.name for bad in BAD_FEEDS])
async def test_bad_feed_records_a_readable_error_and_touches_nothing_else(
    make_rig: Callable[..., Rig], feed_server: FeedServer, bad: BadFeed
) -> None:
    """Each failure is recorded on its own feed with a backoff; its releases and its
    neighbour's poll are unaffected."""
    good_url = feed_server.serve("/good", GOOD)
    rig = make_rig({"bad": bad.setup(feed_server), "good": good_url})
    kept = [make_release(1, feed="bad"), make_release(2, feed="bad")]
    rig.store.ingest("bad", kept, now=NOW, flood_limit=10)

    outcomes = await rig.poll()

    assert outcomes["bad"].status == "error"
    assert outcomes["bad"].error is not None
    assert outcomes["bad"].error.startswith(bad.error), outcomes["bad"].error
    state = rig.state("bad")
    assert state.last_error == outcomes["bad"].error
    assert state.failures == 1
    assert state.last_success is None
    assert state.error_permanent == bad.permanent
    assert_backed_off(state, failures=1, permanent=bad.permanent)
    assert rig.titles("bad") == {release.title for release in kept}
    good = outcomes["good"]
    assert good.status == "ok"
    assert result_of(good).new == 3
    assert rig.state("good").last_error is None
    assert len(rig.releases("good")) == 3


async def test_repeated_failures_back_off_exponentially_and_success_resets(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """Each further failure doubles the wait; the next success clears the error and the count."""
    url = feed_server.serve("/feed.xml", b"down", status=503)
    rig = make_rig({"agency": url})
    for failures in (1, 2, 3):
        outcome = (await rig.poll())["agency"]
        assert outcome.error == "HTTP 503 Service Unavailable"
        state = rig.state("agency")
        assert state.failures == failures
        assert_backed_off(state, failures)
    feed_server.serve("/feed.xml", GOOD)
    assert (await rig.poll())["agency"].status == "ok"
    state = rig.state("agency")
    assert (state.failures, state.last_error) == (0, None)
    assert state.next_poll == NOW + timedelta(seconds=INTERVAL)


async def test_backoff_is_capped_at_six_hours(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A feed that has been down for a long time is still retried within 6 h (jitter aside)."""
    url = feed_server.serve("/feed.xml", b"gone", status=500)
    rig = make_rig({"agency": url})
    rig.store.db.execute("UPDATE feeds SET failures = 40 WHERE name = 'agency'")
    await rig.poll()
    state = rig.state("agency")
    assert state.failures == 41
    assert state.next_poll is not None
    assert state.next_poll - NOW <= timedelta(hours=6 * 1.2)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_sets_the_next_poll(
    make_rig: Callable[..., Rig], feed_server: FeedServer, status: int
) -> None:
    """A server asking us to come back in 2 h gets its 2 h, not the usual 15 min backoff."""
    url = feed_server.serve("/feed.xml", b"slow down", status=status, retry_after="7200")
    rig = make_rig({"agency": url})
    outcome = (await rig.poll())["agency"]
    assert outcome.error.startswith(f"HTTP {status} ")  # and the status's name
    state = rig.state("agency")
    assert state.next_poll is not None
    assert state.next_poll - NOW >= timedelta(seconds=7200)
    assert state.next_poll - NOW < timedelta(seconds=7200 + 1.2 * INTERVAL)


async def test_retry_after_as_an_http_date_is_honoured(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """Retry-After given as a date an hour after the server's Date header means an hour."""
    route = Route(
        body=b"busy",
        status=429,
        retry_after="Wed, 01 May 2024 13:00:00 GMT",
        headers={"Date": "Wed, 01 May 2024 12:00:00 GMT"},
    )
    rig = make_rig({"agency": feed_server.route("/feed.xml", route)})
    await rig.poll()
    state = rig.state("agency")
    assert state.next_poll is not None
    assert state.next_poll - NOW >= timedelta(hours=1)


async def test_private_address_is_refused_with_the_setting_named(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """With the default safety setting a loopback feed is an error that says how to allow it."""
    rig = Rig(
        tmp_path, {"local": feed_server.serve("/feed.xml", GOOD)}, allow_private_addresses=False
    )
    try:
        outcome = (await rig.poll())["local"]
    finally:
        rig.store.close()
    assert outcome.error is not None
    assert "resolves to the non-public address 127.0.0.1" in outcome.error
    assert "fetch.allow_private_addresses" in outcome.error
    assert feed_server.hits("/feed.xml") == 0


# recoverable oddities: stored, never an error


async def test_undeclared_latin1_is_read_as_latin1(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """ISO-8859-1 bytes with no declaration still give readable Portuguese titles."""
    body = (FIXTURES / "latin1_undeclared.xml").read_bytes()
    rig = make_rig({"br": feed_server.serve("/feed.xml", body, content_type="text/xml")})
    outcome = (await rig.poll())["br"]
    assert outcome.status == "ok", outcome.error
    assert rig.titles("br") == {"Eleições: simulações de 2º turno"}


async def test_wrongly_declared_encoding_still_stores_the_feed(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """An encoding name no codec knows does not stop a UTF-8 feed from being read."""
    body = (FIXTURES / "bogus_encoding.xml").read_bytes()
    rig = make_rig({"bogus": feed_server.serve("/feed.xml", body)})
    outcome = (await rig.poll())["bogus"]
    assert outcome.status == "ok", outcome.error
    assert rig.titles("bogus") == {"Café résumé"}


async def test_charset_header_that_contradicts_the_bytes_is_survived(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A server claiming us-ascii for a UTF-8 feed still gives a stored release, not an error."""
    body = rss(("é-1", "Résumé de presse", "https://agency.example/r/1"))
    url = feed_server.serve("/feed.xml", body, content_type="text/xml; charset=us-ascii")
    rig = make_rig({"agency": url})
    outcome = (await rig.poll())["agency"]
    assert outcome.status == "ok", outcome.error
    assert len(rig.releases("agency")) == 1


async def test_utf16_feed_is_stored(make_rig: Callable[..., Rig], feed_server: FeedServer) -> None:
    """A UTF-16 feed without entity declarations is an ordinary feed."""
    body = (FIXTURES / "utf16_feed.xml").read_bytes()
    rig = make_rig({"wide": feed_server.serve("/feed.xml", body, content_type="text/xml")})
    outcome = (await rig.poll())["wide"]
    assert outcome.status == "ok", outcome.error
    assert result_of(outcome).new >= 1


async def test_recoverable_ill_formed_xml_is_stored(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """Raw ampersands break strict XML but the items are still read and stored."""
    body = (FIXTURES / "illformed_amp.xml").read_bytes()
    rig = make_rig({"amp": feed_server.serve("/feed.xml", body)})
    outcome = (await rig.poll())["amp"]
    assert outcome.status == "ok", outcome.error
    assert rig.titles("amp") == {"Molecular & Computational biology advance", "Second story"}


async def test_entries_without_guid_link_or_date_get_stable_keys(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """Sparse entries are stored once, and a re-served copy of the feed adds nothing."""
    body = (FIXTURES / "no_guid_link_date.xml").read_bytes()
    rig = make_rig({"sparse": feed_server.serve("/feed.xml", body)})
    first = (await rig.poll())["sparse"]
    assert result_of(first).new == 3
    feed_server.serve("/feed.xml", body.replace(b"</rss>", b"<!-- re-rendered --></rss>"))
    second = (await rig.poll())["sparse"]
    assert second.status == "ok"  # different bytes, so parsed again...
    assert (result_of(second).new, result_of(second).updated) == (0, 0)  # ...and nothing is new
    assert len(rig.releases("sparse")) == 3


async def test_duplicate_guids_in_one_feed_store_one_release(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """Two items with the same guid are one release, and the first one wins."""
    body = (FIXTURES / "duplicate_guids.xml").read_bytes()
    rig = make_rig({"dup": feed_server.serve("/feed.xml", body)})
    outcome = (await rig.poll())["dup"]
    assert result_of(outcome).new == 2
    assert rig.titles("dup") == {"Original release", "Another release"}


async def test_guid_churn_is_not_a_new_release(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A CMS that regenerates guids (same links) adds no releases and queues no posts."""
    links = [f"https://agency.example/r/{n}" for n in range(3)]
    first = rss(*((f"cms-v1-{n}", f"Release {n}", link) for n, link in enumerate(links)))
    rig = make_rig({"agency": feed_server.serve("/feed.xml", first)})
    rig.route("agency", backlog=0)
    await rig.poll()
    churned = rss(*((f"cms-v2-{n}", f"Release {n}", link) for n, link in enumerate(links)))
    feed_server.serve("/feed.xml", churned)
    outcome = (await rig.poll())["agency"]
    assert (result_of(outcome).new, result_of(outcome).queued) == (0, 0)
    assert len(rig.releases("agency")) == 3


async def test_ten_thousand_entries_are_capped_and_the_flood_guard_holds(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A known feed that suddenly lists 10,000 new entries stores the newest 1,000
    (fetch.max_items), says it skipped 9,000, and posts 10."""
    url = feed_server.serve("/feed.xml", rss(*numbered("big", 1)))
    rig = make_rig({"big": url}, max_bytes=4 * 1024 * 1024)
    rig.route("big", backlog=1)
    await rig.poll()
    huge = rss(*numbered("big", 10_000, start=1))
    feed_server.serve("/feed.xml", huge)
    rig.settings = rig._settings(
        {"big": feed_server.url("/feed.xml")},
        [{"name": "news", "chat": "@agency_news", "feeds": ["big"], "backlog": 1}],
        {"max_bytes": 2 * len(huge)},
    )
    outcome = (await rig.poll())["big"]
    assert outcome.status == "ok", outcome.error
    result = result_of(outcome)
    assert (result.new, result.queued, result.flooded) == (1_000, 10, 990)
    assert outcome.skipped == 9_000
    assert len(rig.releases("big")) == 1_001


# conditional GET, unchanged bodies, redirects


async def test_etag_round_trip_is_not_modified_and_leaves_the_feed_as_it_was(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """The second poll sends the stored ETag, gets a 304 and changes nothing but the times."""
    url = feed_server.serve("/feed.xml", GOOD, etag='"v1"')
    rig = make_rig({"agency": url})
    assert (await rig.poll())["agency"].status == "ok"
    before = rig.feed_row("agency")
    rig.now = NOW + timedelta(minutes=20)
    outcome = (await rig.poll())["agency"]
    assert (outcome.status, outcome.result, outcome.error) == ("not_modified", None, None)
    assert feed_server.headers_seen("/feed.xml")[1]["if-none-match"] == '"v1"'
    after = rig.feed_row("agency")
    moved = {"last_success", "next_poll"}
    assert {k: v for k, v in after.items() if k not in moved} == {
        k: v for k, v in before.items() if k not in moved
    }
    assert after["next_poll"] > before["next_poll"]
    assert len(rig.releases("agency")) == 3


async def test_last_modified_round_trip_is_not_modified(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A server with only Last-Modified gets If-Modified-Since back and answers 304."""
    stamp = "Wed, 01 May 2024 11:00:00 GMT"
    rig = make_rig({"agency": feed_server.serve("/feed.xml", GOOD, last_modified=stamp)})
    await rig.poll()
    outcome = (await rig.poll())["agency"]
    assert outcome.status == "not_modified"
    assert rig.state("agency").last_modified == stamp


async def test_byte_identical_body_is_reported_unchanged(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A server without validators sending the same bytes again gets status 'unchanged'."""
    rig = make_rig({"agency": feed_server.serve("/feed.xml", GOOD)})
    assert (await rig.poll())["agency"].status == "ok"
    outcome = (await rig.poll())["agency"]
    assert (outcome.status, outcome.result) == ("unchanged", None)
    assert rig.state("agency").failures == 0


async def test_changed_body_after_unchanged_is_parsed_again(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """'unchanged' is about the bytes: a new item in the feed is found on the next poll."""
    rig = make_rig({"agency": feed_server.serve("/feed.xml", GOOD)})
    await rig.poll()
    await rig.poll()
    feed_server.serve("/feed.xml", rss(*numbered("good", 4)))
    outcome = (await rig.poll())["agency"]
    assert result_of(outcome).new == 1


async def test_permanent_redirect_updates_the_stored_url(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """After a 301 the feed is polled at its new address; the old one is not asked again."""
    feed_server.redirect("/old.xml", "/new.xml", status=301)
    new_url = feed_server.serve("/new.xml", GOOD)
    rig = make_rig({"agency": feed_server.url("/old.xml")})
    await rig.poll()
    assert rig.state("agency").url == new_url
    await rig.poll()
    assert (feed_server.hits("/old.xml"), feed_server.hits("/new.xml")) == (1, 2)


async def test_temporary_redirect_keeps_the_configured_url(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A 302 is followed but not remembered."""
    feed_server.redirect("/old.xml", "/new.xml", status=302)
    feed_server.serve("/new.xml", GOOD)
    old_url = feed_server.url("/old.xml")
    rig = make_rig({"agency": old_url})
    await rig.poll()
    assert rig.state("agency").url == old_url


async def test_relative_links_resolve_against_the_final_url(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A redirected feed's relative links are made absolute against where it was found."""
    body = rss(("rel-1", "Relative", "/news/rel-1?utm_source=rss#top"))
    body = body.replace(b"<link>https://agency.example/</link>", b"")
    feed_server.redirect("/old.xml", "/feeds/new.xml", status=301)
    feed_server.serve("/feeds/new.xml", body)
    rig = make_rig({"agency": feed_server.url("/old.xml")})
    await rig.poll()
    (stored,) = rig.releases("agency")
    assert stored.release.url == feed_server.url("/news/rel-1")


# several feeds at once


async def test_one_failing_feed_among_good_ones(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """Five good feeds store their releases although the sixth is broken."""
    feeds = {
        f"good-{n}": feed_server.serve(f"/good-{n}.xml", rss(*numbered(f"g{n}", 2)))
        for n in range(5)
    }
    feeds["broken"] = feed_server.serve("/broken.xml", b"<html><body>oops</body></html>")
    rig = make_rig(feeds)
    outcomes = await rig.poll()
    assert outcomes["broken"].error == "not a feed: got text/html"
    for n in range(5):
        assert outcomes[f"good-{n}"].status == "ok"
        assert len(rig.releases(f"good-{n}")) == 2
        assert rig.state(f"good-{n}").failures == 0


async def test_feed_failing_after_success_keeps_its_releases(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A feed that breaks after a good poll keeps what it stored and its validators."""
    rig = make_rig({"agency": feed_server.serve("/feed.xml", GOOD, etag='"v1"')})
    await rig.poll()
    feed_server.serve("/feed.xml", b"Internal Server Error", status=500)
    outcome = (await rig.poll())["agency"]
    assert outcome.error == "HTTP 500 Internal Server Error"
    state = rig.state("agency")
    assert state.last_success == NOW
    assert state.etag == '"v1"'
    assert len(rig.releases("agency")) == 3
    feed_server.serve("/feed.xml", GOOD, etag='"v1"')
    assert (await rig.poll())["agency"].status == "not_modified"


async def test_feed_that_becomes_empty_keeps_its_releases(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A valid feed that now lists no items is a success that removes nothing."""
    rig = make_rig({"agency": feed_server.serve("/feed.xml", GOOD)})
    await rig.poll()
    feed_server.serve("/feed.xml", rss())
    outcome = (await rig.poll())["agency"]
    assert outcome.status == "ok"
    assert result_of(outcome).new == 0
    assert len(rig.releases("agency")) == 3


async def test_poll_due_skips_feeds_that_are_backing_off(
    make_rig: Callable[..., Rig], feed_server: FeedServer
) -> None:
    """A failed feed is not polled again before its next poll time; a due one is."""
    rig = make_rig(
        {
            "broken": feed_server.serve("/broken.xml", b"", status=500),
            "good": feed_server.serve("/good.xml", GOOD),
        }
    )
    await rig.poll()
    rig.store.db.execute("UPDATE feeds SET next_poll = NULL WHERE name = 'good'")
    rig.now = NOW + timedelta(minutes=1)
    async with Fetcher(rig.settings.fetch, user_agent=default_user_agent()) as fetcher:
        poller = Poller(rig.settings, store=rig.store, fetcher=fetcher, clock=lambda: rig.now)
        outcomes = await poller.poll_due()
    assert [o.feed for o in outcomes] == ["good"]
    assert feed_server.hits("/broken.xml") == 1
