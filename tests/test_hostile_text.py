"""What a hostile feed's text can do to us: impossible character references, bidi controls
that reverse the text around a title, and fields megabytes long."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import FeedParseError
from bot.feeds.normalise import LIMITS, normalize_entry
from bot.feeds.parse import parse_feed
from bot.feeds.text import BIDI_CONTROLS, cut_text
from bot.models import Publisher, Release
from bot.render.post import PostOptions, render_post
from bot.services.config_sync import sync_config
from bot.store import Store
from tests.fakes.feed_server import FeedServer
from tests.test_flood import NOW, poll, settings_for

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
REPO = Path(__file__).resolve().parent.parent
BASE = "https://agency.example/feed.xml"
RLO, PDF, LRI, PDI, LRM, RLM = "\u202e", "\u202c", "\u2066", "\u2069", "\u200e", "\u200f"
BIDI = [chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
SHOWN = [f.name for f in fields(Release) if f.name not in ("feed", "key", "truncated")]


def parse(body: bytes) -> list[Release]:
    return list(parse_feed(body, feed_name="agency", base_url=BASE).releases)


def rss(items: str, channel_title: str = "Agency News") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{channel_title}</title><link>https://agency.example/</link>{items}"
        "</channel></rss>"
    ).encode()


def text_fields(release: Release) -> dict[str, str]:
    return {
        name: getattr(release, name) for name in SHOWN if isinstance(getattr(release, name), str)
    }


# --- character references no string can hold (issue 9, point 10) ---------------------------


@pytest.mark.parametrize(
    "fixture", ["bad_charrefs_rss.xml", "bad_charrefs_atom.xml", "bad_charrefs_utf16.xml"]
)
def test_impossible_character_references_become_replacement_characters(fixture: str) -> None:
    """Surrogate, beyond-U+10FFFF and NUL references show as U+FFFD; every item is kept."""
    releases = {r.key[-3:]: r for r in parse((FIXTURES / fixture).read_bytes())}
    assert sorted(releases) == ["r-1", "r-2", "r-3", "r-4", "r-5"]
    assert releases["r-1"].title == "Hex surrogate \ufffd in the title"
    assert releases["r-2"].summary == "Summary \ufffd two."
    assert releases["r-3"].link == "https://agency.example/news/3?ref=\ufffd"
    assert releases["r-3"].url == "https://agency.example/news/3?ref=%EF%BF%BD"
    assert releases["r-4"].title == "NUL \ufffd and \ufffd in one title"
    assert releases["r-4"].summary == "Summary \ufffd four."
    assert releases["r-5"].title == "A good release été"  # valid references still decode
    for release in releases.values():
        for value in text_fields(release).values():
            value.encode("utf-8")  # no lone surrogate: SQLite and Telegram take it


async def test_a_feed_with_impossible_references_is_polled_and_stored(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Such a feed no longer fails on every poll: all five of its releases are stored."""
    body = (FIXTURES / "bad_charrefs_rss.xml").read_bytes()
    settings = settings_for(tmp_path, feed_server.serve("/feed.xml", body))
    store = Store.open(tmp_path / "bot.db")
    try:
        sync_config(store, settings, NOW)
        outcome = await poll(settings, store)
        titles = {stored.release.title for stored in store.latest(10)}
    finally:
        store.close()
    assert outcome.result is not None
    assert outcome.result.new == 5
    assert "Hex surrogate \ufffd in the title" in titles


@pytest.mark.parametrize("reference", ["&#xD800;", "&#55296;", "&#x110000;", "&#0;"])
@pytest.mark.parametrize("where", ["title", "description", "link"])
def test_one_bad_reference_anywhere_spoils_only_its_own_field(reference: str, where: str) -> None:
    """Whichever field holds it, the feed parses and the good item beside it is intact."""
    values = {"title": "Bad", "description": "Text", "link": "https://agency.example/1"}
    values[where] += reference
    bad = "".join(f"<{name}>{value}</{name}>" for name, value in values.items())
    good = "<title>Good</title><link>https://agency.example/2</link>"
    releases = parse(rss(f"<item>{bad}</item><item>{good}</item>"))
    assert [r.title for r in releases][1] == "Good"
    assert "\ufffd" in {"title": releases[0].title, "description": releases[0].summary,
                        "link": releases[0].link}[where]  # fmt: skip


