"""The running bot, observed (`[metrics]`): Bot API answers, ticks, rounds; /metrics served.

- `AnsweredRequest`: PTB's HTTPXRequest telling `Metrics` of every Bot API answer (any 200
  shows Telegram is there, for /healthz; a 429 and its retry_after are counted), whatever
  made the call: a post, a reply, getUpdates.
- `tick_observed` and `observed_round`: at each tick, whether the database can be written
  (one BEGIN IMMEDIATE; ROLLBACK, on the loop); after each round, its duration and the
  gauges read from the store (bot.services.metrics.refresh_gauges).
- `metrics_served`: /metrics and /healthz on `[metrics] listen` for the run's lifetime.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from time import perf_counter
from typing import Any

from telegram.request import HTTPXRequest, RequestData

from bot.errors import ConfigError
from bot.services.metrics import Metrics, refresh_gauges
from bot.services.metrics_server import serving
from bot.telegram.app import Runtime

log = logging.getLogger(__name__)


def _retry_after(payload: bytes) -> float | None:
    try:
        value = json.loads(payload)["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


class AnsweredRequest(HTTPXRequest):
    """HTTPXRequest that tells `metrics` (if any) the status of each Bot API answer."""

    def __init__(self, metrics: Metrics | None, **options: Any) -> None:
        super().__init__(**options)
        self.metrics = metrics

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        status, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if self.metrics is not None:
            retry_after = _retry_after(payload) if status == 429 else None
            self.metrics.telegram_answered(status, retry_after)
        return status, payload


def tick_observed(runtime: Runtime) -> None:
    """A tick: note it, with whether the database can be written now (poll rounds write
    nothing while the poller waits out an outage, so that is a problem too)."""
    if runtime.metrics is None:
        return
    problem = runtime.store.write_problem()
    if problem is None and runtime.poller.outage.since is not None:
        problem = "writes failed since " + runtime.poller.outage.since.isoformat(timespec="seconds")
    runtime.metrics.health.ticked(problem)


async def observed_round(runtime: Runtime, work: Coroutine[Any, Any, None]) -> None:
    """Run a round; then its duration and the store's gauges (even after a failure)."""
    started = perf_counter()
    try:
        await work
    finally:
        if runtime.metrics is not None:
            runtime.metrics.round_done(perf_counter() - started)
            try:
                refresh_gauges(runtime.metrics, runtime.store, runtime.view, runtime.clock())
            except Exception:  # the gauges must never stop the bot; the next round tries again
                log.exception("reading the metrics' gauges from the database failed")


@contextlib.asynccontextmanager
async def metrics_served(runtime: Runtime) -> AsyncIterator[None]:
    """/metrics and /healthz on `[metrics] listen` while the block runs (if set)."""
    address = runtime.settings.metrics.address
    if runtime.metrics is None or address is None:
        yield
        return
    host, port = address
    listen = runtime.settings.metrics.listen
    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(serving(runtime.metrics, host, port))
        except OSError as exc:
            problem = f"metrics.listen: cannot listen on {listen} ({exc.strerror or exc})"
            raise ConfigError([problem]) from exc
        log.info("metrics on http://%s/metrics, health on /healthz", listen)
        yield
