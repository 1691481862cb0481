"""Normalise what the DOI resolver and NCBI answer into a `Study`. Pure: bytes in, models out.

Two sources describe a study:

- CSL-JSON from DOI content negotiation (Crossref, DataCite, mEDRA behind doi.org):
  `study_from_csl` / `parse_csl`. Crossref's own type names ("journal-article") become
  CSL's ("article-journal"); titles lose their JATS/HTML tags; authors become
  family/given pairs, groups a literal name.
- NCBI E-utilities JSON: `parse_esummary` (db=pubmed or db=pmc) gives a `PubMedSummary`
  (PMID, PMCID, DOI, PubMed's sentence-case title...), `parse_esearch` the PMIDs an
  `esearch` found (a DOI looked up as `<doi>[doi]`).

`merge_study` joins the two; `study_from_pubmed` makes a Study of PubMed's record alone
when no DOI (or no DOI metadata) exists. The answers are untrusted: anything unusable
raises StudyMetadataError, and nothing else is raised.
"""

from __future__ import annotations

import calendar
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from bot.errors import StudyMetadataError
from bot.feeds.text import collapse_whitespace, html_to_text, strip_bidi_controls
from bot.models import Study, StudyAuthor

__all__ = [
    "CROSSREF_TYPES",
    "PubMedSummary",
    "bare_doi",
    "clean_title",
    "load_json",
    "merge_study",
    "parse_csl",
    "parse_esearch",
    "parse_esummary",
    "pubmed_title_text",
    "study_from_csl",
    "study_from_pubmed",
]

# Crossref's work types (api.crossref.org/types) -> CSL 1.0.2 types. A CSL type passes as
# it is; anything else is cited as a plain "article".
CROSSREF_TYPES: dict[str, str] = {
    "journal-article": "article-journal",
    "proceedings-article": "paper-conference",
    "book-chapter": "chapter",
    "book-part": "chapter",
    "book-section": "chapter",
    "book": "book",
    "edited-book": "book",
    "monograph": "book",
    "reference-book": "book",
    "book-series": "book",
    "book-set": "book",
    "book-track": "book",
    "reference-entry": "entry",
    "posted-content": "article",
    "dataset": "dataset",
    "report": "report",
    "report-series": "report",
    "report-component": "report",
    "dissertation": "thesis",
    "standard": "standard",
    "peer-review": "review",
    "journal": "periodical",
    "journal-issue": "periodical",
    "journal-volume": "periodical",
    "proceedings": "book",
    "proceedings-series": "book",
    "component": "article",
    "grant": "document",
    "database": "dataset",
    "other": "article",
}
CSL_TYPES = frozenset(
    {
        "article", "article-journal", "article-magazine", "article-newspaper", "bill", "book",
        "broadcast", "chapter", "classic", "collection", "dataset", "document", "entry",
        "entry-dictionary", "entry-encyclopedia", "event", "figure", "graphic", "hearing",
        "interview", "legal_case", "legislation", "manuscript", "map", "motion_picture",
        "musical_score", "pamphlet", "paper-conference", "patent", "performance",
        "periodical", "personal_communication", "post", "post-weblog", "regulation",
        "report", "review", "review-book", "software", "song", "speech", "standard",
        "thesis", "treaty", "webpage",
    }
)  # fmt: skip
# CSL-JSON date fields, most telling first: `issued` is the citation date.
DATE_FIELDS = ("issued", "published-print", "published-online", "published")
MAX_FIELD = 2000  # characters kept of any one text field (a title, a journal name)
MAX_AUTHORS = 5000  # consortium papers list thousands; more is not a real author list

_TAG_LIKE = re.compile(r"</?[A-Za-z][\w:.-]*[^<>]*>")
_DIGITS = re.compile(r"\d{1,12}")
_PMCID = re.compile(r"(?i)pmc(\d{1,12})")
_ABBREVIATED_END = re.compile(r"(?:\b(?:[A-Za-z]\.){2,}|\bet al\.|\bspp?\.)$")
_PUBMED_NAME = re.compile(r"^(?P<family>.+?)\s+(?P<initials>[A-Z]{1,4})$")
_MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}


