"""Progress of long CLI work (`poll`, `check --network`, `opml import`), on stderr so that
stdout stays the command's result and can be piped.

On a terminal: a rich bar redrawn in place, its last state left on screen ("1000/1000
feeds"). Otherwise (a pipe, a log file, cron, TERM=dumb): plain lines, and only for work that
lasts: a line when at least `every` seconds passed since the last one and another tenth is
done (so at most eleven lines, whatever the count), then a last line when it ends. Quick work
says nothing, as these commands always did. NO_COLOR is rich's business: the bar stays,
without colours.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

EVERY = 5.0  # seconds between plain lines, at least


def wants_bar(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is a terminal that can redraw a bar (not TERM=dumb)."""
    env = os.environ if environ is None else environ
    try:
        terminal = stream.isatty()
    except ValueError:  # a closed stream
        return False
    return terminal and env.get("TERM", "") != "dumb"


def plain_line(label: str, done: int, total: int, unit: str) -> str:
    """'polled 500/1000 feeds'."""
    return f"{label} {done}/{total} {unit}"


class Progress:
    """`total` steps of work named `label` ('polled', 'checked'): `advance()` after each,
    `close()` (or leave the `with` block) at the end."""

    def __init__(
        self,
        total: int,
        label: str,
        unit: str = "feeds",
        *,
        stream: TextIO | None = None,
        bar: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = EVERY,
    ) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.stream = sys.stderr if stream is None else stream
        self.clock, self.every = clock, every
        self.done = 0
        self.closed = False
        self._last = clock()
        self._said_step = 0  # the tenth of the last plain line
        self._said_done: int | None = None
        self._bar: _Bar | None = None
        if total > 0 and (wants_bar(self.stream) if bar is None else bar):
            self._bar = _Bar(self.stream, total, label, unit)

    def advance(self, n: int = 1) -> None:
        """`n` more steps done."""
        self.done += n
        if self._bar is not None:
            self._bar.advance(n)
            return
        now = self.clock()
        step = 10 * self.done // self.total if self.total else 10
        if now - self._last >= self.every and step > self._said_step and self.done < self.total:
            self._say(now, step)

    def close(self) -> None:
        """The bar's last state stays on screen; plain output ends with a last line if it
        said any."""
        if self.closed:
            return
        self.closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._said_done is not None and self._said_done != self.done:
            self._say(self.clock(), 10)

    def _say(self, now: float, step: int) -> None:
        print(plain_line(self.label, self.done, self.total, self.unit), file=self.stream)
        self.stream.flush()
        self._last, self._said_step, self._said_done = now, step, self.done

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class _Bar:
    """rich's bar on `stream` ('polled ━━━━━━━━ 1000/1000 feeds 0:00:04 0:00:00'); log lines
    written meanwhile print above it, not through it."""

    def __init__(self, stream: TextIO, total: int, label: str, unit: str) -> None:
        # rich costs ~40 ms of start-up: only a terminal pays it.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        console = Console(file=stream, force_terminal=True)
        self.rich: RichProgress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            redirect_stdout=False,  # stdout is the command's result: never into the bar
        )
        self.task: TaskID = self.rich.add_task(label, total=total)
        self._logs = _LogsAbove(stream)
        self.rich.start()
        self._logs.enter(self.rich)

    def advance(self, n: int) -> None:
        self.rich.advance(self.task, n)

    def close(self) -> None:
        self._logs.leave()
        self.rich.stop()


class _LogsAbove:
    """Point the log handlers writing to the bar's stream at rich while the bar shows."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.moved: list[logging.StreamHandler[Any]] = []

    def enter(self, rich: RichProgress) -> None:
        proxy = _ConsoleWriter(rich)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                handler.setStream(proxy)
                self.moved.append(handler)

    def leave(self) -> None:
        for handler in self.moved:
            handler.setStream(self.stream)
        self.moved.clear()


class _ConsoleWriter:
    """A file for logging: each line printed above the live bar."""

    def __init__(self, rich: RichProgress) -> None:
        self.rich = rich
        self.buffer = ""

    def write(self, text: str) -> int:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            self.rich.console.print(line, markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass
