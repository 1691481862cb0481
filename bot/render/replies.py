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

from bot.models import Publisher, StoredRelease, Study, StudyRef
from bot.render.authors import clean
from bot.render.cite import (
    STYLE_BUTTONS,
    STYLE_LABELS,
    STYLE_ROWS,
    STYLES,
    is_machine,
    render_citation,
)
from bot.render.cite_study import (
    STUDY_MARK,
    render_study_citation,
    study_citation_key,
    study_link,
)
from bot.render.command_args import (
    MAX_LATEST,
    SEARCH_QUOTES,
    CommandArgumentError,
    LatestRequest,
    cite_callback_data,
    echo,
    release_id_ref,
    study_callback_data,
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
    """`#42 · 3 April 2014 · NIDA` over the linked title; STUDY_MARK before the title when
    the study behind the release is known (/cite study 42 cites it)."""
    release = stored.release
    day = display_date(release.published or release.updated) or "undated"
    byline = " · ".join(part for part in (day, clean(source)) if part)
    title = shorten(clean(release.title), MAX_LIST_TITLE) or "(untitled release)"
    mark = text(f"{STUDY_MARK} ") if stored.study is not None else Part("", "")
    return (
        strong(f"#{stored.id}")
        + text(f" · {byline}\n")
        + mark
        + linked(release.url or release.link, title)
    )


def _more(count: int) -> Part:
    return text(f"… and {count} more that do not fit in one message.")


def _list_tail(releases: Sequence[StoredRelease]) -> Part:
    """How to cite what the list shows; what the study mark means when one is shown."""
    tail = f"Cite one with /cite {releases[0].id}"
    with_study = next((r for r in releases if r.study is not None), None)
    if with_study is not None:
        tail += f"; {STUDY_MARK} has a study: /cite study {with_study.id}"
    return text(tail)


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
    return Reply(fit_list(head, items, _list_tail(releases), _more))


def search_reply(
    words: str, releases: Sequence[StoredRelease], sources: Mapping[str, str]
) -> Reply:
    """The best matches for `words`, or a message saying there are none."""
    shown = search_echo(words)
    if not releases:
        return _message(f"No release matches {shown}. Try fewer or other words.")
    head = strong("Best matches for ") + text(shown)
    items = [release_item(r, sources.get(r.release.feed, "")) for r in releases]
    return Reply(fit_list(head, items, _list_tail(releases), _more))


def doi_search_reply(
    doi: str, releases: Sequence[StoredRelease], sources: Mapping[str, str]
) -> Reply:
    """The releases that point to the study with this DOI (`/search doi:10.1523/…`)."""
    label, href = study_link(Study(doi=doi))
    if not releases:
        return Reply(
            text("No release here names the study ").html
            + linked(href, shorten(label, 200)).html
            + text(". /search with words looks through the releases' text.").html
        )
    head = strong("Releases naming ") + linked(href, shorten(label, 200))
    items = [release_item(r, sources.get(r.release.feed, "")) for r in releases]
    tail = text(f"Cite the study with /cite study {releases[0].id}")
    return Reply(fit_list(head, items, tail, _more))


def search_echo(words: str) -> str:
    """The search as the reader typed it, quoted once: in quotes of ours unless it
    carries quotes of its own (a phrase), which then show as typed."""
    shown = echo(words)
    if any(mark in shown for mark in SEARCH_QUOTES):
        return shown
    return f"“{shown}”"


def style_keyboard(
    release_id: int, current: str, *, study: bool = False
) -> tuple[tuple[KeyButton, ...], ...]:
    """Every style as a button; the one shown is ticked. Pressing one edits the message.
    With `study`, the buttons restyle the study behind the release (their data says so)."""
    data = study_callback_data if study else cite_callback_data
    return tuple(
        tuple(
            KeyButton(
                ("✓ " if style == current else "") + STYLE_BUTTONS[style],
                data(release_id, style),
            )
            for style in row
        )
        for row in STYLE_ROWS
    )


def _fitted(head: Part, style: str, render: Callable[[bool], str], why: str) -> Part:
    """`head` and the citation `render(html)` gives, cut when it would not fit one message
    (saying `why`); the machine formats stay in a <pre> block."""
    plain = render(False)
    budget = MAX_TEXT - len(head.plain) - 40 - len(why)
    if len(plain) <= budget:
        return head + Part(render(True), plain)
    cut = shorten(plain, budget)
    body = Part(pre(cut) if is_machine(style) else escape(cut), cut)
    return head + body + text(f"\n(shortened: {why})")


def citation_reply(
    stored: StoredRelease, publisher: Publisher, style: str, *, accessed: date
) -> Reply:
    """The release cited in `style`, under a header naming the style, with the style keyboard.

    A citation too long for one message is cut (it can only be by an enormous title), and
    says so; the machine formats stay in a <pre> block.
    """
    head = strong(f"#{stored.id} · {STYLE_LABELS[style]}") + text("\n\n")
    key = stored.cite_key

    def render(html: bool) -> str:
        return render_citation(
            stored.release, publisher, style, accessed=accessed, html=html, key=key
        )

    body = _fitted(head, style, render, "the title is very long")
    return Reply(body.html, style_keyboard(stored.id, style))


def study_citation_reply(release_id: int, study: Study, style: str) -> Reply:
    """The study behind release `release_id` cited in `style`, under a header saying so,
    with a style keyboard that restyles the study. A citation too long for one message
    (thousands of authors in a machine format) is cut, and says so."""
    head = strong(f"{STUDY_MARK} Study of #{release_id} · {STYLE_LABELS[style]}") + text("\n\n")
    key = study_citation_key(study)

    def render(html: bool) -> str:
        return render_study_citation(study, style, html=html, key=key)

    body = _fitted(head, style, render, "the study is very long; releasebot cite prints it whole")
    return Reply(body.html, style_keyboard(release_id, style, study=True))


@dataclass(frozen=True, slots=True)
class StudyMiss:
    """One identifier of a release whose study is not known: what the lookup came to."""

    ref: StudyRef
    state: str  # pending, not_registered, failed
    retry_at: datetime | None  # when it is asked again (None: not planned)
    error: str | None


def study_missing_reply(
    release_id: int, misses: Sequence[StudyMiss], *, enabled: bool, now: datetime
) -> Reply:
    """Why release `release_id` has no study to cite: it names none; look-ups are off; the
    look-up is under way (or waiting for the service); or what the services answered."""
    if not misses:
        return _message(
            f"#{release_id} does not name a study: I found no DOI, PubMed or PubMed Central id"
            f" in it. /cite {release_id} cites the release itself."
        )
    refs = _joined_refs([miss.ref for miss in misses])
    if not enabled:
        return Reply(
            text(f"#{release_id} names ").html
            + refs.html
            + text(", but this bot does not look studies up, so I cannot cite it.").html
        )
    pending = [miss for miss in misses if miss.state == "pending"]
    if pending:
        return Reply(_pending(release_id, refs, pending, now).html)
    lines = [text(f"I could not get the study of #{release_id}:")]
    lines += [text("• ") + _ref_part(miss.ref) + text(_miss_reason(miss)) for miss in misses]
    later = [miss.retry_at for miss in misses if miss.retry_at is not None]
    if later:
        lines.append(text(f"I will ask again after {_when(min(later))}."))
    return Reply(joined(lines).html)


def _pending(release_id: int, refs: Part, pending: Sequence[StudyMiss], now: datetime) -> Part:
    waits = [miss.retry_at for miss in pending]
    if any(at is None or (at - now).total_seconds() <= 120 for at in waits):
        return (
            text(f"Looking up the study of #{release_id} (")
            + refs
            + text("); try again in a minute.")
        )
    after = min(at for at in waits if at is not None)
    return (
        text(f"The study of #{release_id} (")
        + refs
        + text(
            ") is not looked up yet: the study service is busy, and I will ask it again"
            f" after {_when(after)}. Try again then."
        )
    )


def _miss_reason(miss: StudyMiss) -> str:
    if miss.state == "not_registered":
        where = "the DOI resolver" if miss.ref.kind == "doi" else "PubMed"
        return f" is not registered with {where}"
    reason = shorten(clean(scrub_tokens(miss.error or "")), 200)
    return f": the answer could not be used ({reason})" if reason else ": the look-up failed"


def _ref_part(ref: StudyRef) -> Part:
    """An identifier as a reader knows it, linked: doi:10.1/x, PMID 123, PMC123."""
    value = shorten(clean(ref.value), 200)
    study = {
        "doi": Study(doi=value),
        "pmid": Study(doi="", pmid=value),
        "pmcid": Study(doi="", pmcid=value),
    }[ref.kind]
    label, href = study_link(study)
    return linked(href, label) if label else text(value)


def _joined_refs(refs: Sequence[StudyRef], shown: int = 3) -> Part:
    parts = [_ref_part(ref) for ref in refs[:shown]]
    more = [text(f"{len(refs) - shown} more")] if len(refs) > shown else []
    return joined([*parts, *more], ", ")


def not_found_reply(ref: str) -> Reply:
    if release_id_ref(ref) is not None:  # echo the number typed: a huge one is no id of ours
        number = echo(ref.strip().removeprefix("#"))
        return _message(f"There is no release #{number} here. /latest shows the ids.")
    return _message(f"No release here matches “{echo(ref)}”. Try /search with other words.")


def no_recent_study_reply(scanned: int, newest_id: int) -> Reply:
    """`/cite study` alone, when none of the chat's newest releases has a known study."""
    if scanned == 1:
        which = "The newest release here has no study"
    else:
        which = f"None of the {scanned} newest releases here has a study"
    return _message(
        f"{which} I know of yet."
        f" Ask for one release's study, for example /cite study {newest_id}, to see why."
    )


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
        text(
            f"/cite study [style] [id, URL or words] — the study behind a release ({STUDY_MARK}"
            " in /latest and /search); the newest with one without a reference."
            " Example: /cite study apa 42"
        ),
        text(
            "/search words or a DOI — the five best matches, or the releases naming that"
            " study. Example: /search COVID-19 vaccine"
        ),
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
