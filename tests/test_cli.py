"""The `releasebot` command as a user runs it: a subprocess, real files, a loopback feed server.

Each test checks what a person at the terminal sees: the printed rows, the exit code
(0 done, 1 could not do its job, 2 usage or config error) and never a traceback.
Tests about a command's answer rather than the process run it in-process (`run_here`,
bot.cli.main); each command's exit codes and output keep real-process tests (`run_cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser
from tests.fakes.feed_server import FeedServer
from tests.inprocess import releasebot_here

REPO = Path(__file__).resolve().parent.parent
PREVIEW_KEYS = ["key", "title", "url", "link", "published", "updated", "author", "summary"]
PREVIEW_KEYS.append("feed_title")
PREVIEW_KEYS.append("truncated")
PREVIEW_KEYS.append("language")  # issue 11 point 2
PREVIEW_KEYS.append("categories")  # issue 12: what route filters match on

# Document order is not date order; the undated item must come last.
PREVIEW_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Agency News</title><link>https://agency.example/news/</link>
<item><title>Middle release</title><link>https://agency.example/news/2?utm_source=rss</link>
  <guid>r-2</guid><pubDate>Wed, 02 Apr 2014 10:00:00 -0400</pubDate>
  <description>&lt;p&gt;Second &amp;amp; middle.&lt;/p&gt;</description></item>
<item><title>Undated release</title><link>https://agency.example/news/0</link><guid>r-0</guid></item>
<item><title>Newest release</title><link>https://Agency.example/news/3#top</link><guid>r-3</guid>
  <pubDate>Thu, 03 Apr 2014 22:30:00 -0400</pubDate><dc:creator>Jane Roe</dc:creator></item>
<item><title>Oldest release</title><link>https://agency.example/news/1</link><guid>r-1</guid>
  <pubDate>Tue, 01 Apr 2014 10:00:00 -0400</pubDate></item>
<item><title>Newest release</title><link>https://agency.example/news/3b</link><guid>r-3</guid></item>
</channel></rss>
"""


def feed(prefix: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>{prefix} release {n}</title><guid>{prefix}-{n}</guid>"
        f"<link>https://{prefix}.example/r/{n}</link>"
        f"<pubDate>Tue, {1 + n:02d} Apr 2014 10:00:00 -0400</pubDate></item>"
        for n in range(count)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{prefix} news</title>'
        f"<link>https://{prefix}.example/</link>{items}</channel></rss>"
    ).encode()


