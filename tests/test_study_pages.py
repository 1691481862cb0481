"""Reading each new release's web page for its study (`fetch_page = true`, issue 14): the
real Fetcher against the loopback feed server, a real Store, and the bot's real rounds."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.models import StudyRef
from bot.services.config_sync import sync_config
from bot.services.routing import build_view
from bot.services.study_pages import RETRY_FIRST, TRANSIENT_TRIES, StudyPages, page_text
from bot.store import Store
from bot.telegram.app import open_runtime
from bot.telegram.dryrun import DryRunSender
from bot.telegram.rounds import run_round, start_round, stop_rounds
from tests.factories import make_release
from tests.fakes.feed_server import FeedServer

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DOI = "10.1523/JNEUROSCI.4977-13.2014"
PAGE = (
    "<!doctype html><html><head><title>Baclofen study</title>"
    f'<meta name="citation_doi" content="{DOI}"></head>'
    "<body><p>Scientists found that baclofen ...</p></body></html>"
).encode()
HTML = "text/html; charset=utf-8"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def settings_for(tmp_path: Path, server: FeedServer, **fetch: Any) -> Settings:
    """Feed "pages" reads its releases' pages; feed "plain" does not."""
    return settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "bot.db")},
            "fetch": {"allow_private_addresses": True, "timeout": 2.0, **fetch},
            "feeds": [
                {"name": "pages", "url": server.url("/pages.xml"), "fetch_page": True},
                {"name": "plain", "url": server.url("/plain.xml")},
            ],
            "channels": [{"name": "a-news", "chat": -1001, "feeds": ["pages", "plain"]}],
        },
        tmp_path,
    )


class Rig:
    """A store with both feeds, and a StudyPages reading with a real Fetcher."""

    def __init__(self, settings: Settings, fetcher: Fetcher) -> None:
        self.clock = Clock()
        self.store = Store.open(settings.database_path)
        sync_config(self.store, settings, self.clock())
        self.pages = StudyPages(
            self.store,
            fetcher,
            settings,
            clock=self.clock,
            view=build_view(self.store, settings),
        )

    def release(self, feed: str, url: str, n: int = 1) -> int:
        """Store release `n` of `feed`, its web page at `url`; returns its id."""
        self.store.ingest(
            feed, [make_release(n, feed=feed, url=url)], now=self.clock(), flood_limit=50
        )
        [stored] = [s for s in self.store.latest(100, [feed]) if s.release.url == url]
        return stored.id

    def refs(self, release_id: int) -> list[StudyRef]:
        return [lookup.ref for lookup in self.store.release_study_refs(release_id)]

    def page_read(self, release_id: int) -> bool:
        row = self.store.db.execute(
            "SELECT page_checked FROM releases WHERE id = ?", [release_id]
        ).fetchone()
        return row[0] is not None


@pytest.fixture
async def rig(tmp_path: Path, feed_server: FeedServer) -> AsyncIterator[Rig]:
    settings = settings_for(tmp_path, feed_server)
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        made = Rig(settings, fetcher)
        yield made
        made.store.close()


async def test_a_pages_citation_doi_is_stored_with_source_page(
    rig: Rig, feed_server: FeedServer
) -> None:
    """The release's page names its DOI in a citation_doi meta tag: it is stored as the
    release's study (source "page"), due for lookup, and the page is not fetched again."""
    release = rig.release("pages", feed_server.serve("/news/1", PAGE, content_type=HTML))
    report = await rig.pages.read_pass()
    assert (report.read, report.found) == (1, 1)
    assert rig.refs(release) == [StudyRef("doi", DOI, "page")]
    assert rig.store.due_study_lookups(rig.clock(), limit=10) == [StudyRef("doi", DOI)]
    await rig.pages.read_pass()
    assert feed_server.hits("/news/1") == 1


async def test_a_feed_without_fetch_page_is_never_asked_for_pages(
    rig: Rig, feed_server: FeedServer
) -> None:
    """A release of a feed without fetch_page: its page is never requested."""
    release = rig.release("plain", feed_server.serve("/news/2", PAGE, content_type=HTML))
    await rig.pages.read_pass()
    await rig.pages.read_pass()
    assert feed_server.hits("/news/2") == 0
    assert rig.refs(release) == []


async def test_a_missing_page_is_marked_read_and_not_fetched_again(
    rig: Rig, feed_server: FeedServer
) -> None:
    """A 404 page: marked read with no study, and never asked for again."""
    release = rig.release("pages", feed_server.serve("/gone", b"no", status=404))
    report = await rig.pages.read_pass()
    assert report.given_up == 1
    assert rig.page_read(release)
    await rig.pages.read_pass()
    assert feed_server.hits("/gone") == 1
    assert rig.refs(release) == []


