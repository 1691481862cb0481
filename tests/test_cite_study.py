"""The study behind a release cited as a journal article (issue 14): design/citations.md's
golden strings for the seed's study character for character, the rules settled from the
manuals (author-count boundaries, sentence case, page ranges), the post's study line, and
properties over any study metadata could hold.

The golden strings (`*...*` marking italics) are in tests/study_golden.py, shared with the
end-to-end test.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import bibtexparser
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import NotFoundError
from bot.models import Study, StudyAuthor
from bot.render.cite import STYLES, render_study_citation
from bot.render.cite_study import STUDY_MARK, study_citation_key, study_line
from bot.render.telegram_html import escape
from tests.fakes.telegram_html import parse_telegram_html
from tests.study_golden import (
    AUTHORS,
    CROSSREF_TITLE,
    DOI,
    DOI_URL,
    GOLDEN,
    HEADLINE,
    PUBMED_TITLE,
    SENTENCE,
)

SEED = Study(
    doi=DOI,
    pmid="24695721",
    pmcid="PMC3972727",
    title=CROSSREF_TITLE,
    pubmed_title=PUBMED_TITLE,
    authors=tuple(StudyAuthor(family=family, given=first) for family, first in AUTHORS),
    journal="The Journal of Neuroscience",
    journal_short="J. Neurosci.",
    volume="34",
    issue="14",
    pages="5038-5043",
    issued=(2014, 4, 2),
    url=DOI_URL,
)


def cite(study: Study, style: str, *, html: bool = False, key: str = "") -> str:
    return render_study_citation(study, style, html=html, key=key)


def marked_to_html(marked: str) -> str:
    """The design doc's `*italic*` notation as Telegram HTML."""
    parts = marked.split("*")
    return "".join(f"<i>{escape(p)}</i>" if i % 2 else escape(p) for i, p in enumerate(parts))


def assert_prose(study: Study, style: str, marked: str) -> None:
    assert cite(study, style) == marked.replace("*", "")
    assert cite(study, style, html=True) == marked_to_html(marked)


@pytest.mark.parametrize("style", list(GOLDEN))
def test_golden_study_citation(style: str) -> None:
    """The seed's study cites exactly as design/citations.md has it, in text and HTML."""
    assert_prose(SEED, style, GOLDEN[style])


def test_golden_apa_from_the_crossref_title_alone() -> None:
    """Without PubMed's title, Crossref's title-case one gives the same APA sentence case."""
    assert_prose(replace(SEED, pubmed_title=""), "apa", GOLDEN["apa"])


BIBTEX = (
    "@article{young2014nipping,\n"
    "  author  = {Young, Kimberly A. and Franklin, Teresa R. and Roberts, David C. S. and "
    "Jagannathan, Kanchana and Suh, Jesse J. and Wetherill, Reagan R. and Wang, Ze and "
    "Kampman, Kyle M. and O'Brien, Charles P. and Childress, Anna Rose},\n"
    "  title   = {Nipping cue reactivity in the bud: {Baclofen} prevents limbic activation "
    "elicited by subliminal drug cues},\n"
    "  journal = {The Journal of Neuroscience},\n"
    "  year    = {2014},\n"
    "  volume  = {34},\n"
    "  number  = {14},\n"
    "  pages   = {5038--5043},\n"
    "  doi     = {10.1523/JNEUROSCI.4977-13.2014}\n"
    "}"
)


def test_golden_bibtex() -> None:
    """BibTeX @article: the design doc's fields and values, in its order, aligned as the
    release entries are; the HTML is the same text in <pre>."""
    assert cite(SEED, "bibtex") == BIBTEX
    assert cite(SEED, "bibtex", html=True) == f"<pre>{escape(BIBTEX)}</pre>"


def test_bibtex_key_argument_overrides_the_key() -> None:
    """A stored study's unique key (young2014nippinga) replaces the derived one."""
    assert cite(SEED, "bibtex", key="young2014nippinga").startswith("@article{young2014nippinga,\n")


