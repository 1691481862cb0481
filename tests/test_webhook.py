"""Webhook mode's settings, its secret, the fake's Telegram rules, and the forms of `run`
that take no webhook (`--once`, `--dry-run`). End to end: tests/test_webhook_e2e.py."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot
from telegram.error import BadRequest, Conflict

from bot.config import Settings, settings_from_dict, webhook_secret_problem
from bot.errors import ConfigError
from bot.services.reload import keep_running_values
from bot.telegram.webhook import Webhook, path_for
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.inprocess import releasebot_here
from tests.test_run_e2e import CHANNEL_A, Item, one_channel_config, rss

ROOT = Path(__file__).resolve().parents[1]
SECRET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
TOKEN = "123456789:AAH-secret_part-of-the-token"


def settings(**webhook: str) -> Settings:
    return settings_from_dict({"webhook": webhook}, Path("."))


# --- [webhook] ----------------------------------------------------------------------------


def test_no_url_means_polling() -> None:
    """Without [webhook] url there is no webhook: `run` polls, as before."""
    assert Webhook.plan(settings(), TOKEN, "s") is None
    assert settings().webhook.listen == "127.0.0.1:8443"


@pytest.mark.parametrize(
    "url",
    [
        "http://bot.example.org",  # Telegram calls https only
        "https://bot.example.org:8444",  # nor any other port than 443, 80, 88, 8443
        "ftp://bot.example.org",
        "bot.example.org",
    ],
)
def test_a_url_telegram_would_refuse_is_a_config_error(url: str) -> None:
    """http (but to loopback), an odd port or no scheme: said when the config is read."""
    with pytest.raises(ConfigError) as caught:
        settings(url=url)
    assert any("webhook.url" in problem for problem in caught.value.problems)


@pytest.mark.parametrize(
    "url",
    ["https://bot.example.org", "https://bot.example.org:8443/tg/", "http://127.0.0.1:9000"],
)
def test_https_urls_and_loopback_http_are_accepted(url: str) -> None:
    """https on Telegram's ports; plain http only to this machine (a local Bot API server)."""
    assert settings(url=url).webhook.url == url.rstrip("/")


def test_the_default_path_is_derived_from_the_token_and_is_not_it() -> None:
    """The default path is a stable hash: the same token, the same URL; no part of the token."""
    hook = Webhook.plan(settings(url="https://bot.example.org"), TOKEN, "s")
    assert hook is not None
    assert hook.path == path_for(TOKEN) == path_for(TOKEN)
    assert path_for(TOKEN) != path_for(TOKEN + "x")
    assert TOKEN.split(":")[1] not in hook.path
    assert hook.webhook_url == f"https://bot.example.org/{hook.path}"
    assert (hook.host, hook.port) == ("127.0.0.1", 8443)


def test_a_configured_path_is_used_but_never_one_with_the_token() -> None:
    """[webhook] path replaces the derived one; a path holding the token is refused."""
    hook = Webhook.plan(settings(url="https://b.example.org", path="/tg/hook/"), TOKEN, "s")
    assert hook is not None
    assert hook.webhook_url == "https://b.example.org/tg/hook"
    holding_the_token = settings(url="https://b.example.org", path=f"x/{TOKEN.split(':')[1]}")
    with pytest.raises(ConfigError, match="must not contain the bot's token"):
        Webhook.plan(holding_the_token, TOKEN, "s")
    with pytest.raises(ConfigError):
        settings(url="https://b.example.org", path="a/../b")


def test_a_reload_keeps_the_webhook_until_a_restart() -> None:
    """SIGHUP's reload cannot move the webhook: it keeps the running one and names the keys."""
    running = settings(url="https://a.example.org")
    loaded = settings(url="https://b.example.org", listen="127.0.0.1:9000", path="p")
    kept, need_restart = keep_running_values(running, loaded)
    assert kept.webhook == running.webhook
    assert need_restart == ["webhook.listen", "webhook.path", "webhook.url"]


# --- the secret ---------------------------------------------------------------------------


@given(st.text(alphabet=SECRET_CHARS, min_size=1, max_size=256))
def test_every_secret_telegram_accepts_is_accepted(secret: str) -> None:
    """1-256 characters of A-Z a-z 0-9 _ -: Telegram's rule for secret_token."""
    assert webhook_secret_problem(secret) is None


@given(
    st.text(alphabet=SECRET_CHARS, max_size=300).flatmap(
        lambda good: st.one_of(
            st.just(good + "x" * 257),
            st.text(min_size=1).filter(lambda t: any(c not in SECRET_CHARS for c in t)),
        )
    )
)
def test_a_secret_telegram_refuses_is_refused_without_being_quoted(secret: str) -> None:
    """Too long or an odd character: refused, and the message never repeats the secret."""
    problem = webhook_secret_problem(secret)
    assert problem is not None
    assert secret not in problem or len(secret) < 3


