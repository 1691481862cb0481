"""Author names: one reading of an author field (e-mail addresses never shown), the same at
ingest and in citations."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.feeds.normalise import normalize_entry, person_name
from bot.models import Publisher
from bot.render.authors import citation_author
from tests.factories import make_release

EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")
NOBODY = Publisher(name="", short_name="")


def ingested(author: str) -> str:
    """The author a feed entry with this <author> is stored with."""
    entry = {"title": "t", "link": "https://agency.example/1", "author": author}
    release = normalize_entry(
        entry, feed_name="f", feed_title="F", feed_author="", base_url="", timezone=None
    )
    return release.author


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("a@agency.gov (Ann Lee), b@agency.gov (Bo Ma)", "Ann Lee, Bo Ma"),
        ('"Doe, Jane" <jdoe@nih.gov>', "Doe, Jane"),
        ("Doe, Jane <jdoe@nih.gov>", "Doe, Jane"),
        ("Jane Doe (jdoe@nih.gov)", "Jane Doe"),
        ("NIDA (Press Office)", "NIDA (Press Office)"),
    ],
)
def test_an_author_field_gives_the_names_in_it(author: str, expected: str) -> None:
    """Address lists give every name; a name in brackets keeps them; no address is shown."""
    assert ingested(author) == expected
    stored = replace(make_release(), author=author)
    assert citation_author(stored, NOBODY) == expected


def test_a_hostile_author_field_is_read_quickly_and_shows_no_address() -> None:
    """Deeply nested comments around an address give no error and no address."""
    assert ingested("(" * 5000 + "x@agency.gov" + ")" * 5000) == ""
    assert EMAIL.search(ingested("(Ann) " * 200 + "x@agency.gov")) is None


@given(st.text(alphabet=st.sampled_from(list('ab @.,;:()[]<>"\' ')), max_size=40))
@example("[<]]a")  # an empty pair inside another: both go in one reading
@example(";. @a")  # a stray separator made an empty "address": the field looked like words
@example("a@[")  # and no pair at all is no address list either
def test_a_name_read_again_stays_the_same(raw: str) -> None:
    """Citations read the stored name again: the second reading changes nothing."""
    once = person_name(raw)
    assert person_name(once) == once
    assert EMAIL.search(once) is None
