"""Soak: the real `releasebot run` with 10,000 feeds for at least 10 polls of every feed.

What runs (all on loopback, nothing reaches the internet):

- the feeds: 10,000 realistic 20-item feeds (the demo feed, each with its own links and
  guids) on 100 host addresses (127.0.0.2 to 127.0.0.101), served by `SERVERS` child
  processes of FeedServers (tests/fakes/feed_server.py). Each answer after a feed's first
  changes the feed with probability `--change` (2%): one new item on top, the oldest
  dropped, a new ETag / Last-Modified. Otherwise the feed is unchanged: 8 feeds in 10
  answer 304 to If-None-Match, 1 in 10 to If-Modified-Since, and 1 in 10 has neither
  and sends the identical body again (the bot's hash check sees "unchanged");
- Telegram: the strict fake Bot API (tests/fakes/bot_api.py) in this process, with its
  real flood windows (20 posts a minute per channel, 30 a second overall, time_scale 1);
- the bot: `python -m bot run` with a token, 100 channels of 100 feeds each, `[defaults]
  interval` shortened (`--interval`, 30 s) and `[bot] tick` 2 s, `backlog = 0` (the first
  poll of a feed posts nothing; every later change owes one post), and `[metrics]
  listen` set. This process scrapes /metrics every 5 s (as Prometheus would: the bot
  pays for rendering it) and reads /proc for the bot and its descendants (the parse
  worker is a child of multiprocessing's fork server, not counted by the bot's own
  process_* metrics).

A "round" is 10,000 polls (k rounds done = releasebot_polls_total >= k x feeds); the
first is the warm-up (every feed new: 200,000 releases parsed and stored). The run ends
when every feed has been polled `--rounds` times (per-feed counters) and the outbox is
empty (or after `--drain` more seconds), or at `--max-minutes`.

Reported: RSS over time (the bot's own, and bot + descendants), its growth from the
end of round 3 to the end of round 10 (ratio and least-squares slope), CPU seconds per
1,000 polls per round (bot + descendants, from /proc), the poll-round histogram
(releasebot_poll_round_duration_seconds: the tick cost), outbox lag (the largest
releasebot_outbox_oldest_pending_age_seconds and the total pending at each scrape),
posts delivered (fake API's sendMessage count) against posts owed (changes served after
a feed's first poll). Comparison line: the best-known Python peer reports about 350 MB
for 6,000 feeds.

Run from the repository root: `python -m bench.bench_soak --max-minutes 25` (the cold
start of 10,000 feeds alone takes 10 minutes of CPU or more);
a smaller run: `python -m bench.bench_soak --feeds 2000 --interval 10`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    REPO,
    demo_variant,
    feed_and_channel_lines,
    load,
    machine,
    table,
    today,
)
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer, Route

HOSTS = 100
SERVERS = 2  # feed-server processes (50 hosts each)
CHANNELS = 100
SCRAPE = 5.0  # seconds between two scrapes of /metrics
PEER_MB, PEER_FEEDS = 350, 6000  # the best-known Python peer's own figure
CHAT0 = -1001000000000
MB = 1024 * 1024

_ITEM = re.compile(rb"  <item>.*?</item>\n", re.DOTALL)


# --- the feeds ------------------------------------------------------------------------


def feed_body(n: int, version: int) -> bytes:
    """Feed n after `version` changes: that many new items on top, 20 items in all."""
    base = demo_variant(n)
    items = _ITEM.findall(base)
    head = base[: base.index(items[0])]
    tail = base[base.index(items[-1]) + len(items[-1]) :]
    new = [
        (
            f"  <item>\n    <title>Soak release {v} of feed {n}: a new grant for addiction"
            f" research</title>\n    <link>https://f{n}.drugabuse.example/soak/{v}</link>\n"
            f"    <description>&lt;p&gt;Release {v} of feed {n}, written for the soak."
            f"&lt;/p&gt;</description>\n    <pubDate>{formatdate(1_790_000_000 + v * 60)}"
            f"</pubDate>\n    <guid isPermaLink=\"true\">https://f{n}.drugabuse.example/soak/{v}"
            "</guid>\n  </item>\n"
        ).encode()
        for v in range(version, 0, -1)
    ]
    return head + b"".join((new + items)[:20]) + tail


def feed_route(n: int, version: int) -> Route:
    """8 in 10 feeds validate by ETag, 1 by Last-Modified, 1 by neither (identical body)."""
    kind = n % 10
    body = feed_body(n, version)
    if kind < 8:
        return Route(body=body, etag=f'"{n}-{version}"')
    if kind == 8:
        return Route(body=body, last_modified=formatdate(1_790_000_000 + version * 60, usegmt=True))
    return Route(body=body)


class ChangingFeedServer(FeedServer):
    """A FeedServer where each answer after a path's first changes its feed with
    probability `rate` just before answering (so 2% of polls see a change)."""

    def __init__(self, host: str, rate: float, seed: int) -> None:
        super().__init__(host=host)
        self.rate = rate
        self.versions: dict[str, tuple[int, int]] = {}  # path -> (feed, version)
        self.changes = 0
        self._rng = random.Random(seed)
        self._changing = threading.Lock()  # FeedServer has its own _lock

    def _enter(self, path: str, headers: dict[str, str]) -> None:
        super()._enter(path, headers)
        with self._changing:
            if path not in self.versions or self.hits(path) <= 1:
                return
            if self._rng.random() >= self.rate:
                return
            n, version = self.versions[path]
            self.versions[path] = (n, version + 1)
            self.changes += 1
        self.routes[path] = feed_route(n, version + 1)


def _serve(feeds: Sequence[int], rate: float, seed: int, conn: Connection) -> None:
    """Child process: a ChangingFeedServer per host of `feeds`; answers 'urls',
    'changes' and 'stop' on the pipe."""
    servers: dict[str, ChangingFeedServer] = {}
    urls = {}
    for n in feeds:
        host = f"127.0.0.{2 + n % HOSTS}"
        server = servers.get(host)
        if server is None:
            server = servers[host] = ChangingFeedServer(host, rate, seed + n)
            server.start()
        path = f"/feeds/{n}.xml"
        server.versions[path] = (n, 0)
        urls[n] = server.route(path, feed_route(n, 0))
    conn.send(urls)
    while True:
        command = conn.recv()
        if command == "changes":
            conn.send(sum(s.changes for s in servers.values()))
        elif command == "stop":
            for server in servers.values():
                server.stop()
            conn.send("stopped")
            return


class Farm:
    """`SERVERS` processes serving feeds 0..count-1, split by host."""

    def __init__(self, count: int, rate: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._links = []
        self.urls: dict[int, str] = {}
        for index in range(SERVERS):
            mine = [n for n in range(count) if (n % HOSTS) % SERVERS == index]
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(mine, rate, 1000 * index, child))
            process.start()
            self._links.append((parent, process))
        for parent, _ in self._links:
            self.urls.update(parent.recv())

    def changes(self) -> int:
        total = 0
        for parent, _ in self._links:
            parent.send("changes")
            total += int(parent.recv())
        return total

    def stop(self) -> None:
        for parent, process in self._links:
            parent.send("stop")
            parent.recv()
            process.join()


# --- the bot --------------------------------------------------------------------------


def write_config(
    folder: Path, urls: dict[int, str], api: FakeBotAPI, interval: float, port: int
) -> Path:
    per_channel = len(urls) // CHANNELS
    lines = [
        "[bot]",
        'database = "soak.db"',
        f'api_base_url = "{api.base_url}"',
        'tick = "2s"',
        "[fetch]",
        "allow_private_addresses = true",
        "[defaults]",
        f'interval = "{interval:g}s"',
        "backlog = 0",
        "[metrics]",
        f'listen = "127.0.0.1:{port}"',
    ]
    lines += feed_and_channel_lines(urls, CHANNELS, per_channel, CHAT0)
    path = folder / "releasebot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


TICKS = os.sysconf("SC_CLK_TCK")


def usage(pids: Sequence[int]) -> tuple[float, float]:
    """(CPU seconds, PSS bytes) summed over `pids`, from /proc/<pid>/stat and smaps_rollup."""
    cpu = rss = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        # PSS: pages shared with the fork server and the parse worker counted once in all
        rss += sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
    return cpu, rss


# --- scraping -------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the bot started
    polls: int
    min_feed_polls: int
    by_result: dict[str, int]
    rss: float  # the bot's own process_resident_memory_bytes
    cpu: float  # the bot's own process_cpu_seconds_total
    tree_rss: float  # bot + descendants, /proc
    tree_cpu: float
    pending: int
    oldest: float  # the largest oldest-pending age over channels
    rounds_count: float
    rounds_sum: float
    round_buckets: dict[float, float]
    sent: int  # sendMessage accepted by the fake API
    owed: int  # changes served after a feed's first poll
    scrape_seconds: float
    deliveries: dict[str, float] = field(default_factory=dict)


def scrape(port: int) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    took = time.perf_counter() - started
    values: dict[str, Any] = {
        "polls": defaultdict(float),
        "feed_polls": defaultdict(float),
        "buckets": {},
        "pending": 0.0,
        "oldest": 0.0,
        "deliveries": defaultdict(float),
    }
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "releasebot_polls_total":
                values["polls"][s.labels["result"]] += s.value
                values["feed_polls"][s.labels["feed"]] += s.value
            elif s.name in ("process_resident_memory_bytes", "process_cpu_seconds_total"):
                values[s.name] = s.value
            elif s.name == "releasebot_outbox_pending":
                values["pending"] += s.value
            elif s.name == "releasebot_outbox_oldest_pending_age_seconds":
                values["oldest"] = max(values["oldest"], s.value)
            elif s.name == "releasebot_poll_round_duration_seconds_bucket":
                values["buckets"][float(s.labels["le"])] = s.value
            elif s.name == "releasebot_poll_round_duration_seconds_count":
                values["rounds_count"] = s.value
            elif s.name == "releasebot_poll_round_duration_seconds_sum":
                values["rounds_sum"] = s.value
            elif s.name == "releasebot_deliveries_total":
                values["deliveries"][s.labels["result"]] += s.value
    return values, took


def sample(port: int, started: float, pid: int, feeds: int, api: FakeBotAPI, farm: Farm) -> Sample:
    values, took = scrape(port)
    tree_cpu, tree_rss = usage(tree(pid))
    feed_polls = values["feed_polls"]
    return Sample(
        at=time.monotonic() - started,
        polls=int(sum(values["polls"].values())),
        min_feed_polls=int(min(feed_polls.values())) if len(feed_polls) == feeds else 0,
        by_result={k: int(v) for k, v in values["polls"].items()},
        rss=values.get("process_resident_memory_bytes", 0.0),
        cpu=values.get("process_cpu_seconds_total", 0.0),
        tree_rss=tree_rss,
        tree_cpu=tree_cpu,
        pending=int(values["pending"]),
        oldest=values["oldest"],
        rounds_count=values.get("rounds_count", 0.0),
        rounds_sum=values.get("rounds_sum", 0.0),
        round_buckets=values["buckets"],
        sent=len(api.requests_for("sendMessage")),
        owed=farm.changes(),
        scrape_seconds=took,
        deliveries=dict(values["deliveries"]),
    )


# --- the report -----------------------------------------------------------------------


def round_ends(samples: Sequence[Sample], feeds: int) -> dict[int, Sample]:
    """The first sample at or after k x feeds polls, for each k reached."""
    ends: dict[int, Sample] = {}
    for s in samples:
        for k in range(1, s.polls // feeds + 1):
            ends.setdefault(k, s)
    return ends


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def quantile(buckets: dict[float, float], count: float, q: float) -> float:
    """Upper bound of the bucket holding quantile q (Prometheus-style, no interpolation)."""
    for bound in sorted(buckets):
        if buckets[bound] >= q * count:
            return bound
    return float("inf")


def spread(values: Sequence[float], fmt: str) -> list[str]:
    return [fmt.format(min(values)), fmt.format(statistics.median(values)), fmt.format(max(values))]


def report(samples: list[Sample], feeds: int, rounds: int, interval: float) -> None:
    ends = round_ends(samples, feeds)
    rows = [["round", "ends at", "polls", "bot RSS", "bot + children PSS", "CPU s (tree)",
             "CPU s / 1,000 polls", "outbox pending", "oldest pending", "sent / owed"]]
    previous: Sample | None = None
    for k, s in sorted(ends.items()):
        per = (
            f"{(s.tree_cpu - previous.tree_cpu) / (s.polls - previous.polls) * 1000:.2f}"
            if previous and s.polls > previous.polls
            else f"{s.tree_cpu / max(s.polls, 1) * 1000:.2f} (warm-up)"
        )
        rows.append([
            str(k), f"{s.at:.0f} s", f"{s.polls:,}", f"{s.rss / MB:.0f} MB",
            f"{s.tree_rss / MB:.0f} MB", f"{s.tree_cpu:.0f}", per, f"{s.pending}",
            f"{s.oldest:.0f} s", f"{s.sent:,} / {s.owed:,}",
        ])
        previous = s
    print("\nPer round (a round = one poll of every feed on average):\n")
    print(table(rows))

    last = samples[-1]
    print(f"\nPolls by result at the end: {json.dumps(last.by_result)}; deliveries by result:"
          f" {json.dumps({k: int(v) for k, v in last.deliveries.items()})}")
    print(f"Every feed polled at least {last.min_feed_polls} times; {last.polls:,} polls in"
          f" {last.at:.0f} s; scrape of /metrics took"
          f" {statistics.median(s.scrape_seconds for s in samples) * 1000:.0f} ms (median).")

    summary = [["measure", "min", "median", "max", "bound / comparison"]]
    top = min(rounds, max(ends, default=0))  # a run stopped early: the rounds it reached
    span = f"rounds 3 to {top}"
    if top > 3:
        a, b = ends[3], ends[top]
        steady = [s for s in samples if a.at <= s.at <= b.at]
        minutes = [(s.at / 60, s.rss / MB) for s in steady]
        tree_minutes = [(s.at / 60, s.tree_rss / MB) for s in steady]
        summary.append([f"bot RSS, {span} (every scrape)",
                        *spread([s.rss / MB for s in steady], "{:.0f} MB"), "< 150 MB"])
        summary.append([f"bot + children PSS, {span}",
                        *spread([s.tree_rss / MB for s in steady], "{:.0f} MB"),
                        f"peer: {PEER_MB} MB for {PEER_FEEDS:,} feeds"])
        summary.append([f"RSS end of round {top} / end of round 3 (bot; tree)",
                        f"{b.rss / a.rss:.3f}", f"{b.tree_rss / a.tree_rss:.3f}", "",
                        "1.00 = flat"])
        summary.append([f"RSS slope, {span} (bot; tree), least squares",
                        f"{slope(minutes):+.2f} MB/min", f"{slope(tree_minutes):+.2f} MB/min",
                        "", "0 = flat"])
        per_round = [
            (ends[k].tree_cpu - ends[k - 1].tree_cpu) / (ends[k].polls - ends[k - 1].polls) * 1000
            for k in range(3, top + 1)
        ]
        own = [
            (ends[k].cpu - ends[k - 1].cpu) / (ends[k].polls - ends[k - 1].polls) * 1000
            for k in range(3, top + 1)
        ]
        summary.append([f"CPU s per 1,000 polls, {span} (tree)",
                        *spread(per_round, "{:.2f}"), ""])
        summary.append([f"CPU s per 1,000 polls, {span} (bot process only)",
                        *spread(own, "{:.2f}"), ""])
        lengths = [ends[k].at - ends[k - 1].at for k in range(3, top + 1)]
        summary.append([f"round length, {span}", *spread(lengths, "{:.0f} s"),
                        f"interval {interval:g} s"])
        ticks = b.rounds_count - a.rounds_count
        if ticks:
            summary.append([f"poll-round (tick) mean duration, {span}",
                            f"{(b.rounds_sum - a.rounds_sum) / ticks * 1000:.0f} ms", "", "",
                            f"{ticks:.0f} ticks"])
            delta = {le: b.round_buckets[le] - a.round_buckets.get(le, 0.0)
                     for le in b.round_buckets}
            summary.append([f"poll-round p50 / p95 / p99 (bucket bound), {span}",
                            f"<= {quantile(delta, ticks, 0.5):g} s",
                            f"<= {quantile(delta, ticks, 0.95):g} s",
                            f"<= {quantile(delta, ticks, 0.99):g} s", ""])
        lag = [s.oldest for s in steady]
        pend = [float(s.pending) for s in steady]
        summary.append([f"oldest pending post, {span} (every scrape)",
                        *spread(lag, "{:.0f} s"), ""])
        summary.append([f"posts pending, {span} (every scrape)",
                        *spread(pend, "{:.0f}"), ""])
        summary.append([f"pending: end of round {top} - end of round 3",
                        f"{b.pending - a.pending:+d}", "", "", "<= 0: drains"])
    summary.append(["posts delivered / owed at the end", f"{last.sent:,} / {last.owed:,}", "", "",
                    f"owed rate {last.owed / max(last.at, 1) * 60:.0f}/min"
                    f" vs {CHANNELS * 20}/min windows"])
    print("\nSummary:\n")
    print(table(summary))
    buckets = last.round_buckets
    cells = []
    below = 0.0
    for le in sorted(buckets):
        cells.append(f"<= {le:g} s: {buckets[le] - below:.0f}")
        below = buckets[le]
    print(f"\nPoll-round histogram over the whole run ({last.rounds_count:.0f} ticks,"
          f" {last.rounds_sum:.0f} s in all): " + "; ".join(cells))


# --- main -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    parser.add_argument("--change", type=float, default=0.02, help="a poll's change chance")
    parser.add_argument("--rounds", type=int, default=10, help="polls of every feed")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the outbox")
    parser.add_argument("--max-minutes", type=float, default=12.0)
    args = parser.parse_args()
    if args.feeds % CHANNELS:
        parser.error(f"--feeds must be a multiple of {CHANNELS}")
    print(f"{today()}, {machine()}; load average {load()} (1, 5, 15 min) at the start", flush=True)
    print(f"{args.feeds:,} feeds, {CHANNELS} channels, interval {args.interval:g} s, tick 2 s,"
          f" change chance {args.change:.0%} per poll, {args.rounds} rounds", flush=True)
    farm = Farm(args.feeds, args.change)
    api = FakeBotAPI(time_scale=1.0).start()
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for c in range(CHANNELS):
            api.add_chat(CHAT0 - c, "channel", title=f"Channel {c}")
        port = free_port()
        config = write_config(folder, farm.urls, api, args.interval, port)
        env = {**os.environ, "PYTHONPATH": str(REPO), "TELEGRAM_BOT_TOKEN": api.token}
        out, err = (folder / "stdout").open("wb"), (folder / "stderr").open("wb")
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            cwd=folder, env=env, stdout=out, stderr=err,
        )
        started = time.monotonic()
        deadline = started + args.max_minutes * 60
        done_at: float | None = None
        try:
            while time.monotonic() < deadline and bot.poll() is None:
                time.sleep(SCRAPE - (time.monotonic() - started) % SCRAPE)
                try:
                    s = sample(port, started, bot.pid, args.feeds, api, farm)
                except OSError:
                    continue  # the endpoint is not up yet
                samples.append(s)
                print(f"{s.at:5.0f} s polls {s.polls:7,} min/feed {s.min_feed_polls:2}"
                      f" RSS {s.rss / MB:4.0f} MB tree {s.tree_rss / MB:4.0f} MB"
                      f" CPU {s.tree_cpu:6.1f} s pending {s.pending:4} oldest {s.oldest:4.0f} s"
                      f" sent {s.sent:5,} owed {s.owed:5,}", flush=True)
                if s.min_feed_polls >= args.rounds and done_at is None:
                    done_at = time.monotonic()
                if done_at is not None and (
                    s.pending == 0 or time.monotonic() - done_at > args.drain
                ):
                    break
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
            out.close()
            err.close()
            errors = (folder / "stderr").read_text(errors="replace").splitlines()
            api.stop()
            farm.stop()
    warnings = [line for line in errors if " WARNING " in line or " ERROR " in line]
    print(f"bot exited {bot.returncode}; {len(warnings)} warning/error lines, the first:",
          *warnings[:5], sep="\n")
    if not samples:
        sys.exit("no sample taken")
    if done_at is None:
        print(f"\nSTOPPED AT --max-minutes: every feed polled only {samples[-1].min_feed_polls}"
              f" times, not {args.rounds}")
    report(samples, args.feeds, args.rounds, args.interval)
    print(f"\nload average {load()} (1, 5, 15 min) at the end")


if __name__ == "__main__":
    main()
