"""The SQLite adapter: one `Store` object over one database file, passed to services."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.models import ChannelState
from bot.store.admin import AdminQueries
from bot.store.admin_reads import AdminReads, FeedSummary, RouteActivity
from bot.store.base import Verify, open_database
from bot.store.feeds import FeedQueries
from bot.store.outbox import OutboxQueries
from bot.store.pending import PendingAction, PendingQueries
from bot.store.releases import fts_query
from bot.store.retention import RetentionQueries
from bot.store.studies import StudyLookup, StudyQueries


class Store(
    FeedQueries,
    AdminQueries,
    OutboxQueries,
    PendingQueries,
    AdminReads,
    RetentionQueries,
    StudyQueries,
):
    """Every query the services need, grouped by table in the mixins."""

    @classmethod
    def open(cls, path: Path | str, *, write: bool = True, verify: Verify = "quick") -> Store:
        """Open the database; see `open_database` for what is refused and when read-only."""
        opened = open_database(path, write=write, verify=verify)
        return cls(opened.db, read_only=opened.read_only)


Row = sqlite3.Row  # a row read by column name (the routing view's rows)

__all__ = [
    "ChannelState",
    "FeedSummary",
    "PendingAction",
    "RouteActivity",
    "Row",
    "Store",
    "StudyLookup",
    "fts_query",
]
