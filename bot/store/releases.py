"""Release rows: ingest one poll, each release with the outbox rows it owes; read them back."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any, NamedTuple

from bot.errors import StoreError
from bot.feeds.filters import RouteFilter, passes
from bot.feeds.order import sort_key
from bot.feeds.urls import canonical_url, other_scheme
from bot.models import IngestResult, Release, StoredRelease
from bot.render.changes import noticeable_change
from bot.render.cite_data import key_with_suffix
from bot.render.command_args import NO_SUCH_ID, release_id_ref, search_terms
from bot.store.base import StoreBase
from bot.store.codec import (
    categories_to_text,
    content_hash,
    date_to_text,
    instant_text,
    release_row,
    row_to_stored,
    text_to_categories,
)
from bot.store.studies import attach_studies, write_release_studies

_NEWEST_FIRST = "ORDER BY releases.sort_at DESC, releases.id DESC"
_MAX_FEED_BRANCHES = 64  # feeds merged one index range each; more scan the date index
_SEARCH_WINDOW = 2000  # newest full-text matches looked at first
_SEARCH_CANDIDATES = 200  # of those, the newest in scope ranked by bm25
# Releases stored per transaction: about 10 ms of work, then the event loop gets a turn.
INGEST_CHUNK = 100

_Stored = tuple[int, str, str]  # a stored release's id, content_hash and categories column
_Known = tuple[dict[str, _Stored], dict[str, _Stored]]  # by key, by URL
CiteKeyOf = Callable[[Release], str]  # a release's base citation key ("nasa2018nasa")


def fts_query(text: str, *, any_word: bool = False) -> str:
    """A search's phrases and words as an FTS5 query. Each is one FTS5 string, so nothing
    the user types is FTS5 syntax (COVID-19, NIH's, AND, NEAR, title:, * are plain text),
    and a quoted phrase matches only its words in order. `any_word` ORs the terms; a phrase
    stays whole."""
    terms = [term.text.replace('"', '""') for term in search_terms(text)]
    joiner = " OR " if any_word else " "
    return joiner.join(f'"{term}"' for term in terms)


def _oldest_first(releases: list[tuple[int, Release]], now: datetime) -> list[tuple[int, Release]]:
    """Chronological order; ties keep the feed's convention that earlier means newer."""
    return sorted(releases, key=lambda item: (sort_key(item[1], now), -item[0]))


def _match(known: _Known, release: Release) -> _Stored | None:
    """The stored release this one is: same key, else same URL (guid churn)."""
    by_key, by_url = known
    match = by_key.get(release.key)
    if match is None and release.url:
        match = by_url.get(release.url)
    return match


def _added(total: IngestResult, part: IngestResult) -> IngestResult:
    return IngestResult(
        new=total.new + part.new,
        updated=total.updated + part.updated,
        queued=total.queued + part.queued,
        flooded=total.flooded + part.flooded,
    )


CITE_KEY_FLOORS = 1000  # bases whose last key index is remembered
BACKLOG_SCAN = 500  # newest releases a filtered route's backlog is chosen among


class _Owed(NamedTuple):
    """A release as queueing needs it: what the delivery keys on, what filters read."""

    id: int
    url: str
    title: str
    summary: str
    categories: tuple[str, ...]


def _route_filter(include: str, exclude: str) -> RouteFilter | None:
    """The route's keyword filter, None when it has none (everything passes)."""
    flt = RouteFilter(include=tuple(json.loads(include)), exclude=tuple(json.loads(exclude)))
    return None if flt.is_empty else flt


def _passes(wanted: RouteFilter | None, owed: _Owed) -> bool:
    if wanted is None:
        return True
    return passes(wanted, title=owed.title, summary=owed.summary, categories=owed.categories)


def _dated_since(release: Release, stored_at: str | None, now: datetime) -> bool:
    """Published after the feed's last store and not in the future. Only `published`
    counts: an archive moved to new links often carries the move's time as `updated`
    (Atom), so an update date cannot show a release is new. An undated release cannot
    show it is recent either. A bare date counts from 00:00 UTC (its earliest instant, not
    where it sorts): a release dated today is not held back this morning."""
    if stored_at is None or release.published is None:
        return False
    published = release.published
    if not isinstance(published, datetime):
        published = datetime.combine(published, time(0), UTC)
    return stored_at < instant_text(published) <= instant_text(now)


class ReleaseQueries(StoreBase):
    def ingest(
        self,
        feed: str,
        releases: Sequence[Release],
        *,
        now: datetime,
        flood_limit: int | None,
        cite_key_of: CiteKeyOf | None = None,
    ) -> IngestResult:
        """Store one poll's releases and the deliveries they are owed; see `ingest_steps`.

        The flood guard is for publisher floods (an archive re-listed under new links): when
        a feed that had releases lists more than `flood_limit` new ones, the oldest beyond
        the limit are stored as seen, without deliveries. It never holds back a release
        published since the feed was last stored (`last_success`): that one appeared while
        we could not store it (our outage, or the bot stopped), and is owed like any other.
        `flood_limit=None` turns the guard off for this poll. With `cite_key_of`, each new
        release gets its citation key as it is stored (see `assign_cite_keys`).
        """
        steps = self.ingest_steps(
            feed, releases, now=now, flood_limit=flood_limit, cite_key_of=cite_key_of
        )
        return list(steps)[-1]

    def ingest_steps(
        self,
        feed: str,
        releases: Sequence[Release],
        *,
        now: datetime,
        flood_limit: int | None,
        chunk: int = INGEST_CHUNK,
        cite_key_of: CiteKeyOf | None = None,
    ) -> Iterator[IngestResult]:
        """Ingest in transactions of at most `chunk` releases, oldest first; after each,
        yield the counts so far (the last is the whole result). Between two steps the
        caller may do other work: the event loop answers commands while a flood is stored.

        Each release is stored in one transaction with every delivery it is owed, so a
        crash between steps loses nothing: the rest are new again at the next poll. Which
        releases the flood guard holds is decided once, over all of them, before the first
        step. A new route's backlog is queued in the last step, when the newest are stored.
        """
        try:
            ordered, held = self._plan_ingest(feed, releases, now, flood_limit)
            total = IngestResult(new=0, updated=0, queued=0, flooded=0)
            for start in range(0, max(len(ordered), 1), chunk):
                last = start + chunk >= len(ordered)
                batch = ordered[start : start + chunk]
                part = self._ingest_chunk(feed, batch, held, now, last, cite_key_of)
                total = _added(total, part)
                yield total
        except sqlite3.Error as exc:
            raise StoreError(f"storing the releases of {feed!r} failed: {exc}") from exc

    def _plan_ingest(
        self, feed: str, releases: Sequence[Release], now: datetime, flood_limit: int | None
    ) -> tuple[list[Release], set[str]]:
        """The releases with distinct keys, oldest first, and the keys the flood guard holds."""
        first_of_key: dict[str, tuple[int, Release]] = {}
        for index, release in enumerate(releases):
            first_of_key.setdefault(release.key, (index, release))
        ordered = [release for _, release in _oldest_first(list(first_of_key.values()), now)]
        if flood_limit is None or not self._has_releases(feed):
            return ordered, set()
        known = self._known_releases(feed, ordered)
        new = [release for release in ordered if _match(known, release) is None]
        return ordered, {new[index].key for index in self._flood_held(feed, new, flood_limit, now)}

    def _ingest_chunk(
        self,
        feed: str,
        releases: list[Release],
        held: set[str],
        now: datetime,
        last: bool,
        cite_key_of: CiteKeyOf | None = None,
    ) -> IngestResult:
        """One transaction: store `releases` (oldest first), queue what they are owed."""
        with self.writing():
            known = self._known_releases(feed, releases)
            new: list[Release] = []
            updated = 0
            for release in releases:
                match = _match(known, release)
                if match is None:
                    new.append(release)
                elif match[1] != content_hash(release):
                    self._record_change(match[0], release, now)
                    updated += 1
                elif match[2] != categories_to_text(release.categories):
                    # Not shown in a post: kept for route filters, no change to edit in.
                    self.db.execute(
                        "UPDATE releases SET categories = ? WHERE id = ?",
                        [categories_to_text(release.categories), match[0]],
                    )
            inserted = [
                (self._insert_release(release, now, cite_key_of), release.key) for release in new
            ]
            for ((release_id, _), _), release in zip(inserted, new, strict=True):
                if release.studies:
                    write_release_studies(self.db, release_id, release.studies)
            owed = [
                _Owed(*row, release.title, release.summary, release.categories)
                for (row, key), release in zip(inserted, new, strict=True)
                if key not in held
            ]
            queued = self._queue_for_routes(feed, owed, backlog=last)
        flooded = len(inserted) - len(owed)
        return IngestResult(new=len(new), updated=updated, queued=queued, flooded=flooded)

    def _flood_held(self, feed: str, new: list[Release], limit: int, now: datetime) -> set[int]:
        """Positions in `new` (oldest first) the flood guard stores without deliveries."""
        if len(new) <= limit:
            return set()
        row = self.db.execute("SELECT last_success FROM feeds WHERE name = ?", [feed]).fetchone()
        stored_at = row[0] if row else None
        guarded = [
            index for index, release in enumerate(new) if not _dated_since(release, stored_at, now)
        ]
        return set(guarded[: len(new) - limit])

    def _has_releases(self, feed: str) -> bool:
        row = self.db.execute("SELECT 1 FROM releases WHERE feed = ? LIMIT 1", [feed]).fetchone()
        return row is not None

    def _known_releases(self, feed: str, releases: Sequence[Release]) -> _Known:
        """The stored releases of `feed` with one of these keys or URLs: (id, content_hash,
        categories) by key and by URL. Index lookups: the cost follows the batch, not the
        feed's past."""
        by_key: dict[str, _Stored] = {}
        by_url: dict[str, _Stored] = {}
        keys = json.dumps([release.key for release in releases])
        for release_id, key, digest, categories in self.db.execute(
            "SELECT id, key, content_hash, categories FROM releases"
            " WHERE feed = ? AND key IN (SELECT value FROM json_each(?))",
            [feed, keys],
        ):
            by_key[key] = (release_id, digest, categories)
        urls = json.dumps([release.url for release in releases if release.url])
        for release_id, url, digest, categories in self.db.execute(
            "SELECT id, url, content_hash, categories FROM releases"
            " WHERE feed = ? AND url IN (SELECT value FROM json_each(?)) ORDER BY id",
            [feed, urls],
        ):
            by_url.setdefault(url, (release_id, digest, categories))
        return by_key, by_url

    def _insert_release(
        self, release: Release, now: datetime, cite_key_of: CiteKeyOf | None = None
    ) -> tuple[int, str]:
        row = release_row(release, first_seen=now)
        if cite_key_of is not None:
            row["cite_key"] = self._free_cite_key(cite_key_of(release))
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO releases ({columns}) VALUES ({marks})"  # noqa: S608
        cursor = self.db.execute(sql, list(row.values()))
        return int(cursor.lastrowid or 0), release.url

    def assign_cite_keys(self, cite_key_of: CiteKeyOf) -> int:
        """Give every release still without a citation key its key, in the order they were
        stored (id order): the base from `cite_key_of`, or the first free of base + "a",
        "b", ... "z", "aa" ... A key once given never changes, so a release keeps its key
        when a later one with the same base arrives. Returns how many were given."""
        try:
            unkeyed = "SELECT 1 FROM releases WHERE cite_key IS NULL LIMIT 1"
            if self.db.execute(unkeyed).fetchone() is None:
                return 0  # the usual case: no write transaction, no wait for the lock
            with self.writing():
                rows = list(
                    self.db.query("SELECT * FROM releases WHERE cite_key IS NULL ORDER BY id")
                )
                for row in rows:
                    key = self._free_cite_key(cite_key_of(row_to_stored(row).release))
                    update = "UPDATE releases SET cite_key = ? WHERE id = ?"
                    self.db.execute(update, [key, row["id"]])
        except sqlite3.Error as exc:
            raise StoreError(f"giving releases their citation keys failed: {exc}") from exc
        return len(rows)

    def _free_cite_key(self, base: str) -> str:
        """The first of base, base + "a", base + "b" ... that no release has."""
        # Keys are never given back, so every index below the one last given for a base
        # stays taken: start from there (one lookup each) instead of reading every key of
        # the base again, which made 10,000 releases of one base cost 10,000^2 steps.
        floors = self._cite_key_floors
        index = floors.pop(base, None)
        if index is None:
            index = self._first_free_index(base)
        while self._cite_key_taken(key_with_suffix(base, index)):
            index += 1
        floors[base] = index
        if len(floors) > CITE_KEY_FLOORS:
            del floors[next(iter(floors))]  # the base used longest ago
        return key_with_suffix(base, index)

    @functools.cached_property
    def _cite_key_floors(self) -> dict[str, int]:
        """Per base (the most recently used ones), the index of the key last given."""
        return {}

    def _first_free_index(self, base: str) -> int:
        # Keys are lowercase ASCII letters and digits: every key starting with `base` sorts
        # between `base` and `base` + "{" (the character after "z"), one index range.
        taken = {
            key
            for (key,) in self.db.execute(
                "SELECT cite_key FROM releases WHERE cite_key >= ? AND cite_key < ?",
                [base, base + "{"],
            )
        }
        index = 0
        while key_with_suffix(base, index) in taken:
            index += 1
        return index

    def _cite_key_taken(self, key: str) -> bool:
        row = self.db.execute("SELECT 1 FROM releases WHERE cite_key = ?", [key]).fetchone()
        return row is not None

    def _record_change(self, release_id: int, release: Release, now: datetime) -> None:
        """Store the release's new content; its sent posts are owed an edit only when a
        reader would notice the change (needs_edit counts such changes until the edit)."""
        old = self.db.execute(
            "SELECT title, summary, url FROM releases WHERE id = ?", [release_id]
        ).fetchone()
        before = replace(release, title=old[0], summary=old[1], url=old[2]) if old else None
        self.db.execute(
            "UPDATE releases SET title = ?, summary = ?, link = ?, url = ?, updated = ?,"
            " categories = ?, content_hash = ?, changed_at = ? WHERE id = ?",
            [
                release.title,
                release.summary,
                release.link,
                release.url,
                date_to_text(release.updated),
                categories_to_text(release.categories),
                content_hash(release),
                instant_text(now),
                release_id,
            ],
        )
        write_release_studies(self.db, release_id, release.studies)
        if before is None or noticeable_change(before, release):
            self.db.execute(
                "UPDATE deliveries SET needs_edit = needs_edit + 1"
                " WHERE release_id = ? AND state IN ('sent', 'sending', 'pending')",
                [release_id],
            )

    def _queue_for_routes(self, feed: str, releases: list[_Owed], *, backlog: bool = True) -> int:
        """Queue `releases` for each route of `feed` whose keyword filter they pass; a route
        still owed its backlog gets that instead, when `backlog` (the newest releases are
        stored by then)."""
        queued = 0
        routes = self.db.execute(
            "SELECT channel, backlog, backlog_done, include, exclude FROM routes WHERE feed = ?",
            [feed],
        ).fetchall()
        for channel, count, backlog_done, include, exclude in routes:
            wanted = _route_filter(include, exclude)
            if backlog_done:
                queued += self._queue(channel, [r for r in releases if _passes(wanted, r)])
            elif backlog:
                queued += self._apply_backlog(feed, channel, count, wanted)
        return queued

    def _apply_backlog(
        self, feed: str, channel: str, backlog: int, wanted: RouteFilter | None = None
    ) -> int:
        """A new route is owed the feed's newest `backlog` releases that pass its filter,
        once the feed has any."""
        limit = max(backlog, 1) if wanted is None else BACKLOG_SCAN
        rows = self.db.execute(
            "SELECT id, url, title, summary, categories FROM releases"  # noqa: S608
            f" WHERE feed = ? {_NEWEST_FIRST} LIMIT ?",
            [feed, limit],
        ).fetchall()
        if not rows:
            return 0
        self.db.execute(
            "UPDATE routes SET backlog_done = 1 WHERE feed = ? AND channel = ?", [feed, channel]
        )
        newest = [
            owed
            for owed in (
                _Owed(row[0], row[1], row[2], row[3], text_to_categories(row[4])) for row in rows
            )
            if _passes(wanted, owed)
        ][:backlog]
        return self._queue(channel, list(reversed(newest)))

    def _queue(self, channel: str, releases: list[_Owed]) -> int:
        """Owe each release to `channel`, once: a post cancelled with a removed route is
        owed again when a route to the chat asks for it (a re-added route's backlog)."""
        queued = 0
        for owed in releases:
            cursor = self.db.execute(
                "INSERT INTO deliveries (release_id, channel, dedupe, created_at)"
                " VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
                " ON CONFLICT (channel, dedupe) DO UPDATE SET state = 'pending', error = NULL,"
                " attempts = 0, not_before = NULL WHERE deliveries.state = 'cancelled'",
                [owed.id, channel, owed.url or f"release:{owed.id}"],
            )
            queued += cursor.rowcount
        return queued

    # Reading

    def release(self, release_id: int) -> StoredRelease | None:
        if not 0 < release_id < NO_SUCH_ID:  # beyond SQLite's integers: no such rowid
            return None
        rows = list(self.db.query("SELECT * FROM releases WHERE id = ?", [release_id]))
        return attach_studies(self.db, [row_to_stored(rows[0])])[0] if rows else None

    def latest(self, limit: int, feeds: Sequence[str] | None = None) -> list[StoredRelease]:
        """Newest first by publication date (an undated release counts from when it was seen)."""
        if feeds is not None and 0 < len(feeds) <= _MAX_FEED_BRANCHES:
            # One index range per feed, then merge: `feed IN (...)` would sort every release
            # of those feeds, and scanning the date index stalls on a small, old feed.
            branch = (
                "SELECT * FROM (SELECT * FROM releases WHERE feed = ?"  # noqa: S608
                f" {_NEWEST_FIRST} LIMIT ?)"
            )
            union = " UNION ALL ".join(branch for _ in feeds)
            sql = f"SELECT * FROM ({union}) AS releases {_NEWEST_FIRST} LIMIT ?"  # noqa: S608
            params: list[Any] = [value for feed in feeds for value in (feed, limit)]
        else:
            where, params = _feed_filter(feeds)
            # `+feed`: walk the date index and filter, rather than sort every release.
            where = where.replace("releases.feed", "+releases.feed")
            sql = f"SELECT * FROM releases {where} {_NEWEST_FIRST} LIMIT ?"  # noqa: S608
        found = [row_to_stored(row) for row in self.db.query(sql, [*params, limit])]
        return attach_studies(self.db, found)

    def search(
        self, text: str, limit: int = 5, feeds: Sequence[str] | None = None
    ) -> list[StoredRelease]:
        """Best full-text matches for all the words; if none, for any of them."""
        for any_word in (False, True):
            query = fts_query(text, any_word=any_word)
            if not query:
                return []
            found = self._match(query, limit, feeds)
            if found:
                return found
        return []

    def _match(self, query: str, limit: int, feeds: Sequence[str] | None) -> list[StoredRelease]:
        # Ranking every match of a common word with bm25 takes ~100 ms at 100,000 releases.
        # So rank only within the newest _SEARCH_WINDOW matches (FTS5 walks rowids backwards
        # cheaply), at most _SEARCH_CANDIDATES of them in scope: exact ranking when a query
        # matches fewer, recent-first beyond. Too few in scope there: look at every match.
        floor = self._window_floor(query)
        found = self._ranked(query, limit, feeds, floor)
        if floor and len(found) < limit:
            found = self._ranked(query, limit, feeds, 0)
        return found

    def _window_floor(self, query: str) -> int:
        """The rowid of the _SEARCH_WINDOW-th newest match; 0 when there are fewer."""
        row = self.db.execute(
            "SELECT rowid FROM releases_fts WHERE releases_fts MATCH ?"
            " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            [query, _SEARCH_WINDOW - 1],
        ).fetchone()
        return int(row[0]) if row else 0

    def _ranked(
        self, query: str, limit: int, feeds: Sequence[str] | None, floor: int
    ) -> list[StoredRelease]:
        where, params = _feed_filter(feeds, prefix="AND")
        # FTS5 seeks rowid ranges cheaply: a chat whose feeds hold few releases among many
        # only walks the matches between its first and last release.
        low, high = self._id_range(feeds)
        sql = (
            "SELECT releases.* FROM (SELECT releases_fts.rowid AS id,"  # noqa: S608
            " bm25(releases_fts) AS score FROM releases_fts"
            " JOIN releases ON releases.id = releases_fts.rowid"
            " WHERE releases_fts MATCH ? AND releases_fts.rowid BETWEEN ? AND ?"
            f" {where} ORDER BY releases_fts.rowid DESC LIMIT ?)"
            " AS candidates JOIN releases ON releases.id = candidates.id"
            " ORDER BY candidates.score, releases.id DESC LIMIT ?"
        )
        values = [query, max(floor, low), high, *params, _SEARCH_CANDIDATES, limit]
        return attach_studies(self.db, [row_to_stored(row) for row in self.db.query(sql, values)])

    def _id_range(self, feeds: Sequence[str] | None) -> tuple[int, int]:
        """The lowest and highest release id of `feeds` (all releases when None)."""
        if feeds is None:
            return 0, 2**63 - 1
        ranges = [
            # Two subqueries: SQLite answers a lone min() or max() from the index, not both.
            self.db.execute(
                "SELECT (SELECT min(id) FROM releases WHERE feed = ?),"
                " (SELECT max(id) FROM releases WHERE feed = ?)",
                [feed, feed],
            ).fetchone()
            for feed in feeds
        ]
        found = [(low, high) for low, high in ranges if low is not None]
        if not found:
            return 1, 0  # an empty range: nothing in scope
        return min(low for low, _ in found), max(high for _, high in found)

    def find_release(self, ref: str, feeds: Sequence[str] | None = None) -> StoredRelease | None:
        """A release by id ('42' or '#42'), URL (original or canonical), the feed's key, its
        citation key ('nasa2018nasaa', any case), or best text match."""
        ref = ref.strip()
        release_id = release_id_ref(ref)
        if release_id is not None:  # a number is an id, never words to search for
            found = self.release(release_id)
            return found if found and (feeds is None or found.release.feed in feeds) else None
        # A pasted link may carry other tracking parameters than the feed's, or the other
        # scheme (http:// for a stored https://): compare canonically, under both schemes.
        canonical = canonical_url(ref) or ref
        # One indexed lookup each (an OR across columns scans the table): the URL, then the
        # key through (feed, key). An original link matches through its canonical form.
        where, params = _feed_filter(feeds, prefix="AND")
        if feeds is None:
            where, params = "AND releases.feed IN (SELECT name FROM feeds)", []
        for condition, values in (
            ("url IN (?, ?, ?)", [ref, canonical, other_scheme(canonical) or ref]),
            ("key = ?", [ref]),
            ("cite_key = ?", [ref.lower()]),
        ):
            sql = f"SELECT * FROM releases WHERE {condition} {where} {_NEWEST_FIRST} LIMIT 1"  # noqa: S608
            rows = list(self.db.query(sql, [*values, *params]))
            if rows:
                return attach_studies(self.db, [row_to_stored(rows[0])])[0]
        matches = self.search(ref, 1, feeds)
        return matches[0] if matches else None


def _feed_filter(feeds: Sequence[str] | None, prefix: str = "WHERE") -> tuple[str, list[Any]]:
    if feeds is None:
        return "", []
    marks = ", ".join("?" for _ in feeds) or "NULL"
    return f"{prefix} releases.feed IN ({marks})", list(feeds)
