"""Admin commands end to end: the real `releasebot run` process, the strict fake Bot API and
loopback feeds, one process for the module (the tests run in order and share its state).

The newsroom is a forum supergroup; its owner subscribes its "Releases" topic to the feed
nida with /add; the @nida_news channel follows nih from the config file. Ada administers
the newsroom (Carol too, for a while), Bob is a plain member of it, Olga owns the bot.
The bot paces itself with Telegram's real windows (1 message per second per chat, 20 per
minute per group), so the newsroom gets fewer than 20 messages in all.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.feeds.opml import parse_opml
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import DeliveredMessage
from tests.fakes.feed_server import FeedServer

ROOT = Path(__file__).resolve().parents[1]
BOT = "releasebot_test_bot"
OWNER, ADA, BOB, CAROL, DAVE = 501, 601, 602, 603, 604
FORUM, CHANNEL, FRESH, LAB = -1004001, -1001, -1009, -4009
DEADLINE = 30.0
T = TypeVar("T")

Item = tuple[str, str, str]  # title, link, RFC 822 date
OWED_TO_TOPIC = (
    "SELECT r.url FROM deliveries d JOIN releases r ON r.id = d.release_id"
    " JOIN channels c ON c.name = d.channel WHERE c.chat_id = ? AND c.thread_id = ?"
)
ROUTES_OF_TOPIC = (
    "SELECT r.feed FROM routes r JOIN channels c ON c.name = r.channel"
    " WHERE c.chat_id = ? AND c.thread_id = ?"
)
NIDA = [
    ("Medication can help prevent relapse", "https://nida.example.org/1", "Thu, 03 Apr 2014"),
    ("Survey of drug use in teens", "https://nida.example.org/2", "Fri, 04 Apr 2014"),
]
TUNED = [
    ("New vaccine trial begins", "https://nida.example.org/3", "Mon, 07 Apr 2014"),
    ("Teens and sleep: a study", "https://nida.example.org/4", "Tue, 08 Apr 2014"),
]
HELD = ("A release held by a pause", "https://nida.example.org/5", "Wed, 09 Apr 2014")
NIH = [("NIH director named", "https://nih.example.org/1", "Mon, 01 Nov 2021")]
NIH_LATER = ("NIH funding grows", "https://nih.example.org/2", "Tue, 02 Nov 2021")


def rss(title: str, items: list[Item]) -> bytes:
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{date} 10:00:00 +0000</pubDate><description>About {t}.</description></item>"
        for t, link, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link>{entries}</channel></rss>"
    ).encode()


@dataclass
class Newsroom:
    api: FakeBotAPI
    feeds: FeedServer
    process: subprocess.Popen[bytes]
    log: Path
    db: Path
    topic: int
    urls: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def wait(self, check: Callable[[], T | None], what: str) -> T:
        """Poll `check` until it is truthy; fail with the bot's log after DEADLINE s."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            if self.process.poll() is not None:
                pytest.fail(f"the bot exited before {what}:\n{self.output()}")
            time.sleep(0.02)
        pytest.fail(f"timed out waiting for {what}:\n{self.output()}")

    def ask(self, chat: int, text: str, user: int, **where: Any) -> DeliveredMessage:
        """Send a command; the bot's answer (a reply to it, or in a private chat the next
        message)."""
        before = len(self.api.messages(chat))
        asked = self.api.push_message(chat, text, user, **where)
        if chat > 0:
            return self.wait(
                lambda: len(self.api.messages(chat)) > before and self.api.messages(chat)[before],
                f"the answer to {text!r}",
            )
        return self.wait(lambda: self.answer(chat, asked), f"the answer to {text!r}")

    def answer(self, chat: int, asked: int) -> DeliveredMessage | None:
        found = [m for m in self.api.messages(chat) if m.reply_to_message_id == asked]
        return found[0] if found else None

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.db, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in conn.execute(sql, params)]
        finally:
            conn.close()

    def posts(self, chat: int) -> list[DeliveredMessage]:
        """The release posts a chat received (messages with a 'Read' URL button)."""
        return [m for m in self.api.messages(chat) if m.buttons and "url" in m.buttons[0]]

    def audit_count(self) -> int:
        return len(self.rows("SELECT id FROM audit"))


