"""Drain the outbox: render each owed post, pace it, send it, record what Telegram said.

One worker per channel keeps a chat's posts in order while other chats go on; a 429,
a kicked bot or a slow chat holds up only its own worker.

What each answer does to a post (and to the chat's later posts, which keep their order):

- 429: the post waits `retry_after`; so does the chat. A migrated group: sent to the new id.
- 403, or a 400 about the chat ("chat not found", "need administrator rights in the channel
  chat", "not enough rights to send ..."): the channel pauses, the admins are told once, the
  post stays owed; paused channels are checked again every `bot.recheck_paused`.
- Any other 400 (can't parse entities, message is too long, a bad button): that post fails
  with Telegram's words and the chat goes on. `releasebot retry` or /retry queues it again.
- No answer, but the request surely never left (connect failure, no free connection) or
  Telegram answered 5xx: retried with backoff (2, 4, 8 ... s, at most 10 minutes).
- No answer after the request left (read timeout, connection dropped): Telegram may have
  posted it, and the Bot API has no idempotency key. The post is sent once more after
  `bot.request_timeout` (time for a slow answer to land); if that also goes unanswered, it
  fails with "sent twice without an answer ...": an admin checks the channel and retries it.
  So a lost answer can repeat a post once, as a crash can repeat the sends in flight.

Edits of posts already sent wait while the chat has new posts ready, and each post gets at
most `edits_per_day` edits a day (bot.services.edit_budget); an edit that would show the
reader nothing new (bot.render.changes) is dropped without a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import Settings
from bot.errors import (
    AnswerLostError,
    ChatMigratedError,
    ChatUnavailableError,
    MessageRejectedError,
    RateLimitedError,
    TelegramAuthError,
    TransientDeliveryError,
)
from bot.logs import log_fields
from bot.models import Delivery, RoutingView, StoredRelease
from bot.render.changes import post_fingerprint
from bot.render.chat_problems import problem_from_answer
from bot.render.display import format_duration
from bot.render.notices import channel_paused_notice, channel_resumed_notice
from bot.render.post import Post, PostOptions, render_post
from bot.render.telegram_html import Html
from bot.services.backoff import Backoff
from bot.services.edit_budget import EDITS_PER_DAY, after_edit, edit_wait
from bot.services.metrics import Metrics
from bot.services.pacing import Pacer
from bot.services.routing import build_view
from bot.store import ChannelState, Store

log = logging.getLogger(__name__)

RETRY = Backoff(first=2.0, most=600.0)  # transient failures: 2, 4, 8 ... s, at most 10 min
STORE_RETRY = 30.0  # seconds to wait after the store failed to record a send
# A delivery's error while it waits to be sent once more after a lost answer; kept as a
# prefix through later 429s and pauses, so that a second lost answer fails it.
UNANSWERED = "no answer from Telegram"
SENT_TWICE = (
    "sent twice without an answer from Telegram; it may have arrived:"
    " check the channel, then `releasebot retry` (or /retry) if it is missing"
)


class Sender(Protocol):
    async def send(self, chat: int | str, post: Post) -> int: ...
    async def edit(self, chat: int | str, message_id: int, post: Post) -> None: ...
    async def send_text(self, chat: int | str, text: Html) -> None: ...


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    edited: int = 0
    printed: int = 0  # a dry run's posts: printed, never sent
    failed: int = 0
    retrying: int = 0
    paused: list[str] = field(default_factory=list)
    interrupted: bool = False  # stopped by a signal before everything was sent


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        sender: Sender,
        clock: Callable[[], datetime],
        pacer: Pacer | None,
        bot_username: str,
        dry_run: bool = False,
        edits_per_day: int = EDITS_PER_DAY,
        view: RoutingView | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics  # counts each delivery's result by channel (None: not counted)
        self.settings = settings  # bot.*: the admins, request timeout, recheck interval
        # What is routed where, with each chat's options and each feed's publisher.
        self.view = view if view is not None else build_view(store, settings)
        self.store = store
        self.sender = sender
        self.clock = clock
        self.pacer = pacer
        self.bot_username = bot_username
        self.dry_run = dry_run
        self.edits_per_day = edits_per_day
        self.report = DrainReport()
        self.stopping = False
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._in_flight: set[str] = set()  # channels with a call to Telegram under way
        self._store_retry_at: datetime | None = None  # set while the store cannot write
        # Channels whose admins were told they pause: one notice per incident, however often
        # a recheck resumes them and a send is refused again, until a post goes through.
        self._incidents: set[str] = set()

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """Render and route with `view` from the next delivery on. A delivery read before
        whose route is gone is no longer pending, so it is not sent (mark_sending refuses)."""
        self.settings = settings
        self.view = view

    def start_workers(self) -> None:
        """A worker for each channel with work and none running yet."""
        if self._store_retry_at is not None and self.clock() < self._store_retry_at:
            return  # the outbox cannot be written: wait, rather than fail in a loop
        # A dry run leaves edits to the live bot: it could only print them again and again.
        for channel in self.store.channels_with_work(self.clock(), edits=not self.dry_run):
            worker = self._workers.get(channel)
            if (worker is None or worker.done()) and not self.stopping:
                self._workers[channel] = asyncio.create_task(
                    self._work_or_wait(channel), name=f"deliver:{channel}"
                )

    async def drain(self) -> DrainReport:
        """Send everything that is ready now; returns when nothing ready is left."""
        while not self.stopping:
            self.start_workers()
            running = [w for w in self._workers.values() if not w.done()]
            if not running:
                break
            # A worker cancelled by stop() must not cancel the drain; a real error still raises.
            for result in await asyncio.gather(*running, return_exceptions=True):
                if isinstance(result, Exception):
                    raise result
        return self.report

    async def stop(self, grace: float = 10.0) -> None:
        """Start no new sends; let those in flight finish (so they are recorded), cancel the rest.

        A worker waiting for its turn (a rate window, a 429 pause) has sent nothing yet, so
        it is cancelled at once and its delivery stays pending.
        """
        self.stopping = True
        for channel, worker in self._workers.items():
            if channel not in self._in_flight:
                worker.cancel()
        running = [w for w in self._workers.values() if not w.done()]
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace)
        for worker in late:
            worker.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _work_or_wait(self, channel: str) -> None:
        """A worker; if the store cannot write, this chat's batch stops until STORE_RETRY."""
        try:
            await self._work(channel)
        except sqlite3.OperationalError as exc:  # disk full, I/O error, locked for too long
            if self._store_retry_at is None or self.clock() >= self._store_retry_at:
                log.error(
                    "the outbox cannot be written (%s); sending again in %.0f s", exc, STORE_RETRY
                )
            self._store_retry_at = self.clock() + timedelta(seconds=STORE_RETRY)
            self.report.retrying += 1
            self._count(channel, "retry")

    async def _work(self, channel: str) -> None:
        while not self.stopping:
            state = self.store.channel_state(channel)
            if state.paused:
                return
            # New posts first; an edit only when none is ready, one at a time, so a post
            # that arrives meanwhile does not wait behind a run of edits.
            batch = self.store.pending_for_channel(channel, self.clock(), limit=20)
            if not batch and not self.dry_run:
                batch = self.store.edits_for_channel(channel, self.clock(), limit=1)
            if not batch:
                return
            for owed in batch:  # each delivery read with its release
                # False: stop this batch and read the outbox again (a retry keeps its place)
                if self.stopping or not await self._deliver(owed.delivery, state, owed.stored):
                    break
                state = self.store.channel_state(channel)

    def _post_for(self, delivery: Delivery, stored: StoredRelease | None) -> Post | None:
        chat = self.view.chat(delivery.channel)
        feed = self.view.feed(stored.release.feed) if stored else None
        if stored is None or chat is None or feed is None:
            return None  # removed from the config since it was queued
        # An edit keeps the access date its post showed: the edit shows only what changed.
        sent_at = delivery.sent_at if delivery.state == "sent" else None
        looks = self.view.options(feed.name, chat.name) or chat.options
        options = PostOptions(
            citation_style=looks.citation_style,
            summary_length=looks.summary_length,
            link_preview=looks.link_preview,
            bot_username=self.bot_username,
            silent=looks.silent,
            thread_id=chat.thread_id,
        )
        return render_post(
            stored.release,
            feed.publisher,
            release_id=stored.id,
            cite_key=stored.cite_key,
            options=options,
            accessed=(sent_at or self.clock()).date(),
            study=stored.study,  # found since it was sent: the edit adds its line
        )

    def _render(self, delivery: Delivery, stored: StoredRelease | None) -> Post | None:
        """The post to send, or None (recorded) when the delivery can no longer be made."""
        editing = delivery.state == "sent"
        try:
            post = self._post_for(delivery, stored)
        except Exception as exc:  # a rendering bug must not stop this chat's other posts
            log.exception("delivery %d: cannot render the post", delivery.id, extra=about(delivery))
            problem = f"internal error: {type(exc).__name__}: {exc}"
        else:
            if post is not None:
                return post
            problem = "release or route no longer configured"
        if editing:
            self.store.mark_edited(delivery.id)  # the post already sent stays as it is
        elif self.store.mark_unsendable(delivery.id, problem):
            self.report.failed += 1
            self._count(delivery.channel, "failed")
        return None

    async def _deliver(
        self, delivery: Delivery, channel: ChannelState, stored: StoredRelease | None
    ) -> bool:
        """Send or edit one delivery; False when this channel's batch should stop for now."""
        post = self._render(delivery, stored)
        if post is None or (delivery.state == "sent" and not self._edit_due(delivery, post)):
            return True
        target: int | str = channel.chat_id if channel.chat_id is not None else channel.chat
        if delivery.state == "sent" and delivery.sent_chat is not None:
            target = delivery.sent_chat  # a message is edited where it is, whatever came since
        if self.dry_run:
            await self.sender.send(target, post)
            self.store.mark_dry_run(delivery.id, self.clock())
            self.report.printed += 1
            self._count(delivery.channel, "printed")
            return True
        turn = self.pacer.turn(target) if self.pacer is not None else contextlib.nullcontext()
        async with turn:
            if self.stopping:
                return False  # asked to stop while waiting for a turn: it stays pending
            self._in_flight.add(delivery.channel)
            try:
                go_on, notice = await self._attempt(delivery, channel, target, post)
            finally:
                self._in_flight.discard(delivery.channel)
        if notice is not None:  # outside the turn: the notices wait for turns of their own
            await self.notify_admins(notice)
        return go_on

    def _edit_due(self, delivery: Delivery, post: Post) -> bool:
        """Whether to edit the post now: the reader would see a change and the day's edits
        are not spent (else the change waits for the next day, and gathers any later ones)."""
        if delivery.shown == post_fingerprint(post):
            self.store.skip_edit(delivery)
            return False
        wait = edit_wait(delivery, self.clock(), self.edits_per_day)
        if wait is not None:
            self.store.defer_edit(delivery.id, wait)
            return False
        return True

    async def _attempt(
        self, delivery: Delivery, channel: ChannelState, target: int | str, post: Post
    ) -> tuple[bool, Html | None]:
        """One call to Telegram, recorded: `sending` before it, `sent` with its message_id after.

        Returns whether this chat's batch may go on, and a notice for the admins (None if none).
        """
        editing = delivery.state == "sent" and delivery.message_id is not None
        if not editing and not self.store.mark_sending(delivery.id):
            # No longer pending: another process took it (or recorded it) since we read it.
            log.info(
                "delivery %d: taken elsewhere; not sending it", delivery.id, extra=about(delivery)
            )
            return True, None
        try:
            if editing and delivery.message_id is not None:
                await self.sender.edit(target, delivery.message_id, post)
            else:
                message_id = await self.sender.send(target, post)
        except (RateLimitedError, ChatMigratedError, ChatUnavailableError) as exc:
            self._count(delivery.channel, "retry")
            return False, self._chat_refused(delivery, channel, target, exc, editing)
        except MessageRejectedError as exc:
            return self._rejected(delivery, exc.message, editing), None
        except TransientDeliveryError as exc:
            if isinstance(exc, AnswerLostError) and not editing:  # an edit is safe to repeat
                return self._unanswered(delivery, exc.message), None
            self._retry_later(delivery, exc.message, editing)
            return False, None
        except (TelegramAuthError, asyncio.CancelledError):
            if not editing:
                error = self._error(delivery, "interrupted")
                self.store.mark_retry(delivery.id, error, self.clock())
            raise
        if editing:
            self._edit_answered(delivery, post_fingerprint(post))
            log.info(
                "delivery %d: edited in %s (message %s)",
                delivery.id,
                delivery.channel,
                delivery.message_id,
                extra=about(delivery),
            )
            self.report.edited += 1
            self._count(delivery.channel, "edited")
        else:
            shown = post_fingerprint(post)
            if not self.store.mark_sent(delivery.id, message_id, self.clock(), shown, target):
                # Only another process re-queuing our send can do this (it should hold no
                # lock on a database a run holds): it will be sent again there.
                log.warning(
                    "delivery %d: sent (message %d), but no longer ours to record",
                    delivery.id,
                    message_id,
                    extra=about(delivery),
                )
            else:
                log.info(
                    "delivery %d: posted to %s (message %d)",
                    delivery.id,
                    delivery.channel,
                    message_id,
                    extra=about(delivery),
                )
            self.report.sent += 1
            self._count(delivery.channel, "sent")
        return True, self._close_incident(channel)

    def _edit_answered(self, delivery: Delivery, shown: str | None) -> None:
        """Count an edit Telegram answered against the post's day of edits."""
        budget = after_edit(delivery, self.clock(), self.edits_per_day)
        self.store.record_edit(delivery, budget, shown)
        if budget.next_edit is not None:
            log.info(
                "delivery %d: edited %d times today; later changes wait until %s",
                delivery.id,
                budget.used,
                budget.next_edit.isoformat(timespec="minutes"),
                extra=about(delivery),
            )

    def _chat_refused(
        self,
        delivery: Delivery,
        channel: ChannelState,
        target: int | str,
        exc: RateLimitedError | ChatMigratedError | ChatUnavailableError,
        editing: bool,
    ) -> Html | None:
        """Record a refusal that concerns the whole chat; returns a notice for the admins."""
        if not editing:
            self.store.mark_retry(delivery.id, self._error(delivery, exc.message), self.clock())
        if isinstance(exc, RateLimitedError):
            log.warning(
                "channel %s: 429, waiting %.0f s",
                channel.name,
                exc.retry_after,
                extra=about(delivery),
            )
            if self.pacer is not None:
                self.pacer.pause(target, min(exc.retry_after, 3600.0))
            return None
        if isinstance(exc, ChatMigratedError):
            log.warning(
                "channel %s moved to chat %d", channel.name, exc.new_chat_id, extra=about(delivery)
            )
            self.store.set_chat_id(channel.name, exc.new_chat_id)
            if editing:  # its message stays in the old group, which takes no edits any more
                log.warning(
                    "delivery %d: not edited: its group is now a supergroup",
                    delivery.id,
                    extra=about(delivery),
                )
                self.store.skip_edit(delivery)
            return None
        self.store.pause_channel(channel.name, exc.message)
        self.report.paused.append(channel.name)
        log.error("channel %s paused: %s", channel.name, exc.message, extra=about(delivery))
        if not self.open_incident(channel.name):
            return None
        return channel_paused_notice(
            channel.name,
            problem_from_answer(exc.message, channel.chat),
            bot_username=self.bot_username,
            recheck_every=format_duration(self.settings.bot.recheck_paused),
        )

    def open_incident(self, channel: str) -> bool:
        """Note that `channel` cannot be posted to; True when its admins have not heard yet."""
        if channel in self._incidents:
            return False
        self._incidents.add(channel)
        return True

    def _close_incident(self, channel: ChannelState) -> Html | None:
        """A post went through: the incident is over; the notice saying so (None if none)."""
        if channel.name not in self._incidents:
            return None
        self._incidents.discard(channel.name)
        waiting = self.store.delivery_counts().get(channel.name, {}).get("pending", 0)
        log.info("channel %s: posting again", channel.name, extra=log_fields(channel=channel.name))
        return channel_resumed_notice(channel.name, channel.chat, waiting)

    def _rejected(self, delivery: Delivery, message: str, editing: bool) -> bool:
        log.error(
            "delivery %d refused by Telegram: %s", delivery.id, message, extra=about(delivery)
        )
        if editing:  # not retried; it counts against the day's edits all the same
            self._edit_answered(delivery, None)
        else:
            self.store.mark_failed(delivery.id, message)
        self.report.failed += 1
        self._count(delivery.channel, "failed")
        return True

    def _retry_later(self, delivery: Delivery, message: str, editing: bool) -> None:
        delay = RETRY.delay(delivery.attempts + 1)
        log.warning(
            "delivery %d: %s; retrying in %.0f s",
            delivery.id,
            message,
            delay,
            extra=about(delivery),
        )
        not_before = self.clock() + timedelta(seconds=delay)
        if editing:
            self.store.mark_edit_retry(delivery.id, message, not_before)
        else:
            self.store.mark_retry(delivery.id, self._error(delivery, message), not_before)
        self.report.retrying += 1
        self._count(delivery.channel, "retry")

    def _unanswered(self, delivery: Delivery, message: str) -> bool:
        """A send went unanswered: send it once more after a wait, or give up the second time.

        Returns whether the chat's batch may go on (only once this post is settled).
        """
        if (delivery.error or "").startswith(UNANSWERED):
            log.error(
                "delivery %d: %s (%s)", delivery.id, SENT_TWICE, message, extra=about(delivery)
            )
            self.store.mark_failed(delivery.id, SENT_TWICE)
            self.report.failed += 1
            self._count(delivery.channel, "failed")
            return True
        wait = self.settings.bot.request_timeout
        log.warning(
            "delivery %d: no answer from Telegram (%s); it may have posted: sending once more"
            " in %.0f s",
            delivery.id,
            message,
            wait,
            extra=about(delivery),
        )
        not_before = self.clock() + timedelta(seconds=wait)
        error = f"{UNANSWERED} ({message}); sending once more"
        self.store.mark_retry(delivery.id, error, not_before)
        self.report.retrying += 1
        self._count(delivery.channel, "retry")
        return False

    def _count(self, channel: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.delivered(channel, result)

    @staticmethod
    def _error(delivery: Delivery, message: str) -> str:
        """The error to record on a post going back to pending; a lost answer stays on record."""
        if (delivery.error or "").startswith(UNANSWERED):
            return f"{UNANSWERED} earlier; then: {message}"
        return message

    async def notify_admins(self, text: Html) -> None:
        """Tell each admin privately (a notice from bot.render.notices); an admin who never
        pressed Start can only be logged."""
        if self.dry_run:
            return
        for admin in self.settings.bot.admins:
            turn = self.pacer.turn(admin) if self.pacer is not None else contextlib.nullcontext()
            try:
                async with turn:  # several notices at once must not hit a 429
                    await self.sender.send_text(admin, text)
            except ChatUnavailableError as exc:
                log.error("cannot message admin %d (%s); press Start in the bot", admin, exc)
            except (MessageRejectedError, TransientDeliveryError, RateLimitedError) as exc:
                log.error("cannot message admin %d: %s", admin, exc)


def about(delivery: Delivery) -> dict[str, str | int]:
    """A log line's fields for one delivery: its id, channel and release."""
    return log_fields(delivery=delivery.id, channel=delivery.channel, release=delivery.release_id)