@dataclass(frozen=True, slots=True)
class PubMedSummary:
    """One record of an E-utilities esummary, db=pubmed or db=pmc.

    `title` is the database's title, tags stripped; PubMed writes titles in sentence case
    and ends each with a period, which is dropped here (the citation styles add their own
    punctuation) unless it closes an abbreviation ("U.S."). PMC's titles are the journal's
    own case. `pages` is expanded ("5038-43" -> "5038-5043") as CSL wants it.
    """

    db: Literal["pubmed", "pmc"]
    pmid: str = ""
    pmcid: str = ""  # "PMC3972727"
    doi: str = ""
    title: str = ""
    journal: str = ""  # fulljournalname
    journal_short: str = ""  # source, NLM's abbreviation
    volume: str = ""
    issue: str = ""
    pages: str = ""
    issued: tuple[int, ...] = ()
    authors: tuple[StudyAuthor, ...] = ()


def load_json(body: bytes) -> object:
    """`body` decoded as JSON; StudyMetadataError when it is not (or nests absurdly deep)."""
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StudyMetadataError(f"the answer is not JSON ({type(exc).__name__})") from exc


def parse_csl(body: bytes, doi: str = "") -> Study:
    """The Study a CSL-JSON body describes (see study_from_csl)."""
    return study_from_csl(load_json(body), doi)


def study_from_csl(data: object, doi: str = "") -> Study:
    """The Study in one CSL-JSON record (a DOI resolver's answer; a one-item list is
    accepted too). `doi` is the DOI asked for, used when the record names none.
    Raises StudyMetadataError when `data` is no record or has no title."""
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise StudyMetadataError("the CSL-JSON answer is not an object")
    title = _csl_title(data)
    if not title:
        raise StudyMetadataError("the CSL-JSON record has no title")
    registered = bare_doi(_text(data.get("DOI"))) or bare_doi(doi)
    return Study(
        doi=registered,
        pmid=_digits(_text(data.get("PMID"))),
        pmcid=_pmcid(_text(data.get("PMCID"))),
        kind=csl_type(_text(data.get("type"))),
        title=title,
        authors=_csl_authors(data.get("author")),
        journal=_first_text(data.get("container-title")),
        journal_short=_first_text(data.get("container-title-short"))
        or _first_text(data.get("short-container-title")),
        volume=_plain(_text(data.get("volume"))),
        issue=_plain(_text(data.get("issue"))),
        pages=_plain(_text(data.get("page"))),
        issued=_first_date(data),
        url=f"https://doi.org/{registered}" if registered else _web_url(data.get("URL")),
    )


def csl_type(value: str) -> str:
    """Crossref's type name as CSL's ("journal-article" -> "article-journal")."""
    value = value.strip().lower()
    if value in CSL_TYPES:
        return value
    return CROSSREF_TYPES.get(value, "article")


def clean_title(value: str) -> str:
    """A title as plain text on one line: JATS/HTML tags (`<i>`, `<sub>`,
    `<jats:italic>`) dropped with their text kept, entities decoded; a title whose tags
    came escaped ("&lt;i&gt;") is cleaned once more."""
    text = html_to_text(value)
    if _TAG_LIKE.search(text):
        text = html_to_text(text)
    return collapse_whitespace(strip_bidi_controls(text))[:MAX_FIELD]


def pubmed_title_text(value: str) -> str:
    """PubMed's title without the period PubMed ends every title with ("...cues." ->
    "...cues"); a period closing an abbreviation ("U.S.", "et al.") stays."""
    title = clean_title(value)
    if title.endswith(".") and not title.endswith("..") and not _ABBREVIATED_END.search(title):
        title = title[:-1].rstrip()
    return title


