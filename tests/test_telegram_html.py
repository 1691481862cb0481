"""The strict Telegram-HTML validator: tdlib's error texts, entities, decoding and length rules."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.telegram_html import (
    BadRequest,
    Entity,
    EntityParseError,
    ParsedMessage,
    parse_telegram_html,
    validate_message_text,
)
from tests.fakes.telegram_links import LinkError, check_link


def error_of(text: str) -> str:
    with pytest.raises(EntityParseError) as caught:
        parse_telegram_html(text)
    return caught.value.description


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("ok <x>y</x>", 'Unsupported start tag "x" at byte offset 3'),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
        ("é <p>", 'Unsupported start tag "p" at byte offset 3'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ('<a href="https://example.org"', "Unclosed start tag at byte offset 0"),
        ("<a href=", 'Unclosed start tag "a" at byte offset 0'),
        ("<blockquote expandable", 'Unclosed start tag "blockquote" at byte offset 0'),
        ('<a ="x">y</a>', 'Empty attribute name in the tag "a" at byte offset 0'),
        ("<b ", 'Empty attribute name in the tag "b" at byte offset 0'),
        ("<a href=x/y>z</a>", "Unexpected end of name token at byte offset 8"),
        ("done</b>", "Unexpected end tag at byte offset 4"),
        ("<b>bold</b", "Unclosed end tag at byte offset 7"),
        ("<b>x<i>y</b></i>", 'Unmatched end tag at byte offset 8, expected "</i>", found "</b>"'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        (
            '<span class="spoiler">x</span>',
            'Tag "span" must have class "tg-spoiler" at byte offset 0',
        ),
        ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
        (
            "&#xD800;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
        ),
    ],
)
def test_refused_html_gets_tdlibs_exact_error_text(text: str, description: str) -> None:
    """Each malformed input is refused with the description the real Bot API sends."""
    assert error_of(text) == description


def test_byte_offsets_count_utf8_bytes_not_characters() -> None:
    """A stray '<' after emoji is reported at its UTF-8 byte offset, as Telegram does."""
    assert error_of("😀😀 <") == "Unclosed start tag at byte offset 9"


def test_blockquote_inside_blockquote_is_refused() -> None:
    """Nested quotes are an error here (the real server drops the inner quote)."""
    assert "Nested blockquote" in error_of("<blockquote>a<blockquote>b</blockquote></blockquote>")


def test_nested_tags_give_entities_in_utf16_units() -> None:
    """Properly nested tags produce Telegram's entities; an emoji counts as 2 UTF-16 units."""
    parsed = parse_telegram_html("<b>😀 <i>hi</i></b> <u>u</u><s>s</s><tg-spoiler>p</tg-spoiler>")
    assert parsed.text == "😀 hi usp"
    assert parsed.entities == (
        Entity("bold", 0, 5),
        Entity("italic", 3, 2),
        Entity("underline", 6, 1),
        Entity("strikethrough", 7, 1),
        Entity("spoiler", 8, 1),
    )


def test_tag_names_are_case_insensitive_and_aliases_work() -> None:
    """<B>, <STRONG>, <em>, <ins>, <del> and a short </> close tag are accepted."""
    parsed = parse_telegram_html("<B>a</b><STRONG>b</strong><em>c</EM><ins>d</ins><del>e</>")
    assert [e.type for e in parsed.entities] == [
        "bold",
        "bold",
        "italic",
        "underline",
        "strikethrough",
    ]


def test_links_code_pre_and_quotes() -> None:
    """href links, pre+code language, plain code and expandable quotes become the right entities."""
    parsed = parse_telegram_html(
        '<a href="https://example.org/a?b=1&amp;c=2">link</a> <code class="language-py">c</code> '
        '<pre><code class="language-python">p</code></pre><blockquote expandable>q</blockquote>'
    )
    assert parsed.text == "link c pq"
    assert parsed.entities == (
        Entity("text_link", 0, 4, url="https://example.org/a?b=1&c=2"),
        Entity("code", 5, 1),
        Entity("pre", 7, 1, language="python"),
        Entity("expandable_blockquote", 8, 1),
    )


def test_a_refused_link_keeps_its_text_and_loses_the_entity() -> None:
    """Like tdlib, a link to localhost is dropped silently while its text stays."""
    assert parse_telegram_html('<a href="http://localhost/x">see</a>') == ParsedMessage("see")