def test_golden_biblatex() -> None:
    """biblatex @article: journaltitle, the full ISO date, doi, PubMed as eprint."""
    entry = bibtexparser.parse_string(cite(SEED, "biblatex")).entries[0]
    assert entry.entry_type == "article"
    assert entry.key == "young2014nipping"
    fields = {field.key: field.value for field in entry.fields}
    assert fields["journaltitle"] == "The Journal of Neuroscience"
    assert fields["date"] == "2014-04-02"
    assert fields["doi"] == DOI
    assert fields["pages"] == "5038--5043"
    assert fields["author"].startswith("Young, Kimberly A. and Franklin, Teresa R. and ")
    assert fields["title"] == BIBTEX.split("title   = {")[1].split("},\n")[0]
    assert (fields["eprint"], fields["eprinttype"]) == ("24695721", "pubmed")
    assert "year" not in fields


def test_golden_ris() -> None:
    """RIS JOUR: one AU line per author as "Family, Given", then the listed tags."""
    lines = cite(SEED, "ris").split("\n")
    assert lines[0] == "TY  - JOUR"
    assert lines[1:11] == [f"AU  - {family}, {first}" for family, first in AUTHORS]
    for line in (
        f"TI  - {CROSSREF_TITLE}", "T2  - The Journal of Neuroscience", "VL  - 34",
        "IS  - 14", "SP  - 5038", "EP  - 5043", f"DO  - {DOI}", "PY  - 2014",
        "DA  - 2014/04/02",
    ):  # fmt: skip
        assert line in lines
    assert lines[-1] == "ER  - "


def test_golden_csl_json() -> None:
    """CSL-JSON: one article-journal item with the design doc's members."""
    [item] = json.loads(cite(SEED, "csl-json"))
    assert item["type"] == "article-journal"
    assert item["id"] == "young2014nipping"
    assert item["author"] == [{"family": f, "given": g} for f, g in AUTHORS]
    assert item["container-title"] == "The Journal of Neuroscience"
    assert (item["volume"], item["issue"], item["page"]) == ("34", "14", "5038-5043")
    assert (item["DOI"], item["PMID"], item["PMCID"]) == (DOI, "24695721", "PMC3972727")
    assert item["issued"] == {"date-parts": [[2014, 4, 2]]}
    assert item["title"] == CROSSREF_TITLE
    assert item["URL"] == DOI_URL
    assert item["container-title-short"] == "J. Neurosci."


def test_unknown_style_is_not_found() -> None:
    """An unknown style name is refused as for releases, naming the styles there are."""
    with pytest.raises(NotFoundError, match="use one of: apa, apa6"):
        cite(SEED, "harvard")


# --- the post's study line ---------------------------------------------------------------


def test_study_line_for_the_seed() -> None:
    """The issue's example line, its DOI linked to doi.org in the HTML."""
    text, html = study_line(SEED)
    assert text == f"Study: Young et al. (2014), The Journal of Neuroscience · doi:{DOI}"
    assert html == (
        f'Study: Young et al. (2014), The Journal of Neuroscience · <a href="{DOI_URL}">'
        f"doi:{DOI}</a>"
    )
    parsed = parse_telegram_html(html)
    assert parsed.text == text
    assert [entity.type for entity in parsed.entities] == ["text_link"]


def test_study_mark_is_one_short_symbol() -> None:
    """The mark lists put on a release with a study is the page emoji."""
    assert STUDY_MARK == "📄"


def test_all_styles_render_for_the_seed() -> None:
    """Every style has a study form."""
    for style in STYLES:
        assert cite(SEED, style)


# --- author-count boundaries -------------------------------------------------------------


def people(count: int) -> tuple[StudyAuthor, ...]:
    return tuple(StudyAuthor(family=f"Author{i}", given="Ann B.") for i in range(1, count + 1))


def with_authors(count: int) -> Study:
    return replace(SEED, authors=people(count))


