"""Red-team checks of the study lookup: hostile redirects, hostile feed text, shapes of
metadata the seed does not have, and the store's queries at scale."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import StudySettings
from bot.feeds.studies import find_studies
from bot.fetch.studies import StudyClient
from bot.models import RouteSpec, Study, StudyRef
from bot.store import Store
from tests import test_study_service as lookup_job
from tests.factories import make_release
from tests.fakes.feed_server import FeedServer
from tests.fakes.study_services import SEED_DOI, seed_csl

SEED = StudyRef("doi", SEED_DOI)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# The lookup job's world (store, fakes, client, job on one virtual clock), as its tests have it.
clock = lookup_job.clock
resolver = lookup_job.resolver
ncbi = lookup_job.ncbi
world = lookup_job.world


async def test_resolver_redirect_to_a_private_address_is_refused(ncbi, clock):
    """A redirect from the DOI resolver to another, non-public host is not followed: the
    bot never becomes a way into the operator's own network."""
    with FeedServer() as inside, FeedServer() as doi_org:
        inside.serve("/metadata", json.dumps(seed_csl()).encode())
        # Another origin (a name for a loopback address): only the configured services are trusted.
        doi_org.redirect(f"/{SEED_DOI}", f"http://localhost:{inside.port}/metadata", status=302)
        settings = StudySettings(doi_resolver=doi_org.url("/"), ncbi_api=ncbi.url("/"), timeout=5.0)
        async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
            answer = await client.lookup(SEED)
        assert answer.state == "failed"
        assert "non-public" in answer.error
        assert inside.hits("/metadata") == 0


async def test_resolver_redirect_within_its_own_origin_is_followed(ncbi, clock):
    """The configured resolver may send the lookup on to itself (loopback in tests)."""
    with FeedServer() as doi_org:
        doi_org.serve("/agency", json.dumps(seed_csl()).encode())
        doi_org.redirect(f"/{SEED_DOI}", doi_org.url("/agency"), status=302)
        settings = StudySettings(
            doi_resolver=doi_org.url("/"), ncbi_api=ncbi.url("/entrez/eutils/"), timeout=5.0
        )
        async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
            answer = await client.lookup(SEED)
        assert answer.state == "found"


def _plans(store: Store, run: Callable[[], object], table: str) -> list[str]:
    """The query plans of the statements `run` sends that read `table` (traced as sent)."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        run()
    finally:
        store.db.conn.set_trace_callback(None)
    plans = []
    for sql in statements:
        if table in sql and not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT")):
            rows = store.db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            plans.append(" / ".join(str(row[-1]) for row in rows))
    return plans


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    store = Store.open(tmp_path / "test.db")
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes([("news", "@news_channel")], [RouteSpec("nida", "news", 5)], now=NOW)
    yield store
    store.close()


def test_reading_releases_looks_studies_up_by_release_not_by_state(store):
    """Every read of releases (/latest, /search, posts) finds their studies through the
    releases' ids: with 100,000 releases a scan of every found study cost ~15 ms a read."""
    store.ingest("nida", [make_release(1, studies=(SEED,))], now=NOW, flood_limit=10)
    plans = _plans(store, lambda: store.latest(5), "release_studies")
    assert plans
    for plan in plans:
        assert "studies_due" not in plan
        assert "(release_id=?)" in plan


def test_owing_edits_reads_the_deliveries_of_the_releases_only(store):
    """A found study marks the posts of its releases through their ids, not by a scan of
    every sent delivery (~40 ms a found study with 200,000 posts sent)."""
    store.ingest("nida", [make_release(1, studies=(SEED,))], now=NOW, flood_limit=10)
    delivery = store.pending_for_channel("news", NOW)[0].delivery
    store.mark_sending(delivery.id)
    store.mark_sent(delivery.id, message_id=7, now=NOW)
    found = Study(doi=SEED_DOI, title="Nipping cue reactivity in the bud")
    owed: list[int] = []

    def record() -> None:
        owed.append(store.record_study_found(SEED, found, NOW, edit_since=NOW - DAY))

    plans = _plans(store, record, "deliveries")
    assert owed == [1]
    assert plans
    for plan in plans:
        assert "deliveries_state" not in plan
        assert "deliveries_release" in plan


