"""Reader commands end to end: the real `releasebot run` process against the strict fake Bot API.

One bot process serves the whole module. Each test writes in its own chat (the fake holds
the bot to Telegram's 1 message per second per chat, and so does the bot's own pacer), then
polls the fake for the reply until a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.models import Publisher, Release
from bot.render.cite import STYLE_LABELS, STYLES, render_citation
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import DeliveredMessage
from tests.fakes.feed_server import FeedServer

ROOT = Path(__file__).resolve().parents[1]
BOT_NAME = "releasebot_test_bot"
CHANNEL = -1001500000001  # @nida_news, routed: nida
GROUP = -4001  # "Editors", routed: nih, cites in MLA
STRANGERS = -4002  # a group no channel names
ADMIN = 4242
DEADLINE = 20.0
T = TypeVar("T")

NIDA = "National Institute on Drug Abuse"
NIH = "National Institutes of Health"
NIDA_ITEMS = [
    (
        "Medication can help prevent relapse in cocaine-dependent males",
        "https://nida.example.org/news/2014/04/medication-relapse",
        "Thu, 03 Apr 2014 10:00:00 -0400",
    ),
    (
        "COVID-19 and substance use: new findings",
        "https://nida.example.org/news/2020/05/covid-19-substance-use",
        "Fri, 01 May 2020 10:00:00 -0400",
    ),
    (
        "Teens <18 & vaping: a survey",
        "https://nida.example.org/news/2019/12/teens-vaping",
        "Tue, 17 Dec 2019 10:00:00 -0500",
    ),
    (
        'Director says "quoted" words matter',
        "https://nida.example.org/news/2021/03/quoted-words",
        "Wed, 03 Mar 2021 10:00:00 -0500",
    ),
]
NIH_ITEMS = [
    (
        "NIH's new director named",
        "https://nih.example.org/news/2021/11/new-director",
        "Mon, 01 Nov 2021 09:00:00 -0400",
    ),
    (
        "Funding for vaccine research grows",
        "https://nih.example.org/news/2020/06/vaccine-funding",
        "Mon, 01 Jun 2020 09:00:00 -0400",
    ),
    (
        "Long-term study of aging begins",
        "https://nih.example.org/news/2018/01/aging-study",
        "Wed, 10 Jan 2018 09:00:00 -0500",
    ),
]


def rss(title: str, items: list[tuple[str, str, str]]) -> bytes:
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    entries = "".join(
        f"<item><title>{esc(t)}</title><link>{esc(link)}?utm_source=rss</link>"
        f"<guid>{esc(link)}</guid><pubDate>{date}</pubDate>"
        f"<description>About {esc(t)}.</description></item>"
        for t, link, date in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{esc(title)}</title><link>https://example.org/</link>"
        f"<language>en</language>{entries}</channel></rss>"
    ).encode()


@dataclass
class Bot:
    """The running bot process and the fake it talks to."""

    api: FakeBotAPI
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_for(check: Callable[[], T | None], what: str, bot: Bot | None = None) -> T:
    """Poll `check` until it returns something truthy, or fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    detail = f"\n--- bot output ---\n{bot.output()}" if bot else ""
    pytest.fail(f"timed out waiting for {what}{detail}")


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """`releasebot run` with two feeds, a channel and a group, started once for the module."""
    with running_bot(tmp_path_factory.mktemp("e2e")) as running:
        yield running