def test_apa7_lists_twenty_authors() -> None:
    """APA 7 §9.8: twenty authors are all listed, "&" before the last."""
    text = cite(with_authors(20), "apa")
    assert text.startswith("Author1, A. B., Author2, A. B., ")
    assert "Author19, A. B., & Author20, A. B. (2014). " in text
    assert "…" not in text


def test_apa7_with_twenty_one_authors_gives_nineteen_an_ellipsis_and_the_last() -> None:
    """APA 7 §9.8: from 21 authors, the first 19, an ellipsis, then the last; no "&"."""
    text = cite(with_authors(21), "apa")
    assert "Author18, A. B., Author19, A. B., … Author21, A. B. (2014). " in text
    assert "Author20" not in text
    assert "&" not in text


def test_apa7_with_three_hundred_authors_stays_twenty_names() -> None:
    """A consortium paper's 300 authors give 20 names in APA, 11 in Chicago, 1 in MLA."""
    study = with_authors(300)
    assert cite(study, "apa").count("A. B.") == 20
    assert cite(study, "chicago").count("Ann B.") == 7
    assert cite(study, "mla").count("Ann B.") == 1
    assert cite(study, "bibtex").count(" and ") == 299
    assert cite(study, "ris").count("AU  - ") == 300


def test_apa6_lists_seven_and_cuts_eight_to_six_and_the_last() -> None:
    """APA 6 §6.27: up to seven authors all listed; from eight the first six, …, the last."""
    assert "Author6, A. B., & Author7, A. B. (2014)." in cite(with_authors(7), "apa6")
    eight = cite(with_authors(8), "apa6")
    assert "Author5, A. B., Author6, A. B., … Author8, A. B. (2014)." in eight
    assert "Author7" not in eight


@pytest.mark.parametrize(
    ("count", "start"),
    [
        (1, "Author1, Ann B. “"),
        (2, "Author1, Ann B., and Ann B. Author2. “"),
        (3, "Author1, Ann B., et al. “"),
    ],
)
def test_mla_authors(count: int, start: str) -> None:
    """MLA 9 (ch. 5): one author inverted, two as "A, and B", three or more "et al."."""
    assert cite(with_authors(count), "mla").startswith(start)


def test_chicago_bibliography_lists_ten_and_cuts_eleven_to_seven() -> None:
    """CMOS 17 §14.76: ten authors all listed; more than ten, the first seven and et al."""
    ten = cite(with_authors(10), "chicago")
    assert ten.startswith("Author1, Ann B., Ann B. Author2, ")
    assert ", Ann B. Author9, and Ann B. Author10. “" in ten
    eleven = cite(with_authors(11), "chicago")
    assert ", Ann B. Author7, et al. “" in eleven
    assert "Author8" not in eleven
    assert cite(with_authors(11), "chicago-author-date").startswith(
        eleven.split(" “")[0] + " 2014. “"
    )


def test_chicago_bibliography_two_authors_have_a_comma_before_and() -> None:
    """CMOS 17 §14.76: "Young, Kimberly A., and Teresa R. Franklin."."""
    assert cite(with_authors(2), "chicago").startswith("Author1, Ann B., and Ann B. Author2. “")


@pytest.mark.parametrize(
    ("count", "start"),
    [
        (1, "Ann B. Author1, “"),
        (2, "Ann B. Author1 and Ann B. Author2, “"),
        (3, "Ann B. Author1, Ann B. Author2, and Ann B. Author3, “"),
        (4, "Ann B. Author1 et al., “"),
    ],
)
def test_chicago_note_authors(count: int, start: str) -> None:
    """CMOS 17 §14.76: a note names up to three authors; four or more, the first et al."""
    assert cite(with_authors(count), "chicago-note").startswith(start)


