"""Text fields for BibTeX and biblatex: capitals a style must keep, and what pdfLaTeX can set.

BibTeX styles (and biblatex's \\MakeSentenceCase) lowercase a title except its first letter
and what is braced, so `NASA` would print as "Nasa" and `COVID-19` as "Covid-19". We brace
acronyms and mixed-case words always, and in a sentence-case title every capitalised word
after the first (it is a proper noun there): "...: {Baclofen} prevents ...".

Classic BibTeX is run with pdfLaTeX, whose default UTF-8 input handles Latin letters and
common punctuation but stops on an emoji or a CJK character ("Unicode character ... not set
up for use with LaTeX"); so BibTeX text keeps only what pdfLaTeX sets, Greek letters go to
math mode, other characters are transliterated to ASCII where Unicode says how (NFKD) or
dropped. biblatex is read by biber, which takes UTF-8: it keeps the text as written.
"""

from __future__ import annotations

import re
import unicodedata

# LaTeX's specials, and < > which the default OT1 font encoding prints as ¡ ¿.
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    # BibTeX and biber count braces even after a backslash, so "\{" alone would unbalance
    # the field: spell braces out.
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_ESCAPES = str.maketrans(_LATEX_SPECIALS)

# What LaTeX's utf8 input encoding sets in the default fonts: Latin-1 and Latin
# Extended-A letters, and the typographic punctuation feeds use.
_PDFLATEX_EXTRA = frozenset("‘’‚“”„–—…•†‡‰′″€™")
_GREEK_CAPITALS = frozenset(
    {"GAMMA", "DELTA", "THETA", "LAMDA", "XI", "PI", "SIGMA", "UPSILON", "PHI", "PSI", "OMEGA"}
)
_SPACES = re.compile(r"[ ]{2,}")

# A word: letters and digits, joined by hyphens, apostrophes or periods ("COVID-19", "U.S").
_WORD = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*")
# Words a headline-style title leaves lowercase (CMOS 17 §8.159): their case tells nothing.
_MINOR = frozenset(
    {
        "a", "an", "the", "and", "but", "for", "nor", "or", "so", "yet", "as", "at", "by",
        "from", "in", "into", "of", "off", "on", "onto", "over", "per", "to", "up", "upon",
        "via", "with", "within", "without", "about", "among", "after", "before", "like",
        "than", "vs",
    }
)  # fmt: skip


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters; non-ASCII stays as UTF-8."""
    return text.translate(_ESCAPES)


def _escape(text: str, *, pdflatex: bool) -> str:
    if not pdflatex:
        return latex_escape(text)
    return "".join(_LATEX_SPECIALS.get(char) or _pdflatex_char(char) for char in text)


def _settable(text: str) -> str:
    """`text` without the characters pdfLaTeX cannot set and we cannot spell (emoji)."""
    kept = "".join(char for char in text if _pdflatex_char(char))
    return text if kept == text else _SPACES.sub(" ", kept).strip()


def _pdflatex_char(char: str) -> str:
    """`char` as a default pdfLaTeX run sets it: itself, a math-mode Greek letter, its
    ASCII folding (NFKD: "ﬁ" to "fi"), or "" (an emoji)."""
    code = ord(char)
    if code < 0x80 or 0xA0 <= code <= 0x17F or char in _PDFLATEX_EXTRA:
        return char
    name = unicodedata.name(char, "")
    for prefix, capital in (("GREEK SMALL LETTER ", False), ("GREEK CAPITAL LETTER ", True)):
        letter = name.removeprefix(prefix)
        if letter != name and " " not in letter:
            return _greek(letter, capital=capital)
    folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    return latex_escape(folded)


_GREEK_AS_LATIN = {
    "ALPHA": "A", "BETA": "B", "EPSILON": "E", "ZETA": "Z", "ETA": "H", "IOTA": "I",
    "KAPPA": "K", "MU": "M", "NU": "N", "OMICRON": "O", "RHO": "P", "TAU": "T", "CHI": "X",
}  # fmt: skip


def _greek(letter: str, *, capital: bool) -> str:
    """A Greek letter in math mode; capitals LaTeX has no command for look Latin."""
    command = "lambda" if letter == "LAMDA" else letter.lower()
    if capital and letter not in _GREEK_CAPITALS:
        return _GREEK_AS_LATIN.get(letter, "")
    return rf"\ensuremath{{\{command.capitalize() if capital else command}}}"


def bib_text(text: str, *, pdflatex: bool) -> str:
    """A plain text field (an author's name, a note), escaped; pdfLaTeX-safe if asked."""
    return _escape(_settable(text) if pdflatex else text, pdflatex=pdflatex)


def bib_title(title: str, *, pdflatex: bool) -> str:
    """A title with its protected words braced, escaped; pdfLaTeX-safe if asked."""
    if pdflatex:
        title = _settable(title)
    words = list(_WORD.finditer(title))
    sentence_case = _is_sentence_case([match.group() for match in words])
    out: list[str] = []
    position = 0
    for index, match in enumerate(words):
        word = match.group()
        out.append(_escape(title[position : match.start()], pdflatex=pdflatex))
        escaped = _escape(word, pdflatex=pdflatex)
        keep = keeps_capitals(word) or (sentence_case and index > 0 and _capitalised(word))
        out.append("{" + escaped + "}" if keep else escaped)
        position = match.end()
    out.append(_escape(title[position:], pdflatex=pdflatex))
    return "".join(out)


def keeps_capitals(word: str) -> bool:
    """An acronym or mixed-case word ("NASA", "COVID-19", "mRNA", "SARS-CoV-2", "I"):
    a capital letter anywhere but at the start of a hyphenated part, or a lone capital."""
    parts = word.split("-")
    if any(char.isupper() for part in parts for char in part[1:]):
        return True
    return len(word) == 1 and word.isupper() and word != "A"


def _capitalised(word: str) -> bool:
    return any(part[:1].isupper() for part in word.split("-"))


def _is_sentence_case(words: list[str]) -> bool:
    """Sentence case unless every word after the first but the minor ones is capitalised."""
    return any(word[:1].islower() and word.casefold() not in _MINOR for word in words[1:])
