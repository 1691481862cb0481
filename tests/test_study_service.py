"""The study lookup job against the real StudyClient and the loopback fakes of doi.org and
NCBI, on a virtual clock: found, not registered then registered, 429 and timeouts backed
off, give-up bounds, nothing asked when disabled, and the edit owed to a recent post."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config import StudySettings, settings_from_dict
from bot.fetch.studies import StudyAnswer, StudyClient
from bot.models import RouteSpec, RoutingView, StudyRef
from bot.services import studies as lookups
from bot.services.metrics import Metrics, refresh_gauges
from bot.services.reload import keep_running_values
from bot.services.studies import StudyLookups, miss_verdict, retry_backoff
from bot.store import Store
from tests.factories import make_release
from tests.fakes.doi_resolver import DoiResolver
from tests.fakes.ncbi import Ncbi
from tests.fakes.study_services import SEED_DOI, seed_csl
from tests.fakes.virtual_time import VirtualClock

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SEED = StudyRef("doi", SEED_DOI)
OTHER_DOI = "10.5555/other.study"
OTHER = StudyRef("doi", OTHER_DOI)
CONTACT = "ops@example.org"


@dataclass
class World:
    """The store, the fakes, the client and the job, on one virtual clock."""

    store: Store
    resolver: DoiResolver
    ncbi: Ncbi
    clock: VirtualClock
    client: StudyClient
    settings: StudySettings
    wakes: list[int] = field(default_factory=list)
    counted: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        return START + timedelta(seconds=self.clock.now - 1000.0)

    def job(self, **changes: Any) -> StudyLookups:
        settings = self.settings.model_copy(update=changes)
        return StudyLookups(
            self.store,
            self.client,
            settings,
            clock=self.now,
            wake=lambda: self.wakes.append(1),
            counted=self.counted.append,
        )

    def ingest(self, n: int, *refs: StudyRef) -> None:
        self.store.ingest("nida", [make_release(n, studies=refs)], now=self.now(), flood_limit=10)

    def state(self, ref: StudyRef) -> tuple[str, datetime | None]:
        lookup = self.store.study_lookup(ref)
        assert lookup is not None
        return lookup.state, lookup.retry_at

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def resolver(clock: VirtualClock) -> Iterator[DoiResolver]:
    with DoiResolver(clock=clock) as server:
        server.register(seed_csl() | {"DOI": OTHER_DOI, "title": "Another study"})
        yield server


@pytest.fixture
def ncbi(clock: VirtualClock) -> Iterator[Ncbi]:
    with Ncbi(clock=clock) as server:
        yield server


@pytest.fixture
async def world(tmp_path, resolver, ncbi, clock) -> AsyncIterator[World]:
    settings = StudySettings(
        doi_resolver=resolver.url("/"),
        ncbi_api=ncbi.url("/entrez/eutils/"),
        contact_email=CONTACT,
        timeout=10.0,
    )
    store = Store.open(tmp_path / "bot.db")
    store.sync_feeds([("nida", "https://example.org/feed")])
    store.sync_routes([("news", "@news")], [RouteSpec("nida", "news", 5)], now=START)
    async with StudyClient(settings, clock=clock, sleep=clock.sleep) as client:
        clock.quiet = lambda: client.requests_in_flight == 0
        yield World(store, resolver, ncbi, clock, client, settings)
    store.close()


def send_first_post(world: World, at: datetime) -> int:
    """The channel's first pending post, sent at `at`; its delivery id."""
    delivery = world.store.pending_for_channel("news", at)[0].delivery
    world.store.mark_sending(delivery.id)
    world.store.mark_sent(delivery.id, message_id=delivery.id + 100, now=at)
    return delivery.id


