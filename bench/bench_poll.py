"""Benchmark: `releasebot poll` of 500 feeds on 100 loopback hosts, each answer 50 ms late.

The headline is the first poll's wall time (the whole process, start-up included) over
the floor: max(500 x 50 ms / concurrency, 500 x one feed's feedparser time / 1 core, the
parse worker's) plus the start-up of `releasebot --version`, feedparser called exactly as
`parse_feed` calls it. Secondary: the speed-up over the sequential baseline
`for url in urls: feedparser.parse(httpx.get(url).content, <parse_feed's options>)`, and
the all-unchanged poll (every feed answers 304) as CPU time per feed. Every round
measures all of it again (min / median / max over at least 5 rounds), ratios round by
round.

Run from the repository root: `python bench/bench_poll.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import feedparser
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.common import (
    RUNS,
    FarmFeed,
    FeedFarm,
    Spread,
    check_runs,
    demo_variant,
    header,
    load,
    run_releasebot,
    table,
    timed,
)
from bot.config import FetchSettings
from bot.feeds.parse import FEEDPARSER_OPTIONS, _headers, parse_feed

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


def feedparser_as_called(body: bytes, url: str) -> object:
    """feedparser exactly as `parse_feed` calls it: bytes in a BytesIO, its headers, its options."""
    return feedparser.parse(
        io.BytesIO(body), response_headers=_headers(url, ""), **FEEDPARSER_OPTIONS
    )


def baseline(urls: list[str]) -> float:
    """One after another: fetch, then feedparser (called as parse_feed calls it)."""
    start = time.perf_counter()
    for url in urls:
        feedparser_as_called(httpx.get(url).content, url)
    return time.perf_counter() - start


@dataclass
class Round:
    """One round's measurements, in seconds."""

    startup: float  # `releasebot --version`, wall
    startup_cpu: float
    feedparser_one: float  # one feed, feedparser as parse_feed calls it (median of 30)
    parse_feed_one: float  # one feed, parse_feed (median of 30)
    cold: float  # first poll, all new, wall
    cold_cpu: float
    warm: float  # second poll, all 304, wall
    warm_cpu: float
    baseline: float

    @property
    def network_floor(self) -> float:
        return FEEDS * DELAY / FetchSettings().concurrency

    @property
    def parse_floor(self) -> float:
        return FEEDS * self.feedparser_one  # on the one core of the parse worker

    def floor(self, cores: int = 1) -> float:
        """max(network floor, parse floor spread over `cores`) plus start-up."""
        return max(self.network_floor, self.parse_floor / cores) + self.startup