async def test_a_page_that_is_not_html_is_marked_read(rig: Rig, feed_server: FeedServer) -> None:
    """A PDF where the page should be: not read for a study, and not fetched again."""
    pdf = feed_server.serve(
        "/paper.pdf", b"%PDF-1.4 " + DOI.encode(), content_type="application/pdf"
    )
    release = rig.release("pages", pdf)
    await rig.pages.read_pass()
    await rig.pages.read_pass()
    assert (feed_server.hits("/paper.pdf"), rig.refs(release)) == (1, [])
    assert rig.page_read(release)


async def test_a_transient_failure_is_tried_again_later_a_bounded_number_of_times(
    rig: Rig, feed_server: FeedServer
) -> None:
    """A 503: the page stays unread, is not asked again at once, is asked again an hour
    later; after TRANSIENT_TRIES failures it is given up and never asked again."""
    release = rig.release("pages", feed_server.serve("/busy", b"later", status=503))
    first = await rig.pages.read_pass()
    assert (first.again, rig.page_read(release)) == (1, False)
    await rig.pages.read_pass()  # the next round: too soon
    assert feed_server.hits("/busy") == 1
    for _ in range(TRANSIENT_TRIES + 2):
        rig.clock.now += timedelta(hours=1)
        await rig.pages.read_pass()
    assert feed_server.hits("/busy") == TRANSIENT_TRIES
    assert rig.page_read(release)


async def test_a_sites_retry_after_is_waited_out(rig: Rig, feed_server: FeedServer) -> None:
    """A 429 asking for two hours: not asked again an hour later, asked after two."""
    url = feed_server.serve("/limited", b"slow down", status=429, retry_after="7200")
    release = rig.release("pages", url)
    await rig.pages.read_pass()
    rig.clock.now += timedelta(hours=1)
    await rig.pages.read_pass()
    assert feed_server.hits("/limited") == 1
    feed_server.serve("/limited", PAGE, content_type=HTML)
    rig.clock.now += timedelta(hours=1)
    await rig.pages.read_pass()
    assert rig.refs(release) == [StudyRef("doi", DOI, "page")]


async def test_a_waiting_page_does_not_hold_up_the_others(
    rig: Rig, feed_server: FeedServer
) -> None:
    """One page a pass; the newest page fails and waits: the next pass reads the other one
    rather than nothing."""
    rig.pages.limit = 1
    other = rig.release("pages", feed_server.serve("/fine", PAGE, content_type=HTML), 1)
    rig.release("pages", feed_server.serve("/busy", b"later", status=503), 2)
    await rig.pages.read_pass()  # the newest first: the busy one
    assert rig.refs(other) == []
    await rig.pages.read_pass()
    assert rig.refs(other) == [StudyRef("doi", DOI, "page")]
    assert feed_server.hits("/busy") == 1


async def test_a_page_that_recovers_is_read(rig: Rig, feed_server: FeedServer) -> None:
    """A 503, then the page: the pass after the wait stores its study."""
    url = feed_server.serve("/flaky", b"later", status=503)
    release = rig.release("pages", url)
    await rig.pages.read_pass()
    feed_server.serve("/flaky", PAGE, content_type=HTML)
    rig.clock.now += timedelta(seconds=RETRY_FIRST)
    await rig.pages.read_pass()
    assert rig.refs(release) == [StudyRef("doi", DOI, "page")]


async def test_a_release_url_that_is_no_web_address_is_never_read(rig: Rig, tmp_path: Path) -> None:
    """A feed giving a local file's path as the release's link: the file is not read (the
    fetcher would read a path as a file), and the release counts as read."""
    secret = tmp_path / "page.html"
    secret.write_bytes(PAGE)
    release = rig.release("pages", str(secret))
    report = await rig.pages.read_pass()
    assert (report.given_up, rig.refs(release)) == (1, [])


async def test_pages_older_than_the_edit_window_are_not_read(
    rig: Rig, feed_server: FeedServer
) -> None:
    """A release first seen more than [study] edit_window ago: its page is not fetched."""
    rig.release("pages", feed_server.serve("/old", PAGE, content_type=HTML))
    rig.clock.now = NOW + timedelta(hours=25)
    await rig.pages.read_pass()
    assert feed_server.hits("/old") == 0


async def test_a_pass_reads_at_most_two_pages_at_once(rig: Rig, feed_server: FeedServer) -> None:
    """Four slow pages: never more than two requests under way, all four read."""
    ids = [
        rig.release("pages", feed_server.serve(f"/slow/{n}", PAGE, content_type=HTML, delay=0.1), n)
        for n in range(1, 5)
    ]
    report = await rig.pages.read_pass()
    assert report.read == 4
    assert feed_server.max_in_flight <= 2
    assert all(rig.refs(i) == [StudyRef("doi", DOI, "page")] for i in ids)


