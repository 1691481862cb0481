"""Memory of `releasebot run` at start-up and after poll rounds, stage by stage (issue 13).

A child process does what `releasebot run` does, with the bot's own functions, and reports
after each stage its RSS (/proc/self/status VmRSS), the PSS of its process tree (the
parse worker and multiprocessing's fork server included, shared pages counted once) and,
with `--trace`, tracemalloc's total and its largest files. The stages:

1. the modules `releasebot run` imports (bot.cli, bot.telegram.run);
2. the config loaded (`load_settings`: `--feeds` feeds, one channel per 100 feeds);
3. the runtime opened: the metrics registry, the PTB Application (`Live.build`: nothing is
   asked of Telegram), `open_runtime` (store, config sync into SQLite, routing view,
   fetcher, poller, dispatcher);
4. the gauges refreshed from the store and /metrics rendered once;
5. one poll round (every feed due, each answering a `--items`-item feed), then the gauges
   and /metrics again;
6. a second and third round (the clock moved on by the interval): every feed answers 304.

The feeds are served on loopback by a separate process (100 host addresses, 127.0.0.2 to
127.0.0.101, as bench_soak): the same `--items` items of the demo feed under every path
(the bot stores them per feed), with an ETag. Nothing is sent to Telegram (no round goes
online). One run per invocation: the numbers are one measurement, not a spread.

Run from the repository root: `python -m bench.bench_memory [--feeds 10000] [--items 2]
[--trace]`. tracemalloc itself costs memory and time: compare RSS between runs without it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

MB = 1024 * 1024
HOSTS = 100
CHANNELS = 100
CHAT0 = -1001000000000


# --- the parent: feeds, config, the child, the table ----------------------------------


def _serve(count: int, items: int, conn: Connection) -> None:
    """Child process: FeedServers on HOSTS addresses, `count` paths; sends the URLs."""
    from bench.bench_soak import _ITEM, feed_body
    from tests.fakes.feed_server import FeedServer, Route

    base = feed_body(0, 0)
    found = _ITEM.findall(base)
    head, tail = base[: base.index(found[0])], base[base.index(found[-1]) + len(found[-1]) :]
    body = head + b"".join(found[:items]) + tail
    servers: dict[str, FeedServer] = {}
    urls = {}
    for n in range(count):
        host = f"127.0.0.{2 + n % HOSTS}"
        if host not in servers:
            servers[host] = FeedServer(host=host).start()
        urls[n] = servers[host].route(f"/feeds/{n}.xml", Route(body=body, etag='"v1"'))
    conn.send(urls)
    conn.recv()  # "stop"
    for server in servers.values():
        server.stop()


def write_config(folder: Path, urls: dict[int, str], interval: float) -> Path:
    from bench.common import feed_and_channel_lines  # the child never imports bench.common

    per_channel = max(1, len(urls) // CHANNELS)
    lines = [
        "[bot]",
        'database = "memory.db"',
        'api_base_url = "http://127.0.0.1:9/bot"',  # never reached: no round goes online
        'tick = "2s"',
        "[fetch]",
        "allow_private_addresses = true",
        "[defaults]",
        f'interval = "{interval:g}s"',
        "backlog = 0",
        "[metrics]",
        'listen = "127.0.0.1:9"',  # Metrics is built, the endpoint is not served
    ]
    lines += feed_and_channel_lines(urls, min(CHANNELS, len(urls)), per_channel, CHAT0)
    path = folder / "releasebot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=2, help="items per feed (1 to 20)")
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--trace", action="store_true", help="tracemalloc in the child")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the child")
    parser.add_argument("--python", default=sys.executable, help="the child's interpreter")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.interval, args.trace)
        return
    from bench.common import REPO, load, machine, table, today

    print(f"{today()}, {machine()}; load average {load()} at the start", flush=True)
    context = multiprocessing.get_context("spawn")
    parent, end = context.Pipe()
    server = context.Process(target=_serve, args=(args.feeds, args.items, end))
    server.start()
    urls = parent.recv()
    try:
        with tempfile.TemporaryDirectory() as name:
            config = write_config(Path(name), urls, args.interval)
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            env.update(item.split("=", 1) for item in args.env)
            command = [args.python, "-m", "bench.bench_memory", "--child", str(config),
                       "--interval", str(args.interval)] + (["--trace"] if args.trace else [])
            done = subprocess.run(command, cwd=name, env=env, stdout=subprocess.PIPE, check=True)
    finally:
        parent.send("stop")
        server.join()
    lines = done.stdout.decode().splitlines()
    stages = [json.loads(line) for line in lines if line.startswith("{")]
    traced = ["traced", "traced peak"] if args.trace else []
    rows = [["stage", "RSS", "+RSS", "tree PSS", *traced, "threads", "seconds"]]
    previous = 0.0
    for s in stages:
        rows.append([s["stage"], f"{s['rss'] / MB:.1f} MB", f"{(s['rss'] - previous) / MB:+.1f}",
                     f"{s['pss'] / MB:.1f} MB",
                     *([f"{s['traced'] / MB:.1f} MB", f"{s['peak'] / MB:.1f} MB"] if args.trace
                       else []),
                     str(s["threads"]), f"{s['seconds']:.1f}"])
        previous = s["rss"]
    print(f"\n{args.feeds:,} feeds, {args.items} items each; {args.python};"
          f" env {' '.join(args.env) or '-'}\n")
    print(table(rows))
    if args.trace:
        for s in stages:
            print(f"\n{s['stage']}: largest changes by file (tracemalloc)")
            for line in s["top"]:
                print("   ", line)
    print(f"\nload average {load()} at the end")


# --- the child: the bot's own steps ---------------------------------------------------


def tree_pss(pid: int) -> float:
    """PSS of `pid` and its descendants (bytes), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
    return total


def rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024.0
    return 0.0


class Stages:
    """Prints one JSON line per stage (RSS, tree PSS, tracemalloc's total and top files)."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.last: tracemalloc.Snapshot | None = None
        self.started = time.perf_counter()

    def mark(self, stage: str) -> None:
        gc.collect()
        top: list[str] = []
        traced = peak = 0.0
        if self.trace:
            traced, peak = map(float, tracemalloc.get_traced_memory())
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            if self.last is not None:
                top = [str(s) for s in snapshot.compare_to(self.last, "filename")[:8]]
            self.last = snapshot
            tracemalloc.reset_peak()  # the next stage's peak, not this snapshot's
        line = {"stage": stage, "rss": rss(), "pss": tree_pss(os.getpid()), "traced": traced,
                "peak": peak, "top": top, "threads": len(os.listdir("/proc/self/task")),
                "seconds": time.perf_counter() - self.started}
        print(json.dumps(line), flush=True)


def child(config: Path, interval: float, trace: bool) -> None:
    if trace:
        tracemalloc.start(1)
    stages = Stages(trace)
    import bot.cli  # noqa: F401  (what `python -m bot` imports)
    from bot import __version__
    from bot.config import load_settings
    from bot.services.metrics import Metrics, refresh_gauges
    from bot.telegram.app import open_runtime
    from bot.telegram.run import STARTUP_BACKOFF, Live

    stages.mark("1. imports (bot.cli, bot.telegram.run)")
    settings = load_settings(config)
    stages.mark("2. config loaded")
    shift = timedelta(0)

    def clock() -> datetime:
        return datetime.now(UTC) + shift

    async def run() -> None:
        nonlocal shift
        metrics = Metrics(__version__, clock=clock, tick=settings.bot.tick, telegram=True)
        live = Live.build(settings, "1:memory", once=False, clock=clock,
                          backoff=STARTUP_BACKOFF, sleep=asyncio.sleep, metrics=metrics)
        opening = open_runtime(settings, live.sender, clock=clock, bot_username="memory_bot",
                               dry_run=False, metrics=metrics)
        async with opening as runtime:
            stages.mark("3. runtime open (store, sync, view, poller)")
            refresh_gauges(metrics, runtime.store, runtime.view, clock())
            metrics.exposition()
            stages.mark("4. gauges set, /metrics rendered")
            for number in (1, 2, 3):
                outcomes = await runtime.poller.poll_due()  # counts them in `metrics`
                await asyncio.sleep(0)  # let the round's finished tasks go, as a round's task ends
                refresh_gauges(metrics, runtime.store, runtime.view, clock())
                metrics.exposition()
                failed = sum(1 for outcome in outcomes if outcome.status == "error")
                stages.mark(f"{4 + number}. round {number}: {len(outcomes):,} polls,"
                            f" {failed} failed")
                del outcomes
                shift += timedelta(seconds=interval + 1)

    asyncio.run(run())


if __name__ == "__main__":
    main()
