"""Log lines as text or JSON (`--log-format`, `[bot] log_format`), with feed, channel,
release and delivery fields, and never the bot token.

The formatters are checked through the handler the bot installs (its token filter
included); the end-to-end tests run the real `releasebot run --once` against the fake
Bot API and read its stderr the way a log shipper would.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import settings_from_dict
from bot.logs import (
    LogFormat,
    Redactor,
    log_fields,
    log_handler,
    text_value,
)
from bot.services.reload import keep_running_values
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import (
    CHANNEL_A,
    BotProcess,
    Item,
    one_channel_config,
    read_urls,
    release_url,
    rss,
    write_config,
)
from tests.test_token_redaction import leaks, tokens

REPO = Path(__file__).resolve().parent.parent

TOKEN = "123456789:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"


class Capture:
    """A logger whose lines, formatted by the bot's own handler, land in a string."""

    count = 0

    def __init__(self, log_format: LogFormat, token: str = "") -> None:
        Capture.count += 1
        self.stream = io.StringIO()
        self.logger = logging.getLogger(f"test.log_format.{Capture.count}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.handlers[:] = [log_handler(Redactor(token), log_format, self.stream)]

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


def raised(text: str) -> Any:
    """The exc_info of a RuntimeError(text), raised and caught."""
    try:
        raise RuntimeError(text)
    except RuntimeError:
        return sys.exc_info()


# --- text -------------------------------------------------------------------------------


def test_text_lines_keep_the_message_and_end_with_the_fields() -> None:
    """A text line reads as before, then `feed=`, `channel=`, `release=`, `delivery=`."""
    capture = Capture("text")
    fields = log_fields(delivery=7, channel="a-news", release=3, feed="nida")
    capture.logger.warning("delivery %d: %s; retrying in %.0f s", 7, "HTTP 502", 4.0, extra=fields)
    capture.logger.info("the database can be written again; polling resumed")
    first, second = capture.lines
    assert f" WARNING {capture.logger.name}: " in first
    assert first.endswith(
        ": delivery 7: HTTP 502; retrying in 4 s feed=nida channel=a-news release=3 delivery=7"
    )
    assert second.endswith(": the database can be written again; polling resumed")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("nida", "nida"),
        ("NIH News", '"NIH News"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("Bundesamt für Umwelt", '"Bundesamt für Umwelt"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("\x1b[31mred", '"\\u001b[31mred"'),
        ("next\u2028line", '"next\\u2028line"'),
    ],
)
def test_text_field_values_are_quoted_when_they_hold_spaces_or_quotes(
    value: str, shown: str
) -> None:
    """A name with a space, quote, `=` or line break is shown quoted; a plain one bare."""
    capture = Capture("text")
    capture.logger.error("feed failed", extra=log_fields(feed=value))
    assert capture.lines == [capture.lines[0]]  # one line, even for a line break
    assert capture.lines[0].endswith(f"feed failed feed={shown}")


@given(st.text())
def test_every_text_field_value_reads_back(value: str) -> None:
    """Whatever a name holds, `key=value` gives it back: bare, or JSON-quoted on one line."""
    shown = text_value(value)
    assert shown.isprintable()  # no line break, no terminal escape
    if shown.startswith('"'):
        assert json.loads(shown) == value
    else:
        assert shown == value
        assert value
        assert not any(c.isspace() or c in "\"'=\\" for c in value)


