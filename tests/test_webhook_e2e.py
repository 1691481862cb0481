"""Webhook mode end to end: the real `releasebot run` with `[webhook] url`, the fake Bot API
calling it back on 127.0.0.1 as Telegram would (POST, secret header).

The reader-command checks imported from test_commands_e2e run here against the webhook
bot (this module's `bot` fixture); the tests below add what only webhook mode has: what
setWebhook carries, the 403 for a wrong or missing secret, the token kept out of the URL
and the log, and a polling run afterwards deleting the webhook.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.telegram.application import ALLOWED_UPDATES
from bot.telegram.webhook import path_for
from tests.fakes.bot_api_webhook import post_update
from tests.test_commands_e2e import (  # the same checks, here against the webhook bot
    Bot,
    Webhook,
    launch,
    running_bot,
    stop,
    test_channel_post_commands_are_answered_in_the_channel,
    test_group_commands_cover_only_the_groups_feeds,
    test_latest_takes_a_count_and_a_feed,
    test_search_with_no_match_says_so,
    test_start_welcomes_and_lists_the_feeds,
    test_style_keyboard_edits_the_citation_in_place,
    wait_for,
)

SAME_CHECKS = (
    test_start_welcomes_and_lists_the_feeds,
    test_latest_takes_a_count_and_a_feed,
    test_search_with_no_match_says_so,
    test_style_keyboard_edits_the_citation_in_place,
    test_group_commands_cover_only_the_groups_feeds,
    test_channel_post_commands_are_answered_in_the_channel,
)
HOOK = Webhook.on_a_free_port()
INTRUDER = 7070  # a private chat the tests post to directly


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """The e2e bot of test_commands_e2e, in webhook mode."""
    with running_bot(tmp_path_factory.mktemp("webhook"), HOOK) as running:
        yield running


def start_update(update_id: int, chat: int) -> dict[str, Any]:
    """A /start in a private chat, as Telegram POSTs it."""
    user = {"id": chat, "is_bot": False, "first_name": "Eve"}
    message = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private", "first_name": "Eve"},
        "from": user,
        "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    }
    return {"update_id": update_id, "message": message}


def test_set_webhook_carries_the_secret_the_update_types_and_keeps_pending(bot: Bot) -> None:
    """setWebhook: the URL under [webhook] url, the secret, the polling update types, and
    drop_pending_updates=false; the bot never calls getUpdates."""
    [call] = bot.api.requests_for("setWebhook")
    assert call.status == 200
    assert call.params["url"] == f"http://127.0.0.1:{HOOK.port}/{path_for(bot.api.token)}"
    assert call.params["secret_token"] == HOOK.secret
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    assert str(call.params["drop_pending_updates"]).lower() == "false"
    assert bot.api.requests_for("getUpdates") == []
    assert bot.api.requests_for("deleteWebhook") == []


def test_updates_arrive_by_post_with_the_secret(bot: Bot) -> None:
    """The commands above came by webhook: each POST carried the secret and got 200."""
    test_start_welcomes_and_lists_the_feeds(bot)
    deliveries = bot.api.webhook_deliveries
    assert deliveries
    assert {d.status for d in deliveries} == {200}


def test_wrong_or_missing_secret_gets_403_and_is_not_processed(bot: Bot) -> None:
    """A POST with a wrong secret or none is refused (403) and not answered; the same
    update with the right secret is answered, once."""
    bot.api.add_chat(INTRUDER, "private", title="Eve")
    url = f"http://127.0.0.1:{HOOK.port}/{path_for(bot.api.token)}"
    assert post_update(url, start_update(900001, INTRUDER), "not-the-secret") == 403
    assert post_update(url, start_update(900002, INTRUDER), None) == 403
    assert post_update(url, start_update(900003, INTRUDER), HOOK.secret) == 200
    [reply] = wait_for(lambda: bot.api.messages(INTRUDER) or None, "the reply", bot)
    time.sleep(0.5)  # had the refused ones been taken, their replies would be here by now
    assert [m.text for m in bot.api.messages(INTRUDER)] == [reply.text]
    assert "press releases" in reply.text


def test_the_token_is_in_neither_the_url_nor_the_log(bot: Bot) -> None:
    """The webhook path is derived from the token but is not it; the log never shows it."""
    webhook = bot.api.webhook
    assert webhook is not None
    path = urlsplit(webhook.url).path
    assert bot.api.token not in path
    assert bot.api.token.split(":", 1)[1] not in path
    assert "webhook mode: listening on 127.0.0.1" in bot.output()
    assert bot.api.token.split(":", 1)[1] not in bot.log.read_text(errors="replace")


def test_a_polling_run_afterwards_deletes_the_webhook(bot: Bot) -> None:
    """Stop the webhook bot, drop [webhook] from its config, start it again: it deletes
    the webhook, then polls (getUpdates works again) and answers commands."""
    assert stop(bot) == 0, bot.output()
    assert bot.api.webhook is not None  # a stop leaves it set, as PTB does
    config = bot.log.parent / "bot.toml"
    config.write_text(config.read_text().split("[webhook]")[0], encoding="utf-8")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": bot.api.token}
    env.pop("TELEGRAM_WEBHOOK_SECRET", None)
    log = bot.log.parent / "polling.log"
    polling = Bot(bot.api, launch(config, log, env), log)
    try:
        wait_for(lambda: bot.api.requests_for("getUpdates"), "getUpdates", polling)
        assert bot.api.webhook is None
        [delete] = bot.api.requests_for("deleteWebhook")
        first_poll = bot.api.requests_for("getUpdates")[0]
        requests = bot.api.requests
        assert requests.index(delete) < requests.index(first_poll)
        test_start_welcomes_and_lists_the_feeds(polling)
    finally:
        assert stop(polling) == 0, polling.output()
