"""bench/compare_citeproc.py re-runs the APA comparison with citeproc-py (issue 11, "Done when")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import compare_citeproc

pytest.importorskip(
    "citeproc",
    reason="citeproc-py is not installed (the `test` extra has it: pip install -e '.[test]')",
)

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"


def _run(tmp_path: Path, fixture: str, capsys: pytest.CaptureFixture[str]) -> str:
    shutil.copy(FEEDS / fixture, tmp_path / fixture)
    assert compare_citeproc.main(["--fixtures", str(tmp_path), "--show-all"]) == 0
    return capsys.readouterr().out


def test_one_fixture_release_gives_a_row_and_a_count(tmp_path, capsys):
    """One release in, one row with both APA strings and a count of one out."""
    out = _run(tmp_path, "latin1_undeclared.xml", capsys)
    assert "same  latin1_undeclared.xml" in out
    assert "  project:     Notícias. (2018, September 24). Eleições: simulações" in out
    assert "  citeproc-py: Notícias. (2018, September 24). Eleições: simulações" in out
    assert "1 release: 1 identical, 0 different" in out
    assert "no differences" in out


def test_a_difference_is_counted_and_tabled(tmp_path, capsys):
    """The NIH fixture's straight apostrophe, typographic in our APA, shows as one table row."""
    out = _run(tmp_path, "rss2_drupal_nih.xml", capsys)
    assert "2 releases: 1 identical, 1 different" in out
    assert "| rss2_drupal_nih.xml | 11). NIH[’]s new st | 11). NIH[']s new st |" in out