async def test_a_due_identifier_is_found_and_kept(world):
    """The seed DOI is looked up once; the release then shows its study."""
    world.ingest(1, SEED)
    report = await world.job().lookup_due()
    assert report.results == {"found": 1}
    assert world.state(SEED) == ("found", None)
    assert world.store.latest(1)[0].study is not None
    assert world.store.latest(1)[0].study.doi == SEED_DOI
    assert world.counted == ["found"]
    asked = len(world.resolver.requests)
    assert (await world.job().lookup_due()).looked_up == 0
    assert len(world.resolver.requests) == asked  # one lookup per DOI


async def test_newest_release_first_and_bounded_per_pass(world):
    """A pass takes at most its limit, the newest release's identifier first."""
    world.ingest(1, OTHER)
    world.ingest(2, SEED)
    job = world.job()
    job.limit = 1
    report = await job.lookup_due()
    assert (report.results, report.full) == ({"found": 1}, True)
    assert world.state(SEED)[0] == "found"
    assert world.state(OTHER)[0] == "pending"


async def test_not_registered_is_asked_again_a_day_later(world):
    """A DOI not registered yet is left alone for a day, then found once registered."""
    world.resolver.later(SEED_DOI)
    world.ingest(1, SEED)
    job = world.job()
    assert (await job.lookup_due()).results == {"not_registered": 1}
    assert world.state(SEED) == ("not_registered", world.now() + timedelta(days=1))
    world.resolver.publish(SEED_DOI)
    asked = len(world.resolver.requests)
    world.later(23 * 3600)
    assert (await job.lookup_due()).looked_up == 0
    assert len(world.resolver.requests) == asked
    world.later(3600)
    assert (await job.lookup_due()).results == {"found": 1}
    assert world.state(SEED) == ("found", None)


async def test_429_retry_after_is_respected(world):
    """A 429 with Retry-After: 120: nothing is asked of the resolver before 120 s have
    passed, not even about another DOI that became due meanwhile."""
    world.resolver.rate_limited(SEED_DOI, retry_after="120")
    world.ingest(1, SEED)
    job = world.job()
    started = world.now()
    report = await job.lookup_due()
    assert report.results == {"retry": 1}
    assert report.held == pytest.approx(120, abs=1)
    state, retry_at = world.state(SEED)
    assert state == "pending"
    assert retry_at is not None
    assert retry_at >= started + timedelta(seconds=120)
    asked = len(world.resolver.requests)
    world.ingest(2, OTHER)
    world.later(60)
    report = await job.lookup_due()
    assert (report.looked_up, report.held) == (0, pytest.approx(60, abs=1))
    assert len(world.resolver.requests) == asked
    world.later(61)
    assert (await job.lookup_due()).results == {"found": 2}


async def test_timeout_is_retried_with_backoff(world):
    """A slow answer is a retry a minute later, then two minutes; found once it is quick."""
    world.resolver.slow(SEED_DOI, 1.0)
    world.ingest(1, SEED)
    job = world.job()
    impatient = world.settings.model_copy(update={"timeout": 0.3})
    async with StudyClient(impatient, clock=world.clock, sleep=world.clock.sleep) as client:
        job.client = client
        world.clock.quiet = lambda: client.requests_in_flight == 0
        assert (await job.lookup_due()).results == {"retry": 1}
        assert world.state(SEED) == ("pending", world.now() + timedelta(minutes=1))
        world.later(30)
        assert (await job.lookup_due()).looked_up == 0
        world.later(30)
        assert (await job.lookup_due()).results == {"retry": 1}
        assert world.state(SEED) == ("pending", world.now() + timedelta(minutes=2))
    job.client = world.client  # a patient one: a quick answer is never cut short under load
    world.clock.quiet = lambda: world.client.requests_in_flight == 0
    world.resolver.clear(SEED_DOI)
    world.later(120)
    assert (await job.lookup_due()).results == {"found": 1}


