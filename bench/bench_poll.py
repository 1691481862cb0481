"""Benchmark: `releasebot poll` of 500 feeds on 100 loopback hosts, each answer 50 ms late.

Measures the whole process (start-up included) against the sequential baseline
`for url in urls: feedparser.parse(httpx.get(url).content)` in the same run, and against
the floor max(500 x 50 ms / concurrency, 500 x one feed's parse time / cores used);
then the all-unchanged poll (every feed answers 304), as CPU time per feed.

Run from the repository root: `python bench/bench_poll.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import feedparser
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.common import (
    FarmFeed,
    FeedFarm,
    demo_variant,
    machine,
    median_seconds,
    run_releasebot,
    table,
    today,
)
from bot.config import FetchSettings
from bot.feeds.parse import parse_feed

FEEDS = 500
HOSTS = 100  # 127.0.0.2 .. 127.0.0.101
DELAY = 0.050  # seconds before each answer, 304s included
TARGET_SPEEDUP = 6.0
TARGET_FLOOR_RATIO = 1.5
TARGET_CPU_PER_304 = 0.003  # seconds


def farm_feeds() -> list[FarmFeed]:
    return [
        FarmFeed(host=f"127.0.0.{2 + n % HOSTS}", path=f"/news/feed-{n}.xml", body=demo_variant(n))
        for n in range(FEEDS)
    ]


def write_config(folder: Path, urls: list[str]) -> Path:
    lines = ["[bot]", 'database = "bench.db"', "", "[fetch]", "allow_private_addresses = true"]
    for n, url in enumerate(urls):
        lines += ["", "[[feeds]]", f'name = "feed-{n:03d}"', f'url = "{url}"']
    path = folder / "bench.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def statuses(stdout: str) -> dict[str, int]:
    """Feeds per status in `releasebot poll`'s table, and the total of its 'new' column."""
    counts: dict[str, int] = {}
    for line in stdout.splitlines()[1:]:
        _, status, new, *_ = line.split()
        counts[status] = counts.get(status, 0) + 1
        counts["releases"] = counts.get("releases", 0) + int(new)
    return counts


def baseline(urls: list[str]) -> float:
    start = time.perf_counter()
    for url in urls:
        feedparser.parse(httpx.get(url).content)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="polls of each kind (default 3)")
    parser.add_argument("--skip-baseline", action="store_true", help="for profiling runs")
    args = parser.parse_args()

    feeds = farm_feeds()
    body = feeds[0].body
    feedparser_one = median_seconds(lambda: feedparser.parse(io.BytesIO(body)), 30)
    parse_feed_one = median_seconds(
        lambda: parse_feed(body, feed_name="f", base_url="http://127.0.0.2/news/feed-0.xml"), 30
    )
    concurrency = FetchSettings().concurrency
    startups = [run_releasebot("--version").wall for _ in range(5)]
    startup = statistics.median(startups)
    startup_cpu = statistics.median(run_releasebot("--version").cpu for _ in range(3))

    load_before = os.getloadavg()[0]
    cold: list[float] = []
    cold_cpu: list[float] = []
    warm: list[float] = []
    warm_cpu: list[float] = []
    with FeedFarm(feeds, delay=DELAY) as farm, tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), farm.urls)
        for _ in range(args.repeat):
            for leftover in Path(tmp).glob("bench.db*"):
                leftover.unlink()
            first = run_releasebot("--config", str(config), "poll")
            assert first.returncode == 0, first.stderr[-2000:]
            assert statuses(first.stdout) == {"ok": FEEDS, "releases": 20 * FEEDS}
            cold.append(first.wall)
            cold_cpu.append(first.cpu)
            second = run_releasebot("--config", str(config), "poll")
            assert second.returncode == 0, second.stderr[-2000:]
            assert statuses(second.stdout) == {"not_modified": FEEDS, "releases": 0}
            warm.append(second.wall)
            warm_cpu.append(second.cpu)
        base = float("nan") if args.skip_baseline else baseline(farm.urls)
    load_after = os.getloadavg()[0]

    poll = statistics.median(cold)
    network_floor = FEEDS * DELAY / concurrency
    # `releasebot poll` parses in one worker process (one core); the event loop, HTTP and
    # SQLite run in the main process on the other. The two-core floor is shown as well.
    parse_floor = FEEDS * feedparser_one / 1
    floor = max(network_floor, parse_floor)
    ours_floor = max(network_floor, FEEDS * parse_feed_one)
    per_304 = statistics.median(warm_cpu) / FEEDS
    per_304_net = (statistics.median(warm_cpu) - startup_cpu) / FEEDS
    speedup = base / poll
    floor_ratio = poll / (floor + startup)

    print(f"{today()}, {machine()}, load average {load_before:.1f} before, {load_after:.1f} after")
    print(
        f"{FEEDS} feeds x 20 items on {HOSTS} loopback hosts, {DELAY * 1000:.0f} ms per answer; "
        f"concurrency {concurrency}, per_host {FetchSettings().per_host}; "
        f"median of {args.repeat} polls"
    )
    rows = [
        ["measure", "value", "target"],
        ["releasebot poll, first poll (all new), wall", f"{poll:.2f} s", ""],
        ["  min / max", f"{min(cold):.2f} / {max(cold):.2f} s", ""],
        [
            "  CPU time of the main process (parse worker not counted)",
            f"{statistics.median(cold_cpu):.2f} s",
            "",
        ],
        ["sequential baseline (httpx.get + feedparser)", f"{base:.2f} s", ""],
        ["speed-up over baseline", f"{speedup:.1f}x", f">= {TARGET_SPEEDUP:g}x"],
        ["start-up (releasebot --version), wall", f"{startup:.2f} s", ""],
        ["feedparser.parse of one feed", f"{feedparser_one * 1000:.2f} ms", ""],
        ["parse_feed (parse + normalise) of one feed", f"{parse_feed_one * 1000:.2f} ms", ""],
        ["network floor 500 x 50 ms / concurrency", f"{network_floor:.2f} s", ""],
        ["parse floor 500 x feedparser.parse / 1 core", f"{parse_floor:.2f} s", ""],
        ["floor + start-up", f"{floor + startup:.2f} s", ""],
        ["  same with parse_feed's time per feed", f"{ours_floor + startup:.2f} s", ""],
        ["poll / (floor + start-up)", f"{floor_ratio:.2f}", f"<= {TARGET_FLOOR_RATIO:g}"],
        [
            "  against a 2-core floor (parse floor / 2)",
            f"{poll / (max(network_floor, parse_floor / 2) + startup):.2f}",
            "",
        ],
        ["all-304 poll, wall", f"{statistics.median(warm):.2f} s", ""],
        ["all-304 poll, CPU per feed (whole process)", f"{per_304 * 1000:.2f} ms", "< 3 ms"],
        ["all-304 poll, CPU per feed (less start-up)", f"{per_304_net * 1000:.2f} ms", ""],
    ]
    print(table(rows))
    verdicts = [
        ("speed-up", speedup >= TARGET_SPEEDUP),
        ("floor", floor_ratio <= TARGET_FLOOR_RATIO),
        ("304 CPU", per_304 < TARGET_CPU_PER_304),
    ]
    print("targets: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in verdicts))


if __name__ == "__main__":
    main()
