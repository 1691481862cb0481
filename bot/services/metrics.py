"""What the running bot counts for Prometheus, and whether it is healthy (`[metrics]`).

One `Metrics` object per run, with its own CollectorRegistry (tests make several). The
parts that see an event call one method each: the poller after a round of polls, the
dispatcher per delivery answer, the Telegram request layer per Bot API answer, the reader
commands per command. The gauges that describe the store (a feed's last success and
failures, the outbox per channel, paused channels) are set from the store once per round,
on the event loop (`refresh_gauges`): a scrape only reads the registry, never the store,
whose connection belongs to the loop's thread.

Labels are bounded: feed and channel names from the routing view (a feed or channel that
leaves the view loses its series), command names from a fixed list, results from a fixed
set. Never a release id, a URL or an error's text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from time import perf_counter
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from bot.models import RoutingView
from bot.render.command_args import COMMANDS
from bot.services.metrics_feeds import FeedSeries
from bot.store import Store

if TYPE_CHECKING:
    from bot.services.poller import PollOutcome

Clock = Callable[[], datetime]
POLL_RESULTS = ("ok", "not_modified", "error")
DELIVERY_RESULTS = ("sent", "edited", "failed", "retry", "printed")  # printed: a dry run
# bot/services/studies.py LOOKUP_RESULTS (not imported: that module imports the HTTP client).
STUDY_RESULTS = ("found", "not_registered", "retry", "failed", "gave_up")
# The reader commands and the admin commands (bot/services/admin.py); any other is "other".
KNOWN_COMMANDS = frozenset(
    (
        *COMMANDS,
        *("add", "import", "remove", "subs", "set", "filter", "pause", "resume", "retry"),
        *("status", "export", "audit"),
    )
)
TICKS_UNTIL_UNHEALTHY = 3
TELEGRAM_PATIENCE = 300.0  # seconds without any Bot API answer before /healthz says 503
# Seconds: Telegram's retry_after runs from 1 s to an hour (a flood ban).
RETRY_AFTER_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 900, 3600)
COMMAND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
ROUND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What /healthz answers: 200 or 503, and its JSON body."""

    status: int
    body: dict[str, object]

    def json(self) -> bytes:
        return json.dumps(self.body).encode()


class Health:
    """The scheduler's last tick, the store's last write check, Telegram's last answer.

    A process that just started counts as having just ticked and heard from Telegram, so
    it is not reported unhealthy before it had the chance to be otherwise."""

    def __init__(self, clock: Clock, *, tick: float, telegram: bool) -> None:
        self.clock = clock
        self.tick = tick
        self.telegram = telegram  # False in a dry run: nobody to hear from
        self.started = clock()
        self.last_tick: datetime | None = None
        self.last_answer: datetime | None = None
        self.database_problem: str | None = None

    def ticked(self, database_problem: str | None) -> None:
        self.last_tick = self.clock()
        self.database_problem = database_problem

    def answered(self) -> None:
        self.last_answer = self.clock()

    def report(self) -> HealthReport:
        now = self.clock()
        reasons = []
        tick_age = (now - (self.last_tick or self.started)).total_seconds()
        if tick_age > TICKS_UNTIL_UNHEALTHY * self.tick:
            reasons.append(f"the scheduler has not ticked for {tick_age:.0f} s")
        if self.database_problem is not None:
            reasons.append(f"the database cannot be written: {self.database_problem}")
        if not self.telegram:
            telegram = "not used (dry run)"
        elif self.last_answer is None:
            waited = (now - self.started).total_seconds()
            telegram = f"no answer yet ({waited:.0f} s since start)"
            if waited > TELEGRAM_PATIENCE:
                reasons.append(f"Telegram has not answered in the {waited:.0f} s since start")
        else:
            quiet = (now - self.last_answer).total_seconds()
            telegram = f"answered {quiet:.0f} s ago"
            if quiet > TELEGRAM_PATIENCE:
                reasons.append(f"Telegram has not answered for {quiet:.0f} s")
        body: dict[str, object] = {
            "status": "unhealthy" if reasons else "ok",
            "last_tick": self.last_tick.isoformat(timespec="seconds") if self.last_tick else None,
            "database": "writable" if self.database_problem is None else "not writable",
            "telegram": telegram,
        }
        if reasons:
            body["reason"] = "; ".join(reasons)
        return HealthReport(503 if reasons else 200, body)


