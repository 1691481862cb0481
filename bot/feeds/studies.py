"""Find the study a release announces: DOIs, PubMed and PubMed Central ids in its HTML.

Pure: strings in, `StudyRef`s out. Three sources use it: an entry's own HTML content and
summary (`find_studies`, called by bot/feeds/normalise.py), the entry's identifier fields
(`find_identifier_studies`: dc:identifier, prism:doi, links) and the release's web page
(`find_page_studies`: citation/Dublin Core meta tags first, for feeds with fetch_page).

DOIs follow Crossref's recommended pattern (`10.\\d{4,9}/[-._;()/:A-Z0-9]+`, any case),
then lose the punctuation a sentence put after them; a ")" goes only when it closes no
"(" inside the DOI, so "10.1016/S0140-6736(20)30183-5" stays whole. A DOI must start
"10." after no letter, digit or dot, and its registrant code has 4 to 9 digits: version
numbers, dates, IP addresses, decimals and phone numbers never take that shape.

Order: identifiers whose link text or sentence names the study ("study abstract",
"the paper", "published in ...") first, then DOIs, then PubMed ids, then PMC ids, then
those the sentence calls earlier work ("in a 2019 study", "previously reported"), each in
document order, each once (by `StudyRef.key`), at most MAX_STUDIES. Feed HTML is
untrusted: nothing here raises, and the work is capped (MAX_HTML_CHARS, MAX_OCCURRENCES).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin

from bot.models import StudyKind, StudyRef, StudySource

__all__ = [
    "DOI_PATTERN",
    "MAX_STUDIES",
    "find_identifier_studies",
    "find_page_studies",
    "find_studies",
    "merge_studies",
]

MAX_STUDIES = 10  # a release announcing more papers than this lists references, not studies
# An entry's HTML past this is not read (a post shows 3,000 characters; 100,000 is a long
# release with its references); a page's head and body up to the larger cap.
MAX_HTML_CHARS = 100_000
MAX_PAGE_CHARS = 500_000
MAX_OCCURRENCES = 500  # identifier matches looked at, per document
MAX_ANCHORS = 2_000

# Crossref's recommended pattern (https://www.crossref.org/blog/dois-and-matching-regular-
# expressions/), the dot escaped; anchored so that "110.1234/x" or "v10.1234/x" is no DOI.
DOI_PATTERN = re.compile(r"10\.\d{4,9}/[-._;()/:A-Z0-9]+", re.IGNORECASE)
# The same, case spelled out and the look-behind after the literal "10.", so that re scans
# for "10." at C speed instead of trying the look-behind at every character.
_DOI = re.compile(r"10\.(?<![\w.]10\.)\d{4,9}/[-._;()/:A-Za-z0-9]+")
# A DOI written percent-encoded in running text ("10.1016%2FS0140-6736%2820%2930183-5").
_ENCODED_DOI = re.compile(r"10\.(?<![\w.]10\.)\d{4,9}%2[Ff][^\s<>\"']+")
# Publisher URLs put a page name after the DOI (Wiley's ".../doi/10.1002/x.1/abstract").
_URL_TAIL = re.compile(r"/(?:abstract|full|pdf|epdf|epub|meta|references|summary)/?$", re.I)
# PubMed ids and PMC ids are looked for where their keyword starts (str.find, then one
# anchored match): an alternation run over the whole text costs 40 ns a character.
# pubmed.ncbi.nlm.nih.gov/NNN, ncbi.nlm.nih.gov/pubmed/NNN, "PubMed ID: NNN", "PMID: NNN":
_PUBMED_AT = re.compile(r"pubmed(?:\.ncbi\.nlm\.nih\.gov/|/|\s+id:?\s{0,3})(\d{1,9})(?!\d)", re.I)
_PMID_AT = re.compile(r"pmid:?\s{0,3}(\d{1,9})(?!\d)", re.I)
_OLD_PUBMED_HOSTS = ("ncbi.nlm.nih.gov/", "ncbi.nlm.nih.gov/m/")
# PMC ids bare or in either PMC address (ncbi.nlm.nih.gov/pmc/articles/PMC..., and
# pmc.ncbi.nlm.nih.gov/articles/PMC...): all write "PMC" and the number.
_PMCID_AT = re.compile(r"pmc(\d{4,9})(?!\d)", re.I)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DOI_START = re.compile(r"10\.\d{4,9}(?:/|%2[Ff])")

# Words that name the study, in a link's text or in the sentence around an identifier.
_CUE = re.compile(
    r"\b(?:stud(?:y|ies)|abstract|paper|(?:journal|research)\s+article|article|full[\s-]+text"
    r"|published\b[^.\n]{0,60}?\bin|appears?\s+(?:online\s+)?in|reference|citation)\b",
    re.IGNORECASE,
)
# Words that say the identifier beside them is an earlier paper the release cites ("in a
# 2019 study", "their earlier paper", "previously reported"), not the one it announces:
# such an identifier is kept, but after every other.
_EARLIER = re.compile(
    r"\b(?:earlier|previous(?:ly)?|prior\s+(?:stud|work|paper|research|finding)\w*"
    r"|(?:19|20)\d\d\s+(?:stud(?:y|ies)|paper|article|report|trial)"
    r"|(?:had|have)\s+(?:already\s+)?(?:shown|found|reported|published))\b",
    re.IGNORECASE,
)
_EARLIER_RANK = 4  # after the study-naming ones (0), DOIs (1), PubMed (2) and PMC ids (3)
# Where a sentence ends: a stop before space and a capital, or a line (block) break.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+(?=[A-Z\"\u201c(])|\n")
_LEFT, _RIGHT = 250, 150  # characters of context read before and after an identifier

# Meta tags that give a page's study: Highwire/Google Scholar, bepress, Dublin Core, PRISM.
_META_NAMES = frozenset(
    {
        "citation_doi", "bepress_citation_doi", "citation_pmid", "citation_pmcid",
        "dc.identifier", "dc.identifier.doi", "prism.doi",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style"})
_BLOCKS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3",
        "h4", "h5", "h6", "blockquote", "section", "article", "header", "footer", "hr",
        "figure", "figcaption", "dd", "dt", "pre",
    }
)  # fmt: skip
_KIND_RANK: dict[StudyKind, int] = {"doi": 1, "pmid": 2, "pmcid": 3}


def find_studies(html: str, *, base_url: str = "") -> tuple[StudyRef, ...]:
    """The studies an entry's HTML (content and summary) points to, best first."""
    if not isinstance(html, str) or not _worth_reading(html[:MAX_HTML_CHARS], base_url):
        return ()
    document = _read(html[:MAX_HTML_CHARS], want_meta=False)
    return _ranked(_occurrences(document, base_url, "feed"))


