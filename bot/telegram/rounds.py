"""The poll rounds of a running bot, and going online.

A round polls the due feeds (and tells the study lookups, which run beside the rounds);
once the bot is online it also rechecks the paused channels and lets the outbox drain;
then it says what it found and what was sent (if anything).
Once a day (the first round of a run, then a day after the last) it also prunes the
delivery rows past `[bot] keep_deliveries` (bot/services/retention.py).
At most one round runs at a time, as a task of its own (`Runtime.round`), so a stop can
cancel it rather than wait for a slow feed. Who starts the rounds differs: `ticking` here
while the bot is offline or in a dry run, PTB's JobQueue once the live bot is online.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bot.errors import StoreError
from bot.services.channels import ChatChecker
from bot.services.retention import prune_due, prune_yielding, pruned_line
from bot.services.study_pages import StudyPages
from bot.telegram.app import Runtime, check_runtime_channels, say, say_started
from bot.telegram.observed import observed_round, tick_observed

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


def start_round(
    runtime: Runtime,
    make: Callable[[], Coroutine[Any, Any, None]],
    *,
    spawn: Spawn = asyncio.create_task,
) -> None:
    """Start the round `make` makes, as a task `spawn` creates, unless one is under way."""
    tick_observed(runtime)  # /healthz: the scheduler ticks, the database can be written
    if runtime.round is None or runtime.round.done():
        runtime.round = spawn(observed_round(runtime, make()))


async def run_round(
    runtime: Runtime, checker: ChatChecker | None, *, wait_for_sends: bool = False
) -> None:
    """Poll the due feeds; once online, recheck paused channels and start sending (and wait
    until nothing ready is left, with `wait_for_sends`). Then say what the round found."""
    try:
        outcomes = await runtime.poller.poll_due()
        studies_due(runtime)
        if runtime.online:
            if checker is not None:  # a dry run asks Telegram nothing
                await recheck_paused_channels(runtime, checker)
            if wait_for_sends:
                await runtime.dispatcher.drain()
            else:
                runtime.dispatcher.start_workers()
        say(runtime.progress.after_round(outcomes, runtime.dispatcher.report))
        read_pages(runtime)
        await prune_when_due(runtime)
    except Exception:  # keep the bot alive; the next tick tries again
        log.exception("a poll round failed")


def studies_due(runtime: Runtime) -> None:
    """After a poll: the new releases may point to studies; their lookups run in a task of
    their own (bot/services/studies.py), so the round never waits for them."""
    if runtime.studies is not None:
        runtime.studies.notify()


async def prune_when_due(runtime: Runtime) -> None:
    """Once a day (from a run's first round), remove the delivery rows past `[bot]
    keep_deliveries`; a dry run leaves them. A failure is retried at the next round."""
    now = runtime.clock()
    if runtime.dispatcher.dry_run or not prune_due(runtime.pruned_at, now):
        return
    keep = runtime.settings.bot.keep_deliveries
    try:
        pruned = await prune_yielding(runtime.store, now, keep)
    except StoreError as exc:
        log.warning("pruning old deliveries failed (tried again next round): %s", exc)
        return
    runtime.pruned_at = now
    if pruned.total:
        say(pruned_line(pruned, keep))


def read_pages(runtime: Runtime) -> None:
    """After a poll: read the new releases' web pages for their study (feeds with
    fetch_page), with the poller's fetcher, in a task of their own: no post waits."""
    if runtime.pages is None:
        runtime.pages = StudyPages(
            runtime.store,
            runtime.poller.fetcher,
            runtime.settings,
            clock=runtime.clock,
            view=runtime.view,
            # identifiers a page added are looked up now, not at the job's next idle pass
            stored=runtime.studies.notify if runtime.studies is not None else lambda: None,
        )
        runtime.followers.append(runtime.pages)  # a reload or /add reaches it
    runtime.pages.start()


async def ticking(runtime: Runtime, checker: ChatChecker | None, *, wait_for_sends: bool) -> None:
    """A round now and every `bot.tick` after (skipped while the last one still runs)."""
    while True:
        start_round(runtime, lambda: run_round(runtime, checker, wait_for_sends=wait_for_sends))
        await asyncio.sleep(runtime.settings.bot.tick)


async def stop_rounds(runtime: Runtime) -> None:
    """Cancel the round under way (each ingest step is one transaction; what a cancelled
    poll did not store is new at the next one)."""
    if runtime.round is not None and not runtime.round.done():
        runtime.round.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runtime.round
    if runtime.pages is not None:  # before the fetcher it reads with closes
        await runtime.pages.stop()


async def recheck_paused_channels(runtime: Runtime, checker: ChatChecker) -> None:
    """Every `bot.recheck_paused`, ask Telegram again about the channels that are paused."""
    last = runtime.channels_checked_at
    due = last is None or (runtime.clock() - last).total_seconds() >= (
        runtime.settings.bot.recheck_paused
    )
    if due and any(state.paused for state in runtime.store.channel_states()):
        await check_runtime_channels(runtime, checker, only_paused=True)


async def go_online(runtime: Runtime, checker: ChatChecker | None, username: str) -> list[str]:
    """Telegram answered (or a dry run needs no answer): say so, check the channels, let
    rounds send. Returns the channels the bot cannot post in. A check that fails
    unexpectedly is logged; the bot goes on."""
    runtime.dispatcher.bot_username = username
    say_started(runtime, username)
    blocked: list[str] = []
    if checker is not None:
        try:
            blocked = await check_runtime_channels(runtime, checker)
        except Exception:
            log.exception("checking the channels at start failed; posting to them as configured")
    runtime.online = True
    return blocked
