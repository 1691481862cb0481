"""Benchmark: finding the study (bot/feeds/studies.py) per release, on the real-feed corpus.

Every feed of the corpus directory (default ../shared/corpus/feeds/real/, the issue's "221
releases") is read by feedparser exactly as `parse_feed` calls it; its entries are then,
round by round, in the same process:

- put through what `normalize_entry` now does for the study (`_studies`: the entry's HTML
  summary and content through `find_studies`, its identifier fields through
  `find_identifier_studies`), which is the cost measured against the target;
- normalised whole (`normalize_entry`, the study included): the baseline beside it, as
  the share of normalising that the study takes;
- and the whole `parse_feed` of every file (feedparser, checks, normalise), per release.

Each step runs over all entries REPEAT times per round (one pass is a millisecond); the
figures are per release, CPU time (pure, one thread) with the wall time beside it, min /
median / max over at least 5 rounds. Target: under 0.2 ms per release. The slowest single
release (its median over the rounds) is shown too, and the share of releases for which a
study is found (no target), per feed, by source. The corpus has no release whose HTML
names a study, so the HTML path (html.parser, the link and sentence rules) is timed on
the two such releases of tests/fixtures/feeds/nida_study.rss.xml as well.

Run from the repository root: `python -m bench.bench_study_extract [--runs N] [--corpus DIR]`.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.common import REPO, RUNS, Spread, check_runs, header, load, ratios, table, timed_cpu
from bot.feeds.normalise import _identifier_fields, _studies, normalize_entry
from bot.feeds.parse import FEEDPARSER_OPTIONS, _headers, _link_base, parse_feed
from bot.feeds.studies import find_identifier_studies, find_studies

# ../shared beside the repository (a checkout next to the design folder); one level further
# up from a worktree kept in a subfolder.
CORPUS = next(
    (
        base / "shared" / "corpus" / "feeds" / "real"
        for base in (REPO.parent, REPO.parent.parent)
        if (base / "shared" / "corpus" / "feeds" / "real").is_dir()
    ),
    REPO.parent / "shared" / "corpus" / "feeds" / "real",
)
NIDA_FIXTURE = REPO / "tests" / "fixtures" / "feeds" / "nida_study.rss.xml"
TARGET_MS = 0.2
REPEAT = 20
BASE_URL = "https://corpus.example.org/feed.xml"


@dataclass(frozen=True)
class Feed:
    name: str
    body: bytes
    entries: tuple[Mapping[str, Any], ...]
    context: dict[str, Any]  # normalize_entry's keyword arguments for this feed


def load_corpus(folder: Path, only: str = "") -> list[Feed]:
    """Every feed file of `folder` (SOURCES.txt and other notes skipped), parsed once."""
    feeds = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".xml", ".rdf", ".atom", ".rss") or only not in ("", path.name):
            continue
        body = path.read_bytes()
        parsed = feedparser.parse(
            io.BytesIO(body), response_headers=_headers(BASE_URL, ""), **FEEDPARSER_OPTIONS
        )
        link = parsed.feed.get("link", "")
        context = {
            "feed_name": path.stem,
            "feed_title": "",
            "feed_author": "",
            "base_url": _link_base(BASE_URL, link if isinstance(link, str) else ""),
            "timezone": None,
            "feed_language": "",
        }
        feeds.append(Feed(path.name, body, tuple(parsed.entries), context))
    return feeds


def per_release(action: Callable[[], object], releases: int) -> tuple[float, float]:
    """Wall and CPU seconds per release of REPEAT calls of `action` (all releases each)."""
    wall, cpu = timed_cpu(lambda: [action() for _ in range(REPEAT)])
    return wall / (REPEAT * releases), cpu / (REPEAT * releases)


def slowest_release(feeds: Sequence[Feed], rounds: int) -> tuple[float, str]:
    """The largest per-release median CPU time of `_studies`, and which release it was."""
    worst, which = 0.0, ""
    for feed in feeds:
        for index, entry in enumerate(feed.entries):
            times = []
            for _ in range(rounds):
                start = time.process_time()
                for _ in range(REPEAT):
                    _studies(entry, feed.context["base_url"])
                times.append((time.process_time() - start) / REPEAT)
            median = statistics.median(times)
            if median > worst:
                worst, which = median, f"{feed.name} #{index + 1}"
    return worst, which


def found_share(feeds: Sequence[Feed]) -> list[list[str]]:
    """Per feed: releases, with a study, from the HTML alone, from identifier fields alone."""
    rows = [["feed", "releases", "with a study", "from HTML content", "from identifier fields"]]
    totals = [0, 0, 0, 0]
    for feed in feeds:
        releases = parse_feed(feed.body, feed_name="corpus", base_url=BASE_URL).releases
        from_html = sum(1 for entry in feed.entries if find_studies(_html(entry)))
        from_fields = sum(
            1 for entry in feed.entries if find_identifier_studies(_identifier_fields(entry))
        )
        counts = [len(releases), sum(1 for r in releases if r.studies), from_html, from_fields]
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
        rows.append([feed.name, *map(str, counts)])
    share = totals[1] / totals[0] if totals[0] else 0.0
    rows.append(["**all**", str(totals[0]), f"{totals[1]} ({share:.1%})", *map(str, totals[2:])])
    return rows


def _html(entry: Mapping[str, Any]) -> str:
    """The entry's summary and content, as `_studies` joins them (plain-text escaping aside)."""
    values = [entry.get("summary", "")]
    values += [content.get("value", "") for content in entry.get("content", [])]
    return "\n".join(value for value in values if isinstance(value, str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=check_runs, default=RUNS, help=f"rounds (default {RUNS})")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of feed files")
    args = parser.parse_args()

    feeds = load_corpus(args.corpus)
    releases = sum(len(feed.entries) for feed in feeds)
    print(header(args.runs), flush=True)
    nida = load_corpus(NIDA_FIXTURE.parent, only=NIDA_FIXTURE.name)
    in_html = [
        (entry, feed.context["base_url"])
        for feed in nida
        for entry in feed.entries
        if find_studies(_html(entry))
    ]
    with_study = [
        (entry, feed.context["base_url"])
        for feed in feeds
        for entry in feed.entries
        if _studies(entry, feed.context["base_url"])
    ]
    steps = ("studies", "found", "html", "normalise", "parse_feed")
    wall: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}

    def studies() -> None:
        for feed in feeds:
            base = feed.context["base_url"]
            for entry in feed.entries:
                _studies(entry, base)

    def found() -> None:
        for entry, base in with_study:
            _studies(entry, base)

    def html() -> None:
        for entry, base in in_html:
            _studies(entry, base)

    def normalise() -> None:
        for feed in feeds:
            for entry in feed.entries:
                normalize_entry(entry, **feed.context)

    def parse() -> None:
        for feed in feeds:
            parse_feed(feed.body, feed_name="corpus", base_url=BASE_URL)

    # Round by round, every step once, so that a burst of load hits all of them alike.
    for _ in range(args.runs):
        for name, action, count in (
            ("studies", studies, releases),
            ("found", found, len(with_study)),
            ("html", html, len(in_html)),
            ("normalise", normalise, releases),
            ("parse_feed", parse, releases),
        ):
            step_wall, step_cpu = per_release(action, count)
            wall[name].append(step_wall)
            cpu[name].append(step_cpu)
    worst, which = slowest_release(feeds, args.runs)
    print(
        f"{releases} releases in {len(feeds)} feeds of {args.corpus.name}/; {REPEAT} passes over"
        f" all of them per step and round; load average {load()} at the end"
    )
    print()
    print(table(cost_rows(wall, cpu)))
    print()
    share = ratios(cpu["studies"], cpu["normalise"])
    median_ms = Spread.of(cpu["studies"]).median * 1000
    print(
        f"Finding the study: {Spread.of(cpu['studies']).text(us)} of CPU per release"
        f" ({Spread.of(wall['studies']).text(us)} wall), {share.text(percent)} of"
        f" `normalize_entry`; target < {TARGET_MS} ms: "
        f"{'met' if median_ms < TARGET_MS else 'MISSED'}. Slowest single release: "
        f"{us(worst)} of CPU ({which})."
    )
    print()
    print(table(found_share(feeds)))


def cost_rows(wall: dict[str, list[float]], cpu: dict[str, list[float]]) -> list[list[str]]:
    labels = (
        ("finding the study (`_studies`: HTML + identifier fields)", "studies"),
        ("of which, the releases where one is found (mean)", "found"),
        ("a study link in the HTML (NIDA fixture, 2 releases; not in the corpus)", "html"),
        ("`normalize_entry`, the study included (baseline)", "normalise"),
        ("`parse_feed` (feedparser + checks + normalise)", "parse_feed"),
    )
    rows = [
        [
            "per release",
            "CPU min",
            "CPU median",
            "CPU max",
            "wall median",
            "x normalize_entry (CPU)",
        ]
    ]
    for label, name in labels:
        rows.append(
            [
                label,
                *Spread.of(cpu[name]).cells(us),
                us(Spread.of(wall[name]).median),
                f"{ratios(cpu[name], cpu['normalise']).median:.3f}",
            ]
        )
    return rows


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def percent(share: float) -> str:
    return f"{share:.1%}"


if __name__ == "__main__":
    main()
