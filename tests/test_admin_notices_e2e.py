"""What the admins hear when a channel is lost and found again: the real `releasebot run`
process against the strict fake Bot API (see tests/test_run_e2e.py for the helpers).

One notice per incident, in plain words with the fix, never Telegram's raw phrases; one
notice when the channel resumes.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import (
    ADMIN,
    CHANNEL_A,
    BotProcess,
    Item,
    one_channel_config,
    read_urls,
    release_url,
    rss,
)

RAW_PHRASES = ("Forbidden", "'left'", "'kicked'", "Bad Request", "kicked from the channel chat")


def notices_about(api: FakeBotAPI, channel: str) -> list[str]:
    return [m.text for m in api.messages(ADMIN) if channel in m.text]


def rechecks(api: FakeBotAPI) -> int:
    return len(api.requests_for("getChat"))


def test_a_channel_lost_mid_run_is_one_plain_notice_and_its_return_another(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Kicked mid-run: one notice (past a recheck) saying so plainly, with the fix; made admin
    again: one 'can post again' notice, and the waiting post goes out."""
    api = fake_bot_api
    api.add_chat(ADMIN, "private", title="Ada")
    api.add_chat(CHANNEL_A, "channel", title="A news")
    url = feed_server.serve("/nida.xml", rss(Item(1)))
    config = one_channel_config(tmp_path, api, url, recheck_paused="0.5s", tick="0.25s")
    bot = BotProcess(config, token=api.token)
    try:
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 1, "the first post")
        api.kick(CHANNEL_A)
        feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
        bot.wait_for(lambda: notices_about(api, "a-news"), "the admin to be told")
        checked = rechecks(api)
        bot.wait_for(lambda: rechecks(api) >= checked + 2, "two rechecks of the paused channel")
        lost = notices_about(api, "a-news")
        api.set_bot_status(CHANNEL_A, "administrator")
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 2, "the waiting post")
        bot.wait_for(lambda: len(notices_about(api, "a-news")) >= 2, "the 'resumed' notice")
        time.sleep(1.0)  # room for a notice that should not come (two more rechecks)
        assert bot.terminate() == 0
    finally:
        bot.kill()
    assert len(lost) == 1, lost
    [notice] = lost
    assert "kicked out of" in notice
    assert "add @releasebot_test_bot back as an administrator" in notice
    assert "'Post messages'" in notice
    assert not any(phrase in notice for phrase in RAW_PHRASES), notice
    back = notices_about(api, "a-news")[1:]
    assert len(back) == 1, back
    assert "can post to a-news" in back[0]
    assert "again" in back[0]
    assert read_urls(api, CHANNEL_A) == [release_url(1), release_url(2)]


def test_a_channel_not_found_at_start_suggests_checking_its_username(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A channel whose @username finds no chat: one notice saying to check the @username or use
    the numeric chat id; rechecks that still fail say nothing new."""
    api = fake_bot_api
    api.add_chat(ADMIN, "private", title="Ada")
    api.add_chat(CHANNEL_A, "channel", username="a_news_renamed")
    url = feed_server.serve("/nida.xml", rss(Item(1)))
    config = one_channel_config(tmp_path, api, url, recheck_paused="0.5s", tick="0.25s")
    text = config.read_text(encoding="utf-8").replace(f"chat = {CHANNEL_A}", 'chat = "@a_news"')
    config.write_text(text, encoding="utf-8")
    bot = BotProcess(config, token=api.token)
    try:
        bot.wait_for(lambda: notices_about(api, "a-news"), "the admin to be told")
        checked = len(api.requests_for("getChat"))
        bot.wait_for(
            lambda: len(api.requests_for("getChat")) >= checked + 2, "two rechecks of @a_news"
        )
        assert bot.terminate() == 0
    finally:
        bot.kill()
    [notice] = notices_about(api, "a-news")
    assert "@a_news" in notice
    assert "check the @username" in notice
    assert "numeric chat id" in notice
    assert not any(phrase in notice for phrase in RAW_PHRASES), notice
