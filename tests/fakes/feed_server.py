"""A scriptable HTTP feed server on a loopback address, for tests and benchmarks.

It runs in a background thread (one thread per connection), so it serves async tests,
blocking code and subprocesses alike. Each path gets a `Route` saying what to answer;
the server counts hits, keeps the request headers it saw and the most requests it had
in flight at once.

    with FeedServer() as server:
        server.serve("/feed.xml", body, etag='"v1"')
        server.redirect("/old", "/feed.xml", status=301)
        url = server.url("/old")
"""

from __future__ import annotations

import functools
import gzip
import sys
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.loopback import LoopbackServer

RSS_TYPE = "application/rss+xml; charset=utf-8"
BOMB_SIZE = 50 * 1024 * 1024


@dataclass
class Route:
    """What the server answers at one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = RSS_TYPE
    headers: dict[str, str] = field(default_factory=dict)  # extra; may override Date/Server
    etag: str | None = None  # sent, and a matching If-None-Match gets a 304
    last_modified: str | None = None  # sent, and an equal If-Modified-Since gets a 304
    gzip: bool = False  # compress `body` and say Content-Encoding: gzip
    content_encoding: str | None = None  # say this encoding, send `body` as it is
    location: str | None = None  # Location header (for redirects)
    retry_after: str | None = None
    delay: float = 0.0  # seconds to wait before answering
    drip: tuple[int, float] | None = None  # send the body N bytes every T seconds
    drop: bool = False  # close the connection without answering
    send_length: bool = True  # False: no Content-Length, the body ends when the connection does


@dataclass
class _Stats:
    hits: Counter[str] = field(default_factory=Counter)
    headers: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0


@functools.cache
def gzip_bomb(size: int = BOMB_SIZE) -> bytes:
    """`size` zero bytes, gzipped (about 1000:1), built without holding them all at once."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.compress(bytes(size % len(block))))
    parts.append(compressor.flush())
    return b"".join(parts)


class FeedServer(LoopbackServer):
    """A threaded HTTP/1.1 server bound to `host` (any 127.0.0.x) and `port` (0 = any free)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self._stats = _Stats()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.feed_server = self
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return f"http://{self.host}:{self.port}{path}"

    # scripting

    def route(self, path: str, route: Route) -> str:
        """Answer `path` with `route`; returns the path's URL."""
        self.routes[path] = route
        return self.url(path)

    def serve(self, path: str, body: bytes = b"", **options: Any) -> str:
        """Answer `path` with `body` and any Route options; returns the path's URL."""
        return self.route(path, Route(body=body, **options))

    def redirect(self, path: str, to: str, *, status: int = 301) -> str:
        """Redirect `path` to `to` (a path on this server or an absolute URL)."""
        return self.route(path, Route(status=status, location=to))

    def serve_gzip_bomb(self, path: str, size: int = BOMB_SIZE) -> str:
        """Answer `path` with `size` bytes of zeros, gzipped (about `size` / 1000 on the wire)."""
        return self.route(path, Route(body=gzip_bomb(size), content_encoding="gzip"))

    # what was seen

    def hits(self, path: str) -> int:
        """How many requests reached `path`."""
        with self._lock:
            return self._stats.hits[path]

    def headers_seen(self, path: str) -> list[dict[str, str]]:
        """The headers of each request to `path`, in order, with lower-case names."""
        with self._lock:
            return list(self._stats.headers.get(path, []))

    @property
    def max_in_flight(self) -> int:
        """The most requests this server was answering at the same time."""
        with self._lock:
            return self._stats.max_in_flight

    def _enter(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._stats.hits[path] += 1
            self._stats.headers.setdefault(path, []).append(headers)
            self._stats.in_flight += 1
            self._stats.max_in_flight = max(self._stats.max_in_flight, self._stats.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._stats.in_flight -= 1

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when it is stopping."""
        return self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open hundreds of connections at once
    feed_server: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (tests cut bodies on purpose) is normal; report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # an idle keep-alive connection lets its thread go after this

    def do_GET(self) -> None:
        owner = self.server.feed_server
        path = urlsplit(self.path).path
        owner._enter(path, {name.lower(): value for name, value in self.headers.items()})
        try:
            self._answer(owner, owner.routes.get(path))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up; nothing to report
        finally:
            owner._leave()

    def _answer(self, owner: FeedServer, route: Route | None) -> None:
        if route is None:
            route = Route(status=404, body=b"not found", content_type="text/plain")
        if route.delay and owner._wait(route.delay):
            self.close_connection = True
            return
        if route.drop:
            self.close_connection = True
            return
        if self._not_modified(route):
            self._send_head(route, 304, {})
            self.end_headers()
            return
        body, encoding = _encoded_body(route)
        extra = {"Content-Type": route.content_type, "Content-Length": str(len(body))}
        if not route.send_length:
            del extra["Content-Length"]
            extra["Connection"] = "close"
            self.close_connection = True
        if encoding:
            extra["Content-Encoding"] = encoding
        self._send_head(route, route.status, extra)
        self.end_headers()
        if route.drip is None:
            self.wfile.write(body)
        else:
            self._drip(owner, body, *route.drip)

    def _not_modified(self, route: Route) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            etag = (route.etag or "").removeprefix("W/")
            return bool(route.etag) and ("*" in tags or etag in tags)
        since = self.headers.get("If-Modified-Since")
        return route.last_modified is not None and since == route.last_modified

    def _send_head(self, route: Route, status: int, extra: dict[str, str]) -> None:
        headers = {"Server": "feed-server", "Date": formatdate(usegmt=True)}
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if route.location:
            headers["Location"] = route.location
        if route.retry_after:
            headers["Retry-After"] = route.retry_after
        if status == 304:
            headers["Content-Length"] = "0"
        headers.update(extra)
        headers.update(route.headers)
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)

    def _drip(self, owner: FeedServer, body: bytes, size: int, every: float) -> None:
        for start in range(0, len(body), size):
            self.wfile.write(body[start : start + size])
            self.wfile.flush()
            if owner._wait(every):
                self.close_connection = True
                return

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: pytest output is for failures."""


def _encoded_body(route: Route) -> tuple[bytes, str | None]:
    if route.gzip:
        return _gzipped(route.body), "gzip"
    return route.body, route.content_encoding


@functools.lru_cache(maxsize=64)
def _gzipped(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)
