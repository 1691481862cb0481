"""Issue 13 red-team findings: each test failed on main before its fix."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import BotProcess, Item, one_channel_config, rss

SECRET = "the-webhook-secret_4242"


def test_the_webhook_secret_is_not_in_a_verbose_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With -v, PTB logs setWebhook's parameters: the secret token is redacted there."""
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FeedServer() as feeds, FakeBotAPI(local=True) as api:
        config = one_channel_config(tmp_path, api, feeds.serve("/f.xml", rss(Item(1))))
        with config.open("a") as out:
            out.write(f'[webhook]\nurl = "http://127.0.0.1:{port}"\n')
            out.write(f'listen = "127.0.0.1:{port}"\n')
        bot = BotProcess(config, token=api.token, verbose=True)
        try:
            bot.wait_for(lambda: bool(api.requests_for("setWebhook")), "setWebhook")
            bot.wait_for(lambda: "setWebhook" in bot.stderr, "the setWebhook log line")
            assert bot.terminate() == 0
        finally:
            bot.kill()
        [call] = api.requests_for("setWebhook")
        assert call.params["secret_token"] == SECRET
        assert SECRET not in bot.stderr + bot.stdout
