"""Feed bytes to releases: real-world quirks, hostile documents, and the reference release."""

from __future__ import annotations

import codecs
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import EntityDeclarationError, FeedParseError
from bot.feeds.dates import calendar_date
from bot.feeds.parse import dedupe_by_key, newest_first, normalize_entry, parse_feed
from bot.models import ParsedFeed, Release

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
DEMO_FEED = Path(__file__).parents[1] / "config" / "demo-feed.xml"
BASE = "https://fixtures.example.net/feed.xml"
NEW_YORK = ZoneInfo("America/New_York")
EDT = timezone(timedelta(hours=-4))
REFERENCE_TITLE = "Medication can help prevent relapse in cocaine-dependent males"
REFERENCE_URL = (
    "https://www.drugabuse.gov/news-events/news-releases/2014/04/"
    "medication-can-help-prevent-relapse-in-cocaine-dependent-males"
)
EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")


def parse(name: str, **options: Any) -> ParsedFeed:
    body = (FIXTURES / name).read_bytes()
    options.setdefault("base_url", BASE)
    return parse_feed(body, feed_name="test", **options)


def by_title(feed: ParsedFeed, title: str) -> Release:
    return next(release for release in feed.releases if release.title == title)


def rss(
    items: str, *, channel: str = "<title>Inline</title><link>https://inline.example.org/</link>"
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{channel}'
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def entry(**fields: Any) -> Release:
    return normalize_entry(
        fields,
        feed_name="test",
        feed_title="Feed",
        feed_author="",
        base_url=BASE,
        timezone=None,
    )


# --- the reference release ---------------------------------------------------------------


@pytest.mark.parametrize("zone", [None, NEW_YORK])
def test_demo_feed_holds_twenty_releases_with_the_reference_release(zone: ZoneInfo | None) -> None:
    """The demo feed parses whole, and the NIDA reference release keeps its 3 April date."""
    feed = parse_feed(
        DEMO_FEED.read_bytes(),
        feed_name="nida",
        base_url="https://www.drugabuse.gov/news-events/news-releases/feed",
        timezone=zone,
        content_type="application/rss+xml; charset=utf-8",
    )
    assert len(feed.releases) == 20
    assert feed.bozo == ""
    reference = by_title(feed, REFERENCE_TITLE)
    assert reference.url == REFERENCE_URL
    assert reference.key == REFERENCE_URL
    assert reference.link.startswith(REFERENCE_URL + "?utm_source=")
    assert reference.published == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)
    assert isinstance(reference.published, datetime)
    assert reference.published.utcoffset() == timedelta(hours=-4)
    assert calendar_date(reference.published) == date(2014, 4, 3)
    assert reference.author == "nidaweb"
    assert reference.language == "en"
    assert "\n\n" in reference.summary
    assert "<" not in reference.summary
    assert all(release.url.startswith("https://www.drugabuse.gov/") for release in feed.releases)
    assert not any("utm_" in release.url for release in feed.releases)


def test_gmt_stamp_is_3_april_for_a_new_york_feed() -> None:
    """'Fri, 04 Apr 2014 02:30:00 GMT' in a New York feed is 3 April, 22:30 -04:00."""
    release = by_title(parse("rss2_named_zones.xml", timezone=NEW_YORK), "GMT late at night")
    assert isinstance(release.published, datetime)
    assert release.published.utcoffset() == timedelta(hours=-4)
    assert (release.published.hour, release.published.minute) == (22, 30)
    assert calendar_date(release.published) == date(2014, 4, 3)


def test_gmt_stamp_without_a_feed_zone_stays_utc() -> None:
    """Without a configured zone the same stamp stays 4 April UTC."""
    release = by_title(parse("rss2_named_zones.xml"), "GMT late at night")
    assert release.published == datetime(2014, 4, 4, 2, 30, tzinfo=UTC)


# --- real-world quirks ---------------------------------------------------------------------


