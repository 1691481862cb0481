"""The per-feed series of /metrics, kept as plain numbers in dicts (bot/services/metrics.py).

prometheus-client's labelled Counter and Gauge make one child object per label set (with
its own locks and copies of the metric's name and labels): about 0.7 KB each, so 10,000
feeds with four to five series each held 30 MB or more. Here a series is a dict entry
(a number under the feed's name, shared with the routing view): the same exposition for
a fraction of the memory. Written on the event loop (the poller after a round,
`refresh_gauges`), read by /metrics in a worker thread (bot/services/metrics_server.py):
one lock keeps a scrape from reading a dict while a round changes it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Family = CounterMetricFamily | GaugeMetricFamily


class FeedSeries(Collector):
    """releasebot_polls (by feed and result), releasebot_new_releases, and the gauges
    releasebot_feed_last_success_timestamp_seconds and releasebot_feed_consecutive_failures."""

    def __init__(self) -> None:
        self.polls: dict[tuple[str, str], float] = {}
        self.new_releases: dict[str, float] = {}
        self.last_success: dict[str, float] = {}
        self.failures: dict[str, float] = {}
        self._lock = threading.Lock()

    def polled(self, feed: str, result: str, new: int) -> None:
        key = (feed, result)
        with self._lock:
            self.polls[key] = self.polls.get(key, 0.0) + 1
            if new:
                self.new_releases[feed] = self.new_releases.get(feed, 0.0) + new

    def set_state(self, feed: str, last_success: float | None, failures: int) -> None:
        """The feed's gauges (its last success only once it has had one)."""
        with self._lock:
            if last_success is not None:
                self.last_success[feed] = last_success
            self.failures[feed] = failures

    def forget(self, feed: str, results: Iterable[str]) -> None:
        """Remove every series of a feed that left the view."""
        with self._lock:
            for result in results:
                self.polls.pop((feed, result), None)
            for values in (self.new_releases, self.last_success, self.failures):
                values.pop(feed, None)

    def describe(self) -> Iterator[Metric]:
        yield from self._families(with_samples=False)

    def collect(self) -> Iterator[Metric]:
        yield from self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        polls = CounterMetricFamily(
            "releasebot_polls", "Feed polls, by result", labels=["feed", "result"]
        )
        new = CounterMetricFamily("releasebot_new_releases", "New releases stored", labels=["feed"])
        success = GaugeMetricFamily(
            "releasebot_feed_last_success_timestamp_seconds",
            "When the feed last answered (200 or 304)",
            labels=["feed"],
        )
        failures = GaugeMetricFamily(
            "releasebot_feed_consecutive_failures",
            "Failed polls of the feed since its last success",
            labels=["feed"],
        )
        if with_samples:
            with self._lock:  # copies: the samples are made outside the lock
                counts = list(self.polls.items())
                gauges: list[tuple[Family, list[tuple[str, float]]]]
                gauges = [(new, list(self.new_releases.items())),
                          (success, list(self.last_success.items())),
                          (failures, list(self.failures.items()))]
            for (feed, result), value in counts:
                polls.add_metric([feed, result], value)
            for family, values in gauges:
                for feed, value in values:
                    family.add_metric([feed], value)
        yield from (polls, new, success, failures)
