"""The loopback fakes of doi.org/Crossref and NCBI answer as the real services document:
CSL-JSON by content negotiation, 404/406, E-utilities JSON, NCBI's rate limit."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.doi_resolver import CSL_TYPE, DoiResolver
from tests.fakes.ncbi import Ncbi
from tests.fakes.study_services import (
    SEED_DOI,
    SEED_PMID,
    SEED_TITLE_CROSSREF,
    SEED_TITLE_PUBMED,
)
from tests.fakes.virtual_time import VirtualClock

CSL = {"Accept": CSL_TYPE}


@pytest.fixture
def resolver():
    with DoiResolver() as server:
        yield server


@pytest.fixture
def ncbi():
    with Ncbi(rate_limit=False) as server:
        yield server


def test_resolver_negotiates_csl_json_through_a_redirect(resolver):
    """doi.org sends a CSL request on to the agency, which answers Crossref's CSL-JSON."""
    first = httpx.get(resolver.url(f"/{SEED_DOI}"), headers=CSL)
    assert first.status_code == 302
    answer = httpx.get(first.headers["location"], headers=CSL)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CSL_TYPE
    record = answer.json()
    assert record["type"] == "journal-article"
    assert record["title"] == SEED_TITLE_CROSSREF
    assert record["author"][0] == {
        "given": "Kimberly A.", "family": "Young", "sequence": "first", "affiliation": []
    }  # fmt: skip
    assert record["container-title"] == "The Journal of Neuroscience"
    assert record["issued"] == {"date-parts": [[2014, 4, 2]]}


def test_resolver_statuses(resolver):
    """Unknown DOI 404; a type Crossref cannot give 406; a browser gets the landing page."""
    assert httpx.get(resolver.url("/10.9999/nothing"), headers=CSL).status_code == 404
    odd = httpx.get(
        resolver.url(f"/{SEED_DOI}"), headers={"Accept": "image/png"}, follow_redirects=True
    )
    assert odd.status_code == 406
    browser = httpx.get(resolver.url(f"/{SEED_DOI.lower()}"), headers={"Accept": "text/html"})
    assert browser.status_code == 302
    assert browser.headers["location"] == f"http://dx.doi.org/{SEED_DOI}"


def test_resolver_troubles_and_late_registration(resolver):
    """429 with Retry-After once, a malformed body, and a DOI registered only later."""
    resolver.rate_limited(SEED_DOI, retry_after="7")
    limited = httpx.get(resolver.url(f"/{SEED_DOI}"), headers=CSL, follow_redirects=True)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert (
        httpx.get(resolver.url(f"/{SEED_DOI}"), headers=CSL, follow_redirects=True).status_code
        == 200
    )
    resolver.malformed(SEED_DOI, times=1)
    with pytest.raises(json.JSONDecodeError):
        httpx.get(resolver.url(f"/{SEED_DOI}"), headers=CSL, follow_redirects=True).json()
    resolver.later(SEED_DOI)
    assert httpx.get(resolver.url(f"/{SEED_DOI}"), headers=CSL).status_code == 404
    resolver.publish(SEED_DOI)
    assert (
        httpx.get(resolver.url(f"/{SEED_DOI}"), headers=CSL, follow_redirects=True).status_code
        == 200
    )


def test_resolver_records_every_request(resolver):
    """Each hop is logged with its headers (User-Agent, Accept) and time."""
    httpx.get(
        resolver.url(f"/{SEED_DOI}"), headers=CSL | {"User-Agent": "ua/1"}, follow_redirects=True
    )
    seen = resolver.requests
    assert [request.path for request in seen] == [f"/{SEED_DOI}", f"/works/{SEED_DOI}/transform"]
    assert {request.headers["user-agent"] for request in seen} == {"ua/1"}
    assert resolver.hits(SEED_DOI.lower()) == 2


def test_ncbi_esummary_as_documented(ncbi):
    """esummary JSON: header, result.uids, the record; an unknown uid gets NCBI's error entry."""
    answer = httpx.get(
        ncbi.url("/esummary.fcgi"),
        params={
            "db": "pubmed",
            "id": f"{SEED_PMID},1",
            "retmode": "json",
            "tool": "t",
            "email": "a@b.c",
        },
    ).json()
    assert answer["header"]["type"] == "esummary"
    assert answer["result"]["uids"] == [SEED_PMID, "1"]
    assert answer["result"][SEED_PMID]["title"] == SEED_TITLE_PUBMED
    assert {"idtype": "doi", "idtypen": 3, "value": SEED_DOI} in answer["result"][SEED_PMID][
        "articleids"
    ]
    assert answer["result"]["1"] == {"uid": "1", "error": "cannot get document summary"}
    assert ncbi.requests[0].param("tool") == "t"
    assert ncbi.requests[0].param("email") == "a@b.c"


def test_ncbi_esearch_and_defaults(ncbi):
    """esearch finds a PMID by DOI; no match says so; without retmode=json comes XML."""
    found = httpx.get(
        ncbi.url("/esearch.fcgi"),
        params={"db": "pubmed", "term": f"{SEED_DOI}[doi]", "retmode": "json"},
    ).json()
    assert found["esearchresult"]["idlist"] == [SEED_PMID]
    none = httpx.get(
        ncbi.url("/esearch.fcgi"), params={"db": "pubmed", "term": "10.1/x[doi]", "retmode": "json"}
    ).json()
    assert none["esearchresult"]["count"] == "0"
    assert none["esearchresult"]["idlist"] == []
    xml = httpx.get(ncbi.url("/esummary.fcgi"), params={"db": "pubmed", "id": SEED_PMID})
    assert xml.headers["content-type"].startswith("text/xml")


def test_ncbi_limits_three_requests_a_second():
    """A fourth request within a second (on the fake's clock) gets NCBI's 429 answer."""
    clock = VirtualClock()
    with Ncbi(clock=clock) as ncbi:
        params = {"db": "pubmed", "id": SEED_PMID, "retmode": "json"}
        statuses = [
            httpx.get(ncbi.url("/esummary.fcgi"), params=params).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        refused = httpx.get(ncbi.url("/esummary.fcgi"), params=params).json()
        assert refused["error"] == "API rate limit exceeded"
        clock.advance(1.0)
        assert httpx.get(ncbi.url("/esummary.fcgi"), params=params).status_code == 200
