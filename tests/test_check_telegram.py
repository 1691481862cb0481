"""`releasebot check --network` asks Telegram too: the real CLI process against the strict
fake Bot API (`bot.api_base_url` points at it), with TELEGRAM_BOT_TOKEN in its environment;
the tests about one channel's line run the command in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.inprocess import releasebot_here
from tests.test_run_e2e import CHANNEL_A, CHANNEL_N, Item, rss, write_config

REPO = Path(__file__).resolve().parent.parent
BOT = "@releasebot_test_bot"


def check_network(config: Path, token: str | None) -> subprocess.CompletedProcess[str]:
    """`python -m bot --config CONFIG check --network`, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN",)}
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "check", "--network"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def check_network_here(
    capsys: pytest.CaptureFixture[str], config: Path, token: str | None
) -> subprocess.CompletedProcess[str]:
    """The same command by `bot.cli.main` in this process (tests/inprocess.py): for the
    tests about what a channel's line says; the exit-0 and exit-2 paths keep the process."""
    env = {} if token is None else {"TELEGRAM_BOT_TOKEN": token}
    done = releasebot_here(capsys, ["--config", str(config), "check", "--network"], env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def config_for(
    tmp: Path, api: FakeBotAPI, feeds: FeedServer, channels: list[tuple[str, int | str]]
) -> Path:
    url = feeds.serve("/nida.xml", rss(Item(1)))
    path = write_config(
        tmp,
        api_base_url=api.base_url,
        feeds={"nida": url},
        channels=[(name, 0, ["nida"]) for name, _ in channels],
    )
    text = path.read_text(encoding="utf-8")
    for name, chat in channels:  # a chat may be an @username: quote it
        value = f'"{chat}"' if isinstance(chat, str) else str(chat)
        text = text.replace(f'name = "{name}"\nchat = 0', f'name = "{name}"\nchat = {value}')
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_token_and_channels_pass_with_ok_lines(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """The token and each channel get an 'ok' line; exit 0; nothing is sent."""
    fake_bot_api.add_chat(CHANNEL_A, "channel", title="A news")
    config = config_for(tmp_path, fake_bot_api, feed_server, [("a-news", CHANNEL_A)])
    done = check_network(config, fake_bot_api.token)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "feed nida: ok, 1 releases (Press releases)" in lines
    assert f"telegram: ok, the token belongs to {BOT}" in lines
    assert "channel a-news (-1001): ok, the bot may post in the channel 'A news'" in lines
    assert fake_bot_api.requests_for("sendMessage") == []


def test_a_wrong_token_is_one_line_and_exit_2(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A token Telegram rejects: one line naming the variable, exit 2, as `run` says it."""
    fake_bot_api.add_chat(CHANNEL_A, "channel", title="A news")
    config = config_for(tmp_path, fake_bot_api, feed_server, [("a-news", CHANNEL_A)])
    wrong = "123456:" + "x" * 35
    done = check_network(config, wrong)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "releasebot: Telegram rejected the bot token (401): check TELEGRAM_BOT_TOKEN"
    ]
    assert "x" * 35 not in done.stdout + done.stderr
    assert "feed nida: ok" in done.stdout  # the rest of the check still ran


def test_a_channel_where_the_bot_is_only_a_member_gets_the_fix(
    tmp_path: Path,
    fake_bot_api: FakeBotAPI,
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The bot is a plain member of a channel: the line says to make it an administrator with
    'Post messages'; exit 1. The good channel still says ok."""
    fake_bot_api.add_chat(CHANNEL_A, "channel", title="A news")
    fake_bot_api.add_chat(CHANNEL_N, "channel", title="N news", bot_status="member")
    config = config_for(
        tmp_path, fake_bot_api, feed_server, [("a-news", CHANNEL_A), ("n-news", CHANNEL_N)]
    )
    done = check_network_here(capsys, config, fake_bot_api.token)
    assert done.returncode == 1
    [line] = [line for line in done.stdout.splitlines() if line.startswith("channel n-news")]
    assert line == (
        "channel n-news (-1003): FAILED: the bot is not an administrator of the channel -1003"
        f" with the right to post; fix: make {BOT} an administrator of -1003 and give it"
        " 'Post messages'"
    )
    assert "channel a-news (-1001): ok" in done.stdout


def test_a_channel_not_found_suggests_checking_the_username(
    tmp_path: Path,
    fake_bot_api: FakeBotAPI,
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An @username that finds no chat (renamed channel): check the @username or use the
    numeric chat id; exit 1."""
    fake_bot_api.add_chat(CHANNEL_A, "channel", username="a_news_2")
    config = config_for(tmp_path, fake_bot_api, feed_server, [("a-news", "@a_news")])
    done = check_network_here(capsys, config, fake_bot_api.token)
    assert done.returncode == 1
    [line] = [line for line in done.stdout.splitlines() if line.startswith("channel a-news")]
    assert line.startswith("channel a-news (@a_news): FAILED: Telegram finds no chat @a_news")
    assert "fix: check the @username @a_news in the config" in line
    assert "numeric chat id" in line


def test_without_a_token_telegram_is_not_checked_and_says_so(
    tmp_path: Path,
    fake_bot_api: FakeBotAPI,
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No TELEGRAM_BOT_TOKEN: the feeds are checked, Telegram is named as not checked; exit 0."""
    config = config_for(tmp_path, fake_bot_api, feed_server, [("a-news", CHANNEL_A)])
    done = check_network_here(capsys, config, None)
    assert done.returncode == 0, done.stderr
    assert "telegram: not checked: set TELEGRAM_BOT_TOKEN" in done.stdout
    assert fake_bot_api.requests == []
