"""Fetch one feed over HTTP (or read it from a local file) with conditional GET, caps and limits.

This is the only module that talks HTTP for feeds (bot/fetch/pinned.py opens its
connections, to checked addresses only). Everything that can go wrong with the feed or
the network comes out as a FeedFetchError subclass (bot/errors.py) whose message a person
can act on and which knows whether it is permanent. A bug in this code is not caught: it
reaches the caller with its traceback.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import mimetypes
import socket
import ssl
import urllib.request
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import httpcore
import httpx

import bot
from bot.config import FetchSettings
from bot.errors import (
    BadFeedURLError,
    FeedFetchError,
    FeedHTTPStatusError,
    FeedTimeoutError,
    FeedTooLargeError,
    FeedUnreachableError,
    UnsupportedEncodingError,
)
from bot.fetch.addresses import Resolver, system_resolver
from bot.fetch.pinned import BackendTransport, PinnedBackend
from bot.models import FetchResult

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
# Only what _Inflater can decode with a size cap; httpx would also offer br/zstd if installed.
ACCEPT_ENCODING = "gzip, deflate"
# Compressions a server may send although we did not ask for them: refused with their name
# (decoded as XML they would only say "ill-formed"). Any other unknown coding ("utf-8",
# "none": servers mislabel) passes through, as in httpx; the parser judges the result.
UNDECODABLE_ENCODINGS = frozenset(
    {"br", "zstd", "compress", "x-compress", "bzip2", "x-bzip2", "lzma", "xz", "pack200-gzip"}
)


def default_user_agent() -> str:
    """The User-Agent sent with every feed request unless the caller picks another."""
    return f"release-bot/{bot.__version__} (+https://github.com/release-bot/release-bot)"


@dataclass(frozen=True, slots=True)
class _Redirect:
    status: int
    location: str


class Fetcher:
    """One shared HTTP client with global and per-host concurrency limits.

    Use as `async with Fetcher(settings, user_agent=...) as fetcher: await fetcher.fetch(url)`.
    Unless `settings.allow_private_addresses`, every connection goes only to addresses
    that `resolver` gave for the host and that all passed the public-address check.
    `network_backend` opens the TCP connections (tests give it a stand-in internet).
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        user_agent: str,
        resolver: Resolver = system_resolver,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        limits = httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        )
        self._client = httpx.AsyncClient(
            transport=_transport(settings, limits, resolver, network_backend),
            headers={
                "User-Agent": user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            limits=limits,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._client.aclose()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url` conditionally; a `url` that is not http(s) is read as a local file.

        Raises a FeedFetchError subclass for whatever the network, the server or the
        feed's URL did wrong; anything else is a bug and escapes as it is.
        """
        if not _is_http(url):
            return await self._read_file(url)
        try:
            return await self._fetch_http(url, _conditional_headers(etag, last_modified))
        except (OSError, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            # what the network can raise past httpx's own mapping (it maps most of it
            # to httpx.HTTPError, caught per request in _fetch_http)
            raise FeedUnreachableError(url, f"network error: {type(exc).__name__}") from exc

    async def _fetch_http(self, url: str, headers: dict[str, str]) -> FetchResult:
        """Follow up to MAX_REDIRECTS hops; the whole chain shares one deadline."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        current = url
        permanent = True
        for _ in range(MAX_REDIRECTS + 1):
            host = _host_of(url, current)
            async with self._host_slot(host), self._slots:
                if deadline is None:  # queueing for a slot does not count against the feed
                    deadline = loop.time() + self._settings.timeout
                try:
                    async with asyncio.timeout_at(deadline):
                        outcome = await self._exchange(url, current, headers)
                except TimeoutError:
                    message = f"timed out after {_number(self._settings.timeout)} s"
                    raise FeedTimeoutError(url, message) from None
                except httpx.HTTPError as exc:
                    raise self._describe(exc, url, host) from exc
            if isinstance(outcome, FetchResult):
                moved = permanent and current != url
                return replace(outcome, permanent_url=current if moved else None)
            permanent = permanent and outcome.status in PERMANENT_STATUSES
            current = outcome.location
        raise BadFeedURLError(url, "too many redirects")

    @asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        slot = self._host_slots.setdefault(host, asyncio.Semaphore(self._settings.per_host))
        async with slot:
            yield

    async def _exchange(
        self, url: str, current: str, headers: dict[str, str]
    ) -> FetchResult | _Redirect:
        """One request/response: a redirect to follow, or the final result with its body."""
        request = self._client.build_request("GET", current, headers=headers)
        try:
            response = await self._client.send(request, stream=True)
        except FeedFetchError as exc:  # the address guard names the host, not the feed
            raise exc.for_url(url) from exc
        except UnicodeError as exc:  # httpx reads a redirect's host with idna even unfollowed
            raise BadFeedURLError(url, f"invalid URL in the redirect: {exc}") from exc
        try:
            return await self._interpret(url, response, headers)
        finally:
            await response.aclose()

    async def _interpret(
        self, url: str, response: httpx.Response, sent: dict[str, str]
    ) -> FetchResult | _Redirect:
        status = response.status_code
        location = response.headers.get("location")
        if status in REDIRECT_STATUSES and location:
            target = str(response.url.join(location.strip()))
            if not _is_http(target):
                raise BadFeedURLError(url, f"redirect to a non-HTTP URL: {location.strip()}")
            return _Redirect(status, target)
        if status == 304:
            return _result(response, "not_modified", b"", sent)
        if 200 <= status < 300:
            return _result(response, "ok", await self._read_body(url, response), sent)
        retry_after = _retry_after(response) if status in RETRY_AFTER_STATUSES else None
        raise FeedHTTPStatusError(url, status, _phrase(status), retry_after=retry_after)

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        """Read the body, refusing it as soon as the raw or decoded size passes the cap."""
        cap = self._settings.max_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise _too_large(url, cap)
        encoding = response.headers.get("content-encoding", "")
        undecodable = [c for c in _codings(encoding) if c in UNDECODABLE_ENCODINGS]
        if undecodable:
            raise UnsupportedEncodingError(
                url,
                f"unsupported Content-Encoding {undecodable[0]!r}: the server compressed the"
                f" feed in a way release-bot cannot decode (it asks for {ACCEPT_ENCODING})",
            )
        inflater = _Inflater(encoding, cap)
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                if response.num_bytes_downloaded > cap:
                    raise _TooLargeError
                body += inflater.decode(chunk)
            body += inflater.flush()
        except _TooLargeError:
            raise _too_large(url, cap) from None
        except zlib.error as exc:
            raise FeedUnreachableError(url, "corrupt compressed body") from exc
        return bytes(body)

    def _describe(self, exc: httpx.HTTPError, url: str, host: str) -> FeedFetchError:
        """Turn an httpx error into its type, with a sentence a person can act on."""
        if isinstance(exc, httpx.ConnectTimeout):
            seconds = _number(self._settings.connect_timeout)
            return FeedTimeoutError(url, f"timed out after {seconds} s while connecting")
        if isinstance(exc, httpx.TimeoutException):
            return FeedTimeoutError(url, f"timed out after {_number(self._settings.timeout)} s")
        if isinstance(exc, httpx.DecodingError):
            return FeedUnreachableError(url, "corrupt compressed body")
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return BadFeedURLError(url, f"invalid URL: {exc}")
        for cause in _causes(exc):
            if isinstance(cause, ConnectionRefusedError):
                return FeedUnreachableError(url, "connection refused")
            if isinstance(cause, socket.gaierror):
                return FeedUnreachableError(url, f"DNS lookup failed for {host}")
            if isinstance(cause, ssl.SSLError):
                return FeedUnreachableError(url, f"TLS error: {_tls_reason(cause)}")
        return FeedUnreachableError(url, f"network error: {type(exc).__name__}")

    async def _read_file(self, path: str) -> FetchResult:
        cap = self._settings.max_bytes
        try:
            body = await asyncio.to_thread(_read_at_most, path, cap + 1)
        except FileNotFoundError as exc:
            raise BadFeedURLError(path, f"file not found: {path}") from exc
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise FeedUnreachableError(path, f"cannot read file: {reason}") from exc
        if len(body) > cap:
            raise _too_large(path, cap)
        return FetchResult(
            status="ok",
            url=path,
            permanent_url=None,
            body=body,
            content_type=mimetypes.guess_type(path)[0] or "",
            etag=None,
            last_modified=None,
        )


class _TooLargeError(Exception):
    """Decoded output passed the cap."""


class _Inflater:
    """Undo a Content-Encoding chain without ever producing more than `limit` bytes.

    httpx's own decoders inflate a whole network chunk at once (64 KB of gzipped zeros
    become 64 MB), so each zlib stage here is asked for at most `limit + 1` bytes at a time.
    Unknown codings pass through untouched, as httpx does; the parser judges the result.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = _codings(content_encoding)
        self._stages = [_Stage(c, limit) for c in reversed(codings) if c in _WBITS]

    def decode(self, data: bytes) -> bytes:
        for stage in self._stages:
            data = stage.decode(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for stage in self._stages:
            data = stage.decode(data) + stage.flush()
        return data


_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _Stage:
    """One bounded zlib stream; 'deflate' falls back to raw deflate as browsers do."""

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding
        self._limit = limit
        self._produced = 0
        self._started = False
        self._inflate = zlib.decompressobj(_WBITS[coding])

    def decode(self, data: bytes) -> bytes:
        if data and not self._started and self._coding == "deflate":
            try:
                return self._decode(data)
            except zlib.error:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._decode(data)

    def _decode(self, data: bytes) -> bytes:
        parts = []
        while data:
            self._started = True
            room = self._limit - self._produced
            out = self._inflate.decompress(data, room + 1)
            self._produced += len(out)
            if self._produced > self._limit:
                raise _TooLargeError
            parts.append(out)
            data = self._inflate.unconsumed_tail
        return b"".join(parts)

    def flush(self) -> bytes:
        if not self._started:
            return b""  # an empty body is the parser's business, not a decoding error
        tail = self._inflate.flush()
        self._produced += len(tail)
        if self._produced > self._limit:
            raise _TooLargeError
        if not self._inflate.eof:
            raise zlib.error("compressed stream ends before its end marker")
        return tail


def _codings(content_encoding: str) -> list[str]:
    """'gzip, BR' -> ['gzip', 'br']: the codings in the order the server applied them."""
    return [c.strip().lower() for c in content_encoding.split(",") if c.strip()]


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _host_of(url: str, current: str) -> str:
    try:
        host = httpx.URL(current).host
    # UnicodeError: httpx decodes an "xn--" host with idna, whose IDNAError is not InvalidURL
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise BadFeedURLError(url, f"invalid URL: {exc}") from exc
    if not host:
        raise BadFeedURLError(url, f"invalid URL: no host in {current}")
    return host.lower()


def _transport(
    settings: FetchSettings,
    limits: httpx.Limits,
    resolver: Resolver,
    network_backend: httpcore.AsyncNetworkBackend | None,
) -> httpx.AsyncBaseTransport | None:
    """The guarded transport; None (httpx's own) when private addresses are allowed."""
    if settings.allow_private_addresses:
        if network_backend is None:
            return None  # as before the guard pinned addresses: HTTP(S)_PROXY is honoured
        return BackendTransport(network_backend, limits)
    proxies = _environment_proxies()
    if proxies:
        log.warning(
            "feeds are fetched without the proxy set in the environment (%s): a proxy "
            "looks host names up itself, past the private-address check; "
            "set fetch.allow_private_addresses = true to use it",
            ", ".join(proxies),
        )
    backend = PinnedBackend(resolver, network_backend or httpcore.AnyIOBackend())
    return BackendTransport(backend, limits)


def _environment_proxies() -> list[str]:
    """The proxy variables httpx would honour (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY)."""
    proxies = urllib.request.getproxies()
    return [f"{scheme.upper()}_PROXY" for scheme in ("http", "https", "all") if proxies.get(scheme)]


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The validators to send back. One that is not ASCII (a server's ETag with a Latin-1
    byte) cannot be sent as it came (httpx encodes request headers as ASCII) and is left
    out: the feed is then fetched in full, and its body hash still shows it unchanged."""
    headers = {}
    if etag and etag.isascii():
        headers["If-None-Match"] = etag
    if last_modified and last_modified.isascii():
        headers["If-Modified-Since"] = last_modified
    return headers


def _result(
    response: httpx.Response,
    status: Literal["ok", "not_modified"],
    body: bytes,
    sent: dict[str, str],
) -> FetchResult:
    """A 304 may omit the validators; then the ones we sent still hold."""
    keep = status == "not_modified"
    etag = response.headers.get("etag") or (sent.get("If-None-Match") if keep else None)
    last_modified = response.headers.get("last-modified") or (
        sent.get("If-Modified-Since") if keep else None
    )
    return FetchResult(
        status=status,
        url=str(response.url),
        permanent_url=None,
        body=body,
        content_type=response.headers.get("content-type", ""),
        etag=etag,
        last_modified=last_modified,
    )


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, from a delay or an HTTP-date (read against the server's Date)."""
    value = response.headers.get("retry-after", "").strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit, not to float
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(response.headers.get("date", "")) or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, innermost last."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _tls_reason(exc: ssl.SSLError) -> str:
    verify_message = getattr(exc, "verify_message", None)
    if verify_message:
        return str(verify_message)
    if exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    return str(exc)


def _read_at_most(path: str, limit: int) -> bytes:
    with Path(path).expanduser().open("rb") as handle:
        return handle.read(limit)


def _too_large(url: str, cap: int) -> FeedTooLargeError:
    return FeedTooLargeError(url, f"body larger than {_size(cap)}")


def _phrase(status: int) -> str:
    """The standard reason phrase ('Not Found'), not the server's own; '' when unknown."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _number(value: float) -> str:
    """30.0 -> '30', 0.5 -> '0.5'."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _size(limit: int) -> str:
    """10485760 -> '10 MB', 65536 -> '64 KB', 500 -> '500 bytes'."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= scale:
            return f"{round(limit / scale, 1):g} {unit}"
    return f"{limit} bytes"
