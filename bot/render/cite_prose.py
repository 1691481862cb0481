"""The reference styles people read: APA 7 and 6, MLA 9, Chicago 17 (bibliography, note,
author-date), each as a list of pieces of text marked italic or not.

The golden cases in tests/test_cite.py pin every choice below to a manual section.
"""

from __future__ import annotations

from datetime import date

from bot.feeds.dates import MONTHS
from bot.render.cite_data import (
    GENRE,
    MLA_MONTHS,
    CitationData,
    is_english,
    with_terminal,
)
from bot.render.title_text import requote, without_final_period
from bot.render.titlecase import title_case

Piece = tuple[str, bool]  # (text, italic)


class _Pieces:
    """Citation text under construction, as runs of plain and italic text."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []

    def add(self, text: str, *, italic: bool = False) -> None:
        if text:
            self.pieces.append((text, italic))

    def end(self, mark: str) -> None:
        """Close the last element with `mark`, by the manuals' punctuation rules."""
        text, italic = self.pieces[-1]
        ended = with_terminal(text, mark)
        if ended == text:
            return
        if italic:  # punctuation after italics stays roman
            self.add(mark)
        else:
            self.pieces[-1] = (ended, False)


def long_date(day: date) -> str:
    """ "April 3, 2014"."""
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _apa_title(data: CitationData) -> str:
    """The title as written, with typographic quotation marks (issue 11: as citeproc-js)."""
    return requote(without_final_period(data.title), depth=0)


def _quoted_headline(data: CitationData) -> str:
    """The title in headline style inside quotation marks, its own quotations made single
    (CMOS 17 §14.94; MLA 9 likewise)."""
    title = without_final_period(data.title)
    headline = title_case(title) if is_english(data) else title
    return f"“{requote(headline, depth=1)}”"


def apa7(data: CitationData) -> list[Piece]:
    """APA 7 §10.4 (press release), §9.11 (group author), §9.16-9.17 (retrieval date, n.d.)."""
    out = _Pieces()
    out.add(with_terminal(data.author, ".") + " ")
    out.add(f"({_apa_date(data.issued)}). ")
    if data.title:
        out.add(_apa_title(data), italic=True)
        out.add(f" [{GENRE}].")
    else:
        out.add(f"[{GENRE}].")  # §9.19: an untitled work is described in brackets
    if data.site_differs:  # §10.16: the site is omitted when it is the author
        out.add(" " + with_terminal(data.site, "."))
    if data.url and data.issued is None:
        out.add(f" Retrieved {long_date(data.accessed)}, from {data.url}")
    elif data.url:
        out.add(" " + data.url)
    return out.pieces


def apa6(data: CitationData) -> list[Piece]:
    """APA 6: the title roman, then "Retrieved from URL" (§6.32; dated when the page is)."""
    out = _Pieces()
    out.add(with_terminal(data.author, ".") + " ")
    out.add(f"({_apa_date(data.issued)}). ")
    out.add(f"{_apa_title(data)} [{GENRE}]." if data.title else f"[{GENRE}].")
    if data.url and data.issued is None:
        out.add(f" Retrieved {long_date(data.accessed)}, from {data.url}")
    elif data.url:
        out.add(f" Retrieved from {data.url}")
    return out.pieces


def _apa_date(issued: date | None) -> str:
    if issued is None:
        return "n.d."
    return f"{issued.year}, {MONTHS[issued.month - 1]} {issued.day}"


def mla(data: CitationData) -> list[Piece]:
    """MLA 9 (ch. 5): an organisation that is author and publisher is named once, as the
    site, and the entry starts with the title; the URL without its scheme; "Press release"
    as a closing description; an "Accessed" date only for an undated page, at the end."""
    out = _Pieces()
    if data.site_differs:
        out.add(with_terminal(data.author, ".") + " ")
    if data.title:
        out.add(with_terminal(_quoted_headline(data), ".") + " ")
    else:
        out.add(f"{GENRE}. ")  # an untitled work is described in the title's place
    out.add(data.site, italic=True)
    rest = [_mla_date(data.issued), _without_scheme(data.url)]
    if located := [part for part in rest if part]:
        out.end(",")
        out.add(" " + ", ".join(located))
    out.end(".")
    if data.title:
        out.add(f" {GENRE}.")
    if data.url and data.issued is None:
        out.add(f" Accessed {_mla_day(data.accessed)}.")
    return out.pieces


def _mla_date(issued: date | None) -> str:
    return _mla_day(issued) if issued else ""


def _mla_day(day: date) -> str:
    return f"{day.day} {MLA_MONTHS[day.month - 1]} {day.year}"


def _without_scheme(url: str) -> str:
    for scheme in ("https://", "http://"):
        if url.lower().startswith(scheme):
            return url[len(scheme) :]
    return url


def chicago_bibliography(data: CitationData) -> list[Piece]:
    """CMOS 17 notes-bibliography entry: elements closed by periods (§14.21, §14.206)."""
    elements = [data.author, *_chicago_title_and_site(data), GENRE, _chicago_date(data)]
    elements.append(data.url)
    return [(" ".join(with_terminal(part, ".") for part in elements if part), False)]


def chicago_note(data: CitationData) -> list[Piece]:
    """CMOS 17 full note: the same elements joined by commas, lowercase "press release"
    (§14.20), ending with a period. A title ending in ? or ! keeps the comma after it
    (CMOS 17 §6.119: "…Patterns?,” press release"), as the CSL Chicago styles print it."""
    titles = [part for part in _chicago_title_and_site(data) if part]
    elements = [data.author, *titles, GENRE.lower()]
    elements += [_chicago_date(data, capital=False), data.url]
    present = [part for part in elements if part]
    text = " ".join(
        with_terminal(part, ",", after_question=part in titles) for part in present[:-1]
    )
    return [(f"{text} {with_terminal(present[-1], '.')}", False)]


def chicago_author_date(data: CitationData) -> list[Piece]:
    """CMOS 17 author-date reference (ch. 15): year after the author ("n.d." when undated),
    the full date again after the description (the 17th edition repeats the year with month
    and day, §15.14 and §15.49-15.50; the 18th drops it); undated online works add the
    access date."""
    issued = data.issued
    year = str(issued.year) if issued else "n.d."
    if issued:
        when = long_date(issued)
    else:
        when = f"Accessed {long_date(data.accessed)}" if data.url else ""
    elements = [data.author, year, *_chicago_title_and_site(data), GENRE, when, data.url]
    return [(" ".join(with_terminal(part, ".") for part in elements if part), False)]


def _chicago_title_and_site(data: CitationData) -> list[str]:
    title = _quoted_headline(data) if data.title else ""
    return [title, data.site if data.site_differs else ""]


def _chicago_date(data: CitationData, *, capital: bool = True) -> str:
    """The date; for an undated page the access date (§14.12), for an undated offline
    release "n.d."."""
    if data.issued:
        return long_date(data.issued)
    if data.url:
        return f"{'A' if capital else 'a'}ccessed {long_date(data.accessed)}"
    return "n.d."