def test_drupal_feed_keys_on_guid_and_strips_tracking_from_url() -> None:
    """guid (isPermaLink) is the key; the link keeps utm_*, the canonical url drops them."""
    release = by_title(parse("rss2_drupal_nih.xml"), REFERENCE_TITLE)
    assert release.key == REFERENCE_URL
    assert release.url == REFERENCE_URL
    assert "utm_campaign=news" in release.link
    assert release.author == "nidaweb"  # Drupal dc:creator is a CMS user: kept as given
    assert release.published == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)
    assert release.updated is None


def test_drupal_feed_resolves_relative_links_against_xml_base() -> None:
    """A relative item link resolves against the feed's xml:base, not the fetch URL."""
    feed = parse("rss2_drupal_nih.xml")
    release = feed.releases[1]
    assert (
        release.url
        == "https://www.nih.gov/news-events/news-releases/nihs-new-study-sleep-teen-brain"
    )
    assert feed.title == "News Releases | National Institutes of Health (NIH)"
    assert feed.link == "https://www.nih.gov/news-events/news-releases"


def test_titles_decode_numeric_and_double_encoded_entities_once() -> None:
    """&#039; becomes an apostrophe and '&amp;amp;' a single ampersand."""
    release = parse("rss2_drupal_nih.xml").releases[1]
    assert release.title == "NIH's new study of sleep & the teen brain"
    assert release.published == datetime(2014, 2, 11, 9, 0, tzinfo=timezone(timedelta(hours=-5)))


def test_summary_keeps_paragraphs_line_breaks_and_list_items() -> None:
    """Description HTML becomes readable plain text with its structure."""
    release = parse("rss2_drupal_nih.xml").releases[1]
    assert release.summary == (
        "Researchers will follow 500 teens.\nEach wears a sleep monitor.\n\n"
        "Sleep length\nScreen time"
    )


def test_guid_not_permalink_keeps_releases_that_share_a_link() -> None:
    """Two isPermaLink="false" guids with one link are two releases keyed by guid."""
    feed = parse("rss2_guid_not_permalink.xml")
    assert [release.key for release in feed.releases] == [
        "1201 at https://agency.example.gov",
        "1202 at https://agency.example.gov",
    ]
    assert {release.url for release in feed.releases} == {"https://agency.example.gov/updates"}


def test_padded_and_cdata_links_are_trimmed() -> None:
    """Whitespace around links, titles and guids is removed; CDATA links work."""
    feed = parse("rss2_padded_cdata_links.xml")
    first, second = feed.releases
    assert (first.title, first.link, first.key) == (
        "Padded link release",
        "https://padded.example.org/releases/one",
        "padded-guid-1",
    )
    assert second.title == "CDATA link release"
    assert second.link == "https://padded.example.org/releases/two?id=2&utm_source=rss"
    assert second.url == "https://padded.example.org/releases/two?id=2"


def test_named_zones_keep_their_offsets() -> None:
    """EDT without seconds, EST and PST dates keep the offset the publisher used."""
    feed = parse("rss2_named_zones.xml")
    offsets = {
        r.title: r.published.utcoffset() for r in feed.releases if isinstance(r.published, datetime)
    }
    assert offsets["EDT without seconds"] == timedelta(hours=-4)
    assert offsets["EST"] == timedelta(hours=-5)
    assert offsets["PST"] == timedelta(hours=-8)
    assert by_title(feed, "EDT without seconds").published == datetime(
        2018, 7, 24, 17, 13, tzinfo=EDT
    )
    assert by_title(feed, "Two-digit year").published == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)


