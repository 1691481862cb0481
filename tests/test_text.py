"""HTML to plain text: what a reader sees of a feed's title or description."""

from __future__ import annotations

import html
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.text import collapse_whitespace, html_to_text, plain_text_paragraphs

# Text a publisher could write: no control, surrogate or private-use characters.
readable_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Co")),
    max_size=200,
)


def test_entities_are_decoded_exactly_once() -> None:
    """A double-encoded tag shows as text one level down, never as a tag."""
    assert html_to_text("&lt;b&gt;bold&lt;/b&gt;") == "<b>bold</b>"
    assert html_to_text("&amp;lt;b&amp;gt;") == "&lt;b&gt;"
    assert html_to_text("NIH&#039;s &quot;new&quot; study") == 'NIH\'s "new" study'


def test_tags_are_stripped_and_text_kept() -> None:
    """Inline markup disappears, its text stays in place."""
    assert html_to_text('A <b>bold</b> <a href="/x">move</a>') == "A bold move"


def test_scripts_and_styles_are_dropped_with_their_content() -> None:
    """No script or stylesheet text reaches a post, and event handlers vanish."""
    text = html_to_text(
        '<style>p { color: red }</style><p onload="steal()">Visible</p>'
        '<script type="text/javascript">document.write("injected")</script> text'
    )
    assert text == "Visible\n\ntext"


def test_unclosed_script_hides_everything_after_it() -> None:
    """A script that never ends cannot leak its body as text."""
    assert html_to_text("Before<script>alert('x') and more") == "Before"


def test_comments_are_dropped() -> None:
    """HTML comments (ScienceDaily's <!-- more -->) are not text."""
    assert html_to_text("First <!-- more --> second") == "First second"


def test_paragraphs_become_blank_line_separated_blocks() -> None:
    """Each paragraph is its own block, separated by one blank line."""
    assert html_to_text("<p>One.</p>\n\n\n<p>Two.</p><div>Three.</div>") == "One.\n\nTwo.\n\nThree."


def test_line_breaks_and_list_items_start_new_lines() -> None:
    """<br> is a newline, two <br> a paragraph, list items each get a line."""
    assert html_to_text("a<br>b<br/><br />c") == "a\nb\n\nc"
    assert html_to_text("<p>Topics:</p><ul><li>Sleep</li><li>Screens</li></ul>") == (
        "Topics:\n\nSleep\nScreens"
    )


def test_whitespace_runs_collapse_to_one_space() -> None:
    """Indentation and hard line breaks inside a paragraph read as single spaces."""
    assert html_to_text("  Data   science\n   is\tgaining  ") == "Data science is gaining"


def test_collapse_whitespace_flattens_newlines() -> None:
    """collapse_whitespace makes one trimmed line."""
    assert collapse_whitespace("\n  Padded \n\n title\t ") == "Padded title"


def test_plain_text_paragraphs_keep_blank_lines_only() -> None:
    """Plain text keeps paragraph breaks and joins hard-wrapped lines."""
    assert plain_text_paragraphs("one\ntwo\n\n\n  three  ") == "one two\n\nthree"


def test_control_characters_are_removed() -> None:
    """NULs and other control characters never reach a message."""
    assert html_to_text("a\x00b\x07c\x9fd") == "abcd"


@given(readable_text)
def test_escaped_text_round_trips(text: str) -> None:
    """Any text, HTML-escaped once, comes back as the same text (whitespace collapsed)."""
    assert html_to_text(html.escape(text)) == collapse_whitespace(text)


@given(st.text(max_size=300))
def test_never_raises_and_output_is_tidy(text: str) -> None:
    """Any input gives trimmed text with no control characters and no triple newlines."""
    result = html_to_text(text)
    assert result == result.strip()
    assert "\n\n\n" not in result
    assert not any(unicodedata.category(char) == "Cc" and char != "\n" for char in result)


@given(st.lists(st.sampled_from(["<p>", "</p>", "<br>", "<li>", "<script>", "</script>",
                                 "<style>", "x", " ", "&amp;", "&lt;", "<!--", "-->", "<"]),
                max_size=30))  # fmt: skip
def test_tag_soup_never_raises(parts: list[str]) -> None:
    """Arbitrary tag soup is handled without an exception."""
    assert isinstance(html_to_text("".join(parts)), str)
