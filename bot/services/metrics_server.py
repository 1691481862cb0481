"""`/metrics` and `/healthz` over HTTP, served on the bot's own event loop (`[metrics] listen`).

Why on the loop (asyncio.start_server) and not prometheus-client's server thread: /healthz
then proves the loop itself answers, and nothing here can reach the store from another
thread by mistake (its SQLite connection belongs to the loop's thread). The exposition is
rendered in a worker thread all the same: it reads only the registry (prometheus-client
locks each metric), and with 10,000 feeds it takes long enough to delay a tick.

A minimal HTTP/1.1 server: GET or HEAD, one request per connection, a request line and
headers of at most 8 KiB read within 5 s. Nothing else is needed by Prometheus, curl, or a
container's health check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST

from bot.services.metrics import Metrics

log = logging.getLogger(__name__)

READ_TIMEOUT = 5.0
# A scraper that stops reading gets its connection dropped: else the answer (megabytes with
# 10,000 feeds) and the socket stay held for as long as it keeps the connection open.
WRITE_TIMEOUT = 10.0
MAX_HEAD = 8192
# Connections answered at once; more are closed unanswered. Each silent one holds a file
# descriptor for up to READ_TIMEOUT: without a cap, a flood of them would leave the bot
# none for its feeds, Telegram and the database (the endpoint may listen on 0.0.0.0).
MAX_CLIENTS = 32
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
REASONS[503] = "Service Unavailable"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: str,
    body: bytes,
    *,
    head: bool,
    patience: float = WRITE_TIMEOUT,
) -> None:
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
        "",
        "",
    ]
    writer.write("\r\n".join(lines).encode("latin-1") + (b"" if head else body))
    try:
        await asyncio.wait_for(writer.drain(), patience)
    except TimeoutError:
        writer.transport.abort()  # close() would wait to flush what it will never read
        log.debug("metrics client stopped reading: dropped")


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str] | None:
    """(method, path without its query) of the request, or None when it is not HTTP."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        return None
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    return parts[0], parts[1].split("?", 1)[0]


class MetricsServer:
    """Answers /metrics and /healthz from one Metrics object."""

    def __init__(self, metrics: Metrics, *, write_timeout: float = WRITE_TIMEOUT) -> None:
        self.metrics = metrics
        self.write_timeout = write_timeout
        self.clients = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.clients >= MAX_CLIENTS:
            writer.transport.abort()
            return
        self.clients += 1
        try:
            request = await _read_request(reader)
            if request is None:
                await _respond(writer, 400, TEXT, b"bad request\n", head=False)
                return
            method, path = request
            head = method == "HEAD"
            if method not in ("GET", "HEAD"):
                await _respond(writer, 405, TEXT, b"GET or HEAD only\n", head=False)
            elif path == "/metrics":
                body = await asyncio.to_thread(self.metrics.exposition)
                await _respond(
                    writer, 200, CONTENT_TYPE_LATEST, body, head=head, patience=self.write_timeout
                )
            elif path == "/healthz":
                report = self.metrics.health.report()
                await _respond(writer, report.status, JSON, report.json() + b"\n", head=head)
            else:
                await _respond(writer, 404, TEXT, b"try /metrics or /healthz\n", head=head)
        except (ConnectionError, OSError) as exc:  # the scraper went away: its problem
            log.debug("metrics client: %s", exc)
        finally:
            self.clients -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(
    metrics: Metrics, host: str, port: int, *, write_timeout: float = WRITE_TIMEOUT
) -> AsyncIterator[asyncio.Server]:
    """Serve `metrics` on host:port while the block runs. An address that cannot be bound
    raises OSError (the caller says which key to change)."""
    handler = MetricsServer(metrics, write_timeout=write_timeout).handle
    server = await asyncio.start_server(handler, host, port, limit=MAX_HEAD, reuse_address=True)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()
