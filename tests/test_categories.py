"""Release categories (issue 12): read from RSS, Atom and dc:subject, cleaned and capped,
stored with each release, kept current without editing posts, shown by `preview --json`."""

from __future__ import annotations

import sqlite3
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from bot.feeds.normalise import LIMITS, MAX_CATEGORIES, normalize_entry
from bot.feeds.parse import parse_feed
from bot.feeds.text import BIDI_CONTROLS
from bot.models import Release, RouteSpec
from bot.store import Store
from bot.store.codec import release_row
from bot.store.schema import migrations
from tests.factories import make_release
from tests.test_cli import json_lines, run_cli

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
BASE = "https://agency.example/feed.xml"


def parse(body: str) -> list[Release]:
    return list(parse_feed(body.encode(), feed_name="agency", base_url=BASE).releases)


def rss(items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Agency News</title><link>https://agency.example/</link>{items}</channel></rss>"
    )


def rss_item(categories: str, n: int = 1) -> str:
    return (
        f"<item><title>Release {n}</title><link>https://agency.example/r/{n}</link>"
        f"<guid>r-{n}</guid>{categories}</item>"
    )


def entry(*tags: Any) -> dict[str, Any]:
    """A feedparser entry as a mapping, with `tags` as given (hostile shapes too)."""
    return {"title": "Release", "link": "https://agency.example/r/1", "tags": list(tags)}


def normalise(raw: dict[str, Any]) -> Release:
    return normalize_entry(
        raw, feed_name="agency", feed_title="", feed_author="", base_url=BASE, timezone=None
    )


# --- reading them from feeds ----------------------------------------------------------------


def test_rss_categories_are_read_in_document_order() -> None:
    """RSS <category> elements (Phys.org's padded ones, NIH's with a domain) become the
    release's categories, trimmed, entities decoded once, in the feed's order."""
    [release] = parse(
        rss(
            rss_item(
                "<category>\n  Plants &amp; Animals Ecology </category>"
                '<category domain="https://nih.gov/topics">Opioids</category>'
                "<category>Substance Use &amp;amp; Addiction</category>"
            )
        )
    )
    assert release.categories == (
        "Plants & Animals Ecology",
        "Opioids",
        "Substance Use & Addiction",
    )


def test_atom_categories_prefer_the_label_and_fall_back_to_the_term() -> None:
    """An Atom category shows its human label when it has one, else its term (arXiv's)."""
    body = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Agency</title>'
        "<id>urn:agency</id><updated>2026-11-29T10:00:00Z</updated>"
        "<entry><title>Release 1</title><id>urn:r1</id><link href='https://agency.example/r/1'/>"
        "<updated>2026-11-29T10:00:00Z</updated>"
        '<category term="nokia" label="Nokia" scheme="http://www.sixapart.com/ns/types#tag"/>'
        '<category term="cs.LO" scheme="http://arxiv.org/schemas/atom"/>'
        '<category term="opioids" label=""/>'
        "</entry></feed>"
    )
    [release] = parse(body)
    assert release.categories == ("Nokia", "cs.LO", "opioids")


def test_dc_subject_counts_as_a_category() -> None:
    """RSS 1.0's dc:subject (Science's "This week in Science") is a category too."""
    body = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://agency.example/"><title>Agency</title>'
        "<link>https://agency.example/</link></channel>"
        '<item rdf:about="https://agency.example/r/1"><title>Release 1</title>'
        "<link>https://agency.example/r/1</link>"
        "<dc:subject><![CDATA[Botany, Microbiology]]></dc:subject></item></rdf:RDF>"
    )
    [release] = parse(body)
    assert release.categories == ("Botany, Microbiology",)


def test_a_category_repeated_in_another_case_is_kept_once_as_first_written() -> None:
    """Duplicates (case aside, spacing aside) appear once, in the spelling seen first."""
    [release] = parse(
        rss(
            rss_item(
                "<category>Opioids</category><category>Research</category>"
                "<category>OPIOIDS</category><category>  opioids </category>"
                "<category>Research</category>"
            )
        )
    )
    assert release.categories == ("Opioids", "Research")


def test_an_entry_without_categories_has_none() -> None:
    """No <category>: no categories, and nothing reported as cut."""
    [release] = parse(rss(rss_item("")))
    assert release.categories == ()
    assert release.truncated == ()


