"""End to end, the seed release and its study (issue 14): one real `releasebot run` process
polls the NIDA fixture feed while the loopback doi.org and NCBI fakes do not know the study
yet (`later`). The posts go out without it; once the study is published (and the day the
bot waits before asking again about an unregistered identifier has passed) the seed's post
is edited to show its study line and a "Cite the study" button, the button's deep link opens
the study's citation in a private chat, every style's button restyles it to the golden
strings of design/citations.md, and /latest and /search mark and find the release.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pytest

from bot.render.cite import STYLE_BUTTONS, STYLE_LABELS, STYLES
from bot.render.cite_study import STUDY_MARK
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import DeliveredMessage
from tests.fakes.doi_resolver import DoiResolver
from tests.fakes.feed_server import FeedServer
from tests.fakes.ncbi import Ncbi
from tests.fakes.study_services import SEED_DOI, SEED_PMCID, SEED_PMID
from tests.study_golden import AUTHORS, DOI_URL, GOLDEN
from tests.test_run_e2e import CHANNEL_A, BotProcess, db_rows, one_channel_config
from tests.test_study_e2e import FEED, with_study_section

BOT = "nida_cites_bot"
READER = 7001  # a reader who follows the post's "Cite the study" link
SEARCHER = 7002  # a reader who asks /latest and /search in a private chat
EARLY = 7003  # a reader who asks for the study before it is published
SEED_TITLE = "Medication can help prevent relapse in cocaine-dependent males"
STUDY_LINE = f"Study: Young et al. (2014), The Journal of Neuroscience · doi:{SEED_DOI}"

# The design's "Young, Kimberly A. and Franklin, Teresa R. and … and Childress, Anna Rose".
BIBTEX_AUTHORS = " and ".join(f"{family}, {given}" for family, given in AUTHORS)
BIBTEX = (
    "@article{young2014nipping,\n"
    f"  author  = {{{BIBTEX_AUTHORS}}},\n"
    "  title   = {Nipping cue reactivity in the bud: {Baclofen} prevents limbic activation "
    "elicited by subliminal drug cues},\n"
    "  journal = {The Journal of Neuroscience},\n"
    "  year    = {2014},\n"
    "  volume  = {34},\n"
    "  number  = {14},\n"
    "  pages   = {5038--5043},\n"
    f"  doi     = {{{SEED_DOI}}}\n"
    "}"
)


def plain(marked: str) -> str:
    return marked.replace("*", "")


def as_html(marked: str) -> str:
    """The design's `*italic*` as the HTML the bot sends: <i>, and "&" escaped."""
    parts = [escape(part, quote=False) for part in marked.split("*")]
    return "".join(f"<i>{part}</i>" if i % 2 else part for i, part in enumerate(parts))


def header(release_id: int, style: str) -> str:
    return f"{STUDY_MARK} Study of #{release_id} · {STYLE_LABELS[style]}\n\n"


def check_biblatex(body: str) -> None:
    assert body.startswith("@article{young2014nipping,\n"), body
    assert "  journaltitle = {The Journal of Neuroscience},\n" in body, body
    assert "  date         = {2014-04-02},\n" in body, body
    assert f"  doi          = {{{SEED_DOI}}}" in body, body
    assert f"{{{BIBTEX_AUTHORS}}}" in body, body


def check_ris(body: str) -> None:
    lines = body.split("\n")
    assert lines[0] == "TY  - JOUR", body
    assert [line for line in lines if line.startswith("AU  - ")] == [
        f"AU  - {family}, {given}" for family, given in AUTHORS
    ], body
    for line in ("T2  - The Journal of Neuroscience", "VL  - 34", "IS  - 14", "SP  - 5038",
                 "EP  - 5043", f"DO  - {SEED_DOI}", "PY  - 2014"):  # fmt: skip
        assert line in lines, (line, body)
    assert lines[-1] == "ER  - ", body


def check_csl_json(body: str) -> None:
    [item] = json.loads(body)
    assert item["type"] == "article-journal"
    assert item["author"] == [{"family": family, "given": given} for family, given in AUTHORS]
    assert item["container-title"] == "The Journal of Neuroscience"
    assert (item["volume"], item["issue"], item["page"]) == ("34", "14", "5038-5043")
    assert (item["DOI"], item["PMID"], item["PMCID"]) == (SEED_DOI, SEED_PMID, SEED_PMCID)
    assert item["issued"] == {"date-parts": [[2014, 4, 2]]}


def check_bibtex(body: str) -> None:
    assert body == BIBTEX


MACHINE: dict[str, Callable[[str], None]] = {
    "bibtex": check_bibtex,
    "biblatex": check_biblatex,
    "ris": check_ris,
    "csl-json": check_csl_json,
}


# --- the running bot ---------------------------------------------------------------------


