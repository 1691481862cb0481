"""When to poll a feed next, after a success or after consecutive failures (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_BACKOFF = 6 * 3600.0  # seconds: a failing feed is still retried at least every 6 h
# A permanent failure (404, 410, 401, 403, not a feed...) will not pass by retrying in
# minutes: someone has to change the URL or the server. Its first retry waits an hour
# (a page missing during a site redeploy is back by then, so a mistaken "permanent" costs
# at most an hour) and the wait doubles up to a day: a dead feed costs one request a day,
# and a feed the publisher restores is found again within a day. Changing its URL in the
# config resets the state, so a fix is polled at once.
PERMANENT_FIRST_BACKOFF = 3600.0  # seconds
MAX_PERMANENT_BACKOFF = 24 * 3600.0  # seconds
MAX_RETRY_AFTER = 24 * 3600.0  # seconds: a server cannot park a feed for longer than a day
JITTER_LOW = 0.8
JITTER_HIGH = 1.2


def next_poll_after_success(now: datetime, interval: float) -> datetime:
    """The feed is due again one `interval` (seconds) after `now`."""
    return now + timedelta(seconds=interval)


def next_poll_after_failure(
    now: datetime,
    interval: float,
    failures: int,
    *,
    retry_after: float | None,
    jitter: float,
    permanent: bool = False,
) -> datetime:
    """When to retry a feed that has failed `failures` (>= 1) times in a row.

    delay = min(6 h, interval * 2 ** (failures - 1)) * (0.8 + 0.4 * jitter)

    and when this failure is `permanent`, harder:

    delay = min(24 h, max(1 h, interval) * 2 ** (failures - 1)) * (0.8 + 0.4 * jitter)

    `jitter` is a number in [0, 1) the caller draws at random, so the scale factor lies in
    [0.8, 1.2) and feeds that failed together do not all retry together. When the server
    sent Retry-After (seconds), the delay is at least that, with Retry-After capped at 24 h.
    """
    if failures < 1:
        raise ValueError(f"failures must be at least 1, got {failures}")
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    exponent = min(failures - 1, 64)  # 2**64 * any interval is far past the cap already
    if permanent:
        base = max(PERMANENT_FIRST_BACKOFF, interval)
        delay = min(MAX_PERMANENT_BACKOFF, base * 2.0**exponent)
    else:
        delay = min(MAX_BACKOFF, interval * 2.0**exponent)
    delay *= JITTER_LOW + (JITTER_HIGH - JITTER_LOW) * jitter
    if retry_after is not None:
        delay = max(delay, min(max(retry_after, 0.0), MAX_RETRY_AFTER))
    return now + timedelta(seconds=delay)
