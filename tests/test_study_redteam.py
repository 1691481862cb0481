"""Red-team checks of the study lookup: hostile redirects, hostile feed text, shapes of
metadata the seed does not have, and the store's queries at scale."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.config import StudySettings
from bot.fetch.studies import StudyClient
from bot.models import StudyRef
from tests.fakes.feed_server import FeedServer
from tests.fakes.ncbi import Ncbi
from tests.fakes.study_services import SEED_DOI, seed_csl
from tests.fakes.virtual_time import VirtualClock

SEED = StudyRef("doi", SEED_DOI)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def ncbi(clock: VirtualClock) -> Iterator[Ncbi]:
    with Ncbi(clock=clock) as server:
        yield server


async def test_resolver_redirect_to_a_private_address_is_refused(ncbi, clock):
    """A redirect from the DOI resolver to another, non-public host is not followed: the
    bot never becomes a way into the operator's own network."""
    with FeedServer() as inside, FeedServer() as resolver:
        inside.serve("/metadata", json.dumps(seed_csl()).encode())
        # Another origin (a name for a loopback address): only the configured services are trusted.
        resolver.redirect(f"/{SEED_DOI}", f"http://localhost:{inside.port}/metadata", status=302)
        settings = StudySettings(
            doi_resolver=resolver.url("/"), ncbi_api=ncbi.url("/"), timeout=5.0
        )
        async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
            answer = await client.lookup(SEED)
        assert answer.state == "failed"
        assert "non-public" in answer.error
        assert inside.hits("/metadata") == 0


async def test_resolver_redirect_within_its_own_origin_is_followed(ncbi, clock):
    """The configured resolver may send the lookup on to itself (loopback in tests)."""
    with FeedServer() as resolver:
        resolver.serve("/agency", json.dumps(seed_csl()).encode())
        resolver.redirect(f"/{SEED_DOI}", resolver.url("/agency"), status=302)
        settings = StudySettings(
            doi_resolver=resolver.url("/"), ncbi_api=ncbi.url("/entrez/eutils/"), timeout=5.0
        )
        async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
            answer = await client.lookup(SEED)
        assert answer.state == "found"