@dataclass
class SeedRun:
    """The bot running on the seed feed, its study published and the posts edited."""

    api: FakeBotAPI
    bot: BotProcess
    config: Path
    seed_id: int
    sent_first: DeliveredMessage  # the seed's post as it was first sent
    states_before: dict[str, str]  # the identifiers' lookup states before `publish`
    asked_early: str  # what `/cite study <seed>` answered before `publish`

    def wait_for(self, check: Callable[[], object], what: str, within: float = 30) -> None:
        self.bot.wait_for(lambda: bool(check()), what, within)

    def seed_post(self) -> DeliveredMessage:
        return self.api.message(CHANNEL_A, self.sent_first.message_id)


def lookup_states(config: Path) -> dict[str, str]:
    return {row["ref"]: row["state"] for row in db_rows(config, "SELECT * FROM studies")}


def a_day_passes_for_the_lookups(config: Path) -> None:
    """An identifier the services did not know is asked about again a day later
    (bot/services/studies.py); the running bot's clock is the real one, so its lookup
    cache is moved on a day instead: each `retry_at` becomes the moment it was asked."""
    conn = sqlite3.connect(config.parent / "bot.db", timeout=10)
    try:
        with conn:
            conn.execute("UPDATE studies SET retry_at = checked_at WHERE state = 'not_registered'")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedRun]:
    tmp = tmp_path_factory.mktemp("seed")
    with (
        FakeBotAPI(username=BOT, time_scale=0.01) as api,
        FeedServer() as feeds,
        DoiResolver() as resolver,
        Ncbi() as ncbi,
    ):
        api.add_chat(CHANNEL_A, "channel", title="A news")
        resolver.later(SEED_DOI)  # not registered yet when the releases come out
        ncbi.later(SEED_PMID)  # nor in PubMed
        url = feeds.serve("/nida.xml", FEED.read_bytes())
        config = with_study_section(one_channel_config(tmp, api, url), resolver, ncbi)
        bot = BotProcess(config, token=api.token)
        try:
            bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 3, "the three posts")
            refs = {f"pmid:{SEED_PMID}", f"doi:{SEED_DOI.lower()}"}
            bot.wait_for(
                lambda: lookup_states(config) == dict.fromkeys(refs, "not_registered"),
                "both identifiers asked about and not known",
            )
            states_before = lookup_states(config)
            [seed] = db_rows(config, "SELECT id FROM releases WHERE title = ?", (SEED_TITLE,))
            [sent_first] = [m for m in api.messages(CHANNEL_A) if SEED_TITLE in m.text]
            api.push_message(EARLY, f"/cite study {seed['id']}", EARLY, first_name="Early")
            bot.wait_for(lambda: bool(api.messages(EARLY)), "the answer before the study is known")
            asked_early = api.messages(EARLY)[0].text
            resolver.publish(SEED_DOI)
            ncbi.publish(SEED_PMID)
            a_day_passes_for_the_lookups(config)
            run = SeedRun(api, bot, config, seed["id"], sent_first, states_before, asked_early)
            run.wait_for(
                lambda: lookup_states(config) == dict.fromkeys(refs, "found"), "the study found"
            )
            run.wait_for(
                lambda: sum(STUDY_LINE in m.text for m in api.messages(CHANNEL_A)) == 2,
                "the two posts naming the study edited",
            )
            yield run
            assert bot.terminate() == 0
        finally:
            bot.kill()


# --- 1. the post --------------------------------------------------------------------------


