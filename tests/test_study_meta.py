"""Normalising the study services' answers: Crossref's CSL-JSON and NCBI's esummary/esearch
JSON become one Study, and nothing they send makes anything but StudyMetadataError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import StudyMetadataError
from bot.feeds.study_meta import (
    PubMedSummary,
    clean_title,
    csl_type,
    merge_study,
    parse_csl,
    parse_esearch,
    parse_esummary,
    pubmed_title_text,
    study_from_csl,
    study_from_pubmed,
)
from bot.models import Study, StudyAuthor
from tests.fakes.study_services import (
    SEED_AUTHORS,
    SEED_DOI,
    SEED_PMCID,
    SEED_PMID,
    SEED_TITLE_CROSSREF,
    seed_csl,
    seed_pmc,
    seed_pubmed,
)

PUBMED_TITLE = (
    "Nipping cue reactivity in the bud: baclofen prevents limbic activation elicited by "
    "subliminal drug cues"
)
SEED_STUDY = Study(
    doi=SEED_DOI,
    pmid=SEED_PMID,
    pmcid=SEED_PMCID,
    kind="article-journal",
    title=SEED_TITLE_CROSSREF,
    pubmed_title=PUBMED_TITLE,
    authors=tuple(StudyAuthor(family=family, given=given) for given, family in SEED_AUTHORS),
    journal="The Journal of Neuroscience",
    journal_short="J. Neurosci.",
    volume="34",
    issue="14",
    pages="5038-5043",
    issued=(2014, 4, 2),
    url=f"https://doi.org/{SEED_DOI}",
)


def esummary(record: dict[str, Any], db: str = "pubmed") -> bytes:
    uid = str(record["uid"])
    body = {
        "header": {"type": "esummary", "version": "0.3"},
        "result": {"uids": [uid], uid: record},
    }
    return json.dumps(body).encode()


def csl(**changes: Any) -> dict[str, Any]:
    return seed_csl() | changes


# CSL-JSON


def test_seed_csl_becomes_the_seed_study():
    """Crossref's record for the seed DOI gives every field a citation needs."""
    study = parse_csl(json.dumps(seed_csl()).encode())
    expected = Study(**{**_fields(SEED_STUDY), "pmid": "", "pmcid": "", "pubmed_title": ""})
    assert study == expected


def test_seed_merged_with_pubmed_is_the_full_seed_study():
    """CSL-JSON plus PubMed's record: PMID, PMCID and PubMed's sentence-case title added."""
    study = parse_csl(json.dumps(seed_csl()).encode())
    summary = parse_esummary(esummary(seed_pubmed()), SEED_PMID)
    assert merge_study(study, summary) == SEED_STUDY


@pytest.mark.parametrize(
    ("crossref", "csl_name"),
    [
        ("journal-article", "article-journal"),
        ("proceedings-article", "paper-conference"),
        ("book-chapter", "chapter"),
        ("posted-content", "article"),
        ("dissertation", "thesis"),
        ("dataset", "dataset"),
        ("report", "report"),
        ("monograph", "book"),
        ("article-journal", "article-journal"),  # already CSL's
        ("something-new", "article"),
        ("", "article"),
    ],
)
def test_crossref_types_become_csl_types(crossref, csl_name):
    """Crossref's type names are mapped to the CSL types the citation styles know."""
    assert csl_type(crossref) == csl_name
    assert study_from_csl(csl(type=crossref)).kind == csl_name


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<i>Drosophila</i> wings", "Drosophila wings"),
        ("CO<sub>2</sub> and H<sup>+</sup>", "CO2 and H+"),
        (
            "<jats:title>The <jats:italic>C. elegans</jats:italic> gut</jats:title>",
            "The C. elegans gut",
        ),
        ("Salt &amp; pepper &#8211; &quot;why&quot;", 'Salt & pepper – "why"'),
        ("&lt;i&gt;Mus musculus&lt;/i&gt; alleles", "Mus musculus alleles"),
        ("Effects at p < 0.05 and > 3", "Effects at p < 0.05 and > 3"),
        ("  Two\n lines\t here ", "Two lines here"),
        ("Left \u202eopen", "Left open"),
    ],
)
def test_titles_lose_their_tags(raw, clean):
    """JATS and HTML markup and entities in a title become plain text, comparisons kept."""
    assert clean_title(raw) == clean
    assert study_from_csl(csl(title=raw)).title == clean


def test_title_and_subtitle_as_crossref_lists():
    """Crossref's REST shape (title and subtitle as lists) is read as well as CN's strings."""
    study = study_from_csl(csl(title=["Main title"], subtitle=["a subtitle"]))
    assert study.title == "Main title: a subtitle"


