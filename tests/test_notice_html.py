"""Admin notices are Telegram HTML built only in bot/render/: whatever Telegram's error text
holds reaches the admin as written, through the real sender and the strict fake Bot API."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot

from bot.config import settings_from_dict
from bot.services.config_sync import sync_config
from bot.services.dispatcher import Dispatcher
from bot.services.pacing import Pacer
from bot.store import Store
from bot.telegram.sender import TelegramSender, make_bot
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI

CHANNEL, ADMIN = -1001, 501
ODD_REFUSAL = "Forbidden: <b>PEER_FLOOD</b> & the bot may not post here for now"
TAGS = re.compile(r"</?(b|i|u|s|a|code|pre|blockquote)[ >]")
BOT_PACKAGE = Path(__file__).resolve().parent.parent / "bot"


@pytest.fixture
async def bot(fake_bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    fake_bot_api.add_chat(CHANNEL, "channel", title="A news")
    fake_bot_api.add_chat(ADMIN, "private", title="Ada")
    async with make_bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as client:
        yield client


async def test_a_refusal_with_markup_characters_reaches_the_admin_as_written(
    tmp_path: Path, fake_bot_api: FakeBotAPI, bot: Bot
) -> None:
    """Telegram refuses a post with a text holding `<`, `>` and `&`: the channel pauses and the
    admin's notice quotes that text character for character (no tag, no parse error)."""
    settings = settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "bot.db"), "admins": [ADMIN]},
            "feeds": [{"name": "nida", "url": "https://example.org/n.xml", "publisher": "NIDA"}],
            "channels": [{"name": "a-news", "chat": CHANNEL, "feeds": ["nida"]}],
        },
        tmp_path,
    )
    store = Store.open(settings.database_path)
    try:
        now = make_release(1).published
        sync_config(store, settings, now)
        store.ingest("nida", [make_release(1)], now=now, flood_limit=50)
        dispatcher = Dispatcher(
            settings,
            store=store,
            sender=TelegramSender(bot),
            clock=lambda: now,
            pacer=Pacer(),
            bot_username=bot.username,
        )
        fake_bot_api.fail_next("sendMessage", 403, ODD_REFUSAL, chat=CHANNEL)
        report = await dispatcher.drain()
    finally:
        store.close()
    assert report.paused == ["a-news"]
    [notice] = fake_bot_api.messages(ADMIN)
    assert ODD_REFUSAL in notice.text
    assert notice.text.startswith("release-bot cannot post to a-news: ")


def test_html_is_made_only_in_render() -> None:
    """No module outside bot/render/ builds `Html` itself or writes a tag: the senders take
    `Html` only, so every message sent as HTML was escaped by a renderer."""
    offenders = []
    for path in sorted(BOT_PACKAGE.rglob("*.py")):
        if path.parent.name == "render":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            made = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Html"
            if made or (isinstance(node, ast.JoinedStr) and TAGS.search(ast.unparse(node))):
                offenders.append(f"{path.relative_to(BOT_PACKAGE)}:{node.lineno}")
    assert offenders == []
