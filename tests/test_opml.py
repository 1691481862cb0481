"""OPML 2.0 import and export: feed readers' files read, ours round-trip, hostile XML refused."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import OpmlError, ReleaseBotError
from bot.feeds.opml import OpmlDocument, OpmlFeed, clean_category, parse_opml, render_opml
from bot.feeds.urls import canonical_url

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions in a feed reader</title>
    <dateCreated>Mon, 30 Nov 2026</dateCreated></head>
  <body>
    <outline text="Health" title="Health">
      <outline text="Drugs">
        <outline type="rss" text="NIDA News Releases" title="NIDA News Releases"
                 xmlUrl="https://nida.nih.gov/feeds/news-releases.xml" htmlUrl="https://nida.nih.gov/news-events"/>
      </outline>
      <outline type="rss" text="NIH News Releases" xmlUrl="https://www.nih.gov/news-releases/feed.xml"/>
    </outline>
    <outline type="rss" text="CDC Newsroom" xmlurl="https://tools.cdc.gov/api/v2/resources/media/132608.rss"
             HTMLURL="https://www.cdc.gov/media"/>
    <outline type="rss" text="NIDA again" xmlUrl="https://NIDA.nih.gov/feeds/news-releases.xml?utm_source=x"/>
    <outline text="An empty folder"/>
  </body>
</opml>
"""


def test_a_feed_reader_export_gives_its_feeds_with_folders() -> None:
    """Nested outlines are folders; feeds keep their title, web page and folder path."""
    doc = parse_opml(READER_EXPORT)
    assert doc.title == "Subscriptions in a feed reader"
    assert doc.feeds == (
        OpmlFeed(
            url="https://nida.nih.gov/feeds/news-releases.xml",
            title="NIDA News Releases",
            html_url="https://nida.nih.gov/news-events",
            category="Health/Drugs",
        ),
        OpmlFeed(
            url="https://www.nih.gov/news-releases/feed.xml",
            title="NIH News Releases",
            category="Health",
        ),
        OpmlFeed(
            url="https://tools.cdc.gov/api/v2/resources/media/132608.rss",
            title="CDC Newsroom",
            html_url="https://www.cdc.gov/media",
        ),
    )


def test_the_category_attribute_is_read_when_outlines_do_not_nest() -> None:
    """OPML 2.0's category="/Science/Health" puts the feed in that folder."""
    data = (
        b'<opml version="2.0"><body><outline type="rss" text="a" category="/Science/Health,/Other"'
        b' xmlUrl="https://a.example/rss"/></body></opml>'
    )
    assert parse_opml(data).feeds[0].category == "Science/Health"


def test_an_opml_1_file_without_head_or_version_is_read() -> None:
    """Old exports without a head, version or type still give their feeds."""
    data = b'<opml><body><outline text="Old" xmlUrl="http://old.example/rss"/></body></opml>'
    assert parse_opml(data) == OpmlDocument(
        title="", feeds=(OpmlFeed(url="http://old.example/rss", title="Old"),)
    )


def test_an_export_reads_back_as_the_same_feeds() -> None:
    """Our export parses back to the feeds it was made from, folders included."""
    feeds = [
        OpmlFeed(
            "https://nida.nih.gov/feeds/news.xml",
            'NIDA <News> & "Notes"',
            "https://nida.nih.gov",
            "Science/Health",
        ),
        OpmlFeed("https://www.nih.gov/feed.xml", "NIH", "", "Science"),
        OpmlFeed("https://press.example.org/rss", "Press", "", ""),
    ]  # fmt: skip
    data = render_opml("release-bot: @nida_news", feeds)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<opml version=\"2.0\">")
    assert b'type="rss"' in data
    assert parse_opml(data) == OpmlDocument("release-bot: @nida_news", tuple(feeds))


