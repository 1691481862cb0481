"""A small TOML writer for `releasebot config export`: tables, arrays of tables, and the
scalar and list values a release-bot config holds (str, bool, int, float, lists of them).

Strings are TOML basic strings: quote, backslash and every control character (U+0000 to
U+001F, U+007F) escaped, a lone surrogate replaced by U+FFFD (TOML cannot carry it), the
rest written as it is (UTF-8). So whatever a feed's title or an admin's filter holds,
`tomllib.loads(document(...))` gives the values back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["document", "key", "value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\u{code:04X}"
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return char


def string(text: str) -> str:
    """`text` as a TOML basic string."""
    return '"' + "".join(map(_char, text)) + '"'


def key(name: str) -> str:
    """A key, bare when it can be."""
    return name if _BARE_KEY.fullmatch(name) else string(name)  # `$` would pass "a\n"


def value(item: Any) -> str:
    """A TOML value: str, bool, int, float, or a list/tuple of them."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if math.isnan(item):
            return "nan"
        if math.isinf(item):
            return "inf" if item > 0 else "-inf"
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, list | tuple):
        return "[" + ", ".join(value(part) for part in item) + "]"
    raise TypeError(f"no TOML value for {type(item).__name__}")


def _pairs(table: Mapping[str, Any]) -> list[str]:
    return [f"{key(name)} = {value(item)}" for name, item in table.items() if item is not None]


def document(
    tables: Mapping[str, Mapping[str, Any]],
    arrays: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]],
    *,
    header: str = "",
) -> str:
    """Tables (`[name]`), then arrays of tables (`[[name]]`, each with a comment line, ""
    for none); None values are left out, and so are empty tables."""
    blocks = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    parts: list[str] = ["\n".join(blocks)] if blocks else []
    for name, table in tables.items():
        pairs = _pairs(table)
        if pairs:
            parts.append("\n".join([f"[{key(name)}]", *pairs]))
    for name, rows in arrays.items():
        for comment, row in rows:
            lines = [f"# {' '.join(comment.split())}"] if comment.strip() else []
            parts.append("\n".join([*lines, f"[[{key(name)}]]", *_pairs(row)]))
    return "\n\n".join(parts) + "\n"