def test_authors_groups_and_particles():
    """Persons as family/given (particles kept with the family name), groups as literal."""
    authors = [
        {"given": "Ludwig", "family": "Beethoven", "non-dropping-particle": "van"},
        {"name": "The ENIGMA Consortium", "sequence": "additional", "affiliation": []},
        {"literal": "WHO Study Group"},
        {"given": "Cher"},
        {"sequence": "additional"},
        "not an author",
    ]
    study = study_from_csl(csl(author=authors))
    assert study.authors == (
        StudyAuthor(family="van Beethoven", given="Ludwig"),
        StudyAuthor(literal="The ENIGMA Consortium"),
        StudyAuthor(literal="WHO Study Group"),
        StudyAuthor(literal="Cher"),
    )


def test_container_title_as_list_and_numbers_as_strings():
    """container-title as a list, volume/issue/page as numbers: all plain strings."""
    study = study_from_csl(
        csl(**{"container-title": ["", "Nature"], "volume": 34, "issue": 2, "page": 17})
    )
    assert (study.journal, study.volume, study.issue, study.pages) == ("Nature", "34", "2", "17")


@pytest.mark.parametrize(
    ("dates", "issued"),
    [
        ({"issued": {"date-parts": [[2014, 4, 2]]}}, (2014, 4, 2)),
        (
            {"issued": {"date-parts": [[None]]}, "published-print": {"date-parts": [[2013]]}},
            (2013,),
        ),
        ({"published-online": {"date-parts": [["2012", "7"]]}}, (2012, 7)),
        ({"published": {"date-parts": [[2011, 2, 30]]}}, (2011, 2)),  # no 30 February
        ({"issued": {"date-parts": [[2010, 14]]}}, (2010,)),  # a CSL season: year only
        ({"issued": {"raw": "spring 2009"}}, ()),
    ],
)
def test_issued_from_the_first_usable_date(dates, issued):
    """issued, else published-print, published-online, published; impossible parts cut."""
    record = {
        key: value for key, value in seed_csl().items() if not key.startswith(("issued", "publ"))
    }
    assert study_from_csl(record | dates).issued == issued


def test_url_is_the_doi_url():
    """The study's link is its https://doi.org/ URL, not Crossref's http://dx.doi.org/ one."""
    assert study_from_csl(csl()).url == f"https://doi.org/{SEED_DOI}"
    no_doi = {key: value for key, value in seed_csl().items() if key != "DOI"}
    assert study_from_csl(no_doi, "10.1/asked").doi == "10.1/asked"


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>DOI Not Found</html>", b"[]", b'"text"', b"{}", b'{"title": ""}', b"[" * 100000,
     b'{"title": "cut off', b"\xff\xfe\x00"],
)  # fmt: skip
def test_unusable_csl_is_one_error(body):
    """Not JSON, not a record, or no title: StudyMetadataError, never anything else."""
    with pytest.raises(StudyMetadataError):
        parse_csl(body)


# NCBI


def test_pubmed_summary_of_the_seed():
    """PubMed's esummary gives the PMID, PMCID, DOI and its sentence-case title."""
    summary = parse_esummary(esummary(seed_pubmed()), SEED_PMID)
    assert summary == PubMedSummary(
        db="pubmed",
        pmid=SEED_PMID,
        pmcid=SEED_PMCID,
        doi=SEED_DOI,
        title=PUBMED_TITLE,
        journal="The Journal of neuroscience",  # NLM's subtitle after " : " dropped
        journal_short="J Neurosci",
        volume="34",
        issue="14",
        pages="5038-5043",
        issued=(2014, 4, 2),
        authors=tuple(
            StudyAuthor(
                family=family, given=" ".join(f"{p[0]}." for p in given.replace(".", " ").split())
            )
            for given, family in SEED_AUTHORS
        ),
    )


def test_pmc_summary_of_the_seed():
    """PMC's esummary (idtype "pmid") gives the PMID and DOI for a PMCID."""
    summary = parse_esummary(esummary(seed_pmc(), "pmc"), "3972727", "pmc")
    assert summary is not None
    assert (summary.pmid, summary.pmcid, summary.doi) == (SEED_PMID, SEED_PMCID, SEED_DOI)
    study = merge_study(study_from_csl(seed_csl()), summary)
    assert study.pubmed_title == ""  # PMC's title is the journal's case, not PubMed's


@pytest.mark.parametrize(
    ("title", "kept"),
    [
        ("Baclofen prevents limbic activation.", "Baclofen prevents limbic activation"),
        ("Does baclofen work?", "Does baclofen work?"),
        ("Opioid deaths in the U.S.", "Opioid deaths in the U.S."),
        ("[Baclofen in alcohol dependence].", "[Baclofen in alcohol dependence]"),
        ("Wait...", "Wait..."),
    ],
)
def test_pubmed_title_loses_only_its_closing_period(title, kept):
    """The period PubMed closes every title with goes; the styles add their own."""
    assert pubmed_title_text(title) == kept


