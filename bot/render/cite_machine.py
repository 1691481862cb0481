"""The formats reference managers import: BibTeX, biblatex, RIS and CSL-JSON.

Field sets and layout follow design/citations.md exactly; fields with nothing to say
(no date, no URL, no title) are left out rather than written empty.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.feeds.dates import MONTHS
from bot.render.bibtex_text import bib_text, bib_title
from bot.render.cite_data import GENRE, CitationData

_MONTH_MACROS = tuple(name[:3].lower() for name in MONTHS)  # BibTeX's jan ... dec
# A URL is written raw (the url package reads it verbatim) except the characters that
# would unbalance the field's braces or split it; RFC 3986 percent-encodes them anyway.
_URL_UNSAFE = str.maketrans({"{": "%7B", "}": "%7D", "\\": "%5C", " ": "%20"})


def bibtex_url(url: str) -> str:
    """`url` as it can stand inside a braced BibTeX field."""
    return url.translate(_URL_UNSAFE)


def bibtex(data: CitationData) -> str:
    """`@misc` with the organisation in double braces and the month as a macro; text that
    a default pdfLaTeX + BibTeX run can set, capitals a style must keep braced."""
    fields: list[tuple[str, str]] = [
        ("author", f"{{{{{bib_text(data.author, pdflatex=True)}}}}}"),
        ("title", f"{{{bib_title(data.title, pdflatex=True)}}}"),
        ("howpublished", f"{{{GENRE}}}"),
    ]
    if data.issued:
        fields.append(("year", f"{{{data.issued.year}}}"))
        fields.append(("month", _MONTH_MACROS[data.issued.month - 1]))
    if data.url:
        fields.append(("url", f"{{{bibtex_url(data.url)}}}"))
        fields.append(("note", f"{{Accessed {data.accessed.isoformat()}}}"))
    return _bib_entry("misc", data.key, fields, width=len("howpublished"))


def biblatex(data: CitationData) -> str:
    """`@online` with an ISO `date`, `url` and `urldate`; UTF-8 kept (biber reads it),
    capitals a style must keep braced. `@online` needs a URL: without one, `@misc`."""
    fields: list[tuple[str, str]] = [
        ("author", f"{{{{{bib_text(data.author, pdflatex=False)}}}}}"),
        ("title", f"{{{bib_title(data.title, pdflatex=False)}}}"),
    ]
    if data.issued:
        fields.append(("date", f"{{{data.issued.isoformat()}}}"))
    if data.url:
        fields.append(("url", f"{{{bibtex_url(data.url)}}}"))
        fields.append(("urldate", f"{{{data.accessed.isoformat()}}}"))
    fields.append(("note", f"{{{GENRE}}}"))
    kind = "online" if data.url else "misc"
    return _bib_entry(kind, data.key, fields, width=len("urldate"))


def _bib_entry(kind: str, key: str, fields: list[tuple[str, str]], *, width: int) -> str:
    body = ",\n".join(f"  {name:<{width}} = {value}" for name, value in fields)
    return f"@{kind}{{{key},\n{body}\n}}"


def ris(data: CitationData) -> str:
    """One `TAG  - value` a line; values are already on one line, so nothing wraps."""
    lines = ["TY  - ELEC", f"AU  - {data.author}"]
    if data.title:
        lines.append(f"TI  - {data.title}")
    if data.issued:
        lines.append(f"PY  - {data.issued.year}")
        lines.append(f"DA  - {_ris_date(data.issued)}")
    lines.append(f"M3  - {GENRE}")
    if data.url:
        lines.append(f"UR  - {data.url}")
        lines.append(f"Y2  - {_ris_date(data.accessed)}")
    lines.append("ER  - ")
    return "\n".join(lines)


def _ris_date(day: date) -> str:
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


# CSL-JSON's genre is lowercase: CSL styles capitalise it where a sentence starts with it,
# and print it as given mid-sentence (the Chicago note's "press release").
CSL_GENRE = GENRE.lower()


def csl_json(data: CitationData) -> str:
    """An array of one CSL 1.0.2 item, keyed by the citation key."""
    item: dict[str, Any] = {
        "id": data.key,
        "type": "webpage",
        "genre": CSL_GENRE,
    }
    if data.language:  # CSL 1.0.2 `language`: styles use it to leave non-English titles be
        item["language"] = data.language
    item["author"] = [{"literal": data.author}]
    if data.title:
        item["title"] = data.title
    if data.site_differs:
        item["container-title"] = data.site
    if data.issued:
        item["issued"] = {"date-parts": [[data.issued.year, data.issued.month, data.issued.day]]}
    if data.url:
        item["URL"] = data.url
        accessed = data.accessed
        item["accessed"] = {"date-parts": [[accessed.year, accessed.month, accessed.day]]}
    return json.dumps([item], ensure_ascii=False, indent=2)
