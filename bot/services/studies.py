"""The study lookup job: the identifiers the releases point to, looked up and the answers kept.

A running bot runs `StudyLookups.run` as a task of its own, beside the poll rounds and
the sends, so a slow or rate-limited DOI resolver never holds up a round or a post: a
post goes out without its study line, and is edited to add it when the study is found
within `[study] edit_window` (bot/store/studies.py marks those posts; `wake` starts the
dispatcher's workers). Each pass reads at most `PASS_LIMIT` due identifiers, those of
the newest releases first, and looks them up `CONCURRENT` at a time (the StudyClient
paces the requests themselves); a pass runs after every poll round (`notify`) and at
least every `IDLE` seconds.

What each answer leads to (`attempts` counts every lookup of an identifier):

- found: kept; the posts sent within the edit window that now show it are owed an edit.
- not registered (404): asked again a day later, up to `NOT_REGISTERED_TRIES` lookups in
  all (a week of days: a DOI is often registered a few days after the press release);
  then it stays `not_registered` for good.
- retry (a timeout, 429, 5xx): stays `pending`, asked again after the service's
  Retry-After or an exponential backoff by attempts (`RETRY_FIRST` doubling, at most
  `RETRY_CAP`), whichever is longer; `failed` for good after `RETRY_TRIES` lookups. A
  429's Retry-After also ends the pass: nothing more is asked until it has passed.
- failed (an unusable answer, e.g. malformed JSON): asked again `FAILED_AGAIN` later,
  doubling, up to `FAILED_TRIES` lookups; then `failed` for good.

One identifier's failure never stops the others; a store error is logged, and what it
did not record is due again at the next pass. With `[study] enabled = false` there is
no lookup, and no request, at all.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.config import Settings, StudySettings
from bot.errors import StoreError
from bot.fetch.studies import StudyAnswer, StudyClient
from bot.logs import log_fields
from bot.models import RoutingView, Study, StudyRef
from bot.render.progress import counted
from bot.store import Store
from bot.store.studies import MissState

log = logging.getLogger(__name__)

PASS_LIMIT = 20  # identifiers per pass; the rest wait for the next one
CONCURRENT = 3  # lookups under way at once (the client paces their requests)
IDLE = 60.0  # seconds between passes when no poll round asks for one sooner
NOT_REGISTERED_AGAIN = timedelta(days=1)
NOT_REGISTERED_TRIES = 8  # the first lookup and seven daily ones
RETRY_FIRST = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)
RETRY_TRIES = 10  # ~14 hours of backoff in all
FAILED_AGAIN = timedelta(hours=6)
FAILED_TRIES = 3  # then 6 h and 12 h later

# The results a pass counts (metrics' label set): an answer's state, or "gave_up" when
# that answer was the last the identifier gets.
LookupResult = Literal["found", "not_registered", "retry", "failed", "gave_up"]
LOOKUP_RESULTS: tuple[LookupResult, ...] = (
    "found",
    "not_registered",
    "retry",
    "failed",
    "gave_up",
)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class PassReport:
    """What one pass did."""

    results: dict[str, int] = field(default_factory=dict)  # LookupResult -> identifiers
    edits: int = 0  # posts owed an edit for a study found
    held: float = 0.0  # seconds a service asked to be left alone (0: none)
    full: bool = False  # as many were due as a pass takes: more may be waiting

    @property
    def looked_up(self) -> int:
        return sum(self.results.values())

    def count(self, result: LookupResult) -> None:
        self.results[result] = self.results.get(result, 0) + 1


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one answer is stored: its state, when to ask again, what the log says."""

    state: MissState
    retry_at: datetime | None
    result: LookupResult


def retry_backoff(attempt: int) -> timedelta:
    """The wait before lookup `attempt + 1` after a retryable answer to lookup `attempt`."""
    doublings = min(max(attempt - 1, 0), 20)  # 2**20 minutes is past any cap already
    wait: timedelta = RETRY_FIRST * 2**doublings
    return min(wait, RETRY_CAP)


