"""Frozen dataclasses that cross layers: what a feed yields, what the store keeps, what is sent.

A publication date is either a timezone-aware `datetime` carrying the publisher's own
UTC offset, or a plain `date` when the feed gave only a calendar date. `datetime` is a
subclass of `date`, so test for `datetime` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")

PubDate = date  # a `date`, or an aware `datetime` (a subclass) in the publisher's offset


@dataclass(frozen=True, slots=True)
class Release:
    """One press release as normalised from a feed entry (no store identity yet)."""

    feed: str  # the configured feed name
    key: str  # stable key: guid/id, else canonical link, else hash of title and date
    title: str
    link: str  # the entry's original link ("" when it has none)
    url: str  # canonical URL: absolute, no fragment, no tracking parameters ("" when none)
    published: PubDate | None
    updated: PubDate | None
    author: str  # the entry author's name, never an e-mail address ("" when none)
    feed_author: str  # the feed's author or dc:publisher ("" when none)
    feed_title: str
    summary: str  # plain text; paragraphs separated by a blank line
    language: str  # e.g. "en", "" when unknown
    # Fields the feed overfilled: text cut to size (ending in "…"), a URL or language tag
    # dropped, a key hashed (see bot/feeds/normalise.py LIMITS). Known when the feed is
    # read (`preview --json`, the poll's log line); not stored: the stored text shows it.
    truncated: tuple[str, ...] = ()
    # The entry's categories (RSS <category>, Atom category label or term, dc:subject) as
    # plain text, each once, in document order. Route filters match on them; posts and
    # citations do not show them.
    categories: tuple[str, ...] = ()
    # Identifiers of the studies the release announces (DOI, PubMed, PMC), found in the
    # entry's own HTML (bot/feeds/studies.py), best first; stored in `release_studies`.
    studies: tuple[StudyRef, ...] = ()


StudyKind = Literal["doi", "pmid", "pmcid"]
StudySource = Literal["feed", "page"]  # the entry's own content, or the release's web page


@dataclass(frozen=True, slots=True)
class StudyRef:
    """One identifier of a study a release points to: a DOI ("10.1523/JNEUROSCI.4977-13.2014",
    as written), a PubMed id ("24695721") or a PubMed Central id ("PMC3972727")."""

    kind: StudyKind
    value: str
    source: StudySource = "feed"

    @property
    def key(self) -> str:
        """The identifier as the store keys it: "doi:" + the DOI lowercased (DOIs are
        case-insensitive), "pmid:24695721", "pmcid:PMC3972727"."""
        value = self.value.lower() if self.kind == "doi" else self.value.upper()
        return f"{self.kind}:{value}"


@dataclass(frozen=True, slots=True)
class StudyAuthor:
    """One author of a study: family and given names, or a group's name as `literal`."""

    family: str = ""
    given: str = ""
    literal: str = ""  # a group or consortium, cited as written


@dataclass(frozen=True, slots=True)
class Study:
    """The study behind a release, normalised from CSL-JSON (Crossref via the DOI resolver)
    and PubMed (bot/feeds/study_meta.py). Text fields are plain text on one line ("" when
    unknown); `issued` holds CSL's date-parts: (year,), (year, month) or (year, month, day),
    () when undated."""

    doi: str  # as registered, e.g. "10.1523/JNEUROSCI.4977-13.2014" ("" when none)
    pmid: str = ""
    pmcid: str = ""
    kind: str = "article-journal"  # CSL type (Crossref's journal-article mapped to it)
    title: str = ""  # as the source gives it, tags stripped (Crossref: often title case)
    pubmed_title: str = ""  # PubMed's title (sentence case, as APA wants), "" when unknown
    authors: tuple[StudyAuthor, ...] = ()
    journal: str = ""  # container-title
    journal_short: str = ""  # container-title-short
    volume: str = ""
    issue: str = ""
    pages: str = ""  # as CSL writes it, e.g. "5038-5043"
    issued: tuple[int, ...] = ()
    url: str = ""  # the DOI's https://doi.org/ URL, else the article's

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed document: its title, link and releases in document order."""

    title: str
    link: str
    releases: tuple[Release, ...]
    bozo: str  # feedparser's complaint about ill-formed input, "" when clean
    skipped: int = 0  # older releases left out beyond the max_items asked for


@dataclass(frozen=True, slots=True)
class Publisher:
    """What the config says about a feed's issuing organisation, for citations and posts."""

    name: str  # full name, the citation author ("" when not configured)
    short_name: str  # display only, never the reference author ("" when not configured)


