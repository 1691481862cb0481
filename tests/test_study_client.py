"""Looking studies up over real loopback HTTP against the fakes of doi.org/Crossref and
NCBI: found, not registered, retry, failed; polite headers; the request rate held on an
injected clock (no sleeping)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot
from bot.config import StudySettings
from bot.fetch.studies import RequestWindow, StudyAnswer, StudyClient, study_user_agent
from bot.models import StudyRef
from tests.fakes.doi_resolver import DoiResolver
from tests.fakes.feed_server import FeedServer
from tests.fakes.ncbi import Ncbi
from tests.fakes.study_services import SEED_DOI, SEED_PMCID, SEED_PMID, seed_csl, seed_pubmed
from tests.fakes.virtual_time import VirtualClock
from tests.test_study_meta import SEED_STUDY

CONTACT = "ops@example.org"
SEED = StudyRef("doi", SEED_DOI)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def resolver(clock: VirtualClock) -> Iterator[DoiResolver]:
    with DoiResolver(clock=clock) as server:
        yield server


@pytest.fixture
def ncbi(clock: VirtualClock) -> Iterator[Ncbi]:
    with Ncbi(clock=clock) as server:
        yield server


def study_settings(resolver: DoiResolver, ncbi: Ncbi, **changes: Any) -> StudySettings:
    values: dict[str, Any] = {
        "doi_resolver": resolver.url("/"),
        "ncbi_api": ncbi.url("/entrez/eutils/"),
        "contact_email": CONTACT,
        "timeout": 5.0,
    }
    return StudySettings(**(values | changes))


@pytest.fixture
async def client(
    resolver: DoiResolver, ncbi: Ncbi, clock: VirtualClock
) -> AsyncIterator[StudyClient]:
    async with StudyClient(study_settings(resolver, ncbi), clock=clock, sleep=clock.sleep) as made:
        clock.quiet = lambda: made.requests_in_flight == 0
        yield made


async def test_seed_doi_gives_the_full_study(client, resolver, ncbi):
    """The seed DOI: Crossref's record, with PubMed's PMID, PMCID and sentence-case title."""
    answer = await client.lookup(SEED)
    assert answer == StudyAnswer("found", SEED_STUDY)
    assert len(resolver.requests) == 2  # doi.org, then the agency it redirects to
    assert [request.path for request in ncbi.requests] == [
        "/entrez/eutils/esearch.fcgi",
        "/entrez/eutils/esummary.fcgi",
    ]


async def test_seed_pmid_and_pmcid_give_the_same_study(client):
    """A PubMed or PMC id leads to the DOI and the same Study."""
    assert await client.lookup(StudyRef("pmid", SEED_PMID)) == StudyAnswer("found", SEED_STUDY)
    assert await client.lookup(StudyRef("pmcid", SEED_PMCID)) == StudyAnswer("found", SEED_STUDY)


async def test_requests_are_polite(client, resolver, ncbi):
    """Crossref sees the contact e-mail in the User-Agent; NCBI gets tool and email."""
    await client.lookup(SEED)
    agent = f"releasebot/{bot.__version__} (mailto:{CONTACT})"
    assert study_user_agent(CONTACT) == agent
    assert {request.headers["user-agent"] for request in resolver.requests + ncbi.requests} == {
        agent
    }
    assert {request.headers["accept"] for request in resolver.requests} == {
        "application/vnd.citationstyles.csl+json"
    }
    assert {(r.param("tool"), r.param("email"), r.param("retmode")) for r in ncbi.requests} == {
        ("releasebot", CONTACT, "json")
    }


async def test_unknown_ids_are_not_registered(client):
    """404 from the resolver, NCBI's "cannot get document summary": not registered."""
    for ref in (StudyRef("doi", "10.9999/none"), StudyRef("pmid", "1"), StudyRef("pmcid", "PMC1")):
        answer = await client.lookup(ref)
        assert (answer.state, answer.study) == ("not_registered", None)


async def test_late_registration_found_once_registered(client, resolver):
    """A DOI not registered yet is not_registered, then found once the agency has it."""
    resolver.later(SEED_DOI)
    assert (await client.lookup(SEED)).state == "not_registered"
    resolver.publish(SEED_DOI)
    assert await client.lookup(SEED) == StudyAnswer("found", SEED_STUDY)


