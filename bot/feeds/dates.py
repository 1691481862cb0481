"""Parse feed date strings (RFC 822 and ISO 8601) keeping the publisher's own UTC offset.

A press release's date is the publisher's calendar date, so "Thu, 03 Apr 2014 22:30:00
-0400" must stay 3 April (feedparser's `*_parsed` values are UTC and would say 4 April).
UTC values ("Z", "+0000", "-0000", GMT) are moved into the feed's configured zone when
there is one. Offset-less values (none given, or a zone name we do not know) are read as
wall time in that zone, or as UTC when the feed has no zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

__all__ = ["MONTHS", "calendar_date", "from_utc_struct", "parse_date"]

# The month names, once: posts, replies and citations write them; feeds abbreviate them.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# Zone names email.utils does not know (it knows UT, UTC, GMT, Z and the US zones).
# Only names with one widely agreed meaning; IST, CST-as-China and the like stay unknown.
_EXTRA_ZONES = {
    "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3, "HKT": 8, "SGT": 8, "AWST": 8, "JST": 9, "KST": 9,
    "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "HST": -10, "AKST": -9, "AKDT": -8, "NST": -3.5, "NDT": -2.5,
}  # fmt: skip
_TRAILING_ZONE = re.compile(r"^(?P<head>.*\d)\s+(?P<zone>[A-Za-z]{2,5})$")
_ISO_DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
_ISO_LIKE = re.compile(r"^\d{4}-?\d{2}")
_RFC_DATE_ONLY = re.compile(
    r"^(?:[A-Za-z]+,?\s+)?(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]{3})[A-Za-z]*\.?\s+(?P<year>\d{4})$"
)
_MONTH_NUMBERS = {name[:3].lower(): number for number, name in enumerate(MONTHS, start=1)}


def parse_date(raw: str, zone: ZoneInfo | None) -> date | datetime | None:
    """Parse an RFC 822 or ISO 8601 date; a date-only value stays a `date`.

    The result keeps the publisher's offset; UTC and offset-less times are converted
    into `zone` when one is given (offset-less times are UTC otherwise). Anything
    unparseable gives None: this never raises.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    try:
        value = _parse_iso(text) or _parse_rfc822(text)
        if isinstance(value, datetime):
            return _in_zone(value, zone)
    except (ValueError, TypeError, OverflowError, IndexError, KeyError):
        return None
    return value


def calendar_date(value: date | datetime) -> date:
    """The calendar date a person reads: a datetime's date in its own offset (converting
    to UTC would move a late-evening release to the next day)."""
    if isinstance(value, datetime):
        return value.date()
    return value


def _parse_iso(text: str) -> date | datetime | None:
    if not _ISO_LIKE.match(text):
        return None
    try:
        if _ISO_DATE_ONLY.match(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


def _parse_rfc822(text: str) -> date | datetime | None:
    date_only = _RFC_DATE_ONLY.match(text)
    if date_only:
        month = _MONTH_NUMBERS.get(date_only["month"].lower())
        if month is None:
            return None
        return date(int(date_only["year"]), month, int(date_only["day"]))
    return parsedate_to_datetime(_numeric_zone(text))


def _numeric_zone(text: str) -> str:
    """Replace a trailing zone name email.utils would ignore with its numeric offset."""
    if text.endswith("-0000"):
        # RFC 5322: "-0000" is UTC with the sender's zone unknown; email.utils drops it.
        return text[:-5] + "+0000"
    match = _TRAILING_ZONE.match(text)
    if not match:
        return text
    hours = _EXTRA_ZONES.get(match["zone"].upper())
    if hours is None:
        return text
    minutes = round(abs(hours) * 60)
    sign = "-" if hours < 0 else "+"
    return f"{match['head']} {sign}{minutes // 60:02d}{minutes % 60:02d}"


def _in_zone(value: datetime, zone: ZoneInfo | None) -> datetime:
    """Read offset-less times as wall time in `zone` (else UTC); move UTC into `zone`."""
    if value.tzinfo is None:
        return value.replace(tzinfo=zone if zone is not None else UTC)
    if zone is not None and value.utcoffset() == timedelta(0):
        return value.astimezone(zone)
    return value


def from_utc_struct(value: object, zone: ZoneInfo | None) -> datetime | None:
    """A feedparser `*_parsed` value (a UTC 9-tuple) as an aware datetime, or None.

    Only a fallback for date formats `parse_date` does not read: it has lost the
    publisher's offset, so it is moved into `zone` when one is known.
    """
    if not isinstance(value, tuple) or len(value) < 6:
        return None
    fields = value[:6]
    if not all(isinstance(field, int) for field in fields):
        return None
    year, month, day, hour, minute, second = (int(field) for field in fields)
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
        return moment.astimezone(zone) if zone is not None else moment
    except (ValueError, OverflowError):
        return None
