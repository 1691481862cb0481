"""Fetching feeds over real loopback HTTP: conditional GET, redirects, caps, limits, errors."""

from __future__ import annotations

import asyncio
import gzip
import socket
import subprocess
import sys
import tracemalloc
import zlib
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from bot.config import FetchSettings
from bot.errors import FeedFetchError
from bot.fetch.addresses import check_public_host, is_public_address
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import FetchResult
from tests.fakes.feed_server import FeedServer, Route

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<rss version="2.0"><channel><title>Agency news</title>'
    b"<link>https://agency.example/</link>"
    b"<item><title>Rocket lands</title><link>https://agency.example/r/1</link>"
    b"<guid>r-1</guid></item></channel></rss>\n"
)
ETAG = '"v1-abc"'
LAST_MODIFIED = "Wed, 01 May 2024 12:00:00 GMT"


def settings(**changes: Any) -> FetchSettings:
    values: dict[str, Any] = {"timeout": 5.0, "connect_timeout": 2.0}
    values["allow_private_addresses"] = True  # the feed server lives on loopback
    return FetchSettings(**(values | changes))


async def fetch(
    url: str, *, etag: str | None = None, last_modified: str | None = None, **changes: Any
) -> FetchResult:
    async with Fetcher(settings(**changes), user_agent=default_user_agent()) as fetcher:
        return await fetcher.fetch(url, etag=etag, last_modified=last_modified)


async def fetch_error(url: str, **changes: Any) -> FeedFetchError:
    with pytest.raises(FeedFetchError) as info:
        await fetch(url, **changes)
    return info.value


# conditional GET


async def test_plain_fetch_returns_body_type_and_validators(feed_server: FeedServer) -> None:
    """A 200 gives the body as served, its content type and both validators for next time."""
    url = feed_server.serve("/feed.xml", FEED, etag=ETAG, last_modified=LAST_MODIFIED)
    result = await fetch(url)
    assert result.status == "ok"
    assert result.body == FEED
    assert result.url == url
    assert result.permanent_url is None
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)


async def test_etag_round_trip_gives_not_modified(feed_server: FeedServer) -> None:
    """Sending back the ETag gets a 304: no body, and the ETag is kept for the next poll."""
    url = feed_server.serve("/feed.xml", FEED, etag=ETAG)
    first = await fetch(url)
    second = await fetch(url, etag=first.etag)
    assert second.status == "not_modified"
    assert second.body == b""
    assert second.etag == ETAG
    assert feed_server.headers_seen("/feed.xml")[1]["if-none-match"] == ETAG


async def test_last_modified_round_trip_gives_not_modified(feed_server: FeedServer) -> None:
    """Sending back Last-Modified as If-Modified-Since gets a 304 too."""
    url = feed_server.serve("/feed.xml", FEED, last_modified=LAST_MODIFIED)
    first = await fetch(url)
    second = await fetch(url, last_modified=first.last_modified)
    assert second.status == "not_modified"
    assert second.last_modified == LAST_MODIFIED
    assert feed_server.headers_seen("/feed.xml")[1]["if-modified-since"] == LAST_MODIFIED


async def test_changed_feed_is_fetched_again(feed_server: FeedServer) -> None:
    """A stale ETag gets the full new body and the new ETag."""
    url = feed_server.serve("/feed.xml", FEED, etag='"v2"')
    result = await fetch(url, etag=ETAG)
    assert (result.status, result.body, result.etag) == ("ok", FEED, '"v2"')


async def test_server_sees_our_user_agent(feed_server: FeedServer) -> None:
    """Publishers can tell who polls them: the User-Agent names the bot and its home page."""
    await fetch(feed_server.serve("/feed.xml", FEED))
    agent = feed_server.headers_seen("/feed.xml")[0]["user-agent"]
    assert agent == default_user_agent()
    assert agent.startswith("release-bot/")
    assert "(+https://github.com/release-bot/release-bot)" in agent


# encodings


