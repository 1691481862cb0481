"""The bot token never shows: not in output, logs, stored errors or notices to admins.

It is redacted as the bot uses it (stripped of the whitespace a secret file leaves), in
any letter case (python-telegram-bot lower-cases the rest of some error texts), URL-encoded,
and its secret part after the colon alone. A token Telegram rejects is one line, exit 2.
The end-to-end tests run the real `releasebot run` against the fake Bot API, script
Telegram errors that echo the token, and scan everything a person or a file could see.
"""

from __future__ import annotations

import logging
import string
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.logs import REDACTED, Redactor, RedactToken
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import (
    ADMIN,
    CHANNEL_A,
    TOKEN_VARIABLE,
    BotProcess,
    Item,
    db_rows,
    one_channel_config,
    rss,
    write_config,
)

REPO = Path(__file__).resolve().parent.parent
WRONG = "987654321:AAH-wrong_token-Telegram-does-not-know"
REJECTED = f"releasebot: Telegram rejected the bot token (401): check {TOKEN_VARIABLE}"


def forms(token: str) -> set[str]:
    """Every form of the token that must never show."""
    secret = token.split(":", 1)[1]
    encoded = quote(token, safe="")
    return {token, token.lower(), token.upper(), encoded, encoded.lower(), secret, secret.lower()}


def leaks(token: str, **texts: str | bytes) -> list[str]:
    """'where: form' for each form of the token found in each text (bytes read as latin-1)."""
    found = []
    for where, text in texts.items():
        seen = text.decode("latin-1") if isinstance(text, bytes) else text
        found += [f"{where}: {form}" for form in forms(token) if form in seen]
    return found


