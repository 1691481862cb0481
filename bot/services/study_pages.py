"""Read each new release's web page for the study it announces (feeds with `fetch_page = true`).

Many feeds carry only a teaser; the release's own page names the study in a
`citation_doi` or `dc.identifier` meta tag, or links to it. After each poll round the
bot reads the pages of the releases first seen within `[study] edit_window` (a page read
later could no longer put the study line on the post), newest first, at most
`PASS_LIMIT` a pass and `CONCURRENT` at once. A pass is a task of its own: no post, poll
or command waits for a page.

Pages are fetched with the poller's own Fetcher (bot/fetch/client.py): the same size cap,
timeouts, per-host limit and private-address guard as feeds. What a page gives is stored
with `Store.add_page_studies` (source "page"), which marks it read; the lookup job
(bot/services/studies.py) then looks the identifiers up like those of the feed.

- A page that cannot help (404 or another permanent answer, not HTML, too large, not an
  http(s) URL, an address the guard refuses) is marked read with nothing found.
- A transient failure (timeout, 5xx, 429, connection refused) leaves the page unread: a
  pass after `RETRY_FIRST` (then four times that, or the site's Retry-After if longer)
  tries it again; after `TRANSIENT_TRIES` failures in this run it is marked read with
  nothing found.
- A store error is logged; the page stays unread and is read again at a later pass.

With `[study] enabled = false`, or no feed with `fetch_page`, no page is ever asked for.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.errors import FeedFetchError, StoreError
from bot.feeds.studies import find_page_studies
from bot.fetch.client import Fetcher
from bot.logs import log_fields
from bot.models import RoutingView, StoredRelease, StudyRef
from bot.store import Store

log = logging.getLogger(__name__)

PASS_LIMIT = 10  # pages per pass; the rest wait for the next round
CONCURRENT = 2  # pages fetched at once: the feeds keep most of the fetcher's slots
TRANSIENT_TRIES = 3  # transient failures of one page (this run) before it is given up
RETRY_FIRST = 60.0  # seconds before a page that failed is asked again; times 4 each time
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# "text/html; charset=utf-8", and in a page <meta charset="utf-8"> or its http-equiv form.
_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)

Clock = Callable[[], datetime]


@dataclass(slots=True)
class PagesReport:
    """What one pass did: pages read (with or without a study), studies found, pages given
    up (marked read with nothing found after a failure) and pages left for a later pass."""

    read: int = 0
    found: int = 0
    given_up: int = 0
    again: int = 0


class StudyPages:
    """Reads the pages of new releases of the feeds with `fetch_page` (see the module)."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        settings: Settings,
        *,
        clock: Clock,
        view: RoutingView,
        limit: int = PASS_LIMIT,
        stored: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.settings = settings
        self.clock = clock
        self.view = view
        self.limit = limit
        self.stored = stored  # called after a pass that stored new identifiers
        self._failures: dict[int, int] = {}  # release id -> transient failures this run
        self._retry_at: dict[int, datetime] = {}  # release id -> not asked again before
        self._task: asyncio.Task[PagesReport] | None = None

    def reroute(self, settings: Settings, view: RoutingView) -> None:
        """Read with `settings` and for `view`'s feeds from the next pass on."""
        self.settings = settings
        self.view = view

    def feeds(self) -> list[str]:
        """The feeds whose pages are read; none with `[study] enabled = false`."""
        if not self.settings.study.enabled:
            return []
        return [feed.name for feed in self.view.feeds if feed.fetch_page]

    def start(self) -> None:
        """Start a pass as a task of its own, unless one is under way or no feed wants it."""
        if (self._task is None or self._task.done()) and self.feeds():
            self._task = asyncio.create_task(self._logged_pass(), name="study-pages")

    async def settled(self) -> None:
        """Wait for the pass under way, if any."""
        if self._task is not None:
            await asyncio.wait([self._task])

    async def stop(self) -> None:
        """Cancel the pass under way; a page it did not store is read again next run."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])

    async def read_pass(self) -> PagesReport:
        """Read the pages due now, at most `limit`, `CONCURRENT` at once."""
        report = PagesReport()
        feeds = self.feeds()
        if not feeds:
            return report
        now = self.clock()
        since = now - timedelta(seconds=self.settings.study.edit_window)
        # Pages waiting to be asked again are skipped, and do not take others' places.
        waiting = {key for key, at in self._retry_at.items() if at > now}
        unread = self.store.releases_needing_page(
            feeds, since=since, limit=self.limit + len(waiting)
        )
        due = [stored for stored in unread if stored.id not in waiting][: self.limit]
        slots = asyncio.Semaphore(CONCURRENT)

        async def read(stored: StoredRelease) -> None:
            async with slots:
                await self._read_page(stored, report)

        await asyncio.gather(*(read(stored) for stored in due))
        if report.found:
            self.stored()
        return report

    async def _logged_pass(self) -> PagesReport:
        try:
            report = await self.read_pass()
        except Exception:  # a bug here must not end the bot; the next round tries again
            log.exception("reading release pages failed")
            return PagesReport()
        if report.read or report.given_up:
            log.info(
                "release pages: %d read, %d studies found, %d given up, %d to try again",
                report.read,
                report.found,
                report.given_up,
                report.again,
            )
        return report

    async def _read_page(self, stored: StoredRelease, report: PagesReport) -> None:
        url = stored.release.url
        fields = log_fields(feed=stored.release.feed, release=stored.id)
        if not url.lower().startswith(("http://", "https://")):
            # The fetcher reads any other URL as a local file: a feed must not make it.
            self._mark_read(stored, (), report, given_up=True)
            return
        try:
            result = await self.fetcher.fetch(url)
        except FeedFetchError as exc:
            failures = self._failures.get(stored.id, 0) + 1
            if exc.permanent or failures >= TRANSIENT_TRIES:
                log.info("release %d: its page gives no study: %s", stored.id, exc, extra=fields)
                self._forget(stored.id)
                self._mark_read(stored, (), report, given_up=True)
            else:
                log.info("release %d: page to try again: %s", stored.id, exc, extra=fields)
                wait = max(RETRY_FIRST * 4 ** (failures - 1), exc.retry_after or 0.0)
                self._failures[stored.id] = failures
                self._retry_at[stored.id] = self.clock() + timedelta(seconds=wait)
                report.again += 1
            return
        self._forget(stored.id)
        if not is_html(result.content_type):
            kind = result.content_type
            log.info("release %d: its page is not HTML (%s)", stored.id, kind, extra=fields)
            self._mark_read(stored, (), report, given_up=True)
            return
        html = page_text(result.body, result.content_type)
        # In a thread: a long page takes a while to read, and the event loop sends posts.
        refs = await asyncio.to_thread(find_page_studies, html, base_url=result.url)
        self._mark_read(stored, refs, report, given_up=False)

    def _forget(self, release_id: int) -> None:
        self._failures.pop(release_id, None)
        self._retry_at.pop(release_id, None)

    def _mark_read(
        self,
        stored: StoredRelease,
        refs: tuple[StudyRef, ...],
        report: PagesReport,
        *,
        given_up: bool,
    ) -> None:
        try:
            new = self.store.add_page_studies(stored.id, refs, self.clock())
        except StoreError as exc:
            log.warning("release %d: %s (its page is read again later)", stored.id, exc)
            report.again += 1
            return
        report.found += new
        if given_up:
            report.given_up += 1
        else:
            report.read += 1


def is_html(content_type: str) -> bool:
    """Whether a page's Content-Type says HTML; a page that says nothing is read as HTML."""
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media in HTML_TYPES


def page_text(body: bytes, content_type: str) -> str:
    """The page as text: in the charset its Content-Type names, else the one its first
    bytes (a <meta> tag) name, else UTF-8; bytes that do not decode are replaced (the
    identifiers sought are ASCII)."""
    for charset in (_charset(content_type.encode("latin-1", "replace")), _charset(body[:2048])):
        if charset:
            try:
                return body.decode(charset, errors="replace")
            except LookupError:  # unknown, or not a text encoding ("rot13")
                continue
    return body.decode("utf-8", errors="replace")


def _charset(text: bytes) -> str:
    match = _CHARSET.search(text)
    return match.group(1).decode("ascii") if match else ""