async def test_server_errors_give_up_after_the_bound(world):
    """A DOI that always answers 503 is asked RETRY_TRIES times, then never again."""
    world.resolver.failing(SEED_DOI, status=503, times=None)
    world.ingest(1, SEED)
    job = world.job()
    for _ in range(lookups.RETRY_TRIES):
        await job.lookup_due()
        world.later(lookups.RETRY_CAP.total_seconds())
    assert world.state(SEED) == ("failed", None)
    assert world.counted[-1] == "gave_up"
    assert world.counted.count("retry") == lookups.RETRY_TRIES - 1
    asked = len(world.resolver.requests)
    world.later(30 * 86400)
    assert (await job.lookup_due()).looked_up == 0
    assert len(world.resolver.requests) == asked


async def test_not_registered_gives_up_after_a_week(world):
    """An unregistered DOI is asked daily for a week, then left as not registered."""
    world.ingest(1, StudyRef("doi", "10.9999/never"))
    job = world.job()
    for _ in range(lookups.NOT_REGISTERED_TRIES):
        assert (await job.lookup_due()).looked_up == 1
        world.later(86400)
    assert world.state(StudyRef("doi", "10.9999/never")) == ("not_registered", None)
    world.later(30 * 86400)
    assert (await job.lookup_due()).looked_up == 0


async def test_malformed_answer_fails_with_a_long_backoff_and_spares_the_others(world):
    """A malformed answer is failed, asked again hours later; the other DOI is still found."""
    world.resolver.malformed(SEED_DOI)
    world.ingest(1, OTHER)
    world.ingest(2, SEED)
    report = await world.job().lookup_due()
    assert report.results == {"failed": 1, "found": 1}
    assert world.state(SEED) == ("failed", world.now() + lookups.FAILED_AGAIN)
    assert world.state(OTHER) == ("found", None)


async def test_disabled_makes_no_request(world):
    """[study] enabled = false: no lookup, no request to either service, the row stays pending."""
    world.ingest(1, SEED)
    job = world.job(enabled=False)
    assert (await job.lookup_due()).looked_up == 0
    await asyncio.wait_for(job.run(sleep=world.clock.sleep), timeout=5)  # returns at once
    assert world.resolver.requests == []
    assert world.ncbi.requests == []
    assert world.state(SEED) == ("pending", None)


async def test_a_study_found_owes_an_edit_only_to_posts_within_the_window(world):
    """A post sent an hour ago is owed an edit (the dispatcher is woken); one sent two days
    ago, before the 24 h edit window, is left as it is."""
    world.resolver.later(SEED_DOI)
    world.ingest(1, SEED)
    world.ingest(2, SEED)
    job = world.job()
    await job.lookup_due()  # not registered yet: the posts go out without their study
    old = send_first_post(world, world.now())
    world.later(86400)
    assert (await job.lookup_due()).results == {"not_registered": 1}  # still not, a day on
    world.later(86400 - 3600)
    world.resolver.publish(SEED_DOI)
    recent = send_first_post(world, world.now())
    world.later(3600)  # two days after the first post: outside its edit window
    report = await job.lookup_due()
    assert (report.results, report.edits) == ({"found": 1}, 1)
    assert world.wakes == [1]
    owed = [item.delivery.id for item in world.store.edits_for_channel("news", world.now())]
    assert owed == [recent]
    assert old != recent


async def test_a_store_failure_is_logged_and_the_pass_ends(world, caplog):
    """The store cannot be read: the pass logs it and asks nothing, without raising."""
    world.ingest(1, SEED)
    world.store.close()
    report = await world.job().lookup_due()
    assert report.looked_up == 0
    assert world.resolver.requests == []
    assert "study lookups due failed" in caplog.text


