"""OPML 2.0: read a feed reader's subscription list, write ours.

Reading treats the file as hostile XML (it comes from a chat or a stranger's export):
defusedxml refuses any DOCTYPE and entity declaration (billion laughs, external
entities), the size and the number of outlines are capped, and the outlines are read as
a stream so a capped file never builds more than the cap in memory.

Nested outlines are categories: a feed's category is the texts of the outlines around it
joined with "/" ("Science/Health"); a file without nesting may instead carry OPML 2.0's
`category` attribute ("/Science/Health"), read the same way. Outlines without xmlUrl are
categories only. A feed's title is its `title` attribute, or its `text` when it has none.

Text is cleaned the same way on reading and writing: characters XML 1.0 cannot carry
(control characters other than tab and newline, U+FFFE, U+FFFF, lone surrogates) are
dropped, runs of whitespace become one space, ends are trimmed; a category keeps at most
MAX_CATEGORY_DEPTH levels and MAX_CATEGORY_CHARS characters. So render -> parse gives back
the cleaned feeds, once per URL, and writing never fails on a title from a feed.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # writing only; reading goes through defusedxml
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden

from bot.errors import OpmlError
from bot.feeds.urls import canonical_url

__all__ = [
    "MAX_BYTES",
    "MAX_CATEGORY_CHARS",
    "MAX_CATEGORY_DEPTH",
    "MAX_OUTLINES",
    "OpmlDocument",
    "OpmlFeed",
    "clean_category",
    "clean_text",
    "parse_opml",
    "render_opml",
]

MAX_BYTES = 5_000_000
MAX_OUTLINES = 10_000
MAX_CATEGORY_DEPTH = 8
MAX_CATEGORY_CHARS = 200

# What XML 1.0 cannot carry: C0 controls but tab, newline and CR; U+FFFE/U+FFFF; surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class OpmlFeed:
    """One subscription: the feed's URL, title, web page and "/"-joined category."""

    url: str
    title: str = ""
    html_url: str = ""
    category: str = ""


@dataclass(frozen=True)
class OpmlDocument:
    """A parsed OPML file: its head title and its feeds, once per URL, in document order."""

    title: str = ""
    feeds: tuple[OpmlFeed, ...] = field(default=())


def clean_text(text: str) -> str:
    """`text` as OPML keeps it: no character XML cannot carry, whitespace collapsed."""
    return " ".join(_NOT_XML.sub("", text).split())


def clean_category(category: str) -> str:
    """A "/"-joined category path cleaned: parts trimmed, empty parts dropped, capped."""
    parts = [part for part in map(clean_text, category.split("/")) if part]
    return "/".join(parts[:MAX_CATEGORY_DEPTH])[:MAX_CATEGORY_CHARS].strip("/ ")


def _clean_feed(feed: OpmlFeed) -> OpmlFeed:
    return OpmlFeed(
        url=clean_text(feed.url),
        title=clean_text(feed.title),
        html_url=clean_text(feed.html_url),
        category=clean_category(feed.category),
    )


def _url_key(url: str) -> str:
    return canonical_url(url) or url


# --- reading ------------------------------------------------------------------------------


def parse_opml(
    data: bytes, *, max_outlines: int = MAX_OUTLINES, max_bytes: int = MAX_BYTES
) -> OpmlDocument:
    """The feeds of an OPML file. Raises OpmlError (with a message for the user) when it is
    too large, not XML, not OPML, declares a DOCTYPE or entities, or has more than
    `max_outlines` outlines."""
    if len(data) > max_bytes:
        raise OpmlError(
            f"The OPML file is {len(data):,} bytes; at most {max_bytes:,} are read. Split it."
        )
    if not data.strip():
        raise OpmlError("The OPML file is empty.")
    try:
        return _read(data, max_outlines)
    except (DTDForbidden, EntitiesForbidden) as exc:
        raise OpmlError(
            "The OPML file has a DOCTYPE or entity declarations; "
            "entity declarations are not allowed."
        ) from exc
    except DefusedXmlException as exc:
        raise OpmlError(f"The OPML file was refused: {exc}.") from exc
    except ParseError as exc:
        raise OpmlError(f"This is not an OPML file: the XML is broken ({exc}).") from exc
    except (ValueError, LookupError) as exc:  # expat on some encoding declarations
        raise OpmlError(f"This is not an OPML file: {exc}.") from exc


