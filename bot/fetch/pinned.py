"""Connect feed requests only to addresses that passed the public-address check.

Checking a name and then letting the HTTP library look it up again to connect leaves a
gap: the second answer may be 127.0.0.1 (DNS rebinding). Here the lookup, the check and
the connection are one step: httpcore asks the network backend for a TCP stream to
(host, port), and `PinnedBackend` resolves the host once, refuses it unless every
address is public, and connects to those very addresses, in order. httpcore then sends
the original host name in the Host header and as the TLS server name, and verifies the
certificate against it, as it does for any connection.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpcore
import httpx

from bot.fetch.addresses import Resolver, check_public_host

_Stream = httpcore.AsyncNetworkStream
_Options = Iterable[httpcore.SOCKET_OPTION] | None


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to checked public addresses.

    Raises FeedFetchError (naming the host) when the lookup fails or any address is not
    public. `inner` opens the actual connections; tests give it a stand-in internet.
    """

    def __init__(self, resolver: Resolver, inner: httpcore.AsyncNetworkBackend) -> None:
        self._resolver = resolver
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: _Options = None,
    ) -> _Stream:
        addresses = await check_public_host(host, port, self._resolver)
        for index, ip in enumerate(addresses):
            try:
                return await self._inner.connect_tcp(
                    ip,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                if index == len(addresses) - 1:
                    raise
        raise AssertionError("check_public_host returns at least one address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: _Options = None,
    ) -> _Stream:
        raise httpcore.ConnectError("feeds are fetched over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class BackendTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, opening its connections through `backend`.

    httpx takes no network backend, so the connection pool it builds is replaced by an
    identical one that has it. No proxy: a proxy would look the name up itself.
    """

    def __init__(self, backend: httpcore.AsyncNetworkBackend, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
