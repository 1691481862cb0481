"""The readers' side of issue 14: `/cite study [style] [ref]`, the post's "Cite the study"
deep link (`/start study_<id>`), the study's style buttons, the study mark in /latest and
/search, and `/search doi:…`. Through `Answers` over a real store, and through the real PTB
Application against the strict fake Bot API for the keyboard and the deep link.

The seed's study is built from the loopback fakes' records (Crossref's CSL-JSON and PubMed's
esummary, normalised by bot.feeds.study_meta) and recorded with `record_study_found`, as the
lookup job would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram.ext import ApplicationBuilder

from bot.config import Settings, settings_from_dict
from bot.feeds.study_meta import merge_study, parse_esummary, study_from_csl
from bot.models import Release, Study, StudyRef
from bot.render import command_args
from bot.render.cite import STYLE_LABELS, STYLES, render_study_citation
from bot.render.cite_study import STUDY_MARK
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import sync_config
from bot.store import Store
from bot.telegram.application import ALLOWED_UPDATES
from bot.telegram.commands import ReaderCommands
from bot.telegram.sender import DEFAULTS, use_timedelta_periods
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.study_services import SEED_DOI, SEED_PMID, seed_csl, seed_pubmed
from tests.fakes.telegram_html import validate_message_text
from tests.test_cite_study import GOLDEN, marked_to_html
from tests.test_replies import shown

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BOT = "releasebot_test_bot"
ADA = 5
PRIVATE = ChatRef(ADA, "private", "ada", ADA)
CHANNEL = ChatRef(-1001, "channel", "nida_news", None)
T = TypeVar("T")

PMID = StudyRef("pmid", SEED_PMID)
DOI = StudyRef("doi", SEED_DOI)
WAITING = StudyRef("doi", "10.1000/waiting.2014")
UNKNOWN = StudyRef("doi", "10.1000/unregistered")
BROKEN = StudyRef("pmid", "11111111")
BUSY = StudyRef("doi", "10.1000/busy")


def seed_study() -> Study:
    """The seed's study as the lookup job stores it: Crossref's record, enriched by PubMed."""
    body = json.dumps({"result": {"uids": [SEED_PMID], SEED_PMID: seed_pubmed()}}).encode()
    return merge_study(study_from_csl(seed_csl()), parse_esummary(body, SEED_PMID))


SEED = seed_study()

# #1 the seed (its PubMed link found first, then its DOI), found; #2 a study being looked up;
# #3 no study named; #4 not registered; #5 an unusable answer; #6 a service that asked to
# wait an hour; #7 the seed again (its DOI only), the newest release of the feed.
RELEASES = {
    1: (PMID, DOI),
    2: (WAITING,),
    3: (),
    4: (UNKNOWN,),
    5: (BROKEN,),
    6: (BUSY,),
    7: (DOI,),
}


def _settings(*, enabled: bool = True) -> Settings:
    return settings_from_dict(
        {
            "feeds": [
                {"name": "nida", "url": "https://example.org/nida", "publisher": "NIDA"},
                {"name": "nih", "url": "https://example.org/nih", "publisher": "NIH"},
            ],
            "channels": [
                {
                    "name": "nida-news",
                    "chat": "@nida_news",
                    "feeds": ["nida"],
                    "citation_style": "mla",
                }
            ],
            "study": {"enabled": enabled},
        },
        base_dir=Path("."),
    )


def _release(n: int) -> Release:
    return make_release(n, title=f"Release {n} about baclofen and cues", studies=RELEASES[n])


def _fill(store: Store, settings: Settings) -> None:
    sync_config(store, settings, NOW)
    for n in sorted(RELEASES):
        store.ingest("nida", [_release(n)], now=NOW, flood_limit=None)
    older = make_release(0, feed="nih", title="An NIH release about the same study")
    store.ingest("nih", [replace(older, studies=(DOI,))], now=NOW, flood_limit=None)
    store.record_study_found(DOI, SEED, NOW, edit_since=None)
    store.record_study_miss(UNKNOWN, state="not_registered", error="HTTP 404", now=NOW,
                            retry_at=NOW + timedelta(days=1))  # fmt: skip
    store.record_study_miss(BROKEN, state="failed", error="the answer is not JSON", now=NOW,
                            retry_at=None)  # fmt: skip
    store.record_study_miss(BUSY, state="pending", error="HTTP 429", now=NOW,
                            retry_at=NOW + timedelta(hours=1))  # fmt: skip


@pytest.fixture(scope="module")
def answers() -> Iterator[Answers]:
    settings = _settings()
    store = Store.open(":memory:")
    _fill(store, settings)
    yield Answers(settings, store, lambda: NOW, BOT)
    store.close()


def reply_of(answers: Answers, name: str, args: str = "", chat: ChatRef = PRIVATE) -> Any:
    reply = answers.answer(command_args.Command(name, args, addressed=False), chat)
    assert reply is not None
    shown(reply)  # Telegram would take it
    return reply


def ask(answers: Answers, name: str, args: str = "", chat: ChatRef = PRIVATE) -> str:
    return shown(reply_of(answers, name, args, chat))


def header(release_id: int, style: str) -> str:
    return f"{STUDY_MARK} Study of #{release_id} · {STYLE_LABELS[style]}\n\n"


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("study", (None, "", True)),
        ("Study 42", (None, "42", True)),
        ("study apa #42", ("apa", "#42", True)),
        ("mla study 42", ("mla", "42", True)),
        ("study 42 bibtex", ("bibtex", "42", True)),
        ("study doi:10.1523/x", (None, "doi:10.1523/x", True)),
        ("studying baclofen", (None, "studying baclofen", False)),
        ("mla 42", ("mla", "42", False)),
    ],
)
def test_cite_study_arguments(args: str, expected: tuple[str | None, str, bool]) -> None:
    """ "study" first (or after a style) asks for the study; style and ref as /cite reads them."""
    request = command_args.parse_cite(args)
    assert (request.style, request.ref, request.study) == expected


def test_a_trailing_study_word_is_explained() -> None:
    """`/cite 42 study` says to put "study" first instead of searching for "42 study"."""
    with pytest.raises(command_args.CommandArgumentError, match="Put “study” first"):
        command_args.parse_cite("42 study")


@pytest.mark.parametrize(
    "typed",
    [
        "doi:10.1523/JNEUROSCI.4977-13.2014",
        "DOI:10.1523/jneurosci.4977-13.2014",
        "Doi: 10.1523/JNEUROSCI.4977-13.2014",
        "https://doi.org/10.1523/JNEUROSCI.4977-13.2014",
        "http://dx.doi.org/10.1523%2FJNEUROSCI.4977-13.2014",
        "10.1523/JNEUROSCI.4977-13.2014.",
        "(doi:10.1523/JNEUROSCI.4977-13.2014)",
    ],
)
def test_a_search_for_a_doi_is_read_as_one(typed: str) -> None:
    """A DOI pasted any usual way (prefix in any case, doi.org link, sentence punctuation)."""
    found = command_args.search_doi(command_args.parse_search(typed))
    assert found is not None
    assert found.lower() == SEED_DOI.lower()


@pytest.mark.parametrize("words", ["vaccine", "10.5 thousand", "301-443-6245", "doi", "10.1/x"])
def test_words_are_no_doi(words: str) -> None:
    """Words, numbers and phone numbers stay a text search."""
    assert command_args.search_doi(words) is None


@given(st.integers(min_value=0, max_value=10**18 - 1), st.sampled_from(STYLES))
def test_study_buttons_round_trip_and_stay_apart_from_release_buttons(
    release_id: int, style: str
) -> None:
    """A study's button data fits 64 bytes, parses back, and is never read as a release's
    (nor a release's as a study's); both start with "cite:" (the admin handler skips those)."""
    data = command_args.study_callback_data(release_id, style)
    assert len(data.encode()) <= 64
    assert data.startswith("cite:")
    assert command_args.parse_study_callback(data) == (release_id, style)
    assert command_args.parse_cite_callback(data) is None
    release_data = command_args.cite_callback_data(release_id, style)
    assert command_args.parse_study_callback(release_data) is None


def test_the_study_deep_link_payload() -> None:
    """`study_42` is release 42's study; `cite_42` is not a study link."""
    assert command_args.start_payload_study("study_42") == 42
    assert command_args.start_payload_study("cite_42") is None
    assert command_args.start_payload_study("study_") is None


