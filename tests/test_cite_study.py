"""The study behind a release cited as a journal article (issue 14): design/citations.md's
golden strings for the seed's study character for character, the rules settled from the
manuals (author-count boundaries, sentence case, page ranges), the post's study line, and
properties over any study metadata could hold.

Expected prose is written as in the design doc, `*...*` marking italics.
"""

from __future__ import annotations

import json
from dataclasses import replace

import bibtexparser
import pytest

from bot.errors import NotFoundError
from bot.models import Study, StudyAuthor
from bot.render.cite import STYLES, render_study_citation
from bot.render.cite_study import STUDY_MARK, study_line
from bot.render.telegram_html import escape
from tests.fakes.telegram_html import parse_telegram_html

DOI = "10.1523/JNEUROSCI.4977-13.2014"
DOI_URL = f"https://doi.org/{DOI}"
AUTHORS = (
    ("Young", "Kimberly A."), ("Franklin", "Teresa R."), ("Roberts", "David C. S."),
    ("Jagannathan", "Kanchana"), ("Suh", "Jesse J."), ("Wetherill", "Reagan R."),
    ("Wang", "Ze"), ("Kampman", "Kyle M."), ("O'Brien", "Charles P."),
    ("Childress", "Anna Rose"),
)  # fmt: skip
# As Crossref gives it (the journal's title case) and as PubMed gives it (sentence case).
CROSSREF_TITLE = (
    "Nipping Cue Reactivity in the Bud: Baclofen Prevents Limbic Activation Elicited by "
    "Subliminal Drug Cues"
)
PUBMED_TITLE = (
    "Nipping cue reactivity in the bud: baclofen prevents limbic activation elicited by "
    "subliminal drug cues."
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
HEADLINE = (
    "Nipping Cue Reactivity in the Bud: Baclofen Prevents Limbic Activation Elicited by "
    "Subliminal Drug Cues"
)
SENTENCE = (
    "Nipping cue reactivity in the bud: Baclofen prevents limbic activation elicited by "
    "subliminal drug cues"
)
ALL_NAMES = (
    "Young, Kimberly A., Teresa R. Franklin, David C. S. Roberts, Kanchana Jagannathan, "
    "Jesse J. Suh, Reagan R. Wetherill, Ze Wang, Kyle M. Kampman, Charles P. O'Brien, "
    "and Anna Rose Childress"
)

# --- design/citations.md, "The study behind the release (journal article)" ---------------

GOLDEN = {
    "apa": (
        "Young, K. A., Franklin, T. R., Roberts, D. C. S., Jagannathan, K., Suh, J. J., "
        "Wetherill, R. R., Wang, Z., Kampman, K. M., O'Brien, C. P., & Childress, A. R. "
        f"(2014). {SENTENCE}. *The Journal of Neuroscience*, *34*(14), 5038–5043. {DOI_URL}"
    ),
    "mla": (
        f"Young, Kimberly A., et al. “{HEADLINE}.” *The Journal of Neuroscience*, vol. 34, "
        f"no. 14, 2014, pp. 5038–43, {DOI_URL}."
    ),
    "chicago": (
        f"{ALL_NAMES}. “{HEADLINE}.” *Journal of Neuroscience* 34, no. 14 (2014): 5038–43. "
        f"{DOI_URL}."
    ),
    "chicago-note": (
        f"Kimberly A. Young et al., “{HEADLINE},” *Journal of Neuroscience* 34, no. 14 "
        f"(2014): 5038–43, {DOI_URL}."
    ),
    "chicago-author-date": (
        f"{ALL_NAMES}. 2014. “{HEADLINE}.” *Journal of Neuroscience* 34 (14): 5038–43. {DOI_URL}."
    ),
    # Ours (not in the design doc): APA 6 as its manual has it, §6.27 (first six, "…",
    # last, for eight or more authors) and §6.31-6.32 (the "doi:" form, no final period).
    "apa6": (
        "Young, K. A., Franklin, T. R., Roberts, D. C. S., Jagannathan, K., Suh, J. J., "
        "Wetherill, R. R., … Childress, A. R. "
        f"(2014). {SENTENCE}. *The Journal of Neuroscience*, *34*(14), 5038–5043. doi:{DOI}"
    ),
}


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