@contextmanager
def running_bot(folder: Path, webhook: Webhook | None = None) -> Iterator[Bot]:
    """The bot of these tests, polling; or with `webhook`, in webhook mode (the fake in
    --local mode, so that it calls the bot back over plain http on 127.0.0.1)."""
    local = webhook is not None
    with FeedServer() as feeds, FakeBotAPI(username=BOT_NAME, local=local) as api:
        api.add_chat(CHANNEL, "channel", username="nida_news", title="NIDA news")
        api.add_chat(GROUP, "group", title="Editors")
        api.add_chat(STRANGERS, "supergroup", title="Strangers")
        nida_url = feeds.serve("/nida.xml", rss("NIDA News", NIDA_ITEMS))
        nih_url = feeds.serve("/nih.xml", rss("NIH News", NIH_ITEMS))
        config = folder / "bot.toml"
        config.write_text(
            f"""
[bot]
database = "bot.db"
admins = [{ADMIN}]
api_base_url = "{api.base_url}"
tick = "1s"

[fetch]
allow_private_addresses = true

[defaults]
backlog = 2

[[feeds]]
name = "nida"
url = "{nida_url}"
publisher = "{NIDA}"
short_name = "NIDA"

[[feeds]]
name = "nih"
url = "{nih_url}"
publisher = "{NIH}"
short_name = "NIH"

[[channels]]
name = "nida-news"
chat = "@nida_news"
feeds = ["nida"]

[[channels]]
name = "editors"
chat = {GROUP}
feeds = ["nih"]
citation_style = "mla"
"""
            + ("" if webhook is None else webhook.config()),
            encoding="utf-8",
        )
        log = folder / "bot.log"
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token}
        if webhook is not None:
            env["TELEGRAM_WEBHOOK_SECRET"] = webhook.secret
        running = Bot(api, launch(config, log, env), log)
        try:
            wait_for(lambda: api.requests_for("setMyCommands"), "setMyCommands", running)
            if webhook is not None:
                wait_for(lambda: api.webhook, "setWebhook", running)
            wait_for(lambda: len(api.messages(CHANNEL)) >= 2, "the channel's backlog", running)
            yield running
        finally:
            stop(running)


