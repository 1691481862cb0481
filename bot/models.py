"""Frozen dataclasses that cross layers: what a feed yields, what the store keeps, what is sent.

A publication date is either a timezone-aware `datetime` carrying the publisher's own
UTC offset, or a plain `date` when the feed gave only a calendar date. `datetime` is a
subclass of `date`, so test for `datetime` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

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
    needs_edit: bool  # the release changed, as a reader would notice, since it was shown
    # Below, what the edit budget and the "would a reader notice" check need (sent posts).
    changes: int = 0  # noticeable changes recorded since the last edit (needs_edit: > 0)
    sent_at: datetime | None = None
    shown: str | None = None  # fingerprint of the post as the chat shows it (None: unknown)
    sent_chat: int | str | None = None  # the chat it was sent to (None: the channel's)
    edit_window: datetime | None = None  # when the current day of edits began
    edits_in_window: int = 0


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
class RouteSpec:
    """A configured (feed, channel) pair and how many old releases a new route posts."""

    feed: str
    channel: str
    backlog: int


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
