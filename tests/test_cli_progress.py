"""Progress of long CLI work: a rich bar on a terminal's stderr, plain bounded lines on a pipe,
stdout left to the command's result. The adapter in-process, then the real `releasebot poll`,
`check --network` and `opml import` processes with stderr on a pseudo-terminal."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.cli_progress import Progress, wants_bar
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_check_telegram import BOT
from tests.test_cli import feed, run_cli
from tests.test_cli import write_config as poll_config
from tests.test_run_e2e import CHANNEL_A, Item, rss
from tests.test_run_e2e import write_config as bot_config

REPO = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_a_bounded_number_of_plain_lines_for_1000_feeds() -> None:
    """1,000 feeds over 100 s on a pipe: a line per tenth at most (not one per feed), the
    last one says all are done."""
    clock, pipe = Clock(), io.StringIO()
    with Progress(1000, "polled", stream=pipe, clock=clock) as shown:
        for _ in range(1000):
            clock.now += 0.1
            shown.advance()
    lines = pipe.getvalue().splitlines()
    assert 2 <= len(lines) <= 11
    assert lines[0] == "polled 100/1000 feeds"
    assert lines[-1] == "polled 1000/1000 feeds"
    assert "\x1b" not in pipe.getvalue()
    assert "\r" not in pipe.getvalue()


def test_a_pipe_hears_nothing_of_quick_work() -> None:
    """Work done within 5 s says nothing on a pipe: a cron job's output stays as it was."""
    clock, pipe = Clock(), io.StringIO()
    with Progress(1000, "checked", stream=pipe, clock=clock) as shown:
        for _ in range(1000):
            clock.now += 0.004
            shown.advance()
    assert pipe.getvalue() == ""


def test_slow_work_on_a_pipe_says_each_tenth_at_most_every_5_seconds() -> None:
    """Three slow feeds, a minute each: a line per feed, the last one at the end."""
    clock, pipe = Clock(), io.StringIO()
    with Progress(3, "checked", stream=pipe, clock=clock) as shown:
        for _ in range(3):
            clock.now += 60
            shown.advance()
    assert pipe.getvalue().splitlines() == [
        "checked 1/3 feeds",
        "checked 2/3 feeds",
        "checked 3/3 feeds",
    ]


@given(
    total=st.integers(min_value=1, max_value=3000),
    step=st.floats(min_value=0.0, max_value=30.0, allow_nan=False),
)
def test_plain_lines_are_few_rising_and_end_at_the_total(total: int, step: float) -> None:
    """Whatever the count and pace: at most 11 lines, counts rising, the last one all done."""
    clock, pipe = Clock(), io.StringIO()
    with Progress(total, "polled", stream=pipe, clock=clock) as shown:
        for _ in range(total):
            clock.now += step
            shown.advance()
    counts = [int(line.split()[1].split("/")[0]) for line in pipe.getvalue().splitlines()]
    assert len(counts) <= 11
    assert counts == sorted(set(counts))
    if counts:
        assert counts[-1] == total
    if step * total < 4.9:  # done within 5 s: nothing said
        assert counts == []


def test_a_terminal_gets_a_bar_whose_last_state_says_all_done() -> None:
    """On a terminal: a bar redrawn in place, left at '1000/1000 feeds'; a log line written
    meanwhile shows whole, above the bar."""
    terminal = Terminal()
    handler = logging.StreamHandler(terminal)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with Progress(1000, "polled", stream=terminal) as shown:
            for n in range(1000):
                shown.advance()
                if n == 500:
                    logging.getLogger("bot.poller").warning("feed nida: HTTP 503")
    finally:
        root.removeHandler(handler)
    shown_text = terminal.getvalue()
    assert last_frame(shown_text).startswith("polled")
    assert "1000/1000 feeds" in last_frame(shown_text)
    assert "\nfeed nida: HTTP 503\n" in shown_text.replace("\x1b[2K", "\n")
    assert handler.stream is terminal  # the handler writes to the stream again afterwards


def test_only_a_real_terminal_gets_a_bar() -> None:
    """A pipe and TERM=dumb get plain lines; a terminal gets the bar."""
    assert not wants_bar(io.StringIO(), {"TERM": "xterm"})
    assert not wants_bar(Terminal(), {"TERM": "dumb"})
    assert wants_bar(Terminal(), {"TERM": "xterm-256color"})


# --- the real commands, stderr on a pseudo-terminal -----------------------------------------


