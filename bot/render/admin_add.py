"""What `/add` and `/import` say: the preview of a feed before subscribing, the refusals,
the confirmation, and the summary of an OPML import (HTML for Telegram, plain text for the CLI).

Pure text from plain values; bot/services/admin_add.py decides what to say.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import AuditEntry
from bot.render.post import MAX_TEXT, shorten
from bot.render.progress import counted
from bot.render.telegram_html import Html, bold, escape, italic

MAX_LISTED = 20  # lines of an import summary's listings before "… and N more"
MAX_FEED_TITLE = 200  # a feed's title in the preview
MAX_SUMMARY_LINE = 300  # a line of an import summary sent to Telegram
MAX_SUMMARY_URL = 120  # a refused URL in that line
_TAG = re.compile(r"<[^>]*>")  # our own markup only: text is escaped by telegram_html

ADD_USAGE = Html(
    "Usage: <code>/add URL-or-feed [name]</code>: a feed's URL, a web page that links to"
    " its feed, or the name of a feed the bot already follows."
)

IMPORT_USAGE = Html(
    "Send <code>/import</code> as the caption of an OPML file, or in reply to one: this chat"
    " is subscribed to its feeds (each checked as /add, no backlog)."
)
NO_CHAT = Html(
    "Which chat? Send this in the chat, or name it first: <code>/add @channel URL</code>."
)


def visible_length(text: str) -> int:
    """How many characters Telegram shows of `text` (its limit counts these, not tags)."""
    return len(html.unescape(_TAG.sub("", text)))


def refusal(reason: str) -> Html:
    """A polite no, with its reason."""
    return Html(f"Not added: {escape(reason)}")


def preview_text(title: str, releases: int, newest: str | None, *, known: str = "") -> Html:
    """The feed's title, how many releases it lists, and its newest release as it would be
    posted (`newest`: the post's text, Telegram HTML made by render_post); `known` is the
    name of a feed the bot already follows."""
    head = bold(shorten(title, MAX_FEED_TITLE) or "(untitled feed)")
    if known:
        head = Html(f"{head} ({escape(known)}, already followed by the bot)")
    count = counted(releases, "release")
    lines = [Html(f"{head}\n{escape(count)}.")]
    if newest is None:
        lines.append(italic("No release yet: the first one will be posted when it appears."))
    else:
        lines.append(Html(f"{italic('The newest, as it would be posted:')}\n\n{newest}"))
    lines.append(escape("Subscribe this chat? Older releases posted now (backlog):"))
    return Html("\n\n".join(lines))


def pick_text(page_url: str, titles: Sequence[str]) -> Html:
    """A web page that links to several feeds: choose one."""
    # A hostile page may title its feeds with thousands of characters: cut each, so eight
    # of them and a 2,048-character page URL fit one message.
    listed = "\n".join(f"• {escape(shorten(title, MAX_FEED_TITLE))}" for title in titles)
    return Html(f"The page {escape(page_url)} links to {len(titles)} feeds. Which one?\n\n{listed}")


def subscribed_text(feed: str, chat: str, backlog: int, *, new_feed: bool) -> Html:
    """The confirmation under the preview once Subscribe was pressed."""
    what = "is now following" if new_feed else "follows"
    head = Html(f"{bold(chat)} subscribed to {bold(feed)} (the bot {what} it).")
    if backlog == 0:
        tail = escape("New releases will be posted from now on; no older one.")
    else:
        tail = escape(f"The newest {counted(backlog, 'release')} will be posted shortly.")
    return Html(f"{head}\n{tail}")


def already_text(feed: str, chat: str) -> Html:
    return Html(f"{bold(chat)} is already subscribed to {bold(feed)}.")


def cancelled_text() -> Html:
    return escape("Cancelled: nothing was changed.")


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an OPML import did, feed by feed: (name or URL, note) pairs."""

    added: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()  # (URL, reason)

    @property
    def total(self) -> int:
        return len(self.added) + len(self.already) + len(self.refused)


def import_plain(
    summary: ImportSummary, *, limit: int = MAX_LISTED, url_chars: int | None = None
) -> str:
    """The summary as plain lines (the CLI); refused URLs cut to `url_chars`, if given."""
    head = (
        f"{counted(summary.total, 'feed')} in the file: {len(summary.added)} added,"
        f" {len(summary.already)} already there, {len(summary.refused)} refused"
    )
    lines = [head]
    lines += _listing("added", list(summary.added), limit)
    lines += _listing("already there", list(summary.already), limit)
    refused = [
        f"{shorten(url, url_chars) if url_chars else url}: {why}" for url, why in summary.refused
    ]
    lines += _listing("refused", refused, limit)
    return "\n".join(lines)


def import_html(summary: ImportSummary, *, limit: int = MAX_LISTED) -> Html:
    """The summary as one Telegram message: each listed line cut to MAX_SUMMARY_LINE
    characters, and the lines kept while they fit Telegram's 4,096 (URLs in an OPML file
    are up to 2,048 characters each; a longer message would not be delivered at all)."""
    plain = import_plain(summary, limit=limit, url_chars=MAX_SUMMARY_URL)
    head, _, rest = plain.partition("\n")
    if not rest:
        return bold(head)
    lines = [shorten(line, MAX_SUMMARY_LINE) for line in rest.split("\n")]
    kept: list[str] = []
    used = len(head) + 1
    for line in lines:
        if used + len(line) + 1 > MAX_TEXT - 100:
            break
        kept.append(line)
        used += len(line) + 1
    if len(kept) < len(lines):
        kept.append(f"  … and {len(lines) - len(kept)} more lines")
    return Html(f"{bold(head)}\n{escape(chr(10).join(kept))}")


def _listing(label: str, items: list[str], limit: int) -> list[str]:
    if not items:
        return []
    lines = [f"{label}:"] + [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  … and {len(items) - limit} more")
    return lines


def audit_lines(entries: Sequence[AuditEntry]) -> list[str]:
    """`releasebot audit`: one line per change, as given (newest first)."""
    lines = []
    for entry in entries:
        who = entry.user_name or "config file"
        if entry.user_id is not None:
            who += f" ({entry.user_id})"
        change = " -> ".join(part or "-" for part in (entry.before, entry.after))
        at = entry.at.strftime("%Y-%m-%d %H:%M:%SZ")
        where = entry.chat or "(bot)"
        lines.append(f"{at}  {who}  {where}  {entry.action} {entry.target}: {change}")
    return lines
