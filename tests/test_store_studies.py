"""The study tables: identifiers stored with their release, the lookup cache, the study a
release shows, posts owed an edit when it arrives, and releases found by DOI."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import RouteSpec, Study, StudyAuthor, StudyRef
from bot.store import Store
from tests.factories import make_release

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DOI = StudyRef("doi", "10.1523/JNEUROSCI.4977-13.2014")
PMID = StudyRef("pmid", "24695721")
SEED_STUDY = Study(
    doi="10.1523/JNEUROSCI.4977-13.2014",
    pmid="24695721",
    pmcid="PMC3972727",
    title="Nipping Cue Reactivity in the Bud",
    authors=(StudyAuthor("Young", "Kimberly A."),),
    journal="The Journal of Neuroscience",
    issued=(2014, 4, 2),
)


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "test.db")
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes([("news", "@news_channel")], [RouteSpec("nida", "news", 5)], now=NOW)
    yield store
    store.close()


def ingest(store: Store, *releases) -> None:
    store.ingest("nida", list(releases), now=NOW, flood_limit=10)


def sent(store: Store, at: datetime) -> int:
    """Send the first pending post at `at`; its delivery id."""
    delivery = store.pending_for_channel("news", at)[0].delivery
    store.mark_sending(delivery.id)
    store.mark_sent(delivery.id, message_id=delivery.id + 100, now=at)
    return delivery.id


def test_a_release_shows_no_study_until_its_lookup_finds_one(store):
    """The identifiers are kept at ingest; the release shows the study once it is found."""
    ingest(store, make_release(1, studies=(PMID, DOI)))
    release_id = store.latest(1)[0].id
    assert store.release(release_id).study is None
    assert [lookup.ref.key for lookup in store.release_study_refs(release_id)] == [
        PMID.key,
        DOI.key,
    ]
    store.record_study_found(DOI, SEED_STUDY, NOW, edit_since=None)
    assert store.release(release_id).study == SEED_STUDY
    assert store.latest(1)[0].study == SEED_STUDY
    assert store.find_release(str(release_id)).study == SEED_STUDY
    assert store.pending_for_channel("news", NOW)[0].stored.study == SEED_STUDY


def test_the_first_identifier_found_is_the_study_shown(store):
    """With two papers found, the release shows the one listed first."""
    other = replace(SEED_STUDY, doi="10.1000/other", title="Another paper")
    ingest(store, make_release(1, studies=(PMID, DOI)))
    store.record_study_found(DOI, other, NOW, edit_since=None)
    assert store.latest(1)[0].study == other
    store.record_study_found(PMID, SEED_STUDY, NOW, edit_since=None)
    assert store.latest(1)[0].study == SEED_STUDY


def test_each_identifier_is_looked_up_once_across_releases(store):
    """Two releases pointing to one DOI make one due lookup; a found one is not due again."""
    ingest(store, make_release(1, studies=(DOI,)), make_release(2, studies=(DOI,)))
    assert store.due_study_lookups(NOW, 10) == [StudyRef("doi", DOI.value)]
    store.record_study_found(DOI, SEED_STUDY, NOW, edit_since=None)
    assert store.due_study_lookups(NOW + timedelta(days=30), 10) == []


def test_a_miss_is_asked_again_only_after_its_retry_time(store):
    """Not registered: not due before retry_at, due after; a miss never undoes a find."""
    ingest(store, make_release(1, studies=(DOI,)))
    later = NOW + timedelta(days=1)
    store.record_study_miss(DOI, state="not_registered", error="404", now=NOW, retry_at=later)
    assert store.due_study_lookups(NOW + timedelta(hours=23), 10) == []
    assert store.due_study_lookups(later, 10) == [StudyRef("doi", DOI.value)]
    lookup = store.study_lookup(DOI)
    assert (lookup.state, lookup.attempts, lookup.error) == ("not_registered", 1, "404")
    store.record_study_miss(DOI, state="failed", error="gave up", now=later, retry_at=None)
    assert store.due_study_lookups(later + timedelta(days=365), 10) == []


def test_newest_releases_are_looked_up_first(store):
    """A post just sent waits for its study line: its identifier comes first."""
    old, new = StudyRef("doi", "10.1000/old"), StudyRef("doi", "10.1000/new")
    ingest(store, make_release(1, studies=(old,)))
    ingest(store, make_release(2, studies=(new,)))
    assert store.due_study_lookups(NOW, 1) == [new]


def test_a_study_found_late_owes_an_edit_to_posts_sent_within_the_window(store):
    """Posts sent since edit_since are owed an edit; an older post is left as it is."""
    ingest(store, make_release(1, studies=(DOI,)), make_release(2, studies=(DOI,)))
    old = sent(store, NOW - timedelta(days=2))
    recent = sent(store, NOW - timedelta(hours=1))
    owed = store.record_study_found(DOI, SEED_STUDY, NOW, edit_since=NOW - timedelta(days=1))
    assert owed == 1
    assert [item.delivery.id for item in store.edits_for_channel("news", NOW)] == [recent]
    assert old != recent


def test_no_edit_when_the_release_already_shows_an_earlier_study(store):
    """A second paper found later does not change what the post shows: no edit owed."""
    ingest(store, make_release(1, studies=(PMID, DOI)))
    sent(store, NOW)
    store.record_study_found(PMID, SEED_STUDY, NOW, edit_since=NOW - timedelta(days=1))
    owed = store.record_study_found(DOI, SEED_STUDY, NOW, edit_since=NOW - timedelta(days=1))
    assert owed == 0


def test_search_by_doi_finds_releases_by_their_own_doi_or_a_resolved_pubmed_id(store):
    """/search doi:… finds a release that cites the DOI, and one that cites its PubMed id."""
    ingest(store, make_release(1, studies=(DOI,)), make_release(2, studies=(PMID,)))
    store.record_study_found(PMID, SEED_STUDY, NOW, edit_since=None)
    found = store.releases_with_doi("10.1523/jneurosci.4977-13.2014")
    assert sorted(item.release.key for item in found) == sorted(make_release(n).key for n in (1, 2))
    assert store.releases_with_doi("10.1000/nothing") == []


def test_a_changed_release_keeps_the_studies_its_page_added(store):
    """The page's identifiers survive a change of the feed's text; the feed's are replaced."""
    ingest(store, make_release(1, studies=(DOI,)))
    release_id = store.latest(1)[0].id
    page_ref = StudyRef("pmid", "111", "page")
    assert (
        store.add_page_studies(release_id, [page_ref, StudyRef("doi", DOI.value, "page")], NOW) == 1
    )
    ingest(store, make_release(1, title="Corrected", studies=(PMID,)))
    keys = [lookup.ref.key for lookup in store.release_study_refs(release_id)]
    assert keys == [PMID.key, page_ref.key]


def test_a_page_is_read_once(store):
    """A release whose page was read is not offered for reading again."""
    ingest(store, make_release(1), make_release(2))
    since = NOW - timedelta(hours=1)
    assert len(store.releases_needing_page(["nida"], since, 10)) == 2
    store.add_page_studies(store.latest(1)[0].id, [], NOW)
    assert len(store.releases_needing_page(["nida"], since, 10)) == 1
    assert store.releases_needing_page(["nida"], NOW + timedelta(hours=1), 10) == []
