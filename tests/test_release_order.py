"""One order for releases everywhere: `preview`, the store, `latest`, `/latest` and `/cite`.

A date-only release sorts at noon UTC, and an undated one below every dated release (by
when the bot first saw it), whether the feed is previewed or stored and listed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import settings_from_dict
from bot.feeds.parse import newest_first, parse_feed
from bot.models import PubDate, Release
from bot.render.command_args import Command
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import sync_config
from bot.store import Store
from tests.factories import make_release
from tests.fakes.telegram_html import validate_message_text
from tests.test_cli import run_here, write_config

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
READER = ChatRef(5, "private", "ada", 5)

# Document order is not date order. "Late on 2 April" in New York is 02:30 UTC on 3 April:
# after 00:00 UTC on the 3rd, before noon, where a date-only 3 April sorts. The undated
# items are old pages a first poll finds; they must not head the list.
MIXED_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Agency News</title><link>https://agency.example/news/</link>
<item><title>Undated notice</title><link>https://agency.example/news/u1</link></item>
<item><title>Late on 2 April</title><link>https://agency.example/news/t2</link>
  <pubDate>Wed, 02 Apr 2014 22:30:00 -0400</pubDate></item>
<item><title>Dated 3 April only</title><link>https://agency.example/news/d3</link>
  <pubDate>Thu, 03 Apr 2014</pubDate></item>
<item><title>Morning of 1 April</title><link>https://agency.example/news/t1</link>
  <pubDate>Tue, 01 Apr 2014 10:00:00 -0400</pubDate></item>
<item><title>Undated page</title><link>https://agency.example/news/u2</link></item>
</channel></rss>
"""
EXPECTED = [
    "Dated 3 April only",
    "Late on 2 April",
    "Morning of 1 April",
    "Undated notice",
    "Undated page",
]


def titles_in(text: str) -> list[str]:
    """The titles of MIXED_FEED in the order `text` names them."""
    found = [(text.index(title), title) for title in EXPECTED if title in text]
    return [title for _, title in sorted(found)]


