"""`releasebot cite`: the reference release cited from the store, by URL, key, id or words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.inprocess import Cli, with_config
from tests.processes import releasebot

ROOT = Path(__file__).resolve().parents[1]
URL = (
    "https://www.drugabuse.gov/news-events/news-releases/2014/04/"
    "medication-can-help-prevent-relapse-in-cocaine-dependent-males"
)
APA = (
    "National Institute on Drug Abuse. (2014, April 3). Medication can help prevent relapse"
    f" in cocaine-dependent males [Press release]. {URL}"
)


@pytest.fixture
def here(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`releasebot` in this process, for tests about the answer (tests/inprocess.py)."""
    return with_config(capsys)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The bundled demo config, copied and polled once."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copy(ROOT / "config" / "demo.toml", folder / "demo.toml")
    shutil.copy(ROOT / "config" / "demo-feed.xml", folder / "demo-feed.xml")
    config = folder / "demo.toml"
    assert releasebot(config, "poll").returncode == 0
    return config


@pytest.mark.parametrize(
    "ref", [URL, URL + "?utm_source=rss&utm_medium=feed", "cocaine relapse medication"]
)
def test_cite_finds_the_reference_release(demo, ref, here):
    """Citing by canonical URL, by the tracked original link, or by words gives the APA 7 text."""
    proc = here(demo, "cite", ref)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == APA


def test_cite_by_id_in_another_style(demo, here):
    """`cite 42 --style mla --accessed …` works on the id `latest` shows."""
    latest = here(demo, "latest", "-n", "20").stdout
    line = next(line for line in latest.splitlines() if "cocaine-dependent" in line)
    release_id = line.split()[0]
    proc = here(demo, "cite", release_id, "--style", "chicago-note", "--accessed", "2024-05-01")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "National Institute on Drug Abuse, “Medication Can Help Prevent Relapse in"
        f" Cocaine-Dependent Males,” press release, April 3, 2014, {URL}."
    )


def test_cite_with_no_match_exits_1_with_one_line(demo):
    """Nothing matching is a clear one-line failure, not a traceback."""
    proc = releasebot(demo, "cite", "zyxwv quantum chromodynamics")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no stored release matches" in proc.stderr


def test_list_styles_names_every_style(demo, here):
    """`cite --list-styles` lists the ten styles with their names."""
    proc = here(demo, "cite", "--list-styles")
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names == [
        "apa",
        "apa6",
        "mla",
        "chicago",
        "chicago-note",
        "chicago-author-date",
        "bibtex",
        "biblatex",
        "ris",
        "csl-json",
    ]


def test_unknown_style_is_a_usage_error(demo):
    """A misspelt style exits 2 and names the choices."""
    proc = releasebot(demo, "cite", URL, "--style", "harvard")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
