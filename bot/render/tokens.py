"""Recognise anything shaped like a Telegram bot token, so that no output ever shows one.

The running bot redacts its own token by value (bot/logs.py). Text stored by an older
version, or a token of another bot pasted into a config, has no value to match: its shape
does (`<bot id>:<secret>`, the colon maybe URL-encoded, any letter case).
"""

from __future__ import annotations

import re

REDACTED = "[TOKEN]"  # no HTML or Markdown specials: a redacted text may be sent as HTML

# A bot id is 6 or more digits; the secret is 35 characters of [A-Za-z0-9_-] today (30+ here).
TOKEN_SHAPE = re.compile(r"(?<![0-9])[0-9]{6,}(?::|%3a)[a-z0-9_-]{30,}", re.IGNORECASE)


def scrub_tokens(text: str) -> str:
    """`text` with every token-shaped run replaced by REDACTED."""
    return TOKEN_SHAPE.sub(REDACTED, text)
