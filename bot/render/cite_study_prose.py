"""A study cited as a journal article in the styles people read: APA 7 and 6, MLA 9 and
Chicago 17 (bibliography, note, author-date), as pieces of text marked italic or not.

Golden strings: design/citations.md, "The study behind the release"; tests/test_cite_study.py
pins each rule below to its manual section.
"""

from __future__ import annotations

from bot.render.cite_data import with_terminal
from bot.render.cite_prose import Piece, _Pieces
from bot.render.cite_study_data import (
    Pages,
    StudyData,
    apa_name,
    chicago_range,
    full_range,
    inverted_name,
    journal_without_the,
    mla_range,
    natural_name,
    parse_pages,
    series,
)
from bot.render.title_text import requote
from bot.render.titlecase import title_case

UNTITLED = "Untitled article"


# --- APA ---------------------------------------------------------------------------------


def apa7(data: StudyData) -> list[Piece]:
    """APA 7 §10.1 (journal article): up to 20 authors, then the first 19, an ellipsis and
    the last (§9.8); initials spaced; the year, "n.d." when undated (§9.17); the title in
    sentence case (§6.17); journal and volume italic, issue roman in parentheses, the page
    range with an en dash or "Article" and its number (§9.25-9.29); the DOI as a URL (§9.34)."""
    return _apa(data, listed=20, doi=data.url, article="Article ")


def apa6(data: StudyData) -> list[Piece]:
    """APA 6 (Publication Manual, 6th ed., 2010): up to seven authors, then the first six,
    an ellipsis and the last (§6.27); the DOI in the manual's "doi:" form with no final
    period (§6.31-6.32, e.g. "doi:10.1037/0278-6133.24.2.225"); without a DOI, "Retrieved
    from" and the article's URL (§6.32); an article number bare where the pages go
    ("PLoS ONE, 5(1), e8753", as 6th-edition examples have it). The issue number is
    always given, as the APA 6 CSL style gives it (§6.30 asks for it only for journals
    paginated by issue, which metadata does not tell)."""
    retrieved = f"Retrieved from {data.url}" if data.url else ""
    return _apa(data, listed=7, doi=f"doi:{data.doi}" if data.doi else retrieved, article="")


def _apa(data: StudyData, *, listed: int, doi: str, article: str) -> list[Piece]:
    out = _Pieces()
    title = requote(data.sentence_title, depth=0) if data.sentence_title else ""
    date = f"({data.year or 'n.d.'})."
    authors = _apa_authors([apa_name(person) for person in data.authors], listed=listed)
    if authors:
        out.add(f"{with_terminal(authors, '.')} {date} ")
        out.add(with_terminal(title or f"[{UNTITLED}]", "."))
    else:  # §9.12: with no author the title moves to the author's place
        out.add(f"{with_terminal(title or f'[{UNTITLED}]', '.')} {date}")
    source = _apa_source(data, article=article)
    if source:
        out.add(" ")
        for text, italic in source:
            out.add(text, italic=italic)
        out.end(".")
    if doi:
        out.add(" " + doi)
    return out.pieces


def _apa_authors(names: list[str], *, listed: int) -> str:
    """ "A", "A, & B", "A, B, & C"; beyond `listed`, the first `listed - 1`, "…", the last
    (as citeproc-js prints APA's three spaced periods)."""
    if len(names) <= 1:
        return "".join(names)
    if len(names) <= listed:
        return f"{', '.join(names[:-1])}, & {names[-1]}"
    return f"{', '.join(names[: listed - 1])}, … {names[-1]}"


def _apa_source(data: StudyData, *, article: str) -> list[Piece]:
    source: list[Piece] = []
    if data.journal:
        source.append((data.journal, True))
    if data.volume:
        source += [(", ", False)] if source else []
        source.append((data.volume, True))
    if data.issue:
        source.append((f"({data.issue})" if data.volume else f", ({data.issue})", False))
    pages = parse_pages(data.pages)
    if pages is not None:
        text = article + pages.first if pages.article_number else full_range(pages)
        source.append((f", {text}" if source else text, False))
    if source and source[0][0].startswith(", "):
        source[0] = (source[0][0][2:], source[0][1])
    return source


# --- MLA ---------------------------------------------------------------------------------


def mla(data: StudyData) -> list[Piece]:
    """MLA 9 (Handbook, ch. 5, journal article): one author inverted; two as "A, and B";
    three or more as the first and "et al."; the title in quotation marks, headline style;
    the journal italic; vol., no., year, pp. with MLA's inclusive numbers; the DOI as a URL
    (preferred to the article's URL); a final period."""
    out = _Pieces()
    names = data.authors
    if len(names) == 1:
        out.add(with_terminal(inverted_name(names[0]), ".") + " ")
    elif len(names) == 2:
        out.add(f"{inverted_name(names[0])}, and {with_terminal(natural_name(names[1]), '.')} ")
    elif names:
        out.add(f"{inverted_name(names[0])}, et al. ")
    out.add(with_terminal(_quoted_headline(data), "."))
    if data.journal:
        out.add(" ")
        out.add(data.journal, italic=True)
    rest = [f"vol. {data.volume}" if data.volume else "", f"no. {data.issue}" if data.issue else ""]
    rest += [data.year, _mla_pages(parse_pages(data.pages)), _mla_location(data)]
    if located := [part for part in rest if part]:
        if data.journal:
            out.end(",")
        out.add(" " + ", ".join(located))
    out.end(".")
    return out.pieces


