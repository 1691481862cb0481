"""Finding the study behind a release (issue 14): DOIs, PubMed and PMC ids in feed HTML.

Examples for every written form, the NIDA study fixture through the real parse_feed, a
release's web page, and property tests for what must never be taken for a DOI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.feeds.parse import parse_feed
from bot.feeds.studies import (
    MAX_STUDIES,
    find_identifier_studies,
    find_page_studies,
    find_studies,
)
from bot.models import StudyRef

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NIDA_FEED = FIXTURES / "nida_study.rss.xml"
NIDA_BASE = "https://www.drugabuse.gov/news-events/news-releases/feed"
SEED_DOI = "10.1523/JNEUROSCI.4977-13.2014"
DOI_ITEM = "Unseen drug cues and the brain: how baclofen quiets the craving circuit"
LANCET_DOI = "10.1016/S0140-6736(20)30183-5"
CROSSREF = re.compile(r"10\.\d{4,9}/[-._;()/:A-Z0-9]+", re.IGNORECASE)


def doi(value: str) -> StudyRef:
    return StudyRef("doi", value)


def pmid(value: str) -> StudyRef:
    return StudyRef("pmid", value)


def pmcid(value: str) -> StudyRef:
    return StudyRef("pmcid", value)


def dois(html: str) -> list[str]:
    return [ref.value for ref in find_studies(html) if ref.kind == "doi"]


# --- DOIs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        f"<p>Young et al. J Neurosci 2014;34(14):5038-43. {SEED_DOI}</p>",
        f"<p>doi:{SEED_DOI}</p>",
        f"<p>DOI: {SEED_DOI}</p>",
        f"<p>https://doi.org/{SEED_DOI}</p>",
        f"<p>http://dx.doi.org/{SEED_DOI}</p>",
        f'<p><a href="https://doi.org/{SEED_DOI}">Read it</a></p>',
        '<p><a href="https://doi.org/10.1523%2FJNEUROSCI.4977-13.2014">Read it</a></p>',
        f'<p><a href="http://dx.doi.org/{SEED_DOI}?utm_source=rss#abstract">Read it</a></p>',
    ],
)
def test_each_written_form_of_a_doi_gives_the_doi(html):
    """Bare, doi:/DOI: prefixed, doi.org and dx.doi.org addresses, and links (percent-encoded
    too) all give the DOI as written."""
    assert find_studies(html) == (doi(SEED_DOI),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"(see doi:{SEED_DOI}).", SEED_DOI),
        (f"doi:{SEED_DOI}, and", SEED_DOI),
        (f"doi:{SEED_DOI};", SEED_DOI),
        (f"DOI: {SEED_DOI}: the paper", SEED_DOI),
        (f"The Lancet ({LANCET_DOI}).", LANCET_DOI),
        (f"doi:{LANCET_DOI}", LANCET_DOI),
        (
            "https://onlinelibrary.wiley.com/doi/10.1002/anie.201000001/abstract",
            "10.1002/anie.201000001",
        ),
        ("Read 10.1016%2FS0140-6736%2820%2930183-5 online", LANCET_DOI),
    ],
)
def test_the_punctuation_after_a_doi_is_trimmed_and_its_own_parentheses_kept(text, expected):
    """Trailing ".", ",", ";", ":" and an unmatched ")" go; "(20)" inside a DOI stays."""
    assert dois(f"<p>{text}</p>") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Version 10.2.3 of the app",
        "Call 301-443-6245 for details",
        "Released 10.12.2014 in Europe, 2014-04-02 here",
        "The server at 10.0.0.1 and 10.255.255.255/24",
        "Prices rose 10.12345 percent; 3.14159 is pi",
        "Grant DA015392 and R01-DA030395",
        "v10.1234/abc and 110.1234/abc are no DOIs",
    ],
)
def test_numbers_that_look_like_identifiers_are_not_studies(text):
    """Version numbers, phone numbers, dates, IP addresses and decimals give no study."""
    assert find_studies(f"<p>{text}</p>") == ()


# --- PubMed and PubMed Central ------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "https://pubmed.ncbi.nlm.nih.gov/24695721/",
        "http://www.ncbi.nlm.nih.gov/pubmed/24695721",
        '<a href="https://www.ncbi.nlm.nih.gov/pubmed/24695721">abstract</a>',
        "PMID: 24695721",
        "PMID 24695721.",
        "PMID:24695721",
    ],
)
def test_each_written_form_of_a_pubmed_id_gives_the_id(html):
    """PubMed addresses (new and old) and PMID labels give the PubMed id."""
    assert find_studies(f"<p>{html}</p>") == (pmid("24695721"),)


@pytest.mark.parametrize(
    "html",
    [
        "Full text: PMC3972727.",
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3972727/",
        '<a href="https://pmc.ncbi.nlm.nih.gov/articles/PMC3972727/">free copy</a>',
    ],
)
def test_each_written_form_of_a_pmc_id_gives_the_id(html):
    """A bare PMC id and both PMC addresses give the PMC id."""
    assert find_studies(f"<p>{html}</p>") == (pmcid("PMC3972727"),)


# --- ranking --------------------------------------------------------------------------------


def test_a_link_that_names_the_study_comes_before_other_identifiers():
    """An earlier DOI without context ranks after the PubMed link of "the study abstract"."""
    html = (
        "<p>Earlier work (doi:10.1000/earlier.1) showed the effect in rats.</p>"
        "<p>For a copy of the study abstract (published online April 2), go to: "
        '<a href="http://www.ncbi.nlm.nih.gov/pubmed/24695721">'
        "http://www.ncbi.nlm.nih.gov/pubmed/24695721</a>.</p>"
    )
    assert find_studies(html) == (pmid("24695721"), doi("10.1000/earlier.1"))


@pytest.mark.parametrize(
    "sentence",
    [
        '<a href="https://doi.org/{}">Read the paper</a>',
        '<a href="https://doi.org/{}">journal article</a>',
        '<a href="https://doi.org/{}">Full text</a>',
        'The findings were published in <em>Neuron</em>: <a href="https://doi.org/{}">link</a>',
        'Results appear online in Neuron (<a href="https://doi.org/{}">here</a>).',
    ],
)
def test_each_study_naming_phrase_puts_its_link_first(sentence):
    """Links called "paper", "journal article", "full text" or "published in" rank first."""
    html = f"<p>PMID: 11111111.</p><p>{sentence.format('10.1016/j.neuron.2020.01.001')}</p>"
    assert find_studies(html)[0] == doi("10.1016/j.neuron.2020.01.001")


def test_without_study_words_dois_come_before_pubmed_then_pmc():
    """No phrase names a study: DOIs, then PubMed ids, then PMC ids, each in document order."""
    html = "<p>PMC3972727; PMID 24695721; 10.1000/a.1; PMID 1; 10.1000/b.2</p>"
    assert find_studies(html) == (
        doi("10.1000/a.1"),
        doi("10.1000/b.2"),
        pmid("24695721"),
        pmid("1"),
        pmcid("PMC3972727"),
    )


def test_each_study_is_listed_once_whatever_its_spelling():
    """The same DOI as link, text and in another case, and PMC ids in two cases, once each."""
    html = (
        f'<p><a href="https://doi.org/{SEED_DOI}">https://doi.org/{SEED_DOI}</a> '
        f"({SEED_DOI.lower()}) PMC3972727 pmc3972727</p>"
    )
    assert find_studies(html) == (doi(SEED_DOI), pmcid("PMC3972727"))


def test_two_papers_are_both_kept_and_the_count_is_capped():
    """A release announcing two papers keeps both; a list of references stops at MAX_STUDIES."""
    two = "<p>The two papers: 10.1000/one.1 and 10.1000/two.2.</p>"
    assert dois(two) == ["10.1000/one.1", "10.1000/two.2"]
    many = " ".join(f"10.1000/ref.{n}" for n in range(50))
    assert len(find_studies(many)) == MAX_STUDIES


def test_relative_links_are_read_against_the_base_url():
    """A PubMed page's relative link gives its PubMed id."""
    html = '<a href="/24695721/">the study</a>'
    assert find_studies(html, base_url="https://pubmed.ncbi.nlm.nih.gov/") == (pmid("24695721"),)


