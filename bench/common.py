"""Shared helpers for the ingestion benchmarks: feed bodies, a feed farm, timing a subprocess.

The farm is a set of loopback feed servers (tests/fakes/feed_server.py) run in their own
process, so serving costs no CPU time in the process being measured, and neither the
baseline loop nor `releasebot` shares a GIL with the servers.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/x.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(REPO))

from tests.fakes.feed_server import FeedServer, Route  # noqa: E402

DEMO_FEED = REPO / "config" / "demo-feed.xml"
DEMO_HOST = b"www.drugabuse.gov"


def demo_variant(n: int) -> bytes:
    """The 20-item demo feed with every link and guid moved to a host of its own."""
    return DEMO_FEED.read_bytes().replace(DEMO_HOST, f"f{n}.drugabuse.example".encode())


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of `repeat` calls of `action`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    """'x86_64, nproc 2, Python 3.11.7' plus the CPU model when Linux says it."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    except OSError:
        pass
    return (
        f"{platform.machine()}{model}, nproc {os.cpu_count()}, Python {platform.python_version()}"
    )


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@dataclass(frozen=True)
class FarmFeed:
    host: str
    path: str
    body: bytes


def _serve(feeds: Sequence[FarmFeed], delay: float, etag: bool, conn: Connection) -> None:
    """Child process: one FeedServer per host; answer 'urls', 'hits', 'stop' on the pipe."""
    servers: dict[str, FeedServer] = {}
    urls = []
    for index, feed in enumerate(feeds):
        server = servers.get(feed.host)
        if server is None:
            server = servers[feed.host] = FeedServer(host=feed.host).start()
        tag = f'"v1-{index}"' if etag else None
        server.route(feed.path, Route(body=feed.body, delay=delay, etag=tag))
        urls.append(server.url(feed.path))
    conn.send(urls)
    while True:
        command = conn.recv()
        if command == "hits":
            conn.send(sum(s.hits(f.path) for f in feeds for s in [servers[f.host]]))
        elif command == "stop":
            for server in servers.values():
                server.stop()
            conn.send("stopped")
            return


class FeedFarm:
    """Serve `feeds` from another process; `urls` lists each feed's URL in order."""

    def __init__(self, feeds: Sequence[FarmFeed], *, delay: float, etag: bool = True) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(list(feeds), delay, etag, child))
        self._process.start()
        self.urls: list[str] = self._conn.recv()

    def hits(self) -> int:
        self._conn.send("hits")
        return int(self._conn.recv())

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._process.join()

    def __enter__(self) -> FeedFarm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Run:
    wall: float  # seconds, start to exit
    cpu: float  # seconds of user + system time the child used
    returncode: int
    stdout: str
    stderr: str


def run_releasebot(*args: str, cwd: Path | None = None) -> Run:
    """Run `python -m bot ARGS` and measure its wall time and CPU time (rusage of children)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, done.returncode, done.stdout, done.stderr)


def table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        cells = [
            c.rjust(w) if c[:1].isdigit() else c.ljust(w) for c, w in zip(row, widths, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