def test_group_author_is_cited_by_its_name() -> None:
    """A consortium (CSL `literal`) is its name as written, in every style."""
    group = replace(SEED, authors=(StudyAuthor(literal="SPRINT Research Group"),))
    assert cite(group, "apa").startswith("SPRINT Research Group. (2014). Nipping")
    assert cite(group, "mla").startswith("SPRINT Research Group. “Nipping")
    assert cite(group, "chicago-note").startswith("SPRINT Research Group, “Nipping")
    assert "  author  = {{SPRINT Research Group}},\n" in cite(group, "bibtex")
    assert "AU  - SPRINT Research Group\n" in cite(group, "ris")
    [item] = json.loads(cite(group, "csl-json"))
    assert item["author"] == [{"literal": "SPRINT Research Group"}]


def test_initials_of_hyphenated_and_unspaced_given_names() -> None:
    """APA 7 §9.8: "Jean-Paul" gives "J.-P.", "David C.S." gives "D. C. S."."""
    study = replace(
        SEED,
        authors=(
            StudyAuthor(family="Sartre", given="Jean-Paul"),
            StudyAuthor(family="Roberts", given="David C.S."),
        ),
    )
    assert cite(study, "apa").startswith("Sartre, J.-P., & Roberts, D. C. S. (2014).")


def test_no_authors_moves_the_title_first() -> None:
    """APA 7 §9.12 and CMOS 17 ch. 15: with no author the title leads the entry."""
    study = replace(SEED, authors=())
    assert cite(study, "apa").startswith(f"{SENTENCE}. (2014). The Journal")
    assert cite(study, "chicago-author-date").startswith(f"“{HEADLINE}.” 2014. Journal")
    assert cite(study, "mla").startswith(f"“{HEADLINE}.” The Journal")
    assert cite(study, "bibtex").startswith("@article{anon2014nipping,\n  title")


# --- missing parts, pages ----------------------------------------------------------------


def test_undated_study() -> None:
    """No date: APA "(n.d.)", Chicago "(n.d.)" and author-date "n.d.", MLA leaves it out."""
    study = replace(SEED, issued=())
    assert "Childress, A. R. (n.d.). Nipping" in cite(study, "apa")
    assert "*Journal of Neuroscience* 34, no. 14 (n.d.): 5038–43." in _marked(study, "chicago")
    assert "Childress. n.d. “Nipping" in cite(study, "chicago-author-date")
    assert "no. 14, pp. 5038–43, https" in cite(study, "mla")
    assert cite(study, "bibtex").startswith("@article{youngndnipping,\n")
    assert "PY  - " not in cite(study, "ris")


def test_without_issue_and_pages() -> None:
    """No issue and no pages: each style closes the source after what it has."""
    study = replace(SEED, issue="", pages="")
    assert "*The Journal of Neuroscience*, *34*. https" in _marked(study, "apa")
    assert "*Journal of Neuroscience* 34 (2014). https" in _marked(study, "chicago")
    assert "*Journal of Neuroscience* 34. https" in _marked(study, "chicago-author-date")
    assert "vol. 34, 2014, https" in cite(study, "mla")
    assert "number" not in cite(study, "bibtex")
    assert "pages" not in cite(study, "bibtex")


def _marked(study: Study, style: str) -> str:
    return cite(study, style, html=True).replace("<i>", "*").replace("</i>", "*")


def test_article_number_in_place_of_pages() -> None:
    """An article number: APA 7 "Article e12345" (§9.29), MLA "article", Chicago as pages."""
    study = replace(SEED, pages="e12345")
    assert "*34*(14), Article e12345. https" in _marked(study, "apa")
    assert "2014, article e12345, https" in cite(study, "mla")
    assert "(2014): e12345. https" in cite(study, "chicago")
    assert "SP  - e12345\n" in cite(study, "ris")
    assert "EP  - " not in cite(study, "ris")


@pytest.mark.parametrize(
    ("pages", "mla_pages"),
    [
        ("5038-5043", "5038–43"), ("21-48", "21–48"), ("89-104", "89–104"),
        ("103-104", "103–04"), ("395-401", "395–401"), ("1003-1005", "1003–05"),
        ("1608-1774", "1608–774"), ("S1-S10", "S1–S10"),
    ],
)  # fmt: skip
def test_mla_inclusive_numbers(pages: str, mla_pages: str) -> None:
    """MLA's inclusive numbers (Handbook, "Inclusive Numbers"): last two digits unless more
    are needed."""
    assert f", pp. {mla_pages}, https" in cite(replace(SEED, pages=pages), "mla")


