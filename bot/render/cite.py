"""Citations of a release in ten styles, as plain text or Telegram HTML.

The public entry point is `render_citation`; design/citations.md holds the reference
rendering of every style, which tests/test_cite.py checks character for character.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from bot.errors import NotFoundError
from bot.models import Publisher, Release, Study
from bot.render import cite_machine, cite_prose, cite_study_machine, cite_study_prose
from bot.render.cite_data import CitationData, citation_data, citation_key
from bot.render.cite_prose import Piece
from bot.render.cite_study_data import StudyData, study_data
from bot.render.telegram_html import Html, escape, italic, pre

__all__ = [
    "STYLES",
    "STYLE_ALIASES",
    "STYLE_BUTTONS",
    "STYLE_LABELS",
    "STYLE_ROWS",
    "citation_key",
    "is_machine",
    "render_citation",
    "render_study_citation",
]


@dataclass(frozen=True, slots=True)
class _Style:
    """A citation style: everything the bot says or does about it, in one row."""

    name: str  # as the config, `cite --style` and the buttons' data spell it
    label: str  # in a citation's header and `cite --list-styles`
    button: str  # on its inline button: short, so a row of three fits a phone
    row: int  # the keyboard row its button sits in
    prose: Callable[[CitationData], list[Piece]] | None = None  # a style people read
    machine: Callable[[CitationData], str] | None = None  # a reference manager's format
    aliases: tuple[str, ...] = ()  # other names readers type after /cite
    # The same style for the study behind a release, cited as a journal article.
    study_prose: Callable[[StudyData], list[Piece]] | None = None
    study_machine: Callable[[StudyData], str] | None = None


_TABLE = (
    _Style(
        "apa", "APA 7", "APA 7", 0, prose=cite_prose.apa7, aliases=("apa7",),
        study_prose=cite_study_prose.apa7,
    ),
    _Style("apa6", "APA 6", "APA 6", 0, prose=cite_prose.apa6, study_prose=cite_study_prose.apa6),
    _Style(
        "mla", "MLA 9", "MLA 9", 0, prose=cite_prose.mla, aliases=("mla9",),
        study_prose=cite_study_prose.mla,
    ),
    _Style(
        "chicago", "Chicago 17 (bibliography)", "Chicago", 1,
        prose=cite_prose.chicago_bibliography, aliases=("chicago-bibliography",),
        study_prose=cite_study_prose.chicago_bibliography,
    ),
    _Style(
        "chicago-note", "Chicago 17 (note)", "Chicago note", 1,
        prose=cite_prose.chicago_note, aliases=("chicago-notes",),
        study_prose=cite_study_prose.chicago_note,
    ),
    _Style(
        "chicago-author-date", "Chicago 17 (author-date)", "Chicago A-D", 1,
        prose=cite_prose.chicago_author_date, aliases=("chicago-ad",),
        study_prose=cite_study_prose.chicago_author_date,
    ),
    _Style(
        "bibtex", "BibTeX", "BibTeX", 2, machine=cite_machine.bibtex,
        study_machine=cite_study_machine.bibtex,
    ),
    _Style(
        "biblatex", "biblatex", "biblatex", 2, machine=cite_machine.biblatex,
        study_machine=cite_study_machine.biblatex,
    ),
    _Style("ris", "RIS", "RIS", 2, machine=cite_machine.ris, study_machine=cite_study_machine.ris),
    _Style(
        "csl-json", "CSL-JSON", "CSL-JSON", 2,
        machine=cite_machine.csl_json, aliases=("csl", "csljson"),
        study_machine=cite_study_machine.csl_json,
    ),
)  # fmt: skip
_BY_NAME = {style.name: style for style in _TABLE}

STYLES: tuple[str, ...] = tuple(_BY_NAME)
STYLE_LABELS: dict[str, str] = {style.name: style.label for style in _TABLE}
STYLE_BUTTONS: dict[str, str] = {style.name: style.button for style in _TABLE}
STYLE_ROWS: tuple[tuple[str, ...], ...] = tuple(
    tuple(style.name for style in _TABLE if style.row == row)
    for row in sorted({style.row for style in _TABLE})
)
STYLE_ALIASES: dict[str, str] = {alias: style.name for style in _TABLE for alias in style.aliases}


def is_machine(style: str) -> bool:
    """A reference manager's format (BibTeX, RIS ...), shown as code, not as prose."""
    found = _BY_NAME.get(style)
    return found is not None and found.machine is not None


def render_citation(
    release: Release,
    publisher: Publisher,
    style: str,
    *,
    accessed: date,
    html: bool = False,
    key: str = "",
) -> str:
    """`release` cited in `style` (one of STYLES); `accessed` is today's date, used where
    the style records when a page was read; `key` is the stored release's citation key
    (`StoredRelease.cite_key`; the base key when ""). With `html`, Telegram HTML: `<i>`
    where the style italicises, machine formats inside `<pre>`, every field escaped.

    Raises NotFoundError for an unknown style.
    """
    found = _BY_NAME.get(style)
    if found is not None and found.prose is not None:
        pieces = found.prose(citation_data(release, publisher, accessed, key=key))
        return _pieces_html(pieces) if html else "".join(text for text, _ in pieces)
    if found is not None and found.machine is not None:
        text = found.machine(citation_data(release, publisher, accessed, key=key))
        return pre(text) if html else text
    raise NotFoundError(f"unknown citation style {style!r}; use one of: {', '.join(STYLES)}")


def render_study_citation(study: Study, style: str, *, html: bool = False, key: str = "") -> str:
    """The study behind a release cited as a journal article in `style` (one of STYLES,
    the same names as for releases); `key` overrides the citation key ("young2014nipping"
    by default). With `html`, Telegram HTML as `render_citation` gives it.

    Raises NotFoundError for an unknown style.
    """
    found = _BY_NAME.get(style)
    if found is not None and found.study_prose is not None:
        pieces = found.study_prose(study_data(study, key=key))
        return _pieces_html(pieces) if html else "".join(text for text, _ in pieces)
    if found is not None and found.study_machine is not None:
        text = found.study_machine(study_data(study, key=key))
        return pre(text) if html else text
    raise NotFoundError(f"unknown citation style {style!r}; use one of: {', '.join(STYLES)}")


def _pieces_html(pieces: list[Piece]) -> Html:
    return Html("".join(italic(text) if is_italic else escape(text) for text, is_italic in pieces))
