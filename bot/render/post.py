"""Render a release as a channel post: Telegram HTML text, its buttons, and nothing over 4096.

Telegram counts a message's length in code points after entity parsing, so every budget
here is computed on the plain text each part shows, and the summary gives way first.

A release whose study is known (issue 14) shows one "Study: ..." line under the summary
and a "Cite the study" button; without a study the post is exactly what it was before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from bot.models import Publisher, Release, Study
from bot.render.cite import render_citation
from bot.render.cite_study import study_line
from bot.render.display import display_date
from bot.render.telegram_html import bold, escape

MAX_TEXT = 4096  # Telegram's limit, in code points after entity parsing
MAX_TITLE = 400  # a longer title is cut in the headline; the citation keeps all of it
MAX_CITATION = 1800  # a longer citation is left to the Cite button
MAX_SOURCE = 100  # the feed's name in the byline; a feed may call itself anything
# study_line caps its parts (about 300 characters); a longer line would be a bug there,
# and is left out rather than crowd out the post.
MAX_STUDY_LINE = 400
# A phone shows a row of three buttons at a third of the width each, which cuts "Read the
# release" short; two to a row keep every label whole.
MAX_BUTTONS_PER_ROW = 2
ELLIPSIS = "…"
_BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class Post:
    """What a chat receives: HTML text, its URL buttons (laid out in rows by `button_rows`),
    whether to preview the link, whether it arrives silently, and the forum topic it goes
    to (None: the chat itself)."""

    text: str
    buttons: tuple[Button, ...]
    link_preview: bool
    silent: bool = False
    thread_id: int | None = None
    # The link Telegram previews; "" leaves it the first link of the text (the citation's
    # URL of the release). A post with a study line sets the release's link: else the
    # study's DOI link, which comes first, would take the preview from the release.
    preview_url: str = ""


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


def post_buttons(
    release: Release, release_id: int, bot_username: str, *, study: bool = False
) -> tuple[Button, ...]:
    """The post's buttons: "Read the release", "Cite" and, when the release's study is known,
    "Cite the study" (the Cite buttons are deep links into the bot: only when its username
    is known)."""
    buttons = []
    target = release_target(release)
    if target:
        buttons.append(Button("Read the release", target))
    if _BOT_USERNAME.fullmatch(bot_username):
        buttons.append(Button("Cite", f"https://t.me/{bot_username}?start=cite_{release_id}"))
        if study:
            link = f"https://t.me/{bot_username}?start=study_{release_id}"
            buttons.append(Button("Cite the study", link))
    return tuple(buttons)


def release_target(release: Release) -> str:
    """The release's link as a button (and the preview) takes it; "" when Telegram would
    refuse both its links."""
    return next((url for url in (release.url, release.link) if is_button_url(url)), "")


def button_rows(buttons: tuple[Button, ...]) -> tuple[tuple[Button, ...], ...]:
    """The buttons as the keyboard's rows: one row while they fit it; else the first
    ("Read the release") alone on top and the rest (the Cite buttons) paired below."""
    if len(buttons) <= MAX_BUTTONS_PER_ROW:
        return (buttons,) if buttons else ()
    first, rest = buttons[:1], buttons[1:]
    pairs = [rest[i : i + MAX_BUTTONS_PER_ROW] for i in range(0, len(rest), MAX_BUTTONS_PER_ROW)]
    return (first, *pairs)


def render_post(
    release: Release,
    publisher: Publisher,
    *,
    release_id: int,
    options: PostOptions,
    accessed: date,
    cite_key: str = "",
    study: Study | None = None,
) -> Post:
    """The channel post for one release; always valid Telegram HTML within 4096 code points.

    With `study` (the release's study, when its metadata was found), a line naming it comes
    under the summary and a "Cite the study" button after "Cite"; the summary gives way to
    it, as to the citation."""
    title = shorten(release.title.strip(), MAX_TITLE) or "(untitled release)"
    source = shorten(
        " ".join((publisher.short_name or publisher.name or release.feed_title).split()),
        MAX_SOURCE,
    )
    byline = " · ".join(part for part in (source, display_date(release.published)) if part)
    head_plain = f"{title}\n{byline}" if byline else title
    head_html = f"{bold(title)}\n{escape(byline)}" if byline else bold(title)
    citation_plain, citation_html = _citation(release, publisher, options, accessed, cite_key)
    study_plain, study_html = _study(study)
    reserved = len(head_plain) + 2
    reserved += sum(len(plain) + 2 for plain in (citation_plain, study_plain) if plain)
    budget = min(options.summary_length, MAX_TEXT - reserved)
    summary = shorten(release.summary.strip(), budget) if budget > 0 else ""
    blocks = [head_html, escape(summary) if summary else "", study_html, citation_html]
    text = "\n\n".join(block for block in blocks if block)
    return Post(
        text=text,
        buttons=post_buttons(release, release_id, options.bot_username, study=bool(study_html)),
        link_preview=options.link_preview,
        silent=options.silent,
        thread_id=options.thread_id,
        preview_url=release_target(release) if study_html and options.link_preview else "",
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


def _study(study: Study | None) -> tuple[str, str]:
    """The post's study line, plain and HTML; ("", "") without a study."""
    if study is None:
        return "", ""
    plain, html = study_line(study)
    if len(plain) > MAX_STUDY_LINE:
        return "", ""
    return plain, html