def test_preview_and_latest_list_a_mixed_feed_in_the_same_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`preview` and, once polled, `latest` list date-only, timed and undated releases alike:
    newest date first (a bare date at noon UTC), undated ones last."""
    (tmp_path / "agency.xml").write_bytes(MIXED_FEED)
    config = write_config(tmp_path, {"agency": "agency.xml"})
    preview = run_here(capsys, "preview", "agency.xml", cwd=tmp_path)
    assert preview.returncode == 0, preview.stderr
    assert run_here(capsys, "poll", cwd=tmp_path, config=config).returncode == 0
    latest = run_here(capsys, "latest", cwd=tmp_path, config=config)
    assert latest.returncode == 0, latest.stderr
    assert titles_in(preview.stdout) == EXPECTED
    assert titles_in(latest.stdout) == EXPECTED
    cited = run_here(capsys, "cite", "--style", "bibtex", cwd=tmp_path, config=config)
    assert cited.returncode == 0, cited.stderr
    # BibTeX braces the month name, a proper noun in a sentence-case title (issue 11 point 8).
    assert "Dated 3 {April} only" in cited.stdout


@pytest.fixture
def answers() -> Iterator[Answers]:
    """Answers over an in-memory store holding MIXED_FEED as a first poll stored it."""
    config = settings_from_dict(
        {"feeds": [{"name": "agency", "url": "https://agency.example/feed"}]},
        base_dir=Path("."),
    )
    store = Store.open(":memory:")
    sync_config(store, config, NOW)
    parsed = parse_feed(MIXED_FEED, feed_name="agency", base_url="https://agency.example/feed")
    store.ingest("agency", parsed.releases, now=NOW, flood_limit=None)
    yield Answers(config, store, lambda: NOW, "releasebot_test_bot")
    store.close()


def shown(answers: Answers, name: str, args: str = "") -> str:
    reply = answers.answer(Command(name, args, addressed=False), READER)
    assert reply is not None
    return validate_message_text(reply.text, parse_mode="HTML").text


def test_cite_with_no_reference_cites_the_newest_dated_release(answers: Answers) -> None:
    """/cite alone cites the newest dated release, not an undated page found with it."""
    text = shown(answers, "cite")
    assert titles_in(text) == ["Dated 3 April only"]


def test_latest_in_a_chat_lists_as_preview_does(answers: Answers) -> None:
    """/latest lists a stored feed in the order `preview` shows it."""
    parsed = parse_feed(MIXED_FEED, feed_name="agency", base_url="https://agency.example/feed")
    previewed = [release.title for release in newest_first(parsed.releases)]
    assert previewed == EXPECTED
    assert titles_in(shown(answers, "latest")) == EXPECTED


# --- any mix of dates -------------------------------------------------------------------------

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
days = st.dates(min_value=date(2014, 3, 28), max_value=date(2014, 4, 3))
timed = st.builds(
    lambda day, minute, zone: (
        datetime.combine(day, datetime.min.time(), zone) + timedelta(minutes=minute)
    ),
    days,
    st.integers(0, 24 * 60 - 1),
    offsets,
)
pub_dates: st.SearchStrategy[PubDate | None] = st.one_of(st.none(), days, timed)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(pub_dates, pub_dates), min_size=1, max_size=12))
def test_the_store_lists_any_mix_as_the_preview_orders_it(
    dates: list[tuple[PubDate | None, PubDate | None]],
) -> None:
    """Whatever mix of timed, date-only and undated releases a feed lists, the store gives
    them back newest first exactly as `preview` orders the feed."""
    releases = [
        make_release(n, published=published, updated=updated)
        for n, (published, updated) in enumerate(dates)
    ]
    store = Store.open(":memory:")
    try:
        store.sync_feeds([("nida", "https://example.org/feed")])
        store.ingest("nida", releases, now=NOW, flood_limit=None)
        listed = [stored.release.key for stored in store.latest(len(releases))]
    finally:
        store.close()
    assert listed == [release.key for release in newest_first(releases)]


def test_an_undated_release_seen_later_lists_above_older_undated_ones() -> None:
    """Among undated releases, the one the bot saw last is listed first; dated ones stay above."""
    store = Store.open(":memory:")
    try:
        store.sync_feeds([("nida", "https://example.org/feed")])
        store.ingest("nida", [make_release(1, published=None)], now=NOW, flood_limit=None)
        later = [make_release(2, published=None), make_release(3)]
        store.ingest("nida", later, now=NOW + timedelta(hours=1), flood_limit=None)
        listed = [stored.release.key for stored in store.latest(3)]
    finally:
        store.close()
    assert listed == [make_release(n).key for n in (3, 2, 1)]


def test_an_older_database_is_sorted_the_new_way_at_upgrade(tmp_path: Path) -> None:
    """Rows an older version stored (bare dates at 00:00 UTC, undated at first sight) list
    in the new order after the upgrade."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("nida", "https://example.org/feed")])
    late = datetime(2014, 4, 2, 22, 30, tzinfo=timezone(timedelta(hours=-4)))
    releases: list[Release] = [
        make_release(1, published=None),
        make_release(2, published=late),
        make_release(3, published=date(2014, 4, 3)),
    ]
    store.ingest("nida", releases, now=NOW, flood_limit=None)
    store.close()
    conn = sqlite3.connect(path)  # as an older version left it
    with conn:
        conn.execute("UPDATE releases SET sort_at = first_seen WHERE published IS NULL")
        conn.execute(
            "UPDATE releases SET sort_at = published || 'T00:00:00.000000Z'"
            " WHERE length(published) = 10"
        )
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_one_sort_key'")
    conn.close()
    store = Store.open(path)
    try:
        listed = [stored.release.key for stored in store.latest(3)]
    finally:
        store.close()
    assert listed == [make_release(n).key for n in (3, 2, 1)]
