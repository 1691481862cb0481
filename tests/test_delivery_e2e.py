"""End to end: a chat that refuses posts, answers that never come, and re-queuing failed posts.

The real `releasebot run` process against the strict fake Bot API (see test_run_e2e.py),
with `releasebot status` and `releasebot retry` run beside it as an operator would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.services.dispatcher import SENT_TWICE
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.bot_api_objects import DeliveredMessage
from tests.fakes.feed_server import FeedServer
from tests.processes import releasebot
from tests.test_run_e2e import (
    ADMIN,
    CHANNEL_A,
    BotProcess,
    Item,
    db_rows,
    deliveries,
    one_channel_config,
    read_urls,
    release_url,
    rss,
)

STRANGER = 777  # a reader, not in bot.admins


def with_bot_keys(config: Path, **keys: str) -> Path:
    """Add `[bot]` keys (durations as strings) to a config written by one_channel_config."""
    extra = "".join(f'{key} = "{value}"\n' for key, value in keys.items())
    config.write_text(config.read_text().replace("[bot]\n", "[bot]\n" + extra, 1))
    return config


def channel_status(config: Path) -> tuple[int, list[str]]:
    """`releasebot status`: its exit code and the a-news line's words."""
    proc = releasebot(config, "status")
    line = next(line for line in proc.stdout.splitlines() if line.startswith("a-news "))
    return proc.returncode, line.split()


def states(config: Path) -> list[str]:
    return [row["state"] for row in deliveries(config)]


def started(bot: BotProcess, api: FakeBotAPI) -> None:
    """Wait until the bot has opened its database and checked its channels."""
    bot.wait_for(lambda: bool(api.requests_for("getChatMember")), "the start-up check")


def notices(api: FakeBotAPI) -> list[str]:
    return [m.text for m in api.messages(ADMIN) if "a-news" in m.text]


def ask(bot: BotProcess, api: FakeBotAPI, user: int, text: str) -> DeliveredMessage:
    """`user` writes `text` to the bot in private; returns the bot's reply."""
    before = len(api.messages(user))
    api.push_message(user, text, user, first_name="Ada" if user == ADMIN else "Stranger")
    bot.wait_for(lambda: len(api.messages(user)) > before, f"a reply to {text}")
    return api.messages(user)[before]


