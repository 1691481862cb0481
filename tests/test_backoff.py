"""When a feed is polled next: its interval after a success, a jittered backoff after failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.backoff import next_poll_after_failure, next_poll_after_success

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SIX_HOURS = 6 * 3600.0
DAY = 24 * 3600.0

intervals = st.floats(min_value=1.0, max_value=7 * DAY)
failure_counts = st.integers(min_value=1, max_value=10_000)
jitters = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def delay(when: datetime) -> float:
    return (when - NOW).total_seconds()


def test_success_waits_one_interval() -> None:
    """After a good poll the feed is due again exactly one interval later."""
    assert next_poll_after_success(NOW, 900.0) == NOW + timedelta(minutes=15)


def test_failures_double_the_delay() -> None:
    """Each further consecutive failure doubles the wait (jitter 0.5 means no scaling)."""
    delays = [
        delay(next_poll_after_failure(NOW, 60.0, n, retry_after=None, jitter=0.5))
        for n in range(1, 6)
    ]
    assert delays == [60.0, 120.0, 240.0, 480.0, 960.0]


def test_backoff_is_capped_at_six_hours() -> None:
    """A feed failing for days is still retried about every 6 hours, never less often."""
    when = next_poll_after_failure(NOW, 900.0, 500, retry_after=None, jitter=0.5)
    assert delay(when) == SIX_HOURS


def test_jitter_spreads_between_80_and_120_percent() -> None:
    """jitter 0 gives 80 % of the delay, jitter near 1 gives just under 120 %."""
    low = next_poll_after_failure(NOW, 1000.0, 1, retry_after=None, jitter=0.0)
    high = next_poll_after_failure(NOW, 1000.0, 1, retry_after=None, jitter=0.999)
    assert delay(low) == 800.0
    assert 1195.0 < delay(high) < 1200.0


def test_retry_after_longer_than_backoff_wins() -> None:
    """A server asking for two hours of quiet gets them even on the first failure."""
    when = next_poll_after_failure(NOW, 900.0, 1, retry_after=7200.0, jitter=0.5)
    assert delay(when) == 7200.0


def test_retry_after_shorter_than_backoff_does_not_shorten_it() -> None:
    """Retry-After is a floor: a short one never makes a failing feed poll sooner."""
    when = next_poll_after_failure(NOW, 900.0, 3, retry_after=10.0, jitter=0.5)
    assert delay(when) == 3600.0


def test_retry_after_is_capped_at_a_day() -> None:
    """A server cannot park a feed for a year with a huge Retry-After."""
    when = next_poll_after_failure(NOW, 900.0, 1, retry_after=365 * DAY, jitter=0.5)
    assert delay(when) == DAY


@pytest.mark.parametrize(("failures", "jitter"), [(0, 0.5), (1, 1.0), (1, -0.1)])
def test_bad_arguments_are_refused(failures: int, jitter: float) -> None:
    """A failure count below 1 or a jitter outside [0, 1) is a caller bug, reported loudly."""
    with pytest.raises(ValueError, match="must be"):
        next_poll_after_failure(NOW, 900.0, failures, retry_after=None, jitter=jitter)


@given(interval=intervals, failures=failure_counts, jitter=jitters)
def test_delay_stays_within_jittered_bounds(interval: float, failures: int, jitter: float) -> None:
    """Without Retry-After the wait is 80-120 % of min(6 h, interval * 2^(n-1)), never later."""
    base = min(SIX_HOURS, interval * 2.0 ** min(failures - 1, 64))
    seconds = delay(
        next_poll_after_failure(NOW, interval, failures, retry_after=None, jitter=jitter)
    )
    assert 0.8 * base - 1e-3 <= seconds <= 1.2 * base + 1e-3
    assert seconds <= 1.2 * SIX_HOURS + 1e-3


@given(
    interval=intervals,
    failures=failure_counts,
    jitter=jitters,
    retry_after=st.floats(min_value=0.0, max_value=10 * 365 * DAY),
)
def test_retry_after_is_a_floor_up_to_a_day(
    interval: float, failures: int, jitter: float, retry_after: float
) -> None:
    """The wait is at least Retry-After (capped at 24 h) and at most the larger of both bounds."""
    seconds = delay(
        next_poll_after_failure(NOW, interval, failures, retry_after=retry_after, jitter=jitter)
    )
    floor = min(retry_after, DAY)
    assert seconds >= floor - 1e-3
    assert seconds <= max(floor, 1.2 * SIX_HOURS) + 1e-3


@given(interval=intervals, jitter=jitters, failures=st.integers(min_value=1, max_value=60))
def test_more_failures_never_mean_sooner(interval: float, jitter: float, failures: int) -> None:
    """With the same jitter, one more failure never brings the next poll closer."""
    now = next_poll_after_failure(NOW, interval, failures, retry_after=None, jitter=jitter)
    later = next_poll_after_failure(NOW, interval, failures + 1, retry_after=None, jitter=jitter)
    assert later >= now