def launch(config: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`releasebot run` with this config, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass(frozen=True)
class Webhook:
    """Webhook mode on a free port of 127.0.0.1, with this secret."""

    port: int
    secret: str = "s3cret_for-the-tests"

    @classmethod
    def on_a_free_port(cls) -> Webhook:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return cls(probe.getsockname()[1])

    def config(self) -> str:
        return f"""
[webhook]
url = "http://127.0.0.1:{self.port}"
listen = "127.0.0.1:{self.port}"
"""


def stop(bot: Bot) -> int:
    """SIGTERM, and the exit code (the process is killed if it hangs)."""
    if bot.process.poll() is None:
        bot.process.send_signal(signal.SIGTERM)
    try:
        return bot.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        bot.process.kill()
        bot.process.wait()
        return -9


def ask(bot: Bot, chat: int, text: str, user: int | None = None) -> DeliveredMessage:
    """Write `text` in `chat` (as `user`, or as a channel post) and return the bot's reply."""
    before = len(bot.api.messages(chat)) if _known(bot.api, chat) else 0
    if chat == CHANNEL:
        bot.api.push_channel_post(chat, text)
    else:
        bot.api.push_message(chat, text, user if user is not None else chat, first_name="Ada")
    replies = wait_for(
        lambda: bot.api.messages(chat)[before:] or None, f"a reply to {text[:40]!r}", bot
    )
    return replies[0]


def _known(api: FakeBotAPI, chat: int) -> bool:
    try:
        api.messages(chat)
    except KeyError:
        return False
    return True


def settled(bot: Bot) -> None:
    """Wait until the bot has taken every update (so anything it would say is underway)."""
    wait_for(lambda: not bot.api.pending_updates, "the bot to take its updates", bot)
    wait_for(lambda: bot.api.polls_waiting == 1, "the bot's next long poll", bot)


def release(items: list[tuple[str, str, str]], index: int, feed: str) -> Release:
    title, link, date = items[index]
    published = datetime.strptime(date, "%a, %d %b %Y %H:%M:%S %z")
    return Release(
        feed=feed,
        key=link,
        title=title,
        link=f"{link}?utm_source=rss",
        url=link,
        published=published,
        updated=None,
        author="",
        feed_author="",
        feed_title="NIDA News" if feed == "nida" else "NIH News",
        summary=f"About {title}.",
        language="en",
    )


def citations(item: Release, publisher: str, style: str) -> set[str]:
    """The plain citation for today's and yesterday's access date (UTC midnight may pass)."""
    today = datetime.now(UTC).date()
    short = "NIDA" if publisher == NIDA else "NIH"
    return {
        render_citation(item, Publisher(publisher, short), style, accessed=day)
        for day in (today, today - timedelta(days=1))
    }


def release_id(bot: Bot, title: str, user: int) -> int:
    """The #id the bot gives a title, read from /search."""
    reply = ask(bot, user, f"/search {title}")
    match = re.search(r"#(\d+) ·", reply.text)
    assert match, reply.text
    return int(match.group(1))


def callback_datas(message: DeliveredMessage) -> list[str]:
    return [b["callback_data"] for b in message.buttons if "callback_data" in b]


def body(message: DeliveredMessage) -> str:
    """The citation under the reply's header line."""
    return message.text.split("\n\n", 1)[1]


# --- private chats --------------------------------------------------------------------------


def test_start_welcomes_and_lists_the_feeds(bot: Bot) -> None:
    """/start says what the bot does and names every feed it follows."""
    reply = ask(bot, 1001, "/start")
    assert "press releases" in reply.text
    assert "nida — National Institute on Drug Abuse" in reply.text
    assert "nih — National Institutes of Health" in reply.text


def test_help_lists_every_command_with_an_example(bot: Bot) -> None:
    """/help has a line per command, each with an example."""
    reply = ask(bot, 1002, "/help")
    for command in ("latest", "cite", "search", "feeds", "start", "help"):
        line = next(x for x in reply.text.splitlines() if x.startswith(f"/{command}"))
        assert "Example: /" in line


def test_latest_in_private_covers_every_feed_newest_first(bot: Bot) -> None:
    """/latest in a private chat lists the five newest releases of all feeds, with ids and links."""
    reply = ask(bot, 1003, "/latest")
    titles = [e for e in reply.entities if e.type == "text_link"]
    assert [reply.text[e.offset : e.offset + e.length] for e in titles] == [
        "NIH's new director named",
        'Director says "quoted" words matter',
        "Funding for vaccine research grows",
        "COVID-19 and substance use: new findings",
        "Teens <18 & vaping: a survey",
    ]
    assert titles[0].url == "https://nih.example.org/news/2021/11/new-director"
    assert re.search(r"#\d+ · 1 November 2021 · NIH", reply.text)


def test_latest_takes_a_count_and_a_feed(bot: Bot) -> None:
    """/latest 2 nida shows two NIDA releases; over 20 is capped and says so."""
    reply = ask(bot, 1004, "/latest 2 nida")
    assert reply.text.count(" · NIDA\n") == 2
    assert "NIH's" not in reply.text
    capped = ask(bot, 1005, "/latest 50")
    assert "(at most 20)" in capped.text
    assert capped.text.count("\n#") + capped.text.startswith("#") == 7


def test_latest_with_an_unknown_feed_names_the_feeds(bot: Bot) -> None:
    """A feed name that does not exist gets the list of names that do."""
    reply = ask(bot, 1006, "/latest nasa")
    assert reply.text == "No feed called “nasa” here. Feeds here: nida, nih."


@pytest.fixture(scope="module")
def medication(bot: Bot) -> int:
    """The id of the 2014 NIDA release."""
    return release_id(bot, "Medication relapse", 1099)


@pytest.mark.parametrize("style", STYLES)
def test_cite_in_every_style(bot: Bot, medication: int, style: str) -> None:
    """/cite <style> <id> gives exactly the renderer's citation, under the style's name."""
    user = 1100 + STYLES.index(style)
    target = medication
    reply = ask(bot, user, f"/cite {style} {target}")
    assert reply.text.startswith(f"#{target} · {STYLE_LABELS[style]}\n\n")
    assert body(reply) in citations(release(NIDA_ITEMS, 0, "nida"), NIDA, style)
    assert f"cite:{target}:{style}" in callback_datas(reply)
    assert len(callback_datas(reply)) == len(STYLES)


def test_cite_without_ref_cites_the_newest_in_the_default_style(bot: Bot) -> None:
    """/cite alone cites the newest release in APA (the configured default)."""
    reply = ask(bot, 1201, "/cite")
    assert " · APA 7\n\n" in reply.text
    assert body(reply) in citations(release(NIH_ITEMS, 0, "nih"), NIH, "apa")


def test_cite_by_url_and_by_words(bot: Bot) -> None:
    """A pasted link (tracking parameters and all) or a few words find the release."""
    url = NIDA_ITEMS[2][1] + "?utm_source=twitter&utm_medium=social"
    by_url = ask(bot, 1202, f"/cite mla {url}")
    assert body(by_url) in citations(release(NIDA_ITEMS, 2, "nida"), NIDA, "mla")
    by_words = ask(bot, 1203, "/cite aging study")
    assert body(by_words) in citations(release(NIH_ITEMS, 2, "nih"), NIH, "apa")


def test_cite_of_a_missing_release_says_so(bot: Bot) -> None:
    """An id that does not exist is reported plainly."""
    reply = ask(bot, 1204, "/cite #999999")
    assert reply.text == "There is no release #999999 here. /latest shows the ids."


def test_style_keyboard_edits_the_citation_in_place(bot: Bot) -> None:
    """Pressing BibTeX edits the message to BibTeX (keyboard kept); the press is answered."""
    user = 1301
    reply = ask(bot, user, "/cite apa COVID-19")
    [target] = {int(d.split(":")[1]) for d in callback_datas(reply)}
    query = bot.api.push_callback(user, reply.message_id, f"cite:{target}:bibtex", user)
    edited = wait_for(
        lambda: (m := bot.api.message(user, reply.message_id)).history and m, "the edit", bot
    )
    assert edited.text.startswith(f"#{target} · BibTeX\n\n@misc{{")
    assert edited.entities[-1].type == "pre"
    assert "✓ BibTeX" in [b["text"] for b in edited.buttons]
    wait_for(
        lambda: query in {a.callback_query_id for a in bot.api.callback_answers}, "answer", bot
    )
    assert [a.text for a in bot.api.callback_answers if a.callback_query_id == query] == ["BibTeX"]


def test_pressing_the_current_style_is_answered_and_harmless(bot: Bot) -> None:
    """The same style again: Telegram says "not modified", the bot still answers the press."""
    user = 1302
    reply = ask(bot, user, "/cite ris COVID-19")
    [target] = {int(d.split(":")[1]) for d in callback_datas(reply)}
    query = bot.api.push_callback(user, reply.message_id, f"cite:{target}:ris", user)
    wait_for(
        lambda: query in {a.callback_query_id for a in bot.api.callback_answers}, "answer", bot
    )
    assert bot.api.message(user, reply.message_id).history == ()
    statuses = [r.description for r in bot.api.requests_for("editMessageText") if r.status != 200]
    assert all(s and "message is not modified" in s for s in statuses)


@pytest.mark.parametrize(
    ("words", "title"),
    [
        ("COVID-19", "COVID-19 and substance use: new findings"),
        ("NIH's", "NIH's new director named"),
        ('"quoted"', 'Director says "quoted" words matter'),
        ("<18 &", "Teens <18 & vaping: a survey"),
    ],
)
def test_search_takes_punctuation_literally(bot: Bot, words: str, title: str) -> None:
    """Hyphens, apostrophes, quotes and markup characters are searched as plain words."""
    user = 1400 + len(words)
    reply = ask(bot, user, f"/search {words}")
    echoed = words if '"' in words else f"“{words}”"  # quotes of the reader's own show once
    assert reply.text.startswith(f"Best matches for {echoed}")
    links = [reply.text[e.offset : e.offset + e.length] for e in reply.entities if e.url]
    assert links[0] == title


def test_search_with_no_match_says_so(bot: Bot) -> None:
    """Words found nowhere get a plain "no match"."""
    reply = ask(bot, 1410, "/search zeppelin")
    assert reply.text == "No release matches “zeppelin”. Try fewer or other words."


def test_search_without_words_explains_itself(bot: Bot) -> None:
    """/search alone says what to type."""
    reply = ask(bot, 1411, "/search")
    assert reply.text == "Tell me what to look for, for example /search vaccine."


def test_over_long_arguments_are_politely_refused(bot: Bot) -> None:
    """257 characters of arguments get a refusal, not a search."""
    reply = ask(bot, 1412, "/search " + "x" * 257)
    assert "too long" in reply.text
    assert "256" in reply.text


def test_unknown_command_gets_a_hint(bot: Bot) -> None:
    """An unknown command in a private chat points to /help."""
    reply = ask(bot, 1413, "/frobnicate now")
    assert reply.text == "I don't know /frobnicate. /help lists what I can do."


def test_feeds_for_a_reader_and_for_an_admin(bot: Bot) -> None:
    """/feeds names each feed's channels; an admin also sees each feed's health."""
    reader = ask(bot, 1414, "/feeds")
    assert "nida-news (@nida_news)" in reader.text
    assert "last success" not in reader.text
    admin = ask(bot, ADMIN, "/feeds")
    assert admin.text.count("last success: 20") == 2


# --- groups ---------------------------------------------------------------------------------


def test_group_commands_cover_only_the_groups_feeds(bot: Bot) -> None:
    """In the group routed to nih, /latest@bot lists NIH releases only, as a reply."""
    reply = ask(bot, GROUP, f"/latest@{BOT_NAME}", user=2001)
    assert reply.text.count(" · NIH\n") == 3
    assert "NIDA" not in reply.text


def test_group_cite_uses_the_groups_style_and_scope(bot: Bot) -> None:
    """/cite in the group cites in MLA (its channel style); a NIDA release is not found there."""
    reply = ask(bot, GROUP, f"/cite@{BOT_NAME} vaccine", user=2002)
    assert body(reply) in citations(release(NIH_ITEMS, 1, "nih"), NIH, "mla")
    missing = ask(bot, GROUP, f"/cite@{BOT_NAME} COVID-19 substance", user=2002)
    assert missing.text.startswith("No release here matches")


def test_group_command_for_another_bot_is_ignored(bot: Bot) -> None:
    """/latest@other_bot gets nothing; the next command for us gets its one answer."""
    before = len(bot.api.messages(GROUP))
    bot.api.push_message(GROUP, "/latest@other_bot", 2003)
    bot.api.push_message(GROUP, "/frobnicate", 2003)  # bare, unknown: maybe another bot's
    reply = ask(bot, GROUP, f"/search@{BOT_NAME} aging", user=2003)
    settled(bot)
    assert [m.message_id for m in bot.api.messages(GROUP)[before:]] == [reply.message_id]
    assert reply.text.startswith("Best matches for “aging”")


def test_group_unknown_command_addressed_to_us_gets_a_hint(bot: Bot) -> None:
    """/frobnicate@ourbot in a group is answered with the hint."""
    reply = ask(bot, GROUP, f"/frobnicate@{BOT_NAME}", user=2004)
    assert reply.text == "I don't know /frobnicate. /help lists what I can do."


def test_group_with_no_routes_says_so(bot: Bot) -> None:
    """A group no channel names has no feeds; the bot says where to ask instead."""
    reply = ask(bot, STRANGERS, f"/latest@{BOT_NAME}", user=2005)
    assert reply.text.startswith("No feeds are routed to this chat.")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("start", "Feeds followed here:\n• nih — National Institutes of Health\n\nTry"),
        ("help", "/cite [style] [id, URL or words]"),
        ("feeds", "Feeds followed here\n\n• nih — National Institutes of Health\n   → editors"),
    ],
)
def test_group_answers_the_other_commands_addressed_to_it(
    bot: Bot, command: str, expected: str
) -> None:
    """/start, /help and /feeds with @botname in the group, each about the group's own feeds."""
    reply = ask(bot, GROUP, f"/{command}@{BOT_NAME}", user=2010)
    assert expected in reply.text
    assert "• nida" not in reply.text


