"""Poll feeds: fetch, parse, store; record each feed's state and when to poll it next."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from bot.config import FeedSettings, Settings
from bot.errors import FeedError, FeedFetchError, ReleaseBotError, StoreError
from bot.feeds.backoff import next_poll_after_failure, next_poll_after_success
from bot.fetch.client import Fetcher
from bot.logs import log_fields
from bot.models import Feed, IngestResult, ParsedFeed, RoutingView
from bot.render.cite import citation_key
from bot.render.notices import store_recovered_notice, store_unwritable_notice
from bot.render.progress import counted
from bot.render.telegram_html import Html
from bot.services.metrics import Metrics
from bot.services.parse_pool import ParsePool
from bot.services.routing import build_view
from bot.services.store_outage import StoreOutage
from bot.store import Store

log = logging.getLogger(__name__)

PollStatus = Literal["ok", "not_modified", "unchanged", "error"]
Clock = Callable[[], datetime]
Notify = Callable[[Html], Awaitable[None]]  # tells the admins; see bot.render.notices

# Polls under way at once: a few per fetcher slot, so that a slot that frees is taken at
# once, while a round of 10,000 due feeds no longer holds 10,000 coroutines.
WORKERS_PER_SLOT = 4
STORE_WAITING = "not polled: the database cannot be written yet"


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One feed's poll, as `releasebot poll` prints it."""

    feed: str
    status: PollStatus
    result: IngestResult | None = None
    error: str | None = None
    skipped: int = 0  # older items beyond fetch.max_items, not taken


async def _stored_in_steps(steps: Iterator[IngestResult]) -> IngestResult:
    """Run each ingest step (one transaction each), and let the event loop answer commands
    and send posts between two: a flood of new releases never freezes the bot."""
    totals = []
    for total in steps:
        totals.append(total)
        await asyncio.sleep(0)
    return totals[-1]


def _log_cut_fields(feed: str, parsed: ParsedFeed) -> None:
    """One line when the feed overfilled fields (see bot/feeds/normalise.py LIMITS)."""
    cut = [release for release in parsed.releases if release.truncated]
    if cut:
        fields = sorted({field for release in cut for field in release.truncated})
        log.warning(
            "feed %s: %d releases had fields too long, cut or dropped: %s",
            feed,
            len(cut),
            ", ".join(fields),
            extra=log_fields(feed=feed),
        )


def _log_polled(outcome: PollOutcome) -> PollOutcome:
    """One line per feed polled: INFO when it brought new or changed releases, else DEBUG."""
    about = log_fields(feed=outcome.feed)
    result = outcome.result
    if result is None:  # 304, or the same body as last time
        log.debug("feed %s: %s", outcome.feed, outcome.status.replace("_", " "), extra=about)
    elif result.new or result.updated:
        log.info(
            "feed %s: %d new, %d changed; %s queued",
            outcome.feed,
            result.new,
            result.updated,
            counted(result.queued, "post"),
            extra=about,
        )
    else:
        log.debug("feed %s: nothing new", outcome.feed, extra=about)
    return outcome


async def in_workers(
    work: Callable[[Feed], Awaitable[PollOutcome]],
    feeds: Sequence[Feed],
    workers: int,
    per_host: int,
) -> list[PollOutcome]:
    """`work(feed)` for every feed, at most `workers` at a time and `per_host` of a host;
    outcomes in `feeds`' order.

    A coroutine per feed all at once (10,000 in a cold start's first round) held a task,
    its frames and the feed's state each until the fetcher had a slot for it: tens of MB
    at the round's peak, which the process kept (bench/README.md, soak memory). A worker
    never takes a feed only to wait for its host (the fetcher's per-host limit): workers
    parked behind one hanging host would leave the other hosts' feeds waiting."""
    outcomes: list[PollOutcome | None] = [None] * len(feeds)
    turns = HostTurns(feeds, per_host)

    async def worker() -> None:
        while (index := await turns.next()) is not None:
            try:
                outcomes[index] = await work(feeds[index])
            finally:
                turns.done(index)

    await asyncio.gather(*(worker() for _ in range(min(workers, len(feeds)))))
    return [outcome for outcome in outcomes if outcome is not None]


def host_of(feed: Feed) -> str:
    """The host the feed is fetched from ("" for a local file, or a URL Python cannot
    split: the fetcher reports that one as the feed's error)."""
    try:
        return urlsplit(feed.source).hostname or ""
    except ValueError:
        return ""