def test_markup_in_a_category_is_dropped_from_well_and_ill_formed_feeds() -> None:
    """Escaped markup in a category leaves only its text, whether the feed parses as XML
    or only with feedparser's loose parser (which leaves the XML entities in)."""
    category = "<category>&lt;b&gt;Drugs&lt;/b&gt; &amp;amp; Alcohol</category>"
    well_formed = rss(rss_item(category))
    ill_formed = well_formed.replace("</title>", "\x07</title>", 1)
    assert parse_feed(ill_formed.encode(), feed_name="agency", base_url=BASE).bozo
    for body in (well_formed, ill_formed):
        [release] = parse(body)
        assert release.categories == ("Drugs & Alcohol",)


def test_hostile_categories_are_cleaned_cut_and_capped() -> None:
    """Markup, control characters, bidi overrides and blank categories never reach the
    store; a huge category is cut, and a flood of them is capped and reported."""
    huge = "Addiction " * 1_000
    many = "".join(f"<category>topic {n}</category>" for n in range(5_000))
    [release] = parse(
        rss(
            rss_item(
                "<category>&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;Drugs&lt;/b&gt;</category>"
                "<category>\u202eevil\u202c tag\x07</category>"
                "<category>   </category>"
                f"<category>{huge}</category>{many}"
            )
        )
    )
    first, second, third, *rest = release.categories
    assert (first, second) == ("Drugs", "evil tag")
    assert third.endswith("…")
    assert len(third) <= LIMITS["categories"] == 200
    assert len(release.categories) == MAX_CATEGORIES == 50
    assert rest[0] == "topic 0"
    assert "categories" in release.truncated


def test_tags_of_the_wrong_shape_are_skipped() -> None:
    """Tags that are not mappings, or whose term and label are not text, are ignored."""
    release = normalise(entry("Opioids", None, {"term": 5, "label": ["x"]}, {"term": "Research"}))
    assert release.categories == ("Research",)
    assert normalise({**entry(), "tags": "Opioids"}).categories == ()


tag_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
) | st.sampled_from(["Opioids", "OPIOIDS", " opioids ", "&amp;", "<b>x</b>", "\u202e", ""])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(tag_text, st.one_of(st.none(), tag_text)), max_size=80))
def test_categories_are_always_clean_distinct_and_within_bounds(
    tags: list[tuple[str, str | None]],
) -> None:
    """Whatever the tags hold, the categories are one-line, trimmed, free of control and
    bidi characters, distinct case aside, at most 50 of at most 200 characters each."""
    release = normalise(entry(*({"term": term, "label": label} for term, label in tags)))
    categories = release.categories
    assert len(categories) <= MAX_CATEGORIES
    assert len({category.casefold() for category in categories}) == len(categories)
    for category in categories:
        assert category
        assert category == category.strip()
        assert 0 < len(category) <= LIMITS["categories"]
        assert not BIDI_CONTROLS.search(category)
        assert "\n" not in category
        assert not any(unicodedata.category(ch) == "Cc" for ch in category)
    if len(tags) <= MAX_CATEGORIES and not any(len(t) + len(lbl or "") > 200 for t, lbl in tags):
        assert "categories" not in release.truncated


# --- the store ------------------------------------------------------------------------------


def open_store(path: Path) -> Store:
    store = Store.open(path)
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 1)], now=NOW)
    return store


def test_categories_survive_the_store(tmp_path: Path) -> None:
    """A release's categories are read back as they were stored, by id, in /latest and
    with the post the dispatcher sends."""
    store = open_store(tmp_path / "bot.db")
    try:
        release = make_release(1, categories=("Opioids", "Plants & Animals", "Ünïcode \"'[]"))
        store.ingest("nida", [release, make_release(2)], now=NOW, flood_limit=10)
        stored = store.release(1)
        assert stored is not None
        assert stored.release.categories == release.categories
        assert [s.release.categories for s in store.latest(5)] == [(), release.categories]
        assert len(store.pending_for_channel("news", NOW)) == 1  # a new route's backlog
        store.ingest("nida", [make_release(3, categories=("Fentanyl",))], now=NOW, flood_limit=9)
        owed_now = store.pending_for_channel("news", NOW)
        assert [o.stored.release.categories for o in owed_now if o.stored] == [(), ("Fentanyl",)]
    finally:
        store.close()


