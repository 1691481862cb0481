"""A release's language: what the feed declares, corrected where the release says otherwise.

Citations need it: MLA and Chicago title-case English titles only. Feeds declare a language
on the item (`xml:lang`, `dc:language`) or the channel (`<language>`), the operator may set
one per feed (`feeds[].language`), and feeds get it wrong: NIDA labels its Spanish releases
`en`, a Brazilian feed sends an empty `<language>`. Two small rules, each explainable:

1. A language path segment in the release's URL (`/es/`, `/pt-br/`) names its language:
   sites put their translations under such a prefix.
2. Else the declared tag (item, then configured, then channel), unless a count of common
   function words over title and summary clearly names another language (at least
   `_MIN_HITS` hits and `_MARGIN` more than the runner-up), which then wins.

Only the languages the feeds we know publish in are detected: en, es, pt, fr, de, it.
Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from urllib.parse import urlsplit

__all__ = ["detect_language", "release_language", "url_language"]

# Frequent function words, accents folded away (see _words). A word in several lists counts
# for each, so only the words one language has to itself tell languages apart.
_STOP_WORDS = {
    "en": "the of and to in is for on with that by from at as are be this an was has have will"
    " it its their not or which who new can were been after about more than",
    "es": "el la los las de del y en que por con para una un se su sus es al como mas lo"
    " este esta entre sobre desde tambien ha han puede pueden",
    "pt": "o a os as de do da dos das em no na nos nas que e para com um uma por se sua seu"
    " nao ao mais como pelo pela sobre tambem foi sao entre",
    "fr": "le la les de des du et en un une que qui pour dans sur par au aux est pas avec ne"
    " se ce cette sont plus ou leur ete",
    "de": "der die das und ist nicht mit von fur auf den dem ein eine zu im sich des auch"
    " wird bei nach uber sind werden zum zur",
    "it": "il la le di e che del della delle dei un una per con non in al alla gli si da"
    " sono anche piu nel nella questo",
}
_WORDS = {language: frozenset(words.split()) for language, words in _STOP_WORDS.items()}
# Word endings one language has to itself ("medicación", "prisão", "prevenzione").
_ENDINGS = {
    "es": ("cion", "ciones"),
    "pt": ("cao", "coes", "ao"),
    "it": ("zione", "zioni"),
    "de": ("ung", "ungen", "keit", "heit"),
}
# Ending checks run on the folded word, so "ção" is "cao"; keep the marks that matter.
_MARKED_ENDINGS = {"pt": ("ção", "ções", "ão"), "es": ("ción", "ciones")}
_MIN_HITS = 3
_MARGIN = 2
_TOKEN = re.compile(r"[^\W\d_]+")
# A path segment that is a language tag of a detected language: "es", "pt-br", "en_us".
_PATH_TAG = re.compile(r"^(en|es|pt|fr|de|it)(?:[-_][a-z]{2})?$", re.IGNORECASE)
_PATH_SEGMENTS_LOOKED_AT = 2
# Enough words to be sure, and a bound on the work a 10,000-character summary costs.
_TEXT_LOOKED_AT = 2_000


def release_language(*, url: str, declared: tuple[str, ...], title: str, summary: str) -> str:
    """The release's language tag, "" when nothing says.

    `declared` is the tags in order of precedence (item, configured, channel); the first
    non-empty one is the declared language.
    """
    detected = detect_language(f"{title}\n{summary}"[:_TEXT_LOOKED_AT])
    # A path segment beats the labels, but not text that clearly says otherwise: /it/ and
    # /de/ also name IT departments and Delaware.
    tag = url_language(url) or next((candidate for candidate in declared if candidate), "")
    if detected and detected != primary(tag):
        return detected
    return tag


def primary(tag: str) -> str:
    """The primary subtag, lower-cased: "pt-BR" -> "pt", "en_US" -> "en"."""
    return re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()


def url_language(url: str) -> str:
    """The language a path segment near the start of `url` names ("es" for
    `https://nida.nih.gov/es/noticias/...`), "" when none does."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    segments = [segment for segment in path.split("/") if segment][:_PATH_SEGMENTS_LOOKED_AT]
    for segment in segments:
        if _PATH_TAG.match(segment):
            return segment.lower().replace("_", "-")
    return ""


def detect_language(text: str) -> str:
    """The language whose function words clearly dominate `text`, else ""."""
    scores: Counter[str] = Counter()
    for raw in _TOKEN.findall(text.casefold()):
        word = _fold(raw)
        scores.update(language for language, words in _WORDS.items() if word in words)
        scores.update(language for language in _ENDINGS if _has_ending(raw, word, language))
    ranked = [*scores.most_common(2), ("", 0), ("", 0)]
    (best, hits), (_, runner_up) = ranked[0], ranked[1]
    if hits >= _MIN_HITS and hits - runner_up >= _MARGIN:
        return best
    return ""


def _has_ending(raw: str, word: str, language: str) -> bool:
    """Whether `word` (folded; `raw` as written) ends the way only `language`'s words do."""
    if len(word) <= 4 or not word.endswith(_ENDINGS[language]):
        return False
    return language not in _MARKED_ENDINGS or raw.endswith(_MARKED_ENDINGS[language])


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char))