def write_config(folder: Path, api: FakeBotAPI, nih_url: str) -> Path:
    config = folder / "bot.toml"
    config.write_text(
        f"""
[bot]
database = "bot.db"
admins = [{OWNER}]
api_base_url = "{api.base_url}"
tick = "1s"

[fetch]
allow_private_addresses = true

[defaults]
backlog = 1
interval = "1s"

[admin]
min_interval = "1s"

[[feeds]]
name = "nih"
url = "{nih_url}"
publisher = "National Institutes of Health"

[[channels]]
name = "nida-news"
chat = "@nida_news"
feeds = ["nih"]
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newsroom]:
    folder = tmp_path_factory.mktemp("admin-e2e")
    with FeedServer() as feeds, FakeBotAPI(username=BOT) as api:
        api.add_chat(FORUM, "supergroup", title="Newsroom", username="newsroom", is_forum=True)
        api.add_chat(CHANNEL, "channel", title="NIDA news", username="nida_news")
        for user, name in ((OWNER, "Olga"), (ADA, "Ada"), (BOB, "Bob"), (CAROL, "Carol")):
            api.add_chat(user, "private", title=name, username=name.lower())
        api.add_chat(DAVE, "private", title="Dave", started=False)
        api.set_member(FORUM, ADA, "administrator", username="ada")
        api.set_member(FORUM, BOB, "member", username="bob")
        api.set_member(FORUM, CAROL, "administrator", username="carol")
        topic = api.create_topic(FORUM, "Releases")
        nida_url = feeds.serve("/nida.xml", rss("NIDA News", NIDA))
        nih_url = feeds.serve("/nih.xml", rss("NIH News", NIH))
        config = write_config(folder, api, nih_url)
        log = folder / "bot.log"
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(config), "run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        room = Newsroom(api, feeds, process, log, folder / "bot.db", topic)
        room.urls = {"nida": nida_url, "nih": nih_url}
        try:
            room.wait(lambda: room.posts(CHANNEL), "the channel's first post")
            yield room
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_an_owner_adds_a_feed_by_url_and_its_newest_release_is_posted_in_the_topic(
    room: Newsroom,
) -> None:
    """Olga sends /add with the feed's URL in the Releases topic: a preview with Subscribe
    buttons answers in the topic; "newest 1" posts the newest release into that topic."""
    preview = room.ask(FORUM, f"/add {room.urls['nida']} nida", OWNER, thread_id=room.topic)
    assert preview.message_thread_id == room.topic
    assert "Subscribe: newest 1" in [b["text"] for b in preview.buttons]
    assert NIDA[1][0] in preview.text  # the newest release, as it would be posted
    query = room.api.press(FORUM, preview.message_id, "Subscribe: newest 1", OWNER)
    [post] = room.wait(lambda: room.posts(FORUM), "the first post")
    assert post.message_thread_id == room.topic
    assert post.text.startswith(NIDA[1][0])
    assert [a.callback_query_id for a in room.api.callback_answers] == [query]
    room.wait(lambda: room.api.message(FORUM, preview.message_id).history, "the confirmation")
    confirmed = room.api.message(FORUM, preview.message_id)
    assert "subscribed" in confirmed.text
    assert confirmed.buttons == []


def test_an_owner_adds_a_web_page_to_a_channel_from_a_private_chat(room: Newsroom) -> None:
    """Olga sends /add @nida_news with a web page's URL to the bot: the page's feed is
    found and previewed in her private chat; "no backlog" subscribes the channel."""
    nimh = [("NIMH report", "https://nimh.example.org/1", "Mon, 01 Nov 2021")]
    feed = room.feeds.serve("/nimh.xml", rss("NIMH News", nimh))
    page = (
        "<!doctype html><html><head><title>NIMH</title>"
        f'<link rel="alternate" type="application/rss+xml" href="{feed}"></head>'
        "<body>News</body></html>"
    ).encode()
    url = room.feeds.serve("/nimh/", page, content_type="text/html; charset=utf-8")
    preview = room.ask(OWNER, f"/add @nida_news {url}", OWNER)
    assert "NIMH News" in preview.text
    room.api.press(OWNER, preview.message_id, "Subscribe: no backlog", OWNER)
    room.wait(lambda: room.api.message(OWNER, preview.message_id).history, "the confirmation")
    assert "subscribed" in room.api.message(OWNER, preview.message_id).text
    routes = room.rows(
        "SELECT f.url FROM routes r JOIN feeds f ON f.name = r.feed WHERE r.channel = 'nida-news'"
    )
    assert {row["url"] for row in routes} == {room.urls["nih"], feed}


def test_admin_commands_are_in_the_menu_of_chat_admins_and_owners(room: Newsroom) -> None:
    """setMyCommands: everyone sees the reader commands; the newsroom's admin and the owner
    (in private) see the admin commands too; a plain member does not."""
    room.wait(lambda: room.api.commands({"type": "all_chat_administrators"}), "admin menu")

    def names(chat: int, user: int) -> set[str]:
        return {c["command"] for c in room.api.commands_for(chat, user)}

    admin = {"add", "remove", "subs", "set", "filter", "pause", "resume", "import", "export"}
    assert admin <= names(FORUM, ADA)
    assert admin <= names(OWNER, OWNER)
    assert not admin & names(FORUM, BOB)
    assert {"latest", "cite", "search"} <= names(FORUM, BOB)


def test_a_plain_member_is_refused_everywhere_and_nothing_changes(room: Newsroom) -> None:
    """Bob (a member) asks in the topic and from his private chat: each gets a polite
    refusal, no audit row is written and the route keeps its settings."""
    before = room.rows("SELECT * FROM routes ORDER BY feed")
    audit = room.audit_count()
    where = {"thread_id": room.topic}
    answers = [
        room.ask(FORUM, "/set nida silent on", BOB, **where),
        room.ask(FORUM, "/filter nida exclude teens", BOB, **where),
        room.ask(FORUM, "/remove nida", BOB, **where),
        room.ask(BOB, "/pause @newsroom", BOB),
        room.ask(BOB, "/export @newsroom", BOB),
    ]
    for answer in answers:
        assert answer.buttons == []
        assert answer.document is None
        assert "admin" in answer.text.lower(), answer.text
    assert [a.message_thread_id for a in answers[:3]] == [room.topic] * 3
    assert room.rows("SELECT * FROM routes ORDER BY feed") == before
    assert room.audit_count() == audit


def test_anonymous_admins_and_channel_posts_are_answered_where_they_asked(
    room: Newsroom,
) -> None:
    """/subs from an anonymous admin of the newsroom (in its topic) and posted in the
    channel: each lists that chat's feeds, answered in place."""
    asked = room.api.push_anonymous_admin_message(FORUM, "/subs", thread_id=room.topic)
    in_topic = room.wait(lambda: room.answer(FORUM, asked), "the topic's /subs")
    posted = room.api.push_channel_post(CHANNEL, f"/subs@{BOT}")
    in_channel = room.wait(lambda: room.answer(CHANNEL, posted), "the channel's /subs")
    assert in_topic.message_thread_id == room.topic
    assert "nida" in in_topic.text
    assert "nih" in in_channel.text
    assert "nida" not in in_channel.text


def test_a_chat_admin_tunes_the_route_and_the_next_post_follows(room: Newsroom) -> None:
    """Ada sets no citation, no summary and silent posts, and excludes "vaccine": of the
    next two releases only the other is posted, silently, title and byline only."""
    where = {"thread_id": room.topic}
    for command in (
        "/set nida style none",
        "/set nida summary_length 0",
        "/set nida silent on",
        '/filter nida exclude vaccine "no such phrase"',
    ):
        answer = room.ask(FORUM, command, ADA, **where)
        assert answer.message_thread_id == room.topic
    room.feeds.serve("/nida.xml", rss("NIDA News", NIDA + TUNED))
    room.wait(lambda: len(room.posts(FORUM)) == 2, "the tuned post")
    post = room.posts(FORUM)[1]
    assert post.text.splitlines()[0] == TUNED[1][0]
    assert len(post.text.splitlines()) == 2  # title and byline: no summary, no citation
    assert post.disable_notification
    assert post.message_thread_id == room.topic
    owed = {row["url"] for row in room.rows(OWED_TO_TOPIC, (FORUM, room.topic))}
    assert NIDA[1][1] in owed
    assert TUNED[1][1] in owed
    assert TUNED[0][1] not in owed
    assert room.audit_count() >= 5  # the /add and Ada's four changes


def test_export_returns_an_opml_document(room: Newsroom) -> None:
    """/export in the topic: an OPML file of the newsroom's feeds; the owner's /export in
    private: every feed."""
    topic = room.ask(FORUM, "/export", ADA, thread_id=room.topic)
    assert topic.document is not None
    assert topic.message_thread_id == room.topic
    assert _outline_urls(topic.document.data) == {room.urls["nida"]}
    everything = room.ask(OWNER, "/export", OWNER)
    assert everything.document is not None
    assert everything.document.file_name
    assert everything.document.file_name.endswith(".opml")
    assert {room.urls["nida"], room.urls["nih"]} <= _outline_urls(everything.document.data)


def _outline_urls(opml: bytes) -> set[str]:
    return {feed.url for feed in parse_opml(opml).feeds}


def test_import_subscribes_the_chat_to_an_opml_files_feeds(room: Newsroom) -> None:
    """Olga sends an OPML file captioned /import in the newsroom (not a topic): a feed the
    bot follows and a new one are subscribed, a bad URL is refused, in one summary."""
    nlm = room.feeds.serve("/nlm.xml", rss("NLM News", NIH))
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>'
        f'<outline type="rss" text="NIH" xmlUrl="{room.urls["nih"]}"/>'
        f'<outline type="rss" text="NLM" xmlUrl="{nlm}"/>'
        '<outline type="rss" text="Old" xmlUrl="ftp://example.org/old.xml"/>'
        "</body></opml>"
    ).encode()
    asked, _ = room.api.push_document(
        FORUM, opml, "mine.opml", from_user_id=OWNER, caption="/import"
    )
    summary = room.wait(lambda: room.answer(FORUM, asked), "the import summary")
    assert summary.text.startswith("3 feeds in the file: 2 added, 0 already there, 1 refused")
    assert "ftp://example.org/old.xml" in summary.text
    assert summary.message_thread_id is None
    routes = room.rows(
        "SELECT r.feed, f.url FROM routes r JOIN channels c ON c.name = r.channel"
        " JOIN feeds f ON f.name = r.feed WHERE c.chat_id = ? AND c.thread_id IS NULL",
        (FORUM,),
    )
    assert {row["url"] for row in routes} == {room.urls["nih"], nlm}


