"""Benchmark: ingest one 2,000-item feed (parse, normalise, store) vs `feedparser.parse` alone.

The feed is the demo feed's 20 items repeated 100 times, each copy with its own links
and guids, so all 2,000 releases are new. Every step is timed on the same bytes, the
median of several runs; the store gets a fresh, migrated database each run (opening
and migrating it is not counted).

Run from the repository root: `python bench/bench_ingest.py [--repeat N] [--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.common import demo_variant, machine, median_seconds, table, today
from bot.feeds.normalise import normalize_entry
from bot.feeds.parse import parse_feed
from bot.models import ParsedFeed
from bot.store import Store

ITEMS = 2_000
TARGET = 1.3
BASE_URL = "https://www.drugabuse.example/news-events/news-releases/feed"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
_ITEM = re.compile(rb"<item>.*?</item>", re.DOTALL)


def big_feed(items: int = ITEMS) -> bytes:
    """The demo feed's channel with `items` items taken from its renamed copies."""
    first = demo_variant(0)
    blocks: list[bytes] = []
    copy = 0
    while len(blocks) < items:
        blocks += _ITEM.findall(demo_variant(copy))
        copy += 1
    head = first[: first.index(b"<item>")]
    tail = first[first.rindex(b"</item>") + len(b"</item>") :]
    return head + b"\n".join(blocks[:items]) + tail


def ingest_seconds(parsed: ParsedFeed, folder: Path, repeat: int) -> float:
    """Median time of Store.ingest of all releases into a fresh database."""
    times = []
    for run in range(repeat):
        store = Store.open(folder / f"ingest-{run}.db")
        store.sync_feeds([("demo", BASE_URL)])
        start = time.perf_counter()
        result = store.ingest("demo", parsed.releases, now=NOW, flood_limit=10)
        times.append(time.perf_counter() - start)
        store.close()
        assert result.new == ITEMS, result
    return statistics.median(times)


def parse(body: bytes) -> ParsedFeed:
    return parse_feed(body, feed_name="demo", base_url=BASE_URL, content_type="application/xml")


def profile(body: bytes, folder: Path) -> None:
    """Where parse + normalise + store spends its time (cProfile, cumulative)."""
    profiler = cProfile.Profile()
    profiler.enable()
    parsed = parse(body)
    store = Store.open(folder / "profile.db")
    store.sync_feeds([("demo", BASE_URL)])
    store.ingest("demo", parsed.releases, now=NOW, flood_limit=10)
    profiler.disable()
    store.close()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(r"bot/|feedparser/api|sqlite3|html/parser", 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each step (default 5)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile report")
    args = parser.parse_args()

    body = big_feed()
    parsed = parse(body)
    assert len(parsed.releases) == ITEMS, len(parsed.releases)
    headers = {"content-type": "application/xml", "content-location": BASE_URL}
    alone = median_seconds(lambda: feedparser.parse(body), args.repeat)
    alone_bytesio = median_seconds(
        lambda: feedparser.parse(io.BytesIO(body), response_headers=headers), args.repeat
    )
    ours = median_seconds(lambda: parse(body), args.repeat)
    entries = feedparser.parse(io.BytesIO(body), response_headers=headers).entries
    context = {
        "feed_name": "demo",
        "feed_title": parsed.title,
        "feed_author": "",
        "base_url": BASE_URL,
        "timezone": None,
    }
    normalise = median_seconds(
        lambda: [normalize_entry(entry, **context) for entry in entries], args.repeat
    )
    checks = max(0.0, ours - alone_bytesio - normalise)  # by difference, so noisy
    with tempfile.TemporaryDirectory() as tmp:
        stored = ingest_seconds(parsed, Path(tmp), args.repeat)
        if args.profile:
            profile(body, Path(tmp))
    total = ours + stored
    ratio = total / alone

    print(f"{today()}, {machine()}")
    print(
        f"one feed of {ITEMS} items, {len(body) / 1e6:.1f} MB; median of {args.repeat} runs; "
        "fresh database per store run"
    )
    rows = [
        ["step", "time", "x feedparser"],
        ["feedparser.parse(bytes) alone", f"{alone * 1000:.0f} ms", "1.00"],
        [
            "feedparser.parse as parse_feed calls it",
            f"{alone_bytesio * 1000:.0f} ms",
            f"{alone_bytesio / alone:.2f}",
        ],
        [
            "parse_feed: checks + feedparser + normalise",
            f"{ours * 1000:.0f} ms",
            f"{ours / alone:.2f}",
        ],
        ["  normalize_entry x 2000", f"{normalise * 1000:.0f} ms", f"{normalise / alone:.2f}"],
        [
            "  the rest, by difference (checks, dedupe)",
            f"{checks * 1000:.0f} ms",
            f"{checks / alone:.2f}",
        ],
        ["Store.ingest into a fresh database", f"{stored * 1000:.0f} ms", f"{stored / alone:.2f}"],
        ["parse + normalise + store", f"{total * 1000:.0f} ms", f"{ratio:.2f}"],
    ]
    print(table(rows))
    print(f"target: at most {TARGET:g}x feedparser alone: {'met' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