def test_new_categories_are_stored_without_editing_the_sent_post(tmp_path: Path) -> None:
    """A feed that re-tags a sent release gets its new categories stored (filters see
    them), but the post, which does not show categories, is owed no edit."""
    store = open_store(tmp_path / "bot.db")
    try:
        store.ingest("nida", [make_release(1, categories=("Opioids",))], now=NOW, flood_limit=10)
        [delivery] = [owed.delivery for owed in store.pending_for_channel("news", NOW)]
        store.mark_sending(delivery.id)
        store.mark_sent(delivery.id, 77, NOW)
        retagged = make_release(1, categories=("Opioids", "Fentanyl"))
        result = store.ingest("nida", [retagged], now=NOW, flood_limit=10)
        stored = store.release(1)
        assert stored is not None
        assert stored.release.categories == ("Opioids", "Fentanyl")
        assert (result.new, result.updated, result.queued) == (0, 0, 0)
        assert store.edits_for_channel("news", NOW + timedelta(minutes=5)) == []
        # A title change owes its edit as before, and brings the categories with it.
        fixed = make_release(1, title="Corrected title", categories=("Fentanyl",))
        assert store.ingest("nida", [fixed], now=NOW, flood_limit=10).updated == 1
        stored = store.release(1)
        assert stored is not None
        assert stored.release.categories == ("Fentanyl",)
        [edit] = store.edits_for_channel("news", NOW + timedelta(minutes=5))
        assert edit.delivery.message_id == 77
    finally:
        store.close()


def m012_database(path: Path) -> None:
    """A database as the version before m013 made it, holding two releases."""
    db = Database(path)
    migrations.apply(db, stop_before="m013_release_categories")
    db.execute("INSERT INTO feeds (name, url, current_url) VALUES ('nida', 'u', 'u')")
    for n in (1, 2):
        row = release_row(make_release(n), first_seen=NOW)
        del row["categories"]
        db.table("releases").insert(row)
    db.conn.commit()
    db.close()


def test_releases_stored_before_categories_keep_their_rows_and_have_none(tmp_path: Path) -> None:
    """After the upgrade, releases stored by the older version are all there with no
    categories; the next poll that lists one with categories fills them in."""
    path = tmp_path / "bot.db"
    m012_database(path)
    store = Store.open(path)
    try:
        old = [store.release(n) for n in (1, 2)]
        assert [s.release.title if s else None for s in old] == [
            "Release number 1 about addiction research",
            "Release number 2 about addiction research",
        ]
        assert [s.release.categories if s else None for s in old] == [(), ()]
        store.ingest("nida", [make_release(2, categories=("Opioids",))], now=NOW, flood_limit=9)
        again = store.release(2)
        assert again is not None
        assert again.release.categories == ("Opioids",)
        assert [s.id for s in store.latest(5)] == [2, 1]
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        column = [c for c in conn.execute("PRAGMA table_info(releases)") if c[1] == "categories"]
        assert len(column) == 1
        assert column[0][3] == 1  # NOT NULL: a future read never meets NULL
    finally:
        conn.close()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=50), max_size=8).map(tuple))
def test_any_categories_round_trip_through_the_database(categories: tuple[str, ...]) -> None:
    """Whatever strings a release's categories hold (quotes, NULs, any script), the store
    gives them back exactly, in order."""
    store = Store.open(Path(":memory:"))
    try:
        store.sync_feeds([("nida", "https://example.org/feed")])
        store.ingest("nida", [make_release(1, categories=categories)], now=NOW, flood_limit=10)
        stored = store.release(1)
        assert stored is not None
        assert stored.release.categories == categories
    finally:
        store.close()


# --- preview --------------------------------------------------------------------------------


def test_preview_json_shows_each_releases_categories(tmp_path: Path) -> None:
    """`releasebot preview --json` lists the categories a route filter will match on."""
    items = rss_item("<category>Opioids</category><category>Research</category>", 1)
    (tmp_path / "feed.xml").write_text(rss(items + rss_item("", 2)), encoding="utf-8")
    done = run_cli("preview", "feed.xml", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    by_key = {record["key"]: record["categories"] for record in json_lines(done.stdout)}
    assert by_key == {"r-1": ["Opioids", "Research"], "r-2": []}