# --- channels -------------------------------------------------------------------------------


def test_channel_post_commands_are_answered_in_the_channel(bot: Bot) -> None:
    """/latest, /search, /feeds and /help posted in the channel get answers there (NIDA only)."""
    latest = ask(bot, CHANNEL, "/latest 3")
    assert latest.text.count(" · NIDA\n") == 3
    assert "NIH's" not in latest.text
    search = ask(bot, CHANNEL, "/search director")
    assert 'Director says "quoted" words matter' in search.text
    assert "NIH's new director" not in search.text
    feeds = ask(bot, CHANNEL, "/feeds")
    assert feeds.text.startswith("Feeds followed here")
    assert "nih" not in feeds.text.split("\n", 1)[1]


def test_channel_post_start_and_help(bot: Bot) -> None:
    """/start and /help posted in the channel are answered there."""
    start = ask(bot, CHANNEL, "/start")
    assert "Feeds followed here:\n• nida — National Institute on Drug Abuse\n\n" in start.text
    help_ = ask(bot, CHANNEL, "/help")
    assert help_.text.startswith("Commands\n/latest [n] [feed]")


def test_channel_cite_and_its_keyboard(bot: Bot) -> None:
    """/cite posted in the channel answers with the keyboard; a press there edits it."""
    reply = ask(bot, CHANNEL, "/cite chicago teens")
    assert body(reply) in citations(release(NIDA_ITEMS, 2, "nida"), NIDA, "chicago")
    [target] = {int(d.split(":")[1]) for d in callback_datas(reply)}
    query = bot.api.push_callback(CHANNEL, reply.message_id, f"cite:{target}:apa6", 2006)
    edited = wait_for(
        lambda: (m := bot.api.message(CHANNEL, reply.message_id)).history and m, "edit", bot
    )
    assert body(edited) in citations(release(NIDA_ITEMS, 2, "nida"), NIDA, "apa6")
    wait_for(
        lambda: query in {a.callback_query_id for a in bot.api.callback_answers}, "answer", bot
    )


