"""Config: the documented keys load; every problem is reported at once with its key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings, parse_duration, settings_from_dict
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

BAD_CONFIG = """
[bot]
admins = ["alice"]
colour = "blue"

[defaults]
interval = "5 parsecs"
citation_style = "harvard"

[[feeds]]
name = "nida"
url = "ftp://example.org/feed"
timezone = "Mars/Olympus"

[[feeds]]
name = "nida"
url = "https://example.org/feed"

[[feeds]]
name = "NIDA News!"
url = "feed.xml"

[[channels]]
name = "news"
chat = "not a chat"
feeds = ["nida", "nope"]
"""


def test_example_and_demo_configs_are_valid():
    """The shipped example (every key) and the demo config load without a problem."""
    example = load_settings(ROOT / "config" / "releasebot.example.toml")
    demo = load_settings(ROOT / "config" / "demo.toml")
    assert example.feeds[0].publisher == "National Institute on Drug Abuse"
    assert demo.database_path == ROOT / "config" / "demo.db"
    assert Path(demo.feed_source(demo.feeds[0])).is_file()


def test_every_problem_is_reported_with_its_key(tmp_path):
    """One run lists all mistakes, each with the key to fix."""
    path = tmp_path / "bad.toml"
    path.write_text(BAD_CONFIG)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = "\n".join(info.value.problems)
    for expected in (
        "bot.admins[1]:",
        "bot.colour: unknown key",
        "defaults.interval: expected a duration",
        "defaults.citation_style: unknown citation style 'harvard'",
        "feeds[1].url: must be an http(s) URL or a local file path",
        "feeds[1].timezone: unknown time zone 'Mars/Olympus'",
        "feeds[2].name: duplicate name 'nida'",
        "feeds[3].name: must be 1-32 characters",
        "channels[1].chat: must be @channelusername or a numeric chat id",
        "channels[1].feeds[2]: unknown feed 'nope'",
    ):
        assert expected in text


def test_cli_reports_config_errors_with_exit_2_and_no_traceback(tmp_path):
    """`releasebot check` on a broken config prints the problems and exits 2."""
    path = tmp_path / "bad.toml"
    path.write_text(BAD_CONFIG)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "feeds[2].name: duplicate name 'nida'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_toml_is_a_config_error(tmp_path):
    """A syntax error names the file and the position instead of crashing."""
    path = tmp_path / "broken.toml"
    path.write_text("[bot\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), (45, 45), ("1.5m", 90)]
)
def test_durations(text, seconds):
    """Intervals take s, m and h units; bare numbers are seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15x", "-5m", "0s", True])
def test_bad_durations_are_refused(text):
    """Nonsense or non-positive intervals are refused, not read as zero."""
    with pytest.raises(ValueError, match=r"duration|longer than 0"):
        parse_duration(text)


def test_relative_database_path_is_next_to_the_config(tmp_path):
    """`database` is resolved from the config file's folder, not the working directory."""
    path = tmp_path / "sub" / "conf.toml"
    path.parent.mkdir()
    path.write_text('[bot]\ndatabase = "data/bot.db"\n')
    assert load_settings(path).database_path == tmp_path / "sub" / "data" / "bot.db"


def test_a_name_with_a_trailing_line_break_is_refused(tmp_path):
    """`$` in a pattern also matches before a final newline: names are matched whole."""
    with pytest.raises(ConfigError, match=r"feeds\[1\]\.name: must be 1-32 characters"):
        settings_from_dict({"feeds": [{"name": "nida\n", "url": "https://x.example/f"}]}, tmp_path)
