"""A study's title in the cases the styles want: APA's sentence case, and the base that MLA
and Chicago put in headline style (bot/render/titlecase.py).

APA 7 §6.17 (and APA 6 §6.29) want an article title in sentence case: the first word, the
first word after a colon and proper nouns capitalised, everything else lowercase. Crossref
often gives the journal's title case ("Nipping Cue Reactivity in the Bud: Baclofen Prevents
..."); PubMed gives sentence case with a final period ("Nipping cue reactivity in the bud:
baclofen prevents ... cues."). So PubMed's title is preferred when we have it: its final
period dropped and the word after a colon capitalised. Without it, a title-case title is
converted only where that is safe (see `_sentence_case`).
"""

from __future__ import annotations

import re

from bot.models import Study
from bot.render.authors import clean
from bot.render.title_text import without_final_period

# A word: letters and digits joined by apostrophes ("Parkinson's"); hyphens split words.
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# After these a new sentence or subtitle starts, whose first word APA capitalises.
_SENTENCE_END = re.compile(r"[:?!]\s*$|[.]\s+$")
# Words a headline-style title leaves lowercase (CMOS 17 §8.159): their case tells nothing
# about the style the title is written in.
_MINOR = frozenset(
    {
        "a", "an", "the", "and", "but", "for", "nor", "or", "so", "yet", "as", "at", "by",
        "from", "in", "into", "of", "off", "on", "onto", "over", "per", "to", "up", "upon",
        "via", "vs", "with", "within", "without", "about", "among", "after", "before",
        "like", "than", "between", "through", "during", "versus", "is", "are", "be",
    }
)  # fmt: skip


def base_title(study: Study) -> str:
    """The title MLA and Chicago put in headline style: the source's (its capitals for
    proper nouns are the best we know), PubMed's when the source's is missing or all in
    capitals (headline style keeps capitals, so "NIPPING CUE" would stay shouting)."""
    source = clean(study.title)
    pubmed = _pubmed_title(study)
    if not source or (pubmed and _all_capitals(source)):
        source = pubmed
    return without_final_period(source)


def apa_sentence_case(study: Study) -> str:
    """The title in APA's sentence case, final period dropped (the style adds its own)."""
    pubmed = _pubmed_title(study)
    if pubmed:
        return _capitalise_sentence_starts(without_final_period(pubmed))
    source = without_final_period(clean(study.title))
    return _capitalise_sentence_starts(_sentence_case(source))


def _pubmed_title(study: Study) -> str:
    """PubMed's title; a title translated into English is bracketed there ("[Title].")."""
    title = clean(study.pubmed_title)
    if title.startswith("[") and title.rstrip(".").endswith("]") and title.count("[") == 1:
        title = title.rstrip(".")[1:-1]
    return title


def _sentence_case(title: str) -> str:
    """A headline-style title in sentence case, converting only what is safe.

    Only a title that is plainly in headline style (every significant word capitalised) is
    changed; one already in sentence case, or with no lowercase at all, is the source's own
    choice and is kept. In a headline-style title a word that is merely capitalised
    ("Cue", "Reactivity", "Baclofen") is lowercased; acronyms and other words in capitals
    ("NIDA", "COVID-19", "HIV"), words with a capital inside ("mRNA", "JNEUROSCI", "iPhone",
    "McNeil"), single capital letters ("vitamin D", not the article "A") and possessives
    ("Parkinson's", "Alzheimer’s": nearly always a person's name) keep their case.

    Proper nouns cannot be known from the text alone: "Baclofen" and "Boston" look the
    same, so a place or a person's name without a possessive is lowercased too ("boston").
    That is why PubMed's sentence-case title, written by people who know the nouns, is
    preferred whenever we have it; this conversion is only the fallback.
    """
    words = list(_WORD.finditer(title))
    if not _is_headline_style([match.group() for match in words]):
        return title
    out: list[str] = []
    position = 0
    for index, match in enumerate(words):
        out.append(title[position : match.start()])
        word = match.group()
        out.append(word if index == 0 else _lowered(word))
        position = match.end()
    out.append(title[position:])
    return "".join(out)


def _lowered(word: str) -> str:
    letters = [char for char in word if char.isalpha()]
    if not letters or not letters[0].isupper():
        return word
    if len(letters) == 1:
        return word.lower() if word == "A" else word  # "vitamin D" keeps its letter
    if any(char.isupper() for char in letters[1:]):
        return word  # an acronym or a capital inside: NIDA, mRNA, McNeil
    if word.endswith(("'s", "’s", "s'", "s’")):
        return word  # a possessive: almost always a name (Parkinson's disease)
    return word.lower()


def _is_headline_style(words: list[str]) -> bool:
    """Every significant word after the first starts with a capital (words whose case is
    fixed, like "iPhone" or "p53", tell nothing), and some word has a lowercase letter (a
    title in capitals throughout cannot be told from its acronyms)."""
    significant = [
        word
        for word in words[1:]
        if word.casefold() not in _MINOR
        and word[:1].isalpha()
        and not any(char.isupper() for char in word[1:])  # iPhone, mRNA: fixed case
    ]
    if not significant or not any(char.islower() for word in words for char in word):
        return False
    return all(not word[:1].islower() for word in significant)


def _all_capitals(title: str) -> bool:
    letters = [char for char in title if char.isalpha()]
    return len(letters) > 3 and all(char.isupper() for char in letters)


def _capitalise_sentence_starts(title: str) -> str:
    """The first word, and the first word after a colon or a sentence's end, capitalised
    (APA 7 §6.17), when it is a plain lowercase word: "mRNA" or "p53" stays."""
    out: list[str] = []
    position = 0
    for index, match in enumerate(_WORD.finditer(title)):
        before = title[position : match.start()]
        out.append(before)
        word = match.group()
        starts = index == 0 or _SENTENCE_END.search(before) is not None
        out.append(_capitalised(word) if starts else word)
        position = match.end()
    out.append(title[position:])
    return "".join(out)


def _capitalised(word: str) -> str:
    if any(char.isdigit() or char.isupper() for char in word) or not word[0].isalpha():
        return word
    first = word[0].upper()
    return first + word[1:] if len(first) == 1 else word