def find_page_studies(html: str, *, base_url: str = "") -> tuple[StudyRef, ...]:
    """The studies a release's web page points to: its citation_doi, citation_pmid,
    dc.identifier and prism.doi meta tags first (in page order), then its links and text
    as in `find_studies`; every ref with source "page"."""
    if not isinstance(html, str) or not _worth_reading(html[:MAX_PAGE_CHARS], base_url):
        return ()
    document = _read(html[:MAX_PAGE_CHARS], want_meta=True)
    meta: list[StudyRef] = []
    for name, content in document.meta:
        if name == "citation_pmid" and content.strip().isdigit():  # the tag holds the number
            meta += _pmid_ref(content.strip(), "page")
        elif name in _META_NAMES:
            meta += find_identifier_studies([content], source="page")
    return merge_studies(meta, _ranked(_occurrences(document, base_url, "page")))


def find_identifier_studies(
    values: Iterable[str], *, source: StudySource = "feed"
) -> tuple[StudyRef, ...]:
    """The studies named by identifier fields ("doi:10.1101/2023.12.16.571984",
    "info:doi/10...", a doi.org or PubMed address), in the order given."""
    found: list[StudyRef] = []
    for value in values:
        if isinstance(value, str) and _may_name_study(value[:MAX_HTML_CHARS]):
            found.extend(ref for _, _, ref in _in_string(unquote(value[:MAX_HTML_CHARS]), source))
    return merge_studies(found)


def merge_studies(*groups: Iterable[StudyRef]) -> tuple[StudyRef, ...]:
    """The refs of every group in order, each key once (the first kept), at most MAX_STUDIES."""
    kept: dict[str, StudyRef] = {}
    for group in groups:
        for ref in group:
            if len(kept) == MAX_STUDIES:
                return tuple(kept.values())
            kept.setdefault(ref.key, ref)
    return tuple(kept.values())


def _worth_reading(html: str, base_url: str) -> bool:
    """Whether `html` may name a study: most entries do not, and one search tells. A page on
    PubMed or PMC may link to its ids by relative addresses."""
    return _may_name_study(html) or (isinstance(base_url, str) and _may_name_study(base_url))


