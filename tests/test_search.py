"""/search: quoted phrases, English stems, accents, the query echoed once, and user text
that never reaches FTS5 as syntax (issue 11, point 12)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import settings_from_dict
from bot.models import Release
from bot.render import command_args, replies
from bot.render.command_args import Command, SearchTerm, search_terms
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import sync_config
from bot.store import Store
from tests.factories import make_release
from tests.fakes.telegram_html import validate_message_text
from tests.test_cli import run_cli, write_config
from tests.test_release_order import NOW

READER = ChatRef(5, "private", "ada", 5)

# bm25 prefers the short release that repeats both words over the one with the phrase.
SCATTERED = "Hotspot maps: Commonwealth funds hotspot work, Commonwealth says"
PHRASE = "New survey of birds, frogs and orchids across the Commonwealth hotspot of the south"
VACCINE_TITLES = [
    "A vaccine for fentanyl",
    "Vaccine trial opens in Ohio",
    "Why the vaccine works",
    "Nasal vaccine in mice",
    "Cocaine vaccine enters phase 2",
]
RELEASES = [
    (SCATTERED, "Funding for both."),
    (PHRASE, "Species counts."),
    *((title, "A study.") for title in VACCINE_TITLES),
    ("Vaccines, a history", "Plural only."),
    ("La medicación puede ayudar a prevenir recaídas", "Un estudio."),
    ("Dengue outbreak in Việt Nam", "Two accents on one letter."),
]


def releases() -> list[Release]:
    return [
        make_release(n, title=title, summary=summary)
        for n, (title, summary) in enumerate(RELEASES, start=1)
    ]


def open_store(path: Path | str) -> Store:
    store = Store.open(path)
    store.sync_feeds([("nida", "https://example.org/feed")])
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "search.db")
    store.ingest("nida", releases(), now=NOW, flood_limit=None)
    yield store
    store.close()


def titles(found: list) -> list[str]:
    return [stored.release.title for stored in found]


# --- phrases ------------------------------------------------------------------------------------


def test_a_quoted_phrase_finds_only_releases_with_the_phrase(store: Store) -> None:
    """`"Commonwealth hotspot"` lists the release with those words together, and not the one
    that has both words apart, though bm25 ranks that one higher on the bare words."""
    assert titles(store.search("Commonwealth hotspot", 5))[0] == SCATTERED  # the words alone
    assert titles(store.search('"Commonwealth hotspot"', 5)) == [PHRASE]
    assert titles(store.search("“Commonwealth hotspot”", 5)) == [PHRASE]  # a phone's quotes


def test_a_phrase_with_other_words_needs_the_phrase(store: Store) -> None:
    """Only phrase matches count for the quoted part: both releases have "hotspot" and
    "Commonwealth", only one has them as the phrase."""
    assert titles(store.search('"Commonwealth hotspot" hotspot', 5)) == [PHRASE]
    assert titles(store.search('hotspot "Commonwealth funds"', 5)) == [SCATTERED]


def test_search_terms_split_phrases_from_words() -> None:
    """Quoted text is one phrase, an open quote runs to the end, empty quotes are nothing."""
    assert search_terms('"Commonwealth  hotspot" birds «año nuevo» "" "open end') == (
        SearchTerm("Commonwealth hotspot", phrase=True),
        SearchTerm("birds", phrase=False),
        SearchTerm("año nuevo", phrase=True),
        SearchTerm("open end", phrase=True),
    )


# --- stems and accents --------------------------------------------------------------------------


def test_a_plural_finds_the_singular_and_back(store: Store) -> None:
    """`vaccines` finds every release about a vaccine, not just the one that says "vaccines"."""
    plural = set(titles(store.search("vaccines", 10)))
    assert plural == {*VACCINE_TITLES, "Vaccines, a history"}
    assert set(titles(store.search("vaccine", 10))) == plural


def test_accents_do_not_matter(store: Store) -> None:
    """`medicacion` finds "medicación", `recaidas` "recaídas", and `viet` "Việt" (a
    letter with two marks, which FTS5's default tokenizer kept apart)."""
    spanish = "La medicación puede ayudar a prevenir recaídas"
    assert titles(store.search("medicacion", 5)) == [spanish]
    assert titles(store.search('"prevenir recaidas"', 5)) == [spanish]
    assert titles(store.search("viet", 5)) == ["Dengue outbreak in Việt Nam"]


# --- the reply ------------------------------------------------------------------------------------


@pytest.fixture
def answers(tmp_path: Path) -> Iterator[Answers]:
    config = settings_from_dict(
        {"feeds": [{"name": "nida", "url": "https://example.org/feed"}]}, base_dir=Path(".")
    )
    store = Store.open(tmp_path / "answers.db")
    sync_config(store, config, NOW)
    store.ingest("nida", releases(), now=NOW, flood_limit=None)
    yield Answers(config, store, lambda: NOW, "releasebot_test_bot")
    store.close()


def shown(answers: Answers, args: str) -> str:
    reply = answers.answer(Command("search", args, addressed=False), READER)
    assert reply is not None
    return validate_message_text(reply.text, parse_mode="HTML").text


def test_search_reply_lists_the_phrase_and_echoes_it_once(answers: Answers) -> None:
    """/search "Commonwealth hotspot" answers with the phrase release only, under the query
    as typed: no quotes of ours around the reader's quotes."""
    text = shown(answers, '"Commonwealth hotspot"')
    assert text.startswith('Best matches for "Commonwealth hotspot"\n')
    assert PHRASE in text
    assert SCATTERED not in text


def test_search_reply_quotes_plain_words_once(answers: Answers) -> None:
    """Unquoted words are shown in quotes, once, as before; stems find all five+."""
    text = shown(answers, "vaccines")
    assert text.startswith("Best matches for “vaccines”\n")
    assert sum(title in text for title in [*VACCINE_TITLES, "Vaccines, a history"]) == 5


def test_no_match_echoes_the_phrase_once() -> None:
    """The "no release matches" reply shows a quoted query once, not `“"…"”`."""
    reply = replies.search_reply(command_args.parse_search('"zeppelin hangar"'), [], {})
    text = validate_message_text(reply.text, parse_mode="HTML").text
    assert text == 'No release matches "zeppelin hangar". Try fewer or other words.'


# --- an index made by an older version ---------------------------------------------------------


def as_before_m010(path: Path) -> None:
    """Put back the index m001 made (FTS5's default tokenizer) and forget m010."""
    store = Store.open(path)
    store.db.table("releases").enable_fts(
        ["title", "summary"], fts_version="FTS5", create_triggers=True, replace=True
    )
    store.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_search_stems_and_accents'")
    conn.close()


def test_upgrade_rebuilds_the_index_with_stems_and_accents(tmp_path: Path) -> None:
    """A database whose index an older version built finds `vaccines` → "vaccine" and
    `medicacion` → "medicación" once opened, and keeps releases stored later searchable."""
    path = tmp_path / "old.db"
    store = open_store(path)
    store.ingest("nida", releases(), now=NOW, flood_limit=None)
    store.close()
    as_before_m010(path)
    conn = sqlite3.connect(path)  # the old index, as an older version searched it
    found = conn.execute("SELECT rowid FROM releases_fts WHERE releases_fts MATCH 'vaccines'")
    assert len(found.fetchall()) == 1
    conn.close()
    store = Store.open(path)
    try:
        assert len(store.search("vaccines", 10)) == 6
        assert len(store.search("medicacion", 5)) == 1
        assert len(store.search("viet", 5)) == 1
        store.ingest(
            "nida", [make_release(50, title="Vaccinations for adults")], now=NOW, flood_limit=None
        )
        assert "Vaccinations for adults" in titles(store.search("vaccine", 10))
    finally:
        store.close()


def test_cli_cite_by_words_finds_stems_after_an_upgrade(tmp_path: Path) -> None:
    """`releasebot cite medications relapsing` on a database an older version indexed cites
    the release about medication and relapse."""
    config = write_config(tmp_path, {"nida": "https://nida.example/feed"})
    assert run_cli("status", cwd=tmp_path, config=config, check_clean=False).returncode in (0, 1)
    path = tmp_path / "releasebot.db"
    store = Store.open(path)
    title = "Medication can help prevent relapse in cocaine-dependent males"
    store.ingest("nida", [make_release(1, title=title)], now=NOW, flood_limit=None)
    store.close()
    as_before_m010(path)
    cited = run_cli("cite", "medications relapsing", cwd=tmp_path, config=config)
    assert cited.returncode == 0, cited.stderr
    assert "Medication can help prevent relapse" in cited.stdout


# --- hostile queries ----------------------------------------------------------------------------

# fmt: off
FTS_SYNTAX = [
    '"', "“", "”", "«", "»", "„", "'", "AND", "OR", "NOT", "NEAR", "NEAR(", "NEAR/3", "*", "-",
    "+", ":", "title:", "summary:", "{title summary}:", "^", "(", ")", "{", "}", ",", "\\",
    "vaccine", "hotspot", "médicación", "\x00", "\u200f", "🧪", " ", "  ", "\n",
]
# fmt: on
hostile_queries = st.one_of(
    st.lists(st.sampled_from(FTS_SYNTAX), max_size=20).map("".join),
    st.lists(st.sampled_from(FTS_SYNTAX), max_size=10).map(" ".join),
    st.text(max_size=80),
)


@cache
def hostile_store() -> Store:
    """One real store for every example (opening one runs the migrations)."""
    store = open_store(":memory:")
    store.ingest("nida", releases(), now=NOW, flood_limit=None)
    return store


@settings(max_examples=300, deadline=None)
@given(query=hostile_queries)
def test_no_query_is_an_fts_syntax_error(query: str) -> None:
    """Unbalanced quotes, AND/OR/NEAR, `*`, `-`, `:` and column filters are plain text:
    search, in every scope, answers with a list and never raises."""
    store = hostile_store()
    for feeds in (None, ["nida"], []):
        assert isinstance(store.search(query, 5, feeds), list)
    try:
        words = command_args.parse_search(query)
    except command_args.CommandArgumentError:
        return
    assert isinstance(store.search(words, 5), list)
    validate_message_text(replies.search_reply(words, [], {}).text, parse_mode="HTML")
