"""`releasebot` run in the test's own process (`bot.cli.main`), for tests about what a
command answers rather than about the process: no interpreter start (0.2-0.6 s of CPU).

`main` sets up process-wide things a real run owns: the root logger's handlers and level,
the noisy libraries' log levels, Python warnings' route, SIGHUP's handler (`run`). Each
call puts them back as they were, so nothing leaks into the next test; the token, webhook
secret and config variables are removed for the call, as the subprocess helpers remove them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.cli import main

Cli = Callable[..., subprocess.CompletedProcess[str]]  # (config, *args) -> the answer
NOISY = ("httpx", "httpcore", "telegram", "apscheduler")
UNSET = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "RELEASEBOT_CONFIG")


@contextmanager
def process_state_kept() -> Iterator[None]:
    """Put back what `main` changes process-wide: logging, warnings, SIGHUP, os.environ."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in NOISY}
    showwarning = warnings.showwarning
    hangup = signal.getsignal(signal.SIGHUP)
    environ = dict(os.environ)
    for name in UNSET:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in levels.items():
            logging.getLogger(name).setLevel(was)
        logging.captureWarnings(False)
        warnings.showwarning = showwarning
        signal.signal(signal.SIGHUP, hangup)
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)


def releasebot_here(
    capsys: pytest.CaptureFixture[str],
    argv: Sequence[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`releasebot ARGV` by `bot.cli.main` in `cwd`, with `env` added to the environment
    (e.g. the token): its exit code (returned, or raised as argparse does) and what it
    wrote to stdout and stderr, as a subprocess would give them."""
    capsys.readouterr()  # only this command's output
    before = Path.cwd()
    with process_state_kept():
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        finally:
            os.chdir(before)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["releasebot", *argv], code, out, err)


def with_config(
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`run(config, *args)`: `releasebot --config CONFIG ARGS` in this process, in the shape
    of tests.processes.releasebot (a fixture returns this, bound to the test's capsys)."""

    def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return releasebot_here(capsys, ["--config", str(config), *args])

    return run
