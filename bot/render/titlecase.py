"""Headline-style title case for MLA and Chicago titles (CMOS 17 §8.159-8.161; MLA 9 alike).

Rules, from design/citations.md and CMOS 17 §8.159 (rules 1-7): capitalise the first and
last words and the first word after a colon; lowercase articles, coordinating conjunctions
and prepositions of any length (and "to", "as"), including "like" used as a preposition and
compound prepositions such as "out of"; capitalise every part of a hyphenated compound,
except small words inside it and the word after a prefix that cannot stand alone
("Anti-inflammatory"), and likewise every word joined to another by punctuation without a
space ("Science,Technology", "HIV/AIDS"); keep words already in capitals or mixed case (NIH,
HIV, COVID-19, mRNA, iPhone), addresses as written, and the lowercase second part of a
species name ("Colletotrichum destructivum", rule 7) where the feed wrote it so.
"""

from __future__ import annotations

import re

from bot.render.species import is_epithet, is_genus

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

# Compound prepositions taken as one preposition (CMOS 17 §8.159 rule 3 lowercases
# prepositions of any length): "Get in and out of Shape", not "In and Out of".
COMPOUND_PREPOSITIONS = frozenset({("out", "of"), ("off", "of"), ("out", "from")})
# Words before "like" that make it a verb ("We Like", "Would Like", "Don't Like"); elsewhere
# a headline's "like" is the preposition ("Illnesses like Coronavirus"), lowercased (§8.159
# rule 3; the Chicago Manual's Q&A lowercases all prepositions "including words that aren't
# always prepositions").
_LIKE_AS_VERB_AFTER = frozenset(
    {
        "i", "you", "we", "they", "who", "would", "wouldn't", "do", "don't", "does",
        "doesn't", "did", "didn't", "to", "not", "never", "really", "also", "still", "just",
        "will", "won't", "may", "might", "could", "should", "can", "can't",
    }
)  # fmt: skip

_TOKEN = re.compile(r"\S+")
_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)  # leading punctuation, word, trailing
_STARTS_SUBTITLE = (":", "?", "!")
# Punctuation that joins two words without a space; each side is cased as a word.
_JOINER = re.compile(r"([,/;:&\u2013\u2014]+)")
_SUBTITLE_JOINERS = (":", "\u2014")
_ADDRESS = re.compile(r"://|@|^www\.", re.IGNORECASE)


def title_case(text: str) -> str:
    """`text` in headline style; spacing and punctuation are kept exactly."""
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return text
    words = [_word_of(match.group()) for match in tokens]
    last = len(tokens) - 1
    out: list[str] = []
    position = 0
    after_colon = False
    for index, match in enumerate(tokens):
        out.append(text[position : match.start()])
        token = match.group()
        force = index == 0 or index == last or after_colon
        role = _role(tokens, words, index)
        if role == "keep":  # a species epithet stays lowercase even when last (rule 7)
            out.append(token)
        else:
            out.append(
                _case_token(token, force=force, is_last=index == last, small=role == "small")
            )
        after_colon = token.endswith(_STARTS_SUBTITLE) or token in ("—", "–")
        position = match.end()
    out.append(text[position:])
    return "".join(out)


def _word_of(token: str) -> str:
    """The token without its leading and trailing punctuation."""
    match = _CORE.match(token)
    return match.group(2) if match else token


def _role(tokens: list[re.Match[str]], words: list[str], index: int) -> str:
    """What the word at `index` is in its sentence: "small" (lowercase unless first or last),
    "keep" (a species epithet, as written) or "" (decided by the word alone)."""
    word = words[index].lower()
    before = words[index - 1].lower() if index else ""
    after = words[index + 1].lower() if index + 1 < len(words) else ""
    if word == "like" and before not in _LIKE_AS_VERB_AFTER and not before.endswith("'d"):
        return "small"
    if (word, after) in COMPOUND_PREPOSITIONS:
        return "small"
    if index and words[index][:1].islower() and _is_epithet_here(tokens, words, index):
        return "keep"
    return ""


def _is_epithet_here(tokens: list[re.Match[str]], words: list[str], index: int) -> bool:
    """The word at `index` follows a genus directly (no comma between) and reads as its
    species epithet (bot/render/species.py)."""
    genus = tokens[index - 1].group().lstrip("([{‘“'\"")  # "C." keeps its period
    if _is_small(genus) or genus.lower() in ("like", "out", "off"):
        return False
    word = words[index]
    return tokens[index].group().startswith(word) and is_genus(genus) and is_epithet(genus, word)


def _case_token(token: str, *, force: bool, is_last: bool, small: bool = False) -> str:
    """One whitespace-delimited token: words joined by punctuation, each maybe hyphenated."""
    match = _CORE.match(token)
    if match is None:  # pragma: no cover - the pattern matches every string
        return token
    lead, word, trail = match.groups()
    if not word or (("/" in word or "@" in word or "." in word) and _ADDRESS.search(word)):
        return token
    pieces = _JOINER.split(word)
    cased: list[str] = []
    for i in range(0, len(pieces), 2):
        first, final = i == 0, i == len(pieces) - 1
        subtitle = not first and pieces[i - 1].endswith(_SUBTITLE_JOINERS)
        cased.append(
            _case_compound(
                pieces[i],
                force=(force and first) or subtitle,
                is_last=is_last and final,
                small=small and first and final,
            )
        )
        if not final:
            cased.append(pieces[i + 1])
    return lead + "".join(cased) + trail


def _case_compound(word: str, *, force: bool, is_last: bool, small: bool) -> str:
    """One word, which may be a hyphenated compound."""
    parts = word.split("-")
    cased: list[str] = []
    for i, part in enumerate(parts):
        if i == 0:
            minor = small or _is_small(part)
            cased.append(_case_word(part, capitalise=force or not minor))
        elif parts[i - 1].lower() in PREFIXES:
            cased.append(part)
        else:
            last_part = is_last and i == len(parts) - 1
            cased.append(_case_word(part, capitalise=last_part or not _is_small(part)))
    return "-".join(cased)


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