def test_scripts_and_styles_hold_no_study():
    """Identifiers inside <script> or <style> are not the release's study."""
    html = "<script>var d = '10.1000/tracker.1';</script><style>/*PMC1234*/</style>"
    assert find_studies(html) == ()


# --- the NIDA fixture through parse_feed ----------------------------------------------------


@pytest.fixture(scope="module")
def nida_releases():
    feed = parse_feed(NIDA_FEED.read_bytes(), feed_name="nida", base_url=NIDA_BASE)
    return {release.title: release for release in feed.releases}


def test_the_seed_release_points_to_its_study_abstract_on_pubmed(nida_releases):
    """The seed's "study abstract" link (in content:encoded) gives PubMed id 24695721."""
    seed = nida_releases["Medication can help prevent relapse in cocaine-dependent males"]
    assert seed.studies == (pmid("24695721"),)


def test_the_seed_post_text_is_still_plain_text(nida_releases):
    """Reading the links leaves the release's plain-text summary as it was."""
    seed = nida_releases["Medication can help prevent relapse in cocaine-dependent males"]
    assert seed.summary.startswith("A medication already approved for muscle spasms, baclofen,")
    assert "<" not in seed.summary
    assert "pubmed" not in seed.summary


def test_a_release_with_a_doi_link_points_to_the_doi(nida_releases):
    """The second item's doi.org link in a "published in" sentence gives the DOI."""
    release = nida_releases[DOI_ITEM]
    assert release.studies == (doi(SEED_DOI),)
    assert release.studies[0].key == "doi:10.1523/jneurosci.4977-13.2014"


