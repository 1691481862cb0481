"""Feed bytes -> `ParsedFeed`: refuse unsafe or non-feed bodies, then parse and normalise.

Pure: the body arrives as bytes and goes to feedparser inside a BytesIO, so feedparser
never takes it for a URL or a file name. Documents that declare XML entities are
refused before any parser sees them, whatever their encoding. Character references no
string can hold are replaced before parsing, and a document with very many items gives
only its newest `max_items`.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from xml.sax import SAXException, SAXParseException
from zoneinfo import ZoneInfo

import feedparser
from feedparser.encodings import convert_to_utf8

from bot.errors import (
    EmptyFeedError,
    EntityDeclarationError,
    FeedParseError,
    IllFormedFeedError,
    NotAFeedError,
)
from bot.feeds.normalise import LIMITS, normalize_entry, person_name, plain_text
from bot.feeds.order import newest_first
from bot.feeds.text import cut_text
from bot.feeds.urls import canonical_url
from bot.models import ParsedFeed, Release

__all__ = ["dedupe_by_key", "newest_first", "normalize_entry", "parse_feed"]

_ENTITY_DECLARATION = re.compile(r"<!ENTITY", re.IGNORECASE)
_XML_DECLARED_ENCODING = re.compile(r"""^<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']""")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_ROOT_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_SNIFF_CHARS = 65536
FEEDPARSER_OPTIONS = {"sanitize_html": False, "resolve_relative_uris": False}  # see parse_feed
_HTML_ROOTS = frozenset({"html", "head", "body"})
_FEED_ROOTS = frozenset({"rss", "rdf", "feed", "channel"})
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# "<?" (or "<" and a letter) in each wide encoding, per XML 1.0 appendix F.
_WIDE_MARKERS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
# Numeric character references to what no string can hold: NUL, UTF-16 surrogates, and
# code points beyond U+10FFFF. feedparser's fallback parser fails on them ("chr() arg not
# in range", "surrogates not allowed"), so one such title failed its whole feed.
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
_REPLACEMENT_REF = "&#xFFFD;"  # U+FFFD, spelled in ASCII: right in any encoding


def parse_feed(
    body: bytes,
    *,
    feed_name: str,
    base_url: str,
    timezone: ZoneInfo | None = None,
    content_type: str = "",
    max_items: int | None = None,
    language: str = "",
) -> ParsedFeed:
    """Parse a fetched feed body into releases in document order, first of each key kept.

    `language` is the feed's configured language tag (`feeds[].language`, "" when none):
    it stands before the feed's own `<language>`, after each item's.

    With `max_items`, only the newest `max_items` releases are kept (see `newest_first`);
    `ParsedFeed.skipped` counts the others. Raises EmptyFeedError ("empty body"),
    NotAFeedError ("not a feed: got text/html"), IllFormedFeedError ("ill-formed XML: ...")
    or EntityDeclarationError, each a FeedParseError. A valid feed with no entries is not
    an error.
    """
    if not body.strip():
        raise EmptyFeedError
    mime, charset = _split_content_type(content_type)
    views = list(_decoded_views(body, charset))
    if any(_ENTITY_DECLARATION.search(view) for view in views):
        raise EntityDeclarationError
    _refuse_html(mime, _root_element(views[0]))
    # Summaries become plain text (html_to_text drops scripts and styles, every string is
    # escaped again on output), so feedparser's HTML sanitizing and link rewriting inside
    # content would be a quarter of its time spent on markup we throw away.
    try:
        result = feedparser.parse(
            io.BytesIO(_replace_impossible_char_refs(body)),
            response_headers=_headers(base_url, charset),
            **FEEDPARSER_OPTIONS,
        )
    except (ValueError, OverflowError) as exc:  # its fallback parser on input we missed
        raise IllFormedFeedError(f"ill-formed XML: {exc}") from exc
    feed = result.get("feed") or {}
    entries = result.get("entries") or []
    # feedparser prepends an XML declaration line when there is none: undo it in line numbers.
    bozo = _bozo_text(result, line_shift=0 if views[0].startswith("<?xml") else 1)
    _refuse_if_nothing_usable(result, feed, entries, bozo, mime)
    feed_title = plain_text(feed.get("title", ""), feed.get("title_detail", {}).get("type", ""))
    releases = _releases(
        entries,
        feed_name=feed_name,
        feed_title=feed_title,
        feed_author=_feed_author(feed),
        base_url=_link_base(base_url, _text(feed, "link")),
        timezone=timezone,
        feed_language=_text(feed, "language").strip(),
        configured_language=language,
    )
    unique = dedupe_by_key(releases)
    kept = _newest(unique, max_items)
    return ParsedFeed(
        title=cut_text(feed_title, LIMITS["feed_title"]),
        link=_text(feed, "link").strip(),
        releases=kept,
        bozo=bozo,
        skipped=len(unique) - len(kept),
    )


