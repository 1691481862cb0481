"""Releases carry their language, and non-English titles keep their capitals (issue 11 point 2).

Title case is for English titles only: CMOS 17 §11.6 (French, Italian, Spanish, Portuguese
titles: sentence style, capitalise only the first word and proper nouns) and MLA 9 §2.90
(titles in languages other than English keep that language's capitalisation). Dates stay
in the manuals' English.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.feeds.language import detect_language, release_language, url_language
from bot.feeds.parse import parse_feed
from bot.models import ParsedFeed, Publisher, Release
from bot.render.cite import render_citation
from bot.store import Store
from tests.test_cli import json_lines, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
MISLABELLED = FIXTURES / "rss2_mislabelled_language.xml"
ACCESSED = date(2024, 5, 1)
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
INSTITUTE = Publisher(name="Example Institute on Drug Abuse", short_name="EIDA")
FOLHA = Publisher(name="Folha de S.Paulo", short_name="Folha")
ES_URL = "https://www.drugs.example.gov/es/news-events/news-releases/2014/04/medicacion-recaidas"
PT_URL = "https://noticias.example.com.br/internacional/2018/09/24/rival-de-putin.htm"
# A Brazilian feed as UOL sends it: an empty <language>, Portuguese day and month names.
BRAZILIAN_FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Notícias</title><link>https://noticias.example.com.br/</link>
<description>Últimas notícias</description><language></language>
<item><title>Rival de Putin é condenado a mais 20 dias de prisão</title>
<link>{PT_URL}</link>
<description>O opositor foi detido no domingo ao deixar a prisão.</description>
<pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate></item>
</channel></rss>""".encode()


def parse_file(path: Path, **options: str) -> ParsedFeed:
    return parse_feed(path.read_bytes(), feed_name="eida", base_url="https://x.example/", **options)


def by_title(feed: ParsedFeed, title: str) -> Release:
    return next(release for release in feed.releases if release.title == title)


def cite(release: Release, style: str, publisher: Publisher) -> str:
    return render_citation(release, publisher, style, accessed=ACCESSED)


# --- where the language comes from --------------------------------------------------------


def test_feed_labelled_en_gives_es_for_its_items_under_es() -> None:
    """NIDA labels its Spanish releases `en`; those under /es/ are Spanish, even a short title."""
    feed = parse_file(MISLABELLED)
    spanish = by_title(
        feed, "La medicación puede ayudar a prevenir recaídas en la adicción a la cocaína"
    )
    assert spanish.language == "es"
    assert by_title(feed, "Nota informativa").language == "es"


def test_plain_text_corrects_a_wrong_label_and_a_weak_signal_keeps_it() -> None:
    """Spanish text outside /es/ is Spanish; an item's own dc:language stands; a short
    English title keeps the feed's `en`."""
    feed = parse_file(MISLABELLED)
    assert (
        by_title(feed, "Nuevo estudio sobre el consumo de cannabis en los adolescentes").language
        == "es"
    )
    assert by_title(feed, "Communiqué de presse").language == "fr"
    assert by_title(feed, "Fentanyl Research Update").language == "en"


def test_configured_language_stands_before_the_feeds_and_after_the_items() -> None:
    """`feeds[].language` overrides `<language>`; an item's own tag and the URL still win."""
    feed = parse_file(MISLABELLED, language="pt-BR")
    assert by_title(feed, "Fentanyl Research Update").language == "pt-BR"
    assert by_title(feed, "Communiqué de presse").language == "fr"
    assert by_title(feed, "Nota informativa").language == "es"


def test_empty_feed_language_with_portuguese_text_is_pt() -> None:
    """A Brazilian feed with an empty <language> gives Portuguese releases."""
    (release,) = parse_feed(BRAZILIAN_FEED, feed_name="br", base_url=PT_URL).releases
    assert release.language == "pt"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://nida.nih.gov/es/news-events/news-releases/2014/04/x", "es"),
        ("https://www.example.org/pt-br/noticias/x", "pt-br"),
        ("https://www.example.org/news/FR/communique", "fr"),
        ("https://www.example.org/news/2014/es/x", ""),  # deeper than a site's language prefix
        ("https://www.example.org/esp/x", ""),
        ("https://www.example.org/", ""),
    ],
)
def test_url_language(url: str, expected: str) -> None:
    """Only a language-tag segment at the start of the path names a language."""
    assert url_language(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rival de Putin é condenado a mais 20 dias de prisão", "pt"),
        ("La medicación puede ayudar a prevenir recaídas en la adicción a la cocaína", "es"),
        ("Le ministère de la santé publie les résultats de son enquête sur le tabac", "fr"),
        ("Die Zahl der Drogentoten ist gestiegen, teilte das Ministerium mit", "de"),
        ("Il ministero della salute ha pubblicato i dati della ricerca sul consumo di alcol", "it"),
        (
            "Medication can help prevent relapse in cocaine-dependent males, the NIH shows",
            "en",
        ),
    ],
)
def test_function_words_name_the_language(text: str, expected: str) -> None:
    """Each language the feeds publish in is recognised from a title-length text."""
    assert detect_language(text) == expected