def _mla_pages(pages: Pages | None) -> str:
    if pages is None:
        return ""
    if pages.article_number:
        return f"article {pages.first}"
    return f"pp. {mla_range(pages)}" if pages.is_range else f"p. {pages.first}"


def _mla_location(data: StudyData) -> str:
    """The DOI as a URL; another URL without its scheme (as for releases)."""
    if data.doi:
        return data.url
    for scheme in ("https://", "http://"):
        if data.url.lower().startswith(scheme):
            return data.url[len(scheme) :]
    return data.url


def _quoted_headline(data: StudyData) -> str:
    """The title in headline style in quotation marks, its own quotations made single
    (CMOS 17 §8.159, §14.94; MLA 9 likewise); an untitled article is described."""
    if not data.headline_base:
        return UNTITLED
    return f"“{requote(title_case(data.headline_base), depth=1)}”"


# --- Chicago -----------------------------------------------------------------------------


def chicago_bibliography(data: StudyData) -> list[Piece]:
    """CMOS 17 journal article (ch. 14), bibliography entry: up to ten authors all listed,
    more than ten the first seven and "et al." (§14.76); the first inverted; the journal
    without its initial "The"; "34, no. 14 (2014): 5038–43" with CMOS's inclusive numbers
    (§9.61); the DOI as a URL; elements closed by periods."""
    out = _Pieces()
    if authors := _chicago_reference_authors(data):
        out.add(with_terminal(authors, ".") + " ")
    out.add(with_terminal(_quoted_headline(data), "."))
    _add_source(out, _chicago_source(data, author_date=False))
    if data.url:
        out.add(" " + with_terminal(data.url, "."))
    return out.pieces


def chicago_note(data: StudyData) -> list[Piece]:
    """CMOS 17 full note (§14.20): names in natural order, four or more authors as
    the first and "et al." (§14.76); elements joined by commas, a final period."""
    out = _Pieces()
    names = [natural_name(person) for person in data.authors]
    authors = f"{names[0]} et al." if len(names) >= 4 else series(names)
    if authors:
        out.add(with_terminal(authors, ",") + " ")
    title = _quoted_headline(data)
    out.add(title)
    source = _chicago_source(data, author_date=False)
    if source or data.url:  # a quoted title keeps its comma after ? or ! (CMOS 17 §6.119)
        out.pieces[-1] = (with_terminal(title, ",", after_question=title != UNTITLED), False)
    if source:
        out.add(" ")
        for text, italic in source:
            out.add(text, italic=italic)
    if data.url:
        if source:
            out.end(",")
        out.add(" " + data.url)
    out.end(".")
    return out.pieces


def chicago_author_date(data: StudyData) -> list[Piece]:
    """CMOS 17 author-date reference (ch. 15): authors as in the bibliography (up to ten;
    more, the first seven and "et al."), the year after them ("n.d." undated), the title,
    then "34 (14): 5038–43" and the DOI. With no author the title comes first and the
    year after it."""
    out = _Pieces()
    year = data.year + "." if data.year else "n.d."
    title = with_terminal(_quoted_headline(data), ".")
    if authors := _chicago_reference_authors(data):
        out.add(f"{with_terminal(authors, '.')} {year} {title}")
    else:
        out.add(f"{title} {year}")
    _add_source(out, _chicago_source(data, author_date=True))
    if data.url:
        out.add(" " + with_terminal(data.url, "."))
    return out.pieces


def _add_source(out: _Pieces, source: list[Piece]) -> None:
    """The source after a space, closed by a period; nothing when there is none."""
    if source:
        out.add(" ")
        for text, italic in source:
            out.add(text, italic=italic)
        out.end(".")


def _chicago_reference_authors(data: StudyData) -> str:
    """ "Young, Kimberly A., Teresa R. Franklin, …, and Anna Rose Childress": up to ten,
    more than ten the first seven and "et al." (CMOS 17 §14.76, and ch. 15 likewise)."""
    people = data.authors
    names = [inverted_name(people[0])] if people else []
    names += [natural_name(person) for person in people[1:]]
    if len(names) > 10:
        return f"{', '.join(names[:7])}, et al."
    if len(names) == 2:
        return f"{names[0]}, and {names[1]}"  # the comma after the inverted first name
    return series(names)


def _chicago_source(data: StudyData, *, author_date: bool) -> list[Piece]:
    """ "*Journal* 34, no. 14 (2014): 5038–43" (notes-bibliography) or "*Journal* 34 (14):
    5038–43" (author-date, the year being after the authors)."""
    journal = journal_without_the(data.journal)
    text = data.volume
    if data.issue and author_date:
        text = f"{text} ({data.issue})".strip()
    elif data.issue:
        text = f"{text}, no. {data.issue}" if text else f"no. {data.issue}"
    if not author_date:
        text = f"{text} ({data.year or 'n.d.'})".strip()
    pages = parse_pages(data.pages)
    if pages is not None:
        text = f"{text}: {chicago_range(pages)}" if text else chicago_range(pages)
    source: list[Piece] = [(journal, True)] if journal else []
    if text:
        source.append((f" {text}" if journal else text, False))
    return source