@pytest.mark.parametrize(
    ("pages", "chicago_pages"),
    [
        ("71-72", "71–72"), ("100-104", "100–104"), ("1100-1113", "1100–1113"),
        ("101-108", "101–8"), ("1103-1104", "1103–4"), ("321-328", "321–28"),
        ("498-532", "498–532"), ("1087-1089", "1087–89"), ("1496-1500", "1496–500"),
        ("11564-11615", "11564–615"), ("12991-13001", "12991–3001"), ("5038-5043", "5038–43"),
    ],
)  # fmt: skip
def test_chicago_inclusive_numbers(pages: str, chicago_pages: str) -> None:
    """CMOS 17 §9.61, its own examples; APA keeps the range whole."""
    study = replace(SEED, pages=pages)
    assert f"(2014): {chicago_pages}. https" in cite(study, "chicago")
    assert f"(14), {pages.replace('-', '–')}. https" in cite(study, "apa")
    assert f"  pages   = {{{pages.replace('-', '--')}}},\n" in cite(study, "bibtex")


def test_no_doi_falls_back_to_the_article_url() -> None:
    """Without a DOI: the article's URL (APA 6 "Retrieved from", MLA without its scheme)."""
    study = replace(SEED, doi="", url="https://www.jneurosci.org/content/34/14/5038")
    assert cite(study, "apa").endswith("5038–5043. https://www.jneurosci.org/content/34/14/5038")
    assert cite(study, "apa6").endswith(
        "5038–5043. Retrieved from https://www.jneurosci.org/content/34/14/5038"
    )
    assert cite(study, "mla").endswith("pp. 5038–43, www.jneurosci.org/content/34/14/5038.")
    assert "  url     = {https://www.jneurosci.org/content/34/14/5038}\n" in cite(study, "bibtex")


def test_html_escapes_every_field() -> None:
    """A title, name and journal holding < and & are shown literally; only <i> is markup."""
    study = replace(
        SEED,
        title="Effects <b>P < 0.05</b> & beyond",
        pubmed_title="",
        authors=(StudyAuthor(family="<O'Neil>", given="A & B"),),
        journal="J <Neuro> & Co",
    )
    html = cite(study, "apa", html=True)
    assert html.startswith(
        "&lt;O'Neil&gt;, A. B. (2014). Effects &lt;b&gt;P &lt; 0.05&lt;/b&gt; &amp; beyond. "
    )
    assert "<i>J &lt;Neuro&gt; &amp; Co</i>, <i>34</i>(14)" in html
    for style in STYLES:
        parsed = parse_telegram_html(cite(study, style, html=True))
        assert parsed.text == cite(study, style)
    assert cite(study, "ris", html=True).startswith("<pre>TY  - JOUR\nAU  - &lt;O'Neil&gt;")


def test_control_characters_are_dropped() -> None:
    """Control characters and line breaks in metadata never reach the citation."""
    study = replace(SEED, title="Nipping\x00 cue\nreactivity\x1b", journal="J\tNeuro\r\n")
    assert "Nipping cue reactivity. *J Neuro*, *34*" in _marked(
        replace(study, pubmed_title=""), "apa"
    )
    assert "TI  - Nipping cue reactivity\n" in cite(study, "ris")


# --- APA's sentence case -----------------------------------------------------------------


def apa_title(title: str, pubmed_title: str = "") -> str:
    """The title as APA 7 prints it, from the citation's plain text."""
    study = Study(doi="", title=title, pubmed_title=pubmed_title, issued=(2014,))
    return cite(study, "apa").removesuffix(" (2014).").removesuffix(".")


