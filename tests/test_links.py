"""Links that are not http(s) (javascript:, data:, file:...) never reach a citation or a post."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import FeedParseError
from bot.feeds.normalise import normalize_entry
from bot.feeds.parse import parse_feed
from bot.models import Publisher, Release
from bot.render.cite import STYLES, render_citation
from bot.render.cite_data import citation_data
from bot.render.post import PostOptions, render_post
from tests.test_cli import run_cli

ACCESSED = date(2024, 5, 1)
AGENCY = Publisher(name="Agency", short_name="")
# Each payload carries a marker that must not show up anywhere a reader looks.
HOSTILE_LINKS = [
    "javascript:alert(1)",
    "data:text/html,&lt;script&gt;alert(2)&lt;/script&gt;",
    "JaVaScRiPt:alert(3)",
    "   javascript:alert(4)",
    "java&#x09;script:alert(5)",
    "vbscript:msgbox(6)",
    "file:///etc/passwd",
]
MARKERS = ["alert(", "msgbox(", "etc/passwd", "javascript", "vbscript", "data:"]
SCHEMES = [
    "javascript:",
    "JaVaScRiPt:",
    " javascript:",
    "data:",
    "vbscript:",
    "file:",
    "java\tscript:",
]


def rss(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Release {n}</title><link>{link}</link><guid>r-{n}</guid>"
        f"<pubDate>Tue, {1 + n:02d} Apr 2014 10:00:00 -0400</pubDate>"
        f"<description>Summary of release {n}.</description></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Agency news</title><link>https://agency.example/</link>{items}</channel></rss>"
    ).encode()


def atom(links: list[str]) -> bytes:
    entries = "".join(
        f'<entry><title>Release {n}</title><link rel="alternate" href="{link}"/>'
        f"<id>urn:r-{n}</id><updated>2014-04-0{1 + n}T10:00:00Z</updated>"
        f"<summary>Summary of release {n}.</summary></entry>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Agency news</title><id>urn:agency</id>{entries}</feed>"
    ).encode()


def releases(body: bytes) -> tuple[Release, ...]:
    feed = parse_feed(body, feed_name="agency", base_url="https://agency.example/feed.xml")
    return feed.releases


def assert_clean(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text.lower(), f"{marker!r} in {text!r}"


@pytest.mark.parametrize("build", [rss, atom])
def test_hostile_links_reach_no_citation(build: Callable[[list[str]], bytes]) -> None:
    """Every citation style of a release whose link is javascript:/data:/file: shows no such URL."""
    found = releases(build(HOSTILE_LINKS))
    assert [release.title for release in found] == [f"Release {n}" for n in range(7)]
    for release in found:
        assert (release.link, release.url) == ("", "")
        for style in STYLES:
            assert_clean(render_citation(release, AGENCY, style, accessed=ACCESSED))
            assert_clean(render_citation(release, AGENCY, style, accessed=ACCESSED, html=True))


@pytest.mark.parametrize("style", ["apa", "bibtex", "none"])
def test_hostile_links_reach_no_post(style: str) -> None:
    """A channel post for such a release has its title and summary but no link or button to it."""
    options = PostOptions(
        citation_style=style, summary_length=600, link_preview=True, bot_username="ReleaseBot"
    )
    for n, release in enumerate(releases(rss(HOSTILE_LINKS))):
        post = render_post(release, AGENCY, release_id=n, options=options, accessed=ACCESSED)
        assert f"Release {n}" in post.text
        assert_clean(post.text)
        assert [button.text for button in post.buttons] == ["Cite"]


def test_http_links_are_kept() -> None:
    """Ordinary and relative links still give the release its URL."""
    found = releases(rss(["https://agency.example/r/1", "/r/2", "HTTP://agency.example/r/3"]))
    assert [release.url for release in found] == [
        "https://agency.example/r/1",
        "https://agency.example/r/2",
        "http://agency.example/r/3",
    ]
    assert all(release.link for release in found)


def test_entry_with_only_a_hostile_link_is_refused() -> None:
    """An entry whose only content is a javascript: link is no release (it used to be its title)."""
    with pytest.raises(FeedParseError, match="no title, link or summary"):
        normalize_entry(
            {"link": "javascript:alert(1)"},
            feed_name="agency",
            feed_title="Agency news",
            feed_author="",
            base_url="https://agency.example/feed.xml",
            timezone=None,
        )


links = st.one_of(
    st.text(),
    st.builds(str.__add__, st.sampled_from(SCHEMES), st.text()),
    st.builds(str.__add__, st.sampled_from(["http://", "https://", "HTTPS://", "/"]), st.text()),
)


@given(links, st.sampled_from(["", "https://agency.example/feed.xml"]))
def test_whatever_the_link_release_and_citation_urls_are_http_or_empty(
    link: str, base_url: str
) -> None:
    """Whatever the link string, url, link and the citation URL are "" or http(s)."""
    entry = {"title": "A release", "link": link}
    release = normalize_entry(
        entry,
        feed_name="agency",
        feed_title="Agency news",
        feed_author="",
        base_url=base_url,
        timezone=None,
    )
    assert release.url == "" or release.url.startswith(("http://", "https://"))
    assert release.url or release.link == "" or release.link.lower().startswith("http")
    cited = citation_data(release, AGENCY, ACCESSED).url
    assert cited == "" or cited.lower().startswith(("http://", "https://"))


def test_dry_run_posts_show_no_hostile_link(tmp_path: Path) -> None:
    """`releasebot run --once --dry-run` on a feed of such links posts them with no such URL."""
    (tmp_path / "feed.xml").write_bytes(rss(HOSTILE_LINKS))
    config = tmp_path / "releasebot.toml"
    config.write_text(
        '[bot]\ndatabase = "releasebot.db"\nusername = "releasebot_demo_bot"\n\n'
        "[defaults]\nbacklog = 10\n\n"
        '[[feeds]]\nname = "agency"\nurl = "feed.xml"\npublisher = "Agency"\n\n'
        '[[channels]]\nname = "news"\nchat = "@agency_news"\nfeeds = ["agency"]\n',
        encoding="utf-8",
    )
    done = run_cli("run", "--once", "--dry-run", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("──── post ") == len(HOSTILE_LINKS)
    assert "Agency. (2014" in done.stdout  # each post carries its APA citation
    assert_clean(done.stdout)