class Metrics:
    """The run's counters, gauges and histograms, in a registry of their own."""

    def __init__(
        self, version: str, *, clock: Clock, tick: float, telegram: bool, process: bool = True
    ) -> None:
        # No *_created series: half the lines for 10,000 feeds.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry()
        self.health = Health(clock, tick=tick, telegram=telegram)
        if process:  # process_start_time_seconds, process_resident_memory_bytes ...
            ProcessCollector(registry=registry)
        # The per-feed series (thousands of label sets) as plain numbers: metrics_feeds.py.
        self.feeds = FeedSeries()
        registry.register(self.feeds)
        self.deliveries = Counter(
            "releasebot_deliveries",
            "Posts sent or edited, and failed or retried sends, by channel",
            ["channel", "result"],
            registry=registry,
        )
        self.outbox_pending = Gauge(
            "releasebot_outbox_pending", "Posts owed to the channel", ["channel"], registry=registry
        )
        self.outbox_oldest = Gauge(
            "releasebot_outbox_oldest_pending_age_seconds",
            "Age of the channel's oldest owed post (0 when none)",
            ["channel"],
            registry=registry,
        )
        self.channel_paused = Gauge(
            "releasebot_channel_paused",
            "1 while the bot cannot post in the channel",
            ["channel"],
            registry=registry,
        )
        self.telegram_429 = Counter(
            "releasebot_telegram_429", "Bot API answers 429 (any method)", registry=registry
        )
        self.retry_after = Histogram(
            "releasebot_telegram_retry_after_seconds",
            "retry_after of Bot API 429 answers",
            buckets=RETRY_AFTER_BUCKETS,
            registry=registry,
        )
        self.commands = Counter(
            "releasebot_commands", "Commands answered", ["command"], registry=registry
        )
        self.command_duration = Histogram(
            "releasebot_command_duration_seconds",
            "From a command's arrival to its reply sent",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=registry,
        )
        self.round_duration = Histogram(
            "releasebot_poll_round_duration_seconds",
            "One poll round: the due feeds polled and stored",
            buckets=ROUND_BUCKETS,
            registry=registry,
        )
        self.study_lookups = Counter(
            "releasebot_study_lookups",
            "Lookups of the study behind a release (DOI, PubMed id), by result",
            ["result"],
            registry=registry,
        )
        self.study_pending = Gauge(
            "releasebot_study_lookups_pending",
            "Study identifiers not looked up yet, or waiting to be asked again after a retry",
            registry=registry,
        )
        build = Gauge(
            "releasebot_build_info", "The running version", ["version"], registry=registry
        )
        build.labels(version=version).set(1)
        # /healthz as a series, so Prometheus can alert on what only /healthz knows (Telegram
        # silent, the database not writable): set from the health report at each scrape.
        self.healthy = Gauge(
            "releasebot_healthy", "1 when /healthz would answer 200, else 0", registry=registry
        )
        self._feeds: dict[str, tuple[datetime | None, int]] = {}  # as last set
        self._channels: set[str] = set()

    # Events, one call each where they happen.

    def polled(self, outcomes: Iterable[PollOutcome]) -> None:
        """Count polls; an unchanged body (200, identical to the last) counts as not_modified:
        both mean the feed answered with nothing new."""
        for outcome in outcomes:
            result = "not_modified" if outcome.status == "unchanged" else outcome.status
            new = outcome.result.new if outcome.result is not None else 0
            self.feeds.polled(outcome.feed, result, new)

    def delivered(self, channel: str, result: str) -> None:
        self.deliveries.labels(channel=channel, result=result).inc()

    def study_looked_up(self, result: str) -> None:
        """One study lookup's result (bounded: anything unexpected counts as failed)."""
        self.study_lookups.labels(result=result if result in STUDY_RESULTS else "failed").inc()

    def telegram_answered(self, status: int, retry_after: float | None = None) -> None:
        """A Bot API answer: any 200 shows Telegram is there; a 429 is counted."""
        if status == 200:
            self.health.answered()
        elif status == 429:
            self.telegram_429.inc()
            if retry_after is not None:
                self.retry_after.observe(retry_after)

    @contextmanager
    def command(self, name: str) -> Iterator[None]:
        """Count a command and time its answer (the block)."""
        label = name if name in KNOWN_COMMANDS else "other"
        self.commands.labels(command=label).inc()
        started = perf_counter()
        try:
            yield
        finally:
            self.command_duration.labels(command=label).observe(perf_counter() - started)

    async def timed(self, name: str, answer: Awaitable[None]) -> None:
        """Count a command and time `answer` (from its arrival until its reply is sent)."""
        with self.command(name):
            await answer

    def round_done(self, seconds: float) -> None:
        self.round_duration.observe(seconds)

    # The state of the store, set once per round.

    def set_feeds(self, states: Iterable[tuple[str, datetime | None, int]]) -> None:
        """(feed, last success, consecutive failures) for every feed in the view. Only what
        changed is set: with 10,000 feeds, setting every gauge each round costs ~0.2 s."""
        seen: dict[str, tuple[datetime | None, int]] = {}
        for feed, last_success, failures in states:
            seen[feed] = (last_success, failures)
            if self._feeds.get(feed) == seen[feed]:
                continue
            stamp = last_success.timestamp() if last_success is not None else None
            self.feeds.set_state(feed, stamp, failures)
        for gone in self._feeds.keys() - seen.keys():
            self.feeds.forget(gone, POLL_RESULTS)
        self._feeds = seen

    def set_channels(
        self, channels: Collection[str], paused: Collection[str], outbox: dict[str, OutboxLine]
    ) -> None:
        """Every channel in the view: paused or not, its owed posts and the oldest's age."""
        for channel in channels:
            self.channel_paused.labels(channel=channel).set(1 if channel in paused else 0)
            owed = outbox.get(channel, OutboxLine(0, 0.0))
            self.outbox_pending.labels(channel=channel).set(owed.pending)
            self.outbox_oldest.labels(channel=channel).set(owed.oldest_age)
        for gone in self._channels - set(channels):
            self._forget(
                (self.channel_paused, self.outbox_pending, self.outbox_oldest), channel=gone
            )
            self._forget((self.deliveries,), channel=gone, results=DELIVERY_RESULTS)
        self._channels = set(channels)

    @staticmethod
    def _forget(
        metrics: Iterable[Counter | Gauge], *, results: Iterable[str] = (), **label: str
    ) -> None:
        """Remove one feed's or channel's series (with each result, for counters that have
        one); series that never existed are skipped."""
        for metric in metrics:
            values = [(*label.values(), result) for result in results] or [tuple(label.values())]
            for value in values:
                try:
                    metric.remove(*value)
                except KeyError:
                    continue

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        self.healthy.set(1 if self.health.report().status == 200 else 0)
        return generate_latest(self.registry)


@dataclass(frozen=True, slots=True)
class OutboxLine:
    pending: int
    oldest_age: float  # seconds


def refresh_gauges(metrics: Metrics, store: Store, view: RoutingView, now: datetime) -> None:
    """Set the gauges that describe the store, for the feeds and channels of `view`. On the
    event loop, once per round."""
    feeds = [feed.name for feed in view.feeds]
    metrics.set_feeds(
        (state.name, state.last_success, state.failures) for state in store.feed_states(feeds)
    )
    outbox = {
        channel: OutboxLine(pending, max(0.0, (now - oldest).total_seconds()))
        for channel, pending, oldest in store.outbox_backlog()
    }
    paused = {state.name for state in store.channel_states() if state.paused}
    metrics.set_channels(view.chat_names, paused, outbox)
    metrics.study_pending.set(store.study_counts().get("pending", 0))
