"""Feed names derived from titles for feeds added in Telegram: valid, readable, unique."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.names import feed_name_from_title

# The config file's rule for names (bot/config.py).
CONFIG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("NIDA News Releases", "nida-news-releases"),
        ("National Institute on Drug Abuse (NIDA) News", "national-institute-on-drug-abuse"),
        ("Noticias de Salud — Ministère de la Santé", "noticias-de-salud-ministere-de"),
        ("Øresund Æble Łódź Straße", "oresund-aeble-lodz-strasse"),
        ("  COVID-19: updates!  ", "covid-19-updates"),
        ("Pneumonoultramicroscopicsilicovolcanoconiosis news", "pneumonoultramicroscopicsilicovo"),
        ("新闻发布", "feed"),
        ("", "feed"),
        ("!!! ???", "feed"),
    ],
)  # fmt: skip
def test_a_title_becomes_a_readable_name(title: str, name: str) -> None:
    """Words in lower case ASCII joined by "-", cut at a word within 32 characters."""
    assert feed_name_from_title(title, ()) == name


def test_a_taken_name_gets_a_number() -> None:
    """A second feed with the same title gets -2, a third -3."""
    taken = {"nida-news"}
    assert feed_name_from_title("NIDA News", taken) == "nida-news-2"
    taken.add("nida-news-2")
    assert feed_name_from_title("NIDA News", taken) == "nida-news-3"
    assert feed_name_from_title("", {"feed"}) == "feed-2"


def test_a_numbered_long_name_stays_within_32_characters() -> None:
    """The number replaces the last word rather than overflowing the limit."""
    title = "National Institute on Drug Abuse (NIDA) News Releases"
    assert feed_name_from_title(title, {"national-institute-on-drug-abuse"}) == (
        "national-institute-on-drug-2"
    )


@given(st.text(max_size=80), st.sets(st.text(max_size=40), max_size=20))
def test_any_title_gives_a_valid_name_not_taken(title: str, taken: set[str]) -> None:
    """Whatever the title and the names in use, the result passes the config's rule and is new."""
    name = feed_name_from_title(title, taken)
    assert CONFIG_NAME.match(name)
    assert name not in taken


@given(st.text(max_size=80), st.integers(1, 60))
def test_many_feeds_with_one_title_all_get_distinct_names(title: str, copies: int) -> None:
    """Adding the same feed title again and again never repeats a name."""
    taken: list[str] = []
    for _ in range(copies):
        taken.append(feed_name_from_title(title, taken))
    assert len(set(taken)) == copies
    assert all(CONFIG_NAME.match(name) for name in taken)
