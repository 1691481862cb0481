"""Feed discovery: the RSS and Atom feeds a web page announces, for `/add <page URL>`.

A page announces its feeds with `<link rel="alternate" type="application/rss+xml"
href="…" title="…">` (or application/atom+xml). The page is read with the standard
library's forgiving html.parser (never a regular expression over HTML): broken markup,
a missing <head> or stray tags cost nothing but the links they hide. Links resolve
against the page's URL and its first `<base href>`, as browsers do; only http(s) feeds
are kept, each once, in document order.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

from bot.feeds.urls import canonical_url

__all__ = ["MAX_PAGE_CHARS", "DiscoveredFeed", "discover_feeds", "looks_like_html"]

# Feed links sit in the <head>; a page is read only this far.
MAX_PAGE_CHARS = 1_000_000
# How far into a body looks_like_html looks for the first tag.
_SNIFF_BYTES = 2048

_KINDS: dict[str, Literal["rss", "atom"]] = {
    "application/rss+xml": "rss",
    "application/rdf+xml": "rss",  # RSS 1.0
    "application/atom+xml": "atom",
}
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_ROOTS = (b"<rss", b"<feed", b"<rdf:rdf")
_HTML_ROOTS = (b"<!doctype html", b"<html")


@dataclass(frozen=True)
class DiscoveredFeed:
    """A feed a page links to: its absolute URL, its title (may be ""), rss or atom."""

    url: str
    title: str
    kind: Literal["rss", "atom"]


def discover_feeds(html: bytes | str, base_url: str) -> tuple[DiscoveredFeed, ...]:
    """The feeds `html` (a page fetched from `base_url`) announces, in document order."""
    text = _decode(html) if isinstance(html, bytes) else html
    finder = _LinkFinder()
    try:
        finder.feed(text[:MAX_PAGE_CHARS])
        finder.close()
    except AssertionError:
        # html.parser's last strictness: an unknown "<![keyword[" section. The links
        # found before it are still good.
        pass
    base = _absolute(finder.base_href, base_url) or base_url
    found: dict[str, DiscoveredFeed] = {}
    for href, title, kind in finder.links:
        url = _absolute(href, base)
        if url:
            found.setdefault(canonical_url(url) or url, DiscoveredFeed(url, title, kind))
    return tuple(found.values())


def looks_like_html(body: bytes, content_type: str) -> bool:
    """True when a fetched body is a web page rather than a feed.

    The body decides when it can: a feed's root element (<rss>, <feed>, <rdf:RDF>) before
    any <html> means a feed even when served as text/html (publishers do), and <html> or an
    HTML doctype first means a page whatever the Content-Type says. Otherwise the
    Content-Type decides.
    """
    head = body[:_SNIFF_BYTES].lower()
    feed_at = _first(head, _FEED_ROOTS)
    html_at = _first(head, _HTML_ROOTS)
    if feed_at is not None and (html_at is None or feed_at < html_at):
        return False
    if html_at is not None:
        return True
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type in _HTML_TYPES


def _first(head: bytes, markers: tuple[bytes, ...]) -> int | None:
    positions = [at for at in (head.find(marker) for marker in markers) if at >= 0]
    return min(positions, default=None)


def _decode(body: bytes) -> str:
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16", errors="replace")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Old pages in Windows-1252 or Latin-1: the URLs are ASCII either way.
        return body.decode("cp1252", errors="replace")


# What a browser strips from both ends of a URL (WHATWG URL: C0 controls and space) and
# removes inside it (tab and line breaks). urlsplit ignores them when it reads the scheme
# but keeps them in the URL, so "\x1bhttp://x" passed as http(s) and was kept as written.
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")


def _absolute(href: str, base: str) -> str:
    """`href` resolved against `base` without its fragment; "" unless it is http(s)."""
    try:
        href = href.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
        url, _ = urldefrag(urljoin(base, href))
        parts = urlsplit(url)
        _ = parts.port  # ValueError on a malformed port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return url


class _LinkFinder(HTMLParser):
    """Collects alternate feed links and the first <base href>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, Literal["rss", "atom"]]] = []
        self.base_href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and not self.base_href:
            self.base_href = (dict(attrs).get("href") or "").strip()
        elif tag == "link":
            self._link({name: value or "" for name, value in attrs})

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def _link(self, attrs: dict[str, str]) -> None:
        rel = attrs.get("rel", "").lower().split()
        media_type = attrs.get("type", "").partition(";")[0].strip().lower()
        kind = _KINDS.get(media_type)
        href = attrs.get("href", "").strip()
        if "alternate" in rel and kind and href:
            self.links.append((href, " ".join(attrs.get("title", "").split()), kind))