# --- bidi controls (issue 9, point 11) ------------------------------------------------------

SHALOM = "\u05e9\u05dc\u05d5\u05dd"
REVERSING_ITEM = (
    f"<item><title>Study {RLO}finds{PDF} {LRI}risk{PDI} in {SHALOM}{RLM} 2024</title>"
    f"<link>https://agency.example/news/1?q={RLO}x</link>"
    f"<description>&lt;p&gt;Summary {RLO}reversed&lt;/p&gt;</description>"
    f"<author>jane@agency.gov ({RLO}Jane Roe)</author>"
    f"<pubDate>Tue, 01 Apr 2014 10:00:00 -0400</pubDate></item>"
)


def test_bidi_controls_are_removed_from_every_field_and_marks_kept() -> None:
    """Overrides, embeddings and isolates are gone from what is shown; RLM/LRM marks stay."""
    (release,) = parse(rss(REVERSING_ITEM, channel_title=f"Agency {RLO}News"))
    assert release.title == f"Study finds risk in {SHALOM}{RLM} 2024"
    assert release.summary == "Summary reversed"
    assert release.author == "Jane Roe"
    assert release.feed_title == "Agency News"
    # In a link the control is percent-encoded, as a browser sends it: the same address.
    assert release.link == "https://agency.example/news/1?q=%E2%80%AEx"
    assert release.url == "https://agency.example/news/1?q=%E2%80%AEx"
    assert not [name for name, value in text_fields(release).items() if BIDI_CONTROLS.search(value)]


def test_a_post_of_a_reversing_title_carries_no_bidi_control() -> None:
    """The channel post (title, byline date, citation) holds no control that could reverse it."""
    (release,) = parse(rss(REVERSING_ITEM))
    options = PostOptions(
        citation_style="apa", summary_length=600, link_preview=True, bot_username="x_bot"
    )
    publisher = Publisher(name="Agency", short_name="")
    post = render_post(release, publisher, release_id=1, options=options, accessed=date(2024, 5, 1))
    assert not BIDI_CONTROLS.search(post.text)
    assert post.text.split("\n")[1] == "Agency · 1 April 2014"  # the byline after the title


# --- fields capped at normalise (issue 9, point 6) ------------------------------------------


def test_a_five_megabyte_title_is_cut_at_a_word_to_the_limit() -> None:
    """A 5 MB title becomes at most 1,000 characters ending in '…', cut between words."""
    title = " ".join(f"word{n}" for n in range(600_000))[: 5 * 1024 * 1024]
    (release,) = parse(
        rss(f"<item><title>{title}</title><link>https://agency.example/1</link></item>")
    )
    assert len(release.title) <= LIMITS["title"] == 1_000
    assert release.title.endswith("…")
    assert title.startswith(release.title[:-1])
    assert title[len(release.title) - 1] == " "  # the cut fell between two words
    assert release.truncated == ("title",)


def test_summary_and_authors_are_capped_and_named() -> None:
    """Summary and author lists beyond their limits are cut; `truncated` says which."""
    summary = "<p>" + "A sentence of the abstract. " * 2_000 + "</p>"
    authors = "".join(f"<dc:creator>Author Number {n}</dc:creator>" for n in range(200))
    body = rss(f"<item><title>T</title><description>{summary}</description>{authors}</item>")
    body = body.replace(b"<rss ", b'<rss xmlns:dc="http://purl.org/dc/elements/1.1/" ')
    (release,) = parse(body)
    assert len(release.summary) <= LIMITS["summary"]
    assert release.summary.endswith("abstract.…") or release.summary.endswith("…")
    assert len(release.author) <= LIMITS["author"]
    assert release.author.startswith("Author Number 0")
    assert set(release.truncated) <= {"summary", "author"}
    assert "summary" in release.truncated


