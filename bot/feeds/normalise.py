"""Turn one feedparser entry (any mapping of strings) into a `Release`, or refuse it.

Input is untrusted: every field may be missing, empty, of the wrong type or hostile.
The only error this module raises is `FeedParseError`, for an entry with no title,
no link and no summary, from which no release can be made.

What a feed can make us store is capped (a 5 MB title was once stored whole, and every
/cite of it cost seconds): text fields are cut to the limits below with an ellipsis,
URLs and language tags that are too long are dropped (a cut URL is a wrong URL), a guid
that is too long is replaced by its hash, categories are cut one by one and kept at most
MAX_CATEGORIES. `Release.truncated` names what was changed.
Bidi embedding, override and isolate controls are removed from every shown field.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator, Mapping
from datetime import date
from email.utils import getaddresses
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bot.errors import FeedParseError
from bot.feeds.dates import from_utc_struct, parse_date
from bot.feeds.language import release_language
from bot.feeds.studies import find_identifier_studies, find_studies, merge_studies
from bot.feeds.text import (
    BIDI_CONTROLS,
    collapse_whitespace,
    cut_text,
    html_to_text,
    plain_text_paragraphs,
    strip_bidi_controls,
    strip_controls,
)
from bot.feeds.urls import canonical_url, is_http_url
from bot.models import Release, StudyRef

__all__ = ["LIMITS", "MAX_CATEGORIES", "normalize_entry", "person_name", "plain_text"]

# The most characters kept of each field. Titles: the longest real press-release titles
# run to about 300 characters, and a post is at most 4,096. Summaries: a post shows at
# most 3,000 (summary_length), the rest serves /search; 10,000 is a long abstract.
# Authors: a dozen names. URLs: 2,048, the sitemap protocol's limit, which sites stay
# under so that every client and proxy takes their addresses. Keys: a guid is usually a
# URL. Language: RFC 5646 asks for tags of up to 35 characters to be kept. Categories (each
# one): real ones are a few words ("Molecular & Computational biology", arXiv's "cs.LO").
LIMITS = {
    "title": 1_000,
    "summary": 10_000,
    "author": 500,
    "feed_title": 1_000,
    "feed_author": 500,
    "link": 2_048,
    "url": 2_048,
    "key": 2_048,
    "language": 35,
    "categories": 200,
}
# Real entries carry a handful of categories; a blog's tag cloud a few dozen. A hostile
# feed may repeat <category> without end: past _MAX_TAGS_READ, the rest are not read.
MAX_CATEGORIES = 50
_MAX_TAGS_READ = 1_000

_EMAIL = re.compile(r"(?:mailto:)?[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+", re.IGNORECASE)
# getaddresses recurses once per nested "(comment)" and slows on long text: a hostile
# author field takes the plain path (addresses cut out) instead.
_MAX_COMMENTS = 8
_PAIRED = {"(": ")", ")": "(", "[": "]", "]": "["}
_PUNCTUATION = frozenset(" ,;:<>\"'")
# a run of brackets with nothing but space inside, nested ones too ("[<]]", "(<>)"): one
# pass leaves no new empty pair behind, so reading a name twice changes nothing
_EMPTY_BRACKETS = re.compile(r"[<(\[][\s<>()\[\]]*[>)\]]")
_MARKUP = re.compile(r"<[A-Za-z!/?]|&#?\w+;")
_TITLE_FROM_SUMMARY_CHARS = 100
_IDENTIFIER_WORDS = ("doi", "pubmed", "pmid", "pmc")


def normalize_entry(
    entry: Mapping[str, Any],
    *,
    feed_name: str,
    feed_title: str,
    feed_author: str,
    base_url: str,
    timezone: ZoneInfo | None,
    feed_language: str = "",
    configured_language: str = "",
) -> Release:
    """Normalise one entry; raises FeedParseError when it has no title, link or summary.

    A missing title is taken from the summary's opening words, else the URL, so a
    release always has something to show. The language is the entry's own, else the
    configured one, else the feed's, corrected by the URL and the text (bot.feeds.language).
    `studies` are read from the HTML before it becomes plain text (bot.feeds.studies).
    """
    if not isinstance(entry, Mapping):
        raise FeedParseError("entry is not a mapping")
    fit = _Fitter()
    summary = fit.text("summary", _summary(entry))
    link = _link(entry)
    url = canonical_url(link, base_url)
    if not url and not is_http_url(link):
        link = ""  # javascript:, data:, file:... must never reach a citation or a button
    link, url = fit.dropped("link", _escape_bidi(link)), fit.dropped("url", url)
    title = _title(entry)
    if not (title or link or summary):
        raise FeedParseError("entry has no title, link or summary")
    title = title or _title_from_summary(summary) or url or collapse_whitespace(link)
    raw_published, raw_updated = _text(entry, "published"), _text(entry, "updated")
    published = _date(entry, "published", timezone) or _date(entry, "updated", timezone)
    tags = _mappings(_get(entry, "tags"))
    categories = fit.categories(
        (_category(tag) for tag in tags[:_MAX_TAGS_READ]), unread=len(tags) > _MAX_TAGS_READ
    )
    return Release(
        feed=feed_name,
        key=fit.key(_key(entry, url, title, raw_published or raw_updated)),
        title=fit.text("title", title),
        link=link,
        url=url,
        published=published,
        updated=_date(entry, "updated", timezone),
        author=fit.text("author", _authors(entry)),
        feed_author=fit.text("feed_author", _one_line(feed_author)),
        feed_title=fit.text("feed_title", _one_line(feed_title)),
        summary=summary,
        language=fit.dropped(
            "language",
            release_language(
                url=url,
                declared=tuple(
                    _one_line(tag) for tag in (_language(entry), configured_language, feed_language)
                ),
                title=title,
                summary=summary,
            ),
        ),
        categories=categories,
        truncated=fit.names(),
        studies=_studies(entry, base_url),
    )


def plain_text(value: str, content_type: str = "text/html", *, paragraphs: bool = False) -> str:
    """Plain text of a feed text construct: markup stripped, entities decoded once.

    Only text that is typed text/plain and holds nothing tag- or entity-shaped is kept
    as it is: feedparser types RSS text by guessing, and guesses "plain" for markup
    outside its whitelist, such as `<script>`.
    """
    if content_type == "text/plain" and not _MARKUP.search(value):
        text = plain_text_paragraphs(value)
    else:
        text = html_to_text(value)
    text = strip_bidi_controls(text)
    return text if paragraphs else collapse_whitespace(text)


def person_name(raw: str) -> str:
    """The person's name in an author field, never an e-mail address.

    "jdoe@nih.gov (Jane Doe)" and "Jane Doe <jdoe@nih.gov>" give "Jane Doe", a list of
    such addresses the names comma-separated; a bare address gives "". Where the field is
    no address list ("Doe, Jane <jdoe@nih.gov>" unquoted), the addresses are cut out.
    """
    if not isinstance(raw, str):
        return ""
    raw = strip_bidi_controls(strip_controls(raw))
    if "@" in raw and len(raw) <= LIMITS["author"] and raw.count("(") <= _MAX_COMMENTS:
        raw = _names_beside_addresses(raw)
    return _trim(collapse_whitespace(_EMPTY_BRACKETS.sub(" ", _EMAIL.sub(" ", raw))))


def _trim(name: str) -> str:
    """`name` without the punctuation an address left at its ends, a bracket only when it
    pairs with none ("NIDA (Press Office)" keeps its closing one); "" when no letter or
    digit is left."""
    if not any(char.isalnum() for char in name):
        return ""
    unpaired = {b: name.count(b) - name.count(_PAIRED[b]) for b in _PAIRED}
    start, end = 0, len(name)
    while start < end:
        if name[start] in _PUNCTUATION:
            start += 1
        elif name[end - 1] in _PUNCTUATION:
            end -= 1
        elif unpaired.get(name[start], 0) > 0:
            _drop(unpaired, name[start])
            start += 1
        elif unpaired.get(name[end - 1], 0) > 0:
            _drop(unpaired, name[end - 1])
            end -= 1
        else:
            break
    return name[start:end]


def _drop(unpaired: dict[str, int], bracket: str) -> None:
    unpaired[bracket] -= 1
    unpaired[_PAIRED[bracket]] += 1


def _names_beside_addresses(raw: str) -> str:
    """The display names of an RFC 5322 address list; `raw` itself when it is not one."""
    # A stray separator (";") makes an empty pair: it is no word taken for an address.
    pairs = [(name, address) for name, address in getaddresses([raw]) if name or address]
    if not pairs or not all(_EMAIL.fullmatch(address) for _, address in pairs):
        return raw  # getaddresses took words for addresses: not an address list
    return ", ".join(name for name, _ in pairs if name)


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """The stored value only: FeedParserDict.get maps missing keys to others ("updated"
    falls back to "published"), which would invent an update date."""
    if isinstance(mapping, dict):
        return dict.get(mapping, key)
    return mapping.get(key)


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = _get(entry, key)
    return value if isinstance(value, str) else ""


def _detail(entry: Mapping[str, Any], key: str, field: str) -> str:
    detail = _get(entry, key)
    value = _get(detail, field) if isinstance(detail, Mapping) else None
    return value if isinstance(value, str) else ""


def _title(entry: Mapping[str, Any]) -> str:
    return plain_text(_text(entry, "title"), _detail(entry, "title_detail", "type"))


def _summary(entry: Mapping[str, Any]) -> str:
    """Description/summary first (it is short), then the full content."""
    for value, content_type in _summary_candidates(entry):
        text = plain_text(value, content_type, paragraphs=True)
        if text:
            return text
    return ""


def _summary_candidates(entry: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    yield _text(entry, "summary"), _detail(entry, "summary_detail", "type")
    yield _text(entry, "description"), ""
    contents = _get(entry, "content")
    if isinstance(contents, list | tuple):
        for content in contents:
            if isinstance(content, Mapping) and isinstance(_get(content, "value"), str):
                content_type = _get(content, "type")
                yield content["value"], content_type if isinstance(content_type, str) else ""


def _studies(entry: Mapping[str, Any], base_url: str) -> tuple[StudyRef, ...]:
    """The studies the entry points to: from its HTML summary and content (links and the
    sentences around them, which plain text loses), then its identifier fields."""
    pieces = dict.fromkeys(
        html.escape(value) if content_type == "text/plain" and not _MARKUP.search(value) else value
        for value, content_type in _summary_candidates(entry)
        if value
    )
    return merge_studies(
        find_studies("\n".join(pieces), base_url=base_url),
        find_identifier_studies(_identifier_fields(entry)),
    )


def _identifier_fields(entry: Mapping[str, Any]) -> Iterator[str]:
    """Fields that may hold the entry's own DOI or PubMed address: a journal's or a
    preprint server's feed names the paper there (dc:identifier "doi:10.1101/...",
    prism:doi, an Atom link to doi.org). Only values that say what they are: an address
    such as ".../archive/10.2014/story" is no DOI."""
    values = [_text(entry, key) for key in ("dc_identifier", "prism_doi", "id", "link")]
    values += [_text(link, "href") for link in _mappings(_get(entry, "links"))]
    for value in values:
        lower = value.lower()
        if any(word in lower for word in _IDENTIFIER_WORDS):
            yield value


def _link(entry: Mapping[str, Any]) -> str:
    """The rel=alternate link (an HTML one if there are several), else the plain link."""
    alternates = [
        link
        for link in _mappings(_get(entry, "links"))
        if _get(link, "rel") in (None, "alternate")
        and isinstance(_get(link, "href"), str)
        and link["href"].strip()
    ]
    html_alternates = [link for link in alternates if _get(link, "type") in (None, "text/html")]
    for link in html_alternates or alternates:
        return str(link["href"]).strip()
    return _text(entry, "link").strip()


def _date(entry: Mapping[str, Any], field: str, zone: ZoneInfo | None) -> date | None:
    """The raw string parsed with its own offset; feedparser's UTC value as a fallback."""
    return parse_date(_text(entry, field), zone) or from_utc_struct(
        _get(entry, f"{field}_parsed"), zone
    )