async def test_run_looks_up_after_each_notify(world):
    """The job's task finds an identifier stored after it started, once told of new releases."""
    job = world.job()
    task = asyncio.create_task(job.run(sleep=world.clock.sleep, idle=3600))
    try:
        await asyncio.sleep(0.05)
        world.ingest(1, SEED)
        with world.clock.hold():
            job.notify()
            for _ in range(200):
                await asyncio.sleep(0.01)
                if world.store.study_lookup(SEED).state == "found":
                    break
        assert world.state(SEED) == ("found", None)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_backoff_and_give_up_bounds():
    """Retries wait 1, 2, 4 ... minutes, at most 6 h, and a longer Retry-After wins; each
    kind of miss is given up after its bound."""
    now = START
    assert [retry_backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert retry_backoff(50) == lookups.RETRY_CAP
    asked = miss_verdict(StudyAnswer("retry", retry_after=900), 1, now)
    assert asked.retry_at == now + timedelta(seconds=900)
    assert miss_verdict(StudyAnswer("retry"), lookups.RETRY_TRIES, now).retry_at is None
    last = miss_verdict(StudyAnswer("not_registered"), lookups.NOT_REGISTERED_TRIES, now)
    assert (last.state, last.retry_at) == ("not_registered", None)
    failed = [miss_verdict(StudyAnswer("failed"), n, now).retry_at for n in (1, 2, 3)]
    assert failed == [now + timedelta(hours=6), now + timedelta(hours=12), None]


async def test_metrics_count_lookups_by_result_and_the_pending(world):
    """/metrics: lookups by result, and the identifiers still pending after a round."""
    metrics = Metrics("test", clock=world.now, tick=60, telegram=False, process=False)
    world.resolver.failing(OTHER_DOI, status=503)
    world.ingest(1, OTHER)
    world.ingest(2, SEED)
    job = world.job()
    job.counted = metrics.study_looked_up
    await job.lookup_due()
    refresh_gauges(metrics, world.store, RoutingView(), world.now())
    text = metrics.exposition().decode()
    assert 'releasebot_study_lookups_total{result="found"} 1.0' in text
    assert 'releasebot_study_lookups_total{result="retry"} 1.0' in text
    assert "releasebot_study_lookups_pending 1.0" in text


def test_a_reload_keeps_the_services_but_takes_the_edit_window(tmp_path):
    """SIGHUP: a new contact or resolver waits for a restart (the client is built once, and
    the reload line says so); a new edit window applies to the next study found."""
    running = settings_from_dict({}, tmp_path)
    changed = {"study": {"contact_email": "new@example.org", "edit_window": "2h"}}
    loaded = settings_from_dict(changed, tmp_path)
    applied, restart = keep_running_values(running, loaded)
    assert restart == ["study.contact_email"]
    assert (applied.study.contact_email, applied.study.edit_window) == ("", 7200.0)


async def test_cite_study_now_owes_the_edit_of_a_recent_post(world):
    """`releasebot cite --study` finding the study makes the running bot edit a post sent
    within the window, as the job would."""
    from bot.services.study_now import study_now

    world.ingest(1, SEED)
    recent = send_first_post(world, world.now())
    release_id = world.store.latest(1)[0].id
    found = await study_now(world.settings, world.store, release_id, world.now(), world.client)
    assert found.study is not None
    owed = [item.delivery.id for item in world.store.edits_for_channel("news", world.now())]
    assert owed == [recent]


async def test_cite_study_now_follows_the_jobs_give_up_rule(world):
    """A DOI never registered, asked by `cite --study` once a day, is given up after the
    job's bound: not asked again after that."""
    from bot.services.study_now import study_now

    world.resolver.later(SEED_DOI)
    world.ingest(1, SEED)
    release_id = world.store.latest(1)[0].id
    for _ in range(lookups.NOT_REGISTERED_TRIES):
        await study_now(world.settings, world.store, release_id, world.now(), world.client)
        world.later(86400)
    assert world.state(SEED) == ("not_registered", None)
    asked = len(world.resolver.requests)
    await study_now(world.settings, world.store, release_id, world.now(), world.client)
    assert len(world.resolver.requests) == asked
