"""Headline-style title case, by design/citations.md's rules (CMOS 17 §8.159-8.161)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.titlecase import title_case

CASES = [
    # the reference title: hyphenated compound capitalised on both parts
    ("medication can help prevent relapse in cocaine-dependent males",
     "Medication Can Help Prevent Relapse in Cocaine-Dependent Males"),
    # articles, coordinating conjunctions and prepositions of any length stay lowercase
    ("a review of the evidence for and against screening among adults",
     "A Review of the Evidence for and against Screening among Adults"),
    ("funding through 2030 for research into pain without opioids",
     "Funding through 2030 for Research into Pain without Opioids"),
    # "to", also in infinitives, and "as"
    ("how to talk to teens as a parent", "How to Talk to Teens as a Parent"),
    # first and last words always capitalised, even small ones
    ("the drugs teens are talking about", "The Drugs Teens Are Talking About"),
    # the first word after a colon starts a subtitle
    ("opioids: a crisis in numbers", "Opioids: A Crisis in Numbers"),
    # capitals and mixed case are kept
    ("NIH and HIV: new mRNA data from iPhone users",
     "NIH and HIV: New mRNA Data from iPhone Users"),
    ("COVID-19 vaccines for children", "COVID-19 Vaccines for Children"),
    ("outbreak of hepatitis A in the city", "Outbreak of Hepatitis A in the City"),
    # small words inside compounds stay lowercase; the last word's last part does not
    ("up-to-date guidance on long-term follow-up", "Up-to-Date Guidance on Long-Term Follow-Up"),
    # after a prefix that cannot stand alone, the next element keeps its case
    ("anti-inflammatory drugs in non-Hispanic adults",
     "Anti-inflammatory Drugs in Non-Hispanic Adults"),
    # a capitalised small word mid-title is lowered
    ("Study Of The Effects Of Cannabis", "Study of the Effects of Cannabis"),
    # punctuation around words and odd spacing are kept as they are
    ("officials warn of ‘gray death’", "Officials Warn of ‘Gray Death’"),
    ("(updated) what we know  about fentanyl?", "(Updated) What We Know  about Fentanyl?"),
    ("19th-century remedies", "19th-Century Remedies"),
    ("", ""),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_title_case(text: str, expected: str) -> None:
    """Titles come out in headline style as CMOS and MLA write them."""
    assert title_case(text) == expected


@given(st.text())
def test_title_case_changes_only_letter_case(text: str) -> None:
    """Title case never adds, drops or moves characters: only their case changes."""
    result = title_case(text)
    assert len(result) == len(text)
    assert result.lower() == text.lower() or result.casefold() == text.casefold()


@given(st.text())
def test_title_case_is_idempotent(text: str) -> None:
    """Applying title case twice changes nothing more."""
    once = title_case(text)
    assert title_case(once) == once