def test_cite_deep_link_from_a_channel_post(bot: Bot) -> None:
    """The Cite button of a channel post opens a private chat whose /start cites that release."""
    post = next(m for m in bot.api.messages(CHANNEL) if any("url" in b for b in m.buttons))
    link = next(b["url"] for b in post.buttons if b["text"] == "Cite")
    [payload] = parse_qs(urlsplit(link).query)["start"]
    assert urlsplit(link).path == f"/{BOT_NAME}"
    reply = ask(bot, 3001, f"/start {payload}")
    target = int(payload.removeprefix("cite_"))
    assert reply.text.startswith(f"#{target} · APA 7\n\n")
    title = post.text.split("\n", 1)[0]
    assert title in reply.text
    assert len(callback_datas(reply)) == len(STYLES)


# --- the process ----------------------------------------------------------------------------


def test_every_reply_was_accepted_and_paced(bot: Bot) -> None:
    """No send was refused: no bad HTML, no over-long text, no 429 from the fake."""
    settled(bot)
    refused = [
        (r.method, r.description)
        for r in bot.api.requests
        if r.status != 200 and r.method in ("sendMessage", "answerCallbackQuery")
    ]
    assert refused == []
    assert bot.api.rate_limited_count == 0


def test_sigterm_stops_the_bot_cleanly(bot: Bot) -> None:
    """SIGTERM ends `releasebot run` with exit code 0 (within `stop`'s 10 s, else killed)."""
    assert stop(bot) == 0, bot.output()
