"""Parse readers' commands: `/name@bot args`, styles, references, counts, button data.

Pure: no PTB, no store. Bad arguments raise CommandArgumentError with a sentence for
the reader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import unquote

from bot.errors import ReleaseBotError
from bot.feeds.study_meta import bare_doi
from bot.render.authors import clean
from bot.render.cite import STYLE_ALIASES, STYLES
from bot.render.post import shorten

MAX_ARGUMENT = 256  # code points of arguments we are willing to read
DEFAULT_LATEST = 5
MAX_LATEST = 20
MAX_ECHO = 60  # how much of the user's own words a reply repeats
# Words of a text search we look for; more only slow the query (each is a term of the
# full-text match, OR-ed when no release has them all), and a title's first words find it.
MAX_QUERY_WORDS = 12

COMMANDS = ("start", "help", "latest", "cite", "search", "feeds")
CITE_PAYLOAD = "cite_"
STUDY_PAYLOAD = "study_"  # the post's "Cite the study" button: ?start=study_<id>
STUDY_WORD = "study"  # `/cite study [style] [ref]`: the study behind the release

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?![A-Za-z0-9_@])")
_ID = r"(\d{1,18})"  # a release id: SQLite's rowid fits 18 digits
# Any number is read as an id (one too long for a rowid matches no release): a typed
# number must never fall through to a text search and cite some other release.
_RELEASE_ID = re.compile(r"#?0*(\d+)")
NO_SUCH_ID = 2**63  # what an id beyond SQLite's rowids reads as: it matches no release
_HASH_ID_FIRST = re.compile(r"#\d+(?!\w)")  # `#42` opening a longer reference
_CALLBACK = re.compile(rf"cite:{_ID}:([a-z0-9-]{{1,24}})")
# A study's style button: `cite:study:<id>:<style>`. It starts with "cite:" as a release's
# does, so the admins' press handler (bot/telegram/admin.py) leaves it to the readers'.
_STUDY_CALLBACK = re.compile(rf"cite:study:{_ID}:([a-z0-9-]{{1,24}})")
# What ends the sentence a DOI was copied from, not the DOI (a DOI may end in ")": kept
# when balanced).
_DOI_SPACE = re.compile(r"^doi:\s+", re.IGNORECASE)
_DOI_TRAILING = ".,;:!?\"'”’»"
# Quote marks that open or close a phrase: straight, and what phones' smart punctuation
# and other languages' keyboards type instead.
SEARCH_QUOTES = '"“”„«»'
_SEARCH_TERM = re.compile(
    rf"[{SEARCH_QUOTES}]([^{SEARCH_QUOTES}]*)[{SEARCH_QUOTES}]?|([^\s{SEARCH_QUOTES}]+)"
)


class CommandArgumentError(ReleaseBotError):
    """The arguments cannot be used; `message` is plain text that tells the reader why."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed `/name@bot args`: name in lower case, arguments stripped."""

    name: str
    args: str
    addressed: bool  # written as /name@thisbot


@dataclass(frozen=True, slots=True)
class Reference:
    """What a typed reference names: the newest release (`text` ""), one release id, or
    a text to look up (a URL, a key, else words to search for)."""

    text: str
    release_id: int | None = None

    @property
    def newest(self) -> bool:
        return not self.text


@dataclass(frozen=True, slots=True)
class CiteRequest:
    style: str | None  # None: the chat's default style
    ref: str  # "" for the newest release
    study: bool = False  # `/cite study …`: the study behind the release, not the release


@dataclass(frozen=True, slots=True)
class LatestRequest:
    count: int
    feed: str | None
    capped: bool  # the reader asked for more than MAX_LATEST


