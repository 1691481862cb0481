"""Replies to admin commands (/subs, /set, /remove, /pause, /status, /audit ...) as Telegram
HTML. Pure: the service (bot/services/admin.py) reads the store and passes plain values.

Everything that came from a user or a feed (chat titles, feed names and titles, filter
terms, errors) is escaped here, and every reply fits Telegram's 4096 characters: lists
are cut with `fit_list` and a note of how many were left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.models import AuditEntry
from bot.render.authors import clean
from bot.render.command_args import echo
from bot.render.post import MAX_TEXT, shorten
from bot.render.replies import Part, Reply, fit_list, strong, text
from bot.render.telegram_html import Html, escape, pre
from bot.render.tokens import scrub_tokens

MAX_ERROR = 200
MAX_NAME = 64

# For setMyCommands (the admin scopes) and /help: each admin command and what it does.
COMMAND_HELP: dict[str, str] = {
    "add": "follow a feed here: /add URL-or-feed [name]",
    "remove": "stop following a feed here: /remove feed",
    "subs": "the feeds this chat follows, with their settings",
    "set": "a feed's options here: /set feed option value",
    "filter": "keyword filters: /filter feed include|exclude words, /filter feed clear",
    "pause": "pause this chat's feeds (all, or one): /pause [feed]",
    "resume": "resume this chat's feeds: /resume [feed]",
    "retry": "send this chat's failed posts again",
    "status": "feeds' and chats' health",
    "export": "an OPML file of this chat's feeds",
    "import": "follow the feeds of an OPML file (as its caption, or a reply to it)",
    "audit": "the last changes (owners): /audit [n]",
}


def _say(*lines: str) -> Html:
    return escape("\n".join(lines))


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _name(value: str) -> str:
    return shorten(clean(value), MAX_NAME)


def _error(value: str) -> str:
    return shorten(clean(scrub_tokens(value)), MAX_ERROR)


# --- who and where -------------------------------------------------------------------------


def name_the_chat(command: str) -> Html:
    """A private chat naming no chat, for a command about one."""
    return _say(
        f"Send /{command} in the channel or group it is about, or name the chat first here:"
        f" /{command} @mychannel (or its numeric chat id)."
    )


def chat_unseen(ref: str, detail: str) -> Html:
    why = f" (Telegram says: {_error(detail)})" if detail else ""
    return _say(
        f"I cannot see the chat {echo(ref, 40)}{why}. Add me to it first (as an administrator"
        " of a channel), then try again."
    )


def not_a_group(ref: str) -> Html:
    return _say(f"{echo(ref, 40)} is a private chat; I manage groups and channels.")


def not_allowed(command: str, chat_title: str | None) -> Html:
    """A plain member (or a user no longer admin): nothing changes."""
    where = f"of {_name(chat_title)}" if chat_title else "of a chat"
    return _say(
        f"Sorry, /{command} is for the administrators {where} and the bot's owners."
        " Nothing was changed."
    )


def owners_only(command: str) -> Html:
    return _say(f"Sorry, /{command} is for the bot's owners. Nothing was changed.")


def rate_limited(per_minute: int) -> Html:
    return _say(
        f"That is more than {per_minute} admin commands in a minute: please wait a moment"
        " and send it again. Nothing was changed."
    )


def rights_unknown(detail: str) -> Html:
    """getChatMember failed: the rights could not be checked, so nothing is done."""
    return _say(
        f"I could not check your rights in that chat ({_error(detail)}). Is the bot still"
        " a member? Nothing was changed."
    )


def argument_problem(message: str) -> Html:
    return _say(message)


# --- feeds of a chat -----------------------------------------------------------------------


def no_feeds_here(chat_title: str) -> Html:
    return _say(f"{_name(chat_title)} follows no feed yet: /add <feed URL> follows one.")


def unknown_feed(ref: str, known: Sequence[str]) -> Html:
    names = ", ".join(known[:20]) or "none"
    more = f" and {len(known) - 20} more" if len(known) > 20 else ""
    return _say(f"This chat follows no feed “{echo(ref, 60)}”. Its feeds: {names}{more}.")


def config_route(feed: str) -> Html:
    return _say(
        f"The route of {_name(feed)} here is declared in the config file; change it there."
        " (/pause and /resume work on it.)"
    )


def too_many_routes(limit: int) -> Html:
    return _say(f"This chat follows {limit} feeds, the most a chat may; /remove one first.")


# --- /remove ------------------------------------------------------------------------------


REMOVE_BUTTON = "Remove"
CANCEL_BUTTON = "Cancel"


def remove_confirm(feed: str, chat_title: str, pending: int) -> Html:
    held = f" Its {pending} unsent posts will be cancelled." if pending else ""
    return _say(f"Stop posting {_name(feed)} to {_name(chat_title)}?{held}")


def removed(feed: str, chat_title: str, cancelled: int) -> Html:
    note = f" {cancelled} unsent posts were cancelled." if cancelled else ""
    return _say(f"{_name(feed)} no longer posts to {_name(chat_title)}.{note}")


def nothing_done() -> Html:
    return _say("Cancelled: nothing was changed.")


def route_gone(feed: str) -> Html:
    return _say(f"{_name(feed)} is not followed here any more: nothing to do.")


# --- /set, /filter -------------------------------------------------------------------------


def option_set(feed: str, option: str, before: str, after: str, note: str = "") -> Html:
    extra = f" {note}" if note else ""
    return _say(f"{_name(feed)} here: {option} {before} → {after}.{extra}")


BACKLOG_NOTE = "The backlog is posted once, when the route gets its first releases."


def filter_set(feed: str, description: str) -> Html:
    return _say(f"{_name(feed)} here: {description}. Releases that fail it are not posted here.")


def filter_cleared(feed: str) -> Html:
    return _say(f"{_name(feed)} here: no filter; every release is posted.")


# --- /pause, /resume -----------------------------------------------------------------------


def paused(feeds: Sequence[str], held: int, *, resumed: bool) -> Html:
    if not feeds:
        return _say("Nothing to resume: no feed here is paused." if resumed else "Already paused.")
    names = ", ".join(_name(feed) for feed in feeds[:20])
    more = f" and {len(feeds) - 20} more" if len(feeds) > 20 else ""
    if resumed:
        sent = f" {held} held posts go out now, oldest first." if held else ""
        return _say(f"Resumed {names}{more}.{sent}")
    return _say(f"Paused {names}{more}: new posts wait here until /resume.")


def feed_paused(feed: str, *, resumed: bool, changed: bool) -> Html:
    if not changed:
        return _say(f"{_name(feed)} was already {'polled' if resumed else 'paused'}.")
    if resumed:
        return _say(f"{_name(feed)} is polled again, for every chat.")
    return _say(f"{_name(feed)} is paused for every chat: it is not polled until /resume feed.")


def unknown_bot_feed(ref: str) -> Html:
    return _say(f"I follow no feed “{echo(ref, 60)}”.")


# --- /subs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubsLine:
    """One route as /subs shows it."""

    feed: str
    title: str  # the feed's title ("" until fetched)
    url: str
    origin: str  # config | chat
    options: str  # "style apa, summary 600, preview on, silent off" (own settings marked *)
    filters: str  # describe_filter's line
    paused: str  # "" when posting; else "paused", "feed paused"
    last_post: datetime | None
    failures: int  # the feed's polls failing in a row
    last_error: str
    failed_posts: int
    held: int  # posts waiting while paused


def subs_reply(chat_title: str, lines: Sequence[SubsLine]) -> Html:
    head = strong(f"{_name(chat_title)} follows {len(lines)} feed{'s' if len(lines) != 1 else ''}")
    items = [_subs_item(line) for line in lines]
    tail = text("/set, /filter, /pause and /remove change them (config routes: pause only).")
    return Html(fit_list(head, items, tail, _more))


def _subs_item(line: SubsLine) -> Part:
    title = f" — {_name(line.title)}" if line.title else ""
    state = f" [{line.paused}]" if line.paused else ""
    rows = [
        f"{line.url}",
        f"origin {line.origin}; {line.options}",
        f"filter: {line.filters}",
        f"last post: {_when(line.last_post)}",
    ]
    if line.failures:
        rows.append(f"failing: {line.failures} polls in a row: {_error(line.last_error)}")
    if line.failed_posts:
        rows.append(f"{line.failed_posts} posts failed (/retry sends them again)")
    if line.held:
        rows.append(f"{line.held} posts held until /resume")
    return strong(_name(line.feed)) + text(title + state + "\n" + "\n".join(rows))


def _more(count: int) -> Part:
    return text(f"… and {count} more.")


# --- /status, /audit, /export --------------------------------------------------------------


def status_reply(feed_lines: Sequence[str], channel_lines: Sequence[str]) -> Html:
    """`releasebot status`'s two tables in a monospace block, cut to fit a message: the
    channel table whole where it fits, the feed table (its header and failing feeds first,
    as the caller orders them) in the room left."""
    budget = MAX_TEXT - 100
    channels = _fitting(channel_lines, budget // 2)
    feeds = _fitting(feed_lines, budget - sum(len(line) + 1 for line in channels) - 1)
    left = len(feed_lines) - len(feeds) + len(channel_lines) - len(channels)
    note = _say(f"\n… and {left} more lines: `releasebot status` shows them all.") if left else ""
    return Html(pre("\n".join([*feeds, "", *channels])) + note)


def _fitting(lines: Sequence[str], budget: int) -> list[str]:
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    return kept


def audit_reply(entries: Sequence[AuditEntry]) -> Html:
    if not entries:
        return _say("No changes recorded yet.")
    head = strong(f"The last {len(entries)} changes, newest first")
    items = [_audit_item(entry) for entry in entries]
    return Html(fit_list(head, items, None, _more, separator="\n"))


def _audit_item(entry: AuditEntry) -> Part:
    who = _name(entry.user_name) or ("config" if entry.user_id is None else str(entry.user_id))
    where = f" in {_name(entry.chat)}" if entry.chat else ""
    change = ""
    if entry.before or entry.after:
        change = f": {_error(entry.before) or '—'} → {_error(entry.after) or '—'}"
    return (
        text(f"{_when(entry.at)} {who}{where}: ")
        + strong(entry.action)
        + text(f" {_name(entry.target)}{change}")
    )


def export_caption(count: int, chat_title: str | None) -> Html:
    where = f"The feeds of {_name(chat_title)}" if chat_title else "Every feed"
    return _say(f"{where} ({count}) as OPML; /import in another chat follows them there.")


# --- /retry in a chat ---------------------------------------------------------------------


def requeued(count: int) -> Html:
    if not count:
        return _say("No failed posts here to retry.")
    return _say(f"{count} failed post{'s' if count != 1 else ''} go out again now, oldest first.")


def from_reply(reply: Reply) -> Html:
    """A reader-side reply's text (already HTML, made by bot/render/) as an admin reply's."""
    return Html(reply.text)


# --- buttons ------------------------------------------------------------------------------


def button_expired() -> Html:
    return _say(BUTTON_EXPIRED)


KEEP_MESSAGE = Html("")  # a refused press: the message and its buttons stay as they are
BUTTON_EXPIRED = "This button has expired; send the command again."
BUTTON_ELSEWHERE = "This button belongs to another chat."
BUTTON_NOT_YOURS = "Only the admin who asked, or another admin of that chat, can use it."
