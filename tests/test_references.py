"""References readers type (`/cite 0`, `#1 extra`, an http:// link, nothing at all) and
the help and welcome a deployment shows: through `Answers` over a real store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import settings_from_dict
from bot.models import Release
from bot.render import command_args
from bot.render.command_args import CommandArgumentError, Reference
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import sync_config
from bot.store import Store
from tests.factories import make_release
from tests.test_replies import shown

FIRST_POLL = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER_POLL = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
BOT = "releasebot_test_bot"
PRIVATE = ChatRef(5, "private", "ada", 5)
CDC_CHANNEL = ChatRef(-1001, "channel", "cdc_news", None)
UNROUTED_GROUP = ChatRef(-4001, "group", "", 5)
# Titles a text search for "0", "1" or "extra" would find: a number must not be searched.
TITLES = ["Week 0 influenza report", "One extra case: 1 more found", "New guidance on measles"]


def _cdc(n: int, title: str) -> Release:
    url = f"https://www.cdc.gov/media/releases/2024/{n}.html"
    return replace(make_release(n, feed="cdc", title=title), key=url, url=url, link=url)


@pytest.fixture(scope="module")
def answers() -> Iterator[Answers]:
    """A deployment of two feeds, `cdc` and `who`; a channel gets `cdc`. Three dated cdc
    releases (#1-#3), then an undated page found by a later poll (#4)."""
    config = settings_from_dict(
        {
            "feeds": [
                {"name": "cdc", "url": "https://example.org/cdc", "publisher": "CDC"},
                {"name": "who", "url": "https://example.org/who", "publisher": "WHO"},
            ],
            "channels": [{"name": "cdc-news", "chat": "@cdc_news", "feeds": ["cdc"]}],
        },
        base_dir=Path("."),
    )
    store = Store.open(":memory:")
    sync_config(store, config, FIRST_POLL)
    dated = [_cdc(n, title) for n, title in enumerate(TITLES, 1)]
    store.ingest("cdc", dated, now=FIRST_POLL, flood_limit=None)
    undated = replace(_cdc(4, "About our press office"), published=None)
    store.ingest("cdc", [undated], now=LATER_POLL, flood_limit=None)
    yield Answers(config, store, lambda: LATER_POLL, BOT)
    store.close()


def ask(answers: Answers, name: str, args: str = "", chat: ChatRef = PRIVATE) -> str:
    reply = answers.answer(command_args.Command(name, args, addressed=False), chat)
    assert reply is not None
    return shown(reply)


@pytest.mark.parametrize("ref", ["0", "#0", "00", "99", "#99999999999999999999999"])
def test_a_number_that_is_no_release_says_so(answers: Answers, ref: str) -> None:
    """A number is an id and only an id: one matching no release says so, never a search hit."""
    text = ask(answers, "cite", ref)
    number = ref.removeprefix("#")
    assert text == f"There is no release #{number} here. /latest shows the ids."


@given(number=st.integers(min_value=0, max_value=10**30), hashed=st.booleans())
def test_any_number_cites_that_release_or_none(answers: Answers, number: int, hashed: bool) -> None:
    """Whatever number is typed, the reply is that release's citation or "no release"."""
    text = ask(answers, "cite", f"{'#' if hashed else ''}{number}")
    assert text.startswith((f"#{number} · ", f"There is no release #{number} "))


def test_an_id_with_more_words_is_refused_not_searched(answers: Answers) -> None:
    """`/cite #1 extra` explains itself instead of citing the release that says "extra"."""
    for args in ("#1 extra", "mla #1 extra", "#1, extra"):
        text = ask(answers, "cite", args)
        assert "is a release id with more after it" in text
        assert "#2" not in text
        assert "One Extra" not in text


@pytest.mark.parametrize("args", ["1 extra", "1 harvard", "mla 1 extra", "3 vancouver"])
def test_an_id_then_a_word_that_is_no_style_is_refused_not_searched(
    answers: Answers, args: str
) -> None:
    """`/cite 1 extra` does not cite #2 ("One extra case: 1 more found"), and `/cite 1
    harvard` (a style we lack) cites no release: a typed id is never searched for."""
    text = ask(answers, "cite", args)
    assert not text.startswith("#"), text  # no release's citation
    assert "after the id is not a citation style" in text


def test_an_id_then_a_style_cites_that_id_in_that_style(answers: Answers) -> None:
    """`/cite 1 mla` is release #1 in MLA, as `/cite mla 1` is."""
    assert ask(answers, "cite", "1 mla") == ask(answers, "cite", "mla 1")
    assert ask(answers, "cite", "#1 mla").startswith("#1 · MLA 9")


def test_an_empty_reference_cites_the_newest_dated_release(answers: Answers) -> None:
    """`/cite` alone cites the newest dated release, not an undated page seen later."""
    assert ask(answers, "cite").startswith("#3 · ")


def test_the_http_form_of_a_stored_https_link_finds_it(answers: Answers) -> None:
    """A link typed with http:// (and tracking) finds the release stored as https://."""
    typed = "http://www.cdc.gov/media/releases/2024/2.html?utm_source=x"
    assert ask(answers, "cite", typed).startswith("#2 · ")


def test_help_examples_name_the_deployments_own_feeds(answers: Answers) -> None:
    """/help in a cdc/who deployment names cdc and who, never nida; a channel sees its own."""
    text = ask(answers, "help")
    assert "Example: /latest 10 cdc" in text
    assert "Feeds: cdc, who." in text
    assert "nida" not in text.lower()
    channel = ask(answers, "help", chat=CDC_CHANNEL)
    assert "Feeds: cdc." in channel
    assert "nida" not in ask(answers, "latest", "3 4").lower()


def test_a_chat_with_no_routed_feeds_gets_a_welcome_without_commands(answers: Answers) -> None:
    """A group no channel names is told so, and not invited to /latest, /cite or /search."""
    text = ask(answers, "start", chat=UNROUTED_GROUP)
    assert "No feeds are routed to this chat" in text
    assert f"@{BOT}" in text
    for command in ("/latest", "/cite", "/search"):
        assert command not in text
    assert "/latest" in ask(answers, "start", chat=CDC_CHANNEL)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", Reference("")),
        ("  #042 ", Reference("#042", 42)),
        ("0", Reference("0", 0)),
        ("9" * 40, Reference("9" * 40, command_args.NO_SUCH_ID)),
        ("2014 report on drug use", Reference("2014 report on drug use")),
        ("#hashtag words", Reference("#hashtag words")),
        ("#1st report", Reference("#1st report")),
    ],
)
def test_parse_reference(typed: str, expected: Reference) -> None:
    """Numbers are ids (a huge one matches nothing); words, even after a number, are words."""
    assert command_args.parse_reference(typed) == expected


def test_parse_reference_refuses_an_id_with_words_after_it() -> None:
    """`#7 extra` and `#7: extra` are refused with the reason."""
    for typed in ("#7 extra", "#7: extra"):
        with pytest.raises(CommandArgumentError, match="release id with more after it"):
            command_args.parse_reference(typed)