def test_rss1_dc_date_is_the_publication_date() -> None:
    """RSS 1.0 items with only dc:date get it as published; a date-only one stays a date."""
    feed = parse("rss1_dcdate.rdf")
    first, second = feed.releases
    assert first.published == datetime(
        2017, 6, 15, 10, 29, 47, tzinfo=timezone(timedelta(hours=-7))
    )
    assert second.published == date(2023, 12, 16)
    assert not isinstance(second.published, datetime)
    assert (first.author, second.author) == ("Hines, P. J.", "Lapalu, N.")
    assert first.feed_author == "Example Society for Science"  # dc:publisher
    assert second.link == "https://journal.example.org/content/2?rss=1"
    assert second.summary == "A mini-chromosome-like region within a core chromosome."


def test_atom_takes_the_alternate_link_and_html_title() -> None:
    """Of several Atom links the rel=alternate one is used; an HTML title is stripped."""
    feed = parse("atom_relative_links.xml")
    release = feed.releases[0]
    assert release.url == "https://press.example.org/releases/2014/04/bold-move"
    assert release.title == "A bold move & more"
    assert release.author == "Jane Doe"
    assert release.feed_author == "Example Press Office"
    assert release.published == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)
    assert release.updated == datetime(2014, 4, 5, 8, 0, tzinfo=UTC)
    assert release.summary == "First paragraph.\n\nSecond paragraph."
    assert release.language == "en-GB"
    assert feed.title == "Press office releases"


def test_atom_entry_with_only_content_and_updated() -> None:
    """An Atom entry with content but no summary, and only <updated>, still has both."""
    release = parse("atom_relative_links.xml").releases[1]
    assert release.url == "https://press.example.org/archive/18"
    assert release.summary == "Only content here."
    assert release.published == datetime(2014, 4, 6, 10, 0, tzinfo=timezone(timedelta(hours=1)))


def test_undeclared_latin1_bytes_decode_and_portuguese_dates_parse() -> None:
    """ISO-8859-1 without a declaration reads correctly; the Portuguese date keeps its -0300
    and the release with an empty <language> is Portuguese (issue 11 points 2 and 10)."""
    feed = parse("latin1_undeclared.xml")
    assert feed.title == "Notícias"
    (release,) = feed.releases
    assert release.title == "Eleições: simulações de 2º turno"
    assert release.url == "https://noticias.example.com.br/politica/2018/09/24/simulacoes.htm"
    assert release.published == datetime(
        2018, 9, 24, 19, 42, 40, tzinfo=timezone(-timedelta(hours=3))
    )
    assert release.summary == "Líder na pesquisa não tem o mesmo desempenho."
    assert release.language == "pt"
    assert "windows-1252" in feed.bozo


def test_raw_ampersands_are_recovered_by_the_loose_parser() -> None:
    """A not-well-formed feed (raw '&') still yields its releases, with a bozo note."""
    feed = parse("illformed_amp.xml")
    assert [release.title for release in feed.releases] == [
        "Molecular & Computational biology advance",
        "Second story",
    ]
    assert feed.bozo.startswith("not well-formed")


def test_entries_without_guid_link_or_date() -> None:
    """Missing guid/link/date fall back sensibly; an entry with nothing is skipped."""
    feed = parse("no_guid_link_date.xml")
    assert len(feed.releases) == 3
    dated, linked, described = feed.releases
    assert dated.key.startswith("sha1:")
    assert (dated.url, dated.link) == ("", "")
    assert dated.published == datetime(2014, 4, 2, 10, 0, tzinfo=EDT)
    assert linked.key == "https://sparse.example.org/link-only"
    assert linked.published is None
    assert described.key.startswith("sha1:")
    assert described.title.startswith("A release with a description but no title")
    assert described.title.endswith("…")
    assert len(described.title) <= 101


def test_hash_keys_are_stable_across_parses() -> None:
    """Releases without guid or link get the same key every time the feed is read."""
    first = [release.key for release in parse("no_guid_link_date.xml").releases]
    again = [release.key for release in parse("no_guid_link_date.xml", base_url="").releases]
    assert first == again


def test_duplicate_guids_keep_the_first_occurrence() -> None:
    """A re-published guid does not create a second release; the first one wins."""
    feed = parse("duplicate_guids.xml")
    assert [release.title for release in feed.releases] == ["Original release", "Another release"]