class HostTurns:
    """The feeds' positions, one host after another in turn (a, b, c, a, b, ...), each
    host's in their order, skipping a host while `per_host` of its feeds are under way."""

    def __init__(self, feeds: Sequence[Feed], per_host: int) -> None:
        self.per_host = per_host
        self.waiting: dict[str, deque[int]] = {}
        for index, feed in enumerate(feeds):
            self.waiting.setdefault(host_of(feed), deque()).append(index)
        self.turn: deque[str] = deque(self.waiting)  # hosts with feeds left, next first
        self.busy: dict[str, int] = dict.fromkeys(self.waiting, 0)
        self.host_at: dict[int, str] = {}
        # Idle workers, woken one per poll that ends: waking them all each time cost
        # thousands of wake-ups per round when most feeds share one host.
        self.idle: deque[asyncio.Future[None]] = deque()

    async def next(self) -> int | None:
        """The next feed to poll, once its host has room; None when none is left."""
        while self.turn:
            for _ in range(len(self.turn)):
                host = self.turn.popleft()
                if self.busy[host] < self.per_host:
                    return self._take(host)
                self.turn.append(host)
            woken = asyncio.get_running_loop().create_future()
            self.idle.append(woken)
            await woken
        return None

    def _take(self, host: str) -> int:
        index = self.waiting[host].popleft()
        if self.waiting[host]:
            self.turn.append(host)  # its next feed after the other hosts' turn
        elif not self.turn:  # the last feed is taken: the idle workers are done
            while self.idle:
                self._wake()
        self.busy[host] += 1
        self.host_at[index] = host
        return index

    def done(self, index: int) -> None:
        self.busy[self.host_at.pop(index)] -= 1
        self._wake()

    def _wake(self) -> None:
        while self.idle:
            woken = self.idle.popleft()
            if not woken.done():  # not cancelled
                woken.set_result(None)
                return


