"""End to end: the real `releasebot run` process against the strict fake Bot API and feed server.

Each test starts `python -m bot --config <cfg> run` as a subprocess, the way an operator
does, with TELEGRAM_BOT_TOKEN in its environment, `[bot] api_base_url` pointing at the
fake Bot API and its feeds served on loopback. The bot paces itself with Telegram's real
windows (1 message per second per chat), so each chat gets only a few posts.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import DeliveredMessage
from tests.fakes.feed_server import FeedServer, Route

REPO = Path(__file__).resolve().parent.parent
TOKEN_VARIABLE = "TELEGRAM_BOT_TOKEN"
ADMIN, LURKER = 501, 502  # LURKER never pressed Start in the bot
CHANNEL_A, CHANNEL_B, CHANNEL_N, GROUP, SUPERGROUP = -1001, -1002, -1003, -4001, -1004001
PUBLISHER = "National Institute on Drug Abuse"


# --- feeds --------------------------------------------------------------------------


def release_url(n: int) -> str:
    return f"https://example.org/releases/{n}"


@dataclass(frozen=True)
class Item:
    """One feed item; release n is dated n days after 31 March 2014, 10:00 EDT."""

    n: int
    title: str = ""
    guid: str = ""

    def xml(self) -> str:
        day = datetime(2014, 3, 31, 14, 0, tzinfo=UTC) + timedelta(days=self.n)
        title = self.title or f"Release {self.n} on drug use & teens <18"
        return (
            f"<item><guid isPermaLink='false'>{escape(self.guid or f'nida-{self.n}')}</guid>"
            f"<title>{escape(title)}</title><link>{release_url(self.n)}</link>"
            f"<pubDate>{format_datetime(day)}</pubDate>"
            f"<description>Summary of release {self.n}. It says more.</description></item>"
        )


def rss(*items: Item) -> bytes:
    body = "".join(item.xml() for item in items)
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Press releases</title><link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


# --- config and process -------------------------------------------------------------


def write_config(
    tmp: Path,
    *,
    api_base_url: str,
    feeds: dict[str, str],
    channels: list[tuple[str, int, list[str]]],
    backlog: int = 10,
    username: str = "",
    recheck_paused: str = "10m",
    tick: str = "1s",
) -> Path:
    """A config; `tick` is also every feed's interval (a shorter one finds changes sooner)."""
    lines = [
        "[bot]",
        'database = "bot.db"',
        f"admins = [{ADMIN}, {LURKER}]",
        f'api_base_url = "{api_base_url}"',
        f'tick = "{tick}"',
        f'recheck_paused = "{recheck_paused}"',
        f'username = "{username}"',
        "[fetch]",
        "allow_private_addresses = true",
        "[defaults]",
        f'interval = "{tick}"',
        f"backlog = {backlog}",
    ]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"']
        lines += [f'publisher = "{PUBLISHER}"', 'short_name = "NIDA"']
    for name, chat, routed in channels:
        lines += ["[[channels]]", f'name = "{name}"', f"chat = {chat}"]
        lines += [f"feeds = {json.dumps(routed)}"]
    path = tmp / "releasebot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_channel_config(tmp: Path, api: FakeBotAPI, feed_url: str, **options: Any) -> Path:
    """A config with feed "nida" at `feed_url` routed to one channel, "a-news"."""
    return write_config(
        tmp,
        api_base_url=api.base_url,
        feeds={"nida": feed_url},
        channels=[("a-news", CHANNEL_A, ["nida"])],
        **options,
    )




class BotProcess:
    """One `python -m bot ... run` process; its output goes to files (no pipe to fill up)."""

    count = 0

    def __init__(self, config: Path, *args: str, token: str | None, verbose: bool = False) -> None:
        BotProcess.count += 1
        env = {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE}
        if token is not None:
            env[TOKEN_VARIABLE] = token
        env["PYTHONUNBUFFERED"] = "1"
        self.config = config
        self.out_path = config.parent / f"stdout.{BotProcess.count}"
        self.err_path = config.parent / f"stderr.{BotProcess.count}"
        command = [sys.executable, "-m", "bot", "--config", str(config)]
        command += ["-v"] if verbose else []
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*command, "run", *args], cwd=REPO, env=env, stdout=out, stderr=err
            )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM, then the exit code (kill -9 and fail if it does not stop in `timeout`)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"the bot did not stop within {timeout} s of SIGTERM")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def wait_for(self, check: Callable[[], bool], what: str, within: float = 30) -> None:
        """Poll until `check()` holds; fail with the bot's log if it exits or time runs out."""
        deadline = time.monotonic() + within
        while not check():
            if self.proc.poll() is not None:
                pytest.fail(
                    f"the bot exited ({self.proc.returncode}) before {what}:\n{self.stderr}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n{self.stderr[-4000:]}")
            time.sleep(0.05)