def _key(entry: Mapping[str, Any], url: str, title: str, raw_date: str) -> str:
    guid = _text(entry, "id").strip() or _text(entry, "guid").strip()
    if guid:
        return guid
    if url:
        return url
    digest = hashlib.sha1(f"{title}\n{raw_date.strip()}".encode(), usedforsecurity=False)
    return f"sha1:{digest.hexdigest()}"


def _authors(entry: Mapping[str, Any]) -> str:
    """Every distinct author name, comma-separated; e-mail addresses dropped."""
    names = [person_name(_text(author, "name")) for author in _mappings(_get(entry, "authors"))]
    names.append(person_name(_detail(entry, "author_detail", "name")))
    if not any(names):
        names.append(person_name(_text(entry, "author")))
    return ", ".join(dict.fromkeys(name for name in names if name))


def _language(entry: Mapping[str, Any]) -> str:
    for key in ("title_detail", "summary_detail"):
        language = _detail(entry, key, "language").strip()
        if language:
            return language
    return _text(entry, "language").strip()


def _category(tag: Mapping[str, Any]) -> str:
    """A tag's label, else its term, as one line of plain text ("" when both are empty).

    feedparser puts RSS <category>, Atom <category term= label=> and dc:subject in `tags`.
    Text with tags or entities in it is read as HTML, as a title is ("Plants & Animals"
    stays as it is). Read from ill-formed XML (Phys.org's), a tag still holds its XML
    entities, so what looks like markup after one reading is read once more: a category
    is a label, never meant to show a tag.
    """
    for field in ("label", "term"):
        text = plain_text(_text(tag, field), "text/plain")
        if _MARKUP.search(text):
            text = plain_text(text, "text/plain")
        if text:
            return text
    return ""