def miss_verdict(answer: StudyAnswer, attempt: int, now: datetime) -> Verdict:
    """What to store for an answer that found nothing, lookup number `attempt` of its
    identifier (1 for the first)."""
    if answer.state == "not_registered":
        if attempt >= NOT_REGISTERED_TRIES:
            return Verdict("not_registered", None, "gave_up")
        return Verdict("not_registered", now + NOT_REGISTERED_AGAIN, "not_registered")
    if answer.state == "retry":
        if attempt >= RETRY_TRIES:
            return Verdict("failed", None, "gave_up")
        asked = timedelta(seconds=answer.retry_after or 0.0)
        return Verdict("pending", now + max(asked, retry_backoff(attempt)), "retry")
    if attempt >= FAILED_TRIES:
        return Verdict("failed", None, "gave_up")
    return Verdict("failed", now + FAILED_AGAIN * 2 ** max(attempt - 1, 0), "failed")


def record_found(
    store: Store, ref: StudyRef, study: Study, now: datetime, edit_window: float
) -> int:
    """Keep the study found for `ref`; returns how many posts sent within `edit_window`
    seconds are owed an edit to show it."""
    edit_since = now - timedelta(seconds=edit_window)
    return store.record_study_found(ref, study, now, edit_since=edit_since)


def record_miss(
    store: Store, ref: StudyRef, answer: StudyAnswer, now: datetime
) -> tuple[int, Verdict]:
    """Keep an answer that found nothing by the retry and give-up rules (miss_verdict);
    returns which lookup of `ref` it was (1 for the first) and the verdict stored."""
    known = store.study_lookup(ref)
    attempt = (known.attempts if known is not None else 0) + 1
    verdict = miss_verdict(answer, attempt, now)
    store.record_study_miss(
        ref, state=verdict.state, error=answer.error, now=now, retry_at=verdict.retry_at
    )
    return attempt, verdict