def test_a_title_with_no_clear_signal_keeps_the_declared_tag() -> None:
    """Names and numbers say nothing: the declared tag (or nothing) stands."""
    assert (
        release_language(url="", declared=("", "en-GB"), title="NASA Mars 2020", summary="")
        == "en-GB"
    )
    assert release_language(url="", declared=(), title="COVID-19: Update", summary="") == ""


# --- citations: the examples, read from feeds ---------------------------------------

PT_CASES = {
    "mla": (
        "“Rival de Putin é condenado a mais 20 dias de prisão.” *Folha de S.Paulo*, 24 Sept. 2018, "
        "noticias.example.com.br/internacional/2018/09/24/rival-de-putin.htm. Press release."
    ),
    "chicago": (
        "Folha de S.Paulo. “Rival de Putin é condenado a mais 20 dias de prisão.” Press release. "
        f"September 24, 2018. {PT_URL}."
    ),
    "chicago-note": (
        "Folha de S.Paulo, “Rival de Putin é condenado a mais 20 dias de prisão,” press release, "
        f"September 24, 2018, {PT_URL}."
    ),
    "chicago-author-date": (
        "Folha de S.Paulo. 2018. “Rival de Putin é condenado a mais 20 dias de prisão.” Press "
        f"release. September 24, 2018. {PT_URL}."
    ),
}
ES_CASES = {
    "mla": (
        "“La medicación puede ayudar a prevenir recaídas en la adicción a la cocaína.” *Example "
        "Institute on Drug Abuse*, 3 Apr. 2014, www.drugs.example.gov/es/news-events/news-releases/"
        "2014/04/medicacion-recaidas. Press release."
    ),
    "chicago": (
        "Example Institute on Drug Abuse. “La medicación puede ayudar a prevenir recaídas en la "
        f"adicción a la cocaína.” Press release. April 3, 2014. {ES_URL}."
    ),
    "chicago-note": (
        "Example Institute on Drug Abuse, “La medicación puede ayudar a prevenir recaídas en la "
        f"adicción a la cocaína,” press release, April 3, 2014, {ES_URL}."
    ),
}


@pytest.mark.parametrize("style", list(PT_CASES))
def test_portuguese_release_from_a_feed_keeps_its_capitals(style: str) -> None:
    """The issue's `Rival De Putin É Condenado…` is cited as the publisher wrote it, dated."""
    (release,) = parse_feed(BRAZILIAN_FEED, feed_name="br", base_url=PT_URL).releases
    assert cite(release, style, FOLHA) == PT_CASES[style].replace("*", "")


@pytest.mark.parametrize("style", list(ES_CASES))
def test_spanish_release_of_a_feed_labelled_en_keeps_its_capitals(style: str) -> None:
    """The issue's `La Medicación Puede Ayudar…` is cited as the publisher wrote it."""
    release = parse_file(MISLABELLED).releases[0]
    assert cite(release, style, INSTITUTE) == ES_CASES[style].replace("*", "")


def test_english_release_of_the_same_feed_is_still_title_cased() -> None:
    """English titles keep MLA's title case."""
    release = by_title(parse_file(MISLABELLED), "Fentanyl Research Update")
    assert cite(release, "mla", INSTITUTE).startswith("“Fentanyl Research Update.”")


def test_csl_json_carries_the_language() -> None:
    """CSL-JSON says `language`, so a CSL processor leaves the Spanish title as written."""
    release = parse_file(MISLABELLED).releases[0]
    (item,) = json.loads(cite(release, "csl-json", INSTITUTE))
    assert item["language"] == "es"
    (item,) = json.loads(
        cite(by_title(parse_file(MISLABELLED), "Fentanyl Research Update"), "csl-json", INSTITUTE)
    )
    assert item["language"] == "en"


