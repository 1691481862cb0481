"""Replies to reader commands: argument parsing, the text and keyboards, and Telegram's limits.

Every reply is checked with the strict fake server's own HTML parser and length rules, so
"valid" here means what Telegram would accept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import settings_from_dict
from bot.models import Publisher, StoredRelease
from bot.render import command_args, replies
from bot.render.cite import STYLES
from bot.render.command_args import CommandArgumentError, LatestRequest
from bot.render.replies import FeedHealth, FeedLine, Reply
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import sync_config
from bot.store import Store
from tests.factories import make_release
from tests.fakes.bot_api_objects import validate_reply_markup
from tests.fakes.telegram_html import validate_message_text

NIDA = Publisher("National Institute on Drug Abuse", "NIDA")
ACCESSED = date(2024, 5, 1)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BOT = "releasebot_test_bot"


def shown(reply: Reply) -> str:
    """The text Telegram shows, after checking it would accept the reply as sent."""
    parsed = validate_message_text(reply.text, parse_mode="HTML")
    assert len(parsed.text) <= 4096
    keyboard = {
        "inline_keyboard": [
            [{"text": b.text, "callback_data": b.callback_data} for b in row]
            for row in reply.keyboard
        ]
    }
    validate_reply_markup(keyboard)
    return parsed.text


def stored(n: int = 1, **fields: Any) -> StoredRelease:
    return StoredRelease(id=n, release=make_release(n, **fields), first_seen=NOW)


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/latest", command_args.Command("latest", "", addressed=False)),
        ("/LATEST 5 nida", command_args.Command("latest", "5 nida", addressed=False)),
        (f"/cite@{BOT} mla 42", command_args.Command("cite", "mla 42", addressed=True)),
        (f"/cite@{BOT.upper()}", command_args.Command("cite", "", addressed=True)),
        ("/search\nCOVID-19", command_args.Command("search", "COVID-19", addressed=False)),
    ],
)
def test_commands_for_this_bot_are_parsed(text: str, expected: command_args.Command) -> None:
    """Name in lower case, the @botname checked case-insensitively, arguments stripped."""
    assert command_args.parse_command(text, BOT) == expected


@pytest.mark.parametrize("text", ["/latest@other_bot", "hello /latest", "latest", "/", ""])
def test_other_bots_commands_and_plain_text_are_not_ours(text: str) -> None:
    """A command for another bot, or no command at all, gives None: the bot stays quiet."""
    assert command_args.parse_command(text, BOT) is None


@pytest.mark.parametrize(
    ("args", "style", "ref"),
    [
        ("", None, ""),
        ("42", None, "42"),
        ("MLA #42", "mla", "#42"),
        ("apa7 covid  vaccine", "apa", "covid vaccine"),
        ("csl-json", "csl-json", ""),
        ("bibtex\thttps://example.org/a", "bibtex", "https://example.org/a"),
        ("apart from words", None, "apart from words"),
    ],
)
def test_cite_arguments_a_style_word_then_the_reference(
    args: str, style: str | None, ref: str
) -> None:
    """A first word naming a style (any case, or an alias) is the style; the rest is the ref."""
    assert command_args.parse_cite(args) == command_args.CiteRequest(style, ref)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", LatestRequest(5, None, capped=False)),
        ("10", LatestRequest(10, None, capped=False)),
        ("NIDA 3", LatestRequest(3, "nida", capped=False)),
        ("3 nih", LatestRequest(3, "nih", capped=False)),
        ("500", LatestRequest(20, None, capped=True)),
    ],
)
def test_latest_arguments(args: str, expected: LatestRequest) -> None:
    """/latest takes a count (default 5, at most 20) and a feed, in either order."""
    assert command_args.parse_latest(args, ["nida", "nih"]) == expected


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("0", "Ask for 1 to 20 releases"),
        ("-3", "Ask for 1 to 20 releases"),
        ("nasa", "No feed called “nasa” here. Feeds here: nida, nih."),
        ("3 4", "Use /latest [n] [feed]"),
        ("nida nih", "Use /latest [n] [feed]"),
        ("99999999999", "Use /latest [n] [feed]"),
    ],
)
def test_bad_latest_arguments_say_what_is_wrong(args: str, problem: str) -> None:
    """Each mistake gets a plain explanation instead of a guess."""
    with pytest.raises(CommandArgumentError) as caught:
        command_args.parse_latest(args, ["nida", "nih"])
    assert caught.value.message.startswith(problem)


def test_arguments_over_256_characters_are_refused() -> None:
    """256 characters pass; 257 get the polite refusal."""
    command_args.check_length("é" * 256)
    with pytest.raises(CommandArgumentError, match="too long"):
        command_args.parse_search("é" * 257)


def test_release_references_and_deep_link_payloads() -> None:
    """`42`, `#42` and `cite_42` are release 42; anything else is not an id."""
    assert command_args.release_id_ref(" #42 ") == 42
    assert command_args.release_id_ref("42 43") is None
    assert command_args.start_payload_release("cite_42") == 42
    assert command_args.start_payload_release("cite_") is None
    assert command_args.start_payload_release("hello") is None


def test_callback_data_round_trips_within_64_bytes() -> None:
    """The largest id with the longest style name fits Telegram's 64 bytes and parses back."""
    data = command_args.cite_callback_data(10**18 - 1, "chicago-author-date")
    assert len(data.encode()) <= 64
    assert command_args.parse_cite_callback(data) == (10**18 - 1, "chicago-author-date")
    assert command_args.parse_cite_callback("cite:1:harvard") is None
    assert command_args.parse_cite_callback("vote:yes") is None


