"""Benchmark: ingest one 2,000-item feed (parse, normalise, store) vs `feedparser.parse` alone.

The feed is the demo feed's 20 items repeated 100 times, each copy with its own links
and guids, so all 2,000 releases are new. Every step is timed on the same bytes, once per
round, for at least 5 rounds (min / median / max); the store gets a fresh, migrated
database each run (opening and migrating it is not counted).

The reference is feedparser called exactly as `parse_feed` calls it (the same
`FEEDPARSER_OPTIONS`, headers and BytesIO), so the ratio is what our own work costs on
top of feedparser. feedparser with its default options (which also sanitizes HTML and
resolves relative URIs: slower) is shown beside it. The checks `parse_feed` runs before
feedparser are timed directly; what is left is shown by difference, signed.

Run from the repository root: `python bench/bench_ingest.py [--runs N] [--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.common import (
    RUNS,
    Spread,
    check_runs,
    demo_variant,
    differences,
    header,
    load,
    ratios,
    table,
    timed_cpu,
)
from bot.feeds.normalise import normalize_entry
from bot.feeds.parse import (  # the private steps too, so that the pre-scan is timed directly
    _ENTITY_DECLARATION,
    FEEDPARSER_OPTIONS,
    _decoded_views,
    _headers,
    _refuse_html,
    _replace_impossible_char_refs,
    _root_element,
    _split_content_type,
    parse_feed,
)
from bot.models import ParsedFeed
from bot.store import Store

ITEMS = 2_000
TARGET = 1.3
BASE_URL = "https://www.drugabuse.example/news-events/news-releases/feed"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
_ITEM = re.compile(rb"<item>.*?</item>", re.DOTALL)
STEPS = ("default", "called", "parse_feed", "normalise", "prescan", "store", "total")
LABELS = (
    ("`feedparser.parse` as `parse_feed` calls it", "called"),
    ("`feedparser.parse(bytes)`, default options", "default"),
    ("`parse_feed` (checks + feedparser + normalise)", "parse_feed"),
    ("of which the checks before feedparser (measured)", "prescan"),
    ("of which `normalize_entry` x 2,000 (measured)", "normalise"),
    ("`Store.ingest` into a fresh database", "store"),
    ("**parse + normalise + store**", "total"),
)


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


def ingest_seconds(parsed: ParsedFeed, path: Path) -> tuple[float, float]:
    """Wall and CPU time of Store.ingest of all releases into a fresh, migrated database."""
    store = Store.open(path)
    store.sync_feeds([("demo", BASE_URL)])
    results = []
    wall, cpu = timed_cpu(
        lambda: results.append(store.ingest("demo", parsed.releases, now=NOW, flood_limit=10))
    )
    store.close()
    assert results[0].new == ITEMS, results
    return wall, cpu


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


def feedparser_as_called(body: bytes) -> Any:
    """feedparser exactly as `parse_feed` calls it: bytes in a BytesIO, its headers, its options."""
    return feedparser.parse(
        io.BytesIO(_replace_impossible_char_refs(body)),
        response_headers=_headers(BASE_URL, ""),
        **FEEDPARSER_OPTIONS,
    )


def prescan(body: bytes) -> None:
    """`parse_feed`'s checks before feedparser, step for step: every decoded view searched
    for an entity declaration, the root element sniffed, impossible character refs fixed."""
    mime, charset = _split_content_type("application/xml")
    views = list(_decoded_views(body, charset))
    assert not any(_ENTITY_DECLARATION.search(view) for view in views)
    _refuse_html(mime, _root_element(views[0]))
    _replace_impossible_char_refs(body)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def signed_ms(seconds: float) -> str:
    return f"{seconds * 1000:+.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", "--repeat", type=check_runs, default=RUNS, help=f"rounds (default {RUNS})"
    )
    parser.add_argument("--profile", action="store_true", help="also print a cProfile report")
    args = parser.parse_args()

    body = big_feed()
    parsed = parse(body)
    assert len(parsed.releases) == ITEMS, len(parsed.releases)
    called = feedparser_as_called(body)
    context = {
        "feed_name": "demo",
        "feed_title": parsed.title,
        "feed_author": "",
        "base_url": BASE_URL,
        "timezone": None,
        "feed_language": called.feed.get("language", "").strip(),
    }
    entries = called.entries
    print(header(args.runs), flush=True)
    wall: dict[str, list[float]] = {name: [] for name in STEPS}
    cpu: dict[str, list[float]] = {name: [] for name in STEPS}

    def record(name: str, times: tuple[float, float]) -> None:
        wall[name].append(times[0])
        cpu[name].append(times[1])

    with tempfile.TemporaryDirectory() as tmp:
        # Round by round, every step once, so a burst of load from other jobs hits all of
        # them alike and the ratios of one round are fair.
        for run in range(args.runs):
            record("default", timed_cpu(lambda: feedparser.parse(body)))
            record("called", timed_cpu(lambda: feedparser_as_called(body)))
            record("parse_feed", timed_cpu(lambda: parse(body)))
            record(
                "normalise",
                timed_cpu(lambda: [normalize_entry(entry, **context) for entry in entries]),
            )
            record("prescan", timed_cpu(lambda: prescan(body)))
            record("store", ingest_seconds(parsed, Path(tmp) / f"ingest-{run}.db"))
        if args.profile:
            profile(body, Path(tmp))
    end_load = load()
    for times in (wall, cpu):
        times["total"] = [p + s for p, s in zip(times["parse_feed"], times["store"], strict=True)]
    print(
        f"one feed of {ITEMS} items, {len(body) / 1e6:.1f} MB; {args.runs} rounds of every step;"
        f" fresh database per store run; load average {end_load} at the end"
    )
    print()
    print(table(rows(wall, cpu)))
    print()
    ratio = ratios(wall["total"], wall["called"])
    ratio_cpu = ratios(cpu["total"], cpu["called"])
    times_x = "{:.2f}x".format
    print(
        f"parse + normalise + store = {ratio.text(times_x)} feedparser as parse_feed calls it "
        f"in wall time, {ratio_cpu.text(times_x)} in CPU time (per-round ratios); target <= "
        f"{TARGET:g}x: {'met' if ratio.median <= TARGET else 'MISSED'} (wall), "
        f"{'met' if ratio_cpu.median <= TARGET else 'MISSED'} (CPU). Against feedparser with "
        f"its default options: {ratios(wall['total'], wall['default']).text(times_x)} (wall), "
        f"{ratios(cpu['total'], cpu['default']).text(times_x)} (CPU)."
    )


def rows(wall: dict[str, list[float]], cpu: dict[str, list[float]]) -> list[list[str]]:
    """The README table: wall min / median / max, CPU median, each as x feedparser as called."""
    out = [
        [
            "step",
            "min",
            "median",
            "max",
            "x feedparser as called",
            "CPU median",
            "x feedparser as called (CPU)",
        ]
    ]
    for label, name in LABELS:
        out.append(
            [
                label,
                *Spread.of(wall[name]).cells(ms),
                f"{ratios(wall[name], wall['called']).median:.2f}",
                ms(Spread.of(cpu[name]).median),
                f"{ratios(cpu[name], cpu['called']).median:.2f}",
            ]
        )
    rest: list[str] = []
    for times in (wall, cpu):
        parts = (times["called"], times["normalise"], times["prescan"])
        difference = differences(times["parse_feed"], *parts)
        share = Spread.of(d / c for d, c in zip(difference.values, times["called"], strict=True))
        rest += [*difference.cells(signed_ms), f"{share.median:+.2f}"]
    out.append(
        [
            "of which the rest, by difference (dedupe, feed fields; signed)",
            *rest[:4],
            rest[5],
            rest[7],
        ]
    )
    return out


if __name__ == "__main__":
    main()