def dedupe_by_key(releases: Iterable[Release]) -> tuple[Release, ...]:
    """Releases with distinct keys: the first of each key wins, document order kept."""
    seen: set[str] = set()
    unique = []
    for release in releases:
        if release.key not in seen:
            seen.add(release.key)
            unique.append(release)
    return tuple(unique)


def _newest(releases: tuple[Release, ...], limit: int | None) -> tuple[Release, ...]:
    """The newest `limit` of `releases` (distinct keys), still in document order."""
    if limit is None or len(releases) <= limit:
        return releases
    chosen = {release.key for release in newest_first(releases)[:limit]}
    return tuple(release for release in releases if release.key in chosen)


def _releases(entries: Iterable[Any], **context: Any) -> Iterator[Release]:
    for entry in entries:
        try:
            yield normalize_entry(entry, **context)
        except FeedParseError:
            continue  # an entry with nothing to show is skipped, not the whole feed


def _split_content_type(content_type: str) -> tuple[str, str]:
    """The media type, and the charset when the type is an XML one.

    A feed mislabelled text/html usually carries the server's default charset, not its
    own; its BOM or XML declaration is the better guide then.
    """
    mime, _, params = content_type.partition(";")
    mime = mime.strip().lower()
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and "xml" in mime:
            charset = value.strip().strip("\"'")
    return mime, charset


def _headers(base_url: str, charset: str) -> dict[str, str]:
    """Response headers for feedparser.

    Always an XML media type: feedparser applies RFC 3023, which reads text/xml without
    a charset as US-ASCII and an absent type as ISO-8859-1; XML's own rules (BOM, then
    declaration, then UTF-8) are what feeds in the wild rely on.
    """
    headers = {"content-type": "application/xml" + (f"; charset={charset}" if charset else "")}
    if base_url:
        headers["content-location"] = base_url
    return headers


def _decoded_views(body: bytes, charset: str) -> Iterator[str]:
    """The body decoded every way a parser might read it, for the entity check."""
    yield _decode_like_xml(body)
    try:
        converted = convert_to_utf8(_headers("", charset), body, {})
        yield converted.decode("utf-8", "replace")
    except Exception:  # noqa: S110 -- a view we cannot build is one we need not check
        pass
    # UTF-16/32 text of ASCII characters becomes plain ASCII once the NULs go.
    yield body.replace(b"\x00", b"").decode("latin-1")


def _replace_impossible_char_refs(body: bytes) -> bytes:
    """`body` with each character reference to NUL, a surrogate or a code point beyond
    U+10FFFF replaced by one to U+FFFD, in the document's own encoding."""
    if b"#" not in body:
        return body
    codec = _wide_codec(body)
    try:
        text = body.decode(codec, "surrogatepass")
    except UnicodeDecodeError:  # not really that wide encoding: leave it to the parser
        return body
    fixed = _CHAR_REF.sub(_replacement, text)
    return body if fixed == text else fixed.encode(codec, "surrogatepass")