def db_rows(config: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows from the bot's database (safe while it runs: WAL mode)."""
    conn = sqlite3.connect(config.parent / "bot.db", timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def deliveries(config: Path) -> list[dict[str, Any]]:
    """Every delivery with its channel's current chat id and its release URL."""
    return db_rows(
        config,
        "SELECT d.*, c.chat_id, r.url FROM deliveries d JOIN channels c ON c.name = d.channel"
        " JOIN releases r ON r.id = d.release_id ORDER BY d.id",
    )


def read_urls(api: FakeBotAPI, chat: int) -> list[str]:
    """The 'Read the release' URL of each post a chat received, in order."""
    return [m.buttons[0]["url"] for m in api.messages(chat)]


def post_of(api: FakeBotAPI, chat: int, n: int) -> DeliveredMessage:
    """The post of release n in a chat."""
    [post] = [m for m in api.messages(chat) if m.buttons[0]["url"] == release_url(n)]
    return post


def sent_rows_match_messages(api: FakeBotAPI, config: Path, chats: dict[int, str]) -> None:
    """Every `sent` row is a post its chat really has, and every post received is a sent row.

    `chats` maps each chat id to its channel's name (a migrated group has two ids).
    """
    sent = sorted(
        (row["channel"], row["message_id"], row["url"])
        for row in deliveries(config)
        if row["state"] == "sent"
    )
    received = sorted(
        (name, m.message_id, m.buttons[0]["url"])
        for chat, name in chats.items()
        for m in api.messages(chat)
    )
    assert sent == received


# --- the live bot, one scenario read by several tests ---------------------------------


@dataclass
class LiveRun:
    api: FakeBotAPI
    config: Path
    bot: BotProcess
    exit_code: int
    first_wave: dict[int, list[str]]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    """`releasebot -v run` through two waves of releases, then SIGTERM.

    Wave 1: releases 1, 2, 5 in the nida feed, 5 (cross-posted, another guid) and 10 in
    the nih feed. Wave 2: release 2's title is corrected, release 20 appears, channel B has
    kicked the bot and the group has become a supergroup. Channel N never let the bot post.
    """
    tmp = tmp_path_factory.mktemp("live")
    with FakeBotAPI(time_scale=0.01) as api, FeedServer() as feeds:
        api.add_chat(CHANNEL_A, "channel", title="A news")
        api.add_chat(CHANNEL_B, "channel", title="B news")
        api.add_chat(CHANNEL_N, "channel", title="N news", bot_status="member")
        api.add_chat(GROUP, "group", title="Editors")
        api.add_chat(ADMIN, "private", title="Ada")
        api.add_chat(LURKER, "private", title="Lurker", started=False)
        nida = feeds.serve("/nida.xml", rss(Item(1), Item(2), Item(5)))
        nih = feeds.serve("/nih.xml", rss(Item(5, guid="nih-5"), Item(10, guid="nih-10")))
        config = write_config(
            tmp,
            api_base_url=api.base_url,
            feeds={"nida": nida, "nih": nih},
            channels=[
                ("a-news", CHANNEL_A, ["nida", "nih"]),
                ("b-news", CHANNEL_B, ["nida"]),
                ("editors", GROUP, ["nida"]),
                ("n-news", CHANNEL_N, ["nida"]),
            ],
            tick="0.25s",
        )
        bot = BotProcess(config, token=api.token, verbose=True)
        try:
            bot.wait_for(
                lambda: (
                    len(api.messages(CHANNEL_A)) == 4
                    and len(api.messages(CHANNEL_B)) == 3
                    and len(api.messages(GROUP)) == 3
                ),
                "the first wave of posts",
            )
            first_wave = {chat: read_urls(api, chat) for chat in (CHANNEL_A, CHANNEL_B, GROUP)}
            api.kick(CHANNEL_B)
            api.migrate(GROUP, SUPERGROUP)
            corrected = Item(2, title="Corrected: release 2 on teen drug use")
            feeds.serve("/nida.xml", rss(Item(1), corrected, Item(5), Item(20)))
            bot.wait_for(
                lambda: (
                    len(api.messages(CHANNEL_A)) == 5
                    and len(api.messages(SUPERGROUP)) == 1
                    and post_of(api, CHANNEL_A, 2).text.startswith("Corrected")
                    and any("b-news" in m.text for m in api.messages(ADMIN))
                ),
                "the second wave",
            )
            time.sleep(1.5)  # room for anything that should not happen (a second post, notice)
            exit_code = bot.terminate()
        finally:
            bot.kill()
        yield LiveRun(api, config, bot, exit_code, first_wave)


def test_new_releases_reach_every_routed_channel_once(live: LiveRun) -> None:
    """Each channel gets each release of its feeds once, oldest first."""
    nida = [release_url(n) for n in (1, 2, 5)]
    assert live.first_wave[CHANNEL_B] == nida
    assert live.first_wave[GROUP] == nida
    assert sorted(live.first_wave[CHANNEL_A]) == sorted([*nida, release_url(10)])
    assert read_urls(live.api, CHANNEL_A)[4] == release_url(20)
    assert read_urls(live.api, SUPERGROUP) == [release_url(20)]


def test_a_release_cross_posted_by_two_feeds_reaches_a_chat_once(live: LiveRun) -> None:
    """Release 5 is in both feeds channel A follows; A received it once."""
    assert read_urls(live.api, CHANNEL_A).count(release_url(5)) == 1


def test_posts_are_formatted_with_their_buttons(live: LiveRun) -> None:
    """Bold title, 'NIDA · date', summary, APA citation; Read and Cite buttons."""
    post = live.api.messages(CHANNEL_B)[0]
    title = "Release 1 on drug use & teens <18"
    assert post.text.split("\n\n")[0] == f"{title}\nNIDA · 1 April 2014"
    assert "Summary of release 1." in post.text
    assert post.text.split("\n\n")[-1].startswith(f"{PUBLISHER}. (2014, April 1). {title}")
    assert [e.type for e in post.entities] == ["bold", "italic"]
    assert post.parse_mode == "HTML"
    assert post.buttons[0] == {"text": "Read the release", "url": release_url(1)}
    assert post.buttons[1]["text"] == "Cite"
    assert post.buttons[1]["url"].startswith("https://t.me/releasebot_test_bot?start=cite_")


def test_an_edited_release_is_edited_in_place(live: LiveRun) -> None:
    """A corrected title replaces the text of the message already sent, buttons kept."""
    post = post_of(live.api, CHANNEL_A, 2)
    assert post.text.startswith("Corrected: release 2 on teen drug use\n")
    assert [version.text.split("\n")[0] for version in post.history] == [
        "Release 2 on drug use & teens <18"
    ]
    assert [b["text"] for b in post.buttons] == ["Read the release", "Cite"]
    assert len(live.api.messages(CHANNEL_A)) == 5  # edited, not posted again


def test_a_kicked_channel_pauses_and_the_admin_is_told(live: LiveRun) -> None:
    """After a kick, B's posts wait (paused, error kept) and the admin gets one notice about B."""
    [channel] = db_rows(live.config, "SELECT * FROM channels WHERE name = 'b-news'")
    assert channel["paused"] == 1
    assert "kicked" in channel["pause_error"]
    notices = [m.text for m in live.api.messages(ADMIN) if "b-news" in m.text]
    assert len(notices) == 1
    assert len(live.api.messages(CHANNEL_B)) == 3
    waiting = [d for d in deliveries(live.config) if d["channel"] == "b-news"]
    assert [d["state"] for d in waiting if d["url"] == release_url(20)] == ["pending"]


def test_an_admin_who_never_pressed_start_is_only_logged(live: LiveRun) -> None:
    """The lurker admin cannot be messaged: nothing reaches them, the log says why."""
    assert live.api.messages(LURKER) == []
    assert f"cannot message admin {LURKER}" in live.bot.stderr


def test_a_migrated_group_gets_the_post(live: LiveRun) -> None:
    """The group became a supergroup: the new post goes to the new chat id, stored for later."""
    assert read_urls(live.api, SUPERGROUP) == [release_url(20)]
    [channel] = db_rows(live.config, "SELECT * FROM channels WHERE name = 'editors'")
    assert channel["chat_id"] == SUPERGROUP


def test_a_channel_where_the_bot_cannot_post_is_reported_and_its_posts_wait(
    live: LiveRun,
) -> None:
    """At start getChat/getChatMember find the bot is no admin in N: admins told, N waits."""
    methods = [r.method for r in live.api.requests]
    assert "getChat" in methods
    assert "getChatMember" in methods
    notices = [m.text for m in live.api.messages(ADMIN) if "n-news" in m.text]
    assert len(notices) == 1
    assert "cannot post" in notices[0]
    assert live.api.messages(CHANNEL_N) == []
    assert {d["state"] for d in deliveries(live.config) if d["channel"] == "n-news"} == {"pending"}


def test_a_paused_channel_resumes_by_itself_once_the_bot_may_post(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Made admin after start: the next recheck resumes the channel and its posts go out."""
    fake_bot_api.add_chat(ADMIN, "private", title="Ada")
    fake_bot_api.add_chat(CHANNEL_A, "channel", bot_status="member")
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
    config = one_channel_config(tmp_path, fake_bot_api, url, recheck_paused="1s", tick="0.25s")
    bot = BotProcess(config, token=fake_bot_api.token)
    try:
        bot.wait_for(
            lambda: any("a-news" in m.text for m in fake_bot_api.messages(ADMIN)),
            "the admins to be told",
        )
        assert fake_bot_api.messages(CHANNEL_A) == []
        fake_bot_api.set_bot_status(CHANNEL_A, "administrator")
        bot.wait_for(lambda: len(fake_bot_api.messages(CHANNEL_A)) == 2, "the posts")
        assert bot.terminate() == 0
    finally:
        bot.kill()
    assert read_urls(fake_bot_api, CHANNEL_A) == [release_url(1), release_url(2)]
    notices = [m.text for m in fake_bot_api.messages(ADMIN) if "a-news" in m.text]
    assert len(notices) == 2  # told once when paused (not at every recheck), once resumed
    assert "checked every 1 s" in notices[0]
    assert "can post to a-news (-1001) again" in notices[1]


def test_the_bot_sets_its_commands(live: LiveRun) -> None:
    """setMyCommands is called at start, so Telegram's menu lists the commands."""
    assert live.api.requests_for("setMyCommands")
    assert {c["command"] for c in live.api.commands()} >= {"latest", "cite", "help"}


def test_sigterm_stops_cleanly_and_nothing_sent_is_unrecorded(live: LiveRun) -> None:
    """SIGTERM: exit 0; the DB's sent rows are exactly the posts the chats received."""
    assert live.exit_code == 0
    chats = {
        CHANNEL_A: "a-news",
        CHANNEL_B: "b-news",
        CHANNEL_N: "n-news",
        GROUP: "editors",
        SUPERGROUP: "editors",
    }
    sent_rows_match_messages(live.api, live.config, chats)


def test_the_token_never_appears_in_the_output(live: LiveRun) -> None:
    """Even with -v (httpx logs every request URL) the token is nowhere in stdout or stderr."""
    secret = live.api.token.split(":", 1)[1]
    output = live.bot.stdout + live.bot.stderr
    assert "getMe" in output  # -v really logged the requests
    assert live.api.token not in output
    assert secret not in output


# --- stopping in the middle of a burst ------------------------------------------------


def sigterm_mid_burst(
    tmp_path: Path, api: FakeBotAPI, feed_server: FeedServer, *run_args: str
) -> tuple[int, Path, BotProcess]:
    """Start a slow burst of 18 posts to 3 channels, SIGTERM once 4 have landed."""
    chats = [-1101, -1102, -1103]
    for chat in chats:
        api.add_chat(chat, "channel")
    api.set_delay("sendMessage", 0.3)
    url = feed_server.serve("/nida.xml", rss(*(Item(n) for n in range(1, 7))))
    config = write_config(
        tmp_path,
        api_base_url=api.base_url,
        feeds={"nida": url},
        channels=[(f"c{i}", chat, ["nida"]) for i, chat in enumerate(chats)],
    )
    bot = BotProcess(config, *run_args, token=api.token)
    try:
        bot.wait_for(lambda: len(api.all_messages()) >= 4, "the burst to start")
        exit_code = bot.terminate()
    finally:
        bot.kill()
    states = {row["state"] for row in deliveries(config)}
    assert "sending" not in states
    assert "pending" in states  # it really stopped in the middle
    sent_rows_match_messages(api, config, {chat: f"c{i}" for i, chat in enumerate(chats)})
    return exit_code, config, bot


def test_sigterm_does_not_wait_for_a_slow_feed(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A feed that takes 20 s to answer does not hold up a stop: exit 0 within seconds."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.route("/slow.xml", Route(body=rss(Item(1)), delay=20.0))
    config = one_channel_config(tmp_path, fake_bot_api, url)
    bot = BotProcess(config, token=fake_bot_api.token)
    try:
        bot.wait_for(lambda: feed_server.hits("/slow.xml") >= 1, "the slow fetch to start")
        started = time.monotonic()
        assert bot.terminate(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        bot.kill()
    assert "Traceback" not in bot.stderr


def test_sigterm_during_a_burst_records_exactly_what_was_delivered(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """SIGTERM while posts are in flight: exit 0, no send left `sending`, sent rows == received."""
    exit_code, _, _ = sigterm_mid_burst(tmp_path, fake_bot_api, feed_server)
    assert exit_code == 0


def test_sigterm_during_run_once_finishes_in_flight_sends_and_exits_1(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """SIGTERM in `run --once`: sends under way are recorded, the rest stay pending, exit 1."""
    exit_code, _, bot = sigterm_mid_burst(tmp_path, fake_bot_api, feed_server, "--once")
    assert exit_code == 1
    assert "Traceback" not in bot.stderr


# --- run --once and --dry-run ---------------------------------------------------------


def test_missing_token_exits_2_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    """Without TELEGRAM_BOT_TOKEN, `run` says what to set, in one line, and exits 2."""
    config = write_config(tmp_path, api_base_url="http://127.0.0.1:9/bot", feeds={}, channels=[])
    bot = BotProcess(config, token=None)
    assert bot.wait() == 2
    lines = bot.stderr.strip().splitlines()
    assert len(lines) == 1
    assert TOKEN_VARIABLE in lines[0]
    assert bot.stdout == ""


def test_run_once_sends_everything_and_exits_0(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """`run --once` polls, delivers every owed post, and exits 0 when all went through."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
    config = one_channel_config(tmp_path, fake_bot_api, url)
    bot = BotProcess(config, "--once", token=fake_bot_api.token)
    assert bot.wait() == 0, bot.stderr
    assert read_urls(fake_bot_api, CHANNEL_A) == [release_url(1), release_url(2)]
    assert {row["state"] for row in deliveries(config)} == {"sent"}


def test_run_once_exits_1_when_something_failed(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A feed that answers 500 makes `run --once` exit 1; the other feed's posts still go out."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    good = feed_server.serve("/nida.xml", rss(Item(1)))
    broken = feed_server.serve("/broken.xml", b"oops", status=500, content_type="text/plain")
    config = write_config(
        tmp_path,
        api_base_url=fake_bot_api.base_url,
        feeds={"nida": good, "broken": broken},
        channels=[("a-news", CHANNEL_A, ["nida", "broken"])],
    )
    bot = BotProcess(config, "--once", token=fake_bot_api.token)
    assert bot.wait() == 1
    assert "broken" in bot.stderr
    assert read_urls(fake_bot_api, CHANNEL_A) == [release_url(1)]


def test_run_once_exits_1_when_a_channel_cannot_be_posted_to(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A channel where the bot is no admin: reported to the admin, its posts wait, exit 1."""
    fake_bot_api.add_chat(CHANNEL_N, "channel", bot_status="member")
    fake_bot_api.add_chat(ADMIN, "private")
    url = feed_server.serve("/nida.xml", rss(Item(1)))
    config = write_config(
        tmp_path,
        api_base_url=fake_bot_api.base_url,
        feeds={"nida": url},
        channels=[("n-news", CHANNEL_N, ["nida"])],
    )
    bot = BotProcess(config, "--once", token=fake_bot_api.token)
    assert bot.wait() == 1
    assert fake_bot_api.messages(CHANNEL_N) == []
    assert [row["state"] for row in deliveries(config)] == ["pending"]
    assert "n-news" in fake_bot_api.messages(ADMIN)[0].text


def test_dry_run_sends_nothing_prints_posts_and_records_dry_run(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """`run --once --dry-run`: no request reaches Telegram, posts are printed as readers see
    them and recorded as dry_run, so a later live run does not post them again."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
    config = one_channel_config(tmp_path, fake_bot_api, url, username="releasebot_demo_bot")
    dry = BotProcess(config, "--once", "--dry-run", token=fake_bot_api.token)
    assert dry.wait() == 0, dry.stderr
    assert fake_bot_api.requests == []
    printed = dry.stdout
    assert "Release 1 on drug use & teens <18\nNIDA · 1 April 2014" in printed
    assert f"[ Read the release ] {release_url(2)}" in printed
    assert "[ Cite ] https://t.me/releasebot_demo_bot?start=cite_" in printed
    assert "<b>" not in printed
    assert {row["state"] for row in deliveries(config)} == {"dry_run"}

    live = BotProcess(config, "--once", token=fake_bot_api.token)
    assert live.wait() == 0, live.stderr
    assert fake_bot_api.requests_for("sendMessage") == []
