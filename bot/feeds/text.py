"""Turn feed HTML (or plain text) into clean plain text: no tags, entities decoded once.

The stdlib `html.parser` does the tokenising and `convert_charrefs` does every entity,
so "&amp;lt;b&amp;gt;" in a document becomes the literal text "<b>", never a tag.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

__all__ = ["collapse_whitespace", "html_to_text", "plain_text_paragraphs"]

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


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (newlines included) becomes one space; ends are trimmed."""
    return _SPACE_RUN.sub(" ", text).strip()


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
