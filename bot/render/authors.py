"""Who a citation names as a release's author and as its site, from what the feed and config say.

A press release is cited with its issuing organisation as the author (design/citations.md).
The configured short name is for display only and is never used here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.feeds.normalise import person_name
from bot.models import Publisher, Release

UNKNOWN_PUBLISHER = "Unknown publisher"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(text: str) -> str:
    """`text` on one line: control characters dropped, runs of whitespace made one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def citation_author(release: Release, publisher: Publisher) -> str:
    """The reference author: configured publisher name, else the entry author's name (never
    an e-mail address), else the feed's author or dc:publisher, else the feed title, else
    the URL's host, else "Unknown publisher". Never empty."""
    for candidate in (publisher.name, person_name(release.author), release.feed_author):
        if name := clean(candidate):
            return name
    return _site_fallback(release)


def citation_site(release: Release, publisher: Publisher) -> str:
    """The site the release lives on: the same chain as the author without the entry
    author, so it differs from the author only when a named person or desk wrote it."""
    for candidate in (publisher.name, release.feed_author):
        if name := clean(candidate):
            return name
    return _site_fallback(release)


def _site_fallback(release: Release) -> str:
    return clean(release.feed_title) or _host(release) or UNKNOWN_PUBLISHER


def _host(release: Release) -> str:
    for url in (release.url, release.link):
        try:
            host = urlsplit(clean(url)).hostname or ""
        except ValueError:  # a malformed URL (bad port, bad IPv6 brackets) has no host
            continue
        if host:
            return host
    return ""