def test_a_demoted_channel_pauses_keeps_its_posts_and_delivers_them_once_promoted(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Demoted after start, the channel answers 400 "need administrator rights": none of its 3
    posts fails, the channel pauses (status says so), the admins hear once, rechecks that still
    fail say nothing; promoted again, all 3 arrive in order, once, and the admins hear it
    resumed."""
    api = fake_bot_api
    api.add_chat(ADMIN, "private", title="Ada")
    api.add_chat(CHANNEL_A, "channel", title="A news")
    url = feed_server.serve("/nida.xml", rss())
    config = one_channel_config(tmp_path, api, url, recheck_paused="0.5s", tick="0.25s")
    bot = BotProcess(config, token=api.token)
    try:
        started(bot, api)
        bot.wait_for(
            lambda: any(row["last_success"] for row in db_rows(config, "SELECT * FROM feeds")),
            "the first (empty) poll",
        )
        api.set_bot_status(CHANNEL_A, "member")  # after the start-up check found it admin
        # Three posts show it; each one more would add a second of pacing to the test.
        feed_server.serve("/nida.xml", rss(*(Item(n) for n in range(1, 4))))
        bot.wait_for(lambda: bool(notices(api)), "the admins to be told")
        checks = len(api.requests_for("getChatMember"))
        bot.wait_for(lambda: len(api.requests_for("getChatMember")) > checks, "a recheck")
        assert states(config) == ["pending"] * 3
        code, words = channel_status(config)
        assert code == 1
        assert words[2:7] == ["paused", "3", "0", "0", "0"]  # pending, sent, failed, dry_run
        assert "the bot is 'member' in this channel" in " ".join(words[7:])  # the recheck's words
        assert len(notices(api)) == 1

        api.set_bot_status(CHANNEL_A, "administrator")
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 3, "the 3 posts")
        time.sleep(0.5)  # room for a fourth post that must not come
        assert bot.terminate() == 0
    finally:
        bot.kill()
    assert read_urls(api, CHANNEL_A) == [release_url(n) for n in range(1, 4)]
    assert states(config) == ["sent"] * 3
    refused = [r for r in api.requests_for("sendMessage") if r.params["chat_id"] == str(CHANNEL_A)]
    assert [r.status for r in refused].count(400) == 1  # one refusal, then it waited
    told = notices(api)
    assert len(told) == 2  # once when it paused, once when it resumed
    assert "can post to a-news (-1001) again" in told[1]
    assert channel_status(config)[1][2:7] == ["ok", "0", "3", "0", "0"]


def test_a_lost_answer_is_sent_once_more_then_failed_and_releasebot_retry_requeues_it(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Telegram posts but answers after bot.request_timeout, every time: the bot sends twice,
    not more, and fails the post telling the admin to check; `retry --list` shows it and
    `retry` re-queues it for the running bot; a second `retry` finds nothing and exits 1."""
    api = fake_bot_api
    api.add_chat(CHANNEL_A, "channel", title="A news")
    url = feed_server.serve("/nida.xml", rss(Item(1)))
    config = one_channel_config(tmp_path, api, url, tick="0.25s")
    with_bot_keys(config, request_timeout="1s")
    api.set_delay("sendMessage", 1.5)
    bot = BotProcess(config, token=api.token)
    try:
        started(bot, api)
        bot.wait_for(lambda: states(config) == ["failed"], "the post to fail", within=30)
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 2, "both late posts to land")
        time.sleep(1.0)  # a third send is not even under way
        assert len(api.requests_for("sendMessage")) == 2
        [row] = deliveries(tmp_path / "releasebot.toml")
        assert row["error"] == SENT_TWICE
        api.set_delay("sendMessage", 0)

        code, words = channel_status(config)
        assert (code, words[2:7]) == (1, ["ok", "0", "0", "1", "0"])
        listed = releasebot(config, "retry", "--list")
        assert listed.returncode == 0, listed.stderr
        assert f"delivery {row['id']}  a-news  #{row['release_id']}  Release 1" in listed.stdout
        assert "check the channel" in listed.stdout

        retried = releasebot(config, "retry", "--channel", "a-news")
        assert retried.returncode == 0, retried.stderr
        assert retried.stdout.startswith("re-queued 1 failed post (a-news 1)")
        bot.wait_for(lambda: states(config) == ["sent"], "the re-queued post")
        assert len(api.messages(CHANNEL_A)) == 3

        again = releasebot(config, "retry")
        assert again.returncode == 1
        assert again.stderr.strip() == "releasebot: no failed posts to retry"
        assert bot.terminate() == 0
    finally:
        bot.kill()