def test_an_admin_demoted_since_asking_cannot_press_the_button(room: Newsroom) -> None:
    """Carol (another admin) asks to remove nida, then loses her admin rights: her press of
    Remove is refused (answered, the question left as it was) and the route stays."""
    confirm = room.ask(FORUM, "/remove nida", CAROL, thread_id=room.topic)
    assert [b["text"] for b in confirm.buttons] == ["Remove", "Cancel"]
    answered = len(room.api.callback_answers)
    room.api.set_member(FORUM, CAROL, "member", username="carol")
    query = room.api.press(FORUM, confirm.message_id, "Remove", CAROL)
    [answer] = room.wait(lambda: room.api.callback_answers[answered:], "the press answered")
    assert answer.callback_query_id == query
    assert answer.text
    assert "admin" in answer.text
    still = room.api.message(FORUM, confirm.message_id)
    assert (still.history, [b["text"] for b in still.buttons]) == ((), ["Remove", "Cancel"])
    assert room.rows(ROUTES_OF_TOPIC, (FORUM, room.topic)) == [{"feed": "nida"}]


def test_a_removed_route_never_sends_its_pending_posts(room: Newsroom) -> None:
    """Ada pauses nida (a new release waits), then removes the route with its confirm
    button: the held post is cancelled, and never arrives, while other chats go on."""
    where = {"thread_id": room.topic}
    room.ask(FORUM, "/pause nida", ADA, **where)
    room.feeds.serve("/nida.xml", rss("NIDA News", [*NIDA, *TUNED, HELD]))
    held = "SELECT d.state FROM deliveries d JOIN releases r ON r.id = d.release_id WHERE r.url = ?"
    room.wait(lambda: room.rows(held, (HELD[1],)), "the held post queued")
    confirm = room.ask(FORUM, "/remove nida", ADA, **where)
    assert [b["text"] for b in confirm.buttons] == ["Remove", "Cancel"]
    room.api.press(FORUM, confirm.message_id, "Remove", ADA)
    room.wait(lambda: room.api.message(FORUM, confirm.message_id).history, "the confirmation")
    assert room.api.message(FORUM, confirm.message_id).buttons == []
    assert room.rows(held, (HELD[1],)) == [{"state": "cancelled"}]
    assert room.rows(ROUTES_OF_TOPIC, (FORUM, room.topic)) == []
    assert room.api.unanswered_callbacks == []
    room.feeds.serve("/nih.xml", rss("NIH News", [*NIH, NIH_LATER]))
    room.wait(lambda: len(room.posts(CHANNEL)) == 2, "a later post elsewhere")
    assert all(HELD[0] not in post.text for post in room.posts(FORUM))
    assert room.rows(held, (HELD[1],)) == [{"state": "cancelled"}]


