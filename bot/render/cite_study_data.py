"""What every citation style needs from a study (a journal article), gathered once: clean
names, the title in the cases the styles want, the journal, volume, issue, pages, date,
identifiers and the citation key; and the name and page-range forms the styles share.

Every text field is cleaned (one line, no control characters), so a hostile or half-empty
record from Crossref or PubMed renders as sensible text and never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.models import Study, StudyAuthor
from bot.render.authors import clean
from bot.render.cite_data import _ascii_words, _key_title_word
from bot.render.cite_study_case import apa_sentence_case, base_title

_DASHES = re.compile(r"\s*[-‐‑‒–—]+\s*")
_INITIAL_SPLIT = re.compile(r"[\s.]+")


@dataclass(frozen=True, slots=True)
class Person:
    """One author, cleaned: a person's family and given names, or a group's name."""

    family: str
    given: str
    literal: str

    @property
    def is_group(self) -> bool:
        return bool(self.literal)


@dataclass(frozen=True, slots=True)
class StudyData:
    """One study as the styles see it; every text field is clean."""

    authors: tuple[Person, ...]
    title: str  # as the source wrote it, for the machine formats ("" when untitled)
    headline_base: str  # what MLA and Chicago put in headline style, final period dropped
    sentence_title: str  # APA's sentence case (cite_study_case.py)
    journal: str
    journal_short: str  # the journal's abbreviation ("J. Neurosci."), for RIS and CSL-JSON
    volume: str
    issue: str
    pages: str  # as CSL writes it, e.g. "5038-5043"
    issued: tuple[int, ...]  # (year,), (year, month) or (year, month, day); () undated
    doi: str
    pmid: str
    pmcid: str
    url: str  # the DOI's URL, else the article's ("" when neither)
    key: str

    @property
    def year(self) -> str:
        return str(self.issued[0]) if self.issued else ""


def study_data(study: Study, *, key: str = "") -> StudyData:
    """Gather a study's citation fields; `key` overrides the citation key."""
    authors = tuple(person for a in study.authors if (person := _person(a)) is not None)
    doi = clean(study.doi)
    issued = _issued(study.issued)
    data = StudyData(
        authors=authors,
        title=clean(study.title) or clean(study.pubmed_title),
        headline_base=base_title(study),
        sentence_title=apa_sentence_case(study),
        journal=clean(study.journal),
        journal_short=clean(study.journal_short),
        volume=clean(study.volume),
        issue=clean(study.issue),
        pages=clean(study.pages),
        issued=issued,
        doi=doi,
        pmid=clean(study.pmid),
        pmcid=clean(study.pmcid),
        url=f"https://doi.org/{doi}" if doi else clean(study.url),
        key="",
    )
    return replace(data, key=clean(key) or study_key(data))


def _person(author: StudyAuthor) -> Person | None:
    literal = clean(author.literal)
    family, given = clean(author.family), clean(author.given)
    if literal:
        return Person("", "", literal)
    if not family and not given:
        return None
    if not family:  # a single name given as "given" (CSL allows it): cite it as written
        return Person("", "", given)
    return Person(family, given, "")


def _issued(parts: tuple[int, ...]) -> tuple[int, ...]:
    """Date-parts that make a real date; a bad month or day is dropped with what follows."""
    if not parts or not 0 < parts[0] < 10000:
        return ()
    year = parts[0]
    if len(parts) < 2 or not 1 <= parts[1] <= 12:
        return (year,)
    if len(parts) < 3 or not 1 <= parts[2] <= 31:
        return (year, parts[1])
    return (year, parts[1], parts[2])


def study_key(data: StudyData) -> str:
    """A BibTeX key such as "young2014nipping": the first author's family name (a group's
    first word; "anon" with none), the year or "nd", the first significant title word."""
    name = ""
    if data.authors:
        first = data.authors[0]
        source = first.family or first.literal.split(" ")[0]
        name = "".join(_ascii_words(source))
    return (name or "anon") + (data.year or "nd") + _key_title_word(data.title)


# --- names -----------------------------------------------------------------------------


def initials(given: str) -> str:
    """APA's initials, spaced: "Kimberly A." -> "K. A.", "David C.S." -> "D. C. S.",
    "Jean-Paul" -> "J.-P." (APA 7 §9.8: a hyphen is kept between initials)."""
    out: list[str] = []
    for token in _INITIAL_SPLIT.split(given):
        parts = [_first_letter(part) for part in token.split("-")]
        letters = [f"{letter}." for letter in parts if letter]
        if letters:
            out.append("-".join(letters))
    return " ".join(out)