# --- config, preview, store ---------------------------------------------------------------


def write_feed_config(folder: Path, language: str) -> Path:
    (folder / "feed.xml").write_bytes(MISLABELLED.read_bytes())
    path = folder / "config.toml"
    path.write_text(
        '[bot]\ndatabase = "releasebot.db"\n\n[[feeds]]\nname = "eida"\nurl = "feed.xml"\n'
        f'language = "{language}"\n',
        encoding="utf-8",
    )
    return path


def test_config_language_must_be_a_language_tag(tmp_path: Path) -> None:
    """`feeds[].language` takes tags like `pt-BR` and names the key of a wrong one."""
    assert load_settings(write_feed_config(tmp_path, "pt-BR")).feeds[0].language == "pt-BR"
    with pytest.raises(ConfigError) as info:
        load_settings(write_feed_config(tmp_path, "Portuguese (Brazil)"))
    assert "feeds[1].language: " in "\n".join(info.value.problems)


def test_preview_json_shows_the_language_the_config_and_detection_give(tmp_path: Path) -> None:
    """`preview --json` of a configured feed shows each release's language as it will be stored."""
    config = write_feed_config(tmp_path, "en-US")
    done = run_cli("preview", "eida", "--json", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    languages = {record["title"]: record["language"] for record in json_lines(done.stdout)}
    assert (
        languages["La medicación puede ayudar a prevenir recaídas en la adicción a la cocaína"]
        == "es"
    )
    assert languages["Fentanyl Research Update"] == "en-US"


def test_languages_stored_before_the_check_are_corrected_at_upgrade(tmp_path: Path) -> None:
    """m011: a Spanish release stored as `en` and a Portuguese one stored as `` are cited
    with their own capitals after the upgrade; an English one keeps `en`."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("eida", "https://x.example/feed.xml"), ("br", "https://x.example/br.xml")])
    store.ingest("eida", parse_file(MISLABELLED).releases, now=NOW, flood_limit=10)
    store.ingest(
        "br",
        parse_feed(BRAZILIAN_FEED, feed_name="br", base_url=PT_URL).releases,
        now=NOW,
        flood_limit=10,
    )
    store.close()
    conn = sqlite3.connect(path)  # as an older version left it: the feeds' own labels
    with conn:
        conn.execute("UPDATE releases SET language = 'en' WHERE feed = 'eida'")
        conn.execute("UPDATE releases SET language = '' WHERE feed = 'br'")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_release_languages'")
    conn.close()
    store = Store.open(path)
    try:
        stored = [store.release(n) for n in range(1, 7)]
    finally:
        store.close()
    languages = {s.release.title: s.release.language for s in stored if s is not None}
    assert languages == {
        "La medicación puede ayudar a prevenir recaídas en la adicción a la cocaína": "es",
        "Nota informativa": "es",
        "Nuevo estudio sobre el consumo de cannabis en los adolescentes": "es",
        "Communiqué de presse": "en",  # its dc:language was lost with the old row; nothing says fr
        "Fentanyl Research Update": "en",
        "Rival de Putin é condenado a mais 20 dias de prisão": "pt",
    }
    spanish = next(s for s in stored if s is not None and s.release.url == ES_URL)
    assert cite(spanish.release, "mla", INSTITUTE) == ES_CASES["mla"].replace("*", "")


def test_a_path_segment_does_not_overrule_plainly_english_text() -> None:
    """/it/ (an IT office) or /de/ (Delaware) in the path: English text stays English."""
    for url in ("https://agency.gov/it/news/42", "https://state.gov/de/press/7"):
        language = release_language(
            url=url,
            declared=("en",),
            title="The agency says the new tool will help with the risk of outages",
            summary="It is the first of its kind and it will be in use by the end of the year.",
        )
        assert language == "en"
    spanish = "La medicación puede ayudar a prevenir las recaídas en la adicción a la cocaína"
    assert (
        release_language(
            url="https://nida.nih.gov/es/n/1", declared=("en",), title=spanish, summary=""
        )
        == "es"
    )
    assert (
        release_language(
            url="https://nida.nih.gov/es/n/2", declared=("en",), title="NIDA", summary=""
        )
        == "es"
    )