def _ncbi_answer(body: bytes, what: str) -> dict[str, object]:
    """The top-level object of an NCBI e-utilities JSON answer (`what` is "esummary" or
    "esearch"); raises StudyMetadataError when it is no object or an error answer."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise StudyMetadataError(f"the {what} answer is not an object")
    if "error" in data:
        raise StudyMetadataError(f"NCBI {what}: {_text(data['error'])[:200]}")
    return data


def parse_esummary(
    body: bytes, uid: str, db: Literal["pubmed", "pmc"] = "pubmed"
) -> PubMedSummary | None:
    """The record for `uid` in an esummary answer (retmode=json); None when NCBI says it
    has no such record ("cannot get document summary", or `uid` missing from `uids`).
    Raises StudyMetadataError for an error answer or a shape that is no esummary."""
    data = _ncbi_answer(body, "esummary")
    result = data.get("result")
    if result is None and "esummaryresult" in data:
        # NCBI's answer to an id it cannot read at all: "Invalid uid ... at position=0".
        return None
    if not isinstance(result, dict) or not isinstance(result.get("uids"), list):
        raise StudyMetadataError("the esummary answer has no result.uids")
    record = result.get(uid)
    if record is None:
        return None
    if not isinstance(record, dict):
        raise StudyMetadataError(f"the esummary record for {uid} is not an object")
    if "error" in record:
        return None  # {"uid": ..., "error": "cannot get document summary"}
    return _summary(record, uid, db)


def parse_esearch(body: bytes) -> tuple[str, ...]:
    """The ids an esearch answer (retmode=json) found, in its order ("" ids dropped).
    Raises StudyMetadataError for an error answer or a shape that is no esearch."""
    data = _ncbi_answer(body, "esearch")
    result = data.get("esearchresult")
    if not isinstance(result, dict):
        raise StudyMetadataError("the esearch answer has no esearchresult")
    if "ERROR" in result:
        raise StudyMetadataError(f"NCBI esearch: {_text(result['ERROR'])[:200]}")
    ids = result.get("idlist")
    if not isinstance(ids, list):
        raise StudyMetadataError("the esearch answer has no idlist")
    return tuple(uid for uid in (_digits(_text(value)) for value in ids) if uid)


def merge_study(study: Study, summary: PubMedSummary | None) -> Study:
    """`study` (from CSL-JSON) with what NCBI adds: PMID, PMCID, PubMed's title. A summary
    naming another DOI describes another paper and is ignored."""
    if summary is None:
        return study
    if study.doi and summary.doi and study.doi.lower() != summary.doi.lower():
        return study
    return replace(
        study,
        doi=study.doi or summary.doi,
        pmid=study.pmid or summary.pmid,
        pmcid=study.pmcid or summary.pmcid,
        pubmed_title=summary.title if summary.db == "pubmed" else study.pubmed_title,
    )


def study_from_pubmed(summary: PubMedSummary, *, pubmed_title: str = "") -> Study:
    """A Study of NCBI's record alone (no DOI, or the DOI resolver knows none). Authors
    have initials only ("Young KA" -> family "Young", given "K. A.")."""
    doi = summary.doi
    title = summary.title
    return Study(
        doi=doi,
        pmid=summary.pmid,
        pmcid=summary.pmcid,
        title=title,
        pubmed_title=title if summary.db == "pubmed" else pubmed_title,
        authors=summary.authors,
        journal=summary.journal or summary.journal_short,
        journal_short=summary.journal_short,
        volume=summary.volume,
        issue=summary.issue,
        pages=summary.pages,
        issued=summary.issued,
        url=f"https://doi.org/{doi}" if doi else _pubmed_url(summary),
    )


# CSL-JSON pieces


def _csl_title(data: Mapping[str, object]) -> str:
    title = clean_title(_first_text(data.get("title")))
    subtitle = clean_title(_first_text(data.get("subtitle")))
    if title and subtitle and subtitle.lower() not in title.lower():
        title = f"{title.rstrip(':')}: {subtitle}"
    return title


def _csl_authors(value: object) -> tuple[StudyAuthor, ...]:
    if not isinstance(value, list):
        return ()
    authors = (_csl_author(item) for item in value[:MAX_AUTHORS])
    return tuple(author for author in authors if author is not None)


def _csl_author(item: object) -> StudyAuthor | None:
    if not isinstance(item, dict):
        return None
    family = _name(item.get("family"))
    given = _name(item.get("given"))
    literal = _name(item.get("literal")) or _name(item.get("name"))
    if family:
        particle = _name(item.get("non-dropping-particle"))
        family = f"{particle} {family}" if particle else family
        dropping = _name(item.get("dropping-particle"))
        given = f"{given} {dropping}".strip() if dropping else given
        return StudyAuthor(family=family, given=given)
    if literal or given:
        return StudyAuthor(literal=literal or given)
    return None


def _first_date(data: Mapping[str, object]) -> tuple[int, ...]:
    for name in DATE_FIELDS:
        parts = _date_parts(data.get(name))
        if parts:
            return parts
    return ()


def _date_parts(value: object) -> tuple[int, ...]:
    """CSL's {"date-parts": [[2014, 4, 2]]} -> (2014, 4, 2); what is not a real date is
    cut back to the parts that are (a month 13-16 is a CSL season: the year stays)."""
    if not isinstance(value, dict):
        return ()
    outer = value.get("date-parts")
    if not isinstance(outer, list) or not outer or not isinstance(outer[0], list):
        return ()
    numbers: list[int] = []
    for part in outer[0][:3]:
        number = _integer(part)
        if number is None:
            break
        numbers.append(number)
    return _valid_date(numbers)


def _valid_date(numbers: list[int]) -> tuple[int, ...]:
    if not numbers or not 1 <= numbers[0] <= 9999:
        return ()
    if len(numbers) < 2 or not 1 <= numbers[1] <= 12:
        return (numbers[0],)
    if len(numbers) < 3 or not 1 <= numbers[2] <= calendar.monthrange(*numbers[:2])[1]:
        return (numbers[0], numbers[1])
    return (numbers[0], numbers[1], numbers[2])


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip()[:6])
    return None


# E-utilities pieces


def _summary(record: Mapping[str, object], uid: str, db: Literal["pubmed", "pmc"]) -> PubMedSummary:
    ids = _article_ids(record.get("articleids"))
    pmid = ids.get("pubmed") or ids.get("pmid") or (uid if db == "pubmed" else "")
    pmcid = ids.get("pmc") or ids.get("pmcid") or (f"PMC{uid}" if db == "pmc" else "")
    title = pubmed_title_text(_text(record.get("title")))
    if not title:
        raise StudyMetadataError(f"the esummary record for {uid} has no title")
    return PubMedSummary(
        db=db,
        pmid=_digits(pmid),
        pmcid=_pmcid(pmcid),
        doi=bare_doi(ids.get("doi", "")) or _elocation_doi(_text(record.get("elocationid"))),
        title=title,
        journal=_journal_name(_plain(_text(record.get("fulljournalname")))),
        journal_short=_plain(_text(record.get("source"))),
        volume=_plain(_text(record.get("volume"))),
        issue=_plain(_text(record.get("issue"))),
        pages=_full_pages(_plain(_text(record.get("pages")))),
        issued=_pubdate(_text(record.get("pubdate")) or _text(record.get("epubdate"))),
        authors=_pubmed_authors(record.get("authors")),
    )


def _journal_name(full: str) -> str:
    """NLM's full journal name without the subtitle it appends after " : " ("The Journal of
    neuroscience : the official journal of the Society for Neuroscience"): a citation names
    the journal, not its description."""
    return full.split(" : ", 1)[0].strip()


def _article_ids(value: object) -> dict[str, str]:
    """articleids as {idtype: value}, the first of each type. PubMed's idtype "pmc" holds
    "PMC3972727" and "pmcid" holds "pmc-id: PMC3972727;"; PMC's records say "pmid"."""
    ids: dict[str, str] = {}
    if not isinstance(value, list):
        return ids
    for item in value:
        if isinstance(item, dict):
            kind = _text(item.get("idtype")).lower()
            text = _text(item.get("value"))
            if kind and text:
                ids.setdefault(kind, text)
    return ids