def _first_letter(part: str) -> str:
    for char in part:
        if char.isalnum():
            return char.upper() if len(char.upper()) == 1 else char
    return ""


def apa_name(person: Person) -> str:
    """ "Young, K. A."; a group as written; a family name alone when no given name."""
    if person.is_group:
        return person.literal
    given = initials(person.given)
    return f"{person.family}, {given}" if given else person.family


def inverted_name(person: Person) -> str:
    """ "Young, Kimberly A." (MLA, Chicago bibliography, BibTeX, RIS)."""
    if person.is_group:
        return person.literal
    return f"{person.family}, {person.given}" if person.given else person.family


def natural_name(person: Person) -> str:
    """ "Kimberly A. Young" (Chicago's notes, and every name after the first)."""
    if person.is_group:
        return person.literal
    return f"{person.given} {person.family}" if person.given else person.family


def series(names: list[str], *, conjunction: str = "and", serial_comma: bool = True) -> str:
    """ "A", "A and B", "A, B, and C" (with the serial comma the manuals use)."""
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2:
        return f"{names[0]} {conjunction} {names[1]}"
    comma = "," if serial_comma else ""
    return f"{', '.join(names[:-1])}{comma} {conjunction} {names[-1]}"


# --- pages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pages:
    """A page range split into first and last page ("" when a single page), or an article
    number ("e12345", which the styles print in the pages' place with a word of their own)."""

    first: str
    last: str
    article_number: bool

    @property
    def is_range(self) -> bool:
        return bool(self.last)


def parse_pages(pages: str) -> Pages | None:
    """CSL's "5038-5043", "5038", "e12345" or "S1-S10"; anything odder is one "first"
    page as written (a list like "5038-43, 5050" is kept whole)."""
    if not pages:
        return None
    parts = _DASHES.split(pages)
    if len(parts) == 2 and all(parts) and "," not in pages:
        return Pages(parts[0], parts[1], article_number=False)
    is_number = bool(re.fullmatch(r"[A-Za-z]+\d+(?:\.\d+)*", pages))
    return Pages(pages, "", article_number=is_number and not pages[:1].isdigit())


def full_range(pages: Pages) -> str:
    """ "5038–5043" (APA: the range in full, an en dash)."""
    return f"{pages.first}–{pages.last}" if pages.is_range else pages.first


def mla_range(pages: Pages) -> str:
    """MLA's inclusive numbers (MLA Handbook, 9th ed., ch. 2, "Inclusive Numbers"; 8th ed.
    §2.5.2): the second number in full through 99, otherwise its last two digits unless
    more are needed: 21–48, 89–104, 103–04, 395–401, 1003–05, 1608–774, 5038–43."""
    if not pages.is_range:
        return pages.first
    first, last = pages.first, pages.last
    if not (first.isdigit() and last.isdigit()) or int(first) < 100 or int(last) <= int(first):
        return f"{first}–{last}"
    return f"{first}–{_minimal(first, last, at_least=2)}"


def chicago_range(pages: Pages) -> str:
    """CMOS 17 §9.61 inclusive numbers: under 100 or a multiple of 100, in full (71–72,
    100–104, 1100–1113); 101–109 in a hundred, the changed part only (101–8, 1103–4);
    110–199 in a hundred, two digits or more as needed (321–28, 498–532, 1087–89,
    1496–500, 5038–43, 11564–615, 12991–3001)."""
    if not pages.is_range:
        return pages.first
    first, last = pages.first, pages.last
    if not (first.isdigit() and last.isdigit()) or int(last) <= int(first):
        return f"{first}–{last}"
    start = int(first)
    if start < 100 or start % 100 == 0:
        return f"{first}–{last}"
    at_least = 1 if start % 100 < 10 else 2
    return f"{first}–{_minimal(first, last, at_least=at_least)}"


def _minimal(first: str, last: str, *, at_least: int) -> str:
    """The last number's changed digits, never fewer than `at_least`."""
    if len(first) != len(last):
        return last
    same = 0
    while same < len(last) and first[same] == last[same]:
        same += 1
    keep = max(len(last) - same, at_least)
    return last[-keep:] if keep < len(last) else last


def journal_without_the(journal: str) -> str:
    """Chicago drops an initial "The" of a journal's name (design/citations.md's golden
    entries: "*Journal of Neuroscience*")."""
    if journal[:4].lower() == "the " and len(journal) > 4:
        return journal[4:]
    return journal