# --- hostile files ------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<opml version="2.0"><body><outline text="&lol3;" xmlUrl="https://a.example/rss"/></body></opml>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://a.example/rss"/></body></opml>
"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd"> %remote;]>
<opml version="2.0"><body/></opml>
"""


PLAIN_DOCTYPE = b'<!DOCTYPE opml SYSTEM "http://127.0.0.1:1/opml.dtd"><opml><body/></opml>'


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY, PLAIN_DOCTYPE])
def test_entity_declarations_are_refused(data: bytes) -> None:
    """Billion laughs, external entities, any DOCTYPE: refused before expansion or request."""
    with pytest.raises(OpmlError, match="entity declarations are not allowed"):
        parse_opml(data)


def outlines(count: int, nested: bool = False) -> bytes:
    rows = b"".join(
        b'<outline text="f%d" xmlUrl="https://f.example/%d"/>' % (n, n) for n in range(count)
    )
    if nested:
        rows = b'<outline text="folder">' + rows + b"</outline>"
    return b'<opml version="2.0"><body>' + rows + b"</body></opml>"


def test_ten_thousand_outlines_are_read() -> None:
    """A file at the cap is read whole."""
    assert len(parse_opml(outlines(10_000)).feeds) == 10_000


@pytest.mark.parametrize("nested", [False, True])
def test_more_than_ten_thousand_outlines_are_refused_with_the_cap(nested: bool) -> None:
    """10,001 outlines (folders count) get a message naming the cap and what to do."""
    with pytest.raises(OpmlError, match="more than 10,000 outlines; split it"):
        parse_opml(outlines(10_000 if nested else 10_001, nested=nested))


def test_a_file_over_the_size_cap_is_refused_unread() -> None:
    """Over 5 MB the file is refused with its size and the cap."""
    with pytest.raises(OpmlError, match="at most 5,000,000"):
        parse_opml(b" " * 5_000_001)


def test_a_huge_folder_name_costs_nothing_per_feed() -> None:
    """A 4 MB folder name around thousands of feeds gives short categories, quickly."""
    data = (
        b'<opml><body><outline text="' + b"x" * 4_000_000 + b'">'
        + b"".join(b'<outline xmlUrl="https://f.example/%d"/>' % n for n in range(5000))
        + b"</outline></body></opml>"
    )  # fmt: skip
    feeds = parse_opml(data).feeds
    assert len(feeds) == 5000
    assert all(len(feed.category) <= 200 for feed in feeds)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"Just some text", "not an OPML file"),
        (b"<html><body><p>Hello</p></body></html>", "root element is <html>"),
        (b'<rss version="2.0"><channel/></rss>', "root element is <rss>"),
        (b"<opml><body><outline text='a'>", "not an OPML file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not an OPML file"),
        (b'<?xml version="1.0" encoding="klingon"?><opml/>', "not an OPML file"),
    ],
)
def test_files_that_are_not_opml_are_refused_with_a_reason(data: bytes, says: str) -> None:
    """Not XML, another XML format, a cut file: an OpmlError saying so."""
    with pytest.raises(OpmlError, match=says):
        parse_opml(data)
    assert issubclass(OpmlError, ReleaseBotError)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_a_document_or_an_opml_error(data: bytes) -> None:
    """Whatever arrives as a document, nothing but OpmlError comes out."""
    with contextlib.suppress(OpmlError):
        parse_opml(data)


xml_pieces = st.sampled_from(
    [
        "<opml>", "</opml>", "<body>", "</body>", "<head>", "<title>", "</title>", "</head>",
        "<outline ", 'text="', 'xmlUrl="', 'category="', '"', "/>", ">", "</outline>", "&amp;",
        "&#0;", "&#x1F600;", "&bogus;", "<!DOCTYPE opml>", "<![CDATA[", "]]>", "<?xml ",
        'version="1.0"?>', "\x00", "é", "https://a.example/", "/", ",",
    ]
)  # fmt: skip


@settings(max_examples=300)
@given(st.lists(xml_pieces | st.text(max_size=5), max_size=40))
def test_almost_opml_gives_a_document_or_an_opml_error(pieces: list[str]) -> None:
    """Near-misses of OPML (broken tags, bad references, odd attributes) never crash."""
    with contextlib.suppress(OpmlError):
        parse_opml("".join(pieces).encode("utf-8", "surrogatepass"))


# --- round trip ---------------------------------------------------------------------------

# Any text, including <>&"' and control characters XML cannot carry.
texts = st.text(max_size=30)
folder_names = st.text(max_size=8)
feeds_strategy = st.lists(
    st.builds(
        OpmlFeed,
        url=st.builds("https://feeds.example/{}".format, st.text(max_size=12)),
        title=texts,
        html_url=texts,
        category=st.lists(folder_names, max_size=3).map("/".join),
    ),
    max_size=8,
)


def cleaned(text: str) -> str:
    """What the bot documents: XML-illegal characters dropped, whitespace collapsed."""
    legal = "".join(
        char
        for char in text
        if char in "\t\n\r"
        or (char >= " " and not ("\ud800" <= char <= "\udfff") and char not in "\ufffe\uffff")
    )
    return " ".join(legal.split())


@given(st.text(max_size=20), feeds_strategy)
def test_render_then_parse_gives_back_the_cleaned_feeds(title: str, feeds: list[OpmlFeed]) -> None:
    """Every feed comes back, text cleaned of what XML cannot carry, once per URL."""
    data = render_opml(title, feeds)
    ET.fromstring(data)  # noqa: S314 -- our own output: well-formed for any XML parser
    doc = parse_opml(data)
    assert doc.title == cleaned(title)
    expected: dict[str, OpmlFeed] = {}
    for feed in feeds:
        url = cleaned(feed.url)
        expected.setdefault(
            canonical_url(url) or url,
            OpmlFeed(
                url, cleaned(feed.title), cleaned(feed.html_url), clean_category(feed.category)
            ),
        )
    # Grouping by folder may reorder feeds; the first of each URL (canonically) is kept.
    got = {canonical_url(feed.url) or feed.url: feed for feed in doc.feeds}
    assert len(got) == len(doc.feeds)
    assert got == expected


@given(
    st.lists(
        st.builds("https://f.example/{}".format, st.integers(0, 10**6)), unique=True, max_size=20
    )
)
def test_feeds_without_folders_keep_their_order(urls: list[str]) -> None:
    """An export of a chat's feeds lists them in the order given."""
    feeds = [OpmlFeed(url, f"Feed {n}") for n, url in enumerate(urls)]
    assert parse_opml(render_opml("t", feeds)).feeds == tuple(feeds)