def test_script_injection_never_reaches_text() -> None:
    """Scripts, styles and handlers vanish; escaped markup shows as text; javascript: has no url."""
    feed = parse("script_injection.xml")
    hostile, scripted = feed.releases
    assert hostile.title == "Use <b> for bold & more"
    assert hostile.summary == "Visible text stays.\n\nShown as code: <script>"
    assert hostile.url == ""
    assert scripted.title == "Scripted title"
    assert scripted.summary == "After the script"
    assert feed.title == "Hostile feed"
    for text in (hostile.summary, scripted.title, scripted.summary, feed.title):
        assert not re.search("alert|steal|display", text)


def test_doctype_without_entity_declarations_is_accepted() -> None:
    """A DOCTYPE that only names an external DTD parses normally, fetching nothing."""
    feed = parse("doctype_without_entities.xml")
    assert [release.title for release in feed.releases] == ["Still here"]


def test_bogus_declared_encoding_still_parses() -> None:
    """encoding="bogus" falls back to UTF-8 and keeps accented text."""
    feed = parse("bogus_encoding.xml")
    assert [release.title for release in feed.releases] == ["Café résumé"]


def test_utf16_feed_without_entities_parses() -> None:
    """A well-formed UTF-16 feed is read, not refused."""
    feed = parse("utf16_feed.xml")
    assert [release.title for release in feed.releases] == ["Grüße aus Köln – 日本"]


def test_valid_channel_with_no_items_is_not_an_error() -> None:
    """A feed that has published nothing yet gives an empty release list."""
    feed = parse("empty_channel.xml")
    assert feed.title == "Nothing yet"
    assert feed.releases == ()


def test_rss_served_as_text_html_is_still_parsed() -> None:
    """A server mislabelling a real feed as text/html does not lose its releases."""
    feed = parse("rss2_drupal_nih.xml", content_type="text/html; charset=utf-8")
    assert len(feed.releases) == 2


def test_feedparser_only_date_formats_fall_back_to_its_utc_value() -> None:
    """A date only feedparser can read (Greek names) is still used, moved into the zone."""
    body = rss(
        "<item><title>Greek</title><link>https://inline.example.org/g</link>"
        "<pubDate>Τρι, 29 Ιούν 2004 12:53:00 GMT</pubDate></item>"
    )
    (release,) = parse_feed(
        body, feed_name="t", base_url="", timezone=ZoneInfo("Europe/Athens")
    ).releases
    assert release.published == datetime(2004, 6, 29, 12, 53, tzinfo=UTC)
    assert isinstance(release.published, datetime)
    assert release.published.utcoffset() == timedelta(hours=3)


def test_ten_thousand_entries_parse() -> None:
    """A very large feed is parsed whole: every one of 10,000 entries becomes a release."""
    items = "".join(
        f"<item><title>Release {i}</title><link>https://big.example.org/r/{i}?utm_source=rss</link>"
        f'<guid isPermaLink="false">r-{i}</guid><pubDate>Thu, 03 Apr 2014 22:30:00 -0400</pubDate>'
        f"<description>&lt;p&gt;Summary {i}.&lt;/p&gt;</description></item>"
        for i in range(10_000)
    )
    feed = parse_feed(rss(items), feed_name="big", base_url="https://big.example.org/feed")
    assert len(feed.releases) == 10_000
    assert feed.releases[-1].url == "https://big.example.org/r/9999"


# --- refused documents ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "entity_billion_laughs.xml",
        "entity_external.xml",
        "entity_parameter.xml",
        "entity_utf16.xml",
        "entity_utf32.xml",
    ],
)
def test_entity_declarations_are_refused(name: str) -> None:
    """Any document declaring entities (bombs, XXE, UTF-16/32 ones) is refused unparsed."""
    with pytest.raises(EntityDeclarationError, match="entity declarations refused"):
        parse(name)