# --- /cite study ----------------------------------------------------------------------------


@pytest.mark.parametrize("style", list(GOLDEN))
def test_cite_study_gives_the_golden_strings(answers: Answers, style: str) -> None:
    """`/cite study <style> 1` is design/citations.md's text for the seed's study, italics
    as HTML, under a header naming the study and the style."""
    reply = reply_of(answers, "cite", f"study {style} 1")
    assert shown(reply) == header(1, style) + GOLDEN[style].replace("*", "")
    assert reply.text.endswith(marked_to_html(GOLDEN[style]))


@pytest.mark.parametrize("style", STYLES)
def test_cite_study_in_every_style_with_a_study_keyboard(answers: Answers, style: str) -> None:
    """Every style gives the study's citation and ten buttons that restyle the study."""
    reply = reply_of(answers, "cite", f"study {style} 1")
    expected = render_study_citation(SEED, style, key="young2014nipping")
    assert shown(reply) == header(1, style) + expected
    data = [button.callback_data for row in reply.keyboard for button in row]
    assert data == [f"cite:study:1:{s}" for row in _rows() for s in row]
    ticked = [b.text for row in reply.keyboard for b in row if b.text.startswith("✓ ")]
    assert len(ticked) == 1


def _rows() -> list[list[str]]:
    from bot.render.cite import STYLE_ROWS

    return [list(row) for row in STYLE_ROWS]


