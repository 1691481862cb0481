"""The per-feed series of /metrics stay small: 10,000 feeds must fit the soak's memory goal."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

from bot import __version__
from bot.models import IngestResult
from bot.services.metrics import Metrics
from bot.services.poller import PollOutcome

FEEDS = 2000
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def test_each_feed_costs_under_a_kilobyte_of_metrics_after_two_rounds() -> None:
    """Two rounds (ok with new releases, then not modified) and the feed gauges set: the five
    series of a feed take under 1 KB (prometheus-client's labelled children took 3.5 KB)."""
    metrics = Metrics(__version__, clock=lambda: NOW, tick=2.0, telegram=True, process=False)
    names = [f"feed-{n}" for n in range(FEEDS)]
    new = IngestResult(new=20, updated=0, queued=0, flooded=0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        metrics.polled(PollOutcome(name, "ok", new) for name in names)
        metrics.polled(PollOutcome(name, "not_modified") for name in names)
        metrics.set_feeds((name, NOW, 0) for name in names)
        per_feed = (tracemalloc.get_traced_memory()[0] - before) / FEEDS
    finally:
        tracemalloc.stop()
    text = metrics.exposition().decode()
    assert text.count("releasebot_polls_total{") == 2 * FEEDS
    assert text.count("releasebot_feed_consecutive_failures{") == FEEDS
    assert per_feed < 1024, f"{per_feed:.0f} bytes per feed"
