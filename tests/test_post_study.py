"""The study line and the "Cite the study" button of a channel post (issue 14): rendered
purely, then sent and edited in by the real dispatcher through the real PTB client to the
strict fake Bot API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot

from bot.models import Publisher, Release, Study, StudyAuthor, StudyRef
from bot.render.changes import post_fingerprint
from bot.render.cite import STYLES
from bot.render.post import MAX_TEXT, Post, PostOptions, button_rows, render_post
from bot.telegram.sender import make_bot
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import validate_reply_markup
from tests.fakes.telegram_html import ParsedMessage, validate_message_text
from tests.fakes.virtual_time import VirtualClock
from tests.test_dispatcher import Harness

NIDA = Publisher(name="National Institute on Drug Abuse", short_name="NIDA")
ACCESSED = date(2024, 5, 1)
BOT = "releasebot_test_bot"
OPTIONS = PostOptions(citation_style="apa", summary_length=600, link_preview=True, bot_username=BOT)
DOI = "10.1523/JNEUROSCI.4977-13.2014"
SEED = Study(
    doi=DOI,
    pmid="24695721",
    pmcid="PMC3972727",
    title="Nipping Cue Reactivity in the Bud",
    authors=(
        StudyAuthor(family="Young", given="Kimberly A."),
        StudyAuthor(family="Franklin", given="Teresa R."),
        StudyAuthor(family="Roberts", given="David C. S."),
    ),
    journal="The Journal of Neuroscience",
    volume="34",
    issue="14",
    pages="5038-5043",
    issued=(2014, 4, 2),
)
LINE = f"Study: Young et al. (2014), The Journal of Neuroscience · doi:{DOI}"
CHANNEL = -1001


def post_of(release: Release, study: Study | None, options: PostOptions = OPTIONS) -> Post:
    return render_post(release, NIDA, release_id=7, options=options, accessed=ACCESSED, study=study)


def shown(post: Post) -> ParsedMessage:
    """What Telegram shows for the post (raises if the strict fake would refuse it)."""
    return validate_message_text(post.text, parse_mode="HTML")


def keyboard(post: Post) -> list[list[dict[str, str]]]:
    """The keyboard's rows as PTB sends them; the strict fake's button rules pass them."""
    rows = [[{"text": b.text, "url": b.url} for b in row] for row in button_rows(post.buttons)]
    validate_reply_markup(json.loads(json.dumps({"inline_keyboard": rows})))
    return rows


# --- the post, rendered ---------------------------------------------------------------------


def test_study_line_comes_under_the_summary_with_its_doi_linked() -> None:
    """Readers see 'Study: Young et al. (2014), The Journal of Neuroscience · doi:…' between
    the summary and the citation, the DOI a link to doi.org."""
    parsed = shown(post_of(make_release(2), SEED))
    blocks = parsed.text.split("\n\n")
    assert blocks[1] == "Summary of release 2."
    assert blocks[2] == LINE
    assert blocks[3].startswith("National Institute on Drug Abuse. (2014")
    [link] = [e for e in parsed.entities if e.type == "text_link"]
    assert link.url == f"https://doi.org/{DOI}"


def test_cite_the_study_button_deep_links_and_keeps_labels_whole_on_a_phone() -> None:
    """Three buttons: 'Read the release' alone on top, 'Cite' and 'Cite the study' below it,
    the study's a deep link to ?start=study_<id>."""
    rows = keyboard(post_of(make_release(2), SEED))
    assert [[b["text"] for b in row] for row in rows] == [
        ["Read the release"],
        ["Cite", "Cite the study"],
    ]
    assert rows[1][1]["url"] == f"https://t.me/{BOT}?start=study_7"


def test_the_link_preview_stays_on_the_release() -> None:
    """The study's DOI link comes first in the text, but the preview shows the release."""
    assert post_of(make_release(2), SEED).preview_url == make_release(2).url
    assert post_of(make_release(2), None).preview_url == ""  # the citation's link, as before
    quiet = replace(OPTIONS, link_preview=False)
    assert post_of(make_release(2), SEED, quiet).preview_url == ""


def test_without_the_bot_username_the_line_shows_but_no_cite_buttons() -> None:
    """The bot's username unknown: the study line still shows; no Cite button of either kind."""
    post = post_of(make_release(2), SEED, replace(OPTIONS, bot_username=""))
    assert LINE in shown(post).text
    assert [[b["text"] for b in row] for row in keyboard(post)] == [["Read the release"]]


def test_without_a_study_the_post_is_as_before() -> None:
    """No study: no line, the two buttons on one row as always."""
    post = post_of(make_release(2), None)
    assert "Study:" not in post.text
    assert post == render_post(
        make_release(2), NIDA, release_id=7, options=OPTIONS, accessed=ACCESSED
    )
    assert [[b["text"] for b in row] for row in keyboard(post)] == [["Read the release", "Cite"]]


def test_the_summary_gives_way_to_the_study_line() -> None:
    """A summary long enough to fill the message is cut; the study line and citation stay."""
    summary = "A sentence of the summary goes on. " * 200
    long = make_release(2, summary=summary)
    post = post_of(long, SEED, replace(OPTIONS, summary_length=5000))
    parsed = shown(post)
    assert len(parsed.text) <= MAX_TEXT
    assert LINE in parsed.text
    assert "National Institute on Drug Abuse. (2014" in parsed.text
    assert len(parsed.text.split("\n\n")[1]) < len(summary.strip())


def test_a_post_whose_study_appeared_counts_as_changed() -> None:
    """The same release with its study found since: a reader sees a change (so it is edited)."""
    before = post_fingerprint(post_of(make_release(2), None))
    assert post_fingerprint(post_of(make_release(2), SEED)) != before
    assert post_fingerprint(post_of(make_release(2), None)) == before


