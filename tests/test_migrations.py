"""Migrations repair what older versions stored."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.models import Publisher
from bot.render.cite import STYLES, render_citation
from bot.render.tokens import scrub_tokens
from bot.store import Store
from tests.factories import make_release
from tests.test_cli import run_cli, write_config

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_links_stored_before_they_were_checked_are_dropped_at_upgrade(tmp_path: Path) -> None:
    """A `javascript:` link stored by an older version reaches no citation after the upgrade."""
    path = tmp_path / "bot.db"
    store = Store.open(path)
    store.sync_feeds([("nida", "https://nida.example/feed")])
    store.ingest("nida", [make_release(1), make_release(2)], now=NOW, flood_limit=10)
    store.close()
    conn = sqlite3.connect(path)  # as an older version left it: before m004, no url, bad link
    with conn:
        conn.execute("UPDATE releases SET link = ' JavaScript:alert(1)', url = '' WHERE id = 1")
        conn.execute(
            "DELETE FROM _sqlite_migrations WHERE name = 'm004_drop_links_that_are_not_http'"
        )
    conn.close()
    store = Store.open(path)
    try:
        bad, good = store.release(1), store.release(2)
    finally:
        store.close()
    assert bad is not None
    assert good is not None
    assert bad.release.link == ""
    assert good.release.link == "https://example.org/releases/2?utm_source=rss"
    publisher = Publisher(name="National Institute on Drug Abuse", short_name="NIDA")
    for style in STYLES:
        cited = render_citation(bad.release, publisher, style, accessed=date(2026, 11, 29))
        assert "javascript" not in cited.lower(), style


SECRET_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
OLD_TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw7"  # shaped like a real one


def token_forms(token: str) -> list[str]:
    secret = token.partition(":")[2]
    return [token, token.lower(), token.upper(), token.replace(":", "%3A"), secret.lower()]


def test_tokens_stored_by_an_older_version_are_never_shown_again(tmp_path: Path) -> None:
    """Error texts an older version stored with the token in them (lower-cased by PTB) are
    scrubbed at upgrade: `status` and `retry --list` print no form of it, with no token set."""
    feeds = {"nida": "https://nida.example/feed"}
    config = write_config(tmp_path, feeds, channels={"a-news": ["nida"]})
    done = run_cli("status", cwd=tmp_path, config=config, check_clean=False)
    assert done.returncode in (0, 1), done.stderr
    path = tmp_path / "releasebot.db"
    store = Store.open(path)
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    store.close()
    echoed = f"Forbidden: bot{OLD_TOKEN.lower()} was kicked"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE channels SET paused = 1, pause_error = ?", [echoed])
        conn.execute("UPDATE deliveries SET state = 'failed', error = ?", [echoed])
        conn.execute(
            "UPDATE feeds SET last_error = ?, failures = 1",
            [f"https://api.example/bot{OLD_TOKEN.replace(':', '%3A')}/getMe: 502"],
        )
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_scrub_stored_tokens'")
    conn.close()
    status = run_cli("status", cwd=tmp_path, config=config)
    listed = run_cli("retry", "--list", cwd=tmp_path, config=config)
    assert "a-news" in status.stdout
    assert "was kicked" in listed.stdout
    printed = status.stdout + status.stderr + listed.stdout + listed.stderr
    stored = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("*.db-wal"))
    for form in token_forms(OLD_TOKEN):
        assert form not in printed
        assert form.encode() not in stored


@given(
    bot_id=st.integers(min_value=100_000, max_value=99_999_999_999),
    secret=st.text(SECRET_ALPHABET, min_size=35, max_size=35),
    around=st.sampled_from(["", "bot", "/bot", "token ", "…", "x "]),
)
def test_every_token_shape_is_scrubbed(bot_id: int, secret: str, around: str) -> None:
    """Any `<id>:<secret>`, in any case and with the colon URL-encoded, is scrubbed."""
    token = f"{bot_id}:{secret}"
    for form in (token, token.lower(), token.upper(), token.replace(":", "%3a")):
        assert scrub_tokens(f"{around}{form} failed") == f"{around}[TOKEN] failed"


def test_ordinary_text_is_not_taken_for_a_token() -> None:
    """URLs, dates, hashes and ids stay as they are."""
    for text in (
        "https://nida.nih.gov/news-events/news-releases/2014/04/baclofen",
        "2026-11-29T19:20:41+00:00 chat -1001234567890",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Bad Request: message is too long (4097 > 4096)",
    ):
        assert scrub_tokens(text) == text