def test_the_seed_post_goes_out_without_its_study_and_is_edited_to_show_it(
    seed_run: SeedRun,
) -> None:
    """The seed's post was sent while neither service knew the study, with no study line
    and no "Cite the study" button; once the study is published the same message is edited
    to show the study line, its DOI linked to doi.org, and a "Cite the study" deep link."""
    first = seed_run.sent_first
    assert seed_run.states_before == {
        f"pmid:{SEED_PMID}": "not_registered",
        f"doi:{SEED_DOI.lower()}": "not_registered",
    }
    assert seed_run.asked_early.startswith(
        f"I could not get the study of #{seed_run.seed_id}:\n"
        f"• PMID {SEED_PMID} is not registered with PubMed\n"
        "I will ask again after "
    ), seed_run.asked_early
    assert "Study:" not in first.text, first.text
    assert "Cite the study" not in [b["text"] for b in first.buttons], first.buttons

    post = seed_run.seed_post()
    assert post.message_id == first.message_id, "the post is edited, not sent again"
    assert len(post.history) == 1, "edited once"
    assert post.history[0].text == first.text
    line = next(row for row in post.text.split("\n") if row.startswith("Study: "))
    assert line == STUDY_LINE
    start = post.text.index(f"doi:{SEED_DOI}")
    links = [e for e in post.entities if e.type == "text_link" and e.url == DOI_URL]
    assert [(e.offset, e.length) for e in links] == [
        (len(post.text[:start].encode("utf-16-le")) // 2, len(f"doi:{SEED_DOI}"))
    ], post.entities
    assert f'<a href="{DOI_URL}">doi:{SEED_DOI}</a>' in post.html
    assert post.buttons == [
        *first.buttons,  # "Read the release" and "Cite", kept
        {"text": "Cite the study", "url": f"https://t.me/{BOT}?start=study_{seed_run.seed_id}"},
    ], post.buttons
    [edit] = [
        request.params
        for request in seed_run.api.requests_for("editMessageText")
        if str(request.params.get("chat_id")) == str(CHANNEL_A)
        and str(request.params.get("message_id")) == str(post.message_id)
    ]
    preview = edit["link_preview_options"]
    preview = json.loads(preview) if isinstance(preview, str) else preview
    # The DOI link now comes first in the text: the preview stays the release's page.
    assert preview == {"is_disabled": False, "url": first.buttons[0]["url"]}, preview


# --- 2. the deep link and every style -------------------------------------------------------


def test_the_cite_the_study_link_opens_the_study_and_every_style_matches_the_design(
    seed_run: SeedRun,
) -> None:
    """Following the post's "Cite the study" link (`/start study_<id>` in a private chat)
    gives the study in APA 7 with the style keyboard; each style's button edits the message
    to that style, each matching design/citations.md's golden strings for the seed's study."""
    api, seed = seed_run.api, seed_run.seed_id
    [button] = [b for b in seed_run.seed_post().buttons if b["text"] == "Cite the study"]
    payload = button["url"].split("?start=", 1)[1]
    api.push_message(READER, f"/start {payload}", READER, first_name="Reader")
    seed_run.wait_for(lambda: api.messages(READER), "the study citation")
    [reply] = api.messages(READER)
    assert reply.text == header(seed, "apa") + plain(GOLDEN["apa"])
    assert reply.html.endswith(as_html(GOLDEN["apa"])), reply.html
    assert len(reply.buttons) == len(STYLES)
    assert all(b["callback_data"].startswith(f"cite:study:{seed}:") for b in reply.buttons)

    # APA 7 is shown: every other style, then APA 7 again.
    for style in [*(s for s in STYLES if s != "apa"), "apa"]:
        edits = len(api.message(READER, reply.message_id).history)
        api.press(READER, reply.message_id, STYLE_BUTTONS[style], READER)
        seed_run.wait_for(
            lambda: len(api.message(READER, reply.message_id).history) > edits,  # noqa: B023
            f"the citation restyled to {style}",
        )
        shown = api.message(READER, reply.message_id)
        assert shown.text.startswith(header(seed, style)), (style, shown.text)
        body = shown.text.removeprefix(header(seed, style))
        if style in GOLDEN:
            assert body == plain(GOLDEN[style]), style
            assert shown.html.endswith(as_html(GOLDEN[style])), (style, shown.html)
        else:
            MACHINE[style](body)
            assert shown.html.endswith("</pre>"), (style, shown.html)  # a block to copy
        assert f"✓ {STYLE_BUTTONS[style]}" in [b["text"] for b in shown.buttons], style
    seed_run.wait_for(lambda: not api.unanswered_callbacks, "every press answered")


# --- 3. /latest and /search ------------------------------------------------------------------


def test_latest_marks_the_seed_and_search_by_doi_finds_it(seed_run: SeedRun) -> None:
    """In a private chat and in the channel, /latest marks the seed release (and the other
    one naming the study) with 📄; /search doi:10.1523/JNEUROSCI.4977-13.2014 finds both."""
    api, seed = seed_run.api, seed_run.seed_id
    posts = len(api.messages(CHANNEL_A))
    api.push_channel_post(CHANNEL_A, "/latest")
    seed_run.wait_for(lambda: len(api.messages(CHANNEL_A)) > posts, "/latest in the channel")
    in_channel = api.messages(CHANNEL_A)[posts].text
    assert f"#{seed} · 3 April 2014 · NIDA\n{STUDY_MARK} {SEED_TITLE}\n" in in_channel, in_channel
    api.push_message(SEARCHER, "/latest", SEARCHER, first_name="Searcher")
    seed_run.wait_for(lambda: api.messages(SEARCHER), "the /latest reply")
    latest = api.messages(SEARCHER)[0].text
    marked = [line for line in latest.split("\n") if line.startswith(STUDY_MARK)]
    assert marked == [
        f"{STUDY_MARK} Unseen drug cues and the brain: how baclofen quiets the craving circuit",
        f"{STUDY_MARK} {SEED_TITLE}",
    ], latest  # the release naming no study carries no mark
    api.push_message(SEARCHER, f"/search doi:{SEED_DOI}", SEARCHER)
    seed_run.wait_for(lambda: len(api.messages(SEARCHER)) == 2, "the /search reply")
    found = api.messages(SEARCHER)[1].text
    assert found.startswith(f"Releases naming doi:{SEED_DOI}\n\n"), found
    assert f"#{seed} · " in found, found
    assert sum(line.startswith("#") for line in found.split("\n")) == 2, found
