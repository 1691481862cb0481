"""A study in the formats reference managers import: BibTeX and biblatex `@article`, RIS
`JOUR` and CSL-JSON `article-journal`.

Fields follow design/citations.md ("The study behind the release"); a field with nothing to
say is left out rather than written empty.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.render.bibtex_text import bib_text, bib_title
from bot.render.cite_machine import bibtex_url
from bot.render.cite_study_data import Person, StudyData, inverted_name, parse_pages

# BibTeX splits an author list on " and " (any case) outside braces, and a name on commas.
_NAME_SPLITTERS = re.compile(r",|\band\b", re.IGNORECASE)


def bibtex(data: StudyData) -> str:
    """`@article`, text a default pdfLaTeX run can set: authors "Family, Given" joined by
    "and" (a group braced whole), the title in APA's sentence case with the capitals a
    style must keep braced ("{Baclofen}"), pages with "--"."""
    return _bib_entry("article", data, pdflatex=True, journal_field="journal")


def biblatex(data: StudyData) -> str:
    """`@article` for biber (UTF-8 kept): `journaltitle`, an ISO `date`, the DOI, and the
    PubMed id as biblatex's `eprint` with `eprinttype = {pubmed}`."""
    return _bib_entry("article", data, pdflatex=False, journal_field="journaltitle")


def _bib_entry(kind: str, data: StudyData, *, pdflatex: bool, journal_field: str) -> str:
    fields: list[tuple[str, str]] = []
    if data.authors:
        names = " and ".join(_bib_name(person, pdflatex=pdflatex) for person in data.authors)
        fields.append(("author", names))
    if data.sentence_title:
        fields.append(("title", bib_title(data.sentence_title, pdflatex=pdflatex)))
    if data.journal:
        fields.append((journal_field, bib_text(data.journal, pdflatex=pdflatex)))
    if pdflatex and data.issued:
        fields.append(("year", str(data.issued[0])))
    elif data.issued:
        fields.append(("date", _iso_date(data.issued)))
    fields += [
        ("volume", bib_text(data.volume, pdflatex=pdflatex)),
        ("number", bib_text(data.issue, pdflatex=pdflatex)),
        ("pages", _bib_pages(data, pdflatex=pdflatex)),
        ("doi", bibtex_url(data.doi)),
    ]
    if not pdflatex and data.pmid:
        fields += [("eprint", bib_text(data.pmid, pdflatex=False)), ("eprinttype", "pubmed")]
    if data.url and not data.doi:
        fields.append(("url", bibtex_url(data.url)))
    present = [(name, value) for name, value in fields if value]
    width = max((len(name) for name, _ in present), default=0)
    body = "".join(f"\n  {name:<{width}} = {{{value}}}," for name, value in present)
    return f"@{kind}{{{data.key},{body.removesuffix(',')}\n}}"


def _iso_date(issued: tuple[int, ...]) -> str:
    """ "2014-04-02", "2014-04" or "2014" (biblatex's ISO 8601 `date`)."""
    year, *rest = issued
    return "-".join([f"{year:04d}", *(f"{part:02d}" for part in rest)])


def _bib_name(person: Person, *, pdflatex: bool) -> str:
    if person.is_group:
        return "{" + bib_text(person.literal, pdflatex=pdflatex) + "}"
    parts = [_bib_name_part(person.family, pdflatex=pdflatex)]
    if person.given:
        parts.append(_bib_name_part(person.given, pdflatex=pdflatex))
    return ", ".join(parts)


def _bib_name_part(text: str, *, pdflatex: bool) -> str:
    escaped = bib_text(text, pdflatex=pdflatex)
    return "{" + escaped + "}" if _NAME_SPLITTERS.search(text) else escaped


def _bib_pages(data: StudyData, *, pdflatex: bool) -> str:
    pages = parse_pages(data.pages)
    if pages is None:
        return ""
    if pages.is_range:
        first = bib_text(pages.first, pdflatex=pdflatex)
        return f"{first}--{bib_text(pages.last, pdflatex=pdflatex)}"
    return bib_text(pages.first, pdflatex=pdflatex)


def ris(data: StudyData) -> str:
    """RIS `JOUR`: one `AU` per author ("Family, Given"), the source's title, journal (T2,
    abbreviated J2), volume, issue, first and last page, DOI, year and date; one tag a line."""
    lines = ["TY  - JOUR"]
    lines += [f"AU  - {inverted_name(person)}" for person in data.authors]
    pages = parse_pages(data.pages)
    tags = [
        ("TI", data.title),
        ("T2", data.journal),
        ("J2", data.journal_short),
        ("VL", data.volume),
        ("IS", data.issue),
        ("SP", pages.first if pages else ""),
        ("EP", pages.last if pages else ""),
        ("DO", data.doi),
        ("PY", data.year),
        ("DA", _ris_date(data.issued)),
        ("AN", f"PMID:{data.pmid}" if data.pmid else ""),
        ("UR", data.url),
    ]
    lines += [f"{tag}  - {value}" for tag, value in tags if value]
    lines.append("ER  - ")
    return "\n".join(lines)


def _ris_date(issued: tuple[int, ...]) -> str:
    """RIS's "YYYY/MM/DD", parts unknown left empty ("2014/04//")."""
    if len(issued) < 2:
        return ""
    day = f"{issued[2]:02d}" if len(issued) > 2 else ""
    return f"{issued[0]:04d}/{issued[1]:02d}/{day}"


def csl_json(data: StudyData) -> str:
    """An array of one CSL 1.0.2 `article-journal` item, keyed by the citation key."""
    item: dict[str, Any] = {"id": data.key, "type": "article-journal"}
    if data.authors:
        item["author"] = [_csl_name(person) for person in data.authors]
    fields = (
        ("title", data.title),
        ("container-title", data.journal),
        ("container-title-short", data.journal_short),
        ("volume", data.volume),
        ("issue", data.issue),
        ("page", data.pages),
        ("DOI", data.doi),
        ("PMID", data.pmid),
        ("PMCID", data.pmcid),
        ("URL", data.url),
    )
    item.update((name, value) for name, value in fields if value)
    if data.issued:
        item["issued"] = {"date-parts": [list(data.issued)]}
    return json.dumps([item], ensure_ascii=False, indent=2)


def _csl_name(person: Person) -> dict[str, str]:
    if person.is_group:
        return {"literal": person.literal}
    name = {"family": person.family}
    if person.given:
        name["given"] = person.given
    return name
