"""`releasebot cite` with the references people type: numbers, `#1 extra`, http:// links,
nothing at all, and an --accessed date before the release's own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.inprocess import Cli, with_config
from tests.test_cli_cite import releasebot

CONFIG = """\
[bot]
database = "bot.db"

[[feeds]]
name = "cdc"
url = "feed.xml"
publisher = "Centers for Disease Control and Prevention"
short_name = "CDC"
"""
ITEM = """\
  <item>
    <title>{title}</title>
    <link>https://www.cdc.gov/media/releases/2024/{n}.html</link>
    <guid>https://www.cdc.gov/media/releases/2024/{n}.html</guid>{date}
  </item>
"""
# Titles a search for "0", "1" or "extra" would find: a number must not be searched for.
DATED = [
    (1, "Week 0 influenza report", "Mon, 01 Apr 2024 10:00:00 -0400"),
    (2, "One extra case: 1 more found", "Tue, 02 Apr 2024 10:00:00 -0400"),
    (3, "New guidance on measles", "Wed, 03 Apr 2024 10:00:00 -0400"),
]
UNDATED = (4, "About our press office", "")


def feed(items: list[tuple[int, str, str]]) -> str:
    body = "".join(
        ITEM.format(n=n, title=title, date=f"\n    <pubDate>{when}</pubDate>" if when else "")
        for n, title, when in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\n'
        f"  <title>CDC Newsroom</title>\n  <link>https://www.cdc.gov/media/</link>\n{body}"
        "</channel></rss>\n"
    )


@pytest.fixture
def here(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`releasebot` in this process, for tests about the answer (tests/inprocess.py)."""
    return with_config(capsys)


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three dated CDC releases (#1-#3) polled, then an undated page a later poll found (#4)."""
    folder = tmp_path_factory.mktemp("cdc")
    config = folder / "bot.toml"
    config.write_text(CONFIG)
    (folder / "feed.xml").write_text(feed(DATED))
    assert releasebot(config, "poll").returncode == 0
    (folder / "feed.xml").write_text(feed([UNDATED, *DATED]))
    assert releasebot(config, "poll").returncode == 0
    return config


@pytest.mark.parametrize("ref", ["0", "#0", "99", "99999999999999999999999"])
def test_cite_of_a_number_that_is_no_release_exits_1(polled: Path, ref: str, here: Cli) -> None:
    """A number is an id only: none stored with it is a one-line failure, not a search hit."""
    proc = here(polled, "cite", ref)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == f"releasebot: no stored release has the id {ref.lstrip('#')}\n"


def test_cite_of_an_id_with_more_words_is_a_usage_error(polled: Path) -> None:
    """`cite "#1 extra"` exits 2 saying why, instead of citing the release that says "extra"."""
    proc = releasebot(polled, "cite", "#1 extra")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "is a release id with more after it" in proc.stderr


def test_cite_without_a_reference_cites_the_newest_dated_release(polled: Path, here: Cli) -> None:
    """No reference cites the newest dated release, not the undated page seen later."""
    proc = here(polled, "cite")
    assert proc.returncode == 0, proc.stderr
    assert "New guidance on measles" in proc.stdout


def test_cite_of_the_http_form_of_a_stored_https_link(polled: Path, here: Cli) -> None:
    """An http:// link (with tracking) finds the release stored under https://."""
    proc = here(polled, "cite", "http://www.cdc.gov/media/releases/2024/2.html?utm_source=x")
    assert proc.returncode == 0, proc.stderr
    assert "One extra case" in proc.stdout


def test_accessed_before_the_release_date_is_refused(polled: Path, here: Cli) -> None:
    """--accessed the day before publication exits 2 naming both dates; the day itself works."""
    url = "https://www.cdc.gov/media/releases/2024/3.html"
    proc = here(polled, "cite", url, "--style", "mla", "--accessed", "2024-04-02")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "releasebot: --accessed 2024-04-02: that is before the release's date, 2024-04-03:"
        " give the day you read it, on or after that date\n"
    )
    same_day = here(polled, "cite", url, "--style", "biblatex", "--accessed", "2024-04-03")
    assert same_day.returncode == 0, same_day.stderr
    assert re.search(r"urldate *= *\{2024-04-03\}", same_day.stdout)


def test_accessed_is_free_for_an_undated_release(polled: Path, here: Cli) -> None:
    """An undated release has no date to be read before: any access date is cited."""
    url = "https://www.cdc.gov/media/releases/2024/4.html"
    proc = here(polled, "cite", url, "--style", "mla", "--accessed", "2000-01-02")
    assert proc.returncode == 0, proc.stderr
    assert "Accessed 2 Jan. 2000." in proc.stdout
