"""Replies to readers' commands: parse the arguments, render Telegram HTML and inline keyboards.

Pure: no PTB, no store, no clock. Every reply is valid Telegram HTML whose text fits 4096
code points after parsing and 32768 bytes raw, whatever the stored strings or the user's
words hold: each piece is built twice, as HTML and as the plain text Telegram will show,
so the budget is counted on what Telegram counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.models import Publisher, StoredRelease
from bot.render.authors import clean
from bot.render.cite import (
    STYLE_BUTTONS,
    STYLE_LABELS,
    STYLE_ROWS,
    STYLES,
    is_machine,
    render_citation,
)
from bot.render.command_args import (
    MAX_LATEST,
    SEARCH_QUOTES,
    CommandArgumentError,
    LatestRequest,
    cite_callback_data,
    echo,
    release_id_ref,
)
from bot.render.display import display_date
from bot.render.post import MAX_TEXT, is_button_url, shorten
from bot.render.status import failure_kind
from bot.render.telegram_html import bold, escape, link, pre
from bot.render.tokens import scrub_tokens

MAX_RAW_BYTES = 30_000  # Telegram refuses more than 32768 bytes of raw text; keep a margin
MAX_SEARCH = 5
MAX_LIST_TITLE = 300


@dataclass(frozen=True, slots=True)
class KeyButton:
    """An inline button that sends `callback_data` back to the bot."""

    text: str
    callback_data: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot answers: HTML text and inline keyboard rows (link previews stay off)."""

    text: str
    keyboard: tuple[tuple[KeyButton, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class FeedLine:
    """One feed as /start and /feeds list it."""

    name: str
    title: str  # publisher or short name, "" when none
    channels: tuple[str, ...]  # where its posts go, e.g. "@press_news"


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What an admin sees about a feed in /feeds."""

    last_success: datetime | None
    last_error: str | None
    failures: int
    paused: tuple[str, ...]  # "channel: why" for each paused route
    permanent: bool = False  # the last error needs someone to act (bot.errors.FeedError)


# --- building text within the limits ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a reply as HTML and as the plain text Telegram will show for it."""

    html: str
    plain: str

    def __add__(self, other: Part) -> Part:
        return Part(self.html + other.html, self.plain + other.plain)


def text(value: str) -> Part:
    return Part(escape(value), value)


def strong(value: str) -> Part:
    return Part(bold(value), value)


def linked(href: str, value: str) -> Part:
    """A link where Telegram can open it; plain text otherwise."""
    return Part(link(href, value), value) if is_button_url(href) else text(value)


def joined(parts: Sequence[Part], separator: str = "\n") -> Part:
    result = Part("", "")
    for index, part in enumerate(parts):
        result = result + text(separator) + part if index else result + part
    return result


def _raw_size(html: str) -> int:
    return len(html.encode("utf-8", "replace"))


def fit_list(
    head: Part,
    items: Sequence[Part],
    tail: Part | None,
    more: Callable[[int], Part],
    separator: str = "\n\n",
) -> str:
    """`head`, as many `items` as fit, a `more(n)` note for the n left out, then `tail`.

    Blocks are separated by a blank line, items by `separator`. Sizes are summed as
    items are added, so a long list costs one pass.
    """
    fixed = [head, *([tail] if tail else [])]
    plain = sum(len(p.plain) for p in fixed) + 2 * len(fixed)
    raw = sum(_raw_size(p.html) for p in fixed) + 2 * len(fixed)
    kept = 0
    for index, item in enumerate(items):
        left = len(items) - index - 1
        note = more(left) if left else Part("", "")
        extra = len(separator) + len(note.plain) + len(separator)
        extra_raw = _raw_size(note.html) + 2 * len(separator)
        if (
            plain + len(item.plain) + extra > MAX_TEXT
            or raw + _raw_size(item.html) + extra_raw > MAX_RAW_BYTES
        ):
            break
        plain += len(item.plain) + len(separator)
        raw += _raw_size(item.html) + len(separator)
        kept += 1
    left = len(items) - kept
    middle = [*items[:kept], *([more(left)] if left else [])]
    blocks = [head, *([joined(middle, separator)] if middle else []), *([tail] if tail else [])]
    return joined(blocks, "\n\n").html


def _message(*lines: str) -> Reply:
    return Reply(escape("\n".join(lines)))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"


# --- replies ------------------------------------------------------------------------------


def release_item(stored: StoredRelease, source: str) -> Part:
    """`#42 · 3 April 2014 · NIDA` over the linked title."""
    release = stored.release
    day = display_date(release.published or release.updated) or "undated"
    byline = " · ".join(part for part in (day, clean(source)) if part)
    title = shorten(clean(release.title), MAX_LIST_TITLE) or "(untitled release)"
    return (
        strong(f"#{stored.id}")
        + text(f" · {byline}\n")
        + linked(release.url or release.link, title)
    )


def _more(count: int) -> Part:
    return text(f"… and {count} more that do not fit in one message.")


def latest_reply(
    releases: Sequence[StoredRelease], request: LatestRequest, sources: Mapping[str, str]
) -> Reply:
    """The newest releases, newest first, each with id, date, source and linked title."""
    where = f" from {request.feed}" if request.feed else ""
    if not releases:
        return _message(
            f"No releases{where} stored yet. New ones appear here as they are published."
        )
    head = strong(f"Latest releases{where}")
    if request.capped:
        head = head + text(f" (at most {MAX_LATEST})")
    items = [release_item(r, sources.get(r.release.feed, "")) for r in releases]
    tail = text(f"Cite one with /cite {releases[0].id}")
    return Reply(fit_list(head, items, tail, _more))


def search_reply(
    words: str, releases: Sequence[StoredRelease], sources: Mapping[str, str]
) -> Reply:
    """The best matches for `words`, or a message saying there are none."""
    shown = search_echo(words)
    if not releases:
        return _message(f"No release matches {shown}. Try fewer or other words.")
    head = strong("Best matches for ") + text(shown)
    items = [release_item(r, sources.get(r.release.feed, "")) for r in releases]
    tail = text(f"Cite one with /cite {releases[0].id}")
    return Reply(fit_list(head, items, tail, _more))


def search_echo(words: str) -> str:
    """The search as the reader typed it, quoted once: in quotes of ours unless it
    carries quotes of its own (a phrase), which then show as typed."""
    shown = echo(words)
    if any(mark in shown for mark in SEARCH_QUOTES):
        return shown
    return f"“{shown}”"


def style_keyboard(release_id: int, current: str) -> tuple[tuple[KeyButton, ...], ...]:
    """Every style as a button; the one shown is ticked. Pressing one edits the message."""
    return tuple(
        tuple(
            KeyButton(
                ("✓ " if style == current else "") + STYLE_BUTTONS[style],
                cite_callback_data(release_id, style),
            )
            for style in row
        )
        for row in STYLE_ROWS
    )


def citation_reply(
    stored: StoredRelease, publisher: Publisher, style: str, *, accessed: date
) -> Reply:
    """The release cited in `style`, under a header naming the style, with the style keyboard.

    A citation too long for one message is cut (it can only be by an enormous title), and
    says so; the machine formats stay in a <pre> block.
    """
    head = strong(f"#{stored.id} · {STYLE_LABELS[style]}") + text("\n\n")
    key = stored.cite_key
    plain = render_citation(stored.release, publisher, style, accessed=accessed, key=key)
    budget = MAX_TEXT - len(head.plain) - 40
    if len(plain) <= budget:
        html = render_citation(
            stored.release, publisher, style, accessed=accessed, html=True, key=key
        )
        body = Part(html, plain)
    else:
        cut = shorten(plain, budget)
        body = Part(pre(cut) if is_machine(style) else escape(cut), cut)
        body = body + text("\n(shortened: the title is very long)")
    return Reply((head + body).html, style_keyboard(stored.id, style))


def not_found_reply(ref: str) -> Reply:
    if release_id_ref(ref) is not None:  # echo the number typed: a huge one is no id of ours
        number = echo(ref.strip().removeprefix("#"))
        return _message(f"There is no release #{number} here. /latest shows the ids.")
    return _message(f"No release here matches “{echo(ref)}”. Try /search with other words.")


def no_releases_reply() -> Reply:
    return _message("No releases are stored for this chat yet.")


def no_feeds_reply(bot_username: str) -> Reply:
    """In a group or channel that no configured channel names."""
    where = f" In a private chat with @{bot_username}" if bot_username else " In a private chat"
    return _message(f"No feeds are routed to this chat.{where} I can show every feed.")


def welcome_reply(feeds: Sequence[FeedLine], bot_username: str, *, here: bool = False) -> Reply:
    """What the bot does and which feeds it follows (`here`: those routed to this chat).
    With no feeds, it says so instead of suggesting commands that would refuse."""
    if not feeds:
        return _welcome_without_feeds(bot_username, here=here)
    head = strong("Hello!") + text(
        " I post new press releases from the feeds below to Telegram channels,"
        " and I cite them in ten styles (APA, MLA, Chicago, BibTeX, RIS and more)."
    )
    label = strong("Feeds followed here:" if here else "Feeds I follow:")
    listed = [_feed_part(feed, with_channels=False) for feed in feeds] or [text("(none)")]
    items = [label + text("\n") + listed[0], *listed[1:]]
    tail = text("Try /latest, /cite or /search; /help lists every command.")
    if bot_username:
        tail = tail + text(f" In a group, write the command as /latest@{bot_username}.")
    return Reply(fit_list(head, items, tail, _more_feeds, separator="\n"))


def _welcome_without_feeds(bot_username: str, *, here: bool) -> Reply:
    head = strong("Hello!") + text(
        " I post new press releases to Telegram channels and cite them in ten styles"
        " (APA, MLA, Chicago, BibTeX, RIS and more)."
    )
    if not here:
        body = text("I follow no feeds yet, so there is nothing to list or cite.")
    else:
        private = f"a private chat with @{bot_username}" if bot_username else "a private chat"
        body = text(
            "No feeds are routed to this chat, so there is nothing to list or cite here."
            f" In {private} I can show every feed; the bot's admin can route feeds here."
        )
    return Reply(joined([head, body], "\n\n").html)


def _more_feeds(count: int) -> Part:
    return text(f"… and {count} more feeds.")


def _feed_part(feed: FeedLine, *, with_channels: bool) -> Part:
    part = text("• ") + strong(feed.name)
    if feed.title:
        part = part + text(f" — {shorten(clean(feed.title), 200)}")
    if with_channels:
        where = ", ".join(feed.channels) if feed.channels else "no channel"
        part = part + text(f"\n   → {shorten(where, 600)}")
    return part


def help_reply(bot_username: str, feeds: Sequence[str] = ()) -> Reply:
    """Every command, one line each with an example; `feeds` are those the chat may ask
    about, the first named in the /latest example."""
    example = f"/latest 10 {feeds[0]}" if feeds else "/latest 10"
    lines = [
        strong("Commands"),
        text(
            "/latest [n] [feed] — the newest releases (default 5, at most 20)."
            f" Example: {shorten(example, 80)}"
        ),
        text(
            "/cite [style] [id, URL or words] — a citation; the newest release without a"
            " reference. Example: /cite mla 42"
        ),
        text("/search words — the five best matches. Example: /search COVID-19 vaccine"),
        text("/feeds — the feeds and the channels they go to. Example: /feeds"),
        text("/start — what this bot does. Example: /start"),
        text("/help — this list. Example: /help"),
        _help_feeds(feeds, bot_username),
        text("Styles: " + ", ".join(STYLES) + "."),
    ]
    if bot_username:
        lines.append(text(f"In a group, add my name: /latest@{bot_username}"))
    return Reply(joined(lines).html)


def _help_feeds(feeds: Sequence[str], bot_username: str, shown: int = 10) -> Part:
    if not feeds:
        private = f"a private chat with @{bot_username}" if bot_username else "a private chat"
        return text(f"No feeds are routed to this chat: ask in {private}.")
    names = ", ".join(shorten(name, 60) for name in feeds[:shown])
    more = f" and {len(feeds) - shown} more (/feeds)" if len(feeds) > shown else ""
    return text(f"Feeds: {names}{more}.")


def feeds_reply(
    feeds: Sequence[FeedLine], health: Mapping[str, FeedHealth] | None, *, here: bool
) -> Reply:
    """The feeds and their channels; with `health` (admins), each feed's state too."""
    if not feeds:
        return _message("No feeds are routed to this chat." if here else "No feeds are configured.")
    head = strong("Feeds followed here" if here else "Feeds")
    items = []
    for feed in feeds:
        part = _feed_part(feed, with_channels=True)
        if health is not None and feed.name in health:
            part = part + _health_part(health[feed.name])
        items.append(part)
    return Reply(fit_list(head, items, None, _more_feeds))


def _health_part(health: FeedHealth) -> Part:
    lines = [f"   last success: {_when(health.last_success)}"]
    if health.last_error:
        error = shorten(clean(scrub_tokens(health.last_error)), 300)
        if health.failures:
            kind = failure_kind(health.permanent)
            lines.append(f"   failing ({kind}, {health.failures} in a row): {error}")
        else:
            lines.append(f"   last error: {error}")
    for paused in health.paused:
        lines.append(f"   paused: {shorten(clean(scrub_tokens(paused)), 300)}")
    return text("\n" + "\n".join(lines))


def unknown_command_reply(name: str) -> Reply:
    return _message(f"I don't know /{echo(name, 40)}. /help lists what I can do.")


def argument_problem_reply(problem: CommandArgumentError) -> Reply:
    return _message(problem.message)


def failure_reply() -> Reply:
    return _message("Sorry, something went wrong on my side. Please try again in a minute.")


def slow_down_reply(at_once: int) -> Reply:
    """Said once to a reader who sends commands faster than the answers can go out."""
    return _message(
        f"Slow down, please: I answer {at_once} commands at a time, so I skipped the rest."
        " Ask again once my answers are in."
    )


def too_slow_reply() -> Reply:
    """A look-up that ran past its time budget."""
    return _message(
        "That took me too long to look up, sorry. Try fewer or more specific words,"
        " or a release's #id from /latest."
    )


def callback_answer(style: str) -> str:
    """The short notice shown when a style button is pressed (at most 200 characters)."""
    return STYLE_LABELS[style]