texts = st.text(max_size=120)
big_text = st.text(min_size=3000, max_size=6000, alphabet="ab <>&\"'\n😀")
study_authors = st.one_of(
    st.builds(StudyAuthor, family=texts, given=texts),
    st.builds(StudyAuthor, literal=texts | big_text),
)
studies = st.builds(
    Study,
    doi=st.one_of(st.just(""), st.just(DOI), texts),
    pmid=st.one_of(st.just(""), st.from_regex(r"[0-9]{1,9}", fullmatch=True), texts),
    pmcid=st.one_of(st.just(""), st.just("PMC3972727"), texts),
    title=texts | big_text,
    authors=st.lists(study_authors, max_size=25).map(tuple),
    journal=texts | big_text,
    issued=st.one_of(st.just(()), st.tuples(st.integers(-5, 12000))),
    url=st.one_of(st.just(""), st.just("https://example.org/a?b=1&c=2"), texts),
)
releases = st.builds(
    make_release,
    n=st.integers(1, 100),
    title=st.text(max_size=600),
    summary=big_text | st.text(max_size=400),
    author=st.text(max_size=200),
    feed_title=st.text(max_size=300),
)
options = st.builds(
    PostOptions,
    citation_style=st.sampled_from(("none", *STYLES)),
    summary_length=st.integers(0, 5000),
    link_preview=st.booleans(),
    bot_username=st.sampled_from(["", BOT]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(release=releases, study=studies, options=options, release_id=st.integers(1, 10**15))
def test_any_release_with_any_study_makes_a_post_telegram_accepts(
    release: Release, study: Study, options: PostOptions, release_id: int
) -> None:
    """Any release, any study, any style: valid Telegram HTML within 4096 showing one study
    line, and a keyboard Telegram accepts with the study's deep link when the bot is known."""
    post = render_post(
        release, NIDA, release_id=release_id, options=options, accessed=ACCESSED, study=study
    )
    parsed = shown(post)
    assert len(parsed.text) <= MAX_TEXT
    assert parsed.text.count("Study: ") >= 1
    buttons = [b for row in keyboard(post) for b in row]
    if options.bot_username:
        assert buttons[-1] == {
            "text": "Cite the study",
            "url": f"https://t.me/{BOT}?start=study_{release_id}",
        }
    else:
        assert all(b["text"] == "Read the release" for b in buttons)


# --- sent and edited by the dispatcher, to the fake Bot API ----------------------------------


@pytest.fixture
def api(virtual_bot_api: FakeBotAPI) -> FakeBotAPI:
    virtual_bot_api.add_chat(CHANNEL, "channel", title="A news")
    return virtual_bot_api


@pytest.fixture
async def bot(api: FakeBotAPI) -> Any:
    async with make_bot(api.token, base_url=api.base_url) as client:  # HTML, as the bot sends
        yield client


@pytest.fixture
def world(tmp_path: Path, bot: Bot, vclock: VirtualClock) -> Iterator[Harness]:
    """One channel taking the 'nida' feed; release 1 points to the seed's DOI."""
    h = Harness(tmp_path, bot, [{"name": "a-news", "chat": CHANNEL, "feeds": ["nida"]}], vclock)
    h.ingest("nida", [make_release(1, studies=(StudyRef("doi", DOI),))])
    yield h
    h.store.close()


WINDOW = timedelta(hours=24)  # [study] edit_window's default


def found(h: Harness) -> int:
    """The lookup found the seed's study now; returns the posts owed an edit."""
    now = h.clock()
    return h.store.record_study_found(StudyRef("doi", DOI), SEED, now, edit_since=now - WINDOW)


async def test_a_post_whose_study_is_known_when_due_shows_line_and_button(
    api: FakeBotAPI, world: Harness
) -> None:
    """Study found before the post is sent: the channel's message has the line and the
    'Cite the study' button, with no edit."""
    found(world)
    report = await world.dispatcher.drain()
    [message] = api.messages(CHANNEL)
    assert report.sent == 1
    assert LINE in message.text
    assert message.buttons[-1] == {
        "text": "Cite the study",
        "url": f"https://t.me/{api.username}?start=study_1",
    }
    assert message.reply_markup["inline_keyboard"][0] == [message.buttons[0]]
    assert message.link_preview_options == {"is_disabled": False, "url": make_release(1).url}
    assert api.requests_for("editMessageText") == []


async def test_a_post_sent_before_its_study_was_found_is_edited_to_add_it(
    api: FakeBotAPI, world: Harness
) -> None:
    """Sent without a study; found an hour later: the message is edited to show the line and
    the button, in place."""
    await world.dispatcher.drain()
    [before] = api.messages(CHANNEL)
    assert "Study:" not in before.text
    assert [b["text"] for b in before.buttons] == ["Read the release", "Cite"]
    world.clock.advance(3600)
    assert found(world) == 1
    report = await world.dispatcher.drain()
    assert report.edited == 1
    [edit] = api.requests_for("editMessageText")
    assert edit.status == 200
    [after] = api.messages(CHANNEL)
    assert after.message_id == before.message_id
    assert LINE in after.text
    assert [b["text"] for b in after.buttons] == ["Read the release", "Cite", "Cite the study"]


async def test_a_post_sent_before_the_edit_window_is_left_as_it_is(
    api: FakeBotAPI, world: Harness
) -> None:
    """Found 25 hours after the post went out (the window is 24): no edit."""
    await world.dispatcher.drain()
    world.clock.advance(25 * 3600)
    assert found(world) == 0
    report = await world.dispatcher.drain()
    assert report.edited == 0
    assert api.requests_for("editMessageText") == []
    assert "Study:" not in api.messages(CHANNEL)[0].text
