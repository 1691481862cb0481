"""Where a release stands among others, newest first: the one key for `preview`, the
store's `sort_at` column and so `/latest`, `/cite` and `/search`.

A dated release sorts by its published (else updated) instant. A date-only value counts
as noon UTC that day: after any time stamped on the previous calendar day and before any
stamped on the next, for offsets within twelve hours. An undated release says nothing of
when it appeared except that the bot had not seen it before: it sorts after every dated
release, and among undated ones by when the bot first saw it (newest first), so an old
undated page found in a feed's backlog never heads the list.

The key is fixed-width text, so text order is sort order in Python and in SQLite alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time

from bot.models import PubDate, Release

__all__ = ["DATE_ONLY_TIME", "instant_text", "moment", "newest_first", "sort_key"]

DATE_ONLY_TIME = time(12, 0, tzinfo=UTC)
# Before every year's first digit ("0001" to "9999"), so undated keys sort below dated ones.
_UNDATED = "-"
# One sighting: releases read together share it, so their feed order decides among them.
_SAME_SIGHTING = datetime(1970, 1, 1, tzinfo=UTC)


def instant_text(value: datetime) -> str:
    """A UTC instant as fixed-width text ('2014-04-03T14:30:00.000000Z'): text order is
    time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def moment(value: PubDate) -> datetime:
    """A publication date as an aware instant: a date-only value at noon UTC, a naive
    datetime as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, DATE_ONLY_TIME)


def sort_key(release: Release, first_seen: datetime) -> str:
    """The release's place, newest first when sorted in reverse: its published (else
    updated) instant; undated, below every dated one, by `first_seen`."""
    value = release.published or release.updated
    if value is None:
        return _UNDATED + instant_text(first_seen)
    return instant_text(moment(value))


def newest_first(
    releases: Iterable[Release], first_seen: datetime = _SAME_SIGHTING
) -> tuple[Release, ...]:
    """`releases` (all seen at `first_seen`) newest first by `sort_key`; ties keep their
    order, which in a feed means earlier is newer."""
    return tuple(sorted(releases, key=lambda r: sort_key(r, first_seen), reverse=True))
