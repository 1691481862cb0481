"""Dates and short labels as readers see them in posts, replies and the CLI."""

from __future__ import annotations

from bot.feeds.dates import MONTHS, calendar_date
from bot.models import PubDate


def display_date(value: PubDate | None) -> str:
    """'3 April 2014'; '' when there is no date."""
    if value is None:
        return ""
    day = calendar_date(value)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def iso_day(value: PubDate | None) -> str:
    """'2014-04-03', or 'undated'."""
    return calendar_date(value).isoformat() if value is not None else "undated"


def format_duration(seconds: float) -> str:
    """600 -> '10 min', 45 -> '45 s', 7200 -> '2 h'."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
