"""The URL an admin types in /add: accepted when it can be a web feed, refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import BadFeedURLError
from bot.feeds.urls import MAX_URL_LENGTH, check_feed_url


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("https://nida.nih.gov/feeds/news-releases.xml", "https://nida.nih.gov/feeds/news-releases.xml"),
        ("  http://press.example.org/rss?lang=en \n", "http://press.example.org/rss?lang=en"),
        ("HTTPS://WWW.NIH.GOV/feed", "HTTPS://WWW.NIH.GOV/feed"),
        ("http://[2001:db8::1]:8080/feed", "http://[2001:db8::1]:8080/feed"),
        ("https://exämple.org/feed", "https://exämple.org/feed"),
    ],
)  # fmt: skip
def test_web_feed_urls_are_accepted_trimmed(typed: str, kept: str) -> None:
    """http(s) with a host passes, surrounding whitespace removed, spelling otherwise kept."""
    assert check_feed_url(typed) == kept


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "no URL given"),
        ("   ", "no URL given"),
        ("nida.nih.gov/feeds/news.xml", "write it with https://"),
        ("localhost:8080/rss", "write it with https://"),
        ("http:nida.nih.gov", "write it with https://"),
        ("ftp://files.example.org/feed.xml", "not ftp:"),
        ("file:///etc/passwd", "not file:"),
        ("javascript:alert(1)", "not javascript:"),
        ("feed:https://example.org/rss", "not feed:"),
        ("https://user:secret@example.org/rss", "user:password@"),
        ("https://token@example.org/rss", "user:password@"),
        ("https:///rss", "no host"),
        ("https://", "no host"),
        ("https://example.org:99999/rss", "invalid URL"),
        ("http://[::1/rss", "invalid URL"),
        ("https://exa mple.org/rss", "space"),
        ("https://example.org/a\x00b", "control character"),
        ("https://example.org/" + "a" * MAX_URL_LENGTH, "at most 2,048"),
        ("https://bad<host>.org/", "invalid host"),
    ],
)
def test_unusable_urls_are_refused_with_a_reason(typed: str, says: str) -> None:
    """Each mistake is a BadFeedURLError whose message tells the admin what is wrong."""
    with pytest.raises(BadFeedURLError) as caught:
        check_feed_url(typed)
    assert says in caught.value.message
    assert caught.value.permanent
    assert len(str(caught.value)) < 300  # a 2 MB URL is not echoed back whole


def test_a_url_of_exactly_2048_characters_is_accepted() -> None:
    """The limit is inclusive."""
    url = "https://example.org/" + "a" * (MAX_URL_LENGTH - len("https://example.org/"))
    assert check_feed_url(url) == url


@given(st.text(max_size=120))
def test_any_text_is_a_web_url_or_refused(text: str) -> None:
    """Whatever is typed, the answer is an http(s) URL with a host or a BadFeedURLError."""
    try:
        url = check_feed_url(text)
    except BadFeedURLError as exc:
        reason = exc.message
        assert reason, "a refusal always says why"
    else:
        assert url.lower().startswith(("http://", "https://"))
        assert "@" not in url.split("/")[2]