def run_bot(
    config: Path, api: FakeBotAPI, *args: str, secret: str | None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token}
    env.pop("TELEGRAM_WEBHOOK_SECRET", None)
    if secret is not None:
        env["TELEGRAM_WEBHOOK_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def webhook_config(tmp_path: Path, api: FakeBotAPI, feed_url: str) -> Path:
    config = one_channel_config(tmp_path, api, feed_url)
    with config.open("a", encoding="utf-8") as out:
        out.write('[webhook]\nurl = "https://bot.example.org"\n')
    return config


@pytest.mark.parametrize(
    ("secret", "said"), [(None, "is not set"), ("two words", "must be 1-256 characters")]
)
def test_webhook_mode_without_a_usable_secret_exits_2(
    tmp_path: Path, secret: str | None, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """[webhook] url set, TELEGRAM_WEBHOOK_SECRET missing or malformed: one line, exit 2,
    nothing asked of Telegram; the secret itself is not printed."""
    with FakeBotAPI() as api:
        config = webhook_config(tmp_path, api, "http://127.0.0.1:9/x")
        if secret is None:  # the real process; the malformed secret's answer in-process
            result = run_bot(config, api, secret=secret)
        else:
            env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": secret}
            result = releasebot_here(capsys, ["--config", str(config), "run"], env=env)
        assert result.returncode == 2, result.stderr
        assert "TELEGRAM_WEBHOOK_SECRET" in result.stderr
        assert said in result.stderr
        assert "two words" not in result.stderr
        assert api.requests == []


@pytest.mark.parametrize(
    ("secret", "code", "said"),
    [(None, 2, "is not set"), ("two words", 2, "must be 1-256 characters"), ("s3cr3t-ok", 0, "")],
)
def test_check_says_whether_the_webhook_secret_would_let_the_bot_start(
    tmp_path: Path, secret: str | None, code: int, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`releasebot check` with [webhook] url refuses a missing or malformed secret as `run`
    would (exit 2, the secret not printed), and says so when it is usable."""
    with FakeBotAPI() as api:
        config = webhook_config(tmp_path, api, "http://127.0.0.1:9/x")
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_WEBHOOK_SECRET"}
        if secret is not None:
            env["TELEGRAM_WEBHOOK_SECRET"] = secret
        if secret is None:  # the real process; the other secrets' answers in-process
            result = subprocess.run(
                [sys.executable, "-m", "bot", "--config", str(config), "check"],
                cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60,
            )  # fmt: skip
        else:
            result = releasebot_here(
                capsys, ["--config", str(config), "check"], env={"TELEGRAM_WEBHOOK_SECRET": secret}
            )
        assert result.returncode == code, result.stderr
        assert said in result.stderr
        assert "two words" not in result.stdout + result.stderr
        if code == 0:
            assert "webhook ok: TELEGRAM_WEBHOOK_SECRET" in result.stdout
            assert "s3cr3t-ok" not in result.stdout + result.stderr


def test_run_once_takes_no_webhook(tmp_path: Path) -> None:
    """`run --once` with [webhook] url: polls, sends, exits 0; no secret needed, no
    setWebhook (it takes no updates)."""
    with FeedServer() as feeds, FakeBotAPI() as api:
        api.add_chat(CHANNEL_A, "channel", title="A news")
        url = feeds.serve("/nida.xml", rss(Item(1)))
        result = run_bot(webhook_config(tmp_path, api, url), api, "--once", secret=None)
        assert result.returncode == 0, result.stderr
        assert len(api.messages(CHANNEL_A)) == 1
        assert api.requests_for("setWebhook") == []
        assert api.requests_for("deleteWebhook") == []


def test_dry_run_takes_no_webhook(tmp_path: Path) -> None:
    """`run --dry-run` with [webhook] url: prints its posts, needs no secret, asks
    Telegram nothing, and stops on SIGTERM with exit 0."""
    with FeedServer() as feeds, FakeBotAPI() as api:
        url = feeds.serve("/nida.xml", rss(Item(1)))
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token}
        env.pop("TELEGRAM_WEBHOOK_SECRET", None)
        config = webhook_config(tmp_path, api, url)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "run", "--dry-run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # the printed post (blocks until it comes)
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert first.strip(), errors
        assert process.returncode == 0, errors
        assert "TELEGRAM_WEBHOOK_SECRET" not in errors
        assert api.requests == []


# --- the fake holds the bot to Telegram's rules -------------------------------------------


def call(api: FakeBotAPI, method: str, **params: object) -> object:
    async def go() -> object:
        async with Bot(api.token, base_url=api.base_url) as bot:
            return await getattr(bot, method)(**params)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("params", "refusal"),
    [
        ({"url": "http://bot.example.org/h"}, "An HTTPS URL must be provided"),
        ({"url": "https://bot.example.org:9443/h"}, "only on ports 80, 88, 443 or 8443"),
        (
            {"url": "https://bot.example.org/h", "secret_token": "has space"},
            "secret token contains unallowed characters",
        ),
    ],
)
def test_the_fake_refuses_webhooks_telegram_refuses(params: dict[str, str], refusal: str) -> None:
    """Outside --local mode: https on Telegram's ports, a well-formed secret."""
    with FakeBotAPI() as api:
        with pytest.raises(BadRequest, match=f"(?i){refusal}"):
            call(api, "set_webhook", **params)
        assert api.webhook is None


def test_the_fake_refuses_getupdates_while_a_webhook_is_set() -> None:
    """409 while hooked (as Telegram); deleteWebhook makes getUpdates work again."""
    with FakeBotAPI() as api:
        assert call(api, "set_webhook", url="https://bot.example.org/h", secret_token="abc")
        assert api.webhook is not None
        assert api.webhook.secret == "abc"
        with pytest.raises(Conflict, match="webhook is active"):
            call(api, "get_updates")
        assert call(api, "delete_webhook")
        assert api.webhook is None
        assert call(api, "get_updates") == ()
