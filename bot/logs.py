"""Logging setup: one stderr handler, and the bot token never written to a log line."""

from __future__ import annotations

import logging
import sys

REDACTED = "<TOKEN>"


class RedactToken(logging.Filter):
    """Replaces the token wherever it appears (PTB and httpx log URLs that contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            message = record.getMessage()
            if self.token in message:
                record.msg = message.replace(self.token, REDACTED)
                record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = logging.Formatter().formatException(record.exc_info).replace(
                    self.token, REDACTED
                )
        return True


def configure_logging(verbose: bool, token: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken(token))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request URL at INFO; with the token in it. Keep it for -v only.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def redact(text: str, token: str) -> str:
    return text.replace(token, REDACTED) if token else text