# --- rendering ------------------------------------------------------------------------------


def test_citation_reply_has_header_citation_and_a_ticked_style_keyboard() -> None:
    """The style's name heads the citation; all ten styles are buttons, the current one ticked."""
    reply = replies.citation_reply(stored(7), NIDA, "mla", accessed=ACCESSED)
    text = shown(reply)
    assert text.startswith("#7 · MLA 9\n\n“Release Number 7 about Addiction Research.”")
    buttons = [b for row in reply.keyboard for b in row]
    assert sorted(b.callback_data.rsplit(":", 1)[1] for b in buttons) == sorted(STYLES)
    assert [b.text for b in buttons if b.text.startswith("✓")] == ["✓ MLA 9"]


def test_machine_citations_are_preformatted() -> None:
    """BibTeX goes in a <pre> block, so Telegram shows it monospaced and copyable."""
    reply = replies.citation_reply(stored(7), NIDA, "bibtex", accessed=ACCESSED)
    parsed = validate_message_text(reply.text, parse_mode="HTML")
    assert [e.type for e in parsed.entities] == ["bold", "pre"]


def test_a_citation_of_an_enormous_title_is_cut_and_says_so() -> None:
    """A 10,000-character title still gives a sendable citation, marked as shortened."""
    reply = replies.citation_reply(stored(7, title="word " * 2000), NIDA, "apa", accessed=ACCESSED)
    assert shown(reply).endswith("(shortened: the title is very long)")


def test_latest_lists_id_date_source_and_linked_title() -> None:
    """Each release shows `#id · date · source` over its title, linked to the release."""
    reply = replies.latest_reply(
        [stored(2), stored(1)], LatestRequest(5, None, capped=False), {"nida": "NIDA"}
    )
    parsed = validate_message_text(reply.text, parse_mode="HTML")
    assert parsed.text.splitlines()[:5] == [
        "Latest releases",
        "",
        "#2 · 3 April 2014 · NIDA",
        "Release number 2 about addiction research",
        "",
    ]
    links = [e.url for e in parsed.entities if e.type == "text_link"]
    assert links == ["https://example.org/releases/2", "https://example.org/releases/1"]


def test_twenty_huge_releases_fit_one_message() -> None:
    """Long titles and 2,000-character URLs: as many as fit, then how many were left out."""
    many = [
        stored(n, title="T" * 1000 + " <&>", url="https://example.org/" + "p" * 2000)
        for n in range(1, 21)
    ]
    reply = replies.latest_reply(many, LatestRequest(20, None, capped=False), {})
    assert "more that do not fit in one message" in shown(reply)
    assert len(reply.text.encode()) <= 32768


def test_empty_results_are_said_plainly() -> None:
    """No releases, and no search match, each get a sentence rather than an empty message."""
    latest = replies.latest_reply([], LatestRequest(5, "nih", capped=False), {})
    assert shown(latest).startswith("No releases from nih stored yet.")
    search = replies.search_reply("<b>zeppelin</b> & co", [], {})
    assert shown(search) == "No release matches “<b>zeppelin</b> & co”. Try fewer or other words."


def test_feeds_reply_shows_health_only_when_given() -> None:
    """Readers see feeds and channels; admins also see last success, errors and paused routes."""
    feeds = [FeedLine("nida", "NIDA", ("news (@nida_news)",))]
    reader = shown(replies.feeds_reply(feeds, None, here=False))
    assert reader == "Feeds\n\n• nida — NIDA\n   → news (@nida_news)"
    health = FeedHealth(NOW, "HTTP 503", 3, ("news: bot was kicked",))
    admin = shown(replies.feeds_reply(feeds, {"nida": health}, here=False))
    assert "last success: 2024-05-01 12:00 UTC" in admin
    assert "failing (transient, 3 in a row): HTTP 503" in admin
    assert "paused: news: bot was kicked" in admin


def test_help_has_a_line_and_an_example_per_command() -> None:
    """/help lists every command with an example and the group form."""
    text = shown(replies.help_reply(BOT))
    for command in command_args.COMMANDS:
        assert any(
            line.startswith(f"/{command}") and "Example" in line for line in text.split("\n")
        )
    assert f"/latest@{BOT}" in text


