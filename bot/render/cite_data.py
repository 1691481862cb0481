"""What every citation style needs from a release, gathered once: names, title, dates, URL, key.

Also the small text helpers the styles share (MLA's month abbreviations, terminal
punctuation, quotes).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from bot.feeds.dates import calendar_date
from bot.models import Publisher, Release
from bot.render.authors import citation_author, citation_site, clean

GENRE = "Press release"

# MLA 9 appendix 1: months longer than four letters are abbreviated, September as "Sept."
MLA_MONTHS = (
    "Jan.", "Feb.", "Mar.", "Apr.", "May", "June",
    "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.",
)  # fmt: skip

# Words skipped when picking the citation key's title word: English articles and
# prepositions, and the articles of the Romance languages our feeds publish in.
_KEY_SKIP = frozenset(
    {
        "a", "an", "the", "about", "above", "across", "after", "against", "along", "among",
        "around", "as", "at", "before", "behind", "below", "between", "beyond", "by",
        "during", "for", "from", "in", "into", "of", "off", "on", "onto", "over", "per",
        "since", "through", "to", "toward", "towards", "under", "until", "upon", "via",
        "with", "within", "without",
        "el", "la", "los", "las", "lo", "un", "una", "unos", "unas", "le", "les", "l",
        "une", "des", "o", "os", "um", "uma", "il", "gli", "i",
    }
)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")
_TERMINAL = ("?", "!")
_CLOSING_QUOTES = "’”'\""


@dataclass(frozen=True, slots=True)
class CitationData:
    """One release as the styles see it; every text field is clean (one line, no controls)."""

    author: str
    site: str  # the site's name; equal to `author` when the organisation is both
    title: str  # as the publisher wrote it ("" when untitled)
    issued: date | None  # the publisher's own calendar date
    url: str  # "" when none
    accessed: date
    key: str
    language: str

    @property
    def site_differs(self) -> bool:
        return self.site.casefold() != self.author.casefold()


def citation_data(
    release: Release, publisher: Publisher, accessed: date, *, key: str = ""
) -> CitationData:
    """Gather a release's citation fields; `key` is the stored release's unique citation key
    (the base key `citation_key` gives when there is none, as for a release not stored)."""
    return CitationData(
        author=citation_author(release, publisher),
        site=citation_site(release, publisher),
        title=clean(release.title),
        issued=issued_date(release),
        url=clean(release.url or release.link),
        accessed=accessed,
        key=key or citation_key(release, publisher),
        language=clean(release.language).lower(),
    )


def issued_date(release: Release) -> date | None:
    """Published, else updated, as a calendar date in the publisher's own offset."""
    value = release.published if release.published is not None else release.updated
    return None if value is None else calendar_date(value)


def citation_key(release: Release, publisher: Publisher) -> str:
    """A BibTeX-style key such as "nida2014medication": short name (or the first word of
    the author), year or "nd", first significant title word; lowercase ASCII."""
    issued = issued_date(release)
    year = str(issued.year) if issued else "nd"
    return _key_name(release, publisher) + year + _key_title_word(release.title)


def key_with_suffix(base: str, index: int) -> str:
    """The `index`-th key of a base: base itself, then base + "a" ... "z", "aa", "ab" ...
    (bijective base 26, as BibTeX styles suffix same-author same-year entries)."""
    suffix = ""
    while index > 0:
        index, digit = divmod(index - 1, 26)
        suffix = chr(ord("a") + digit) + suffix
    return base + suffix


def _key_name(release: Release, publisher: Publisher) -> str:
    name = "".join(_ascii_words(publisher.short_name))
    if not name:
        first_word = citation_author(release, publisher).split(" ")[0]
        name = "".join(_ascii_words(first_word.removeprefix("www.")))
    return name or "anon"


def _key_title_word(title: str) -> str:
    for word in _ascii_words(title):
        if word not in _KEY_SKIP:
            return word
    return ""


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _WORD.findall(folded.lower().replace("'", "").replace("’", ""))


def with_terminal(text: str, mark: str, *, after_question: bool = False) -> str:
    """`text` followed by `mark` ("." or ","), as the manuals punctuate element ends.

    A closing `?` or `!` replaces the mark (CMOS 17 §6.119 and MLA 9: no "Why?."), except
    that with `after_question` a comma is kept after it, as CMOS 17 §6.119 keeps it after a
    title in a source citation ("Why?,"); a final period is not doubled; the mark goes inside
    closing quotation marks, American style (CMOS 17 §6.9): `‘Gray Death.’`.
    """
    core = text.rstrip(_CLOSING_QUOTES)
    tail = text[len(core) :]
    if not core:
        return text
    if core.endswith(_TERMINAL) and not (after_question and mark == ","):
        return text
    if mark == "." and core.endswith((".", "…")):
        return text
    return core + mark + tail


def is_english(data: CitationData) -> bool:
    """English or unknown: only English titles get headline-style capitals; other languages
    keep sentence style as written (CMOS 17 ch. 11, titles in other languages; MLA 9
    ch. 2, likewise)."""
    return data.language == "" or data.language.startswith("en")


def accessed_problem(release: Release, accessed: date) -> str:
    """Why `accessed` cannot be the release's access date ("" when it can): a page is
    not read before the publisher's own date for it."""
    issued = issued_date(release)
    if issued is None or accessed >= issued:
        return ""
    return (
        f"that is before the release's date, {issued.isoformat()}:"
        " give the day you read it, on or after that date"
    )
