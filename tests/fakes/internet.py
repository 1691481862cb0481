"""A stand-in internet for the Fetcher's address guard: scripted DNS and public hosts on loopback.

`ScriptedResolver` answers name lookups from a script, a different answer each time if
asked to (DNS rebinding). `StandInInternet` is the httpcore network backend the Fetcher
connects through: a connection to a public address it knows goes to the loopback server
standing in for that host; a connection to anything else is made for real, so a guard
that let 127.0.0.1 through would really reach the loopback server behind it.

    internet = StandInInternet({"93.184.216.34": public_server})
    resolver = ScriptedResolver({"localhost": [["93.184.216.34"], ["127.0.0.1"]]})
    Fetcher(settings, user_agent="t", resolver=resolver, network_backend=internet)
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterable, Sequence
from types import TracebackType

import httpcore

from tests.fakes.feed_server import FeedServer


class ScriptedResolver:
    """Answers the n-th lookup of a name with its n-th scripted answer (the last one repeats)."""

    def __init__(self, script: dict[str, Sequence[Sequence[str]]]) -> None:
        self._script = {
            name: [list(answer) for answer in answers] for name, answers in script.items()
        }
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answers = self._script.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not in the script")
        return answers.pop(0) if len(answers) > 1 else answers[0]


class StandInInternet(httpcore.AsyncNetworkBackend):
    """Connects public addresses to the loopback servers standing in for them."""

    def __init__(self, hosts: dict[str, FeedServer | TlsHelloRecorder] | None = None) -> None:
        self._hosts = dict(hosts or {})
        self._down: set[str] = set()
        self._real = httpcore.AnyIOBackend()
        self.connections: list[tuple[str, int]] = []  # (host, port) as the Fetcher asked

    def down(self, ip: str) -> None:
        """Connections to `ip` are refused, as by a host that is not listening."""
        self._down.add(ip)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connections.append((host, port))
        if host in self._down:
            host, port = "127.0.0.1", _closed_port()
        elif host in self._hosts:
            host, port = self._hosts[host].host, self._hosts[host].port
        return await self._real.connect_tcp(host, port, timeout=timeout)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets on the stand-in internet")

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


class TlsHelloRecorder:
    """A loopback TLS host with no certificate: it records the server name each client
    asks for (SNI), then the handshake fails."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.server_names: list[str | None] = []
        self._socket = socket.create_server((self.host, 0))
        self._socket.settimeout(0.05)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def __enter__(self) -> TlsHelloRecorder:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.sni_callback = lambda _sock, name, _context: self.server_names.append(name)
        while not self._stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                # No certificate to offer: the handshake fails right after the hello.
                with contextlib.suppress(ssl.SSLError, OSError):
                    context.wrap_socket(connection, server_side=True)


def _closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