def database_bytes(config: Path) -> bytes:
    files = [config.parent / name for name in ("bot.db", "bot.db-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


def status(config: Path) -> subprocess.CompletedProcess[str]:
    """`releasebot status`, without the token in its environment: what is stored shows."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "status"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the redactor -----------------------------------------------------------------------

tokens = st.builds(
    lambda bot_id, secret: f"{bot_id}:{secret}",
    st.integers(min_value=1, max_value=10**10),
    st.text(string.ascii_letters + string.digits + "_-", min_size=30, max_size=46),
)
padding = st.text(" \t\r\n", max_size=3)
disguises = st.sampled_from(
    [
        lambda t: t,
        str.lower,
        str.upper,
        str.swapcase,
        lambda t: quote(t, safe=""),
        lambda t: quote(t, safe="").lower(),
        lambda t: t.split(":", 1)[1],
        lambda t: t.split(":", 1)[1].lower(),
        lambda t: f"https://api.telegram.org/bot{t}/getMe",
    ]
)


@given(tokens, padding, padding, st.lists(st.tuples(st.text(), disguises), min_size=1))
def test_no_form_of_the_token_survives_redaction(
    token: str, before: str, after: str, pieces: list[tuple[str, object]]
) -> None:
    """Whatever surrounds it, every form of the token is replaced, given the token as
    read from the environment (padded with whitespace)."""
    text = "".join(prefix + disguise(token) for prefix, disguise in pieces)  # type: ignore[operator]
    redacted = Redactor(before + token + after)(text)
    assert not leaks(token, redacted=redacted)
    assert REDACTED in redacted


def test_the_log_filter_redacts_messages_arguments_and_tracebacks() -> None:
    """A log line whose argument or traceback holds the lower-cased token shows neither."""
    token = "123456789:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"
    try:
        raise RuntimeError(f"Chat {token.lower()} not found")
    except RuntimeError:
        record = logging.LogRecord(
            "telegram", logging.ERROR, __file__, 1, "sending to %s failed", (token,), None
        )
        record.exc_info = sys.exc_info()
    RedactToken(Redactor(f" {token}\n")).filter(record)
    line = logging.Formatter().format(record)
    assert "RuntimeError" in line
    assert not leaks(token, line=line)


# --- end to end -----------------------------------------------------------------------


@pytest.mark.parametrize("once", [True, False], ids=["run --once", "run"])
def test_a_rejected_token_is_one_line_and_exit_2(
    tmp_path: Path, fake_bot_api: FakeBotAPI, once: bool
) -> None:
    """`run` and `run --once` with a token Telegram rejects: one line, exit 2, no traceback,
    and the token nowhere, even with -v."""
    config = write_config(tmp_path, api_base_url=fake_bot_api.base_url, feeds={}, channels=[])
    args = ["--once"] if once else []
    plain = BotProcess(config, *args, token=f"{WRONG}\n")
    assert plain.wait() == 2
    assert plain.stderr.splitlines() == [REJECTED]
    assert plain.stdout == ""
    verbose = BotProcess(config, *args, token=f"  {WRONG}\n", verbose=True)
    assert verbose.wait() == 2
    assert verbose.stderr.splitlines()[-1] == REJECTED
    assert "Traceback" not in verbose.stderr
    assert "getMe" in verbose.stderr  # -v really logged the request
    assert not leaks(WRONG, stderr=verbose.stderr, database=database_bytes(config))


def test_a_403_that_echoes_the_token_lower_cased_is_stored_and_shown_redacted(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """`-v run` with a padded token; Telegram's 403 names the token in lower case. The pause
    reason the admin is sent, the log, the database and `status` all show it redacted."""
    api, token = fake_bot_api, fake_bot_api.token
    api.add_chat(CHANNEL_A, "channel")
    api.add_chat(ADMIN, "private")
    # A refusal the notice does not recognise, so it quotes Telegram's words, token and all.
    api.fail_next("getChat", 403, f"Forbidden: no access to the chat of {token.lower()}")
    config = one_channel_config(tmp_path, api, feed_server.serve("/nida.xml", rss(Item(1))))
    bot = BotProcess(config, token=f"\t{token} \n", verbose=True)
    try:
        bot.wait_for(lambda: bool(api.messages(ADMIN)), "the admin's notice")
        bot.wait_for(
            lambda: bool(db_rows(config, "SELECT 1 FROM channels WHERE paused = 1")),
            "the pause to be stored",
        )
        # past start-up: a SIGTERM while PTB still bootstraps its polling exits 1
        bot.wait_for(lambda: api.polls_waiting > 0, "polling to start")  # its first long poll
        assert bot.terminate() == 0
    finally:
        bot.kill()
    shown = status(config)
    assert "no access to the chat of" in shown.stdout
    notice = api.messages(ADMIN)[0].text
    assert "no access to the chat of" in notice
    assert "getMe" in bot.stderr
    assert not leaks(
        token,
        stdout=bot.stdout,
        stderr=bot.stderr,
        status=shown.stdout + shown.stderr,
        notice=notice,
        database=database_bytes(config),
    )


def test_400s_that_echo_the_token_lower_cased_and_url_encoded_are_stored_redacted(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Two sends refused with a 400 quoting the token (PTB lower-cases it): the failed posts'
    errors in the database, the log and `status` hold no form of the token."""
    api, token = fake_bot_api, fake_bot_api.token
    api.add_chat(CHANNEL_A, "channel")
    api.fail_next("sendMessage", 400, f"Bad Request: can't parse entities near '{token}'")
    encoded = quote(token, safe="")
    api.fail_next("sendMessage", 400, f"Bad Request: wrong URL https://x.example/bot{encoded}/")
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
    config = one_channel_config(tmp_path, api, url)
    bot = BotProcess(config, "--once", token=f"{token}\n", verbose=True)
    assert bot.wait() == 1, bot.stderr
    errors = [row["error"] for row in db_rows(config, "SELECT error FROM deliveries")]
    assert any("Can't parse entities near" in (error or "") for error in errors)
    shown = status(config)
    assert "Traceback" not in bot.stderr + shown.stderr
    assert not leaks(
        token,
        stdout=bot.stdout,
        stderr=bot.stderr,
        status=shown.stdout + shown.stderr,
        database=database_bytes(config),
    )
