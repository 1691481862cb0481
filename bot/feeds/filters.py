"""Keyword filters for a route: which releases a chat wants, by words and "quoted phrases".

A filter has an include list (at least one term must match; empty means every release
passes) and an exclude list (no term may match). Terms are matched on whole words over
the title, the summary and each category separately, after case folding and accent
stripping: the term "vaccine" matches "Vaccine", "VACCINE" and "vaccíne", but not
"vaccines" (words are whole; add the plural as a term of its own).

Words are runs of letters and digits; everything else (spaces, hyphens, apostrophes,
punctuation) is a boundary. So a hyphenated word matches its parts and a phrase matches
across punctuation: "fentanyl" matches "fentanyl-laced", the phrase "opioid use disorder"
matches "opioid-use disorder", and the term "covid-19" is the phrase "covid 19", matching
"COVID-19" and "Covid 19" alike. A phrase never matches across the boundary between the
title and the summary, or between two categories.

No regular expression is ever built from a user's text: text is cut into words with one
fixed pattern and terms are compared as word sequences, so a term from a chat costs the
same as any other and cannot stall the bot.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from bot.errors import FilterError

__all__ = [
    "MAX_TERMS",
    "MAX_TERM_LENGTH",
    "CompiledFilter",
    "RouteFilter",
    "compile_filter",
    "describe_filter",
    "fold_words",
    "format_terms",
    "parse_terms",
    "passes",
]

MAX_TERMS = 20
MAX_TERM_LENGTH = 100

# Straight quotes and the typographic ones phones type (“…”, and „…“ in German): any of
# them opens a phrase and any of them closes it.
_QUOTES = frozenset('"“”„')
# A word: letters and digits of any script (\w without the underscore). A fixed pattern.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class RouteFilter:
    """A route's keyword filter, terms as the user wrote them (for display)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every release through."""
        return not self.include and not self.exclude


@dataclass(frozen=True)
class CompiledFilter:
    """A filter's terms folded into word tuples, ready to check releases quickly."""

    include: tuple[tuple[str, ...], ...]
    exclude: tuple[tuple[str, ...], ...]


def fold_words(text: str) -> tuple[str, ...]:
    """The words of `text`, case-folded and without accents: "Opioid-Use Disorder" and
    "opioid use DISORDER" both give ("opioid", "use", "disorder")."""
    # Unicode's compatibility caseless match (D146): folding twice around NFKD catches
    # compatibility characters that decompose into capitals ("㎒" -> "MHz" -> "mhz").
    if text.isascii():
        return tuple(_WORD.findall(text.lower()))
    folded = _nfkd(_nfkd(_nfkd(text).casefold()).casefold())
    bare = "".join(char for char in folded if not unicodedata.combining(char))
    return tuple(_WORD.findall(bare))


def _nfkd(text: str) -> str:
    return unicodedata.normalize("NFKD", text)


def parse_terms(text: str) -> tuple[str, ...]:
    """The terms of `/filter feed include …`: words, or phrases in quotes.

    `vaccine "opioid use disorder" fentanyl` -> ("vaccine", "opioid use disorder",
    "fentanyl"). Terms keep the user's spelling with whitespace collapsed; a term repeated
    (in any case or accent) appears once. Raises FilterError on an unclosed quote, empty
    quotes, a term with no letter or digit, no term at all, more than MAX_TERMS terms, or a
    term longer than MAX_TERM_LENGTH characters.
    """
    terms: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for term in _split_terms(text):
        words = fold_words(term)
        if not words:
            raise FilterError(f"“{term}” has no letter or digit to match; use words.")
        if len(term) > MAX_TERM_LENGTH:
            raise FilterError(
                f"“{term[:30]}…” is {len(term)} characters long; "
                f"a term may have at most {MAX_TERM_LENGTH}."
            )
        if words not in seen:
            seen.add(words)
            terms.append(term)
    if not terms:
        raise FilterError('No words given: write words or "quoted phrases".')
    if len(terms) > MAX_TERMS:
        raise FilterError(f"{len(terms)} terms given; a filter may have at most {MAX_TERMS}.")
    return tuple(terms)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    phrase: list[str] | None = None  # inside quotes: the phrase so far
    for char in text:
        if phrase is not None:
            if char in _QUOTES:
                words = "".join(phrase).split()
                if not words:
                    raise FilterError("Empty quotes: put a phrase between them, or remove them.")
                terms.append(" ".join(words))
                phrase = None
            else:
                phrase.append(char)
        elif char in _QUOTES or char.isspace():
            if current:
                terms.append("".join(current))
                current = []
            if char in _QUOTES:
                phrase = []
        else:
            current.append(char)
    if phrase is not None:
        raise FilterError('A quote is not closed: end the phrase with ".')
    if current:
        terms.append("".join(current))
    return terms


def format_terms(terms: tuple[str, ...]) -> str:
    """Terms as one could type them again: phrases in straight quotes, words bare.

    parse_terms(format_terms(terms)) == terms for terms that parse_terms gave.
    """
    return " ".join(_quoted(term) for term in terms)


def describe_filter(flt: RouteFilter) -> str:
    """One line for /subs: `include: vaccine, "opioid use disorder"; exclude: mouse`."""
    if flt.is_empty:
        return "no filter"
    parts = [
        f"{label}: {', '.join(_quoted(term) for term in terms)}"
        for label, terms in (("include", flt.include), ("exclude", flt.exclude))
        if terms
    ]
    return "; ".join(parts)


def _quoted(term: str) -> str:
    return f'"{term}"' if any(char.isspace() for char in term) else term


@lru_cache(maxsize=4096)
def compile_filter(flt: RouteFilter) -> CompiledFilter:
    """`flt` with each term folded into its word tuple (cached: filters rarely change).

    A term with no word in it (never from parse_terms) is dropped: it could match nothing.
    """
    return CompiledFilter(
        include=tuple(words for words in map(fold_words, flt.include) if words),
        exclude=tuple(words for words in map(fold_words, flt.exclude) if words),
    )


def passes(flt: RouteFilter, *, title: str, summary: str, categories: tuple[str, ...]) -> bool:
    """True when a release with this title, summary and categories is owed to the route."""
    if flt.is_empty:
        return True
    compiled = compile_filter(flt)
    fields = [fold_words(title), fold_words(summary), *map(fold_words, categories)]
    if compiled.include and not _any_term_in(compiled.include, fields):
        return False
    return not _any_term_in(compiled.exclude, fields)


def _any_term_in(terms: tuple[tuple[str, ...], ...], fields: list[tuple[str, ...]]) -> bool:
    vocabulary = {word for field in fields for word in field}
    for term in terms:
        if len(term) == 1:
            if term[0] in vocabulary:
                return True
        elif all(word in vocabulary for word in term) and any(
            _contains_run(field, term) for field in fields
        ):
            return True
    return False


def _contains_run(words: tuple[str, ...], run: tuple[str, ...]) -> bool:
    size = len(run)
    first = run[0]
    start = 0
    last_start = len(words) - size
    while start <= last_start:
        try:
            start = words.index(first, start, last_start + 1)
        except ValueError:
            return False
        if words[start : start + size] == run:
            return True
        start += 1
    return False
