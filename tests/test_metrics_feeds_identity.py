"""/metrics' per-feed series read exactly as prometheus-client's labelled children wrote them."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from bot import __version__
from bot.models import IngestResult
from bot.services.metrics import POLL_RESULTS, Metrics
from bot.services.poller import PollOutcome

NOW = datetime(2026, 11, 30, tzinfo=UTC)
FEED_FAMILIES = tuple(
    f"# HELP releasebot_{name}".encode() for name in ("polls", "new_releases", "feed_")
)
# Quotes, backslashes, line breaks and any other text a label value may have to carry.
NAMES = st.lists(
    st.one_of(st.sampled_from(['a"b', "c\\d", "e\nf", '\\"\n', "ü"]), st.text(min_size=1)),
    min_size=1,
    max_size=6,
    unique=True,
)


def _reference(polls: list[tuple[str, str, int]], states: list[str], gone: set[str]) -> bytes:
    """The four families as the children of prometheus-client's Counter and Gauge made them
    (before bot/services/metrics_feeds.py), `gone` removed as set_feeds removed them."""
    registry = CollectorRegistry()
    counts = Counter(
        "releasebot_polls", "Feed polls, by result", ["feed", "result"], registry=registry
    )
    new = Counter("releasebot_new_releases", "New releases stored", ["feed"], registry=registry)
    success = Gauge(
        "releasebot_feed_last_success_timestamp_seconds",
        "When the feed last answered (200 or 304)",
        ["feed"],
        registry=registry,
    )
    failures = Gauge(
        "releasebot_feed_consecutive_failures",
        "Failed polls of the feed since its last success",
        ["feed"],
        registry=registry,
    )
    for feed, result, added in polls:
        counts.labels(feed=feed, result=result).inc()
        if added:
            new.labels(feed=feed).inc(added)
    for feed in states:
        success.labels(feed=feed).set(NOW.timestamp())
        failures.labels(feed=feed).set(2)
    for feed in gone:
        for result in POLL_RESULTS:
            if (feed, result) in {(f, r) for f, r, _ in polls}:
                counts.remove(feed, result)
        for metric in (new, success, failures):
            try:
                metric.remove(feed)
            except KeyError:
                continue
    return generate_latest(registry)


@given(NAMES, st.data())
def test_the_feed_series_render_as_prometheus_clients_children_did(
    names: list[str], data: st.DataObject
) -> None:
    """Polls with and without new releases, the feed gauges, then feeds leaving the view:
    the same HELP, TYPE and sample lines byte for byte (no _created samples in either),
    whatever quotes, backslashes or line breaks the feed names carry."""
    metrics = Metrics(__version__, clock=lambda: NOW, tick=2.0, telegram=True, process=False)
    result = st.sampled_from(["ok", "not_modified", "error"])
    polls = data.draw(st.lists(st.tuples(st.sampled_from(names), result, st.integers(0, 3))))
    metrics.polled(
        PollOutcome(feed, status, IngestResult(new, 0, 0, 0) if status == "ok" else None)  # type: ignore[arg-type]
        for feed, status, new in polls
    )
    metrics.set_feeds((name, NOW, 2) for name in names)
    gone = set(data.draw(st.lists(st.sampled_from(names), unique=True)))
    metrics.set_feeds((name, NOW, 2) for name in names if name not in gone)
    counted = [(feed, status, new if status == "ok" else 0) for feed, status, new in polls]
    expected = _reference(counted, names, gone)
    rendered = metrics.exposition()
    ours = b"".join(block for block in _families(rendered) if block.startswith(FEED_FAMILIES))
    assert ours == expected
    assert b"_created" not in rendered


def _families(text: bytes) -> list[bytes]:
    """The exposition cut into its families, each from its HELP line on."""
    blocks: list[bytes] = []
    for line in text.splitlines(keepends=True):
        if line.startswith(b"# HELP ") or not blocks:
            blocks.append(b"")
        blocks[-1] += line
    return blocks
