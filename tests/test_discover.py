"""Feed discovery in a web page, and telling a page from a feed, for `/add <page URL>`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.feeds.discover import DiscoveredFeed, discover_feeds, looks_like_html

NIDA_PAGE = """<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
  <meta charset="utf-8" />
  <title>News Releases | National Institute on Drug Abuse (NIDA)</title>
  <link rel="canonical" href="https://nida.nih.gov/news-events/news-releases" />
  <link rel="stylesheet" media="all" href="/sites/default/files/css/css_x.css" />
  <link rel="alternate" type="application/rss+xml" title="NIDA News Releases"
        href="/feeds/news-releases.xml" />
  <link rel="alternate" type="application/rss+xml" title="NIDA Notes"
        href="https://nida.nih.gov/feeds/nida-notes.xml?utm_source=site" />
  <link rel="alternate" hreflang="es" href="https://nida.nih.gov/es" />
  <link rel="icon" href="/favicon.ico" type="image/vnd.microsoft.icon" />
  <script>var s = '<link rel="alternate" type="application/rss+xml" href="/js.xml">';</script>
</head>
<body><a href="/feeds/news-releases.xml">RSS</a></body>
</html>
"""


def test_a_press_office_page_announces_its_feeds() -> None:
    """The NIDA-like head gives both RSS feeds, absolute, titled, in order; other links not."""
    assert discover_feeds(NIDA_PAGE, "https://nida.nih.gov/news-events/news-releases") == (
        DiscoveredFeed("https://nida.nih.gov/feeds/news-releases.xml", "NIDA News Releases", "rss"),
        DiscoveredFeed(
            "https://nida.nih.gov/feeds/nida-notes.xml?utm_source=site", "NIDA Notes", "rss"
        ),
    )


def test_atom_feeds_and_several_rel_tokens_in_any_case_are_found() -> None:
    """rel="Alternate feed", TYPE in capitals, a charset parameter: still an Atom feed."""
    page = (
        b'<HEAD><LINK REL="Alternate Feed" TYPE="Application/Atom+XML; charset=utf-8" '
        b'HREF="atom.xml" TITLE="  Press\n  releases  "></HEAD>'
    )
    assert discover_feeds(page, "https://www.nih.gov/news/") == (
        DiscoveredFeed("https://www.nih.gov/news/atom.xml", "Press releases", "atom"),
    )


def test_links_resolve_against_the_pages_base_element() -> None:
    """<base href> (relative itself) changes where relative feed links point."""
    page = (
        '<link rel="alternate" type="application/rss+xml" href="rss.xml">'
        '<base href="/releases/"><base href="/ignored/">'
    )
    assert discover_feeds(page, "https://press.example.org/a/b.html")[0].url == (
        "https://press.example.org/releases/rss.xml"
    )


def test_the_same_feed_twice_is_listed_once() -> None:
    """Relative and absolute spellings of one feed, or with a fragment, give one entry."""
    page = (
        '<link rel="alternate" type="application/rss+xml" href="/rss" title="first">'
        '<link rel="alternate" type="application/rss+xml" href="https://A.example/rss#x">'
        '<link rel="alternate" type="application/atom+xml" href="/atom">'
    )
    assert discover_feeds(page, "https://a.example/") == (
        DiscoveredFeed("https://a.example/rss", "first", "rss"),
        DiscoveredFeed("https://a.example/atom", "", "atom"),
    )


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "data:application/rss+xml,<rss/>",
        "file:///etc/passwd",
        "ftp://a.example/rss",
        "mailto:press@example.org",
        "http://",
        "http://a.example:99999/rss",
        "",
        "   ",
    ],
)
def test_links_that_are_not_web_feeds_are_dropped(href: str) -> None:
    """Only http(s) links with a host come out; the others are dropped silently."""
    page = f'<link rel="alternate" type="application/rss+xml" href="{href}">'
    assert discover_feeds(page, "https://a.example/") == ()


@pytest.mark.parametrize(
    ("page", "found"),
    [
        ("<link rel=alternate type=application/rss+xml href=/rss>", True),  # no head, no quotes
        ("<html><body><p><link rel='alternate' type='application/rss+xml' href='/rss'>", True),
        ("<![if IE]><![endif]><link rel=alternate type=application/rss+xml href=/rss>", True),
        ("</head></html><link rel=alternate type=application/rss+xml href=/rss>", True),
        ("<head><title>x</title><link rel=alternate type=application/rss+xml href=/rss", False),
        ("<div <link rel=alternate type=application/rss+xml href=/rss>>", False),
        ("<!-- <link rel=alternate type=application/rss+xml href=/rss> -->", False),
        ("<![bogus[ x ]]><link rel=alternate type=application/rss+xml href=/rss>", False),
    ],
)
def test_broken_markup_gives_the_feed_or_nothing(page: str, found: bool) -> None:
    """No head, stray tags: the link is found; a cut-off tag or a comment hides it; no crash."""
    urls = [feed.url for feed in discover_feeds(page, "https://a.example/")]
    assert urls == (["https://a.example/rss"] if found else [])


def test_a_page_without_feed_links_gives_nothing() -> None:
    """A page with only stylesheets and icons has no feed to offer."""
    page = '<head><link rel="stylesheet" href="/a.css"><link rel="alternate" href="/es"></head>'
    assert discover_feeds(page, "https://a.example/") == ()


def test_a_windows_1252_page_is_read() -> None:
    """A legacy page in Windows-1252 keeps its accented title."""
    page = '<link rel="alternate" type="application/rss+xml" title="Actualités" href="/rss">'
    (feed,) = discover_feeds(page.encode("cp1252"), "https://a.example/")
    assert feed.title == "Actualités"


def test_a_broken_base_element_is_ignored() -> None:
    """<base href="http://[::1"> cannot be a base: links resolve against the page URL."""
    page = '<base href="http://[::1"><link rel=alternate type=application/rss+xml href=/rss>'
    assert [feed.url for feed in discover_feeds(page, "https://a.example/x")] == [
        "https://a.example/rss"
    ]


urlish = st.sampled_from(
    ["http://", "https://", "//", "/", "[", "]", ":", "@", "#", "?", "a.b", "%"]
)
hrefs = st.lists(urlish | st.text(max_size=4), max_size=8).map("".join)
link_pages = st.builds(
    '<base href="{}"><link rel=alternate type=application/atom+xml href="{}">'.format,
    hrefs,
    hrefs,
)


def test_a_link_with_control_characters_is_read_as_a_browser_reads_it() -> None:
    """Control characters around an href are dropped as a browser drops them: the URL found
    is http(s) and clean, never the href as written (found by Hypothesis)."""
    link = '<link rel="alternate" type="application/rss+xml" href="{}">'
    page = link.format("\x1b https://a.example/f\n.xml ")
    assert [feed.url for feed in discover_feeds(page, "https://example.org/")] == [
        "https://a.example/f.xml"
    ]
    bad = link.format("\x1bhttp://http://")
    assert all(feed.url.isprintable() for feed in discover_feeds(bad, "https://example.org/"))


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), link_pages), hrefs)
def test_any_page_and_base_give_http_feeds_or_nothing(html: str | bytes, base: str) -> None:
    """Whatever the page or base URL, discovery never raises and yields only http(s) URLs."""
    for feed in discover_feeds(html, base):
        assert feed.url.lower().startswith(("http://", "https://"))
        assert feed.kind in ("rss", "atom")


# --- looks_like_html ----------------------------------------------------------------------

RSS = b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel/></rss>'
ATOM = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>'
RDF = b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"></rdf:RDF>'


@pytest.mark.parametrize(
    ("body", "content_type", "page"),
    [
        (NIDA_PAGE.encode(), "text/html; charset=utf-8", True),
        (NIDA_PAGE.encode(), "application/octet-stream", True),
        (b"\xef\xbb\xbf  <html><head></head></html>", "", True),
        (b"<p>Moved</p>", "text/html", True),
        (RSS, "application/rss+xml", False),
        (RSS, "text/html", False),  # a feed served as HTML is still a feed
        (ATOM, "text/html; charset=utf-8", False),
        (RDF, "text/xml", False),
        (b"<p>hello</p>", "application/xml", False),
        (b"", "", False),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>', "text/xml", True),
    ],
)
def test_pages_are_told_from_feeds(body: bytes, content_type: str, page: bool) -> None:
    """The body's first element decides; the Content-Type only when the body does not."""
    assert looks_like_html(body, content_type) is page
