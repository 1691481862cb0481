"""Headline-style title case for MLA and Chicago titles (CMOS 17 §8.159-8.161; MLA 9 alike).

Rules, from docs/design/citations.md: capitalise the first and last words and the first
word after a colon; lowercase articles, coordinating conjunctions and prepositions of any
length (and "to", "as"); capitalise every part of a hyphenated compound, except small words
inside it and the word after a prefix that cannot stand alone ("Anti-inflammatory");
keep words already in capitals or mixed case (NIH, HIV, COVID-19, mRNA, iPhone).
"""

from __future__ import annotations

import re

ARTICLES = frozenset({"a", "an", "the"})
CONJUNCTIONS = frozenset({"and", "but", "for", "nor", "or", "so", "yet"})
# Prepositions that headlines use as prepositions. "up", "down", "out" and "off" are left
# out on purpose: in headlines they are mostly adverbs ("Cracks Down", "Follow-Up"),
# which CMOS §8.159 capitalises.
PREPOSITIONS = frozenset(
    {
        "about", "above", "across", "after", "against", "along", "amid", "amidst", "among",
        "amongst", "around", "as", "at", "atop", "before", "behind", "below", "beneath",
        "beside", "besides", "between", "beyond", "by", "concerning", "despite", "during",
        "except", "from", "in", "inside", "into", "near", "of", "on", "onto", "opposite",
        "outside", "over", "past", "per", "regarding", "since", "through", "throughout",
        "till", "to", "toward", "towards", "under", "underneath", "unlike", "until", "unto",
        "upon", "versus", "via", "vs", "vs.", "with", "within", "without",
    }
)  # fmt: skip
SMALL_WORDS = ARTICLES | CONJUNCTIONS | PREPOSITIONS
# Prefixes that cannot stand alone: the element after them keeps its own case (§8.161).
PREFIXES = frozenset(
    {
        "anti", "bi", "co", "de", "extra", "infra", "inter", "intra", "macro", "micro",
        "mid", "multi", "neo", "non", "post", "pre", "pro", "pseudo", "re", "semi", "sub",
        "super", "trans", "tri", "ultra", "un",
    }
)  # fmt: skip

_TOKEN = re.compile(r"\S+")
_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)  # leading punctuation, word, trailing
_STARTS_SUBTITLE = (":", "?", "!")


def title_case(text: str) -> str:
    """`text` in headline style; spacing and punctuation are kept exactly."""
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return text
    last = len(tokens) - 1
    out: list[str] = []
    position = 0
    after_colon = False
    for index, match in enumerate(tokens):
        out.append(text[position : match.start()])
        token = match.group()
        force = index == 0 or index == last or after_colon
        out.append(_case_token(token, force=force, is_last=index == last))
        after_colon = token.endswith(_STARTS_SUBTITLE) or token in ("—", "–")
        position = match.end()
    out.append(text[position:])
    return "".join(out)


def _case_token(token: str, *, force: bool, is_last: bool) -> str:
    """One whitespace-delimited token, which may be a hyphenated compound."""
    match = _CORE.match(token)
    if match is None:  # pragma: no cover - the pattern matches every string
        return token
    lead, word, trail = match.groups()
    if not word:
        return token
    parts = word.split("-")
    cased: list[str] = []
    for i, part in enumerate(parts):
        if i == 0:
            cased.append(_case_word(part, capitalise=force or not _is_small(part)))
        elif parts[i - 1].lower() in PREFIXES:
            cased.append(part)
        else:
            last_part = is_last and i == len(parts) - 1
            cased.append(_case_word(part, capitalise=last_part or not _is_small(part)))
    return lead + "-".join(cased) + trail


def _is_small(word: str) -> bool:
    return word.lower() in SMALL_WORDS


def _case_word(word: str, *, capitalise: bool) -> str:
    if not word or _keeps_its_case(word):
        return word
    if not capitalise:
        return word.lower()
    return _capitalise_first_letter(word)


def _keeps_its_case(word: str) -> bool:
    """All capitals (NIH, HIV, and the "A" of "Hepatitis A") or a capital after the first
    letter (mRNA, iPhone, McNeil)."""
    letters = [ch for ch in word if ch.isalpha()]
    if letters and all(ch.isupper() for ch in letters) and (len(letters) > 1 or len(word) == 1):
        return True
    return any(ch.isupper() for ch in letters[1:])


def _capitalise_first_letter(word: str) -> str:
    """Upper-case the word's first character when it is a letter ("19th" stays)."""
    first = word[0]
    upper = first.upper()
    if not first.isalpha() or len(upper) != 1:  # "ß".upper() is "SS": leave it
        return word
    return upper + word[1:]
