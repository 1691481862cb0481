"""The private-address guard: the Fetcher connects only to addresses it checked.

Public hosts are loopback feed servers behind a stand-in internet (tests/fakes/internet.py);
name lookups come from a script, so a name can change its answer between lookups.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.config import FetchSettings
from bot.errors import FeedFetchError
from bot.fetch.client import Fetcher
from bot.models import FetchResult
from tests.fakes.feed_server import FeedServer
from tests.fakes.internet import ScriptedResolver, StandInInternet, TlsHelloRecorder

PUBLIC_IP = "93.184.216.34"
OTHER_PUBLIC_IP = "93.184.216.35"
FEED = b'<rss version="2.0"><channel><title>Public news</title></channel></rss>'
SECRET = b"loopback admin page"


def guarded(**changes: Any) -> FetchSettings:
    values: dict[str, Any] = {"timeout": 5.0, "connect_timeout": 2.0}
    return FetchSettings(**(values | {"allow_private_addresses": False} | changes))


async def fetch(
    url: str, resolver: ScriptedResolver, internet: StandInInternet, **changes: Any
) -> FetchResult:
    async with Fetcher(
        guarded(**changes), user_agent="t", resolver=resolver, network_backend=internet
    ) as fetcher:
        return await fetcher.fetch(url)


async def fetch_error(
    url: str, resolver: ScriptedResolver, internet: StandInInternet
) -> FeedFetchError:
    with pytest.raises(FeedFetchError) as info:
        await fetch(url, resolver, internet)
    return info.value


@pytest.fixture
def public_server() -> Any:
    """A loopback server standing in for the internet host at PUBLIC_IP."""
    with FeedServer() as server:
        server.serve("/feed.xml", FEED)
        yield server


async def test_rebinding_name_never_reaches_loopback(
    feed_server: FeedServer, public_server: FeedServer
) -> None:
    """A name that answers public, then 127.0.0.1, never gets the bot onto loopback."""
    feed_server.serve("/feed.xml", SECRET)
    url = f"http://localhost:{feed_server.port}/feed.xml"  # the system resolves it to loopback
    resolver = ScriptedResolver({"localhost": [[PUBLIC_IP], ["127.0.0.1"]]})
    internet = StandInInternet({PUBLIC_IP: public_server})

    first = await fetch(url, resolver, internet)
    assert first.body == FEED  # from the address that was checked
    assert public_server.headers_seen("/feed.xml")[0]["host"] == f"localhost:{feed_server.port}"

    second = await fetch_error(url, resolver, internet)  # the next poll: the name now rebinds
    assert "localhost resolves to the non-public address 127.0.0.1" in second.message
    assert "fetch.allow_private_addresses" in second.message
    assert second.url == url
    assert feed_server.hits("/feed.xml") == 0
    assert resolver.lookups == ["localhost", "localhost"]  # one lookup per connection
    assert internet.connections == [(PUBLIC_IP, feed_server.port)]


async def test_redirect_to_a_private_address_is_refused(
    feed_server: FeedServer, public_server: FeedServer
) -> None:
    """Every hop is checked, so a public feed cannot redirect the bot onto loopback."""
    feed_server.serve("/admin", SECRET)
    public_server.redirect("/feed.xml", feed_server.url("/admin"), status=302)
    resolver = ScriptedResolver({"feeds.example": [[PUBLIC_IP]]})
    internet = StandInInternet({PUBLIC_IP: public_server})

    error = await fetch_error("http://feeds.example/feed.xml", resolver, internet)
    assert "non-public address 127.0.0.1" in error.message
    assert error.url == "http://feeds.example/feed.xml"
    assert public_server.hits("/feed.xml") == 1
    assert feed_server.hits("/admin") == 0


async def test_redirect_to_a_name_resolving_private_is_refused(public_server: FeedServer) -> None:
    """A redirect to a name that resolves to a private address is refused before connecting."""
    public_server.redirect("/feed.xml", "http://intranet.example/admin", status=301)
    resolver = ScriptedResolver(
        {"feeds.example": [[PUBLIC_IP]], "intranet.example": [["10.0.0.7"]]}
    )
    internet = StandInInternet({PUBLIC_IP: public_server})

    error = await fetch_error("http://feeds.example/feed.xml", resolver, internet)
    assert "intranet.example resolves to the non-public address 10.0.0.7" in error.message
    assert internet.connections == [(PUBLIC_IP, 80)]


async def test_one_private_address_among_public_ones_is_refused(public_server: FeedServer) -> None:
    """Every address of a name is checked before any connection, not just the first."""
    resolver = ScriptedResolver({"feeds.example": [[PUBLIC_IP, "127.0.0.1"]]})
    internet = StandInInternet({PUBLIC_IP: public_server})

    error = await fetch_error("http://feeds.example/feed.xml", resolver, internet)
    assert "non-public address 127.0.0.1" in error.message
    assert internet.connections == []


async def test_next_checked_address_is_tried_when_one_refuses(public_server: FeedServer) -> None:
    """A host whose first address refuses the connection is reached at its next one."""
    resolver = ScriptedResolver({"feeds.example": [[OTHER_PUBLIC_IP, PUBLIC_IP]]})
    internet = StandInInternet({PUBLIC_IP: public_server})
    internet.down(OTHER_PUBLIC_IP)

    result = await fetch("http://feeds.example/feed.xml", resolver, internet)
    assert result.body == FEED
    assert internet.connections == [(OTHER_PUBLIC_IP, 80), (PUBLIC_IP, 80)]


async def test_every_address_refusing_is_reported() -> None:
    """When no address of a host answers, the feed's error says the connection was refused."""
    resolver = ScriptedResolver({"feeds.example": [[OTHER_PUBLIC_IP, PUBLIC_IP]]})
    internet = StandInInternet()
    internet.down(OTHER_PUBLIC_IP)
    internet.down(PUBLIC_IP)

    error = await fetch_error("http://feeds.example/feed.xml", resolver, internet)
    assert error.message == "connection refused"
    assert len(internet.connections) == 2