def parse_command(text: str, bot_username: str) -> Command | None:
    """The command in a message; None when there is none or it is for another bot."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    target = match.group(2)
    if target is not None and target.lower() != bot_username.lower():
        return None
    return Command(match.group(1).lower(), text[match.end() :].strip(), target is not None)


def check_length(args: str) -> None:
    """Refuse arguments longer than MAX_ARGUMENT code points."""
    if len(args) > MAX_ARGUMENT:
        raise CommandArgumentError(
            f"That is too long for me, sorry: please keep it under {MAX_ARGUMENT} characters."
        )


def style_name(word: str) -> str | None:
    """The style a word names (case-insensitive, a few aliases), or None."""
    word = word.lower()
    word = STYLE_ALIASES.get(word, word)
    return word if word in STYLES else None


def parse_cite(args: str) -> CiteRequest:
    """`[study] [style] [ref]`: a first word naming a style is the style; the rest is the
    reference, checked by `parse_reference`. `id style` (`/cite 42 mla`) is read as
    `style id`. "study" first (or right after the style: `/cite mla study 42`) asks for the
    study behind the release; the reference is then read the same way."""
    check_length(args)
    words = clean(args)
    first, _, rest = words.partition(" ")
    if first.lower() == STUDY_WORD:
        return replace(_parse_cite_words(rest, "/cite study"), study=True)
    second, _, after = rest.partition(" ")
    if second.lower() == STUDY_WORD and style_name(first):
        return replace(_parse_cite_words(f"{first} {after}".strip(), "/cite study"), study=True)
    return _parse_cite_words(words, "/cite")


def _parse_cite_words(words: str, command: str) -> CiteRequest:
    first, _, rest = words.partition(" ")
    style = style_name(first) if first else None
    if style is None and release_id_ref(first) is not None and style_name(rest):
        return CiteRequest(style_name(rest), first)
    request = CiteRequest(style, first_words(rest if style else words))
    parse_reference(request.ref)  # refuse a malformed reference now, with the reason
    number, _, other = request.ref.partition(" ")
    if release_id_ref(number) is not None and other and " " not in other:
        # `/cite 1 harvard`: an id and a style we lack (or a stray word). Searching "1 harvard"
        # would cite whichever release mentions either word, so say what went wrong.
        if other.lower() == STUDY_WORD:
            raise CommandArgumentError(
                f"Put “study” first: /cite study {echo(number, 20)} cites the study behind"
                f" release {echo(number, 20)}."
            )
        what = "a second style" if style_name(other) else "not a citation style"
        raise CommandArgumentError(
            f"“{echo(other)}” after the id is {what}: give the id on its own or after one"
            f" style, for example {command} mla {echo(number, 20)}."
            f" Styles: {', '.join(STYLES)}."
        )
    return request


def parse_reference(ref: str) -> Reference:
    """A typed release reference: "" is the newest release; `42` or `#42` (any number) an
    id and nothing else; `#42` followed by more words is refused rather than searched;
    anything else is a URL, key or words, looked up by the store."""
    text = clean(ref)
    release_id = release_id_ref(text)
    if release_id is not None:
        return Reference(text, release_id)
    if _HASH_ID_FIRST.match(text):
        raise CommandArgumentError(
            f"“{echo(text)}” is a release id with more after it: give the id alone,"
            " for example #42, or words to search for without the #."
        )
    return Reference(text)


def parse_latest(args: str, feeds: Sequence[str]) -> LatestRequest:
    """`[n] [feed]` in either order; `feeds` are the names the chat may ask for."""
    check_length(args)
    count: int | None = None
    feed: str | None = None
    for word in clean(args).split():
        if re.fullmatch(r"[+-]?\d{1,9}", word) and count is None:
            count = int(word)
        elif feed is None and not re.fullmatch(r"[+-]?\d+", word):
            feed = _feed_named(word, feeds)
        else:
            example = f" or /latest 3 {feeds[0]}" if feeds else ""
            raise CommandArgumentError(f"Use /latest [n] [feed], for example /latest 10{example}.")
    if count is not None and count < 1:
        raise CommandArgumentError(f"Ask for 1 to {MAX_LATEST} releases, for example /latest 10.")
    wanted = DEFAULT_LATEST if count is None else count
    return LatestRequest(min(wanted, MAX_LATEST), feed, wanted > MAX_LATEST)


def _feed_named(word: str, feeds: Sequence[str]) -> str:
    for name in feeds:
        if name.lower() == word.lower():
            return name
    known = ", ".join(feeds[:20]) if feeds else "none"
    raise CommandArgumentError(f"No feed called “{echo(word)}” here. Feeds here: {known}.")


def parse_search(args: str) -> str:
    """The words to look for; refuses empty and over-long input."""
    check_length(args)
    words = clean(args)
    if not words:
        raise CommandArgumentError("Tell me what to look for, for example /search vaccine.")
    return first_words(words)


@dataclass(frozen=True)
class SearchTerm:
    """One part of a search: a quoted phrase (its words in order) or a single word."""

    text: str
    phrase: bool


def search_terms(query: str) -> tuple[SearchTerm, ...]:
    """The phrases and words of a search, in order. Text in quotes is a phrase; a quote
    left open runs to the end; an empty pair of quotes is nothing. Control characters are
    spaces (a NUL would end FTS5's string early)."""
    terms = []
    for match in _SEARCH_TERM.finditer(clean(query)):
        phrase, word = match.group(1), match.group(2)
        if word is not None:
            terms.append(SearchTerm(word, phrase=False))
        elif phrase.strip():
            terms.append(SearchTerm(" ".join(phrase.split()), phrase=True))
    return tuple(terms)


def first_words(text: str, limit: int = MAX_QUERY_WORDS) -> str:
    """The first `limit` space-separated words of a cleaned text (a URL is one word)."""
    return " ".join(text.split(" ")[:limit])


def release_id_ref(ref: str) -> int | None:
    """`42` or `#42` as a release id; None for any other reference. A number too long
    for a rowid is NO_SUCH_ID."""
    match = _RELEASE_ID.fullmatch(ref.strip())
    if match is None:
        return None
    digits = match.group(1)
    return min(int(digits), NO_SUCH_ID) if len(digits) <= len(str(NO_SUCH_ID)) else NO_SUCH_ID


def start_payload_release(args: str) -> int | None:
    """The release id in a `/start cite_<id>` deep link, or None."""
    payload = args.strip()
    if not payload.startswith(CITE_PAYLOAD):
        return None
    return release_id_ref(payload.removeprefix(CITE_PAYLOAD))


def start_payload_study(args: str) -> int | None:
    """The release id in a `/start study_<id>` deep link (the post's "Cite the study"
    button), or None."""
    payload = args.strip()
    if not payload.startswith(STUDY_PAYLOAD):
        return None
    return release_id_ref(payload.removeprefix(STUDY_PAYLOAD))


def search_doi(words: str) -> str | None:
    """The DOI a search is for, when the whole search is one: `10.1523/…`, `doi:10.1523/…`
    (any case), a pasted `https://doi.org/…` or `dx.doi.org` link (percent-escapes read);
    trailing punctuation dropped. None for any other search."""
    text = clean(words).strip().lstrip("([<“‘\"'«")
    text = _DOI_SPACE.sub("doi:", text)  # "doi: 10.1523/…", as press releases write it
    if not text or " " in text:
        return None
    if text.lower().startswith(("https://", "http://")):
        text = unquote(text)
    doi = bare_doi(text)
    while doi and doi[-1] in _DOI_TRAILING:
        doi = doi[:-1]
    if doi.endswith(")") and doi.count("(") < doi.count(")"):  # "(doi:10.1/x)" pasted whole
        doi = doi[:-1]
    return doi if re.fullmatch(r"10\.\d{4,9}/\S+", doi) else None


def cite_callback_data(release_id: int, style: str) -> str:
    """The data of a style button: `cite:<id>:<style>` (at most 43 bytes)."""
    return f"cite:{release_id}:{style}"


def parse_cite_callback(data: str) -> tuple[int, str] | None:
    """(release id, style) from a style button's data; None when it is not one of ours."""
    match = _CALLBACK.fullmatch(data)
    if match is None or match.group(2) not in STYLES:
        return None
    return int(match.group(1)), match.group(2)


def study_callback_data(release_id: int, style: str) -> str:
    """The data of a study's style button: `cite:study:<id>:<style>` (at most 49 bytes)."""
    return f"cite:study:{release_id}:{style}"


def parse_study_callback(data: str) -> tuple[int, str] | None:
    """(release id, style) from a study's style button; None when it is not one."""
    match = _STUDY_CALLBACK.fullmatch(data)
    if match is None or match.group(2) not in STYLES:
        return None
    return int(match.group(1)), match.group(2)


def echo(text: str, limit: int = MAX_ECHO) -> str:
    """The reader's own words, cleaned and cut short, for repeating in a reply (plain text)."""
    return shorten(clean(text), limit)