async def test_429_is_a_retry_after_the_wait_asked(client, resolver, clock):
    """A 429's Retry-After comes back as the wait, and no request goes out before it passes."""
    resolver.rate_limited(SEED_DOI, retry_after="30")
    answer = await client.lookup(SEED)
    assert (answer.state, answer.retry_after) == ("retry", 30.0)
    sent = len(resolver.requests)
    again = await client.lookup(StudyRef("doi", "10.9999/other"))
    assert again.state == "retry"
    assert again.retry_after is not None
    assert 0 < again.retry_after <= 30
    assert len(resolver.requests) == sent  # held back: nothing sent during the wait
    clock.advance(30)
    assert await client.lookup(SEED) == StudyAnswer("found", SEED_STUDY)


async def test_slow_answer_is_a_retry(resolver, ncbi, clock):
    """An answer slower than [study] timeout is a retry (the caller backs off)."""
    resolver.slow(SEED_DOI, 2.0)
    settings = study_settings(resolver, ncbi, timeout=0.2)
    async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
        answer = await client.lookup(SEED)
    assert answer.state == "retry"
    assert "timed out after 0.2 s" in answer.error


async def test_server_errors_are_retries(client, resolver):
    """A 5xx is a retry; the next lookup finds the study."""
    resolver.failing(SEED_DOI, status=503)
    answer = await client.lookup(SEED)
    assert (answer.state, answer.retry_after) == ("retry", None)
    assert "HTTP 503" in answer.error
    assert (await client.lookup(SEED)).state == "found"


async def test_malformed_answer_fails_with_the_reason(client, resolver):
    """A body that is not CSL-JSON: failed, saying so."""
    resolver.malformed(SEED_DOI)
    answer = await client.lookup(SEED)
    assert answer.state == "failed"
    assert "not JSON" in answer.error


async def test_oversized_answer_fails(resolver, ncbi, clock):
    """An answer over the size cap is refused, not read whole."""
    async with StudyClient(
        study_settings(resolver, ncbi), clock=clock, sleep=clock.sleep, max_bytes=500
    ) as client:
        answer = await client.lookup(SEED)
    assert answer.state == "failed"
    assert "larger than 500 bytes" in answer.error


async def test_redirect_loop_fails(ncbi, clock):
    """A resolver that redirects in a loop is given up after a few hops."""
    with FeedServer() as loop:
        loop.redirect(f"/{SEED_DOI}", f"/{SEED_DOI}", status=302)
        settings = StudySettings(doi_resolver=loop.url("/"), ncbi_api=ncbi.url("/"), timeout=5.0)
        async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
            answer = await client.lookup(SEED)
        assert answer.state == "failed"
        assert "too many redirects" in answer.error
        assert loop.hits(f"/{SEED_DOI}") == 4


async def test_ncbi_down_still_finds_the_doi(client, ncbi):
    """NCBI failing costs PubMed's title and ids, not the study."""
    ncbi.failing(SEED_DOI, status=500)  # the esearch for the DOI
    answer = await client.lookup(SEED)
    assert answer.state == "found"
    assert answer.study is not None
    assert (answer.study.doi, answer.study.pmid, answer.study.pubmed_title) == (SEED_DOI, "", "")
    assert answer.study.title == SEED_STUDY.title
    assert "PubMed" in answer.error


async def test_pmid_with_ncbi_rate_limited_is_a_retry(client, ncbi):
    """For a PMID, NCBI is the only way in: its 429 is a retry."""
    ncbi.rate_limited(SEED_PMID, retry_after="5")
    answer = await client.lookup(StudyRef("pmid", SEED_PMID))
    assert (answer.state, answer.retry_after) == ("retry", 5.0)


async def test_429_without_retry_after_pauses_the_service(client, ncbi, clock):
    """NCBI's own 429 names no wait: the answer says none, and NCBI is left alone a moment."""
    ncbi.rate_limited(SEED_PMID, retry_after=None)
    answer = await client.lookup(StudyRef("pmid", SEED_PMID))
    assert (answer.state, answer.retry_after) == ("retry", None)
    sent = len(ncbi.requests)
    assert (await client.lookup(StudyRef("pmid", SEED_PMID))).state == "retry"
    assert len(ncbi.requests) == sent
    clock.advance(1.0)
    assert await client.lookup(StudyRef("pmid", SEED_PMID)) == StudyAnswer("found", SEED_STUDY)