def test_pubmed_title_is_preferred_for_apa() -> None:
    """PubMed's sentence case wins over Crossref's title case (it knows the proper nouns):
    its final period dropped, the word after the colon capitalised."""
    title = apa_title(
        "Deep Brain Stimulation in Boston: A Trial",
        pubmed_title="Deep brain stimulation in Boston: a trial.",
    )
    assert title == "Deep brain stimulation in Boston: A trial"


@pytest.mark.parametrize(
    ("title", "sentence"),
    [
        # Capitalised common words lowered; the subtitle's first word capitalised.
        (CROSSREF_TITLE, SENTENCE),
        ("Relapse in Cocaine-Dependent Males", "Relapse in cocaine-dependent males"),
        # Acronyms, internal capitals, lone capitals and possessives keep their case.
        (
            "Effects of MRNA Vaccines on COVID-19 in iPhone Users: A Randomised Trial",
            "Effects of MRNA vaccines on COVID-19 in iPhone users: A randomised trial",
        ),
        ("Vitamin D and Parkinson's Disease", "Vitamin D and Parkinson’s disease"),
        ("JNEUROSCI Editors Reply", "JNEUROSCI editors reply"),
        # Already in sentence case: the source's choice (and its proper nouns) are kept.
        ("Baclofen and the Boston cohort", "Baclofen and the Boston cohort"),
        # All capitals cannot be told from acronyms: kept.
        ("NIPPING CUE REACTIVITY", "NIPPING CUE REACTIVITY"),
        # Capitalising after a colon leaves mRNA and p53 alone.
        ("Vaccines: mRNA works", "Vaccines: mRNA works"),
        ("Tumours: p53 in focus", "Tumours: p53 in focus"),
    ],
)
def test_sentence_case_converts_only_what_is_safe(title: str, sentence: str) -> None:
    """Without PubMed's title, a title-case title is lowered word by word where safe
    (bot/render/cite_study_case.py says why proper nouns cannot be kept)."""
    assert apa_title(title) == sentence


def test_pubmed_translated_title_loses_its_brackets() -> None:
    """PubMed brackets a title translated into English; APA prints it without them."""
    assert apa_title("", pubmed_title="[Baclofen in alcohol use disorder].") == (
        "Baclofen in alcohol use disorder"
    )


def test_sentence_case_title_reaches_bibtex_with_capitals_braced() -> None:
    """BibTeX takes APA's sentence case and braces a capital a style would lower."""
    study = replace(SEED, title="Effects of MRNA Vaccines: Boston's Trial", pubmed_title="")
    assert "  title   = {Effects of {MRNA} vaccines: {Boston's} trial},\n" in cite(study, "bibtex")


# --- the post's study line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("authors", "who"),
    [
        (people(1), "Author1"),
        (people(2), "Author1 & Author2"),
        (people(3), "Author1 et al."),
        ((StudyAuthor(literal="SPRINT Research Group"),), "SPRINT Research Group"),
    ],
)
def test_study_line_names_the_authors(authors: tuple[StudyAuthor, ...], who: str) -> None:
    """One author by name, two joined by "&", three or more "et al.", a group by its name."""
    text, _ = study_line(replace(SEED, authors=authors))
    assert text == f"Study: {who} (2014), The Journal of Neuroscience · doi:{DOI}"


def test_study_line_without_authors_uses_a_short_title() -> None:
    """No authors: the title, cut at a word with "…" when long."""
    text, _ = study_line(replace(SEED, authors=()))
    assert text == (
        "Study: Nipping Cue Reactivity in the Bud: Baclofen Prevents… (2014), "
        f"The Journal of Neuroscience · doi:{DOI}"
    )


def test_study_line_without_doi_links_pubmed() -> None:
    """No DOI: the PMID, linked to PubMed; undated: "(n.d.)"."""
    text, html = study_line(replace(SEED, doi="", url="", issued=()))
    assert text == "Study: Young et al. (n.d.), The Journal of Neuroscience · PMID 24695721"
    assert html.endswith(' · <a href="https://pubmed.ncbi.nlm.nih.gov/24695721/">PMID 24695721</a>')


