"""Errors a person can act on: each names the thing to fix and how (issue 9 point 15).

The `releasebot` process as an operator runs it (tests/test_cli.py's run_cli), the loopback
feed server, and load_settings on real files.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bot.config import FetchSettings, load_settings
from bot.errors import ConfigError, FeedFetchError
from bot.fetch.client import Fetcher, default_user_agent
from tests.fakes.feed_server import FeedServer
from tests.test_cli import PREVIEW_FEED, run_cli, run_here, write_config


def config_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "releasebot.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return info.value.problems


# preview and fetch


def test_preview_of_a_404_names_the_url(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`preview URL` of a missing page says which URL answered 404 and what to do; exit 1."""
    url = feed_server.serve("/gone.xml", b"not here", status=404, content_type="text/plain")
    done = run_here(capsys, "preview", url, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == f"releasebot: {url}: HTTP 404 Not Found — check the URL"


def test_preview_of_a_file_that_is_no_feed_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A parse failure names what was read, too."""
    (tmp_path / "page.html").write_text("<!DOCTYPE html><html><body>News</body></html>")
    done = run_here(capsys, "preview", "page.html", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("releasebot: page.html: not a feed: got text/html")


@pytest.mark.parametrize(("coding", "named"), [("br", "br"), ("zstd", "zstd"), ("gzip, br", "br")])
async def test_a_body_compressed_in_a_coding_we_cannot_decode_says_so(
    feed_server: FeedServer, coding: str, named: str
) -> None:
    """A brotli or zstd body (never asked for) is 'unsupported Content-Encoding', not an
    ill-formed feed."""
    url = feed_server.serve("/feed.xml", b"\x8b\x05\x80<rss/>\x03", content_encoding=coding)
    settings = FetchSettings(allow_private_addresses=True)
    async with Fetcher(settings, user_agent=default_user_agent()) as fetcher:
        with pytest.raises(FeedFetchError) as info:
            await fetcher.fetch(url)
    assert info.value.message.startswith(f"unsupported Content-Encoding {named!r}")
    assert "gzip, deflate" in info.value.message


async def test_a_mislabelled_identity_body_still_reads(feed_server: FeedServer) -> None:
    """A server that says `Content-Encoding: utf-8` (no compression at all) still works."""
    url = feed_server.serve("/feed.xml", PREVIEW_FEED, content_encoding="utf-8")
    settings = FetchSettings(allow_private_addresses=True)
    async with Fetcher(settings, user_agent=default_user_agent()) as fetcher:
        assert (await fetcher.fetch(url)).body == PREVIEW_FEED


def test_preview_of_a_brotli_feed_says_unsupported_content_encoding(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator sees the URL and the coding, not 'ill-formed XML'."""
    url = feed_server.serve("/feed.xml", gzip.compress(PREVIEW_FEED), content_encoding="br")
    done = run_here(capsys, "preview", url, cwd=tmp_path)
    assert done.returncode == 1
    assert f"releasebot: {url}: unsupported Content-Encoding 'br'" in done.stderr
    assert "ill-formed" not in done.stderr


# the config


def test_config_errors_count_list_entries_from_1_as_the_readme_says(tmp_path: Path) -> None:
    """The second [[feeds]] table is feeds[2]; the README's example is what the code prints."""
    problems = config_problems(
        tmp_path,
        '[[feeds]]\nname = "a"\nurl = "a.xml"\n'
        '[[feeds]]\nname = "b"\nurl = "b.xml"\ntimezone = "Mars/Olympus"\n',
    )
    assert problems == ["feeds[2].timezone: unknown time zone 'Mars/Olympus'"]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`feeds[2].timezone: unknown time zone 'Mars/Olympus'`" in readme


def test_admins_given_as_a_string_asks_for_a_list_of_user_ids(tmp_path: Path) -> None:
    """`admins = "2002"` says what the key holds, not 'valid tuple'."""
    problems = config_problems(tmp_path, '[bot]\nadmins = "2002"\n')
    assert problems == ["bot.admins: must be a list of Telegram user ids, such as [123456789]"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[bot]\ndatabse = "x.db"\n', "bot.databse: unknown key; did you mean 'database'?"),
        (
            "[fetch]\nallow_private_adresses = true\n",
            "fetch.allow_private_adresses: unknown key; did you mean 'allow_private_addresses'?",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "a.xml"\ntimzone = "UTC"\n',
            "feeds[1].timzone: unknown key; did you mean 'timezone'?",
        ),
        ("admins = [1]\n", "admins: unknown key; did you mean 'bot.admins'?"),
        ('[bot]\ncolour = "blue"\n', "bot.colour: unknown key"),
    ],
    ids=["bot", "fetch", "feed", "above-its-table", "nothing-close"],
)
def test_an_unknown_key_suggests_the_nearest_known_one(
    tmp_path: Path, text: str, problem: str
) -> None:
    """A misspelt key names the key it probably meant (and none when nothing is close)."""
    assert config_problems(tmp_path, text) == [problem]


def test_a_missing_config_file_suggests_copying_the_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No config/releasebot.toml: the error gives the cp command that makes one; exit 2."""
    done = run_here(capsys, "check", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        "to start from the example: cp config/releasebot.example.toml config/releasebot.toml"
        in done.stderr
    )


# the command line


def test_poll_of_an_unknown_feed_exits_2(tmp_path: Path) -> None:
    """`poll --feed nope` is a usage error (2), like an unknown option, naming the feeds."""
    config = write_config(tmp_path, {"alpha": "alpha.xml", "beta": "beta.xml"})
    done = run_cli("poll", "--feed", "nope", cwd=tmp_path, config=config)
    assert done.returncode == 2
    assert "no feed named 'nope' in the config (its feeds: alpha, beta)" in done.stderr
