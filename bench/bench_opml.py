"""Benchmark: `releasebot opml import` of 500 feeds against `releasebot poll` of the same 500.

The farm is bench_poll's: 500 feeds (the demo feed, varied) on 100 loopback hosts, each
answer 50 ms late. Both commands start from an empty database and fetch every feed once:
the import checks each feed as /add does (URL checks, one fetch, parse) and subscribes a
chat with no backlog; the poll fetches, parses and stores every release. The import runs
with its stderr on a pseudo-terminal, so it draws its progress bar (rich) as on an
operator's screen; stdout (the summary) is a pipe. Headline: the import's wall time over
the poll's, round by round (min / median / max over at least 5 rounds).

Run from the repository root: `python -m bench.bench_opml [--runs N]`.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.bench_poll import DELAY, FEEDS, farm_feeds, statuses, write_config
from bench.common import (
    REPO,
    RUNS,
    FeedFarm,
    Run,
    Spread,
    check_runs,
    header,
    load,
    ratios,
    run_releasebot,
    table,
)
from bot.feeds.opml import OpmlFeed, render_opml


def run_on_terminal(*args: str) -> Run:
    """`python -m bot ARGS` with stderr on a pseudo-terminal (the progress bar is drawn),
    stdout piped; wall and CPU time as `run_releasebot` measures them."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm", "COLUMNS": "120"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    screen = bytearray()
    while True:  # the terminal must be read, or a full pty buffer stalls the child
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        screen += chunk
    stdout = child.stdout.read() if child.stdout else b""
    returncode = child.wait()
    wall = time.perf_counter() - start
    os.close(leader)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, returncode, stdout.decode(), screen.decode(errors="replace"))


def write_opml(folder: Path, urls: list[str]) -> Path:
    feeds = [OpmlFeed(url=url, title=f"Feed {n}") for n, url in enumerate(urls)]
    path = folder / "feeds.opml"
    path.write_bytes(render_opml("bench", feeds))
    return path


def write_import_config(folder: Path) -> Path:
    path = folder / "import.toml"
    path.write_text(
        '[bot]\ndatabase = "import.db"\n\n[fetch]\nallow_private_addresses = true\n\n'
        "[admin]\nmax_routes_per_chat = 1000\n",
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=check_runs, default=RUNS, help=f"rounds (default {RUNS})")
    args = parser.parse_args()
    print(header(args.runs), flush=True)
    imports, polls, import_cpu, poll_cpu = [], [], [], []
    with tempfile.TemporaryDirectory() as name, FeedFarm(farm_feeds(), delay=DELAY) as farm:
        folder = Path(name)
        poll_config = write_config(folder, farm.urls)
        import_config = write_import_config(folder)
        opml = write_opml(folder, farm.urls)
        for _ in range(args.runs):
            for leftover in [*folder.glob("bench.db*"), *folder.glob("import.db*")]:
                leftover.unlink()
            imported = run_on_terminal(
                "--config", str(import_config), "opml", "import", str(opml), "--chat", "-1001"
            )
            drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", imported.stderr)  # no colours
            assert f"{FEEDS}/{FEEDS} feeds" in drawn, drawn[-500:]  # the bar, at its end
            assert imported.returncode == 0, imported.stderr[-2000:] + imported.stdout[-2000:]
            assert f": {FEEDS} added," in imported.stdout, imported.stdout[-1000:]
            polled = run_releasebot("--config", str(poll_config), "poll")
            assert polled.returncode == 0, polled.stderr[-2000:]
            assert statuses(polled.stdout) == {"ok": FEEDS, "releases": 20 * FEEDS}
            imports.append(imported.wall)
            polls.append(polled.wall)
            import_cpu.append(imported.cpu)
            poll_cpu.append(polled.cpu)
    s = "{:.2f}".format
    print(
        f"{FEEDS} feeds on loopback, {DELAY * 1000:.0f} ms per answer;"
        f" load average {load()} at the end"
    )
    print()
    print(
        table(
            [
                ["measure", "min", "median", "max"],
                ["opml import, wall s", *Spread.of(imports).cells(s)],
                ["poll, wall s", *Spread.of(polls).cells(s)],
                ["import / poll (wall, run by run)", *ratios(imports, polls).cells(s)],
                ["opml import, CPU s", *Spread.of(import_cpu).cells(s)],
                ["poll, CPU s", *Spread.of(poll_cpu).cells(s)],
            ]
        )
    )


if __name__ == "__main__":
    main()