def on_terminal(*args: str, cwd: Path, token: str | None = None) -> tuple[int, str, str]:
    """`python -m bot ARGS` with stderr on a 120-column pseudo-terminal and stdout on a pipe:
    (exit code, stdout, what the terminal showed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RELEASEBOT_CONFIG", "NO_COLOR")}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    env["TERM"] = "xterm"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    shown: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process and its terminal are gone
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
        ) as process:
            os.close(slave)
            out, _ = process.communicate(timeout=60)
        reader.join(timeout=10)
    finally:
        os.close(master)
    terminal = b"".join(shown).decode("utf-8", "replace")
    assert "Traceback" not in terminal, terminal
    return process.returncode, out.decode(), terminal


def last_frame(terminal: str) -> str:
    """The bar as the terminal last drew it, without its colours."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.replace("\x1b[2K", "\r"))
    return [part for part in re.split(r"[\r\n]", text) if part.strip()][-1]


def test_poll_on_a_terminal_shows_a_bar_and_keeps_stdout_the_table(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`releasebot poll` of 30 feeds: the terminal's bar ends at 30/30 feeds; stdout is the
    same table a pipe gets."""
    feeds = {f"f{n:02d}": feed_server.serve(f"/f{n}.xml", feed(f"f{n:02d}", 2)) for n in range(30)}
    config = poll_config(tmp_path, feeds)
    code, out, terminal = on_terminal("--config", str(config), "poll", cwd=tmp_path)
    assert code == 0, terminal
    frame = last_frame(terminal)
    assert frame.startswith("polled "), terminal
    assert "30/30 feeds" in frame, terminal
    rows = out.splitlines()
    assert rows[0].split() == ["feed", "status", "new", "updated", "queued", "error"]
    assert len(rows) == 31
    assert "\x1b" not in out


def test_poll_on_a_pipe_prints_the_table_and_no_progress(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Not a terminal, quick work: stdout is the table and stderr the log lines, as before."""
    feeds = {f"f{n}": feed_server.serve(f"/f{n}.xml", feed(f"f{n}", 2)) for n in range(5)}
    config = poll_config(tmp_path, feeds)
    done = run_cli("poll", cwd=tmp_path, config=config)
    assert done.returncode == 0, done.stderr
    said = done.stderr.splitlines()  # the poller's log lines, as before, and nothing else
    assert len(said) == 5
    assert all(" INFO bot.services.poller: feed f" in line for line in said), said
    assert [row.split()[:2] for row in done.stdout.splitlines()[1:]] == [
        [f"f{n}", "ok"] for n in range(5)
    ]


def test_check_network_on_a_terminal_shows_a_bar_then_the_lines(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """`check --network` of 4 feeds and a channel: the bar ends at 4/4 feeds; stdout keeps
    every ok line."""
    fake_bot_api.add_chat(CHANNEL_A, "channel", title="A news")
    feeds = {f"n{n}": feed_server.serve(f"/n{n}.xml", rss(Item(1))) for n in range(4)}
    config = bot_config(
        tmp_path,
        api_base_url=fake_bot_api.base_url,
        feeds=feeds,
        channels=[("a-news", CHANNEL_A, list(feeds))],
    )
    code, out, terminal = on_terminal(
        "--config", str(config), "check", "--network", cwd=tmp_path, token=fake_bot_api.token
    )
    assert code == 0, out + terminal
    frame = last_frame(terminal)
    assert frame.startswith("checked "), terminal
    assert "4/4 feeds" in frame, terminal
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("feed ")] == [
        f"feed n{n}: ok, 1 releases (Press releases)" for n in range(4)
    ]
    assert f"telegram: ok, the token belongs to {BOT}" in lines


def opml(urls: list[str]) -> bytes:
    outlines = "".join(
        f'<outline type="rss" text="Feed {n}" xmlUrl="{url}"/>' for n, url in enumerate(urls)
    )
    return f'<opml version="2.0"><head/><body>{outlines}</body></opml>'.encode()


def test_opml_import_on_a_terminal_shows_a_bar_then_the_summary(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`opml import` of 12 feeds: the bar ends at 12/12 feeds, stdout is the summary."""
    urls = [feed_server.serve(f"/o{n}.xml", feed(f"o{n}", 1)) for n in range(12)]
    (tmp_path / "feeds.opml").write_bytes(opml(urls))
    config = poll_config(tmp_path, {})
    code, out, terminal = on_terminal(
        "--config", str(config), "opml", "import", "feeds.opml", "--chat", "-100777", cwd=tmp_path
    )
    assert code == 0, out + terminal
    frame = last_frame(terminal)
    assert frame.startswith("checked "), terminal
    assert "12/12 feeds" in frame, terminal
    assert "12 added, 0 already there, 0 refused" in out
    assert "\x1b" not in out