def test_entity_declaration_hidden_in_utf7_is_refused() -> None:
    """Declaring an encoding that hides '<!ENTITY' from a byte search does not help."""
    hidden = "<!DOCTYPE rss [<!ENTITY x 'y'>]><rss version='2.0'/>".encode("utf-7")
    hidden = hidden.replace(b"<", b"+ADw-").replace(b"!", b"+ACE-")
    body = b'<?xml version="1.0" encoding="utf-7"?>' + hidden
    assert b"<!ENTITY" not in body
    with pytest.raises(EntityDeclarationError):
        parse_feed(body, feed_name="t", base_url="")


def test_entity_declaration_in_utf16_without_bom_is_refused() -> None:
    """UTF-16 text without a byte order mark is still searched for declarations."""
    body = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]><rss/>'.encode("utf-16-le")
    with pytest.raises(EntityDeclarationError):
        parse_feed(
            body, feed_name="t", base_url="", content_type="application/xml; charset=utf-16le"
        )


@pytest.mark.parametrize("body", [b"", b"   \r\n\t "])
def test_empty_body_is_an_error(body: bytes) -> None:
    """An empty response says so."""
    with pytest.raises(FeedParseError, match=r"^empty body$"):
        parse_feed(body, feed_name="t", base_url=BASE)


def test_empty_fixture_is_an_error() -> None:
    """The zero-byte fixture is reported as an empty body."""
    with pytest.raises(FeedParseError, match=r"^empty body$"):
        parse("empty.xml")


@pytest.mark.parametrize("content_type", ["", "text/html; charset=utf-8"])
def test_html_page_is_not_a_feed(content_type: str) -> None:
    """An HTML page, labelled or sniffed, is reported as such."""
    with pytest.raises(FeedParseError, match=r"^not a feed: got text/html$"):
        parse("html_page.html", content_type=content_type)


def test_html_fragment_labelled_html_is_not_a_feed() -> None:
    """An error page fragment served as text/html is not a feed either."""
    with pytest.raises(FeedParseError, match=r"^not a feed: got text/html$"):
        parse_feed(
            b"<p>Service unavailable</p>", feed_name="t", base_url="", content_type="text/html"
        )


@pytest.mark.parametrize("name", ["comment_only.xml", "illformed_unclosed.xml"])
def test_ill_formed_documents_with_nothing_usable_are_errors(name: str) -> None:
    """A broken document with no channel gives feedparser's reason and where it is."""
    with pytest.raises(FeedParseError, match=r"^ill-formed XML: .+ at line \d+, column \d+$"):
        parse(name)


def test_other_media_types_are_not_feeds() -> None:
    """A JSON API answer is named by its type."""
    with pytest.raises(FeedParseError, match=r"^not a feed: got application/json$"):
        parse_feed(b'{"items": []}', feed_name="t", base_url="", content_type="application/json")


def test_xml_that_is_not_a_feed_is_an_error() -> None:
    """Well-formed XML with no RSS or Atom root is not a feed."""
    with pytest.raises(FeedParseError, match=r"^not a feed: no RSS"):
        parse_feed(b"<?xml version='1.0'?><sitemap><url/></sitemap>", feed_name="t", base_url="")


def test_body_naming_a_local_file_is_never_opened(tmp_path: Path) -> None:
    """Bytes that spell a file path are parsed as text; the file is never read."""
    local_feed = tmp_path / "feed.xml"
    local_feed.write_bytes((FIXTURES / "rss2_drupal_nih.xml").read_bytes())
    with pytest.raises(FeedParseError):
        parse_feed(str(local_feed).encode(), feed_name="t", base_url="")


# --- ordering and de-duplication -----------------------------------------------------------


def release(key: str, published: date | None = None, updated: date | None = None) -> Release:
    return Release(
        feed="t", key=key, title=key, link="", url="", published=published, updated=updated,
        author="", feed_author="", feed_title="", summary="", language="",
    )  # fmt: skip


