"""Render a release as a channel post: Telegram HTML text, its buttons, and nothing over 4096.

Telegram counts a message's length in code points after entity parsing, so every budget
here is computed on the plain text each part shows, and the summary gives way first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from bot.models import Publisher, Release
from bot.render.cite import render_citation
from bot.render.display import display_date
from bot.render.telegram_html import bold, escape

MAX_TEXT = 4096  # Telegram's limit, in code points after entity parsing
MAX_TITLE = 400  # a longer title is cut in the headline; the citation keeps all of it
MAX_CITATION = 1800  # a longer citation is left to the Cite button
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class Post:
    """What a chat receives: HTML text, a row of URL buttons, and whether to preview the link."""

    text: str
    buttons: tuple[Button, ...]
    link_preview: bool


@dataclass(frozen=True, slots=True)
class PostOptions:
    """A channel's settings for its posts."""

    citation_style: str  # a style name, or "none"
    summary_length: int
    link_preview: bool
    bot_username: str  # "" when unknown: no Cite button


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a sentence or word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ""
    head = text[: limit - len(ELLIPSIS) - 1]
    sentence_ends = [m.end() for m in re.finditer(r"[.!?…](?=\s)", head)]
    if sentence_ends and sentence_ends[-1] >= limit * 0.6:
        return head[: sentence_ends[-1]] + " " + ELLIPSIS
    space = head.rfind(" ")
    if space >= limit * 0.6:
        head = head[:space]
    return head.rstrip(" \n,;:-") + ELLIPSIS


def is_button_url(url: str) -> bool:
    """Telegram refuses a URL button whose URL is not a plain absolute http(s) address."""
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not re.search(r"[\s<>\"]", url)
        and len(url) <= 2048
    )


def post_buttons(release: Release, release_id: int, bot_username: str) -> tuple[Button, ...]:
    buttons = []
    target = release.url or release.link
    if is_button_url(target):
        buttons.append(Button("Read the release", target))
    if bot_username:
        buttons.append(Button("Cite", f"https://t.me/{bot_username}?start=cite_{release_id}"))
    return tuple(buttons)


def render_post(
    release: Release,
    publisher: Publisher,
    *,
    release_id: int,
    options: PostOptions,
    accessed: date,
) -> Post:
    """The channel post for one release; always valid Telegram HTML within 4096 code points."""
    title = shorten(release.title.strip(), MAX_TITLE) or "(untitled release)"
    source = publisher.short_name or publisher.name or release.feed_title
    byline = " · ".join(part for part in (source, display_date(release.published)) if part)
    head_plain = f"{title}\n{byline}" if byline else title
    head_html = f"{bold(title)}\n{escape(byline)}" if byline else bold(title)
    citation_plain, citation_html = _citation(release, publisher, options, accessed)
    reserved = len(head_plain) + (len(citation_plain) + 2 if citation_plain else 0) + 2
    budget = min(options.summary_length, MAX_TEXT - reserved)
    summary = shorten(release.summary.strip(), budget) if budget > 0 else ""
    blocks = [head_html, escape(summary) if summary else "", citation_html]
    text = "\n\n".join(block for block in blocks if block)
    return Post(
        text=text,
        buttons=post_buttons(release, release_id, options.bot_username),
        link_preview=options.link_preview,
    )


def _citation(
    release: Release, publisher: Publisher, options: PostOptions, accessed: date
) -> tuple[str, str]:
    if options.citation_style == "none":
        return "", ""
    plain = render_citation(release, publisher, options.citation_style, accessed=accessed)
    if len(plain) > MAX_CITATION:
        return "", ""
    html = render_citation(release, publisher, options.citation_style, accessed=accessed, html=True)
    return plain, html
