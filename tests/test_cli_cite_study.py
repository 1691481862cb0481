"""`releasebot cite REF --study`: the study behind a stored release, cited from the command
line; looked up now (against the loopback DOI resolver and NCBI) when the bot has not found
it yet, the answer kept so that nobody asks again. The releases come from the feed fixture
modelled on the seed release (tests/fixtures/feeds/nida_study.rss.xml).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.render.cite import STYLE_LABELS, STYLES
from tests.fakes.doi_resolver import DoiResolver
from tests.fakes.ncbi import Ncbi
from tests.fakes.study_services import SEED_DOI
from tests.inprocess import Cli, with_config
from tests.processes import releasebot
from tests.test_cite_study import GOLDEN

FIXTURE = Path(__file__).parent / "fixtures" / "feeds" / "nida_study.rss.xml"
# The ids `poll` gives the fixture's items (stored oldest first).
SEED, FACTS_APP, DOI_ITEM = 1, 2, 3


@dataclass
class Services:
    doi: DoiResolver
    ncbi: Ncbi
    polled: Path  # a database `poll` filled from the fixture

    def requests(self) -> int:
        return len(self.doi.requests) + len(self.ncbi.requests)


@pytest.fixture
def here(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`releasebot` in this process, for tests about the answer (tests/inprocess.py)."""
    return with_config(capsys)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The loopback study services, and the fixture feed polled once into a database."""
    with DoiResolver() as doi, Ncbi() as ncbi:
        folder = tmp_path_factory.mktemp("polled")
        config = write_config(folder, doi, ncbi)
        done = releasebot(config, "poll")
        assert done.returncode == 0, done.stderr
        yield Services(doi, ncbi, folder / "bot.db")


def write_config(folder: Path, doi: DoiResolver, ncbi: Ncbi, *, enabled: bool = True) -> Path:
    shutil.copy(FIXTURE, folder / "feed.xml")
    config = folder / "bot.toml"
    config.write_text(
        f"""
[bot]
database = "bot.db"

[[feeds]]
name = "nida"
url = "feed.xml"
publisher = "National Institute on Drug Abuse"
short_name = "NIDA"

[study]
enabled = {"true" if enabled else "false"}
doi_resolver = "{doi.url()}"
ncbi_api = "{ncbi.url()}"
contact_email = "ops@example.org"
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def config(services: Services, tmp_path: Path) -> Path:
    """A config of its own over a copy of the polled database (nothing looked up yet)."""
    shutil.copy(services.polled, tmp_path / "bot.db")
    return write_config(tmp_path, services.doi, services.ncbi)


def test_the_study_is_looked_up_cited_and_kept(services: Services, config: Path) -> None:
    """`cite 1 --study` on a fresh database asks NCBI and the DOI resolver and prints the
    golden APA 7 text; asked again, it answers from the database without a request."""
    before = services.requests()
    first = releasebot(config, "cite", str(SEED), "--study")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == GOLDEN["apa"].replace("*", "")
    asked = services.requests()
    assert asked > before
    again = releasebot(config, "cite", str(SEED), "--study", "--style", "mla")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == GOLDEN["mla"].replace("*", "")
    assert services.requests() == asked


def test_every_style_with_style_all(config: Path, here: Cli) -> None:
    """`--style all` prints each of the ten styles under its name; the prose ones are the
    golden strings."""
    done = here(config, "cite", "medication relapse cocaine", "--study", "--style", "all")
    assert done.returncode == 0, done.stderr
    blocks = done.stdout.strip().split("\n\n== ")
    names = [block.removeprefix("== ").split(" ==\n", 1)[0] for block in blocks]
    assert names == [f"{style} ({STYLE_LABELS[style]})" for style in STYLES]
    for block in blocks:
        name, text = block.removeprefix("== ").split(" ==\n", 1)
        style = name.split(" ")[0]
        if style in GOLDEN:
            assert text == GOLDEN[style].replace("*", "")
    assert "@article{young2014nipping," in done.stdout
    assert "TY  - JOUR" in done.stdout


def test_a_release_naming_no_study_exits_1_with_one_line(config: Path) -> None:
    """The facts-app release names no study: one line saying so, exit 1, as an unknown ref."""
    done = releasebot(config, "cite", str(FACTS_APP), "--study")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"releasebot: release #{FACTS_APP} names no study (no DOI, PubMed or PubMed Central id)"
    ]


def test_an_unregistered_doi_is_reported_and_not_asked_again(
    services: Services, config: Path, here: Cli
) -> None:
    """The resolver does not know the DOI (404): exit 1 saying so; the miss is kept, so the
    next `cite` does not ask again and says when it will be asked."""
    services.doi.later(SEED_DOI)
    try:
        first = here(config, "cite", str(DOI_ITEM), "--study")
        asked = services.doi.hits(SEED_DOI)
        second = here(config, "cite", str(DOI_ITEM), "--study")
    finally:
        services.doi.publish(SEED_DOI)
    assert first.returncode == 1
    assert first.stderr.strip() == (
        f"releasebot: the study of release #{DOI_ITEM} is not known:"
        f" doi:{SEED_DOI}: not registered with the DOI resolver"
    )
    assert second.returncode == 1
    assert "not registered with the DOI resolver; asked again after " in second.stderr
    assert services.doi.hits(SEED_DOI) == asked


def test_lookups_turned_off_ask_nobody(services: Services, config: Path, here: Cli) -> None:
    """With `[study] enabled = false` nothing is requested; the reason is named."""
    off = write_config(config.parent, services.doi, services.ncbi, enabled=False)
    before = services.requests()
    done = here(off, "cite", str(SEED), "--study")
    assert done.returncode == 1
    assert "not looked up ([study] enabled = false)" in done.stderr
    assert services.requests() == before


def test_a_study_has_no_access_date(config: Path, here: Cli) -> None:
    """`--study --accessed …` is a usage error (exit 2): a study's citation has no access date."""
    done = here(config, "cite", str(SEED), "--study", "--accessed", "2024-05-01")
    assert done.returncode == 2
    assert "a study's has no access date" in done.stderr


def test_style_all_for_a_release(config: Path, here: Cli) -> None:
    """`--style all` works for the release's own citation too: ten blocks."""
    done = here(config, "cite", str(SEED), "--style", "all", "--accessed", "2024-05-01")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n== ") + done.stdout.startswith("== ") == len(STYLES)
    assert "[Press release]" in done.stdout
