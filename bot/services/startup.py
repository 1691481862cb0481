"""Reach Telegram at start, however long it takes: each start-up call retried with backoff.

Telegram (or the network) being down when the bot starts is no reason to exit: the caller
polls and stores feeds meanwhile, and its posts wait in the outbox until Telegram answers.
Each failed attempt is one log line; the waits double from `Backoff.first` up to
`Backoff.most` (a minute), so after the first few there is at most one line a minute.

A rejected token is the one failure worth stopping for (TelegramAuthError is raised at
once). An optional step (setMyCommands) that Telegram refuses, or whose answer cannot be
read, is logged and skipped: the bot works without it. The steps raise our own errors
(bot/errors.py); anything else is an answer we could not read, or a bug, and is logged
with its traceback the first time it is seen.

Time is an argument: `sleep` waits, `clock` reads the time (tests pass their own).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import (
    DeliveryError,
    RateLimitedError,
    TelegramAuthError,
    TransientDeliveryError,
)
from bot.render.display import format_duration
from bot.services.backoff import Backoff as Backoff  # the start-up steps' policy

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class TelegramUnreachableError(TransientDeliveryError):
    """Telegram did not answer within the patience given (`run --once`)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One start-up call; `required` steps are retried until they succeed."""

    what: str  # the Bot API method, as the log names it
    call: Callable[[], Awaitable[None]]
    required: bool = True


class Connection:
    """Runs the start-up steps in order; transient failures wait and try again.

    `first_attempt` tries once without waiting (so a rejected token is one quick line, and
    the caller learns whether to poll feeds while it waits); `until_reached` goes on.
    """

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        backoff: Backoff,
        sleep: Sleep,
        clock: Callable[[], datetime],
        patience: float | None = None,
    ) -> None:
        self.steps = list(steps)
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.patience = patience  # None: keep trying for as long as the bot runs
        self.failures = 0
        self.problem = ""  # the last failure: "getMe: httpx.ConnectError: ..."
        self.state = "not reachable"  # or "answered something unreadable", "asks to wait"
        self._next = 0  # index of the first step not done yet
        self._wait = 0.0  # at least this long before the next attempt (a 429's retry_after)
        self._seen: set[str] = set()  # unexpected errors already logged with a traceback
        self._started = clock()

    @property
    def reached(self) -> bool:
        return self._next >= len(self.steps)

    async def first_attempt(self) -> bool:
        """Try every step once; True when all are done."""
        return await self._attempt()

    async def until_reached(self) -> None:
        """Wait and try again until every step is done.

        Raises TelegramUnreachableError once `patience` seconds would pass, and
        TelegramAuthError at once if the token is rejected.
        """
        while not self.reached:
            delay = max(self.backoff.delay(self.failures), self._wait)
            elapsed = (self.clock() - self._started).total_seconds()
            if self.patience is not None and elapsed + delay > self.patience:
                raise TelegramUnreachableError(
                    f"Telegram {self.state} ({self.problem}) after "
                    f"{self.failures} attempts in {format_duration(round(elapsed))}"
                )
            log.warning(
                "Telegram %s (%s): attempt %d failed; trying again in %s,"
                " feeds are polled meanwhile",
                self.state,
                self.problem,
                self.failures,
                format_duration(delay),
            )
            await self.sleep(delay)
            await self._attempt()

    async def _attempt(self) -> bool:
        """Run the steps not done yet; stop at the first that must be tried again."""
        while not self.reached:
            step = self.steps[self._next]
            if not await self._run(step):
                self.failures += 1
                return False
            self._next += 1
        return True

    async def _run(self, step: Step) -> bool:
        """One call; True when done (or skipped for good), False to try again later."""
        self._wait = 0.0
        try:
            await step.call()
        except TelegramAuthError:
            raise
        except (TransientDeliveryError, RateLimitedError) as exc:
            if isinstance(exc, RateLimitedError):
                self._wait = exc.retry_after
            self.state = "asks to wait" if self._wait else "not reachable"
            self.problem = f"{step.what}: {exc.message}"
            return False
        except DeliveryError as exc:  # refused: asking again will not change the answer
            if step.required:
                raise
            log.error("Telegram refused %s (%s); going on without it", step.what, exc.message)
            return True
        except Exception as exc:  # an answer we could not read, or a bug
            self.state = "answered something unreadable"
            self.problem = f"{step.what}: {type(exc).__name__}: {exc}"
            if not step.required:
                log.exception("%s failed; going on without it", step.what)
                return True
            kind = f"{step.what}:{type(exc).__name__}"
            if kind not in self._seen:  # its traceback once; later attempts are one line each
                self._seen.add(kind)
                log.exception("%s failed with an unexpected error", step.what)
            return False
        return True