def test_whoever_adds_the_bot_is_told_how_to_subscribe_the_chat(room: Newsroom) -> None:
    """Carol adds the bot to a channel: she gets how to subscribe it; Dave (who never
    started the bot) adds it to a group: the owner gets it instead."""
    room.api.add_chat(FRESH, "channel", title="Fresh", username="fresh", bot_status="left")
    room.api.add_chat(LAB, "group", title="Lab", bot_status="left")
    room.api.push_my_chat_member(FRESH, "administrator", CAROL)
    room.api.push_my_chat_member(LAB, "member", DAVE)
    [to_carol] = room.wait(lambda: room.api.messages(CAROL), "Carol's greeting")
    assert "/add @fresh URL" in to_carol.text
    greeting = room.wait(
        lambda: [m for m in room.api.messages(OWNER) if "Lab" in m.text], "the owner's note"
    )
    assert f"/add {LAB} URL" in greeting[0].text
    assert room.api.messages(DAVE) == []


def test_every_change_made_in_chat_is_audited(room: Newsroom) -> None:
    """Every change Ada made from the chat is in the audit trail."""
    actions = [row["action"] for row in room.rows("SELECT action FROM audit ORDER BY id")]
    assert actions.count("set") == 3
    assert "filter" in actions
    assert "remove" in actions
