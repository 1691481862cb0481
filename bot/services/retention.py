"""Retention of delivery rows: `releasebot prune`, and the running bot's daily prune.

Which rows go and which stay is the store's rule (bot/store/retention.py): old `sent`
posts no edit can still need, and old `cancelled` ones; releases are kept. Both callers
remove them batch by batch; the running bot lets the event loop run between batches, so a
first prune of a large outbox does not hold up the readers' commands or the sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.store.retention import PRUNED_STATES, RetentionQueries

PRUNE_EVERY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many delivery rows a prune removed (or would remove), by state."""

    sent: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.cancelled


def cutoff(now: datetime, keep: float) -> datetime:
    """The instant before which rows may go: `keep` seconds ago (a retention longer than
    the calendar, such as "1000000d" for "keep them all", goes back to year 1: none go)."""
    try:
        return now - timedelta(seconds=keep)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def prune_batches(store: RetentionQueries, before: datetime) -> Iterator[tuple[str, int]]:
    """Remove the prunable rows older than `before`, one batch (transaction) per step;
    yields (state, rows removed) after each."""
    for state in PRUNED_STATES:
        after: int | None = 0
        while after is not None:
            batch = store.prune_batch(state, before, after=after)
            yield state, batch.removed
            after = batch.next_after


def _tally(steps: Iterator[tuple[str, int]]) -> dict[str, int]:
    counts = dict.fromkeys(PRUNED_STATES, 0)
    for state, removed in steps:
        counts[state] += removed
    return counts


def prune(store: RetentionQueries, now: datetime, keep: float, *, dry_run: bool = False) -> Pruned:
    """`releasebot prune`: remove the rows older than `keep` seconds (with `dry_run`, only
    count them)."""
    before = cutoff(now, keep)
    counts = store.prunable_deliveries(before) if dry_run else _tally(prune_batches(store, before))
    return Pruned(sent=counts["sent"], cancelled=counts["cancelled"])


async def prune_yielding(store: RetentionQueries, now: datetime, keep: float) -> Pruned:
    """The running bot's prune: the same batches, the event loop running between them."""
    counts = dict.fromkeys(PRUNED_STATES, 0)
    for state, removed in prune_batches(store, cutoff(now, keep)):
        counts[state] += removed
        await asyncio.sleep(0)
    return Pruned(sent=counts["sent"], cancelled=counts["cancelled"])


def prune_due(last: datetime | None, now: datetime, every: timedelta = PRUNE_EVERY) -> bool:
    """Whether the daily prune is due: at a run's first round, then once a day."""
    return last is None or now - last >= every


def pruned_line(pruned: Pruned, keep: float, *, dry_run: bool = False) -> str:
    """'pruned 1,204 delivery rows older than 90 days (1,200 sent, 4 cancelled)'."""
    verb = "would prune" if dry_run else "pruned"
    rows = "delivery row" if pruned.total == 1 else "delivery rows"
    return (
        f"{verb} {pruned.total:,} {rows} older than {_age(keep)}"
        f" ({pruned.sent:,} sent, {pruned.cancelled:,} cancelled)"
    )


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" + ("" if count == 1 else "s")
    return f"{seconds:g} seconds"
