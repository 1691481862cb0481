"""When `releasebot run` speaks: a line after each round that found or sent something,
otherwise a heartbeat at most every `heartbeat` seconds, and a total when it stops.

The dispatcher's report counts posts since the start; a round line shows what changed since
the previous line (posts sent by workers after a round's line show in the next one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bot.render.progress import Tally, heartbeat_line, round_line, stop_line
from bot.services.dispatcher import DrainReport
from bot.services.poller import PollOutcome

HEARTBEAT = 3600.0  # seconds of silence before a quiet bot says it is still running


def polled(outcomes: Sequence[PollOutcome]) -> Tally:
    """What one round's polls found."""
    return Tally(
        polled=len(outcomes),
        failed_feeds=sum(1 for o in outcomes if o.status == "error"),
        new=sum(o.result.new for o in outcomes if o.result),
        updated=sum(o.result.updated for o in outcomes if o.result),
    )


def delivered(report: DrainReport) -> Tally:
    """The posts a dispatcher's report counts."""
    return Tally(
        sent=report.sent, edited=report.edited, failed_posts=report.failed, printed=report.printed
    )


def _minus(after: Tally, before: Tally) -> Tally:
    return Tally(
        sent=after.sent - before.sent,
        edited=after.edited - before.edited,
        failed_posts=after.failed_posts - before.failed_posts,
        printed=after.printed - before.printed,
    )


class Progress:
    """Tallies rounds and says a line when one is due; `clock` is the time, `waiting` the
    number of posts still owed (asked only when a line is said)."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        waiting: Callable[[], int],
        *,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.clock = clock
        self.waiting = waiting
        self.heartbeat = heartbeat
        self.last_line = clock()
        self.since_line = Tally()  # polls since the last line
        self.run = Tally()  # polls since the start
        self.reported = Tally()  # the dispatcher's counts at the last line

    def after_round(self, outcomes: Sequence[PollOutcome], report: DrainReport) -> str | None:
        """The line to log after a round, or None when it found and sent nothing."""
        found = polled(outcomes)
        self.since_line += found
        self.run += found
        posts = delivered(report)
        tally = self.since_line + _minus(posts, self.reported)
        now = self.clock()
        if tally.eventful:
            line = round_line(tally, self.waiting())
        elif (now - self.last_line).total_seconds() >= self.heartbeat:
            line = heartbeat_line(tally, (now - self.last_line).total_seconds(), self.waiting())
        else:
            return None
        self.last_line, self.since_line, self.reported = now, Tally(), posts
        return line

    def stopped(self, report: DrainReport) -> str:
        """The stop line: what this run found and sent, what still waits."""
        return stop_line(self.run + delivered(report), self.waiting())
