"""A title's own punctuation as the prose styles print it: its quotation marks and its last
period. The machine formats (BibTeX, RIS, CSL-JSON) keep the publisher's text instead.
"""

from __future__ import annotations

_DOUBLES = '"“”'
_SINGLES = "'‘’"
_CLOSING_QUOTES = "’”'\""
# What may stand before an opening quotation mark.
_BEFORE_OPENING = " \t([{‘“'\"—–-/"
_PAIRS = (("“", "”"), ("‘", "’"))
# Words whose period is an abbreviation's, not the end of a sentence.
_ABBREVIATIONS = frozenset(
    {"inc", "ltd", "co", "corp", "jr", "sr", "st", "dr", "mr", "mrs", "ms", "etc", "al",
     "vs", "no", "dept", "bros"}
)  # fmt: skip


def requote(title: str, *, depth: int) -> str:
    """`title` with typographic quotation marks, nested for a title printed `depth` quotation
    marks deep: depth 0 (an italic or roman title, APA) gives “…” and inside it ‘…’; depth 1
    (a title in quotation marks, MLA and Chicago) gives ‘…’ and inside it “…”.

    Straight and curly marks are read alike, as citeproc-js reads them: a mark after a space
    or bracket opens, one before a space or punctuation closes; single marks open and close
    a quotation too (`'climate chaos'` is “climate chaos” in APA), and any other single
    mark is an apostrophe, ’. APA 7 §6.7 and CMOS 17 §6.9 and §14.94 (quotations within
    titles) alternate double and single marks this way.
    """
    out: list[str] = []
    open_kinds: list[str] = []  # "d" or "s" per open quotation, innermost last
    for i, ch in enumerate(title):
        before = title[i - 1] if i else " "
        after = title[i + 1] if i + 1 < len(title) else " "
        if ch in _DOUBLES:
            kind = "d"
            opening = ch == "“" or (ch == '"' and _opens(before, after))
        elif ch in _SINGLES:
            kind = "s"
            opening = ch == "‘" or (
                ch == "'" and _opens(before, after) and after.isalpha() and _closed_after(title, i)
            )
            closing = "s" in open_kinds and not after.isalnum()
            if not opening and not closing:
                out.append("’")  # an apostrophe: children’s, don’t, parents’
                continue
        else:
            out.append(ch)
            continue
        if opening:
            out.append(_PAIRS[(depth + len(open_kinds)) % 2][0])
            open_kinds.append(kind)
            continue
        if kind in open_kinds:  # close it, and anything left open inside it
            del open_kinds[len(open_kinds) - 1 - open_kinds[::-1].index(kind) :]
        out.append(_PAIRS[(depth + len(open_kinds)) % 2][1])
    return "".join(out)


def _closed_after(title: str, index: int) -> bool:
    """Whether the next single mark after `index` that opens or closes a quotation closes
    it: if none does, or another opens first, the mark at `index` is a leading apostrophe
    ('Tis, 'Til), not a quotation left open."""
    for j in range(index + 1, len(title)):
        if title[j] not in _SINGLES:
            continue
        before, after = title[j - 1], title[j + 1 : j + 2] or " "
        if not after.isalnum():
            return True
        if _opens(before, after):
            return False
    return False


def _opens(before: str, after: str) -> bool:
    return (before.isspace() or before in _BEFORE_OPENING) and not after.isspace()


def without_final_period(title: str) -> str:
    """`title` without the period that ends it as a sentence, so that the element's own
    period or comma is not doubled ("…chromosome." gives “…Chromosome,” in a note and
    "…chromosome [Press release]." in APA). Ellipses and abbreviations keep theirs
    ("U.S.", "Inc.")."""
    core = title.rstrip(_CLOSING_QUOTES)
    if not core.endswith(".") or core.endswith("..") or not core[:-1].strip():
        return title
    last_word = core.split()[-1].lstrip("([{‘“'\"")
    if "." in last_word[:-1] or last_word[:-1].lower() in _ABBREVIATIONS:
        return title
    return core[:-1] + title[len(core) :]