def test_a_message_with_a_line_break_stays_one_line() -> None:
    """An error text with line breaks or a terminal escape is one line, shown escaped."""
    capture = Capture("text")
    capture.logger.warning(
        "feed failed: %s", "HTTP 500\nBad gateway\x1b[2J", extra=log_fields(feed="nida")
    )
    assert len(capture.lines) == 1
    assert capture.lines[0].endswith("feed failed: HTTP 500\\nBad gateway\\u001b[2J feed=nida")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_log_call_with_bad_arguments_is_logged_without_the_token(
    log_format: LogFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed log call becomes a redacted line, not logging's raw error report."""
    capture = Capture(log_format, token=TOKEN)
    capture.logger.error("sending to %s failed: %d", f"https://api.telegram.org/bot{TOKEN}/x")
    assert TOKEN not in capture.stream.getvalue() + capsys.readouterr().err
    assert "--- Logging error ---" not in capsys.readouterr().err
    assert len(capture.lines) == 1
    assert "bad arguments" in capture.lines[0]


def test_text_tracebacks_follow_the_line_with_its_fields() -> None:
    """In text, an exception's traceback follows the line (as before); the fields stay on it."""
    capture = Capture("text")
    capture.logger.error(
        "feed %s: bug", "nida", exc_info=raised("boom"), extra=log_fields(feed="nida")
    )
    assert capture.lines[0].endswith("feed nida: bug feed=nida")
    assert capture.lines[-1] == "RuntimeError: boom"


# --- JSON -------------------------------------------------------------------------------


def test_json_lines_are_one_object_each_with_time_level_logger_message_and_fields() -> None:
    """Each line parses alone; numbers stay numbers; time is ISO 8601 in UTC."""
    capture = Capture("json")
    before = datetime.now().astimezone()
    capture.logger.info(
        "delivery %d: posted to %s (message %d)",
        1,
        "a-news",
        42,
        extra=log_fields(delivery=1, channel="a-news", release=5),
    )
    capture.logger.warning("feed %s failed: %s", "nida", "HTTP 404", extra=log_fields(feed="nida"))
    capture.logger.info("no fields here")
    posted, failed, plain = capture.events()
    assert posted == {
        "time": posted["time"],
        "level": "INFO",
        "logger": capture.logger.name,
        "message": "delivery 1: posted to a-news (message 42)",
        "channel": "a-news",
        "release": 5,
        "delivery": 1,
    }
    when = datetime.fromisoformat(posted["time"])
    assert when.utcoffset() == timedelta(0)
    assert abs(when - before) < timedelta(seconds=5)
    assert (failed["level"], failed["feed"], failed["message"]) == (
        "WARNING",
        "nida",
        "feed nida failed: HTTP 404",
    )
    assert set(plain) == {"time", "level", "logger", "message"}


def test_a_json_exception_is_a_traceback_field_on_the_same_line() -> None:
    """An exception does not break the line: its traceback is a string field."""
    capture = Capture("json")
    capture.logger.error(
        "a poll round failed\nsecond line",
        exc_info=raised("boom\nmore"),
        extra=log_fields(feed="x"),
    )
    [line] = capture.lines
    event = json.loads(line)
    assert event["message"] == "a poll round failed\nsecond line"
    assert event["traceback"].startswith("Traceback (most recent call last):")
    assert event["traceback"].endswith("RuntimeError: boom\nmore")
    assert event["feed"] == "x"


def test_json_lines_are_ascii_and_give_back_non_ascii_text() -> None:
    """Non-ASCII names and messages survive (escaped), so any stream encoding can carry them."""
    capture = Capture("json")
    name = "Bundesamt für Umwelt 环境"
    capture.logger.info("feed %s: 1 new — «Größe»", name, extra=log_fields(feed=name))
    [line] = capture.lines
    assert line.isascii()
    event = json.loads(line)
    assert event["message"] == f"feed {name}: 1 new — «Größe»"
    assert event["feed"] == name


@settings(max_examples=50)
@given(st.text(), st.text(), st.integers(min_value=1, max_value=2**63))
def test_any_message_and_field_make_one_json_line_that_reads_back(
    message: str, feed: str, delivery: int
) -> None:
    """Whatever the message and names hold (line breaks, quotes, braces), one line, parsed."""
    capture = Capture("json")
    capture.logger.warning("%s", message, extra=log_fields(feed=feed, delivery=delivery))
    [line] = capture.stream.getvalue().split("\n")[:-1]
    event = json.loads(line)
    assert (event["message"], event["feed"], event["delivery"]) == (message, feed, delivery)


# --- the token --------------------------------------------------------------------------


def log_with_token_everywhere(capture: Capture, token: str) -> None:
    """A line with the token in an argument, in a field (a URL) and in the exception."""
    url = f"https://api.telegram.org/bot{token}/sendMessage"
    capture.logger.error(
        "sending to %s failed",
        token.lower(),
        exc_info=raised(f"Chat {token} not found at {url}"),
        extra=log_fields(channel=url, feed=token.upper(), delivery=3),
    )


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_token_shows_in_no_message_field_or_traceback(log_format: LogFormat) -> None:
    """The token in a message argument, a field value or a traceback is redacted in both
    forms; the rest of the line stays."""
    capture = Capture(log_format, token=f" {TOKEN}\n")
    log_with_token_everywhere(capture, TOKEN)
    written = capture.stream.getvalue()
    assert not leaks(TOKEN, written=written)
    assert "RuntimeError" in written
    assert "[TOKEN]" in written
    if log_format == "json":
        [event] = capture.events()
        assert event["channel"] == "https://api.telegram.org/bot[TOKEN]/sendMessage"
        assert event["delivery"] == 3


@settings(max_examples=30)
@given(tokens, st.sampled_from(["text", "json"]))
def test_no_token_survives_either_format(token: str, log_format: LogFormat) -> None:
    """Whatever the token, no form of it reaches a text or JSON line."""
    capture = Capture(log_format, token=token)
    log_with_token_everywhere(capture, token)
    assert not leaks(token, written=capture.stream.getvalue())


# --- the real process -------------------------------------------------------------------


@pytest.fixture
def posted_twice(tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer) -> Path:
    """A config whose feed "nida" has two new releases for channel "a-news"."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
    return one_channel_config(tmp_path, fake_bot_api, url)


def json_events(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line as JSON; fails naming the first line that is not."""
    events = []
    for line in stderr.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}\n{stderr}")
    return events


