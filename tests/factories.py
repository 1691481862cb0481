"""Builders for test data: a valid Release with any field overridden."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.models import Release

EDT = timezone(timedelta(hours=-4))


def make_release(n: int = 1, **overrides: Any) -> Release:
    """Release number `n` of feed 'nida', dated n days after 1 April 2014 at 10:00 EDT."""
    base = Release(
        feed="nida",
        key=f"https://example.org/releases/{n}",
        title=f"Release number {n} about addiction research",
        link=f"https://example.org/releases/{n}?utm_source=rss",
        url=f"https://example.org/releases/{n}",
        published=datetime(2014, 4, 1, 10, 0, tzinfo=EDT) + timedelta(days=n),
        updated=None,
        author="",
        feed_author="",
        feed_title="NIDA News Releases",
        summary=f"Summary of release {n}.",
        language="en",
    )
    return replace(base, **overrides)