def _may_name_study(text: str) -> bool:
    """False when no identifier pattern can match `text`: most entries, told by a few
    substring searches (a regex alternation would try every branch at every character)."""
    if "10." in text and _DOI_START.search(text):
        return True
    lower = text.lower()
    return "pubmed" in lower or "pmid" in lower or "pmc" in lower


@dataclass(frozen=True, slots=True)
class _Anchor:
    href: str
    start: int  # where its text starts in the document's text
    end: int


@dataclass(frozen=True, slots=True)
class _Document:
    text: str  # the visible text; block elements end a line
    anchors: tuple[_Anchor, ...]  # in document order
    meta: tuple[tuple[str, str], ...]  # (lowercased name or property, content)


@dataclass(frozen=True, slots=True)
class _Occurrence:
    ref: StudyRef
    position: int  # in the document's text
    cued: bool  # its link or sentence names the study
    earlier: bool = False  # its link or sentence names it an earlier paper


class _Collector(HTMLParser):
    """The text, links and (on request) meta tags of an HTML document."""

    def __init__(self, *, want_meta: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.anchors: list[_Anchor] = []
        self.meta: list[tuple[str, str]] = []
        self._want_meta = want_meta
        self._skipping = 0
        self._open: tuple[str, int] | None = None  # the href and start of an unclosed <a>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag == "a":
            self._close_anchor()
            href = _attribute(attrs, "href")
            if href:
                self._open = (href, self.size)
        elif tag == "meta" and self._want_meta:
            name = _attribute(attrs, "name") or _attribute(attrs, "property")
            content = _attribute(attrs, "content")
            if name and content:
                self.meta.append((name.strip().lower(), content))
        elif tag in _BLOCKS:
            self._add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "a":
            self._close_anchor()
        elif tag in _BLOCKS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._add(data)

    def close(self) -> None:
        super().close()
        self._close_anchor()

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def _close_anchor(self) -> None:
        if self._open is not None and len(self.anchors) < MAX_ANCHORS:
            href, start = self._open
            self.anchors.append(_Anchor(href, start, self.size))
        self._open = None


def _attribute(attrs: list[tuple[str, str | None]], name: str) -> str:
    for key, value in attrs:
        if key == name and value:
            return value
    return ""


def _read(html: str, *, want_meta: bool) -> _Document:
    collector = _Collector(want_meta=want_meta)
    try:
        collector.feed(html)
        collector.close()
    except AssertionError:  # html.parser's way to refuse some "<!" declarations
        # read it all as text, tags and addresses included: no link rule, no id lost
        return _Document(unescape(html), (), ())
    return _Document("".join(collector.parts), tuple(collector.anchors), tuple(collector.meta))


def _occurrences(document: _Document, base_url: str, source: StudySource) -> Iterator[_Occurrence]:
    """Every identifier in the text and in the links' addresses, with its position."""
    text, anchors = document.text, document.anchors
    starts = [anchor.start for anchor in anchors]
    # a link's verdicts (names a study, names an earlier one), for its text and its href
    cued: dict[tuple[int, int, bool], tuple[bool, bool]] = {}

    def occurrence(ref: StudyRef, start: int, end: int, in_link: bool) -> _Occurrence:
        span = (start, end, in_link)
        if span not in cued:
            cued[span] = _names_study(text, start, end, in_link=in_link)
        return _Occurrence(ref, start, *cued[span])

    for start, end, ref in _in_string(text, source):
        index = bisect_right(starts, start) - 1
        if index >= 0 and start < anchors[index].end:  # the link's text: read as the link
            yield occurrence(ref, anchors[index].start, anchors[index].end, True)
        else:
            yield occurrence(ref, start, end, False)
    for anchor in anchors:
        href = _resolved(anchor.href, base_url)
        if _may_name_study(href):
            for _, _, ref in _in_string(href, source):
                yield occurrence(ref, anchor.start, anchor.end, True)


def _names_study(text: str, start: int, end: int, *, in_link: bool) -> tuple[bool, bool]:
    """Whether the link's text (`in_link`: text[start:end]), or the sentence around
    text[start:end], names a study; and whether it names an earlier one."""
    left = text[max(0, start - _LEFT) : start]
    ends = [match.end() for match in _SENTENCE_END.finditer(left)]
    if ends:
        left = left[ends[-1] :]
    right = text[end : end + _RIGHT]
    stop = _SENTENCE_END.search(right)
    if stop:
        right = right[: stop.start()]
    linked = in_link and text[start:end]
    earlier = any(_EARLIER.search(part) for part in (left, right, linked or ""))
    if linked and _CUE.search(linked):
        return True, earlier
    return bool(_CUE.search(left) or _CUE.search(right)), earlier


def _in_string(text: str, source: StudySource) -> Iterator[tuple[int, int, StudyRef]]:
    """(start, end, ref) of each identifier written in `text`, at most MAX_OCCURRENCES."""
    found = 0
    for match in _matches(text):
        for ref in _refs(match, source):
            if found == MAX_OCCURRENCES:
                return
            found += 1
            yield match.start(), match.end(), ref


def _matches(text: str) -> Iterator[re.Match[str]]:
    """Matches of each identifier pattern whose keyword is in `text`."""
    lower = text.lower()
    if len(lower) != len(text):  # "İ" lowers to two characters: keep positions aligned
        lower = text.translate(_ASCII_LOWER)
    if "10." in text:
        yield from _DOI.finditer(text)
        if "%2f" in lower:
            yield from _ENCODED_DOI.finditer(text)
    for start in _found(lower, "pubmed"):
        match = _PUBMED_AT.match(text, start)
        if match and (lower[start + 6] != "/" or lower.endswith(_OLD_PUBMED_HOSTS, 0, start)):
            yield match
    for keyword, pattern in (("pmid", _PMID_AT), ("pmc", _PMCID_AT)):
        for start in _found(lower, keyword):
            match = pattern.match(text, start)
            if match and (start == 0 or not lower[start - 1].isalnum()):
                yield match


def _found(lower: str, keyword: str) -> Iterator[int]:
    """Where `keyword` starts in `lower`, each place in order."""
    start = lower.find(keyword)
    while start != -1:
        yield start
        start = lower.find(keyword, start + 1)


def _refs(match: re.Match[str], source: StudySource) -> list[StudyRef]:
    if match.re is _PUBMED_AT or match.re is _PMID_AT:
        return _pmid_ref(match.group(1), source)
    if match.re is _PMCID_AT:
        number = int(match.group(1))
        return [StudyRef("pmcid", f"PMC{number}", source)] if number else []
    written = unquote(match.group()) if match.re is _ENCODED_DOI else match.group()
    doi_match = _DOI.match(written)
    doi = _trimmed_doi(doi_match.group()) if doi_match else ""
    return [StudyRef("doi", doi, source)] if doi else []


def _pmid_ref(digits: str, source: StudySource) -> list[StudyRef]:
    number = int(digits) if digits.isdigit() and len(digits) <= 9 else 0
    return [StudyRef("pmid", str(number), source)] if number else []


def _trimmed_doi(doi: str) -> str:
    """The DOI without what followed it in a sentence or an address; "" when nothing of it
    is left. Trailing ".,;:/" go; a ")" only when more close than open inside the DOI."""
    while doi:
        tail = _URL_TAIL.search(doi)
        if tail:
            doi = doi[: tail.start()]
        elif doi[-1] in ".,;:/" or (doi[-1] == ")" and doi.count(")") > doi.count("(")):
            doi = doi[:-1]
        else:
            break
    return doi if DOI_PATTERN.fullmatch(doi) else ""


def _resolved(href: str, base_url: str) -> str:
    """The link's address made absolute against `base_url`, percent-decoded."""
    href = href.strip()
    if base_url:
        # "http://[::1" and other addresses urllib will not split stay as written
        with suppress(ValueError):
            href = urljoin(base_url, href)
    return unquote(href)


def _ranked(occurrences: Iterable[_Occurrence]) -> tuple[StudyRef, ...]:
    """Study-naming ones first, then DOIs, PubMed ids, PMC ids, then those named earlier
    papers; document order in each."""
    best: dict[str, tuple[int, int, int, StudyRef]] = {}
    for order, occurrence in enumerate(occurrences):
        ref = occurrence.ref
        rank = 0 if occurrence.cued else _KIND_RANK[ref.kind]
        if occurrence.earlier:
            rank = _EARLIER_RANK
        candidate = (rank, occurrence.position, order, ref)
        if ref.key not in best or candidate[:3] < best[ref.key][:3]:
            best[ref.key] = candidate
    return tuple(entry[3] for entry in sorted(best.values(), key=lambda e: e[:3]))[:MAX_STUDIES]