async def test_failed_lookup_is_reported() -> None:
    """A name that does not resolve gives the usual DNS message and no connection."""
    internet = StandInInternet()
    error = await fetch_error("http://nowhere.example/feed.xml", ScriptedResolver({}), internet)
    assert error.message == "DNS lookup failed for nowhere.example"
    assert internet.connections == []


async def test_tls_to_a_checked_address_keeps_the_server_name() -> None:
    """HTTPS goes to the checked address but asks for, and verifies, the feed's own host name."""
    resolver = ScriptedResolver({"secure.example": [[PUBLIC_IP]]})
    with TlsHelloRecorder() as tls_host:
        internet = StandInInternet({PUBLIC_IP: tls_host})
        error = await fetch_error("https://secure.example/feed.xml", resolver, internet)
    assert tls_host.server_names == ["secure.example"]
    assert internet.connections == [(PUBLIC_IP, 443)]
    assert error.message.startswith("TLS error")


async def test_environment_proxy_does_not_bypass_the_guard(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    feed_server: FeedServer,
    public_server: FeedServer,
) -> None:
    """With the guard on, HTTP_PROXY is not used (it resolves names itself); the log says so."""
    feed_server.serve("/feed.xml", SECRET)  # a proxy on loopback that would answer anything
    monkeypatch.setenv("HTTP_PROXY", feed_server.url("/"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    resolver = ScriptedResolver({"feeds.example": [[PUBLIC_IP]]})
    internet = StandInInternet({PUBLIC_IP: public_server})

    with caplog.at_level(logging.WARNING, logger="bot.fetch.client"):
        result = await fetch("http://feeds.example/feed.xml", resolver, internet)
    assert result.body == FEED
    assert feed_server.hits("/feed.xml") == 0
    assert "HTTP_PROXY" in caplog.text
    assert "fetch.allow_private_addresses" in caplog.text


async def test_environment_proxy_is_used_when_private_addresses_are_allowed(
    monkeypatch: pytest.MonkeyPatch, feed_server: FeedServer
) -> None:
    """With fetch.allow_private_addresses = true, HTTP_PROXY is honoured as before."""
    feed_server.serve("/feed.xml", FEED)  # the proxy answers for the unreachable host
    monkeypatch.setenv("HTTP_PROXY", feed_server.url("/"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings = guarded(allow_private_addresses=True)
    async with Fetcher(settings, user_agent="t") as fetcher:
        result = await fetcher.fetch("http://feeds.invalid/feed.xml")
    assert result.body == FEED
    assert feed_server.hits("/feed.xml") == 1