def test_newest_first_compares_instants_and_puts_undated_last() -> None:
    """Newest instant first across offsets; date-only as noon UTC; undated last in order."""
    releases = [
        release("undated-1"),
        release("edt-late", datetime(2014, 4, 3, 22, 30, tzinfo=EDT)),  # 02:30 UTC on 4 April
        release("utc-early", datetime(2014, 4, 4, 1, 0, tzinfo=UTC)),
        release("date-only", date(2014, 4, 4)),
        release("updated-only", updated=datetime(2014, 4, 5, tzinfo=UTC)),
        release("undated-2"),
        release("day-before", date(2014, 4, 3)),
    ]
    assert [r.key for r in newest_first(releases)] == [
        "updated-only",
        "date-only",
        "edt-late",
        "utc-early",
        "day-before",
        "undated-1",
        "undated-2",
    ]


def test_newest_first_keeps_document_order_for_ties() -> None:
    """Releases with the same moment stay in the order the feed gave them."""
    same = datetime(2014, 4, 3, tzinfo=UTC)
    releases = [release(name, same) for name in ("a", "b", "c")]
    assert [r.key for r in newest_first(releases)] == ["a", "b", "c"]
    assert [r.key for r in newest_first(iter(releases))] == ["a", "b", "c"]


def test_dedupe_by_key_keeps_first_and_order() -> None:
    """The first release of each key wins and document order is kept."""
    releases = [release("a"), release("b"), release("a"), release("c"), release("b")]
    assert [r.key for r in dedupe_by_key(releases)] == ["a", "b", "c"]


# --- normalize_entry -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("jdoe@nih.gov (Jane Doe)", "Jane Doe"),
        ("Jane Doe <jdoe@nih.gov>", "Jane Doe"),
        ("jdoe@nih.gov", ""),
        ("mailto:jdoe@nih.gov", ""),
        ("nidaweb", "nidaweb"),
        ("  Office of   Communications ", "Office of Communications"),
    ],
)
def test_author_is_a_name_never_an_email(author: str, expected: str) -> None:
    """RSS <author> e-mail forms give the person's name, or nothing."""
    assert entry(title="t", author=author).author == expected


def test_entry_with_nothing_to_show_is_refused() -> None:
    """No title, link or summary: FeedParseError, not an empty release."""
    for fields in ({}, {"title": "  ", "link": " ", "summary": "<p> </p>", "id": "x"}):
        with pytest.raises(FeedParseError, match="no title, link or summary"):
            entry(**fields)


def test_raw_date_wins_over_feedparser_utc_value() -> None:
    """The raw pubDate's offset is kept even when feedparser's UTC tuple says 4 April."""
    utc_tuple = time.strptime("2014-04-04 02:30:00", "%Y-%m-%d %H:%M:%S")
    release = entry(
        title="t", published="Thu, 03 Apr 2014 22:30:00 -0400", published_parsed=utc_tuple
    )
    assert release.published == datetime(2014, 4, 3, 22, 30, tzinfo=EDT)
    assert isinstance(release.published, datetime)
    assert calendar_date(release.published) == date(2014, 4, 3)


def test_plain_entry_dict_normalises_like_a_feed_entry() -> None:
    """A plain mapping (no feedparser details) is treated as HTML and canonicalised."""
    release = entry(
        title="A &amp;lt;b&amp;gt; tag &amp; more",
        link=" /news/1?utm_source=x#top ",
        description="<p>One</p><p>Two</p>",
        updated="2023-12-16",
    )
    assert release.title == "A &lt;b&gt; tag & more"
    assert release.link == "/news/1?utm_source=x#top"
    assert release.url == "https://fixtures.example.net/news/1"
    assert release.key == "https://fixtures.example.net/news/1"
    assert release.summary == "One\n\nTwo"
    assert release.published == date(2023, 12, 16) == release.updated