def test_study_line_with_pmcid_only_links_pubmed_central() -> None:
    """Only a PMCID: linked to PubMed Central."""
    _, html = study_line(replace(SEED, doi="", pmid="", url=""))
    assert html.endswith(
        ' · <a href="https://pmc.ncbi.nlm.nih.gov/articles/PMC3972727/">PMC3972727</a>'
    )


def test_study_line_with_no_identifier_has_no_link() -> None:
    """No DOI, PubMed id or URL: the line names the study without a link."""
    text, html = study_line(replace(SEED, doi="", pmid="", pmcid="", url=""))
    assert text == html == "Study: Young et al. (2014), The Journal of Neuroscience"


def test_study_line_is_capped() -> None:
    """A paragraph-long journal, group name and DOI still give a line of sane length."""
    huge = replace(
        SEED,
        authors=(StudyAuthor(literal="Consortium " * 50),),
        journal="Journal of " + "Very Long Names " * 40,
        doi="10.1234/" + "x" * 500,
    )
    text, html = study_line(huge)
    assert len(text) < 300
    assert text.startswith("Study: Consortium Consortium")
    assert "… (2014), Journal of Very Long" in text
    assert parse_telegram_html(html).text == text


def test_study_line_escapes_and_encodes_a_hostile_doi() -> None:
    """A DOI with quotes and angle brackets is escaped as text and percent-encoded in the link."""
    text, html = study_line(replace(SEED, doi='10.1000/a"<b>&c', journal="J & <K>"))
    assert text.endswith('J & <K> · doi:10.1000/a"<b>&c')
    assert html.endswith(
        'J &amp; &lt;K&gt; · <a href="https://doi.org/10.1000/a%22%3Cb%3E%26c">'
        'doi:10.1000/a"&lt;b&gt;&amp;c</a>'
    )
    assert parse_telegram_html(html).text == text


# --- properties over any study -----------------------------------------------------------

texts = st.text(max_size=80)
names = st.one_of(texts, st.from_regex(r"[A-Z][a-z]{1,12}( [A-Z]\.){0,2}", fullmatch=True))
study_authors = st.one_of(
    st.builds(StudyAuthor, family=names, given=names),
    st.builds(StudyAuthor, literal=texts),
    st.builds(StudyAuthor, family=texts, given=texts, literal=texts),
)
page_texts = st.one_of(
    st.just(""),
    st.from_regex(r"[0-9]{1,6}(-[0-9]{1,6})?", fullmatch=True),
    st.from_regex(r"[eS][0-9]{1,6}", fullmatch=True),
    texts,
)
date_parts = st.one_of(
    st.just(()),
    st.tuples(st.integers(-5, 12000)),
    st.tuples(st.integers(1, 9999), st.integers(-1, 14)),
    st.tuples(st.integers(1, 9999), st.integers(1, 12), st.integers(-1, 40)),
)
studies = st.builds(
    Study,
    doi=st.one_of(st.just(""), st.just(DOI), texts),
    pmid=st.one_of(st.just(""), st.from_regex(r"[0-9]{1,9}", fullmatch=True), texts),
    pmcid=st.one_of(st.just(""), st.just("PMC3972727"), texts),
    title=texts,
    pubmed_title=texts,
    authors=st.lists(study_authors, max_size=25).map(tuple),
    journal=texts,
    journal_short=texts,
    volume=st.one_of(st.just(""), st.from_regex(r"[0-9]{1,4}", fullmatch=True), texts),
    issue=st.one_of(st.just(""), st.from_regex(r"[0-9]{1,3}", fullmatch=True), texts),
    pages=page_texts,
    issued=date_parts,
    url=st.one_of(st.just(""), st.just("https://example.org/a?b=1&c=2"), texts),
)
MACHINE = ("bibtex", "biblatex", "ris", "csl-json")
SCHEMA_PATH = Path(__file__).parent / "fixtures" / "csl-data.json"


