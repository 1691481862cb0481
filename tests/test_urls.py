"""Canonical URLs: one spelling per page, safe to post, never an exception."""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.urls import canonical_url, is_http_url

REFERENCE = (
    "https://www.drugabuse.gov/news-events/news-releases/2014/04/"
    "medication-can-help-prevent-relapse-in-cocaine-dependent-males"
)


def test_reference_link_loses_its_tracking_parameters() -> None:
    """The NIDA link with utm_* parameters canonicalises to the bare release URL."""
    link = f"{REFERENCE}?utm_source=rss&utm_medium=feed&utm_campaign=news-releases"
    assert canonical_url(link) == REFERENCE


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a?b=1#frag", "http://example.com/a?b=1"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/a?UTM_Source=x&id=7&Utm_medium=y&fbclid=z&gclid=g", "https://example.com/a?id=7"),
        ("https://example.com/a?mc_cid=1&mc_eid=2&page=2&sort=asc", "https://example.com/a?page=2&sort=asc"),
        ("https://example.com/a?z=1&a=2", "https://example.com/a?z=1&a=2"),
        ("https://example.com/a?utm_source=x&amp;utm_medium=rss&amp;id=3", "https://example.com/a?id=3"),
        ("  \n https://example.com/padded \n ", "https://example.com/padded"),
        ("https://example.com/Case/Kept", "https://example.com/Case/Kept"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/%7Euser", "https://example.com/%7Euser"),
        ("https://user:secret@example.com/x", "https://example.com/x"),
        ("https://exämple.com/ü", "https://xn--exmple-cua.com/%C3%BC"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)  # fmt: skip
def test_canonical_forms(url: str, expected: str) -> None:
    """Scheme and host lowercased, default port, fragment and trackers dropped, order kept."""
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("news/2014/a", "https://www.nih.gov/", "https://www.nih.gov/news/2014/a"),
        ("../archive/18", "https://press.example.org/releases/", "https://press.example.org/archive/18"),
        ("/root", "https://press.example.org/releases/feed.xml", "https://press.example.org/root"),
        ("//cdn.example.org/x", "https://press.example.org/", "https://cdn.example.org/x"),
        ("https://other.example.org/x", "https://press.example.org/", "https://other.example.org/x"),
    ],
)  # fmt: skip
def test_relative_links_resolve_against_the_base(url: str, base: str, expected: str) -> None:
    """Relative and scheme-relative links become absolute against the feed's base."""
    assert canonical_url(url, base) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "javascript:alert(document.cookie)",
        "mailto:press@example.gov",
        "ftp://example.com/file",
        "data:text/html,<script>alert(1)</script>",
        "relative/without/base",
        "http://",
        "http://example.com:99999/",
        "http://[::1/",
        "http://exa mple.com/",
    ],
)
def test_unusable_links_give_empty_string(url: str) -> None:
    """Anything that is not an absolute http(s) URL gives "" rather than a bad link."""
    assert canonical_url(url) == ""


def test_javascript_link_stays_unusable_even_with_a_base() -> None:
    """A base URL never turns a javascript: link into something postable."""
    assert canonical_url("javascript:alert(1)", "https://example.com/") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com/", True),
        (" HTTP://example.com/", True),
        ("javascript:alert(1)", False),
        (" JaVaScRiPt:alert(1)", False),
        ("data:text/html,x", False),
        ("http:alert(1)", False),
        ("/relative", False),
    ],
)
def test_is_http_url(text: str, expected: bool) -> None:
    """Only text spelled as an absolute http(s) URL counts as one, whatever its case."""
    assert is_http_url(text) is expected


def _has_utm_param(url: str) -> bool:
    query = urlsplit(url).query
    names = (field.partition("=")[0] for field in query.split("&") if field)
    return any(unquote_plus(name).strip().lower().startswith("utm_") for name in names)


def _assert_canonical(result: str) -> None:
    assert result == "" or urlsplit(result).scheme in ("http", "https")
    if result:
        parts = urlsplit(result)
        assert parts.netloc
        assert not parts.fragment
        assert "#" not in result
        assert not _has_utm_param(result)
        assert result == result.strip()


url_text = st.text(max_size=80)
param_names = st.sampled_from(
    ["utm_source", "UTM_Medium", "utm_%73ource", "fbclid", "id", "page", "q"]
)
urls = st.builds(
    lambda scheme, host, path, params, fragment: (
        f"{scheme}://{host}/{path}?{'&'.join(f'{k}={v}' for k, v in params)}#{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "javascript", "ftp"]),
    st.from_regex(r"[A-Za-z0-9-]{1,10}(\.[A-Za-z]{2,5}){1,2}(:[0-9]{1,5})?", fullmatch=True),
    st.text(max_size=20),
    st.lists(st.tuples(param_names, st.text(max_size=8)), max_size=5),
    st.text(max_size=10),
)
bases = st.sampled_from(
    ["", "https://www.nih.gov/news/", "http://example.com/a/b?c=d", "not a url"]
)


@given(st.one_of(urls, url_text), bases)
def test_canonical_url_properties(url: str, base: str) -> None:
    """Result is "" or absolute http(s), without fragment or utm_ params, and idempotent."""
    result = canonical_url(url, base)
    _assert_canonical(result)
    assert canonical_url(result, base) == result
    assert canonical_url(result) == result