text_fields = st.sampled_from(
    ["title", "link", "id", "guid", "summary", "description", "published", "updated", "author"]
)
scalars = st.one_of(st.text(max_size=40), st.none(), st.integers(), st.booleans())
detail = st.dictionaries(
    st.sampled_from(["href", "rel", "type", "name", "email", "value", "language"]),
    st.one_of(
        st.text(max_size=20), st.none(), st.sampled_from(["alternate", "text/plain", "text/html"])
    ),
    max_size=5,
)
entries = st.one_of(
    st.dictionaries(
        st.one_of(text_fields, st.sampled_from(["links", "authors", "content", "title_detail",
                                                "summary_detail", "author_detail",
                                                "published_parsed", "updated_parsed"]),
                  st.text(max_size=10)),
        st.one_of(scalars, detail, st.lists(st.one_of(detail, scalars), max_size=3),
                  st.tuples(*[st.integers(-5, 3000)] * 9)),
        max_size=12,
    ),
    st.fixed_dictionaries(
        {"title": st.text(max_size=40), "link": st.text(max_size=40), "id": st.text(max_size=20),
         "summary": st.text(max_size=80), "published": st.text(max_size=30)}
    ),
)  # fmt: skip


@given(entries, st.sampled_from([None, NEW_YORK]))
def test_any_entry_gives_a_release_or_a_parse_error(
    fields: dict[str, Any], zone: ZoneInfo | None
) -> None:
    """Whatever an entry holds, the result is a valid Release or FeedParseError, nothing else."""
    try:
        result = normalize_entry(
            fields, feed_name="f", feed_title="F", feed_author="", base_url=BASE, timezone=zone
        )
    except FeedParseError:
        return
    assert isinstance(result, Release)
    assert result.title.strip()
    assert result.key.strip()
    assert result.url == "" or result.url.startswith(("http://", "https://"))
    assert EMAIL.search(result.author) is None
    assert result.published is None or isinstance(result.published, date)
    assert "\n\n\n" not in result.summary
    assert "\n" not in result.title


# --- whole documents from arbitrary input -----------------------------------------------------


def _item(title: str, link: str, description: str, date_text: str) -> str:
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(description)}</description><pubDate>{escape(date_text)}</pubDate></item>"
    )


xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
)


@settings(max_examples=60)
@given(st.lists(st.tuples(xml_text, xml_text, xml_text, xml_text), max_size=4))
def test_any_well_formed_feed_parses(items: list[tuple[str, str, str, str]]) -> None:
    """Any text in title, link, description and date gives a feed, never an exception."""
    feed = parse_feed(rss("".join(_item(*item) for item in items)), feed_name="t", base_url=BASE)
    assert len(feed.releases) <= len(items)
    assert all(isinstance(release, Release) for release in feed.releases)


@settings(max_examples=60)
@given(
    st.one_of(st.binary(max_size=300), st.builds(codecs.BOM_UTF8.__add__, st.binary(max_size=100)))
)
def test_any_bytes_give_a_feed_or_a_parse_error(body: bytes) -> None:
    """Arbitrary bytes end in a ParsedFeed or a FeedParseError, nothing else."""
    try:
        feed = parse_feed(body, feed_name="t", base_url=BASE)
    except FeedParseError:
        return
    assert isinstance(feed, ParsedFeed)


def test_feed_read_without_a_url_resolves_links_against_its_own_link() -> None:
    """A saved feed (no http base) resolves relative item links against its channel link."""
    body = rss(
        "<item><title>Relative</title><link>/news/3#top</link></item>",
        channel="<title>Agency</title><link>https://agency.example/news</link>",
    )
    for base in ("", "feed.xml", "/srv/feeds/agency.xml"):
        (release,) = parse_feed(body, feed_name="t", base_url=base).releases
        assert release.url == "https://agency.example/news/3"
        assert release.link == "/news/3#top"