@dataclass(frozen=True, slots=True)
class StoredRelease:
    """A release as the store holds it: its short id and when it was first seen."""

    id: int
    release: Release
    first_seen: datetime
    cite_key: str = ""  # unique citation key, given when stored ("" until then: see m012)
    # The first of its studies whose metadata is known (bot/store/studies.py), else None.
    study: Study | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one conditional GET produced."""

    status: Literal["ok", "not_modified"]
    url: str  # the URL finally answered (after redirects)
    permanent_url: str | None  # set when a 301/308 chain moved the feed for good
    body: bytes  # empty when not modified
    content_type: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class FeedState:
    """The fetch state kept per feed."""

    name: str
    url: str  # current URL (a permanent redirect updates it)
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_success: datetime | None
    last_error: str | None
    failures: int
    next_poll: datetime | None
    error_permanent: bool = False  # the last error needs someone to act (bot.errors.FeedError)


DeliveryState = Literal["pending", "sending", "sent", "failed", "dry_run"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row: a release owed to a channel."""

    id: int
    release_id: int
    channel: str  # configured channel name
    state: DeliveryState
    message_id: int | None
    error: str | None
    attempts: int
    # Below, what the edit budget and the "would a reader notice" check need (sent posts).
    changes: int = 0  # noticeable changes recorded since the last edit (> 0: owes an edit)
    sent_at: datetime | None = None
    shown: str | None = None  # fingerprint of the post as the chat shows it (None: unknown)
    sent_chat: int | str | None = None  # the chat it was sent to (None: the channel's)
    edit_window: datetime | None = None  # when the current day of edits began
    edits_in_window: int = 0


@dataclass(frozen=True, slots=True)
class OwedPost:
    """A delivery to make (a post to send, or to edit) with the release it shows, read
    together; `stored` is None when the release is gone."""

    delivery: Delivery
    stored: StoredRelease | None


@dataclass(frozen=True, slots=True)
class EditBudget:
    """A sent post's edits in its current day, and when the next one may be made."""

    window: datetime  # when this day of edits began
    used: int  # edits Telegram answered in it
    next_edit: datetime | None  # None: now; else the day's budget is spent until then


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What storing one poll's releases did."""

    new: int  # releases never seen before
    updated: int  # known releases whose title or summary changed
    queued: int  # deliveries written to the outbox
    flooded: int  # new releases stored as seen without deliveries (flood guard)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """A feed as the config file declares it, to be stored (bot/store/feeds.py sync_feeds)."""

    name: str
    url: str  # or a local file path, resolved
    publisher: str = ""
    short_name: str = ""
    timezone: str | None = None
    interval: float | None = None  # None: the default applies
    language: str = ""
    fetch_page: bool = False  # also read each release's web page for its study


@dataclass(frozen=True, slots=True)
class ChatSpec:
    """A channel (chat, or one forum topic of it) as the config declares it; None: default."""

    name: str
    chat: str
    thread_id: int | None = None
    citation_style: str | None = None
    summary_length: int | None = None
    link_preview: bool | None = None
    silent: bool | None = None
    backlog: int | None = None


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A configured (feed, channel) pair and how many old releases a new route posts."""

    feed: str
    channel: str
    backlog: int
    overrides: RouteOverrides = field(default_factory=lambda: RouteOverrides())
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A configured channel as the store knows it: its chat and whether it is paused."""

    name: str
    chat: str
    chat_id: int | None
    paused: bool
    pause_error: str | None


@dataclass(frozen=True, slots=True)
class ChatInfo:
    """What `getChat` and `getChatMember` say about a configured chat."""

    chat_id: int
    kind: str  # channel, supergroup, group, private
    title: str
    status: str  # the bot's getChatMember status: administrator, member, left, kicked...
    problem: str  # why the bot cannot post, "" when it can

    @property
    def can_post(self) -> bool:
        return not self.problem


# The routing view: which feeds, chats and routes exist, with their options (built by
# bot.services.routing from the store after each sync; see its docstring).

Origin = Literal["config", "chat"]  # provisioned by the config file, or made in a chat (admin.md)
ORIGINS: tuple[Origin, ...] = ("config", "chat")

NO_PUBLISHER = Publisher(name="", short_name="")


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed to poll, and whose releases say who issued them."""

    name: str  # its label; the store keys releases and routes on it
    source: str  # the URL (or local file path) as synced; redirects live in its FeedState
    publisher: Publisher
    timezone: str | None  # for dates the feed gives without an offset
    interval: float  # seconds between polls, the default applied
    origin: Origin = "config"
    language: str = ""  # the configured language tag, before the feed's own ("" when none)
    paused: bool = False  # an owner paused the whole feed: it is not polled
    fetch_page: bool = False  # each release's web page is read for its study (issue 14)

    @property
    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How a chat's posts look, the defaults applied."""

    citation_style: str  # a style name, or "none"
    summary_length: int
    link_preview: bool
    silent: bool = False  # posts arrive without a notification sound (disable_notification)


