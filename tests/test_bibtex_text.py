"""BibTeX and biblatex text (issue 11 point 8): capitals a style must keep are braced, and
BibTeX output is text a default pdfLaTeX + BibTeX run sets, while biblatex keeps UTF-8.

A BibTeX style lowercases a title but for its first letter and what is braced (BibTeX's
`change.case$` with "t"; biblatex's \\MakeSentenceCase does the same), which gave `Nasa`,
`Sars-cov-2` and `covid-19`. pdfLaTeX stops with "Unicode character ... not set up for use
with LaTeX" on an emoji, and its default OT1 font prints `<` as `¡`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import bibtexparser
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Publisher, Release
from bot.render.cite import render_citation
from tests.factories import make_release

ACCESSED = date(2024, 5, 1)
NASA = Publisher("National Aeronautics and Space Administration", "NASA")


def cite(release: Release, style: str) -> str:
    return render_citation(release, NASA, style, accessed=ACCESSED)


def title_field(bib: str) -> str:
    library = bibtexparser.parse_string(bib)
    assert not library.failed_blocks
    value: str = library.entries[0]["title"]
    return value


def change_case_t(title: str) -> str:
    """What a BibTeX style does to a title (`change.case$` "t", simplified): lowercase all
    but the first character and anything inside braces."""
    out, depth = [], 0
    for index, char in enumerate(title):
        depth += (char == "{") - (char == "}")
        out.append(char if index == 0 or depth > 0 or char in "{}" else char.lower())
    return "".join(out).replace("{", "").replace("}", "")


# Titles as feeds write them, and the BibTeX title each needs (CMOS 17 §8.158 on sentence
# style: proper nouns keep their capitals; the design file's journal example brace "{Baclofen}").
GOLDEN = {
    "NASA selects COVID-19 and mRNA researchers": (
        "{NASA} selects {COVID-19} and {mRNA} researchers"
    ),
    "SARS-CoV-2 variants spread in Brazil": "{SARS-CoV-2} variants spread in {Brazil}",
    "Nipping cue reactivity in the bud: Baclofen prevents limbic activation": (
        "Nipping cue reactivity in the bud: {Baclofen} prevents limbic activation"
    ),
    # A headline-style title: its capitals are style, not names; only the acronym is braced.
    "NASA Selects Mars Landing Sites": "{NASA} Selects Mars Landing Sites",
    "Medication can help prevent relapse in cocaine-dependent males": (
        "Medication can help prevent relapse in cocaine-dependent males"
    ),
    "Vitamin D and the NIH's iPhone study": "Vitamin {D} and the {NIH's} {iPhone} study",
}


@pytest.mark.parametrize("title", list(GOLDEN))
@pytest.mark.parametrize("style", ["bibtex", "biblatex"])
def test_capitals_a_style_must_keep_are_braced(style: str, title: str) -> None:
    """Acronyms, mixed case and a sentence-case title's proper nouns survive a style's
    lowercasing: `{NASA}`, `{COVID-19}`, `{mRNA}`, `{Brazil}`."""
    bib = cite(replace(make_release(), title=title), style)
    assert title_field(bib) == GOLDEN[title]
    assert change_case_t(GOLDEN[title]).split()[0] == title.split()[0]


PDFLATEX = {
    "Rocket launch 🚀 succeeds": ("Rocket launch succeeds", "Rocket launch 🚀 succeeds"),
    "Doses < 5 mg > placebo": (
        r"Doses \textless{} 5 mg \textgreater{} placebo",
        r"Doses \textless{} 5 mg \textgreater{} placebo",
    ),
    "β-amyloid plaques shrink": (
        r"\ensuremath{\beta}-amyloid plaques shrink",
        "β-amyloid plaques shrink",
    ),
    "Estudio en España": ("Estudio en {España}", "Estudio en {España}"),
}


@pytest.mark.parametrize("title", list(PDFLATEX))
def test_bibtex_is_what_pdflatex_sets_and_biblatex_keeps_utf8(title: str) -> None:
    """BibTeX drops emoji, spells < > and Greek as LaTeX, keeps Latin letters; biblatex
    (read by biber) keeps the UTF-8 text."""
    bibtex_title, biblatex_title = PDFLATEX[title]
    release = replace(make_release(), title=title)
    assert title_field(cite(release, "bibtex")) == bibtex_title
    assert title_field(cite(release, "biblatex")) == biblatex_title


def test_biblatex_online_always_has_url_and_a_date() -> None:
    """`@online` carries `url` and `date` or `urldate`; with no URL at all it is `@misc`."""
    undated = replace(make_release(), published=None, updated=None)
    bib = cite(undated, "biblatex")
    assert bib.startswith("@online{")
    assert "  url     = {https://example.org/releases/1},\n" in bib
    assert "  urldate = {2024-05-01},\n" in bib
    no_url = replace(make_release(), url="", link="")
    bib = cite(no_url, "biblatex")
    assert bib.startswith("@misc{")
    assert "url" not in bib
    assert "  date    = {2014-04-02},\n" in bib


# --- any title ------------------------------------------------------------------------------

PROTECTED = ["NASA", "COVID-19", "mRNA", "SARS-CoV-2", "HIV", "iPhone", "H5N1", "U.S"]
PLAIN = ["study", "finds", "vaccine", "trial", "in", "of", "the", "results", "new", "and"]
ODD = ["🚀", "😷", "<", ">", "&", "%", "{", "}", "中文", "α", "Δ", "—", "é"]

titles = st.lists(
    st.one_of(st.sampled_from(PROTECTED), st.sampled_from(PLAIN), st.sampled_from(ODD)),
    min_size=1,
    max_size=12,
).map(" ".join)
# Characters pdfLaTeX's default UTF-8 input sets (Latin-1, Latin Extended-A, punctuation).
_SETTABLE = re.compile(r"[\x20-\x7e\u00a0-\u017f‘’‚“”„–—…•†‡‰′″€™\n]*")


@given(titles)
def test_bibtex_parses_keeps_protected_words_and_is_pdflatex_safe(title: str) -> None:
    """Any mix of acronyms, plain words, emoji and LaTeX specials: BibTeX and biblatex parse
    with bibtexparser, every acronym or mixed-case word stays braced, and BibTeX holds only
    characters pdfLaTeX sets, no raw < or >, while biblatex keeps the emoji."""
    release = replace(make_release(), title=title)
    bibtex, biblatex = cite(release, "bibtex"), cite(release, "biblatex")
    for bib in (bibtex, biblatex):
        field = title_field(bib)
        for word in set(title.split()) & set(PROTECTED):
            assert "{" + word + "}" in field
            assert word in change_case_t(field)
    assert _SETTABLE.fullmatch(bibtex)
    assert "<" not in bibtex
    assert ">" not in bibtex
    for emoji in ("🚀", "😷", "中文"):
        assert (emoji in title) == (emoji in biblatex)