def _read(data: bytes, max_outlines: int) -> OpmlDocument:
    events = SafeET.iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
    reader = _Reader(max_outlines)
    for event, element in events:
        if event == "start":
            reader.start(element)
        else:
            reader.end(element)
    if not reader.seen_root:
        raise OpmlError("This is not an OPML file: it has no <opml> element.")
    return OpmlDocument(title=reader.title, feeds=tuple(reader.feeds.values()))


class _Reader:
    """Walks the start and end events, keeping the stack of outlines around each one."""

    def __init__(self, max_outlines: int) -> None:
        self.max_outlines = max_outlines
        self.outlines = 0
        self.seen_root = False
        self.title = ""
        self.feeds: dict[str, OpmlFeed] = {}
        self.tags: list[str] = []
        # For each open outline: its category text, or None for a feed outline.
        self.categories: list[str | None] = []

    def start(self, element: ET.Element) -> None:
        tag = _local(element.tag)
        if not self.tags:
            if tag != "opml":
                raise OpmlError(f"This is not an OPML file: its root element is <{tag}>.")
            self.seen_root = True
        self.tags.append(tag)
        if tag != "outline":
            return
        self.outlines += 1
        if self.outlines > self.max_outlines:
            raise OpmlError(
                f"The OPML file has more than {self.max_outlines:,} outlines; "
                "split it into smaller files."
            )
        attrs = {_local(name).lower(): value for name, value in element.attrib.items()}
        url = clean_text(attrs.get("xmlurl", ""))
        if not url:
            # Capped here: a hostile file nests 10,000 feeds in one outline with a 5 MB text.
            text = attrs.get("text") or attrs.get("title") or ""
            self.categories.append(clean_text(text[: MAX_CATEGORY_CHARS * 2]))
            return
        self.categories.append(None)
        feed = OpmlFeed(
            url=url,
            title=clean_text(attrs["title"] if "title" in attrs else attrs.get("text", "")),
            html_url=clean_text(attrs.get("htmlurl", "")),
            category=self._category(attrs.get("category", "")),
        )
        self.feeds.setdefault(_url_key(url), feed)

    def end(self, element: ET.Element) -> None:
        tag = self.tags.pop()
        if tag == "outline":
            self.categories.pop()
            element.clear()  # keeps memory flat on a long file
        elif tag == "title" and self.tags[-2:] == ["opml", "head"]:
            self.title = clean_text(element.text or "")

    def _category(self, attribute: str) -> str:
        nested = [text for text in self.categories[:-1] if text]
        if nested:
            return clean_category("/".join(nested[:MAX_CATEGORY_DEPTH]))
        # OPML 2.0's attribute: comma-separated "/"-paths; the first one is the folder.
        return clean_category(attribute.split(",")[0])


def _local(name: str) -> str:
    return name.rpartition("}")[2]


# --- writing ------------------------------------------------------------------------------


def render_opml(title: str, feeds: Sequence[OpmlFeed]) -> bytes:
    """An OPML 2.0 file (UTF-8) of `feeds`, once per URL, categories as nested outlines.

    Text is cleaned as parse_opml cleans it; feeds without a URL are left out.
    """
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = clean_text(title)
    body = ET.SubElement(opml, "body")
    folders: dict[str, ET.Element] = {"": body}
    for feed in _unique(feeds):
        parent = _folder(folders, feed.category)
        attrs = {"type": "rss", "text": feed.title or feed.url, "title": feed.title}
        attrs["xmlUrl"] = feed.url
        if feed.html_url:
            attrs["htmlUrl"] = feed.html_url
        ET.SubElement(parent, "outline", attrs)
    ET.indent(opml)
    data: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _unique(feeds: Sequence[OpmlFeed]) -> Iterator[OpmlFeed]:
    seen: set[str] = set()
    for feed in map(_clean_feed, feeds):
        key = _url_key(feed.url)
        if feed.url and key not in seen:
            seen.add(key)
            yield feed


def _folder(folders: dict[str, ET.Element], category: str) -> ET.Element:
    if category in folders:
        return folders[category]
    parent_path, _, name = category.rpartition("/")
    parent = _folder(folders, parent_path)
    folder = ET.SubElement(parent, "outline", text=name, title=name)
    folders[category] = folder
    return folder