def check_poll_and_post_events(events: list[dict[str, Any]]) -> None:
    """The poll line names the feed; each post line its delivery, channel and release."""
    assert events, "no log lines"
    for event in events:
        assert {"time", "level", "logger", "message"} <= set(event)
    polled = [e for e in events if e.get("feed") == "nida" and "new" in e["message"]]
    assert [e["message"] for e in polled] == ["feed nida: 2 new, 0 changed; 2 posts queued"]
    posts = [e for e in events if "delivery" in e]
    assert [(e["delivery"], e["channel"]) for e in posts] == [(1, "a-news"), (2, "a-news")]
    assert all(isinstance(e["release"], int) for e in posts)
    assert posts[0]["message"].startswith("delivery 1: posted to a-news (message ")


def test_run_once_with_log_format_json_prints_only_json_lines(
    posted_twice: Path, fake_bot_api: FakeBotAPI
) -> None:
    """`releasebot run --once --log-format json`: every stderr line parses, and the poll
    and post lines carry feed=, channel=, release= and delivery=."""
    bot = BotProcess(posted_twice, "--once", "--log-format", "json", token=fake_bot_api.token)
    assert bot.wait() == 0, bot.stderr
    assert read_urls(fake_bot_api, CHANNEL_A) == [release_url(1), release_url(2)]
    check_poll_and_post_events(json_events(bot.stderr))
    assert not leaks(fake_bot_api.token, stderr=bot.stderr)


def test_bot_log_format_in_the_config_and_the_option_wins(
    posted_twice: Path, fake_bot_api: FakeBotAPI
) -> None:
    """`[bot] log_format = "json"` gives JSON lines; `--log-format text` overrides it."""
    text = posted_twice.read_text(encoding="utf-8")
    posted_twice.write_text(text.replace("[bot]\n", '[bot]\nlog_format = "json"\n', 1))
    bot = BotProcess(posted_twice, "--once", token=fake_bot_api.token)
    assert bot.wait() == 0, bot.stderr
    check_poll_and_post_events(json_events(bot.stderr))
    again = BotProcess(posted_twice, "--once", "--log-format", "text", token=fake_bot_api.token)
    assert again.wait() == 0, again.stderr
    lines = again.stderr.splitlines()
    assert lines
    assert all(" INFO bot." in line and "{" not in line for line in lines), lines