async def test_gzip_body_is_decoded(feed_server: FeedServer) -> None:
    """A gzip-encoded feed comes back as the plain document."""
    result = await fetch(feed_server.serve("/feed.xml", FEED, gzip=True))
    assert result.body == FEED


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
async def test_deflate_body_is_decoded_in_both_flavours(
    feed_server: FeedServer, wbits: int
) -> None:
    """'deflate' bodies decode whether the server wrapped them in zlib framing or not."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = compressor.compress(FEED) + compressor.flush()
    result = await fetch(feed_server.serve("/feed.xml", body, content_encoding="deflate"))
    assert result.body == FEED


@pytest.mark.parametrize(
    "body",
    [
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03this is not deflate data at all",
        gzip.compress(FEED)[:-12],  # cut before the end of the stream
        gzip.compress(FEED)[:-4] + b"\x00\x00\x00\x00",  # wrong length in the trailer
    ],
    ids=["garbage", "truncated", "bad-trailer"],
)
async def test_corrupt_gzip_is_an_error(feed_server: FeedServer, body: bytes) -> None:
    """A broken gzip body is reported as such, not as a crash or as a half feed."""
    error = await fetch_error(feed_server.serve("/feed.xml", body, content_encoding="gzip"))
    assert error.message == "corrupt compressed body"


# caps


async def test_oversized_body_is_refused(feed_server: FeedServer) -> None:
    """A body over max_bytes is refused, with the cap in the message."""
    url = feed_server.serve("/big.xml", b"x" * 5000)
    error = await fetch_error(url, max_bytes=4096)
    assert error.message == "body larger than 4 KB"


async def test_oversized_body_without_length_is_cut_while_streaming(
    feed_server: FeedServer,
) -> None:
    """Without a Content-Length the cap is enforced as bytes arrive."""
    url = feed_server.serve("/big.xml", b"x" * (3 * 1024 * 1024), send_length=False)
    error = await fetch_error(url, max_bytes=1024 * 1024)
    assert error.message == "body larger than 1 MB"


async def test_gzip_bomb_is_cut_at_the_cap(feed_server: FeedServer) -> None:
    """50 MB of gzipped zeros (50 KB on the wire) is refused without inflating it all."""
    url = feed_server.serve_gzip_bomb("/bomb.xml")
    tracemalloc.start()
    try:
        error = await fetch_error(url, max_bytes=2 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.message == "body larger than 2 MB"
    assert peak < 12 * 1024 * 1024  # inflating the whole bomb would take over 50 MB


async def test_body_at_the_cap_is_accepted(feed_server: FeedServer) -> None:
    """A gzipped body that inflates to exactly max_bytes is still fine."""
    body = b"y" * 4096
    result = await fetch(feed_server.serve("/edge.xml", body, gzip=True), max_bytes=4096)
    assert result.body == body


# redirects


async def test_permanent_redirect_chain_reports_the_new_url(feed_server: FeedServer) -> None:
    """301 then 308 moved the feed for good: the result says where it lives now."""
    feed_server.redirect("/old", "/older", status=301)
    feed_server.redirect("/older", "/feed.xml", status=308)
    feed_url = feed_server.serve("/feed.xml", FEED)
    result = await fetch(feed_server.url("/old"))
    assert result.body == FEED
    assert result.url == feed_url
    assert result.permanent_url == feed_url


@pytest.mark.parametrize("temporary", [302, 303, 307])
async def test_one_temporary_hop_makes_the_move_temporary(
    feed_server: FeedServer, temporary: int
) -> None:
    """A single 302/303/307 anywhere in the chain keeps the configured URL."""
    feed_server.redirect("/old", "/middle", status=301)
    feed_server.redirect("/middle", "/feed.xml", status=temporary)
    feed_url = feed_server.serve("/feed.xml", FEED)
    result = await fetch(feed_server.url("/old"))
    assert result.url == feed_url
    assert result.permanent_url is None


async def test_redirect_to_another_host_is_followed(feed_server: FeedServer) -> None:
    """An absolute Location on another address is followed there."""
    with FeedServer(host="127.0.0.2") as other:
        target = other.serve("/feed.xml", FEED)
        feed_server.redirect("/moved", target, status=301)
        result = await fetch(feed_server.url("/moved"))
    assert (result.body, result.permanent_url) == (FEED, target)


async def test_redirect_loop_is_reported(feed_server: FeedServer) -> None:
    """Two paths pointing at each other end in 'too many redirects', not a hang."""
    feed_server.redirect("/a", "/b", status=302)
    feed_server.redirect("/b", "/a", status=302)
    error = await fetch_error(feed_server.url("/a"))
    assert error.message == "too many redirects"


async def test_five_hops_are_followed_and_six_refused(feed_server: FeedServer) -> None:
    """Up to 5 redirects reach the feed; a 6th hop is refused."""
    for hop in range(6):
        feed_server.redirect(f"/hop{hop}", f"/hop{hop + 1}", status=301)
    feed_server.serve("/hop6", FEED)
    five = await fetch(feed_server.url("/hop1"))
    assert five.body == FEED
    error = await fetch_error(feed_server.url("/hop0"))
    assert error.message == "too many redirects"


async def test_redirect_to_another_scheme_is_refused(feed_server: FeedServer) -> None:
    """A redirect to ftp:// or file:// is not followed."""
    url = feed_server.redirect("/old", "file:///etc/passwd", status=302)
    error = await fetch_error(url)
    assert error.message == "redirect to a non-HTTP URL: file:///etc/passwd"


