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
MAX_SOURCE = 100  # the feed's name in the byline; a feed may call itself anything
ELLIPSIS = "…"
_BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class Post:
    """What a chat receives: HTML text, a row of URL buttons, whether to preview the link,
    whether it arrives silently, and the forum topic it goes to (None: the chat itself)."""

    text: str
    buttons: tuple[Button, ...]
    link_preview: bool
    silent: bool = False
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class PostOptions:
    """A route's settings for its posts."""

    citation_style: str  # a style name, or "none"
    summary_length: int
    link_preview: bool
    bot_username: str  # "" when unknown: no Cite button
    silent: bool = False
    thread_id: int | None = None


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
    """Whether Telegram accepts `url` on a URL button (tdlib's check for http(s) links).

    The host must be a public domain name: an IP address, `localhost` or a bad port makes
    Telegram refuse the whole message, so such a link gets no button at all.
    """
    if not url or len(url) > 2048 or any(ch.isspace() or ch in '<>"' for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- urlsplit validates the port only when asked
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https"):
        return False
    labels = (parts.hostname or "").rstrip(".").split(".")
    if len(labels) < 2 or not all(_is_domain_label(label) for label in labels):
        return False
    tld = labels[-1]
    return len(tld) >= 2 and (tld.isalpha() or tld.lower().startswith("xn--"))


def _is_domain_label(label: str) -> bool:
    return bool(label) and all(ch.isalnum() or ch == "-" for ch in label)


def post_buttons(release: Release, release_id: int, bot_username: str) -> tuple[Button, ...]:
    buttons = []
    target = next((url for url in (release.url, release.link) if is_button_url(url)), "")
    if target:
        buttons.append(Button("Read the release", target))
    if _BOT_USERNAME.fullmatch(bot_username):
        buttons.append(Button("Cite", f"https://t.me/{bot_username}?start=cite_{release_id}"))
    return tuple(buttons)


def render_post(
    release: Release,
    publisher: Publisher,
    *,
    release_id: int,
    options: PostOptions,
    accessed: date,
    cite_key: str = "",
) -> Post:
    """The channel post for one release; always valid Telegram HTML within 4096 code points."""
    title = shorten(release.title.strip(), MAX_TITLE) or "(untitled release)"
    source = shorten(
        " ".join((publisher.short_name or publisher.name or release.feed_title).split()),
        MAX_SOURCE,
    )
    byline = " · ".join(part for part in (source, display_date(release.published)) if part)
    head_plain = f"{title}\n{byline}" if byline else title
    head_html = f"{bold(title)}\n{escape(byline)}" if byline else bold(title)
    citation_plain, citation_html = _citation(release, publisher, options, accessed, cite_key)
    reserved = len(head_plain) + (len(citation_plain) + 2 if citation_plain else 0) + 2
    budget = min(options.summary_length, MAX_TEXT - reserved)
    summary = shorten(release.summary.strip(), budget) if budget > 0 else ""
    blocks = [head_html, escape(summary) if summary else "", citation_html]
    text = "\n\n".join(block for block in blocks if block)
    return Post(
        text=text,
        buttons=post_buttons(release, release_id, options.bot_username),
        link_preview=options.link_preview,
        silent=options.silent,
        thread_id=options.thread_id,
    )


def _citation(
    release: Release, publisher: Publisher, options: PostOptions, accessed: date, key: str
) -> tuple[str, str]:
    if options.citation_style == "none":
        return "", ""
    style = options.citation_style
    plain = render_citation(release, publisher, style, accessed=accessed, key=key)
    if len(plain) > MAX_CITATION:
        return "", ""
    html = render_citation(release, publisher, style, accessed=accessed, html=True, key=key)
    return plain, html