def test_text_lines_of_a_run_carry_the_fields_after_the_message(
    posted_twice: Path, fake_bot_api: FakeBotAPI
) -> None:
    """By default the lines are text: the same messages, the fields appended."""
    bot = BotProcess(posted_twice, "--once", token=fake_bot_api.token)
    assert bot.wait() == 0, bot.stderr
    assert "feed nida: 2 new, 0 changed; 2 posts queued feed=nida\n" in bot.stderr
    assert ": delivery 2: posted to a-news (message " in bot.stderr
    assert ") channel=a-news release=2 delivery=2\n" in bot.stderr
    assert "polled 1 feed (0 failed), 2 new releases; sent 2" in bot.stderr


def test_an_unknown_log_format_is_a_usage_error(tmp_path: Path) -> None:
    """`log_format = "xml"` in the config, or `--log-format yaml`: exit 2 naming the choices."""
    config = tmp_path / "releasebot.toml"
    config.write_text('[bot]\nlog_format = "xml"\n', encoding="utf-8")
    for args in (["--config", str(config), "check"], ["check", "--log-format", "yaml"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert "'text' or 'json'" in done.stderr or "'text', 'json'" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_reload_names_a_changed_log_format_as_waiting_for_a_restart(tmp_path: Path) -> None:
    """The running handlers keep their format on SIGHUP; the reload line says so."""
    running = settings_from_dict({}, tmp_path)
    loaded = settings_from_dict({"bot": {"log_format": "json"}}, tmp_path)
    applied, restart = keep_running_values(running, loaded)
    assert restart == ["bot.log_format"]
    assert applied.bot.log_format == "text"


def test_json_failure_lines_name_the_feed_and_the_delivery_and_hide_the_token(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """A feed answering 500 and a post Telegram refuses (echoing the token): their JSON
    lines carry feed= and delivery=/channel=/release=, and the token shows nowhere."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    token = fake_bot_api.token
    fake_bot_api.fail_next("sendMessage", 400, f"Bad Request: can't parse entities near '{token}'")
    good = feed_server.serve("/nida.xml", rss(Item(1)))
    broken = feed_server.serve("/broken.xml", b"oops", status=500, content_type="text/plain")
    config = write_config(
        tmp_path,
        api_base_url=fake_bot_api.base_url,
        feeds={"nida": good, "broken": broken},
        channels=[("a-news", CHANNEL_A, ["nida", "broken"])],
    )
    bot = BotProcess(config, "--once", "--log-format", "json", token=token)
    assert bot.wait() == 1, bot.stderr
    events = json_events(bot.stderr)
    broken_lines = [e for e in events if e.get("feed") == "broken"]
    assert {e["level"] for e in broken_lines} == {"WARNING", "ERROR"}
    assert any(e["message"].startswith("feed broken failed: ") for e in broken_lines)
    [refused] = [e for e in events if "refused by Telegram" in e["message"]]
    assert (refused["delivery"], refused["channel"], refused["release"]) == (1, "a-news", 1)
    assert "[TOKEN]" in refused["message"]
    assert not leaks(token, stderr=bot.stderr)


def test_python_warnings_become_json_lines_too() -> None:
    """A library's warning (printed straight to stderr by Python) is a JSON line as well."""
    script = (
        "import warnings\n"
        "from bot.logs import Redactor, configure_logging\n"
        "configure_logging(False, Redactor(''), 'json')\n"
        "warnings.warn('an old API')\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    [event] = json_events(done.stderr)
    assert event["level"] == "WARNING"
    assert "UserWarning: an old API" in event["message"]
