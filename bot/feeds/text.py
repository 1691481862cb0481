"""Turn feed HTML (or plain text) into clean plain text: no tags, entities decoded once.

The stdlib `html.parser` does the tokenising and `convert_charrefs` does every entity,
so "&amp;lt;b&amp;gt;" in a document becomes the literal text "<b>", never a tag.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape
from html.parser import HTMLParser

__all__ = [
    "BIDI_CONTROLS",
    "collapse_whitespace",
    "cut_text",
    "html_to_text",
    "plain_text_paragraphs",
    "strip_bidi_controls",
    "strip_controls",
]

# Elements whose content is never text a reader should see.
_DROPPED = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head"}
)
# Elements that start and end a paragraph.
_PARAGRAPH = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "aside", "nav", "main",
        "blockquote", "pre", "figure", "figcaption", "address", "hr", "table",
        "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "details", "summary",
    }
)  # fmt: skip
# Elements that sit on their own line inside a paragraph.
_LINE = frozenset({"li", "dt", "dd", "tr", "caption"})

# Private-use markers for breaks; feed text cannot smuggle them in (see _clean_data).
_LINE_MARK = "\ue000"
_PARA_MARK = "\ue001"
_MARKS = _LINE_MARK + _PARA_MARK

_SPACE_RUN = re.compile(r"\s+")
_BREAK_RUN = re.compile(rf"[\s{_MARKS}]*[{_MARKS}][\s{_MARKS}]*")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
# C0/C1 controls (except tab/newline/CR) and the private-use markers above.
_UNWANTED = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_MARKS}]")
# Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069). Left open in
# a title, they reorder what follows it in a post or a reply (the byline date, a citation).
# The marks U+200E, U+200F and U+061C stay: they open nothing, and only steer the neutral
# characters beside them, as any Hebrew or Arabic letter does; RTL text may need them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
ELLIPSIS = "\u2026"
_ZWJ = "\u200d"  # joins two emoji into one picture
_MAX_CLUSTER = 32  # a longer run of combining marks is noise: cut through it


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (newlines included) becomes one space; ends are trimmed."""
    return _SPACE_RUN.sub(" ", text).strip()


def strip_controls(text: str) -> str:
    """`text` without control characters (tab, newline and CR aside)."""
    return _UNWANTED.sub("", text)


def strip_bidi_controls(text: str) -> str:
    """`text` without bidi embedding, override and isolate controls (marks are kept)."""
    return BIDI_CONTROLS.sub("", text)


def cut_text(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters; else its start, ending in "…".

    The cut falls at the last space when one is near the limit (in its last fifth), else
    between two characters, never between a letter and its accents or an emoji and its
    modifiers. The result, ellipsis included, has at most `limit` characters.
    """
    if len(text) <= limit:
        return text
    end = max(limit - len(ELLIPSIS), 0)
    for _ in range(_MAX_CLUSTER):
        if end == 0 or not (_joins_previous(text[end]) or text[end - 1] == _ZWJ):
            break
        end -= 1
    head = text[:end]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space > len(head) * 4 // 5:
        head = head[:space]
    return head.rstrip().rstrip(",;:").rstrip() + ELLIPSIS


def _joins_previous(char: str) -> bool:
    """True for a character drawn as part of the one before it: accents and other
    combining marks (variation selectors too), and what makes one emoji of several."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char == _ZWJ
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters of subdivision flags
    )


def plain_text_paragraphs(text: str) -> str:
    """Tidy plain text: blank lines separate paragraphs, other whitespace collapses."""
    text = _UNWANTED.sub("", text)
    paragraphs = (collapse_whitespace(part) for part in _BLANK_LINE.split(text))
    return "\n\n".join(part for part in paragraphs if part)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment.

    Scripts, styles and comments are dropped with their content; paragraphs are kept
    as blank-line-separated blocks, `<br>` and list items start a new line, all other
    whitespace collapses to single spaces. Never raises.
    """
    if "<" not in html and "&" not in html:  # most titles: nothing to parse
        return collapse_whitespace(_UNWANTED.sub("", html))
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient, but stay total on hostile input
        return plain_text_paragraphs(_strip_tags_crudely(html))
    return _render(parser.chunks)


class _TextExtractor(HTMLParser):
    """Collects text chunks and break markers, skipping dropped elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._dropped_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropped_depth += 1
        elif not self._dropped_depth:
            self._mark_break(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # "<script/>" opens nothing; "<br/>" and "<hr/>" still break the line.
        if tag not in _DROPPED and not self._dropped_depth:
            self._mark_break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropped_depth = max(0, self._dropped_depth - 1)
        elif not self._dropped_depth and tag in _PARAGRAPH:
            # Line elements break only where they start, so "</li><li>" is one break.
            self._mark_break(tag)

    def handle_data(self, data: str) -> None:
        if not self._dropped_depth:
            self.chunks.append(_UNWANTED.sub("", data))

    def _mark_break(self, tag: str) -> None:
        if tag in _PARAGRAPH:
            self.chunks.append(_PARA_MARK)
        elif tag in _LINE or tag == "br":
            self.chunks.append(_LINE_MARK)
        elif tag in ("td", "th"):
            self.chunks.append(" ")


def _render(chunks: list[str]) -> str:
    """Join chunks: collapse spaces, then turn each run of markers into one break."""
    text = _SPACE_RUN.sub(" ", "".join(chunks))
    text = _BREAK_RUN.sub(_break_for, text)
    return text.strip()


def _break_for(match: re.Match[str]) -> str:
    # "<br><br>" is how many feeds separate paragraphs.
    marks = match.group()
    return "\n\n" if _PARA_MARK in marks or marks.count(_LINE_MARK) > 1 else "\n"


def _strip_tags_crudely(html: str) -> str:
    """Last-resort fallback: drop anything tag-shaped, then decode entities once."""
    return unescape(re.sub(r"<[^>]*>", " ", html))
