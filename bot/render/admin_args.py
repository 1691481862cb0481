"""The arguments of admin commands (/set, /filter, /pause, /audit ...): parsed, checked and
turned into plain values, or a `CommandArgumentError` whose message tells the admin what to
type instead. Pure: the service (bot/services/admin.py) looks the feed named up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.errors import FilterError
from bot.feeds.filters import parse_terms
from bot.render.cite import STYLES
from bot.render.command_args import CommandArgumentError, echo

MAX_SUMMARY = 3000
MAX_BACKLOG = 100
DEFAULT_AUDIT = 10
MAX_AUDIT = 100
DEFAULT = "default"  # /set feed option default: the chat's (or the defaults') setting again

# Option as typed -> the route column it sets.
OPTIONS = {
    "style": "citation_style",
    "summary_length": "summary_length",
    "link_preview": "link_preview",
    "silent": "silent",
    "backlog": "backlog",
}
_ON = {"on", "yes", "true", "1"}
_OFF = {"off", "no", "false", "0"}


@dataclass(frozen=True, slots=True)
class SetRequest:
    """`/set feed option value`: `value` None clears the route's own setting."""

    feed: str
    option: str  # as typed: style, summary_length, link_preview, silent, backlog
    column: str
    value: Any


@dataclass(frozen=True, slots=True)
class FilterRequest:
    """`/filter feed include|exclude words…` or `/filter feed clear`."""

    feed: str
    mode: Literal["include", "exclude", "clear"]
    terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PauseRequest:
    """`/pause [feed]` (one route, or all of the chat's) or, for owners, `/pause feed NAME`
    (the whole feed: it is not polled)."""

    feed: str | None
    whole_feed: bool = False


SET_USAGE = (
    "Use /set <feed> <option> <value>. Options: style (a citation style or none),"
    " summary_length (0-3000), link_preview (on/off), silent (on/off), backlog (0-100);"
    " “default” as the value gives the chat's setting back."
)
FILTER_USAGE = (
    'Use /filter <feed> include words "or phrases", /filter <feed> exclude words,'
    " or /filter <feed> clear."
)


def split_first(args: str) -> tuple[str, str]:
    """The first word and the rest, both stripped."""
    first, _, rest = args.strip().partition(" ")
    return first, rest.strip()


def parse_set(args: str) -> SetRequest:
    words = args.split()
    if len(words) != 3:
        raise CommandArgumentError(SET_USAGE)
    feed, option, value = words
    option = option.lower().replace("-", "_")
    if option not in OPTIONS:
        raise CommandArgumentError(f"There is no option “{echo(option, 40)}”. {SET_USAGE}")
    return SetRequest(feed, option, OPTIONS[option], _option_value(option, value))


def _option_value(option: str, typed: str) -> Any:
    value = typed.lower()
    if value == DEFAULT:
        return None
    if option == "style":
        if value != "none" and value not in STYLES:
            raise CommandArgumentError(
                f"There is no style “{echo(typed, 40)}”; use one of: none, {', '.join(STYLES)}."
            )
        return value
    if option in ("link_preview", "silent"):
        if value in _ON:
            return True
        if value in _OFF:
            return False
        raise CommandArgumentError(f"{option} is on or off, not “{echo(typed, 40)}”.")
    top = MAX_SUMMARY if option == "summary_length" else MAX_BACKLOG
    if not _is_number(value) or int(value) > top:
        raise CommandArgumentError(f"{option} is a whole number from 0 to {top}.")
    return int(value)


def parse_filter(args: str) -> FilterRequest:
    feed, rest = split_first(args)
    mode, terms = split_first(rest)
    mode = mode.lower()
    if not feed or mode not in ("include", "exclude", "clear"):
        raise CommandArgumentError(FILTER_USAGE)
    if mode == "clear":
        if terms:
            raise CommandArgumentError(FILTER_USAGE)
        return FilterRequest(feed, "clear")
    try:
        return FilterRequest(
            feed, "include" if mode == "include" else "exclude", parse_terms(terms)
        )
    except FilterError as exc:
        raise CommandArgumentError(exc.message) from exc


def parse_pause(args: str) -> PauseRequest:
    words = args.split()
    if not words:
        return PauseRequest(None)
    if len(words) == 2 and words[0].lower() == "feed":
        return PauseRequest(words[1], whole_feed=True)
    if len(words) == 1:
        return PauseRequest(words[0])
    raise CommandArgumentError(
        "Use /pause (every feed of this chat), /pause <feed>, or, for the bot's owners,"
        " /pause feed <name> (the whole feed, in every chat)."
    )


def parse_audit(args: str) -> int:
    word = args.strip()
    if not word:
        return DEFAULT_AUDIT
    if not _is_number(word) or not 1 <= int(word) <= MAX_AUDIT:
        raise CommandArgumentError(
            f"Use /audit, or /audit <n> for the last n changes (1-{MAX_AUDIT})."
        )
    return int(word)


def _is_number(text: str) -> bool:
    """Digits int() reads: "²" is a digit to str.isdigit, and int("²") raises."""
    return text.isdecimal()