def test_unknown_ids_are_none():
    """NCBI's "cannot get document summary" and an unreadable id list mean no record."""
    missing = {
        "header": {},
        "result": {"uids": ["1"], "1": {"uid": "1", "error": "cannot get document summary"}},
    }
    assert parse_esummary(json.dumps(missing).encode(), "1") is None
    empty = {"header": {}, "esummaryresult": ["Empty id list - nothing todo"]}
    assert parse_esummary(json.dumps(empty).encode(), "x") is None
    assert parse_esummary(esummary(seed_pubmed()), "999") is None


@pytest.mark.parametrize(
    "body",
    [b'{"error":"API rate limit exceeded","api-key":"1.2.3.4","count":"4","limit":"3"}',
     b'{"header": {}, "result": {"uids": "24695721"}}', b"<eSummaryResult/>", b"null",
     b'{"result": {"uids": ["1"], "1": {"uid": "1"}}}'],
)  # fmt: skip
def test_unusable_esummary_is_one_error(body):
    """Error answers and wrong shapes raise StudyMetadataError."""
    with pytest.raises(StudyMetadataError):
        parse_esummary(body, "1")


def test_esearch_ids():
    """esearch's idlist, digits only; no match is an empty tuple; errors raise."""
    found = {"esearchresult": {"count": "1", "idlist": ["24695721", "x", 7]}}
    assert parse_esearch(json.dumps(found).encode()) == ("24695721", "7")
    none = {"esearchresult": {"count": "0", "idlist": [], "warninglist": {}}}
    assert parse_esearch(json.dumps(none).encode()) == ()
    with pytest.raises(StudyMetadataError):
        parse_esearch(b'{"esearchresult": {"ERROR": "Invalid db name specified: x"}}')


def test_merge_ignores_a_record_of_another_doi():
    """A PubMed record naming another DOI is another paper: nothing of it is taken."""
    study = study_from_csl(seed_csl())
    other = PubMedSummary(db="pubmed", pmid="1", doi="10.1/other", title="Other paper")
    assert merge_study(study, other) == study


def test_study_from_pubmed_alone():
    """Without CSL-JSON, PubMed's record is the study: initials, full page range, PubMed URL."""
    summary = parse_esummary(
        esummary(seed_pubmed() | {"articleids": [], "elocationid": ""}), SEED_PMID
    )
    assert summary is not None
    study = study_from_pubmed(summary)
    assert study.doi == ""
    assert study.title == study.pubmed_title == PUBMED_TITLE
    assert study.authors[0] == StudyAuthor(family="Young", given="K. A.")
    assert study.pages == "5038-5043"
    assert study.url == f"https://pubmed.ncbi.nlm.nih.gov/{SEED_PMID}/"


# anything at all

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(
        st.sampled_from(["title", "author", "DOI", "issued", "date-parts", "family", "given",
                         "result", "uids", "1", "error", "articleids", "idtype", "value",
                         "esearchresult", "idlist", "container-title", "page", "type"])
        | st.text(max_size=8),
        children,
        max_size=6,
    ),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_gives_a_study_or_the_one_error(data):
    """Whatever JSON the services send, the normaliser returns a model or StudyMetadataError."""
    body = json.dumps(data).encode()
    for parse in (
        lambda: study_from_csl(data),
        lambda: parse_esummary(body, "1"),
        lambda: parse_esummary(body, "1", "pmc"),
        lambda: parse_esearch(body),
    ):
        try:
            result = parse()
        except StudyMetadataError:
            continue
        assert result is None or isinstance(result, Study | PubMedSummary | tuple)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(seed_csl())), JSON, max_size=8))
def test_seed_record_with_any_fields_replaced(changes):
    """The seed record with fields swapped for junk still gives a Study or the one error,
    and a Study's text fields are single-line strings."""
    try:
        study = study_from_csl(seed_csl() | changes)
    except StudyMetadataError:
        return
    for value in (study.title, study.journal, study.volume, study.pages, study.doi):
        assert isinstance(value, str)
        assert "\n" not in value
    assert all(isinstance(part, int) for part in study.issued)


@pytest.mark.parametrize("field", ["volume", "issue", "page"])
def test_volume_issue_and_pages_are_one_line_of_text(field):
    """A line break or tags in volume, issue or page never reach a citation (found by
    Hypothesis: a volume of "\\n" was kept as it was)."""
    study = study_from_csl(seed_csl() | {field: "\n 34 <b>\n</b>"})
    assert getattr(study, "pages" if field == "page" else field) == "34"


@given(st.text(max_size=60), st.sampled_from(["i", "b", "sub", "sup", "jats:italic", "scp"]))
def test_tags_never_survive_a_title(text, tag):
    """A title wrapped in inline markup comes out as its text, without the tags."""
    cleaned = clean_title(f"<{tag}>{text.replace('<', ' ')}</{tag}>")
    assert f"<{tag}>" not in cleaned
    assert f"</{tag}>" not in cleaned


def _fields(study: Study) -> dict[str, Any]:
    return {name: getattr(study, name) for name in Study.__slots__}