@dataclass(frozen=True, slots=True)
class RouteOverrides:
    """A route's own settings, each None where the chat's (then the defaults') apply."""

    citation_style: str | None = None
    summary_length: int | None = None
    link_preview: bool | None = None
    silent: bool | None = None

    def applied_to(self, options: ChatOptions) -> ChatOptions:
        return ChatOptions(
            citation_style=_first(self.citation_style, options.citation_style),
            summary_length=_first(self.summary_length, options.summary_length),
            link_preview=_first(self.link_preview, options.link_preview),
            silent=_first(self.silent, options.silent),
        )


def _first(value: T | None, fallback: T) -> T:
    return fallback if value is None else value


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat the bot posts in: its label and the reference it was given by."""

    name: str  # its label; deliveries and routes refer to it
    chat: str  # as configured: "@username" or a numeric id (its resolved id is store state)
    options: ChatOptions
    origin: Origin = "config"
    thread_id: int | None = None  # a forum topic: posts go there (None: the chat itself)

    @property
    def username(self) -> str | None:
        """The chat's @username when it is known by one, else None."""
        return self.chat if self.chat.startswith("@") else None


@dataclass(frozen=True, slots=True)
class Route:
    """Releases of `feed` are posted to `chat`; a new route posts the newest `backlog`.

    `include`/`exclude` are keyword filters (bot/feeds/filters.py): a release that fails
    them is stored but owed nothing here. A paused route's posts wait in the outbox."""

    feed: str
    chat: str
    backlog: int
    origin: Origin = "config"
    overrides: RouteOverrides = RouteOverrides()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    paused: bool = False


@dataclass(frozen=True, slots=True)
class RoutingView:
    """Every feed, chat and route there is, as one snapshot: what poller, dispatcher,
    commands and status read instead of the config file or the store's tables."""

    feeds: tuple[Feed, ...] = ()  # in the order the config lists them
    chats: tuple[Chat, ...] = ()
    routes: tuple[Route, ...] = ()  # by chat, then feed, in that order
    _feeds: dict[str, Feed] = field(default_factory=dict, init=False, repr=False, compare=False)
    _chats: dict[str, Chat] = field(default_factory=dict, init=False, repr=False, compare=False)
    _routes: dict[tuple[str, str], Route] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Indexes: a delivery or command looks a feed up among thousands.
        self._feeds.update((feed.name, feed) for feed in self.feeds)
        self._chats.update((chat.name, chat) for chat in self.chats)
        self._routes.update(((route.feed, route.chat), route) for route in self.routes)

    @property
    def feed_names(self) -> tuple[str, ...]:
        return tuple(feed.name for feed in self.feeds)

    @property
    def chat_names(self) -> tuple[str, ...]:
        return tuple(chat.name for chat in self.chats)

    def feed(self, name: str) -> Feed | None:
        return self._feeds.get(name)

    def chat(self, name: str) -> Chat | None:
        return self._chats.get(name)

    def publisher(self, feed: str) -> Publisher:
        """Who issued `feed`'s releases; nobody known for a feed no longer there."""
        found = self._feeds.get(feed)
        return found.publisher if found is not None else NO_PUBLISHER

    def feeds_of(self, chat: str) -> tuple[str, ...]:
        """The feeds routed to `chat`."""
        return tuple(route.feed for route in self.routes if route.chat == chat)

    def route(self, feed: str, chat: str) -> Route | None:
        return self._routes.get((feed, chat))

    def options(self, feed: str, chat: str) -> ChatOptions | None:
        """How `feed`'s posts look in `chat`: the route's settings over the chat's."""
        found_chat = self._chats.get(chat)
        if found_chat is None:
            return None
        route = self._routes.get((feed, chat))
        if route is None:
            return found_chat.options
        return route.overrides.applied_to(found_chat.options)

    def routes_of(self, chat: str) -> tuple[Route, ...]:
        return tuple(route for route in self.routes if route.chat == chat)

    def chats_of(self, feed: str) -> tuple[Chat, ...]:
        """The chats `feed` is routed to, in the order the view lists chats."""
        return tuple(self._chats[route.chat] for route in self.routes if route.feed == feed)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change to feeds, chats or routes, by whom (admin.md): written in the change's
    own transaction, so there is no change without its entry."""

    at: datetime
    user_id: int | None  # None: the config file, or the CLI
    user_name: str
    chat: str  # the chat (channel name) managed, "" for a bot-wide change
    action: str  # add, remove, set, filter, pause, resume, retry, import, reload...
    target: str  # the feed or route changed, e.g. "nida -> science"
    before: str  # "" when it did not exist
    after: str  # "" when it no longer exists
