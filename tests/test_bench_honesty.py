"""The benchmarks measure what they say: feedparser as the bot calls it, differences with
their sign, and every figure over at least five runs (issue 10, point 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import bench_ingest
from bench.common import differences
from bot.feeds.normalise import normalize_entry
from bot.feeds.parse import parse_feed

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("cite", "commands", "delivery", "flood", "ingest", "poll", "study_extract")


def test_ingest_reference_reads_the_feed_as_parse_feed_does():
    """The ingest benchmark's feedparser row parses the bytes into exactly parse_feed's releases."""
    body = bench_ingest.big_feed(40)
    ours = parse_feed(body, feed_name="demo", base_url=bench_ingest.BASE_URL)
    reference = bench_ingest.feedparser_as_called(body)
    context = {
        "feed_name": "demo",
        "feed_title": ours.title,
        "feed_author": "",
        "base_url": bench_ingest.BASE_URL,
        "timezone": None,
        "feed_language": reference.feed.get("language", "").strip(),
    }
    assert [normalize_entry(e, **context) for e in reference.entries] == list(ours.releases)


def test_a_difference_keeps_its_sign():
    """A step that measured faster than its parts shows a negative rest, not 0 ms."""
    rest = differences([0.100, 0.090, 0.120], [0.095, 0.095, 0.095], [0.010, 0.010, 0.010])
    assert rest.min == pytest.approx(-0.015)
    assert rest.max == pytest.approx(0.015)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_refuses_fewer_than_five_runs(name):
    """`--runs 4` is refused with a reason: min / median / max needs five runs or more."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.bench_{name}", "--runs", "4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "at least 5 runs, got 4" in done.stderr