def run_cli(
    *args: str, cwd: Path, config: Path | None = None, check_clean: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot [--config CONFIG] ARGS` in `cwd`, as a user would."""
    env = {k: v for k, v in os.environ.items() if k not in ("RELEASEBOT_CONFIG",)}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "bot"]
    if config is not None:
        command += ["--config", str(config)]
    done = subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check_clean:
        assert "Traceback" not in done.stderr, done.stderr
    return done


def run_here(
    capsys: pytest.CaptureFixture[str],
    *args: str,
    cwd: Path,
    config: Path | None = None,
    check_clean: bool = True,
) -> subprocess.CompletedProcess[str]:
    """What run_cli gives, by `bot.cli.main` in this process (tests/inprocess.py): for tests
    about a command's answer; each command keeps a run_cli test for the real process."""
    argv = [*(["--config", str(config)] if config is not None else []), *args]
    done = releasebot_here(capsys, argv, cwd=cwd)
    if check_clean:
        assert "Traceback" not in done.stderr, done.stderr
    return done


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_config(
    folder: Path,
    feeds: dict[str, str],
    *,
    channels: dict[str, list[str]] | None = None,
    fetch: dict[str, Any] | None = None,
) -> Path:
    """A config in `folder` with its own database there; loopback feeds allowed."""
    lines = ["[bot]", 'database = "releasebot.db"', "", "[fetch]"]
    fetch_values = {"timeout": "5s", "allow_private_addresses": True, **(fetch or {})}
    lines += [f"{key} = {toml_value(value)}" for key, value in fetch_values.items()]
    for name, url in feeds.items():
        lines += ["", "[[feeds]]", f"name = {toml_value(name)}", f"url = {toml_value(url)}"]
    for name, routed in (channels or {}).items():
        lines += ["", "[[channels]]", f"name = {toml_value(name)}"]
        lines += [f'chat = "@{name.replace("-", "_")}_chan"', f"feeds = {toml_value(routed)}"]
    path = folder / "releasebot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# preview


def test_preview_of_a_file_lists_releases_newest_first(tmp_path: Path) -> None:
    """A local file is previewed newest first, undated last, each release once."""
    (tmp_path / "feed.xml").write_bytes(PREVIEW_FEED)
    done = run_cli("preview", "feed.xml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line.split(None, 1) for line in done.stdout.splitlines() if line[:1] != " "]
    assert rows == [
        ["2014-04-03", "Newest release"],  # the publisher's own calendar day, not UTC's
        ["2014-04-02", "Middle release"],
        ["2014-04-01", "Oldest release"],
        ["undated", "Undated release"],
    ]
    assert "    https://agency.example/news/3\n" in done.stdout
    assert "4 releases from Agency News" in done.stderr
    assert not (tmp_path / "releasebot.db").exists()


def test_preview_json_has_exactly_the_documented_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints one object per line with the documented keys and normalised values."""
    (tmp_path / "feed.xml").write_bytes(PREVIEW_FEED)
    done = run_here(capsys, "preview", "feed.xml", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = json_lines(done.stdout)
    assert [list(record) for record in records] == [PREVIEW_KEYS] * 4
    assert [r["key"] for r in records] == ["r-3", "r-2", "r-1", "r-0"]
    newest, middle = records[0], records[1]
    assert newest["published"] == "2014-04-03T22:30:00-04:00"
    assert newest["author"] == "Jane Roe"
    assert newest["url"] == "https://agency.example/news/3"
    assert middle["link"] == "https://agency.example/news/2?utm_source=rss"
    assert middle["url"] == "https://agency.example/news/2"
    assert middle["summary"] == "Second & middle."
    assert records[3]["published"] is None
    assert {r["feed_title"] for r in records} == {"Agency News"}


def test_preview_of_a_file_resolves_relative_links_against_the_feed_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A saved feed with relative item links still gives absolute canonical URLs."""
    body = PREVIEW_FEED.replace(b"https://Agency.example/news/3#top", b"/news/3#top")
    (tmp_path / "feed.xml").write_bytes(body)
    done = run_here(capsys, "preview", "feed.xml", "--json", "--limit", "1", cwd=tmp_path)
    (record,) = json_lines(done.stdout)
    assert record["url"] == "https://agency.example/news/3"


def test_preview_limit_keeps_the_newest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--limit 2 prints the two newest releases."""
    (tmp_path / "feed.xml").write_bytes(PREVIEW_FEED)
    done = run_here(capsys, "preview", "feed.xml", "--json", "--limit", "2", cwd=tmp_path)
    assert [r["key"] for r in json_lines(done.stdout)] == ["r-3", "r-2"]


def test_preview_of_a_url(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL is fetched and previewed like a file; nothing is written."""
    body = PREVIEW_FEED.replace(b"https://Agency.example/news/3#top", b"/news/3#top")
    url = feed_server.serve("/news/feed.xml", body)
    config = write_config(tmp_path, {})
    done = run_here(capsys, "preview", url, "--json", "--limit", "1", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    (record,) = json_lines(done.stdout)
    assert record["title"] == "Newest release"
    assert record["url"] == feed_server.url("/news/3")  # resolved against the fetched URL
    assert not (tmp_path / "releasebot.db").exists()


def test_preview_of_a_loopback_url_typed_by_the_operator_needs_no_config(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL typed on the command line is trusted: a feed on localhost is previewed, with no
    config file and no allow_private_addresses."""
    url = feed_server.serve("/feed.xml", PREVIEW_FEED)
    done = run_here(capsys, "preview", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Newest release" in done.stdout
    assert not (tmp_path / "config").exists()


def test_preview_of_a_configured_loopback_feed_is_refused_by_default(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A feed from the config still passes the guard: without allow_private_addresses its
    loopback URL fails with the setting to change."""
    url = feed_server.serve("/feed.xml", PREVIEW_FEED)
    config = write_config(tmp_path, {"local": url}, fetch={"allow_private_addresses": False})
    done = run_here(capsys, "preview", "local", cwd=tmp_path, config=config)
    assert done.returncode == 1
    assert "fetch.allow_private_addresses" in done.stderr
    assert feed_server.hits("/feed.xml") == 0


def test_preview_of_an_html_page_says_so(tmp_path: Path) -> None:
    """Pointing preview at a web page gives exit 1 and 'not a feed', no traceback."""
    (tmp_path / "page.html").write_text("<!DOCTYPE html><html><body>News</body></html>")
    done = run_cli("preview", "page.html", cwd=tmp_path)
    assert done.returncode == 1
    assert "not a feed: got text/html" in done.stderr


# poll


def test_poll_prints_a_row_per_feed_and_exits_0(tmp_path: Path, feed_server: FeedServer) -> None:
    """Every feed gets a row with its status and counts; a second poll finds nothing new."""
    config = write_config(
        tmp_path,
        {
            "alpha": feed_server.serve("/alpha.xml", feed("alpha", 3)),
            "beta": feed_server.serve("/beta.xml", feed("beta", 2), etag='"b1"'),
        },
    )
    done = run_cli("poll", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    header = ["feed", "status", "new", "updated", "queued", "error"]
    assert done.stdout.splitlines()[0].split() == header
    assert rows["alpha"][1:3] == ["ok", "3"]
    assert rows["beta"][1:3] == ["ok", "2"]
    again = run_cli("poll", cwd=tmp_path, config=config)
    rows = {line.split()[0]: line.split() for line in again.stdout.splitlines()[1:]}
    assert (rows["alpha"][1], rows["beta"][1]) == ("unchanged", "not_modified")
    assert again.returncode == 0


def test_poll_with_a_failing_feed_exits_1_and_keeps_the_others(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken feed is reported in its row with exit 1; the good feed's releases are stored."""
    config = write_config(
        tmp_path,
        {
            "broken": feed_server.serve("/broken.xml", b"nope", status=404),
            "good": feed_server.serve("/good.xml", feed("good", 2)),
        },
    )
    done = run_cli("poll", cwd=tmp_path, config=config)
    assert done.returncode == 1
    broken = next(line for line in done.stdout.splitlines() if line.startswith("broken"))
    assert broken.split()[1:7] == ["error", "0", "0", "0", "HTTP", "404"]
    assert broken.endswith("HTTP 404 Not Found — check the URL")
    latest = run_here(capsys, "latest", cwd=tmp_path, config=config)
    assert "good release 1" in latest.stdout
    assert "good release 0" in latest.stdout


def test_poll_feed_polls_only_that_feed(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`poll --feed NAME` fetches that feed alone."""
    config = write_config(
        tmp_path,
        {
            "alpha": feed_server.serve("/alpha.xml", feed("alpha", 1)),
            "beta": feed_server.serve("/beta.xml", feed("beta", 1)),
        },
    )
    done = run_here(capsys, "poll", "--feed", "beta", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()[1:]] == ["beta"]
    assert (feed_server.hits("/alpha.xml"), feed_server.hits("/beta.xml")) == (0, 1)


def test_poll_of_an_unknown_feed_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A feed name not in the config is reported plainly, with the names it has; exit 2."""
    config = write_config(tmp_path, {"alpha": "alpha.xml"})
    done = run_here(capsys, "poll", "--feed", "nope", cwd=tmp_path, config=config)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "releasebot: no feed named 'nope' in the config (its feeds: alpha)"
    )


def test_poll_of_a_local_file_feed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A feed given as a path next to the config is read from disk and stored."""
    (tmp_path / "local.xml").write_bytes(feed("local", 4))
    config = write_config(tmp_path, {"local": "local.xml"})
    done = run_here(capsys, "poll", cwd=tmp_path.parent, config=config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[:3] == ["local", "ok", "4"]
    assert (tmp_path / "releasebot.db").exists()


# latest


def test_latest_prints_the_newest_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`latest -n 2` prints the two newest stored releases, newest first, with their URLs."""
    (tmp_path / "a.xml").write_bytes(feed("alpha", 5))
    (tmp_path / "b.xml").write_bytes(feed("beta", 2))
    config = write_config(tmp_path, {"alpha": "a.xml", "beta": "b.xml"})
    run_here(capsys, "poll", cwd=tmp_path, config=config)
    done = run_here(capsys, "latest", "-n", "2", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "2014-04-05  alpha        alpha release 4" in lines[0]
    assert "https://alpha.example/r/4" in lines[1]
    assert "alpha release 3" in lines[2]
    assert len(lines) == 4
    only_beta = run_here(capsys, "latest", "--feed", "beta", cwd=tmp_path, config=config)
    assert "beta release 1" in only_beta.stdout
    assert "alpha" not in only_beta.stdout


def test_latest_with_nothing_stored_exits_1(tmp_path: Path) -> None:
    """An empty database is not an error in the program, but the command found nothing."""
    config = write_config(tmp_path, {"alpha": "a.xml"})
    done = run_cli("latest", cwd=tmp_path, config=config)
    assert done.returncode == 1
    assert done.stderr.strip() == "releasebot: no releases stored yet"


# check and config errors


def test_check_validates_config_and_database(tmp_path: Path) -> None:
    """A good config and a fresh database pass `check` with exit 0."""
    config = write_config(tmp_path, {"alpha": "a.xml"}, channels={"alpha-news": ["alpha"]})
    done = run_cli("check", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    assert "config ok: 1 feeds, 1 channels" in done.stdout
    assert "database ok" in done.stdout


def test_check_network_fetches_each_feed(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --network` reports each feed; one unreachable feed makes it exit 1."""
    config = write_config(
        tmp_path,
        {
            "alpha": feed_server.serve("/alpha.xml", feed("alpha", 3)),
            "html": feed_server.serve("/page", b"<html><body>hi</body></html>"),
        },
    )
    done = run_here(capsys, "check", "--network", cwd=tmp_path, config=config)
    assert done.returncode == 1
    assert "feed alpha: ok, 3 releases (alpha news)" in done.stdout
    assert "feed html: FAILED: not a feed: got text/html" in done.stdout
    assert run_here(capsys, "check", cwd=tmp_path, config=config).returncode == 0


BROKEN_CONFIG = """
[bot]
database = "x.db"
colour = "blue"

[fetch]
concurrency = "lots"

[defaults]
interval = "soon"

[[feeds]]
name = "alpha"
url = "ftp://alpha.example/feed"
timezone = "Mars/Olympus"

[[feeds]]
name = "alpha"
url = "alpha.xml"

[[channels]]
name = "news"
chat = "@news_channel"
feeds = ["alpha", "gamma"]
"""


@pytest.mark.parametrize("command", [["check"], ["poll"], ["latest"], ["run", "--once"]])
def test_broken_config_lists_every_problem_and_exits_2(tmp_path: Path, command: list[str]) -> None:
    """Every command reports all config problems at once, each with its key path."""
    path = tmp_path / "releasebot.toml"
    path.write_text(BROKEN_CONFIG, encoding="utf-8")
    done = run_cli(*command, cwd=tmp_path, config=path)
    assert done.returncode == 2
    assert done.stdout == ""
    for key in (
        "bot.colour: unknown key",
        "fetch.concurrency:",
        "defaults.interval:",
        "feeds[1].url: ",
        "feeds[1].timezone: ",
        "feeds[2].name: duplicate name 'alpha'",
        "channels[1].feeds[2]: unknown feed 'gamma'",
    ):
        assert key in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    """A config path that does not exist is a config error naming the file."""
    done = run_cli("poll", cwd=tmp_path, config=tmp_path / "nowhere.toml")
    assert done.returncode == 2
    assert "nowhere.toml: cannot read the config file" in done.stderr


def test_invalid_toml_exits_2(tmp_path: Path) -> None:
    """A file that is not TOML says so, with exit 2."""
    path = tmp_path / "releasebot.toml"
    path.write_text("[bot\ndatabase = ", encoding="utf-8")
    done = run_cli("check", cwd=tmp_path, config=path)
    assert done.returncode == 2
    assert "not valid TOML" in done.stderr


def test_config_comes_from_the_environment_variable(tmp_path: Path) -> None:
    """RELEASEBOT_CONFIG is used when --config is not given."""
    config = write_config(tmp_path, {"alpha": "a.xml", "beta": "b.xml"})
    paths = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "RELEASEBOT_CONFIG": str(config), "PYTHONPATH": paths}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "config ok: 2 feeds" in done.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """An unknown option or a missing subcommand is a usage error (exit 2)."""
    assert run_cli("poll", "--bogus", cwd=tmp_path).returncode == 2
    assert run_cli(cwd=tmp_path).returncode == 2


# the README quickstart


def test_quickstart_dry_run_posts_once(tmp_path: Path) -> None:
    """`releasebot --config config/demo.toml run --once --dry-run` prints posts, then none."""
    shutil.copytree(
        REPO / "config",
        tmp_path / "config",
        ignore=lambda folder, names: [n for n in names if n not in ("demo.toml", "demo-feed.xml")],
    )
    first = run_cli("--config", "config/demo.toml", "run", "--once", "--dry-run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    posts = first.stdout.count("──── post ")
    assert posts == 3  # the demo's backlog
    assert "National Institute on Drug Abuse. (2014" in first.stdout  # an APA citation
    assert (tmp_path / "config" / "demo.db").exists()
    second = run_cli("--config", "config/demo.toml", "run", "--once", "--dry-run", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "──── post " not in second.stdout


# the README's CLI reference


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse has no public accessor for subparsers; the action is the documented way in.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        for option in action.option_strings
    ]


def _cli_reference() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^(#+) [^\n]*\bCLI\b[^\n]*$", readme, re.MULTILINE | re.IGNORECASE)
    assert match, "README.md has no CLI reference section"
    level = len(match.group(1))
    rest = readme[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def test_readme_documents_every_subcommand_and_option() -> None:
    """Every subcommand and option the parser accepts is in README.md's CLI reference."""
    reference = _cli_reference()
    parser = build_parser()
    missing = [f"global {o}" for o in _options(parser) if not _mentions(reference, o)]
    for name, sub in _subcommands(parser).items():
        if not re.search(rf"\b(releasebot|`)\s*{re.escape(name)}\b", reference):
            missing.append(name)
        missing += [f"{name} {o}" for o in _options(sub) if not _mentions(reference, o)]
    assert not missing, f"missing from README.md's CLI reference: {', '.join(missing)}"


def _mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    """`releasebot preview … | head -1`: no traceback when the reader closes the pipe."""
    items = "".join(
        f"<item><title>Release {n}</title><link>https://example.org/{n}</link></item>"
        for n in range(3000)
    )
    feed = tmp_path / "big.xml"
    feed.write_text(f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>')
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "preview", str(feed)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.read(10)  # the first bytes arrive (far more than a pipe holds follow)
    proc.stdout.close()  # ... then the reader goes away, as `head` does
    _, stderr = proc.communicate(timeout=60)
    assert b"Traceback" not in stderr
    assert proc.returncode == 1
