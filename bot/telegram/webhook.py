"""Webhook mode (`[webhook] url` set): Telegram POSTs each update to the bot's own HTTP
server (PTB's, on tornado: its `webhooks` extra) instead of the bot long-polling getUpdates.

- setWebhook carries the secret (`TELEGRAM_WEBHOOK_SECRET`), the same `allowed_updates` as
  polling and `drop_pending_updates=false` (updates that came while the bot was away are
  delivered); PTB's server answers 403 to a request without the right
  `X-Telegram-Bot-Api-Secret-Token` header, and drops it unread.
- The URL path defaults to a hash of the token, so it is hard to guess but the token never
  appears in it (nor in a log line: the URL is logged without its path).
- Going back to polling deletes the webhook: PTB's run_polling calls deleteWebhook first.
- Health: with no getUpdates, Telegram's answers come from sends only. So each update that
  arrives counts as hearing from Telegram, and getWebhookInfo is asked every minute (its
  answer counts too, and a delivery error Telegram reports is logged once).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import TypeHandler

from bot.config import Settings
from bot.errors import ConfigError, ReleaseBotError

if TYPE_CHECKING:
    from bot.telegram.application import App, Context

log = logging.getLogger(__name__)

INFO_EVERY = 60.0  # seconds between getWebhookInfo calls
_PATH_SALT = b"releasebot webhook path\0"


class WebhookListenError(ReleaseBotError):
    """The webhook's HTTP server could not listen (address in use, not ours)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def path_for(token: str) -> str:
    """The default URL path: 32 hex digits of a hash of the token. Stable across restarts
    (Telegram keeps calling the URL it was given) and never the token itself."""
    return hashlib.sha256(_PATH_SALT + token.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where the bot listens and what it asks Telegram to call."""

    host: str
    port: int
    path: str  # without a leading slash
    url: str  # the public base URL from the config
    secret: str

    @classmethod
    def plan(cls, settings: Settings, token: str, secret: str) -> Webhook | None:
        """The webhook of a run, or None when `[webhook] url` is unset (polling)."""
        hook = settings.webhook
        if hook.url is None:
            return None
        path = hook.path if hook.path is not None else path_for(token)
        secret_part = token.rpartition(":")[2]  # the token's secret, after the bot's id
        if secret_part and secret_part in path:
            raise ConfigError(["webhook.path: must not contain the bot's token"])
        host, port = hook.address
        return cls(host, port, path, hook.url, secret)

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/{self.path}"


def serve_webhook(app: App, hook: Webhook, allowed_updates: list[str]) -> None:
    """PTB's run_webhook on the run's event loop (as run_polling: no signals of its own),
    until `app.stop_running()`."""
    add_health_hooks(app)
    log.info(
        "webhook mode: listening on %s:%d, Telegram calls %s/…", hook.host, hook.port, hook.url
    )
    try:
        app.run_webhook(
            listen=hook.host,
            port=hook.port,
            url_path=hook.path,
            webhook_url=hook.webhook_url,
            secret_token=hook.secret,
            allowed_updates=allowed_updates,
            drop_pending_updates=False,
            bootstrap_retries=-1,  # should Telegram vanish before setWebhook, PTB retries
            stop_signals=None,
            close_loop=False,
        )
    except OSError as exc:  # tornado's listen: the address is taken or not ours
        raise WebhookListenError(
            f"cannot listen on {hook.host}:{hook.port} for the webhook: {exc.strerror or exc}"
        ) from exc


def add_health_hooks(app: App) -> None:
    """Each update counts as Telegram answering; getWebhookInfo every minute."""
    app.add_handler(TypeHandler(Update, update_arrived), group=-1)
    assert app.job_queue is not None  # noqa: S101 -- the job-queue extra is a dependency
    app.job_queue.run_repeating(
        check_webhook, interval=INFO_EVERY, first=INFO_EVERY, data=LastError()
    )


async def update_arrived(_update: object, context: Context) -> None:
    metrics = context.bot_data.runtime.metrics
    if metrics is not None:
        metrics.health.answered()


class LastError:
    """The last delivery error Telegram reported (said once)."""

    when: datetime | None = None


async def check_webhook(context: Context) -> None:
    """Ask Telegram how delivering to us goes; say a new delivery error once."""
    try:
        info = await context.bot.get_webhook_info()
    except TelegramError as exc:
        log.warning("getWebhookInfo failed: %s", exc)
        return
    seen = context.job.data if context.job is not None else None
    when = info.last_error_date
    if when is not None and isinstance(seen, LastError) and when != seen.when:
        seen.when = when
        log.warning(
            "Telegram could not deliver to the webhook (%s): %s; %d updates waiting",
            when,
            info.last_error_message,
            info.pending_update_count,
        )