# HTTP errors


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            403,
            "HTTP 403 Forbidden — the server refuses release-bot; check the URL or ask the"
            " publisher",
        ),
        (404, "HTTP 404 Not Found — check the URL"),
        (410, "HTTP 410 Gone — the publisher removed it; check the URL"),
        (500, "HTTP 500 Internal Server Error"),
        (502, "HTTP 502 Bad Gateway"),
    ],
)
async def test_http_error_status_is_named(
    feed_server: FeedServer, status: int, message: str
) -> None:
    """An error status is reported as 'HTTP <code> <phrase>' (with what to do when it is
    permanent), with no retry hint."""
    error = await fetch_error(feed_server.serve("/feed.xml", b"nope", status=status))
    assert error.message == message
    assert error.retry_after is None


async def test_unknown_path_is_http_404(feed_server: FeedServer) -> None:
    """A feed that moved without a redirect reads 'HTTP 404 Not Found — check the URL'."""
    error = await fetch_error(feed_server.url("/gone.xml"))
    assert error.message == "HTTP 404 Not Found — check the URL"
    assert error.url == feed_server.url("/gone.xml")


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_seconds_is_passed_on(feed_server: FeedServer, status: int) -> None:
    """429 and 503 carry the server's Retry-After delay so the poller waits that long."""
    url = feed_server.serve("/feed.xml", status=status, retry_after="120")
    error = await fetch_error(url)
    assert error.message == f"HTTP {status} {HTTPStatus(status).phrase}"
    assert error.retry_after == 120.0


async def test_retry_after_http_date_is_read_against_the_server_clock(
    feed_server: FeedServer,
) -> None:
    """A Retry-After date counts from the server's own Date header, immune to clock skew."""
    headers = {"Date": "Wed, 21 Oct 2015 07:28:00 GMT"}
    url = feed_server.serve(
        "/feed.xml", status=503, retry_after="Wed, 21 Oct 2015 07:43:00 GMT", headers=headers
    )
    error = await fetch_error(url)
    assert error.message == "HTTP 503 Service Unavailable"
    assert error.retry_after == 900.0


async def test_unreadable_retry_after_is_ignored(feed_server: FeedServer) -> None:
    """A Retry-After that is neither seconds nor a date leaves the normal backoff in charge."""
    error = await fetch_error(feed_server.serve("/f", status=429, retry_after="soon"))
    assert (error.message, error.retry_after) == ("HTTP 429 Too Many Requests", None)


# time limits


async def test_server_that_never_answers_times_out(feed_server: FeedServer) -> None:
    """A server sitting on the request is given up after the configured timeout."""
    url = feed_server.serve("/slow.xml", FEED, delay=30.0)
    error = await fetch_error(url, timeout=0.5)
    assert error.message == "timed out after 0.5 s"


async def test_slow_drip_body_is_cut_by_the_total_timeout(feed_server: FeedServer) -> None:
    """A body trickling 10 bytes every 0.1 s never resets the clock: the total time is capped."""
    url = feed_server.serve("/drip.xml", FEED * 10, drip=(10, 0.1))
    error = await fetch_error(url, timeout=0.5)
    assert error.message == "timed out after 0.5 s"


async def test_whole_seconds_are_written_without_decimals(feed_server: FeedServer) -> None:
    """The message uses the configured number as a person wrote it: '1 s', not '1.0 s'."""
    url = feed_server.serve("/slow.xml", FEED, delay=30.0)
    error = await fetch_error(url, timeout=1.0)
    assert error.message == "timed out after 1 s"


# network failures


