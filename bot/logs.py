"""Logging setup: one stderr handler, and the bot token never written to a log line.

Lines are text (`time LEVEL logger: message key=value ...`) or JSON (one object per line:
time, level, logger, message, the fields, a traceback), chosen by `--log-format` or
`[bot] log_format`. A log call about a feed, channel, release or delivery passes it as
`extra=log_fields(feed=...)`; both formats show it, so an operator can filter on it.

`Redactor` hides the token as it is used (surrounding whitespace stripped, as the bot
strips it), in any letter case (python-telegram-bot capitalises some error texts, which
lower-cases the rest), URL-encoded, and its secret part after the colon on its own.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO
from urllib.parse import quote, quote_plus

from bot.render.tokens import REDACTED, scrub_tokens

MIN_SECRET = 8  # a shorter "secret part" would blank out ordinary words in every line

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
# The record attributes a log line shows as fields, in this order.
FIELDS = ("feed", "channel", "release", "delivery")
TEXT_LINE = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_BARE = re.compile(r"[^\s\"'=\\]+")  # a text field value shown without quotes


class Redactor:
    """Replaces every form of one token in a text with REDACTED; callable."""

    def __init__(self, token: str) -> None:
        token = token.strip()
        _, colon, secret = token.partition(":")
        self._parts = [token, secret] if colon and len(secret) >= MIN_SECRET else [token]
        self._compile()

    def also(self, secret: str) -> None:
        """Hide `secret` too (the webhook's secret token: PTB logs setWebhook's parameters
        with -v)."""
        if secret.strip():
            self._parts.append(secret.strip())
            self._compile()

    def _compile(self) -> None:
        forms = {
            form
            for part in self._parts
            for form in (part, quote(part, safe=""), quote(part), quote_plus(part))
            if form
        }
        # Longest first, so the whole token goes before its secret part alone.
        alternatives = sorted(forms, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)
            if alternatives
            else None
        )

    def __call__(self, text: str) -> str:
        """`text` without this token in any form, nor anything else shaped like a token."""
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return scrub_tokens(text)


class RedactToken(logging.Filter):
    """Redacts every record's message and traceback (PTB and httpx log URLs with the token)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError) as exc:
            # Bad format arguments: logging's own error path would print the message and
            # its arguments to stderr as they are, token and all. Log them, redacted.
            message = f"{record.msg!s} (log call with bad arguments {record.args!r}: {exc})"
            record.msg, record.args = message, None
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key in FIELDS:  # a field may hold a URL, or a Telegram error text
            value = getattr(record, key, None)
            if value is not None and self.redact(str(value)) != str(value):
                setattr(record, key, self.redact(str(value)))
        return True


def log_fields(
    *,
    feed: str | None = None,
    channel: str | None = None,
    release: int | None = None,
    delivery: int | None = None,
) -> dict[str, str | int]:
    """The `extra=` of a log call about these (None: not about one)."""
    given = {"feed": feed, "channel": channel, "release": release, "delivery": delivery}
    return {key: value for key, value in given.items() if value is not None}


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a record carries, in FIELDS order; numbers stay numbers."""
    found = {key: getattr(record, key, None) for key in FIELDS}
    return {
        key: value if isinstance(value, int | float | str) else str(value)
        for key, value in found.items()
        if value is not None
    }


def text_value(value: object) -> str:
    """A field value as `key=value` shows it: bare when plain, else JSON-quoted (a space,
    a quote, `=`, a backslash, empty, or anything unprintable: a feed's name may come from
    its title), so that every pair reads back and a line stays one printable line."""
    text = str(value)
    if text.isprintable() and _BARE.fullmatch(text):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in quoted)


def one_line(text: str) -> str:
    """`text` as one printable line: a line break or control character in a message (a
    feed's or Telegram's error text) is shown escaped, as in a JSON string, so one event
    stays one line and no terminal escape reaches the operator's screen."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`; a traceback follows on its own lines."""

    def __init__(self) -> None:
        super().__init__(TEXT_LINE)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        pairs = [f"{key}={text_value(value)}" for key, value in record_fields(record).items()]
        return " ".join([one_line(super().formatMessage(record)), *pairs])


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the fields,
    and `traceback` / `stack` as strings. ASCII only (non-ASCII as \\u escapes), so a line
    parses whatever encoding the stream has."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        event: dict[str, object] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            event["traceback"] = record.exc_text
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, default=str)


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def log_handler(
    redact: Redactor, log_format: LogFormat, stream: TextIO | None = None
) -> logging.Handler:
    """A handler writing `log_format` lines to `stream` (stderr), the token redacted."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(RedactToken(redact))
    return handler


def configure_logging(verbose: bool, redact: Redactor, log_format: LogFormat = "text") -> None:
    root = logging.getLogger()
    root.handlers[:] = [log_handler(redact, log_format)]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request URL at INFO; with the token in it. Keep it for -v only.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    _warnings_as_lines(log_format)


def use_log_format(log_format: LogFormat) -> None:
    """Switch the handlers configure_logging set up to `log_format` (the config's choice,
    known once the config is read)."""
    for handler in logging.getLogger().handlers:
        if any(isinstance(f, RedactToken) for f in handler.filters):
            handler.setFormatter(formatter_for(log_format))
    _warnings_as_lines(log_format)


def redact_also(secret: str) -> None:
    """Hide `secret` from the lines of the handlers configure_logging set up."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactToken):
                found.redact.also(secret)


def _warnings_as_lines(log_format: LogFormat) -> None:
    # Python warnings print straight to stderr: in JSON, a line no parser could read.
    logging.captureWarnings(log_format == "json")