def test_retry_in_telegram_requeues_a_failed_post_for_admins_only(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A message-level 400 fails one post and the others go on; /retry from a reader is
    refused; an admin's /retry list names it and /retry sends it."""
    api = fake_bot_api
    api.add_chat(ADMIN, "private", title="Ada")
    api.add_chat(STRANGER, "private", title="Stranger")
    api.add_chat(CHANNEL_A, "channel", title="A news")
    api.fail_next("sendMessage", 400, "Bad Request: message is too long")  # release 1's post
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2), Item(3)))
    config = one_channel_config(tmp_path, api, url, tick="0.25s")
    bot = BotProcess(config, token=api.token)
    try:
        started(bot, api)
        bot.wait_for(lambda: states(config) == ["failed", "sent", "sent"], "the first posts")
        assert read_urls(api, CHANNEL_A) == [release_url(2), release_url(3)]
        assert notices(api) == []  # a message-level refusal pauses nothing

        refused = ask(bot, api, STRANGER, "/retry")
        # /retry is an admin command now (issue 12): a stranger in private names no chat
        assert refused.text.startswith("Send /retry in the channel or group it is about")
        listed = ask(bot, api, ADMIN, "/retry list")
        assert listed.text.startswith("Failed posts (1)\n\na-news · #1 Release 1")
        assert "Message is too long" in listed.text
        assert states(config)[0] == "failed"

        done = ask(bot, api, ADMIN, "/retry")
        assert done.text.startswith("Re-queued 1 failed post (a-news 1).")
        bot.wait_for(lambda: states(config) == ["sent"] * 3, "the re-queued post")
        assert read_urls(api, CHANNEL_A) == [release_url(n) for n in (2, 3, 1)]
        nothing = ask(bot, api, ADMIN, "/retry")
        assert nothing.text == "No failed posts to retry."
        assert bot.terminate() == 0
    finally:
        bot.kill()


@pytest.mark.parametrize(
    ("args", "code"), [(["--channel", "nope"], 2), (["--delivery", "99"], 1), (["--list"], 1)]
)
def test_retry_with_nothing_to_do_exits_1(tmp_path: Path, args: list[str], code: int) -> None:
    """A delivery that is not failed, or nothing failed: one line, exit 1; a channel the config
    does not have is a usage error: one line, exit 2."""
    config = tmp_path / "releasebot.toml"
    config.write_text(
        '[bot]\ndatabase = "bot.db"\n[[feeds]]\nname = "nida"\nurl = "feed.xml"\n'
        '[[channels]]\nname = "a-news"\nchat = -1001\nfeeds = ["nida"]\n'
    )
    proc = releasebot(config, "retry", *args)
    assert proc.returncode == code
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


def test_a_chat_that_looks_fine_but_refuses_posts_tells_the_admins_once(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A group where members may not write: getChatMember says "member", so every recheck
    resumes it and the next post is refused again. The admins hear it paused once (not at
    every recheck), and that it posts again once a post really goes through."""
    api = fake_bot_api
    api.add_chat(ADMIN, "private", title="Ada")
    api.add_chat(CHANNEL_A, "supergroup", title="A news", bot_status="member")
    url = feed_server.serve("/nida.xml", rss())
    # Rechecks 1 s apart: each resumes the group and its next post is refused at once, so
    # between two refusals the posts are `pending` for about a second, time to read them.
    config = one_channel_config(tmp_path, api, url, recheck_paused="1s", tick="0.25s")
    bot = BotProcess(config, token=api.token)
    try:
        started(bot, api)
        bot.wait_for(
            lambda: any(row["last_success"] for row in db_rows(config, "SELECT * FROM feeds")),
            "the first (empty) poll",
        )
        api.set_members_may_write(CHANNEL_A, False)
        feed_server.serve("/nida.xml", rss(Item(1), Item(2)))

        def refusals() -> int:
            sends = api.requests_for("sendMessage")
            return sum(r.status == 400 and r.params["chat_id"] == str(CHANNEL_A) for r in sends)

        bot.wait_for(lambda: refusals() >= 3, "three rechecks, each refused again", within=40)
        # Both still owed: pending, or (under load, a recheck already resumed it) being sent.
        owed = states(config)
        assert len(owed) == 2
        assert set(owed) <= {"pending", "sending"}
        assert len(notices(api)) == 1
        api.set_members_may_write(CHANNEL_A, True)
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 2, "the 2 posts", within=40)
        bot.wait_for(lambda: len(notices(api)) == 2, "the admins to hear it posts again")
        assert bot.terminate() == 0
    finally:
        bot.kill()
    told = notices(api)
    assert "can post to a-news (-1001) again" in told[1]
    assert read_urls(api, CHANNEL_A) == [release_url(1), release_url(2)]
