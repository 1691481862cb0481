"""The studies behind releases: which identifiers each release points to (`release_studies`)
and what the DOI resolver or NCBI answered for each (`studies`, the lookup cache).

An identifier is looked up once: its `studies` row keeps the answer. A row is due while it
is `pending` (never asked, or asked and told to wait: `retry_at`), and again when a
`not_registered` or `failed` answer's `retry_at` has passed; the lookup service
(bot/services/studies.py) decides those times. A release shows the first of its
identifiers, by position, whose study was found.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from bot.errors import StoreError
from bot.models import StoredRelease, Study, StudyRef
from bot.store.base import StoreBase
from bot.store.codec import (
    instant_text,
    row_to_stored,
    study_to_text,
    text_to_instant,
    text_to_study,
)

MissState = Literal["pending", "not_registered", "failed"]

# The unary "+" keeps SQLite from the index on `state` (studies_due, deliveries_state),
# which it would otherwise prefer without statistics: a scan of every found study or every
# sent post, where the few releases in hand lead by their ids (~1000x faster at 100,000).
_FOUND_FIRST = (
    "SELECT rs.release_id, s.data FROM release_studies rs JOIN studies s ON s.ref = rs.ref"
    " WHERE rs.release_id IN (SELECT value FROM json_each(?)) AND +s.state = 'found'"
    " ORDER BY rs.release_id, rs.position"
)

# The releases that show the study of `ref` (bound as the one parameter) once it is found:
# `ref` is their first identifier whose study is found.
_SHOWING = (
    "SELECT rs.release_id FROM release_studies rs WHERE rs.ref = ?"
    " AND NOT EXISTS (SELECT 1 FROM release_studies o JOIN studies os"
    " ON os.ref = o.ref WHERE o.release_id = rs.release_id"
    " AND o.position < rs.position AND os.state = 'found')"
)


@dataclass(frozen=True, slots=True)
class StudyLookup:
    """One identifier's lookup state, as the cache keeps it."""

    ref: StudyRef
    state: str  # pending, found, not_registered, failed
    attempts: int
    error: str | None
    checked_at: datetime | None
    retry_at: datetime | None
    study: Study | None


def attach_studies(db: Database, stored: Sequence[StoredRelease]) -> list[StoredRelease]:
    """`stored` with each release's study filled in (the first of its identifiers, by
    position, whose study was found); one query for the lot."""
    if not stored:
        return []
    ids = json.dumps([item.id for item in stored])
    first: dict[int, Study] = {}
    for release_id, data in db.execute(_FOUND_FIRST, [ids]):
        if release_id not in first and (study := text_to_study(data)) is not None:
            first[release_id] = study
    return [replace(item, study=first.get(item.id)) for item in stored]


def write_release_studies(db: Database, release_id: int, refs: Sequence[StudyRef]) -> None:
    """Record what `release_id` points to: the feed's identifiers first, then those its web
    page added (kept across a change of the feed's text). Inside the caller's transaction."""
    page = [
        StudyRef(kind, value, "page")
        for kind, value in db.execute(
            "SELECT kind, value FROM release_studies WHERE release_id = ? AND source = 'page'"
            " ORDER BY position",
            [release_id],
        )
    ]
    feed = [ref for ref in refs if ref.source == "feed"]
    keys = {ref.key for ref in feed}
    ordered = feed + [ref for ref in page if ref.key not in keys]
    db.execute("DELETE FROM release_studies WHERE release_id = ?", [release_id])
    _insert_refs(db, release_id, ordered, start=0)


def _insert_refs(db: Database, release_id: int, refs: Sequence[StudyRef], *, start: int) -> None:
    for position, ref in enumerate(refs, start=start):
        db.execute(
            "INSERT INTO release_studies (release_id, position, kind, value, ref, source)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [release_id, position, ref.kind, ref.value, ref.key, ref.source],
        )
        db.execute("INSERT OR IGNORE INTO studies (ref, state) VALUES (?, 'pending')", [ref.key])


