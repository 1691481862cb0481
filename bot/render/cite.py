"""Citations of a release in ten styles, as plain text or Telegram HTML.

The public entry point is `render_citation`; design/citations.md holds the reference
rendering of every style, which tests/test_cite.py checks character for character.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bot.errors import NotFoundError
from bot.models import Publisher, Release
from bot.render import cite_machine, cite_prose
from bot.render.cite_data import CitationData, citation_data, citation_key
from bot.render.cite_prose import Piece
from bot.render.telegram_html import Html, escape, italic, pre

__all__ = ["STYLES", "STYLE_LABELS", "citation_key", "render_citation"]

STYLES: tuple[str, ...] = (
    "apa",
    "apa6",
    "mla",
    "chicago",
    "chicago-note",
    "chicago-author-date",
    "bibtex",
    "biblatex",
    "ris",
    "csl-json",
)

STYLE_LABELS: dict[str, str] = {
    "apa": "APA 7",
    "apa6": "APA 6",
    "mla": "MLA 9",
    "chicago": "Chicago 17 (bibliography)",
    "chicago-note": "Chicago 17 (note)",
    "chicago-author-date": "Chicago 17 (author-date)",
    "bibtex": "BibTeX",
    "biblatex": "biblatex",
    "ris": "RIS",
    "csl-json": "CSL-JSON",
}

_PROSE: dict[str, Callable[[CitationData], list[Piece]]] = {
    "apa": cite_prose.apa7,
    "apa6": cite_prose.apa6,
    "mla": cite_prose.mla,
    "chicago": cite_prose.chicago_bibliography,
    "chicago-note": cite_prose.chicago_note,
    "chicago-author-date": cite_prose.chicago_author_date,
}

_MACHINE: dict[str, Callable[[CitationData], str]] = {
    "bibtex": cite_machine.bibtex,
    "biblatex": cite_machine.biblatex,
    "ris": cite_machine.ris,
    "csl-json": cite_machine.csl_json,
}


def render_citation(
    release: Release,
    publisher: Publisher,
    style: str,
    *,
    accessed: date,
    html: bool = False,
) -> str:
    """`release` cited in `style` (one of STYLES); `accessed` is today's date, used where
    the style records when a page was read. With `html`, Telegram HTML: `<i>` where the
    style italicises, machine formats inside `<pre>`, every field escaped.

    Raises NotFoundError for an unknown style.
    """
    if style in _PROSE:
        pieces = _PROSE[style](citation_data(release, publisher, accessed))
        return _pieces_html(pieces) if html else "".join(text for text, _ in pieces)
    if style in _MACHINE:
        text = _MACHINE[style](citation_data(release, publisher, accessed))
        return pre(text) if html else text
    raise NotFoundError(f"unknown citation style {style!r}; use one of: {', '.join(STYLES)}")


def _pieces_html(pieces: list[Piece]) -> Html:
    return Html("".join(italic(text) if is_italic else escape(text) for text, is_italic in pieces))