@pytest.mark.parametrize(
    "retry_after", ["1000000000000", "Fri, 31 Dec 9999 23:59:59 GMT"], ids=["delay", "date"]
)
async def test_an_absurd_retry_after_holds_lookups_an_hour_at_most(world, retry_after):
    """A resolver answering 429 with a Retry-After of millennia neither stops the lookup job
    (the date overflowed, out of the task) nor parks every lookup for ever: an hour at most."""
    world.resolver.rate_limited(SEED_DOI, retry_after=retry_after)
    world.ingest(1, SEED)
    report = await world.job().lookup_due()
    assert report.results == {"retry": 1}
    assert 0 < report.held <= 3600
    state, retry_at = world.state(SEED)
    assert state == "pending"
    assert retry_at is not None
    assert retry_at <= world.now() + timedelta(hours=1, seconds=1)


@pytest.mark.parametrize(
    ("html", "announced"),
    [
        (
            "<p>In a 2019 study (doi:10.1038/s41586-019-0001-1), the team found a link. The new"
            " work is published today in <i>Science</i>:"
            ' <a href="https://doi.org/10.1126/science.abc1234">DOI</a>.</p>',
            "10.1126/science.abc1234",
        ),
        (
            "<p>The researchers previously reported (Nature 2012, doi:10.1038/nature11111) that"
            " mice lack it.</p><p>The findings appear in Cell Reports."
            " DOI: 10.1016/j.celrep.2024.114000</p>",
            "10.1016/j.celrep.2024.114000",
        ),
        (
            "<p>Building on their earlier paper, https://doi.org/10.1093/brain/awz001, the team"
            " now shows more.</p><p>Reference: Doe J et al. New thing. PNAS 2024."
            " https://doi.org/10.1073/pnas.2400001121</p>",
            "10.1073/pnas.2400001121",
        ),
    ],
    ids=["2019-study", "previously-reported", "earlier-paper"],
)
def test_a_cited_earlier_paper_is_not_shown_as_the_study(html, announced):
    """A release that cites the team's earlier paper before naming the new one shows the new
    one; the earlier one is still kept, after it."""
    refs = find_studies(html)
    assert refs[0].value == announced
    assert len(refs) == 2


def test_a_study_found_while_its_post_waits_in_a_batch_is_edited_in(store):
    """The dispatcher reads up to 20 posts, then sends them one by one at the channel's pace:
    a study found after its post was read (so rendered without the line) but before it was
    sent is still owed to that post, which then gets its line by an edit."""
    store.ingest("nida", [make_release(1, studies=(SEED,))], now=NOW, flood_limit=10)
    owed = store.pending_for_channel("news", NOW)[0]
    assert owed.stored.study is None  # what the post is rendered from
    found = Study(doi=SEED_DOI, title="Nipping cue reactivity in the bud")
    store.record_study_found(SEED, found, NOW, edit_since=NOW - DAY)
    store.mark_sending(owed.delivery.id)
    store.mark_sent(owed.delivery.id, message_id=7, now=NOW)
    edits = store.edits_for_channel("news", NOW)
    assert [item.delivery.id for item in edits] == [owed.delivery.id]
    assert edits[0].stored.study == found


def test_the_pages_job_reads_only_the_recent_releases(store):
    """Each round asks for the unread pages of releases first seen within the edit window:
    it reads those, not every release the feed ever had."""
    store.ingest("nida", [make_release(1)], now=NOW, flood_limit=10)
    plans = _plans(store, lambda: store.releases_needing_page(["nida"], NOW - DAY, 10), "releases")
    assert plans
    assert all("first_seen>?" in plan for plan in plans)


async def test_a_doi_with_dot_segments_stays_under_the_resolvers_path(ncbi, clock):
    """A feed's "doi:10.1234/../../admin" asks the resolver for that DOI, not for the
    resolver host's /admin (a resolver configured under a path, e.g. a caching proxy)."""
    with FeedServer() as proxy:
        proxy.serve("/admin", json.dumps(seed_csl()).encode())
        settings = StudySettings(
            doi_resolver=proxy.url("/doi/"), ncbi_api=ncbi.url("/"), timeout=5.0
        )
        async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
            answer = await client.lookup(StudyRef("doi", "10.1234/../../admin"))
        assert proxy.hits("/admin") == 0
        assert answer.state == "not_registered"