def test_the_bibtex_key_of_the_study(answers: Answers) -> None:
    """BibTeX names the study by its own key, not the press release's."""
    assert ask(answers, "cite", "study bibtex 1").startswith(
        header(1, "bibtex") + "@article{young2014nipping,"
    )


def test_cite_study_uses_the_chats_style(answers: Answers) -> None:
    """In a channel citing in MLA, `/cite study 1` is MLA; in a private chat, the default APA."""
    assert ask(answers, "cite", "study 1", CHANNEL).startswith(header(1, "mla"))
    assert ask(answers, "cite", "study 1").startswith(header(1, "apa"))


def test_cite_study_by_words_url_and_doi(answers: Answers) -> None:
    """A ref is read as /cite reads it, and a DOI finds the release naming that study."""
    assert ask(answers, "cite", "study Release 1 about baclofen").startswith(header(1, "apa"))
    url = _release(1).url
    assert ask(answers, "cite", f"study {url}").startswith(header(1, "apa"))
    assert ask(answers, "cite", f"study https://doi.org/{SEED_DOI}").startswith(header(7, "apa"))


def test_a_doi_no_release_names_cites_nothing(answers: Answers) -> None:
    """`/cite study doi:…` for a DOI no release here names is "no release", not a text hit."""
    assert ask(answers, "cite", "study doi:10.1000/baclofen") == (
        "No release here matches “doi:10.1000/baclofen”. Try /search with other words."
    )


def test_a_study_too_long_for_one_message_is_cut_and_says_so(answers: Answers) -> None:
    """Two thousand authors in CSL-JSON: one valid message, cut, saying where the whole is."""
    from bot.models import StudyAuthor
    from bot.render import replies

    many = tuple(StudyAuthor(f"Author{n}", "A. B.") for n in range(2000))
    for style in ("csl-json", "bibtex", "ris", "apa6"):
        reply = replies.study_citation_reply(1, replace(SEED, authors=many), style)
        text = shown(reply)
        assert text.startswith(header(1, style))
        if style != "apa6":  # APA 6 lists seven names whatever the count: it fits
            assert text.endswith(
                "(shortened: the study is very long; releasebot cite prints it whole)"
            )