def test_a_release_with_numbers_but_no_study_has_none(nida_releases):
    """Version 10.2.3, 2014-04-02, 10.12.2014 and 301-443-6245 give no study."""
    assert nida_releases["NIDA updates its drug facts app for teens"].studies == ()


def test_an_entrys_identifier_fields_name_its_paper():
    """A preprint feed's dc:identifier and an Atom link to dx.doi.org give the paper's DOI."""
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>arXiv</title>'
        b"<entry><id>http://arxiv.org/abs/0808.3231v1</id><title>A paper</title>"
        b"<updated>2008-08-24T00:00:00Z</updated><summary>About it.</summary>"
        b'<link href="http://arxiv.org/abs/0808.3231v1" rel="alternate" type="text/html"/>'
        b'<link title="doi" href="http://dx.doi.org/10.1214/07-STS246B" rel="related"/>'
        b"</entry></feed>"
    )
    release = parse_feed(body, feed_name="arxiv", base_url="http://arxiv.org/").releases[0]
    assert release.studies == (doi("10.1214/07-STS246B"),)
    fields = ["doi:10.1101/2023.12.16.571984", "hwp:resource-id:sci;356/6343/1134-a"]
    assert find_identifier_studies(fields) == (doi("10.1101/2023.12.16.571984"),)


def test_a_plain_text_summary_is_read_as_text():
    """A text/plain summary with "<" in it still gives the DOI after it."""
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><id>urn:x:1</id><title>Dose &lt; 5 mg</title>"
        b"<updated>2014-04-02T00:00:00Z</updated>"
        b'<summary type="text">At doses &lt;5 mg, the paper (doi:10.1000/dose.5) found none.'
        b"</summary></entry></feed>"
    )
    release = parse_feed(body, feed_name="t", base_url="https://x.example/").releases[0]
    assert release.studies == (doi("10.1000/dose.5"),)


# --- the release's web page -------------------------------------------------------------------


def test_a_pages_citation_meta_tags_come_first():
    """citation_doi, citation_pmid, DC.Identifier and prism.doi, then the page's links."""
    page = (
        "<html><head><title>Release</title>"
        f'<meta name="citation_doi" content="doi:{SEED_DOI}">'
        '<meta name="citation_pmid" content="24695721">'
        '<meta name="DC.Identifier" content="info:doi/10.1101/2023.12.16.571984">'
        '<meta name="dc.identifier" content="ISBN 978-0-19-852663-6">'
        '<meta property="prism.doi" content="10.1000/prism.1">'
        "</head><body><p>Earlier work used 10.1000/other.2 in mice.</p><p>Read "
        '<a href="https://pmc.ncbi.nlm.nih.gov/articles/PMC3972727/">the study</a></p>'
        "</body></html>"
    )
    assert find_page_studies(page) == (
        StudyRef("doi", SEED_DOI, "page"),
        StudyRef("pmid", "24695721", "page"),
        StudyRef("doi", "10.1101/2023.12.16.571984", "page"),
        StudyRef("doi", "10.1000/prism.1", "page"),
        StudyRef("pmcid", "PMC3972727", "page"),
        StudyRef("doi", "10.1000/other.2", "page"),
    )


def test_a_page_without_identifiers_has_no_study():
    """A page that only talks about a study gives none."""
    assert find_page_studies("<html><body><p>The study was published in Neuron.</p>") == ()


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<![if foo]> 10.1000/x.1",
        "<!DOCTYPE [ <!ENTITY 10.1000/x.1",
        '<a href="http://[::1/10.1000/x.1">x</a>',
        "<a href='https://doi.org/10.1000/x.1'" + "<a " * 5000,
        "&#xD800; 10.1000/x.1 &#0; PMID: 99999999999999",
        "\x00<p>PMC</p>" * 1000,
    ],
    ids=[
        "conditional-comment",
        "unclosed-doctype-entity",
        "bad-ipv6-href",
        "5000-unclosed-anchors",
        "surrogate-and-nul-refs",
        "1000-nul-paragraphs",
    ],
)
def test_broken_html_never_raises(html):
    """Malformed declarations, bad addresses and junk give a result, never an exception."""
    refs = find_studies(html, base_url="https://x.example/")
    assert all(CROSSREF.fullmatch(ref.value) for ref in refs if ref.kind == "doi")
    find_page_studies(html, base_url="https://x.example/")