def _title_from_summary(summary: str) -> str:
    first_line = summary.split("\n", 1)[0]
    if len(first_line) <= _TITLE_FROM_SUMMARY_CHARS:
        return first_line
    cut = first_line[:_TITLE_FROM_SUMMARY_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def _one_line(text: str) -> str:
    if not isinstance(text, str):
        return ""
    return collapse_whitespace(strip_bidi_controls(strip_controls(text)))


def _escape_bidi(link: str) -> str:
    """Bidi controls in a link percent-encoded, as a browser sends them: the same address,
    which can no longer reorder the text around it."""
    return BIDI_CONTROLS.sub(lambda match: quote(match.group()), link)


class _Fitter:
    """Fits fields within LIMITS and remembers which ones it had to change."""

    def __init__(self) -> None:
        self.cut: set[str] = set()

    def text(self, field: str, value: str) -> str:
        """Text cut to its limit, with an ellipsis."""
        fitted = cut_text(value, LIMITS[field])
        if fitted != value:
            self.cut.add(field)
        return fitted

    def dropped(self, field: str, value: str) -> str:
        """A URL or tag: kept whole, or dropped ("") when too long."""
        if len(value) <= LIMITS[field]:
            return value
        self.cut.add(field)
        return ""

    def key(self, value: str) -> str:
        """A key too long to store is replaced by its hash, which is as stable."""
        if len(value) <= LIMITS["key"]:
            return value
        self.cut.add("key")
        return "sha1:" + hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()

    def categories(self, found: Iterator[str], *, unread: bool) -> tuple[str, ...]:
        """The non-empty categories cut to their limit, each once (case aside: the first
        spelling is kept), at most MAX_CATEGORIES; `unread`: some were never looked at."""
        kept: dict[str, str] = {}
        for category in found:
            fitted = self.text("categories", category)
            if not fitted or fitted.casefold() in kept:
                continue
            if len(kept) == MAX_CATEGORIES:
                unread = True
                break
            kept[fitted.casefold()] = fitted
        if unread:
            self.cut.add("categories")
        return tuple(kept.values())

    def names(self) -> tuple[str, ...]:
        return tuple(field for field in LIMITS if field in self.cut)


def _mappings(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]