def test_welcome_with_a_thousand_feeds_still_fits() -> None:
    """The feed list gives way before the 4096 limit does."""
    feeds = [FeedLine(f"feed{n}", "An agency with a long name " * 5, ()) for n in range(1000)]
    text = shown(replies.welcome_reply(feeds, BOT))
    assert "more feeds." in text
    assert text.endswith(f"/latest@{BOT}.")


# --- any input ------------------------------------------------------------------------------

hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400
) | st.sampled_from(["<b>", "&amp;", '"', "<", "&", "COVID-19", "NIH's", "\x00", "#1"])


@given(args=hostile_text)
def test_any_arguments_to_the_parsers_give_a_valid_reply_or_a_valid_problem(args: str) -> None:
    """Whatever follows a command, parsing it yields a request or a sendable explanation."""
    for parse in (
        command_args.parse_cite,
        command_args.parse_search,
        lambda a: command_args.parse_latest(a, ["nida", "nih"]),
    ):
        try:
            parse(args)
        except CommandArgumentError as exc:
            shown(replies.argument_problem_reply(exc))
    shown(replies.unknown_command_reply(args))
    shown(replies.not_found_reply(args))
    shown(replies.search_reply(args, [], {}))


@given(title=hostile_text, url=hostile_text, source=hostile_text, style=st.sampled_from(STYLES))
def test_any_stored_strings_give_valid_replies(
    title: str, url: str, source: str, style: str
) -> None:
    """Titles, URLs and names from feeds cannot break the HTML or the limits."""
    item = stored(3, title=title, url=url, link=url, author=source, feed_title=source)
    shown(
        replies.latest_reply([item] * 20, LatestRequest(20, None, capped=False), {"nida": source})
    )
    shown(replies.search_reply(title, [item] * 5, {"nida": source}))
    shown(replies.citation_reply(item, Publisher(source, source), style, accessed=ACCESSED))
    feeds = [FeedLine(source or "x", title, (url,))] * 30
    shown(
        replies.feeds_reply(feeds, {source or "x": FeedHealth(None, title, 1, (url,))}, here=True)
    )
    shown(replies.welcome_reply(feeds, BOT))


# --- any command, through the real store ----------------------------------------------------


@pytest.fixture(scope="module")
def answers() -> Iterator[Answers]:
    """Answers over an in-memory store holding a few releases of two feeds."""
    config = settings_from_dict(
        {
            "bot": {"admins": [9]},
            "feeds": [
                {"name": "nida", "url": "https://example.org/nida", "publisher": NIDA.name},
                {"name": "nih", "url": "https://example.org/nih", "short_name": "NIH"},
            ],
            "channels": [{"name": "news", "chat": "@press_news", "feeds": ["nida"]}],
        },
        base_dir=Path("."),
    )
    store = Store.open(":memory:")
    sync_config(store, config, NOW)
    titles = ["COVID-19 vaccine trial", "NIH's budget", 'A "quoted" <title> & more']
    store.ingest(
        "nida", [make_release(n, title=t) for n, t in enumerate(titles, 1)], now=NOW, flood_limit=9
    )
    store.ingest(
        "nih",
        [
            replace(make_release(n, feed="nih"), key=f"nih-{n}", url=f"https://nih.example.org/{n}")
            for n in (1, 2)
        ],
        now=NOW,
        flood_limit=9,
    )
    yield Answers(config, store, lambda: NOW, BOT)
    store.close()


CHATS = [
    ChatRef(9, "private", "", 9),  # an admin
    ChatRef(5, "private", "ada", 5),
    ChatRef(-1001, "channel", "press_news", None),
    ChatRef(-4001, "group", "", 5),
]


@settings(max_examples=150)
@given(
    name=st.sampled_from([*command_args.COMMANDS, "frobnicate"]),
    args=hostile_text,
    chat=st.sampled_from(CHATS),
)
def test_any_command_with_any_arguments_gets_a_sendable_reply(
    answers: Answers, name: str, args: str, chat: ChatRef
) -> None:
    """Every command, any argument string, any kind of chat: the reply is one Telegram accepts."""
    reply = answers.answer(command_args.Command(name, args.strip(), addressed=True), chat)
    assert reply is not None
    shown(reply)


def test_channel_scope_and_the_cite_keyboard_through_the_store(answers: Answers) -> None:
    """The channel sees only its feed; a style button there edits to that style."""
    channel = CHATS[2]
    assert " · NIH\n" not in shown(
        answers.answer(command_args.Command("latest", "", True), channel) or Reply("")
    )
    reply, notice = answers.restyle("cite:1:chicago-note", channel)
    assert reply is not None
    assert shown(reply).startswith("#1 · Chicago 17 (note)")
    assert notice == "Chicago 17 (note)"
    assert answers.restyle("cite:4:apa", channel) == (
        None,
        "That release is no longer available here.",
    )