async def test_closed_port_is_connection_refused() -> None:
    """Nothing listening on the port reads 'connection refused'."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await fetch_error(f"http://127.0.0.1:{port}/feed.xml")
    assert error.message == "connection refused"


async def test_connection_closed_without_answer(feed_server: FeedServer) -> None:
    """A server hanging up without a response is a network error naming what happened."""
    error = await fetch_error(feed_server.serve("/feed.xml", drop=True))
    assert error.message == "network error: RemoteProtocolError"


@pytest.mark.parametrize("allow_private", [True, False])
async def test_unknown_host_is_a_dns_failure(allow_private: bool) -> None:
    """A host name that does not resolve says so, naming the host."""
    url = "http://feeds.no-such-agency.invalid/rss"
    error = await fetch_error(url, allow_private_addresses=allow_private)
    assert error.message == "DNS lookup failed for feeds.no-such-agency.invalid"
    assert error.url == url


async def test_tls_handshake_failure_is_a_tls_error(feed_server: FeedServer) -> None:
    """Speaking https to a server that does not do TLS is reported as a TLS error."""
    feed_server.serve("/feed.xml", FEED)
    error = await fetch_error(f"https://127.0.0.1:{feed_server.port}/feed.xml")
    assert error.message.startswith("TLS error: ")
    assert len(error.message) > len("TLS error: ")


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http:///feed.xml",
        "http://[::1/feed.xml",
        "http://bad host.invalid/",
        "https://:0/",
    ],
)
async def test_malformed_url_is_a_fetch_error(url: str) -> None:
    """A malformed URL ends in FeedFetchError, never in some other exception."""
    error = await fetch_error(url)
    assert error.url == url
    assert error.message


# private addresses


async def test_private_address_is_refused_unless_allowed(feed_server: FeedServer) -> None:
    """A loopback feed is refused by default, naming the address and the setting to change."""
    url = feed_server.serve("/feed.xml", FEED)
    error = await fetch_error(url, allow_private_addresses=False)
    assert "127.0.0.1" in error.message
    assert "fetch.allow_private_addresses" in error.message
    assert feed_server.hits("/feed.xml") == 0


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "not-an-ip",
    ],
)
def test_non_public_addresses(ip: str) -> None:
    """Loopback, private, link-local, shared, multicast, reserved and unspecified are refused."""
    assert not is_public_address(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(ip: str) -> None:
    """Ordinary internet addresses pass the check."""
    assert is_public_address(ip)


async def test_check_public_host_names_the_address() -> None:
    """The host check resolves the name and reports the address it found."""
    with pytest.raises(FeedFetchError, match=r"localhost resolves to the non-public address"):
        await check_public_host("localhost", 80)


# limits


async def test_per_host_limit_caps_concurrent_requests(feed_server: FeedServer) -> None:
    """With per_host=2, a host never sees more than 2 of our requests at once."""
    url = feed_server.serve("/feed.xml", FEED, delay=0.15)
    async with Fetcher(settings(per_host=2), user_agent="t") as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(url) for _ in range(6)))
    assert all(r.body == FEED for r in results)
    assert feed_server.hits("/feed.xml") == 6
    assert feed_server.max_in_flight <= 2


async def test_global_limit_caps_requests_across_hosts(feed_server: FeedServer) -> None:
    """With concurrency=3 the whole bot has at most 3 requests out, whatever the hosts."""
    feed_server.serve("/feed.xml", FEED, delay=0.15)
    urls = [f"http://{host}:{feed_server.port}/feed.xml" for host in ("127.0.0.1", "localhost")]
    async with Fetcher(settings(concurrency=3, per_host=3), user_agent="t") as fetcher:
        await asyncio.gather(*(fetcher.fetch(url) for url in urls * 4))
    assert feed_server.hits("/feed.xml") == 8
    assert feed_server.max_in_flight <= 3


# local files


async def test_local_file_is_read(tmp_path: Path) -> None:
    """A path instead of a URL reads the file: status ok, no validators."""
    path = tmp_path / "demo.xml"
    path.write_bytes(FEED)
    result = await fetch(str(path))
    assert (result.status, result.body, result.url) == ("ok", FEED, str(path))
    assert (result.etag, result.last_modified, result.permanent_url) == (None, None, None)
    assert result.content_type == "application/xml"


async def test_missing_local_file_is_reported(tmp_path: Path) -> None:
    """A path that does not exist says 'file not found' with the path."""
    path = str(tmp_path / "nope.xml")
    error = await fetch_error(path)
    assert error.message == f"file not found: {path}"


async def test_local_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    """The size cap applies to local files too."""
    path = tmp_path / "big.xml"
    path.write_bytes(b"z" * 2048)
    error = await fetch_error(str(path), max_bytes=1000)
    assert error.message == "body larger than 1000 bytes"


async def test_server_serves_many_connections_at_once() -> None:
    """The fake server answers 200 simultaneous requests (benchmarks rely on it)."""
    with FeedServer(host="127.0.0.3") as server:
        url = server.serve("/feed.xml", FEED, delay=0.05)
        async with Fetcher(settings(concurrency=200, per_host=200), user_agent="t") as fetcher:
            results = await asyncio.gather(*(fetcher.fetch(url) for _ in range(200)))
        assert all(r.body == FEED for r in results)
        assert server.hits("/feed.xml") == 200


def test_server_answers_a_subprocess(feed_server: FeedServer) -> None:
    """The server runs in a thread, so a blocking subprocess can fetch from it (CLI tests)."""
    url = feed_server.serve("/feed.xml", FEED)
    script = (
        "import sys, urllib.request; "
        "sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, timeout=60, check=True
    )
    assert done.stdout == FEED


def test_route_defaults_serve_rss() -> None:
    """A bare Route answers 200 with an RSS content type."""
    route = Route(body=FEED)
    assert (route.status, route.content_type) == (200, "application/rss+xml; charset=utf-8")