def test_a_url_too_long_is_dropped_not_cut() -> None:
    """A 3,000-character link gives no link and no URL (a cut URL is a wrong URL)."""
    link = "https://agency.example/news/1?q=" + "x" * 3_000
    (release,) = parse(rss(f"<item><title>Long link</title><link>{link}</link></item>"))
    assert (release.title, release.link, release.url) == ("Long link", "", "")
    assert release.truncated == ("link", "url")


def test_a_guid_too_long_is_replaced_by_its_stable_hash() -> None:
    """A 100 KB guid is stored as a fixed-size hash: the same on every poll."""
    item = f"<item><guid isPermaLink='false'>{'g' * 100_000}</guid><title>T</title></item>"
    first, second = parse(rss(item))[0], parse(rss(item))[0]
    assert first.key == second.key
    assert first.key.startswith("sha1:")
    assert len(first.key) == 45
    assert first.truncated == ("key",)


def test_preview_json_names_the_fields_that_were_cut(tmp_path: Path) -> None:
    """`releasebot preview --json` shows the operator which fields the feed overfilled."""
    long_title = "Overlong " * 500
    (tmp_path / "feed.xml").write_bytes(
        rss(f"<item><title>{long_title}</title><link>https://agency.example/1</link></item>"
            "<item><title>Short</title><link>https://agency.example/2</link></item>")
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "bot", "preview", str(tmp_path / "feed.xml"), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["truncated"] for r in records] == [["title"], []]
    assert len(records[0]["title"]) <= 1_000


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("one two three four five", 20, "one two three four…"),
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"),  # no space near: cut between letters
        ("lots of words, commas, here", 16, "lots of words…"),
        ("cafe\u0301 cafe\u0301 cafe\u0301", 14, "cafe\u0301 cafe\u0301…"),
        ("abcdefgh" + "e\u0301" * 3, 10, "abcdefgh…"),  # an accent stays with its letter
        ("smile \U0001f468\u200d\U0001f469\u200d\U0001f467 family", 10, "smile…"),
    ],
)
def test_cut_text_falls_between_words_and_keeps_characters_whole(
    text: str, limit: int, expected: str
) -> None:
    """Cuts fall at a space near the end, never inside a letter with its accents or an emoji."""
    assert cut_text(text, limit) == expected


# --- properties over any entry -------------------------------------------------------------

_pieces = st.sampled_from(
    ["word", " ", "\n\n", "<p>", "</p>", "&amp;", "&#x202E;", "é", "e\u0301", "\u05e9",
     "http://x.example/", "a@b.example", *BIDI, LRM, RLM, "\U0001f468\u200d\U0001f469"]
)  # fmt: skip
# Long values without slow generation: a few pieces repeated up to thousands of times.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.tuples(st.lists(_pieces, min_size=1, max_size=6), st.integers(1, 3_000)).map(
        lambda drawn: "".join(drawn[0]) * drawn[1]
    ),
)
entries = st.fixed_dictionaries(
    {},
    optional={
        "title": hostile_text,
        "summary": hostile_text,
        "link": hostile_text.map(lambda text: "https://agency.example/" + text),
        "id": hostile_text,
        "author": hostile_text,
        "authors": st.lists(st.fixed_dictionaries({"name": hostile_text}), max_size=3),
        "language": hostile_text,
        "published": st.sampled_from(["", "Tue, 01 Apr 2014 10:00:00 -0400", "2014-04-01"]),
    },
)


@settings(max_examples=150, deadline=None)
@given(entries, hostile_text, hostile_text)
def test_any_entry_normalises_within_the_limits_and_without_bidi_controls(
    entry: dict[str, Any], feed_title: str, feed_author: str
) -> None:
    """Whatever an entry holds, every field fits its limit and none holds a bidi control."""
    try:
        release = normalize_entry(
            entry,
            feed_name="agency",
            feed_title=feed_title,
            feed_author=feed_author,
            base_url=BASE,
            timezone=None,
        )
    except FeedParseError:
        return
    for name, value in text_fields(release).items():
        assert len(value) <= LIMITS[name], name
        assert not BIDI_CONTROLS.search(value), name
    assert len(release.key) <= LIMITS["key"]
    assert set(release.truncated) <= set(LIMITS)