async def test_pmid_without_doi_is_pubmeds_record(client, ncbi):
    """A PubMed record with no DOI is the study as PubMed describes it."""
    record = seed_pubmed() | {"uid": "1000", "articleids": [{"idtype": "pubmed", "value": "1000"}],
                              "elocationid": ""}  # fmt: skip
    ncbi.add("pubmed", record)
    answer = await client.lookup(StudyRef("pmid", "1000"))
    assert answer.state == "found"
    assert answer.study is not None
    assert (answer.study.pmid, answer.study.doi) == ("1000", "")
    assert answer.study.pubmed_title == SEED_STUDY.pubmed_title


def register_many(resolver: DoiResolver, ncbi: Ncbi, count: int) -> list[StudyRef]:
    """`count` studies the resolver knows, every other one in PubMed too."""
    refs = []
    for number in range(count):
        doi = f"10.5555/study.{number}"
        resolver.register(seed_csl() | {"DOI": doi, "title": f"Study {number}"})
        if number % 2 == 0:
            record = copy.deepcopy(seed_pubmed())
            record["uid"] = str(900 + number)
            record["articleids"] = [
                {"idtype": "pubmed", "value": record["uid"]},
                {"idtype": "doi", "value": doi},
            ]
            ncbi.add("pubmed", record)
        refs.append(StudyRef("doi", doi))
    return refs


def most_in_a_second(times: list[float]) -> int:
    """The most requests in any window (t - 1, t] of the given arrival times."""
    return max((sum(1 for other in times if t - 1 < other <= t) for t in times), default=0)


async def test_twenty_lookups_keep_five_requests_a_second(client, resolver, ncbi, clock):
    """20 lookups one after another: never more than 5 requests in any second across both
    services, never more than NCBI's 3, and so NCBI refuses none (virtual time)."""
    refs = register_many(resolver, ncbi, 20)
    answers = [await client.lookup(ref) for ref in refs]
    assert {answer.state for answer in answers} == {"found"}
    assert sum(1 for answer in answers if answer.study and answer.study.pmid) == 10
    assert most_in_a_second(resolver.times() + ncbi.times()) <= 5
    assert most_in_a_second(ncbi.times()) <= 3
    assert ncbi.refused == []
    assert len(resolver.requests) + len(ncbi.requests) == 20 * 2 + 10 * 2 + 10


async def test_concurrent_lookups_keep_the_rate(client, resolver, ncbi):
    """20 lookups at once are paced the same way."""
    refs = register_many(resolver, ncbi, 20)
    answers = await asyncio.gather(*(client.lookup(ref) for ref in refs))
    assert {answer.state for answer in answers} == {"found"}
    assert most_in_a_second(resolver.times() + ncbi.times()) <= 5
    assert ncbi.refused == []


def test_request_window_counts_a_rolling_second():
    """5 starts fit in a second; the sixth waits until the first leaves the window."""
    window = RequestWindow(5, 1.0)
    for step in range(5):
        assert window.wait(10.0 + step * 0.1) == 0.0
        window.record(10.0 + step * 0.1)
    assert window.wait(10.5) == pytest.approx(0.5)
    assert window.wait(10.99) == pytest.approx(0.01)
    assert window.wait(11.0) == 0.0  # the start at 10.0 is out of (10.0, 11.0]


def test_any_id_text_gives_an_answer():
    """Whatever a hostile feed puts where an id goes, a lookup answers and never raises."""
    with DoiResolver() as resolver, Ncbi(rate_limit=False) as ncbi:
        settings_ = study_settings(resolver, ncbi)

        async def lookup(ref: StudyRef) -> StudyAnswer:
            async with StudyClient(settings_) as client:
                return await client.lookup(ref)

        @settings(max_examples=40, deadline=None)
        @given(
            st.sampled_from(["doi", "pmid", "pmcid"]),
            st.sampled_from(["", "10.1523/", "doi:10.1/", "PMC", "https://doi.org/10.2/"])
            | st.just(SEED_DOI),
            st.text(max_size=30),
        )
        def check(kind: Any, prefix: str, text: str) -> None:
            answer = asyncio.run(lookup(StudyRef(kind, prefix + text)))
            assert answer.state in ("found", "not_registered", "failed")
            assert (answer.study is not None) == (answer.state == "found")

        check()