def one_round(body: bytes, config: Path, folder: Path, urls: list[str], skip: bool) -> Round:
    url = "http://127.0.0.2/news/feed-0.xml"
    version = run_releasebot("--version")
    feedparser_one = statistics.median(
        timed(lambda: feedparser_as_called(body, url)) for _ in range(30)
    )
    parse_feed_one = statistics.median(
        timed(lambda: parse_feed(body, feed_name="f", base_url=url)) for _ in range(30)
    )
    for leftover in folder.glob("bench.db*"):
        leftover.unlink()
    first = run_releasebot("--config", str(config), "poll")
    assert first.returncode == 0, first.stderr[-2000:]
    assert statuses(first.stdout) == {"ok": FEEDS, "releases": 20 * FEEDS}
    second = run_releasebot("--config", str(config), "poll")
    assert second.returncode == 0, second.stderr[-2000:]
    assert statuses(second.stdout) == {"not_modified": FEEDS, "releases": 0}
    return Round(
        startup=version.wall,
        startup_cpu=version.cpu,
        feedparser_one=feedparser_one,
        parse_feed_one=parse_feed_one,
        cold=first.wall,
        cold_cpu=first.cpu,
        warm=second.wall,
        warm_cpu=second.cpu,
        baseline=float("nan") if skip else baseline(urls),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", "--repeat", type=check_runs, default=RUNS, help=f"rounds (default {RUNS})"
    )
    parser.add_argument("--skip-baseline", action="store_true", help="for profiling runs")
    args = parser.parse_args()

    feeds = farm_feeds()
    print(header(args.runs), flush=True)
    rounds: list[Round] = []
    with FeedFarm(feeds, delay=DELAY) as farm, tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), farm.urls)
        for _ in range(args.runs):
            rounds.append(
                one_round(feeds[0].body, config, Path(tmp), farm.urls, args.skip_baseline)
            )
    end_load = load()

    def spread(measure: Callable[[Round], float]) -> Spread:
        return Spread.of(measure(r) for r in rounds)

    floor_ratio = spread(lambda r: r.cold / r.floor())
    speedup = spread(lambda r: r.baseline / r.cold)
    per_304 = spread(lambda r: r.warm_cpu / FEEDS)
    print(
        f"{FEEDS} feeds x 20 items on {HOSTS} loopback hosts, {DELAY * 1000:.0f} ms per answer; "
        f"concurrency {FetchSettings().concurrency}, per_host {FetchSettings().per_host}; "
        f"{args.runs} rounds (each: start-up, parse timings, first poll, all-304 poll, "
        f"baseline); load average {end_load} at the end"
    )
    print()
    sec = "{:.2f} s".format
    msec = "{:.2f} ms".format
    ratio = "{:.2f}".format
    rows = [
        ["measure", "min", "median", "max", "target"],
        [
            "**poll / (floor + start-up)**",
            *floor_ratio.cells(ratio),
            f"<= {TARGET_FLOOR_RATIO:g}",
        ],
        ["`releasebot poll`, first poll (all new), wall", *spread(lambda r: r.cold).cells(sec), ""],
        ["floor + start-up", *spread(lambda r: r.floor()).cells(sec), ""],
        [
            "network floor: 500 x 50 ms / concurrency",
            *spread(lambda r: r.network_floor).cells(sec),
            "",
        ],
        [
            "parse floor: 500 x feedparser as called / 1 core",
            *spread(lambda r: r.parse_floor).cells(sec),
            "",
        ],
        ["start-up (`releasebot --version`), wall", *spread(lambda r: r.startup).cells(sec), ""],
        [
            "feedparser as `parse_feed` calls it, one feed",
            *spread(lambda r: r.feedparser_one * 1000).cells(msec),
            "",
        ],
        [
            "`parse_feed` (checks + feedparser + normalise), one feed",
            *spread(lambda r: r.parse_feed_one * 1000).cells(msec),
            "",
        ],
        [
            "poll / (floor with parse_feed's time + start-up)",
            *spread(
                lambda r: r.cold / (max(r.network_floor, FEEDS * r.parse_feed_one) + r.startup)
            ).cells(ratio),
            "",
        ],
        [
            "poll / (two-core floor + start-up)",
            *spread(lambda r: r.cold / r.floor(cores=2)).cells(ratio),
            "",
        ],
        [
            "CPU time of the main process (parse worker not counted)",
            *spread(lambda r: r.cold_cpu).cells(sec),
            "",
        ],
        [
            "sequential baseline (httpx.get + feedparser as called)",
            *spread(lambda r: r.baseline).cells(sec),
            "",
        ],
        ["speed-up over the baseline", *speedup.cells("{:.1f}x".format), f">= {TARGET_SPEEDUP:g}x"],
        ["all-304 poll, wall", *spread(lambda r: r.warm).cells(sec), ""],
        [
            "all-304 poll, CPU per feed (whole process)",
            *per_304.cells(lambda v: msec(v * 1000)),
            "< 3 ms",
        ],
        [
            "all-304 poll, CPU per feed (less start-up)",
            *spread(lambda r: (r.warm_cpu - r.startup_cpu) / FEEDS * 1000).cells(msec),
            "",
        ],
    ]
    print(table(rows))
    print()
    speedup_ok = speedup.median >= TARGET_SPEEDUP
    print(
        f"headline: the first poll takes {floor_ratio.text(ratio)} times the floor "
        f"(target <= {TARGET_FLOOR_RATIO:g}: "
        f"{'met' if floor_ratio.median <= TARGET_FLOOR_RATIO else 'MISSED'}); "
        f"secondary: {speedup.text('{:.1f}x'.format)} the sequential baseline's speed "
        f"(target >= {TARGET_SPEEDUP:g}x: {'met' if speedup_ok else 'MISSED'}); "
        f"all-304 poll {per_304.text(lambda v: msec(v * 1000))} CPU per feed "
        f"(target < 3 ms: {'met' if per_304.median < TARGET_CPU_PER_304 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
