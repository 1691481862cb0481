"""Webhooks in the fake Bot API: setWebhook, deleteWebhook, getWebhookInfo, and delivery.

As Telegram does:
- setWebhook wants an https URL on port 443, 80, 88 or 8443 ("bad webhook: ..."), a
  `secret_token` of 1-256 characters A-Z a-z 0-9 _ -, and takes `allowed_updates` and
  `drop_pending_updates` (which clears the queue only when true). An empty `url` removes
  the webhook.
- While a webhook is set, getUpdates answers 409.
- Each update is POSTed (JSON, one at a time, in order) to the URL, with the
  `X-Telegram-Bot-Api-Secret-Token` header when a secret was given; a 2xx answer takes it
  off the queue; anything else is retried a little later and shows in getWebhookInfo's
  last_error_*.

`local=True` on the fake stands for a self-hosted Bot API server in `--local` mode, which
also calls plain-http URLs on any port: the only way a test can be called back on
127.0.0.1 without TLS. Without it, Telegram's rules above hold.

A mixin of `BotApiState`, whose attributes it uses.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.fakes.bot_api_objects import ApiError, Params, bad_request

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PORTS = (443, 80, 88, 8443)
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
GETUPDATES_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active;"
    " use deleteWebhook to delete the webhook first"
)
RETRY_AFTER_FAILURE = 0.2  # seconds (real ones: Telegram backs off far longer)


@dataclass
class WebhookState:
    """The webhook as set: what setWebhook was given, and how delivering goes."""

    url: str
    secret: str | None
    allowed_updates: list[str] | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST to the webhook: which update, and the HTTP status (0: no connection)."""

    update_id: int
    status: int


@dataclass
class WebhookMixinState:
    webhook: WebhookState | None = None
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    deliverer: threading.Thread | None = None


class WebhookMixin:
    """setWebhook / deleteWebhook / getWebhookInfo, and the thread that delivers."""

    local: bool
    _hook: WebhookMixinState
    _cond: threading.Condition
    _updates: list[dict[str, Any]]
    _allowed_updates: list[str] | None
    _allowed_given: list[str] | None
    _stopping: bool
    _clock: Callable[[], float]

    if TYPE_CHECKING:  # provided by BotApiState

        def _is_allowed(self, update: dict[str, Any]) -> bool: ...

    def webhook_handlers(self) -> dict[str, Callable[[Params], Any]]:
        return {
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }

    # --- read-back for tests -----------------------------------------------------------

    @property
    def webhook(self) -> WebhookState | None:
        """The webhook now set (None: none, the bot polls)."""
        with self._cond:
            return self._hook.webhook

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every POST made to a webhook, in order."""
        with self._cond:
            return list(self._hook.deliveries)

    # --- methods -----------------------------------------------------------------------

    def _set_webhook(self, params: Params) -> Any:
        url = params.text("url") or ""
        if not url:
            return self._delete_webhook(params)
        self._check_url(url)
        secret = params.text("secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        connections = params.integer("max_connections", 40) or 40
        if not 1 <= connections <= 100:
            raise bad_request("max_connections must be between 1 and 100")
        allowed = params.json("allowed_updates", "can't parse allowed updates")
        with self._cond:
            if allowed is not None:
                self._allowed_given = list(allowed)
                self._allowed_updates = list(allowed) or None
            if params.flag("drop_pending_updates"):
                self._updates.clear()
            self._hook.webhook = WebhookState(
                url, secret, None if allowed is None else list(allowed), connections
            )
            self._start_deliverer()
            self._cond.notify_all()  # a long poll still held ends with 409
        return True

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        if self.local:
            return
        if parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in WEBHOOK_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )

    def _delete_webhook(self, params: Params) -> Any:
        with self._cond:
            self._hook.webhook = None
            if params.flag("drop_pending_updates"):
                self._updates.clear()
        return True

    def _get_webhook_info(self, _params: Params) -> Any:
        with self._cond:
            hook = self._hook.webhook
            info: dict[str, Any] = {
                "url": hook.url if hook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if hook is not None:
                info["max_connections"] = hook.max_connections
                if hook.allowed_updates is not None:
                    info["allowed_updates"] = hook.allowed_updates
                if hook.last_error_date is not None:
                    info["last_error_date"] = hook.last_error_date
                    info["last_error_message"] = hook.last_error_message
            return info

    def _refuse_getupdates_while_hooked(self) -> None:
        """Called by getUpdates (with the lock held)."""
        if self._hook.webhook is not None:
            raise ApiError(409, GETUPDATES_CONFLICT)

    # --- delivery ----------------------------------------------------------------------

    def _start_deliverer(self) -> None:
        if self._hook.deliverer is None or not self._hook.deliverer.is_alive():
            self._hook.deliverer = threading.Thread(
                target=self._deliver_forever, name="fake-bot-api-webhook", daemon=True
            )
            self._hook.deliverer.start()

    def _next_delivery(self) -> tuple[WebhookState, dict[str, Any]] | None:
        """Wait for an update to deliver; None once the server stops."""
        with self._cond:
            while not self._stopping:
                hook = self._hook.webhook
                ready = [u for u in self._updates if self._is_allowed(u)]
                if hook is not None and ready:
                    return hook, ready[0]
                self._cond.wait(0.5)
            return None

    def _deliver_forever(self) -> None:
        while (next_one := self._next_delivery()) is not None:
            hook, update = next_one
            status, error = _post(hook, update)
            with self._cond:
                self._hook.deliveries.append(WebhookDelivery(update["update_id"], status))
                if 200 <= status < 300:
                    self._updates = [u for u in self._updates if u is not update]
                    continue
                hook.last_error_date = int(time.time())
                hook.last_error_message = error
            time.sleep(RETRY_AFTER_FAILURE)


def _post(hook: WebhookState, update: dict[str, Any]) -> tuple[int, str]:
    """POST one update as Telegram does: (HTTP status, error text); 0 when unreachable."""
    headers = {"Content-Type": "application/json"}
    if hook.secret is not None:
        headers[SECRET_HEADER] = hook.secret
    request = urllib.request.Request(
        hook.url, data=json.dumps(update).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"Wrong response from the webhook: {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"Connection failed: {exc}"


def post_update(url: str, update: dict[str, Any], secret: str | None) -> int:
    """A test posing as someone else posting to the bot's webhook: the HTTP status."""
    hook = WebhookState(url, secret, None, 40)
    return _post(hook, update)[0]