class StudyQueries(StoreBase):
    """Reads and writes of the study tables, for the lookup service and the commands."""

    def add_page_studies(self, release_id: int, refs: Sequence[StudyRef], now: datetime) -> int:
        """Append what the release's web page points to (those not known yet) and mark the
        page read; returns how many identifiers were new."""
        try:
            with self.writing():
                known = {
                    row[0]
                    for row in self.db.execute(
                        "SELECT ref FROM release_studies WHERE release_id = ?", [release_id]
                    )
                }
                new = [ref for ref in refs if ref.key not in known]
                new = list({ref.key: ref for ref in new}.values())
                row = self.db.execute(
                    "SELECT coalesce(max(position) + 1, 0) FROM release_studies"
                    " WHERE release_id = ?",
                    [release_id],
                ).fetchone()
                _insert_refs(self.db, release_id, new, start=int(row[0]))
                self.db.execute(
                    "UPDATE releases SET page_checked = ? WHERE id = ?",
                    [instant_text(now), release_id],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"storing the studies of release {release_id} failed: {exc}") from exc
        return len(new)

    def release_study_refs(self, release_id: int) -> list[StudyLookup]:
        """Every identifier the release points to, by position, with its lookup state."""
        rows = self.db.execute(
            "SELECT rs.kind, rs.value, rs.source, s.* FROM release_studies rs"
            " JOIN studies s ON s.ref = rs.ref WHERE rs.release_id = ? ORDER BY rs.position",
            [release_id],
        )
        return [_lookup(_named(rows, row)) for row in rows.fetchall()]

    def study_lookup(self, ref: StudyRef) -> StudyLookup | None:
        """The cache's row for `ref`, None when no release points to it."""
        cursor = self.db.execute("SELECT * FROM studies WHERE ref = ?", [ref.key])
        row = cursor.fetchone()
        if row is None:
            return None
        values = _named(cursor, row)
        return _lookup({**values, "kind": ref.kind, "value": ref.value, "source": ref.source})

    def study_counts(self) -> dict[str, int]:
        """Identifiers by lookup state (pending, found, not_registered, failed); for the
        metrics' gauge and `releasebot status`."""
        rows = self.db.execute("SELECT state, count(*) FROM studies GROUP BY state")
        return {state: int(count) for state, count in rows}

    def releases_pointing_to(self, ref: StudyRef, limit: int = 5) -> list[int]:
        """The ids of the releases that point to `ref`, newest first (for the log)."""
        rows = self.db.execute(
            "SELECT release_id FROM release_studies WHERE ref = ? ORDER BY release_id DESC LIMIT ?",
            [ref.key, limit],
        )
        return [int(row[0]) for row in rows]

    def due_study_lookups(self, now: datetime, limit: int) -> list[StudyRef]:
        """Identifiers to look up now, those of the newest releases first (a post just sent
        waits for its study line)."""
        at = instant_text(now)
        rows = self.db.execute(
            "SELECT rs.kind, rs.value, max(rs.release_id) AS newest FROM studies s"
            " JOIN release_studies rs ON rs.ref = s.ref"
            " WHERE (s.state = 'pending' AND (s.retry_at IS NULL OR s.retry_at <= ?))"
            " OR (s.state IN ('not_registered', 'failed') AND s.retry_at IS NOT NULL"
            " AND s.retry_at <= ?)"
            " GROUP BY s.ref ORDER BY newest DESC LIMIT ?",
            [at, at, limit],
        )
        return [StudyRef(kind, value) for kind, value, _ in rows]

    def record_study_found(
        self, ref: StudyRef, study: Study, now: datetime, *, edit_since: datetime | None
    ) -> int:
        """Keep the study found for `ref`; the posts sent since `edit_since` whose release now
        shows this study (its first found) are owed an edit. Returns how many."""
        try:
            with self.writing():
                self.db.execute(
                    "UPDATE studies SET state = 'found', data = ?, doi = ?, error = NULL,"
                    " attempts = attempts + 1, checked_at = ?, retry_at = NULL WHERE ref = ?",
                    [study_to_text(study), study.doi.lower() or None, instant_text(now), ref.key],
                )
                if edit_since is None:
                    return 0
                cursor = self.db.execute(
                    f"UPDATE deliveries SET needs_edit = needs_edit + 1"  # noqa: S608
                    f" WHERE +state = 'sent' AND sent_at >= ? AND release_id IN ({_SHOWING})",
                    [instant_text(edit_since), ref.key],
                )
                # Posts read for sending but not sent yet may have been rendered without the
                # study (the dispatcher reads a batch, then sends at the channel's pace):
                # they are owed the check too; one rendered with it is not edited (the
                # dispatcher compares what the chat shows). Not counted: none is sent yet.
                self.db.execute(
                    f"UPDATE deliveries SET needs_edit = needs_edit + 1"  # noqa: S608
                    f" WHERE +state IN ('pending', 'sending') AND release_id IN ({_SHOWING})",
                    [ref.key],
                )
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"storing the study of {ref.key} failed: {exc}") from exc

    def record_study_miss(
        self,
        ref: StudyRef,
        *,
        state: MissState,
        error: str,
        now: datetime,
        retry_at: datetime | None,
    ) -> None:
        """Keep a lookup that found nothing: `pending` to ask again at `retry_at` (told to
        wait, timed out), `not_registered` (404) or `failed` (an unusable answer), asked
        again at `retry_at` (None: never)."""
        try:
            self.write_one(
                "UPDATE studies SET state = ?, error = ?, attempts = attempts + 1,"
                " checked_at = ?, retry_at = ? WHERE ref = ? AND state != 'found'",
                [state, error, instant_text(now), retry_at and instant_text(retry_at), ref.key],
            )
        except sqlite3.Error as exc:
            raise StoreError(f"storing the lookup of {ref.key} failed: {exc}") from exc

    def releases_with_doi(
        self, doi: str, limit: int = 5, feeds: Sequence[str] | None = None
    ) -> list[StoredRelease]:
        """Releases pointing to the study with this DOI (as written in the release, or the
        DOI a PubMed id resolved to), newest first."""
        key = StudyRef("doi", doi.strip()).key
        marks = ", ".join("?" for _ in feeds or ())
        in_feeds = f" AND r.feed IN ({marks})" if feeds is not None else ""
        sql = (
            "SELECT DISTINCT r.* FROM releases r"  # noqa: S608
            " JOIN release_studies rs ON rs.release_id = r.id"
            " WHERE (rs.ref = ? OR rs.ref IN (SELECT ref FROM studies WHERE doi = ?))"
            f"{in_feeds} ORDER BY r.sort_at DESC, r.id DESC LIMIT ?"
        )
        params = [key, key.removeprefix("doi:"), *(feeds or ()), limit]
        found = [row_to_stored(row) for row in self.db.query(sql, params)]
        return attach_studies(self.db, found)

    def releases_needing_page(
        self, feeds: Sequence[str], since: datetime, limit: int
    ) -> list[StoredRelease]:
        """Releases of `feeds` first seen since `since` whose web page is not read yet,
        newest first."""
        if not feeds:
            return []
        marks = ", ".join("?" for _ in feeds)
        sql = (
            f"SELECT * FROM releases WHERE feed IN ({marks}) AND page_checked IS NULL"  # noqa: S608
            " AND first_seen >= ? AND url != '' ORDER BY id DESC LIMIT ?"
        )
        params = [*feeds, instant_text(since), limit]
        return [row_to_stored(row) for row in self.db.query(sql, params)]


def _named(cursor: sqlite3.Cursor, row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip((column[0] for column in cursor.description), row, strict=True))


def _lookup(row: dict[str, Any]) -> StudyLookup:
    return StudyLookup(
        ref=StudyRef(row["kind"], row["value"], row["source"]),
        state=row["state"],
        attempts=row["attempts"],
        error=row["error"],
        checked_at=text_to_instant(row["checked_at"]),
        retry_at=text_to_instant(row["retry_at"]),
        study=text_to_study(row["data"]),
    )