def test_cite_study_without_a_ref_is_the_newest_release_with_a_study(answers: Answers) -> None:
    """`/cite study` alone cites the study of the newest release here that has one."""
    assert ask(answers, "cite", "study").startswith(header(7, "apa"))
    assert ask(answers, "cite", "study mla").startswith(header(7, "mla"))


def ask_one_waiting_release(settings: Settings, argument: str) -> str:
    """The answer to `/cite <argument>` in a fresh store whose one release names WAITING."""
    store = Store.open(":memory:")
    try:
        sync_config(store, settings, NOW)
        store.ingest("nida", [make_release(1, studies=(WAITING,))], now=NOW, flood_limit=None)
        return ask(Answers(settings, store, lambda: NOW, BOT), "cite", argument)
    finally:
        store.close()


def test_no_recent_study_is_said_plainly() -> None:
    """A chat whose releases name no known study is told so, with the way to ask why."""
    text = ask_one_waiting_release(_settings(), "study")
    assert text == (
        "The newest release here has no study I know of yet. Ask for one release's study,"
        " for example /cite study 1, to see why."
    )


def test_a_study_being_looked_up_says_so(answers: Answers) -> None:
    """An identifier not answered yet: the reader is told to come back in a minute."""
    assert ask(answers, "cite", "study 2") == (
        "Looking up the study of #2 (doi:10.1000/waiting.2014); try again in a minute."
    )


def test_a_service_that_asked_to_wait_gives_the_time(answers: Answers) -> None:
    """A look-up held back for an hour names the hour, not "a minute"."""
    assert ask(answers, "cite", "study 6") == (
        "The study of #6 (doi:10.1000/busy) is not looked up yet: the study service is busy,"
        " and I will ask it again after 2024-05-01 13:00 UTC. Try again then."
    )


def test_a_release_naming_no_study_says_so(answers: Answers) -> None:
    """No identifier at all: "#3 does not name a study", and how to cite the release."""
    assert ask(answers, "cite", "study 3") == (
        "#3 does not name a study: I found no DOI, PubMed or PubMed Central id in it."
        " /cite 3 cites the release itself."
    )


def test_unregistered_and_failed_lookups_say_what_the_services_said(answers: Answers) -> None:
    """A 404 is "not registered", with when it is asked again; an unusable answer says why."""
    assert ask(answers, "cite", "study 4") == (
        "I could not get the study of #4:\n"
        "• doi:10.1000/unregistered is not registered with the DOI resolver\n"
        "I will ask again after 2024-05-02 12:00 UTC."
    )
    assert ask(answers, "cite", "study 5") == (
        "I could not get the study of #5:\n"
        "• PMID 11111111: the answer could not be used (the answer is not JSON)"
    )


def test_the_identifiers_are_linked(answers: Answers) -> None:
    """The identifier in a "looking up" answer links to doi.org / PubMed."""
    assert (
        '<a href="https://doi.org/10.1000/waiting.2014">'
        in reply_of(answers, "cite", "study 2").text
    )
    assert (
        '<a href="https://pubmed.ncbi.nlm.nih.gov/11111111/">'
        in reply_of(answers, "cite", "study 5").text
    )


def test_lookups_turned_off_are_named() -> None:
    """With `[study] enabled = false`, a release's identifiers are not looked up: said so."""
    text = ask_one_waiting_release(_settings(enabled=False), "study 1")
    assert text == (
        "#1 names doi:10.1000/waiting.2014, but this bot does not look studies up,"
        " so I cannot cite it."
    )


def test_a_release_outside_the_chat_is_not_cited(answers: Answers) -> None:
    """The channel gets nida only: nih's #8 is "no release" there, as /cite says."""
    assert ask(answers, "cite", "study 8", CHANNEL) == (
        "There is no release #8 here. /latest shows the ids."
    )


# --- the deep link and the buttons ----------------------------------------------------------


def test_the_study_deep_link_opens_the_study_citation(answers: Answers) -> None:
    """`/start study_1` (the post's "Cite the study" button) is `/cite study 1`."""
    assert ask(answers, "start", "study_1") == ask(answers, "cite", "study 1")
    assert ask(answers, "start", "study_3").startswith("#3 does not name a study")
    assert (
        ask(answers, "start", "study_999")
        == "There is no release #999 here. /latest shows the ids."
    )