def test_custom_emoji_keeps_its_id() -> None:
    """tg-emoji with a valid int64 id becomes a custom_emoji entity."""
    parsed = parse_telegram_html('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>')
    assert parsed.entities == (Entity("custom_emoji", 0, 2, custom_emoji_id="5368324170671202286"),)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("&lt;b&gt; &amp; &quot;q&quot;", '<b> & "q"'),
        ("&#39;&#x27;&#8364;", "''€"),
        ("&amp without semicolon", "& without semicolon"),
        ("&nbsp;&copy;", "&nbsp;&copy;"),
        ("AT&T & co", "AT&T & co"),
        ("&#X41;&#0;&#1114111;", "&#X41;&#0;&#1114111;"),
        ("&LT;", "&LT;"),
    ],
)
def test_only_four_named_entities_and_numeric_ones_decode(source: str, text: str) -> None:
    """&lt; &gt; &amp; &quot; and numeric references decode; anything else stays literal."""
    assert parse_telegram_html(source).text == text


def test_plain_text_is_not_parsed_without_parse_mode() -> None:
    """Without parse_mode, '<' and '&amp;' are just characters."""
    assert validate_message_text("a < b &amp;", parse_mode=None) == ParsedMessage("a < b &amp;")


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"),
    [
        ("", "HTML", "Bad Request: message text is empty"),
        ("  <b> \n </b>", "HTML", "Bad Request: text must be non-empty"),
        ("x" * 32769, None, "Bad Request: text is too long"),
        (
            "<i>x</b>",
            "html",
            "Bad Request: can't parse entities: Unmatched end tag at byte offset "
            '4, expected "</i>", found "</b>"',
        ),
        ("x", "Markdown-ish", "Bad Request: unsupported parse_mode"),
    ],
)
def test_message_text_rules_answer_bot_api_descriptions(
    text: str, parse_mode: str, description: str
) -> None:
    """Empty, blank, oversized and malformed texts get the Bot API's full description."""
    with pytest.raises(BadRequest) as caught:
        validate_message_text(text, parse_mode=parse_mode)
    assert caught.value.description == description


def test_length_limit_counts_code_points_after_parsing() -> None:
    """4096 emoji pass and 4097 fail; markup does not count towards the limit."""
    assert len(validate_message_text("😀" * 4096, parse_mode=None).text) == 4096
    assert validate_message_text("<b>" + "x" * 4096 + "</b>", parse_mode="HTML").text == "x" * 4096
    with pytest.raises(BadRequest, match="message is too long"):
        validate_message_text("😀" * 4097, parse_mode="HTML")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:3000/x", "Wrong HTTP URL"),
        ("http://127.0.0.1/x", "Wrong HTTP URL"),
        ("grammy", "Wrong HTTP URL"),
        ("ftp://example.org/file", "Unsupported URL protocol"),
        ("tel:+37120123456", "Wrong port number specified in the URL"),
        ("https://t.me/releasebot?start=" + "a" * 65, "Wrong start parameter"),
        ("https://t.me/releasebot?start=has space", "Wrong HTTP URL"),
        ("https://t.me/releasebot?start=dots.not.allowed", "Wrong start parameter"),
    ],
)
def test_refused_links(url: str, reason: str) -> None:
    """Links Telegram refuses in buttons are refused with tdlib's reason."""
    with pytest.raises(LinkError) as caught:
        check_link(url)
    assert caught.value.reason == reason


def test_accepted_links() -> None:
    """Public http(s) links, tg:// links and 64-character deep-link payloads pass."""
    for url in (
        "https://example.org/x?y=1",
        "tg://resolve?domain=releasebot",
        "https://t.me/b?start=" + "A-_9" * 16,
    ):
        assert check_link(url) == url
    assert check_link("example.org") == "http://example.org"


@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    """For any string, html.escape(s, quote=False) shows exactly s with no entities."""
    assert parse_telegram_html(html.escape(text, quote=False)) == ParsedMessage(text)


@given(st.text())
def test_escaping_quotes_too_still_round_trips(text: str) -> None:
    """html.escape with quote=True (&quot; and &#x27;) round-trips as well."""
    assert parse_telegram_html(html.escape(text)).text == text


_TAGGY = st.text(alphabet=st.sampled_from([*"<>/&;#x b i a=\"'pre code span class tg-", "😀"]))


@given(_TAGGY)
def test_any_input_parses_or_is_refused_cleanly(text: str) -> None:
    """Arbitrary tag soup never crashes the parser, and entities stay inside the text."""
    try:
        parsed = parse_telegram_html(text)
    except EntityParseError:
        return
    utf16_length = len(parsed.text.encode("utf-16-le")) // 2
    for entity in parsed.entities:
        assert entity.length > 0
        assert entity.offset >= 0
        assert entity.offset + entity.length <= utf16_length