@settings(deadline=None)  # the suite shares two cores: no per-example time limit
@given(studies)
def test_every_style_renders_and_telegram_accepts_its_html(study: Study) -> None:
    """Any metadata, however broken: every style gives text, and its HTML is what Telegram
    accepts and shows as exactly that text (<i> in prose, <pre> for machine formats)."""
    for style in STYLES:
        text = cite(study, style)
        assert text.strip()
        parsed = parse_telegram_html(cite(study, style, html=True))
        assert parsed.text == text
        kinds = {entity.type for entity in parsed.entities}
        assert kinds <= ({"pre"} if style in MACHINE else {"italic"})


@settings(deadline=None)  # the suite shares two cores: no per-example time limit
@given(studies)
def test_study_line_is_short_and_valid_html(study: Study) -> None:
    """The post's line: one line, capped, Telegram accepts its HTML and its link."""
    text, html = study_line(study)
    assert text.startswith("Study: ")
    assert "\n" not in text
    assert len(text) <= 300
    parsed = parse_telegram_html(html)
    assert parsed.text == text
    assert {entity.type for entity in parsed.entities} <= {"text_link"}


plain_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>&*"),
    max_size=60,
)


@settings(deadline=None)  # the suite shares two cores: no per-example time limit
@given(
    st.builds(
        Study,
        doi=plain_texts, title=plain_texts, pubmed_title=plain_texts, journal=plain_texts,
        authors=st.lists(st.builds(StudyAuthor, family=plain_texts, given=plain_texts,
                                   literal=plain_texts), max_size=5).map(tuple),
        volume=plain_texts, issue=plain_texts, pages=plain_texts, issued=date_parts,
    )
)  # fmt: skip
def test_plain_text_has_no_markup(study: Study) -> None:
    """From fields without <, > or &, the plain-text citations and line carry none."""
    for style in STYLES:
        assert not re.search(r"[<>]|&(amp|lt|gt);", cite(study, style))
    assert not re.search(r"[<>]|&(amp|lt|gt);", study_line(study)[0])


@given(studies)
@settings(max_examples=50, deadline=None)
def test_bibtex_and_biblatex_parse(study: Study) -> None:
    """bibtexparser reads both entries, one @article each, with the study's key."""
    for style in ("bibtex", "biblatex"):
        library = bibtexparser.parse_string(cite(study, style, key="k2014"))
        assert not library.failed_blocks
        [entry] = library.entries
        assert (entry.entry_type, entry.key) == ("article", "k2014")


_RIS_LINE = re.compile(r"^[A-Z][A-Z0-9]  - ")


@settings(deadline=None)  # the suite shares two cores: no per-example time limit
@given(studies)
def test_ris_has_one_tag_per_line(study: Study) -> None:
    """Every RIS line is `TAG  - value`, from TY  - JOUR to ER."""
    lines = cite(study, "ris").split("\n")
    assert all(_RIS_LINE.match(line) for line in lines)
    assert (lines[0], lines[-1]) == ("TY  - JOUR", "ER  - ")


@cache
def csl_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@settings(deadline=None)  # the suite shares two cores: no per-example time limit
@given(studies)
def test_csl_json_validates_against_the_csl_data_schema(study: Study) -> None:
    """CSL-JSON output is valid CSL 1.0.2 input data: one article-journal item."""
    items = json.loads(cite(study, "csl-json"))
    jsonschema.validate(items, csl_schema())
    assert [item["type"] for item in items] == ["article-journal"]


def test_study_citation_key_is_the_bibtex_key() -> None:
    """The base key a store makes unique is the one the entries use by default."""
    assert study_citation_key(SEED) == "young2014nipping"
    group = replace(SEED, authors=(StudyAuthor(literal="Écoles Réunies"),), issued=())
    assert study_citation_key(group) == "ecolesndnipping"


def test_apa6_article_number_is_bare() -> None:
    """APA 6 puts an article number where the pages go, without APA 7's "Article"."""
    assert "*34*(14), e12345. doi:" in _marked(replace(SEED, pages="e12345"), "apa6")