def test_html_the_parser_refuses_is_still_read_as_text():
    """A declaration html.parser gives up on ("<![<!") still leaves the link's DOI found."""
    html = '<p>See the paper <a href="https://doi.org/10.1000/x.1">here</a></p><![<!<!'
    assert find_studies(html) == (doi("10.1000/x.1"),)


def test_a_number_in_a_page_identifier_is_no_pubmed_id():
    """Only citation_pmid holds a bare PubMed id; a bare dc.identifier number is a node id."""
    page = '<meta name="dc.identifier" content="12345"><meta name="citation_pmid" content="99">'
    assert find_page_studies(page) == (StudyRef("pmid", "99", "page"),)


def test_huge_input_is_read_only_up_to_the_cap():
    """A multi-megabyte entry costs a bounded amount of work; a DOI past the cap is not read."""
    html = "<p>" + "x " * 1_000_000 + "10.1000/late.1</p>"
    assert find_studies(html) == ()
    many = "<p>" + "10.1000/a.1 " * 100_000 + "</p>"
    assert find_studies(many) == (doi("10.1000/a.1"),)


# --- properties -------------------------------------------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
version = st.lists(st.integers(0, 99999), min_size=2, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)
phone = st.tuples(st.integers(100, 999), st.integers(100, 999), st.integers(1000, 9999)).map(
    lambda t: f"{t[0]}-{t[1]}-{t[2]}"
)
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d.%m.%y", "%Y.%m.%d")
day = st.tuples(st.dates(), st.sampled_from(DATE_FORMATS)).map(lambda d: d[0].strftime(d[1]))
ip = st.ip_addresses(v=4).map(str)
prefix = st.integers(1000, 999999999).map(lambda n: f"10.{n}")
MARKUP = (
    *("<a href='", "'>", "</a>", "doi:", "PMID: ", "PMC", "https://doi.org/", "%2F", "(", ")"),
    *("<![", "<!--", "<script>", "pubmed/", "&#", ";", ".", "\n", "study", "<meta name="),
)
suffix = st.from_regex(r"[A-Za-z0-9][-._;/:A-Za-z0-9]{0,20}[A-Za-z0-9]", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(version, phone, day, ip), min_size=1, max_size=5), st.sampled_from(" ,;"))
def test_no_version_phone_date_or_address_is_taken_for_a_study(numbers, separator):
    """Version numbers, phone numbers, dates and IP addresses never give a study."""
    text = "Version " + separator.join(numbers) + " released; call 301-443-6245."
    assert find_studies(f"<p>{text}</p>") == ()


@settings(max_examples=200, deadline=None)
@given(prefix, suffix, st.sampled_from([".", ",", ";", ":", ")", ").", "),", ".)"]))
def test_trailing_punctuation_is_trimmed(registrant, tail, punctuation):
    """A DOI followed by sentence punctuation is found without it."""
    written = f"{registrant}/{tail}"
    opening = "(" if ")" in punctuation else ""
    assert dois(f"<p>See {opening}doi:{written}{punctuation} Then more.</p>") == [written]


@settings(max_examples=200, deadline=None)
@given(prefix, suffix, st.integers(0, 99), suffix, st.sampled_from(["", ".", ")", ")."]))
def test_dois_with_balanced_parentheses_stay_whole(registrant, head, number, tail, punctuation):
    """A DOI such as 10.1016/S0140-6736(20)30183-5 keeps its parentheses, bracketed or not."""
    written = f"{registrant}/{head}({number}){tail}"
    opening = "(" if ")" in punctuation else ""
    assert dois(f"<p>{opening}{written}{punctuation}</p>") == [written]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(words, prefix, suffix, st.sampled_from(MARKUP)), max_size=30).map("".join)
)
def test_arbitrary_text_never_raises_and_every_doi_matches_crossrefs_pattern(html):
    """Any text gives refs, never an exception; every DOI fits Crossref's pattern, each key once."""
    for refs in (find_studies(html, base_url="https://x.example/"), find_page_studies(html)):
        assert len(refs) <= MAX_STUDIES
        assert len({ref.key for ref in refs}) == len(refs)
        for ref in refs:
            if ref.kind == "doi":
                assert CROSSREF.fullmatch(ref.value)
                assert not ref.value.endswith((".", ",", ";", ":"))
            else:
                assert ref.value.removeprefix("PMC").isdigit()
