"""The channel post: its layout, its buttons, escaping, and the limits Telegram enforces."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Publisher, Release
from bot.render.cite import STYLES
from bot.render.post import ELLIPSIS, MAX_TEXT, Post, PostOptions, render_post, shorten
from tests.factories import make_release
from tests.fakes.bot_api_objects import validate_reply_markup
from tests.fakes.telegram_html import ParsedMessage, validate_message_text

NIDA = Publisher(name="National Institute on Drug Abuse", short_name="NIDA")
ACCESSED = date(2024, 5, 1)
BOT = "releasebot_test_bot"
OPTIONS = PostOptions(citation_style="apa", summary_length=600, link_preview=True, bot_username=BOT)
SENTENCES = " ".join(f"Sentence number {n} says something about the study." for n in range(40))


def post_of(release: Release, options: PostOptions = OPTIONS, release_id: int = 7) -> Post:
    return render_post(release, NIDA, release_id=release_id, options=options, accessed=ACCESSED)


def shown(post: Post) -> ParsedMessage:
    """What Telegram shows for the post (raises if the strict fake would refuse it)."""
    return validate_message_text(post.text, parse_mode="HTML")


def entity_text(parsed: ParsedMessage, kind: str) -> list[str]:
    """The text each entity of `kind` covers (offsets are UTF-16 code units)."""
    utf16 = parsed.text.encode("utf-16-le")
    return [
        utf16[2 * e.offset : 2 * (e.offset + e.length)].decode("utf-16-le")
        for e in parsed.entities
        if e.type == kind
    ]


def check_buttons(post: Post) -> None:
    """The keyboard as PTB sends it passes the fake server's button and URL rules."""
    keyboard = {"inline_keyboard": [[{"text": b.text, "url": b.url} for b in post.buttons]]}
    validate_reply_markup(json.loads(json.dumps(keyboard)))


# layout


def test_post_has_bold_title_byline_summary_and_apa_citation() -> None:
    """A reader sees the bold title, 'NIDA · 3 April 2014', the summary and the APA citation."""
    parsed = shown(post_of(make_release(2)))
    title = "Release number 2 about addiction research"
    blocks = parsed.text.split("\n\n")
    assert blocks[0] == f"{title}\nNIDA · 3 April 2014"
    assert blocks[1] == "Summary of release 2."
    assert blocks[2].startswith("National Institute on Drug Abuse. (2014, April 3). ")
    assert blocks[2].endswith("https://example.org/releases/2")
    assert entity_text(parsed, "bold") == [title]
    assert entity_text(parsed, "italic") == [title]  # APA italicises the title
    assert len(blocks) == 3


def test_undated_release_shows_only_the_source() -> None:
    """Without a date the byline is just the feed's short name, with no dangling separator."""
    parsed = shown(post_of(make_release(2, published=None, updated=None)))
    assert parsed.text.split("\n")[1] == "NIDA"


def test_long_summary_is_cut_at_a_sentence_with_an_ellipsis() -> None:
    """A summary over summary_length ends at a full stop, then an ellipsis, within the length."""
    options = replace(OPTIONS, summary_length=200)
    parsed = shown(post_of(make_release(2, summary=SENTENCES), options))
    summary = parsed.text.split("\n\n")[1]
    assert len(summary) <= 200
    assert summary.endswith(". " + ELLIPSIS)
    assert SENTENCES.startswith(summary.removesuffix(" " + ELLIPSIS))


def test_summary_without_sentences_is_cut_at_a_word() -> None:
    """A summary with no sentence end is cut after a whole word, never inside one."""
    words = " ".join(f"word{n}" for n in range(300))
    summary = shorten(words, 100)
    assert len(summary) <= 100
    assert summary.endswith(ELLIPSIS)
    kept = summary.removesuffix(ELLIPSIS)
    assert words.startswith(kept)
    assert words[len(kept)] == " "