def test_a_study_button_restyles_the_study_and_a_release_button_the_release(
    answers: Answers,
) -> None:
    """`cite:study:1:ris` edits to the study in RIS; the old `cite:1:ris` still the release."""
    study, notice = answers.restyle("cite:study:1:ris", PRIVATE)
    assert study is not None
    assert notice == "RIS"
    assert shown(study).startswith(header(1, "ris") + "TY  - JOUR")
    release, notice = answers.restyle("cite:1:ris", PRIVATE)
    assert release is not None
    assert notice == "RIS"
    assert shown(release).startswith("#1 · RIS\n\nTY  - ")
    assert "JOUR" not in shown(release).split("\n")[2]


# --- /latest and /search --------------------------------------------------------------------


def test_latest_marks_the_releases_with_a_study(answers: Answers) -> None:
    """Only #1 and #7 (studies found) carry the mark; the tail says what it means."""
    text = ask(answers, "latest", "10 nida")
    marked = [line for line in text.split("\n") if line.startswith(STUDY_MARK)]
    assert marked == [f"{STUDY_MARK} Release 7 about baclofen and cues",
                      f"{STUDY_MARK} Release 1 about baclofen and cues"]  # fmt: skip
    assert text.endswith(f"Cite one with /cite 7; {STUDY_MARK} has a study: /cite study 7")


def test_search_marks_the_releases_with_a_study(answers: Answers) -> None:
    """A text search marks the matches that have a study."""
    text = ask(answers, "search", "Release 1 about baclofen")
    assert f"{STUDY_MARK} Release 1 about baclofen and cues" in text


@pytest.mark.parametrize(
    "typed",
    [f"doi:{SEED_DOI}", f"DOI:{SEED_DOI.lower()}", f"https://doi.org/{SEED_DOI}"],
)
def test_search_by_doi_finds_the_releases_naming_the_study(answers: Answers, typed: str) -> None:
    """`/search doi:…` lists the releases that point to that study, newest first, in the
    chat's feeds (nih's release is not listed in the nida channel)."""
    text = ask(answers, "search", typed)
    assert text.startswith(f"Releases naming doi:{SEED_DOI}\n\n#7 · ")
    assert "#1 · " in text
    assert "#8 · " in text
    channel = ask(answers, "search", typed, CHANNEL)
    assert "#7 · " in channel
    assert "#8 · " not in channel
    assert text.endswith("Cite the study with /cite study 7")


def test_search_by_doi_names_the_pubmed_resolved_release(answers: Answers) -> None:
    """#1 named the study by PMID first: the DOI its lookup found still finds it."""
    text = ask(answers, "search", f"doi:{SEED_DOI}", CHANNEL)
    assert [line.split(" · ")[0] for line in text.split("\n") if line.startswith("#")] == [
        "#7",
        "#1",
    ]
    everywhere = ask(answers, "search", f"doi:{SEED_DOI}")
    assert [line.split(" · ")[0] for line in everywhere.split("\n") if line.startswith("#")] == [
        "#7",
        "#1",
        "#8",
    ]


def test_search_for_a_doi_no_release_names(answers: Answers) -> None:
    """A DOI no release here names says so (and links the DOI)."""
    assert ask(answers, "search", "doi:10.9999/nothing") == (
        "No release here names the study doi:10.9999/nothing."
        " /search with words looks through the releases' text."
    )


def test_help_mentions_cite_study(answers: Answers) -> None:
    """/help has a line for /cite study with an example, and says /search takes a DOI."""
    lines = ask(answers, "help").split("\n")
    assert any(line.startswith("/cite study") and "Example: /cite study apa 42" in line
               for line in lines)  # fmt: skip
    assert any(line.startswith("/search words or a DOI") for line in lines)


