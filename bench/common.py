"""Shared helpers for the benchmarks: min / median / max over runs (`Spread`), the header
line (date, machine, load), feed bodies, a feed farm, timing a subprocess.

The farm is a set of loopback feed servers (tests/fakes/feed_server.py) run in their own
process, so serving costs no CPU time in the process being measured, and neither the
baseline loop nor `releasebot` shares a GIL with the servers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
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


RUNS = 5  # every benchmark reports min / median / max over at least this many runs


@dataclass(frozen=True)
class Spread:
    """Repeated measurements of one quantity: min, median and max, never a lone number."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        kept = tuple(values)
        if not kept:
            raise ValueError("a spread of no measurements")
        return cls(kept)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def runs(self) -> int:
        return len(self.values)

    def cells(self, fmt: Callable[[float], str]) -> list[str]:
        """[min, median, max], each formatted by `fmt`: three cells of a table row."""
        return [fmt(self.min), fmt(self.median), fmt(self.max)]

    def text(self, fmt: Callable[[float], str]) -> str:
        """'median (min to max)', for a line of prose."""
        return f"{fmt(self.median)} ({fmt(self.min)} to {fmt(self.max)})"


def ratios(top: Sequence[float], bottom: Sequence[float]) -> Spread:
    """Run-by-run ratios of two paired series (run i of one against run i of the other)."""
    return Spread.of(a / b for a, b in zip(top, bottom, strict=True))


def differences(top: Sequence[float], *parts: Sequence[float]) -> Spread:
    """Run-by-run `top` minus every part, signed: noise shows as noise, never clamped."""
    return Spread.of(t - sum(p[i] for p in parts) for i, t in enumerate(top))


def timed(action: Callable[[], object]) -> float:
    """Wall time of one call of `action`, in seconds."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def timed_cpu(action: Callable[[], object]) -> tuple[float, float]:
    """Wall time and CPU time (this process, all threads) of one call of `action`, in seconds.

    On an idle machine the two agree for CPU-bound code; under load the wall time also
    counts the time spent waiting for a core, and the CPU time is what the code costs.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def check_runs(text: str) -> int:
    """A number of runs from the command line, refusing fewer than RUNS (argparse `type=`)."""
    value = int(text)
    if value < RUNS:
        raise argparse.ArgumentTypeError(f"at least {RUNS} runs, got {value}")
    return value


def load() -> str:
    """The 1-, 5- and 15-minute load averages, as `uptime` prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def header(runs: int) -> str:
    """The date, machine and load line every benchmark prints above its table."""
    return (
        f"{today()}, {machine()}; load average {load()} (1, 5, 15 min) at the start; "
        f"min / median / max of {runs} runs"
    )


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


def feed_and_channel_lines(
    urls: dict[int, str], channels: int, per_channel: int, chat0: int
) -> list[str]:
    """Config lines: feeds f<n> at urls, channels c<c> each given the next per_channel feeds."""
    lines: list[str] = []
    for n, url in sorted(urls.items()):
        lines += ["[[feeds]]", f'name = "f{n}"', f'url = "{url}"', 'publisher = "NIDA"']
    for c in range(channels):
        names = [f"f{n}" for n in range(c * per_channel, (c + 1) * per_channel)]
        lines += ["[[channels]]", f'name = "c{c}"', f"chat = {chat0 - c}"]
        lines += [f"feeds = {json.dumps(names)}"]
    return lines


def table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        cells = [
            c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    """Whether a cell reads as a number ("12 ms", "+3 ms", "-0.10"): right-aligned."""
    return cell[:1].isdigit() or (cell[:1] in "+-" and cell[1:2].isdigit())
