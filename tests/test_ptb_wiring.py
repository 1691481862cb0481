"""How the bot uses python-telegram-bot: defaults set once on the bot, no global warning
filter, against the strict fake Bot API."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bot.errors import RateLimitedError
from bot.render.post import Post
from bot.render.telegram_html import bold
from bot.telegram.sender import TelegramSender, make_bot
from tests.fakes.bot_api import FakeBotAPI

CHANNEL, OTHER, ADMIN = -1001, -1002, 501
REPO = Path(__file__).resolve().parent.parent


def test_importing_the_telegram_adapter_leaves_the_warning_filters_alone() -> None:
    """The Telegram side installs no filter for PTB's warnings as it is imported: a program
    (or test) that imports it sees the warnings it asked to see."""
    code = (
        "import warnings; from telegram.warnings import PTBUserWarning; "
        "before = list(warnings.filters); "
        "import bot.telegram.run, bot.telegram.check; "
        "print([f for f in warnings.filters if f not in before and "
        "issubclass(f[2], PTBUserWarning)] == [])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True", result.stderr


async def test_a_429_is_read_without_a_deprecation_warning(
    fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 becomes RateLimitedError with its wait, and PTB 22 prints no warning about
    `retry_after` turning into a timedelta (the bot opts in when it is built)."""
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    fake_bot_api.add_chat(CHANNEL, "channel")
    fake_bot_api.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with make_bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as bot:
            with pytest.raises(RateLimitedError) as raised:
                await TelegramSender(bot).send(CHANNEL, Post("<b>hi</b>", (), False))
    assert raised.value.retry_after == 7
    assert [str(w.message) for w in caught] == []


async def test_posts_and_notices_are_html_and_only_a_post_asking_for_it_has_a_preview(
    fake_bot_api: FakeBotAPI,
) -> None:
    """The bot's defaults make every message HTML without a link preview (a notice too); a
    post whose channel wants previews still gets one."""
    fake_bot_api.add_chat(CHANNEL, "channel")
    fake_bot_api.add_chat(OTHER, "channel")
    fake_bot_api.add_chat(ADMIN, "private")
    async with make_bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as bot:
        sender = TelegramSender(bot)
        await sender.send(CHANNEL, Post("<b>a</b> https://example.org/a", (), True))
        await sender.send(OTHER, Post("<b>b</b> https://example.org/b", (), False))
        await sender.send_text(ADMIN, bold("c https://example.org/c"))
    sent = [m for chat in (CHANNEL, OTHER, ADMIN) for m in fake_bot_api.messages(chat)]
    assert [m.text for m in sent] == [f"{x} https://example.org/{x}" for x in "abc"]
    assert [m.link_preview_options for m in sent] == [
        {"is_disabled": False},
        {"is_disabled": True},
        {"is_disabled": True},
    ]