@given(
    title=st.text(min_size=1, max_size=400),
    with_study=st.lists(st.booleans(), min_size=1, max_size=20),
)
def test_a_full_list_of_marked_releases_stays_within_telegrams_limits(
    title: str, with_study: list[bool]
) -> None:
    """Twenty releases with any title, marked or not: the list is still one valid message."""
    from bot.models import StoredRelease
    from bot.render import replies
    from bot.render.command_args import LatestRequest

    stored = [
        StoredRelease(n, make_release(n, title=title), NOW, study=SEED if marked else None)
        for n, marked in enumerate(with_study, 1)
    ]
    reply = replies.latest_reply(stored, LatestRequest(20, None, capped=False), {"nida": "NIDA"})
    text = validate_message_text(reply.text, parse_mode="HTML").text
    assert len(text) <= 4096
    assert text.count(STUDY_MARK) >= min(1, sum(with_study))


# --- through PTB and the strict fake Bot API --------------------------------------------------


async def eventually(check: Callable[[], T | None], what: str, within: float = 10) -> T:
    """Wait (on the event loop, so the Application runs) until `check()` is truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def reader_bot(api: FakeBotAPI, answers: Answers) -> AsyncIterator[None]:
    """A PTB Application with the readers' handlers, polling the fake."""
    use_timedelta_periods()
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).defaults(DEFAULTS).build()
    readers = ReaderCommands(answers, pacer=None)
    app.add_handlers(readers.handlers())
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=1)
        try:
            yield
        finally:
            await app.updater.stop()
            await readers.stop()
            await app.stop()


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(username=BOT, time_scale=0.01) as fake:
        fake.add_chat(ADA, "private", title="Ada", username="ada")
        yield fake


async def test_the_study_keyboard_edits_the_study_citation_in_place(
    api: FakeBotAPI, answers: Answers
) -> None:
    """`/cite study 1`, then the BibTeX button: the message becomes the study's @article, its
    keyboard kept with BibTeX ticked; the press is answered."""
    async with reader_bot(api, answers):
        api.push_message(ADA, "/cite study 1", ADA)
        [reply] = await eventually(lambda: api.messages(ADA), "the reply")
        assert reply.text.startswith(header(1, "apa") + "Young, K. A., Franklin, T. R.")
        query = api.press(ADA, reply.message_id, "BibTeX", ADA)
        edited = await eventually(
            lambda: (m := api.message(ADA, reply.message_id)).history and m, "the edit"
        )
        await eventually(
            lambda: query in {a.callback_query_id for a in api.callback_answers}, "the answer"
        )
    assert edited.text.startswith(header(1, "bibtex") + "@article{young2014nipping,")
    assert "✓ BibTeX" in [b["text"] for b in edited.buttons]
    assert all(b["callback_data"].startswith("cite:study:1:") for b in edited.buttons)
    assert [a.text for a in api.callback_answers if a.callback_query_id == query] == ["BibTeX"]


async def test_the_cite_the_study_deep_link_opens_the_study(
    api: FakeBotAPI, answers: Answers
) -> None:
    """The post's "Cite the study" link (`?start=study_7`) opens a private chat whose /start
    answers with the study's citation and its keyboard."""
    async with reader_bot(api, answers):
        api.push_message(ADA, "/start study_7", ADA)
        [reply] = await eventually(lambda: api.messages(ADA), "the reply")
    assert reply.text == header(7, "apa") + GOLDEN["apa"].replace("*", "")
    assert len(reply.buttons) == len(STYLES)
    assert all(b["callback_data"].startswith("cite:study:7:") for b in reply.buttons)


async def test_an_old_release_button_still_restyles_the_release(
    api: FakeBotAPI, answers: Answers
) -> None:
    """A release citation's buttons (`cite:<id>:<style>`) work as before."""
    async with reader_bot(api, answers):
        api.push_message(ADA, "/cite 1", ADA)
        [reply] = await eventually(lambda: api.messages(ADA), "the reply")
        api.press(ADA, reply.message_id, "MLA 9", ADA)
        edited = await eventually(
            lambda: (m := api.message(ADA, reply.message_id)).history and m, "the edit"
        )
    assert edited.text.startswith("#1 · MLA 9\n\n")
    assert all(b["callback_data"].startswith("cite:1:") for b in edited.buttons)