class Poller:
    """Polls feeds with one shared fetcher and store; one failing feed never stops the others."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        fetcher: Fetcher,
        clock: Clock,
        rng: random.Random | None = None,
        parser: ParsePool | None = None,
        notify: Notify | None = None,
        view: RoutingView | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics  # counts the polls (None: not counted)
        self.store = store
        self.view = view if view is not None else build_view(store, settings)  # the feeds
        self.fetcher = fetcher
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 -- jitter, not security
        self.parser = parser or ParsePool(processes=0)
        self.notify = notify  # tells the admins (Telegram HTML); None: log only
        self.outage = StoreOutage()
        self._unguarded: set[str] = set()  # feeds whose next store follows our own outage

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """Poll the feeds of `view` from the next round on (a reload, an admin's change)."""
        self.settings = settings
        self.view = view

    async def poll_all(
        self,
        feeds: Sequence[Feed | FeedSettings] | None = None,
        *,
        polled: Callable[[PollOutcome], None] | None = None,
    ) -> list[PollOutcome]:
        """Poll every feed of the view but those an owner paused, or those of `feeds` (by
        name) it has; `polled` hears of each outcome as it comes (a CLI's progress bar)."""
        if feeds is None:
            named: Iterable[Feed | None] = (f for f in self.view.feeds if not f.paused)
        else:
            named = (self.view.feed(f.name) for f in feeds)
        targets = [feed for feed in named if feed is not None]

        async def poll(feed: Feed) -> PollOutcome:
            outcome = await self.poll_guarded(feed)
            if polled is not None:
                polled(outcome)
            return outcome

        each = self.poll_guarded if polled is None else poll
        workers = self.settings.fetch.concurrency * WORKERS_PER_SLOT
        outcomes = await in_workers(each, targets, workers, self.settings.fetch.per_host)
        if self.metrics is not None:
            self.metrics.polled(outcomes)
        return outcomes

    async def poll_due(self) -> list[PollOutcome]:
        if self.outage.blocked(self.clock()):
            return []  # the store cannot write yet: what we fetched now would be thrown away
        polled = [feed.name for feed in self.view.feeds if not feed.paused]
        due = set(self.store.due_feeds(polled, self.clock()))
        return await self.poll_all([f for f in self.view.feeds if f.name in due])

    async def poll_guarded(self, feed: Feed) -> PollOutcome:
        """Poll one feed; whatever goes wrong is recorded, logged once and never raised."""
        if self.outage.blocked(self.clock()):
            return PollOutcome(feed.name, "error", error=STORE_WAITING)
        try:
            outcome = await self._poll_recorded(feed)
        except StoreError as exc:
            await self._store_failed(feed, exc)
            return PollOutcome(feed.name, "error", error=str(exc))
        lasted = self.outage.stored(feed.name, self.clock())
        if lasted is not None:
            log.warning("the database can be written again; polling resumed")
            path = str(self.settings.database_path)
            await self._tell_admins(store_recovered_notice(path, lasted.total_seconds()))
        return outcome

    async def _poll_recorded(self, feed: Feed) -> PollOutcome:
        """Poll one feed and record a feed's own failure on its row; a store failure raises.

        A bug (any exception that is not a ReleaseBotError) is logged with its traceback and
        recorded as an internal error, retried like a transient one: it must not stop the
        other feeds, nor pass for the feed's fault.
        """
        try:
            return await self.poll_one(feed)
        except FeedError as exc:
            retry_after = exc.retry_after if isinstance(exc, FeedFetchError) else None
            return self._record_failure(feed, exc.message, retry_after, permanent=exc.permanent)
        except StoreError:
            raise  # our outage, not the feed's fault: poll_guarded backs off
        except Exception as exc:  # a bug in our code: one feed's bug never stops the others
            log.exception(
                "feed %s: bug while polling (the other feeds go on)",
                feed.name,
                extra=log_fields(feed=feed.name),
            )
            return self._record_failure(feed, f"internal error: {type(exc).__name__}: {exc}", None)

    async def _store_failed(self, feed: Feed, exc: StoreError) -> None:
        """Back off in memory (nothing can be recorded); log and tell the admins once."""
        now = self.clock()
        retries = self.outage.retries
        beginning = self.outage.failed(feed.name, now)
        retry_in = self.outage.retry_in(now)
        cause = str(exc.__cause__ or exc)
        self._unguarded.add(feed.name)
        if beginning:
            log.error(
                "the database cannot be written (%s): polling waits, next try in %.0f s",
                cause,
                retry_in,
            )
            path = str(self.settings.database_path)
            await self._tell_admins(store_unwritable_notice(path, cause, retry_in))
        elif self.outage.retries > retries:
            log.info("the database still cannot be written; next try in %.0f s", retry_in)

    async def _tell_admins(self, text: Html) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(text)
        except ReleaseBotError as exc:  # a notice must not stop polling
            log.error("cannot tell the admins: %s", exc)

    async def poll_one(self, feed: Feed) -> PollOutcome:
        state = self.store.feed_state(feed.name)
        fetched = await self.fetcher.fetch(
            state.url, etag=state.etag, last_modified=state.last_modified
        )
        now = self.clock()

        def record_success(body_hash: str | None, title: str | None = None) -> None:
            self.store.record_fetch_success(
                feed.name,
                now=now,
                next_poll=next_poll_after_success(now, feed.interval),
                # a 304 need not repeat the validators: keep the ones we sent
                etag=fetched.etag or state.etag,
                last_modified=fetched.last_modified or state.last_modified,
                body_hash=body_hash,
                title=title,
                current_url=fetched.permanent_url,
            )

        if fetched.status == "not_modified":
            record_success(state.body_hash)
            return _log_polled(PollOutcome(feed.name, "not_modified"))
        body_hash = hashlib.sha256(fetched.body).hexdigest()
        if body_hash == state.body_hash:
            record_success(body_hash)
            return _log_polled(PollOutcome(feed.name, "unchanged"))
        max_items = self.settings.fetch.max_items
        parsed = await self.parser.parse(
            fetched.body,
            feed_name=feed.name,
            base_url=fetched.url,
            timezone=feed.zone,
            content_type=fetched.content_type,
            max_items=max_items,
            language=feed.language,
        )
        # Releases missed during our own outage are all owed: no flood guard for this feed's
        # first store after it (the store also never guards those dated since last_success).
        limit = None if feed.name in self._unguarded else self.settings.defaults.flood_limit
        result = await _stored_in_steps(
            self.store.ingest_steps(
                feed.name,
                parsed.releases,
                now=now,
                flood_limit=limit,
                cite_key_of=lambda release: citation_key(release, feed.publisher),
            )
        )
        self._unguarded.discard(feed.name)
        record_success(body_hash, parsed.title)
        if parsed.skipped:
            log.warning(
                "feed %s: %d items; took the newest %d (fetch.max_items), skipped %d",
                feed.name,
                len(parsed.releases) + parsed.skipped,
                len(parsed.releases),
                parsed.skipped,
                extra=log_fields(feed=feed.name),
            )
        _log_cut_fields(feed.name, parsed)
        if result.flooded:
            log.warning(
                "feed %s: %d new releases; queued the newest %d, stored the rest as seen",
                feed.name,
                result.new,
                result.new - result.flooded,
                extra=log_fields(feed=feed.name),
            )
        return _log_polled(PollOutcome(feed.name, "ok", result=result, skipped=parsed.skipped))

    def _record_failure(
        self,
        feed: Feed,
        message: str,
        retry_after: float | None,
        *,
        permanent: bool = False,
    ) -> PollOutcome:
        now = self.clock()
        failures = self.store.feed_state(feed.name).failures + 1
        next_poll = next_poll_after_failure(
            now,
            feed.interval,
            failures,
            retry_after=retry_after,
            jitter=self.rng.random(),
            permanent=permanent,
        )
        self.store.record_fetch_failure(
            feed.name,
            now=now,
            next_poll=next_poll,
            error=message,
            failures=failures,
            permanent=permanent,
        )
        kind = "permanent" if permanent else "transient"
        log.warning(
            "feed %s: %s (failure %d, %s)",
            feed.name,
            message,
            failures,
            kind,
            extra=log_fields(feed=feed.name),
        )
        return PollOutcome(feed.name, "error", error=message)