class StudyLookups:
    """Looks up the due identifiers and keeps each answer (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        client: StudyClient | None,
        settings: StudySettings,
        *,
        clock: Clock,
        wake: Callable[[], None] = lambda: None,
        counted: Callable[[str], None] | None = None,
        limit: int = PASS_LIMIT,
    ) -> None:
        self.store = store
        self.client = client  # None when [study] enabled = false
        self.settings = settings
        self.clock = clock
        self.wake = wake  # posts are owed an edit: let the dispatcher send them
        self.counted = counted  # each lookup's result, for the metrics (None: not counted)
        self.limit = limit
        self._asked = asyncio.Event()  # a poll round stored releases: look soon
        self._idle = asyncio.Event()  # no pass under way or asked for
        self._idle.set()
        self._running = False
        self.found = 0  # studies found since the start
        self._held_until: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled and self.client is not None

    def notify(self) -> None:
        """New releases may point to studies: run a pass soon (without waiting for it)."""
        self._asked.set()
        self._idle.clear()

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """A reload: the new edit window from the next answer on (the services' addresses,
        the contact and the rate are kept until a restart, as the client was built)."""
        self.settings = self.settings.model_copy(update={"edit_window": settings.study.edit_window})

    async def settled(self) -> None:
        """Return once no pass is under way or asked for (at once when disabled or not
        running): `run --once` waits for this, bounded, before its last sends."""
        if self.enabled and self._running:
            await self._idle.wait()

    async def run(self, sleep: Sleep = asyncio.sleep, idle: float = IDLE) -> None:
        """Passes until cancelled: one now, then one after each `notify` or `idle` seconds
        (at once while more are due; never before a service's Retry-After has passed)."""
        if not self.enabled:
            return
        self._running = True
        try:
            while True:
                self._asked.clear()
                self._idle.clear()
                report = await self.lookup_due()
                if report.held:
                    self._idle.set()  # nothing more can be done until the wait is over
                    await sleep(report.held)
                elif not report.full:
                    if not self._asked.is_set():
                        self._idle.set()
                    await self._until_asked(sleep, idle)
        finally:
            self._running = False
            self._idle.set()

    async def _until_asked(self, sleep: Sleep, idle: float) -> None:
        asked = asyncio.ensure_future(self._asked.wait())
        slept = asyncio.ensure_future(sleep(idle))
        try:
            await asyncio.wait([asked, slept], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (asked, slept):
                waiting.cancel()
            await asyncio.gather(asked, slept, return_exceptions=True)

    async def lookup_due(self) -> PassReport:
        """One pass: the due identifiers (newest releases first) looked up and stored."""
        report = PassReport()
        if not self.enabled:
            return report
        now = self.clock()
        if self._held_until is not None and now < self._held_until:
            report.held = (self._held_until - now).total_seconds()
            return report
        try:
            due = self.store.due_study_lookups(now, self.limit)
        except (StoreError, sqlite3.Error) as exc:
            log.warning("reading the study lookups due failed (tried again next pass): %s", exc)
            return report
        report.full = len(due) >= self.limit
        queue: asyncio.Queue[StudyRef] = asyncio.Queue()
        for ref in due:
            queue.put_nowait(ref)
        workers = min(CONCURRENT, len(due))
        await asyncio.gather(*(self._work(queue, report) for _ in range(workers)))
        return report

    async def _work(self, queue: asyncio.Queue[StudyRef], report: PassReport) -> None:
        while not queue.empty():
            ref = queue.get_nowait()
            if report.held:
                return  # a service asked for quiet: the rest stay due for a later pass
            await self._lookup_one(ref, report)

    async def _lookup_one(self, ref: StudyRef, report: PassReport) -> None:
        assert self.client is not None  # noqa: S101 -- only enabled passes get here
        try:
            answer = await self.client.lookup(ref)
        except Exception as exc:  # a bug reading one answer must not stop the other lookups
            log.exception("study %s: the lookup failed unexpectedly", ref.key)
            answer = StudyAnswer("failed", error=f"internal error: {type(exc).__name__}: {exc}")
        now = self.clock()
        if answer.state == "retry" and answer.retry_after:
            report.held = max(report.held, answer.retry_after)
            until = now + timedelta(seconds=answer.retry_after)
            self._held_until = max(self._held_until or until, until)
        owed_before = report.edits
        try:
            result = self._record(ref, answer, now, report)
        except (StoreError, sqlite3.Error) as exc:
            log.warning("study %s: storing the answer failed (looked up again): %s", ref.key, exc)
            report.full = False  # no pass straight after: it would ask the same again
            return
        report.count(result)
        if self.counted is not None:
            self.counted(result)
        if report.edits > owed_before:
            self._wake_dispatcher()

    def _wake_dispatcher(self) -> None:
        """Posts are owed an edit: the dispatcher sends it now, not at the next round."""
        try:
            self.wake()
        except (StoreError, sqlite3.Error) as exc:  # the next round starts the workers
            log.warning("starting the edits of posts whose study came failed: %s", exc)

    def _record(
        self, ref: StudyRef, answer: StudyAnswer, now: datetime, report: PassReport
    ) -> LookupResult:
        """Store `answer` for `ref`; returns the result to count."""
        if answer.state == "found" and answer.study is not None:
            owed = record_found(self.store, ref, answer.study, now, self.settings.edit_window)
            report.edits += owed
            self.found += 1
            study = answer.study
            log.info(
                "study %s found: %s (%s); %s to edit",
                ref.key,
                textwrap.shorten(study.title, 80, placeholder=" …"),
                study.journal or "no journal",
                counted(owed, "sent post"),
                extra=self._about(ref),
            )
            return "found"
        attempt, verdict = record_miss(self.store, ref, answer, now)
        again = (
            f"asking again at {verdict.retry_at.isoformat(timespec='seconds')}"
            if verdict.retry_at is not None
            else "not asking again"
        )
        log.info(
            "study %s %s (lookup %d): %s; %s",
            ref.key,
            answer.state.replace("_", " "),
            attempt,
            answer.error or "no reason given",
            again,
            extra=self._about(ref),
        )
        return verdict.result

    def _about(self, ref: StudyRef) -> dict[str, str | int]:
        """The log fields of a line about `ref`: the newest release pointing to it."""
        newest = self.store.releases_pointing_to(ref, limit=1)
        return log_fields(release=newest[0]) if newest else {}