def _wide_codec(body: bytes) -> str:
    """The UTF-16/32 codec a body is in (by BOM, else by how its first "<" is spelled);
    latin-1 for every other encoding, which spells "&#...;" in ASCII like latin-1 does."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return "latin-1" if encoding == "utf-8" else encoding
    for marker, encoding in _WIDE_MARKERS:
        if body.startswith(marker):
            return encoding
    return "latin-1"


def _replacement(match: re.Match[str]) -> str:
    hex_digits, decimal_digits = match.groups()
    digits = (hex_digits or decimal_digits).lstrip("0")
    if len(digits) > 8:  # far beyond U+10FFFF; and int() of a huge string is slow
        return _REPLACEMENT_REF
    code = int(digits or "0", 16 if hex_digits else 10)
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return _REPLACEMENT_REF
    return match.group()


def _decode_like_xml(body: bytes) -> str:
    """Decode by BOM, wide-encoding autodetection, then the XML declaration; else latin-1."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace")
    for marker, encoding in _WIDE_MARKERS:
        if body.startswith(marker):
            return body.decode(encoding, "replace")
    head = body[:200].decode("latin-1")
    declared = _XML_DECLARED_ENCODING.match(head.lstrip())
    if declared:
        try:
            return body.decode(declared.group(1), "replace")
        except LookupError:
            pass
    return body.decode("latin-1")


def _root_element(text: str) -> str:
    """The first element's local name, lower-cased ("" when there is none)."""
    match = _ROOT_ELEMENT.search(_COMMENT.sub("", text[:_SNIFF_CHARS]))
    return match.group(1).lower().rpartition(":")[2] if match else ""


def _refuse_html(mime: str, root: str) -> None:
    html_type = mime in ("text/html", "application/xhtml+xml")
    if root in _HTML_ROOTS or (html_type and root not in _FEED_ROOTS):
        raise NotAFeedError(f"not a feed: got {mime if html_type else 'text/html'}")


def _refuse_if_nothing_usable(
    result: Mapping[str, Any], feed: Mapping[str, Any], entries: list[Any], bozo: str, mime: str
) -> None:
    """Ill-formed or foreign documents are errors only when no feed could be read at all."""
    # An encoding complaint is not a broken document; an XML syntax error may be.
    malformed = isinstance(result.get("bozo_exception"), SAXException)
    if entries or (result.get("version") and not malformed):
        return
    version = result.get("version")
    if not version and mime and "xml" not in mime:
        raise NotAFeedError(f"not a feed: got {mime}")
    if malformed and not (feed.get("title") or feed.get("link")):
        raise IllFormedFeedError(f"ill-formed XML: {bozo}")
    if not version:
        raise NotAFeedError("not a feed: no RSS, RSS 1.0 or Atom document found")


def _bozo_text(result: Mapping[str, Any], *, line_shift: int) -> str:
    if not result.get("bozo"):
        return ""
    error = result.get("bozo_exception")
    if isinstance(error, SAXParseException):  # say where, without the "<unknown>" system id
        line = max(1, (error.getLineNumber() or 1) - line_shift)
        return f"{error.getMessage()} at line {line}, column {error.getColumnNumber()}"
    return str(error) or type(error).__name__


def _link_base(base_url: str, feed_link: str) -> str:
    """What relative item links resolve against: the feed's URL, else its own <link>.

    A feed read from a file has no http(s) URL; its channel link is the best guess then.
    """
    if canonical_url(base_url):
        return base_url
    return feed_link.strip() if canonical_url(feed_link) else base_url


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def _feed_author(feed: Mapping[str, Any]) -> str:
    """The feed's author name, else its dc:publisher name; never an e-mail address."""
    for detail, raw in (("author_detail", "author"), ("publisher_detail", "publisher")):
        details = feed.get(detail)
        name = _text(details, "name") if isinstance(details, Mapping) else ""
        name = person_name(name) or person_name(_text(feed, raw))
        if name:
            return name
    return ""
