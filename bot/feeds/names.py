"""Feed names made from feed titles, for feeds added from Telegram.

A name follows the config file's rule (bot/config.py): a lower-case ASCII letter or digit,
then up to 31 more of letters, digits, "_" and "-". "NIDA News Releases — Drogas y Salud"
becomes "nida-news-releases-drogas-y-salud"; a name already taken gets "-2", "-3", ….
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from itertools import count

__all__ = ["FALLBACK_NAME", "MAX_NAME_LENGTH", "NAME_PATTERN", "feed_name_from_title"]

MAX_NAME_LENGTH = 32
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # feed and channel names (bot/config.py)
FALLBACK_NAME = "feed"

# Latin letters that NFKD does not split into a base letter and an accent.
_TRANSLITERATIONS = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def feed_name_from_title(title: str, taken: Collection[str]) -> str:
    """A valid feed name derived from `title`, not in `taken`.

    Words (accents stripped, other scripts dropped) are joined with "-" and cut at a word
    boundary within 32 characters; a title with no usable letter gives "feed".
    """
    base = _base_name(title)
    if base not in taken:
        return base
    for number in count(2):
        suffix = f"-{number}"
        candidate = _cut(base, MAX_NAME_LENGTH - len(suffix)) + suffix
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: `taken` is finite")  # pragma: no cover


def _base_name(title: str) -> str:
    folded = unicodedata.normalize("NFKD", title.casefold().translate(_TRANSLITERATIONS))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii")
    words = _ASCII_WORD.findall(ascii_text)
    return _cut("-".join(words), MAX_NAME_LENGTH) if words else FALLBACK_NAME


def _cut(name: str, limit: int) -> str:
    """`name` in at most `limit` characters, at the last "-" that fits when there is one."""
    if len(name) <= limit:
        return name
    head = name[: limit + 1]
    boundary = head.rfind("-")
    cut = head[:boundary] if boundary > 0 else name[:limit]
    return cut.rstrip("-_") or name[:limit]
