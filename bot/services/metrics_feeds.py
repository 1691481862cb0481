"""The per-feed series of /metrics, kept as plain numbers in dicts (bot/services/metrics.py).

prometheus-client's labelled Counter and Gauge make one child object per label set (with
its own locks and copies of the metric's name and labels): about 0.7 KB each, so 10,000
feeds with four to five series each held 30 MB or more. Here a series is a dict entry
(a number under the feed's name, shared with the routing view): the same exposition for
a fraction of the memory. Read and written on the event loop only (the poller after a
round, `refresh_gauges`, and /metrics, served on the loop too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class FeedSeries(Collector):
    """releasebot_polls (by feed and result), releasebot_new_releases, and the gauges
    releasebot_feed_last_success_timestamp_seconds and releasebot_feed_consecutive_failures."""

    def __init__(self) -> None:
        self.polls: dict[tuple[str, str], float] = {}
        self.new_releases: dict[str, float] = {}
        self.last_success: dict[str, float] = {}
        self.failures: dict[str, float] = {}

    def polled(self, feed: str, result: str, new: int) -> None:
        key = (feed, result)
        self.polls[key] = self.polls.get(key, 0.0) + 1
        if new:
            self.new_releases[feed] = self.new_releases.get(feed, 0.0) + new

    def forget(self, feed: str, results: Iterable[str]) -> None:
        """Remove every series of a feed that left the view."""
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
            for (feed, result), value in list(self.polls.items()):
                polls.add_metric([feed, result], value)
            for family, values in ((new, self.new_releases), (success, self.last_success),
                                   (failures, self.failures)):
                for feed, value in list(values.items()):
                    family.add_metric([feed], value)
        yield from (polls, new, success, failures)