def _pubmed_authors(value: object) -> tuple[StudyAuthor, ...]:
    if not isinstance(value, list):
        return ()
    authors: list[StudyAuthor] = []
    for item in value[:MAX_AUTHORS]:
        if not isinstance(item, dict) or _text(item.get("authtype")).lower() not in (
            "",
            "author",
        ):
            continue
        name = _name(item.get("name"))
        match = _PUBMED_NAME.match(name)
        if match:
            initials = " ".join(f"{letter}." for letter in match["initials"])
            authors.append(StudyAuthor(family=match["family"], given=initials))
        elif name:
            authors.append(StudyAuthor(literal=name))
    return tuple(authors)


def _pubdate(value: str) -> tuple[int, ...]:
    """PubMed's "2014 Apr 2", "2014 Apr", "2014 Spring", "2013 Dec-2014 Jan" -> date-parts."""
    words = value.replace("-", " ").split()
    numbers: list[int] = []
    if words and words[0].isascii() and words[0].isdigit():
        numbers.append(int(words[0][:6]))
        month = _MONTHS.get(words[1][:3].title()) if len(words) > 1 else None
        if month:
            numbers.append(month)
            if len(words) > 2 and words[2].isascii() and words[2].isdigit():
                numbers.append(int(words[2][:3]))
    return _valid_date(numbers)