def test_short_summary_is_kept_whole() -> None:
    """A summary within summary_length is shown as it is, with no ellipsis."""
    assert shorten("Short and sweet.", 600) == "Short and sweet."


def test_summary_length_zero_leaves_the_summary_out() -> None:
    """summary_length = 0 gives a post of headline and citation only."""
    parsed = shown(post_of(make_release(2), replace(OPTIONS, summary_length=0)))
    assert len(parsed.text.split("\n\n")) == 2
    assert "Summary of release" not in parsed.text


def test_citation_style_none_leaves_the_citation_out() -> None:
    """citation_style = "none": headline and summary only."""
    parsed = shown(post_of(make_release(2), replace(OPTIONS, citation_style="none")))
    assert parsed.text.split("\n\n") == [
        "Release number 2 about addiction research\nNIDA · 3 April 2014",
        "Summary of release 2.",
    ]
    assert entity_text(parsed, "italic") == []


def test_machine_styles_come_as_preformatted_blocks() -> None:
    """A BibTeX citation is posted inside <pre>, as one copyable block."""
    parsed = shown(post_of(make_release(2), replace(OPTIONS, citation_style="bibtex")))
    [block] = entity_text(parsed, "pre")
    assert block.startswith("@")
    assert "example.org/releases/2" in block


def test_link_preview_follows_the_channel_setting() -> None:
    """link_preview false in the options gives a post that asks for no preview."""
    assert post_of(make_release(2)).link_preview is True
    assert post_of(make_release(2), replace(OPTIONS, link_preview=False)).link_preview is False


# buttons


def test_buttons_read_the_release_and_cite_deep_link() -> None:
    """'Read the release' opens the release; 'Cite' opens the bot with start=cite_<id>."""
    post = post_of(make_release(2), release_id=42)
    assert [(b.text, b.url) for b in post.buttons] == [
        ("Read the release", "https://example.org/releases/2"),
        ("Cite", f"https://t.me/{BOT}?start=cite_42"),
    ]
    check_buttons(post)


def test_no_cite_button_without_a_bot_username() -> None:
    """When the bot's username is unknown (a dry run without [bot] username) there is no Cite."""
    post = post_of(make_release(2), replace(OPTIONS, bot_username=""))
    assert [b.text for b in post.buttons] == ["Read the release"]


def test_release_without_a_usable_url_has_no_read_button() -> None:
    """A release with no absolute URL gets no 'Read the release' (Telegram would refuse it)."""
    for url in (
        "",
        "/relative/path",
        "javascript:alert(1)",
        "http://localhost/x",
        "http://10.0.0.1/",
    ):
        post = post_of(make_release(2, url=url, link=url))
        assert [b.text for b in post.buttons] == ["Cite"], url
        check_buttons(post)


# escaping


def test_feed_strings_are_escaped() -> None:
    """A title with '<18' and '&' reaches readers literally, in bold and in the citation."""
    title = "Teens <18 & the <b>law</b> &amp; more"
    release = make_release(2, title=title, summary="Under <18 & over 21 > all.")
    post = post_of(release)
    assert "&lt;18 &amp; the &lt;b&gt;law&lt;/b&gt; &amp;amp; more" in post.text
    parsed = shown(post)
    assert entity_text(parsed, "bold") == [title]
    assert entity_text(parsed, "italic") == [title]
    assert "Under <18 & over 21 > all." in parsed.text


def test_publisher_and_dates_from_odd_feeds_are_escaped() -> None:
    """A short name with markup in it is shown as text, not as tags."""
    publisher = Publisher(name="A <&> B", short_name="<i>NIDA</i>")
    post = render_post(make_release(2), publisher, release_id=1, options=OPTIONS, accessed=ACCESSED)
    parsed = shown(post)
    assert parsed.text.split("\n")[1] == "<i>NIDA</i> · 3 April 2014"