async def test_with_studies_off_no_page_is_asked_for(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """[study] enabled = false: not one page request."""
    base = settings_for(tmp_path, feed_server)
    settings = base.model_copy(update={"study": base.study.model_copy(update={"enabled": False})})
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        rig = Rig(settings, fetcher)
        rig.release("pages", feed_server.serve("/news/3", PAGE, content_type=HTML))
        await rig.pages.read_pass()
        rig.store.close()
    assert feed_server.hits("/news/3") == 0


async def test_a_page_on_a_private_address_is_refused(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Without fetch.allow_private_addresses, a page on a loopback address is refused by the
    fetcher's guard before any connection, and marked read with no study."""
    settings = settings_for(tmp_path, feed_server, allow_private_addresses=False)
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        rig = Rig(settings, fetcher)
        release = rig.release("pages", feed_server.serve("/inside", PAGE, content_type=HTML))
        report = await rig.pages.read_pass()
        assert (report.given_up, rig.refs(release), rig.page_read(release)) == (1, [], True)
        rig.store.close()
    assert feed_server.hits("/inside") == 0


def test_a_pages_charset_is_honoured() -> None:
    """Latin-1 named in a meta tag or the header is decoded as such; junk falls back to UTF-8."""
    body = '<meta charset="iso-8859-1"><p>Études</p>'.encode("latin-1")
    assert "Études" in page_text(body, "text/html")
    assert "Études" in page_text("Études".encode("latin-1"), "text/html; charset=latin-1")
    assert page_text("Études".encode(), "text/html; charset=rot13") == "Études"


# --- in the running bot ----------------------------------------------------------------------


def rss_to(page: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>News</title>"
        "<link>https://example.org/</link><item><guid>r1</guid><title>Baclofen and cues</title>"
        f"<link>{page}</link><pubDate>Thu, 03 Apr 2014 10:00:00 -0400</pubDate>"
        "<description>A teaser.</description></item></channel></rss>"
    ).encode()


@pytest.fixture
def server_pages(feed_server: FeedServer) -> FeedServer:
    """The "pages" feed links to a page that answers slowly; "plain" to a page too."""
    slow = feed_server.serve("/news/slow", PAGE, content_type=HTML, delay=0.5)
    feed_server.serve("/pages.xml", rss_to(slow))
    feed_server.serve("/plain.xml", rss_to(feed_server.serve("/news/plain", PAGE)))
    return feed_server


async def test_a_round_reads_the_new_pages_in_a_task_of_its_own(
    tmp_path: Path, server_pages: FeedServer
) -> None:
    """A poll round stores the new release and ends without waiting for its slow page; the
    page is read after, with the poller's fetcher, and its study stored."""
    settings = settings_for(tmp_path, server_pages)
    clock = Clock()
    opening = open_runtime(
        settings, DryRunSender(io.StringIO()), clock=clock, bot_username="", dry_run=True
    )
    async with opening as runtime:
        start_round(runtime, lambda: run_round(runtime, None))
        assert runtime.round is not None
        await runtime.round
        [stored] = runtime.store.latest(10, ["pages"])
        assert runtime.store.release_study_refs(stored.id) == []  # not read yet
        assert runtime.pages is not None
        assert runtime.pages.fetcher is runtime.poller.fetcher
        await runtime.pages.settled()
        refs = [lookup.ref for lookup in runtime.store.release_study_refs(stored.id)]
        assert refs == [StudyRef("doi", DOI, "page")]
        assert server_pages.hits("/news/plain") == 0
        await stop_rounds(runtime)


async def test_an_identifier_a_page_adds_is_looked_up_at_once(
    tmp_path: Path, server_pages: FeedServer
) -> None:
    """The page's DOI is looked up as soon as the page is read, not at the lookup job's
    next idle pass a minute later."""
    from tests.fakes.doi_resolver import DoiResolver
    from tests.fakes.ncbi import Ncbi

    with DoiResolver() as resolver, Ncbi() as ncbi:
        base = settings_for(tmp_path, server_pages)
        study = base.study.model_copy(
            update={"doi_resolver": resolver.url("/"), "ncbi_api": ncbi.url("/entrez/eutils/")}
        )
        settings = base.model_copy(update={"study": study})
        opening = open_runtime(
            settings, DryRunSender(io.StringIO()), clock=Clock(), bot_username="", dry_run=True
        )
        async with opening as runtime:
            runtime.start_study_lookups()
            start_round(runtime, lambda: run_round(runtime, None))
            assert runtime.round is not None
            assert runtime.studies is not None
            await runtime.round
            assert runtime.pages is not None
            await runtime.pages.settled()
            [stored] = runtime.store.latest(10, ["pages"])
            for _ in range(200):  # well under the job's 60 s idle wait
                if runtime.store.release(stored.id).study is not None:
                    break
                await asyncio.sleep(0.02)
            found = runtime.store.release(stored.id).study
            assert found is not None
            assert found.doi == DOI
            await stop_rounds(runtime)
            await runtime.stop_study_lookups()