def _full_pages(pages: str) -> str:
    """MEDLINE abbreviates page ranges ("5038-43"); CSL writes them whole ("5038-5043")."""
    first, dash, last = pages.partition("-")
    if dash and first.isdigit() and last.isdigit() and len(last) < len(first):
        return f"{first}-{first[: len(first) - len(last)]}{last}"
    return pages


def _elocation_doi(value: str) -> str:
    """PubMed's elocationid "doi: 10.1523/X pii: Y" -> "10.1523/X"."""
    words = value.split()
    for before, word in itertools.pairwise(words):
        if before.lower() == "doi:":
            return bare_doi(word)
    return ""


def _pubmed_url(summary: PubMedSummary) -> str:
    if summary.pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{summary.pmid}/"
    if summary.pmcid:
        return f"https://pmc.ncbi.nlm.nih.gov/articles/{summary.pmcid}/"
    return ""


# scalar helpers: every field may be anything in an untrusted answer


def _text(value: object) -> str:
    """A string or number as text; anything else (lists, objects, null) as ""."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value[: MAX_FIELD * 4]
    if isinstance(value, int | float):
        return str(value) if value == value else ""  # NaN is no value
    return ""


def _first_text(value: object) -> str:
    """A CSL field given as a string or as a list of strings (Crossref's REST API)."""
    if isinstance(value, list):
        return next((text for text in map(_plain, map(_text, value)) if text), "")
    return _plain(_text(value))


def _plain(value: str) -> str:
    """Any text field as plain text on one line (journal names carry tags too)."""
    return clean_title(value)


def _name(value: object) -> str:
    return _plain(_text(value))[:200]


def bare_doi(value: str) -> str:
    """The DOI in "10.1/x", "doi:10.1/x" or "https://doi.org/10.1/x"; "" when it is none."""
    value = value.strip()
    for prefix in (
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "doi:",
    ):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :].strip()
    if not value.startswith("10.") or "/" not in value or any(c.isspace() for c in value):
        return ""
    return value[:300]


def _digits(value: str) -> str:
    value = value.strip()
    return value if _DIGITS.fullmatch(value) else ""


def _pmcid(value: str) -> str:
    match = _PMCID.search(value)
    return f"PMC{match.group(1)}" if match else ""


def _web_url(value: object) -> str:
    url = _text(value).strip()
    return url[:MAX_FIELD] if url.lower().startswith(("https://", "http://")) else ""
