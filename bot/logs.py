"""Logging setup: one stderr handler, and the bot token never written to a log line.

`Redactor` hides the token as it is used (surrounding whitespace stripped, as the bot
strips it), in any letter case (python-telegram-bot capitalises some error texts, which
lower-cases the rest), URL-encoded, and its secret part after the colon on its own.
"""

from __future__ import annotations

import logging
import re
import sys
from urllib.parse import quote, quote_plus

from bot.render.tokens import REDACTED, scrub_tokens

MIN_SECRET = 8  # a shorter "secret part" would blank out ordinary words in every line


class Redactor:
    """Replaces every form of one token in a text with REDACTED; callable."""

    def __init__(self, token: str) -> None:
        token = token.strip()
        _, colon, secret = token.partition(":")
        parts = [token, secret] if colon and len(secret) >= MIN_SECRET else [token]
        forms = {
            form
            for part in parts
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
        except (TypeError, ValueError):  # bad format arguments: the handler reports them
            return True
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(verbose: bool, redact: Redactor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request URL at INFO; with the token in it. Keep it for -v only.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