def test_huge_fields_still_fit_in_one_message() -> None:
    """A 5000-character title, short name and summary still make a post within 4096."""
    release = make_release(2, title="T" * 5000, summary="word " * 3000, feed_title="F" * 5000)
    publisher = Publisher(name="N" * 3000, short_name="S" * 5000)
    for style in ("none", *STYLES):
        options = replace(OPTIONS, citation_style=style, summary_length=3000)
        post = render_post(release, publisher, release_id=1, options=options, accessed=ACCESSED)
        assert len(shown(post).text) <= MAX_TEXT, style


# any release, any style


def _offsets() -> st.SearchStrategy[timezone]:
    return st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


pub_dates = st.one_of(
    st.none(),
    st.dates(),
    st.datetimes(timezones=_offsets()),
    st.datetimes(timezones=st.just(UTC)),
)
url_texts = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["http", "https", "ftp", "tg", "HTTPS"]),
        st.text(max_size=30),
        st.text(max_size=40),
    ),
    st.just("https://example.org/releases/1?a=b&c=<d>"),
)
big_text = st.text(max_size=6000)
releases = st.builds(
    Release,
    feed=st.just("nida"),
    key=st.text(max_size=20),
    title=st.text(max_size=600) | st.text(max_size=6000),
    link=url_texts,
    url=url_texts,
    published=pub_dates,
    updated=pub_dates,
    author=st.text(max_size=200),
    feed_author=st.text(max_size=200),
    feed_title=st.text(max_size=300) | big_text,
    summary=big_text,
    language=st.sampled_from(["", "en", "fr", "x"]),
)
publishers = st.builds(
    Publisher, name=st.text(max_size=300) | big_text, short_name=st.text(max_size=40) | big_text
)
options = st.builds(
    PostOptions,
    citation_style=st.sampled_from(("none", *STYLES)),
    summary_length=st.integers(0, 3000),
    link_preview=st.booleans(),
    bot_username=st.sampled_from(["", BOT, "a_bot"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    release=releases,
    publisher=publishers,
    options=options,
    release_id=st.integers(1, 10**15),
    accessed=st.dates(),
)
def test_any_release_makes_a_post_telegram_accepts(
    release: Release, publisher: Publisher, options: PostOptions, release_id: int, accessed: date
) -> None:
    """Any release in any style: valid Telegram HTML within 4096, buttons Telegram accepts."""
    post = render_post(
        release, publisher, release_id=release_id, options=options, accessed=accessed
    )
    parsed = shown(post)
    assert len(parsed.text) <= MAX_TEXT
    assert len(entity_text(parsed, "bold")) == 1
    check_buttons(post)
    if options.bot_username:
        assert (
            post.buttons[-1].url == f"https://t.me/{options.bot_username}?start=cite_{release_id}"
        )


@settings(max_examples=100, deadline=None)
@given(title=st.text(min_size=1, max_size=300).filter(lambda t: t.strip() == t and t))
def test_any_short_title_is_shown_exactly_in_bold(title: str) -> None:
    """Whatever characters a title holds, readers see exactly that title, in bold."""
    parsed = shown(post_of(make_release(2, title=title)))
    assert entity_text(parsed, "bold") == [title]
    assert parsed.text.startswith(title + "\n")


@given(text=st.text(max_size=2000), limit=st.integers(0, 2000))
def test_shorten_never_exceeds_its_limit(text: str, limit: int) -> None:
    """shorten keeps within the limit and returns the text unchanged when it fits."""
    cut = shorten(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
    elif cut:
        assert cut.endswith(ELLIPSIS)


def test_posted_datetime_keeps_the_publishers_calendar_day() -> None:
    """A release at 23:30 in New York on 2 April shows 2 April, not the UTC day."""
    late = datetime(2014, 4, 2, 23, 30, tzinfo=timezone(timedelta(hours=-4)))
    parsed = shown(post_of(make_release(2, published=late)))
    assert parsed.text.split("\n")[1] == "NIDA · 2 April 2014"
