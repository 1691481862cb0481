"""Metrics and health (`[metrics]`), in the process: the real rounds of a running bot.

A real Store file, the real Poller and Dispatcher opened by `open_runtime` as `releasebot
run` opens them, the loopback feed server, the fake Bot API through PTB with the request
class the bot uses (`AnsweredRequest`). Rounds start with `start_round`, as the tick does.
Clocks are moved by hand: no test waits for a tick, a retry or Telegram's silence.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot import __version__
from bot.config import Settings, settings_from_dict
from bot.errors import ConfigError
from bot.services.config_sync import apply_config
from bot.services.dispatcher import Dispatcher
from bot.services.metrics import KNOWN_COMMANDS, TELEGRAM_PATIENCE, Metrics
from bot.services.metrics_server import serving
from bot.services.pacing import Pacer
from bot.services.reload import keep_running_values
from bot.store import Store
from bot.telegram.app import Runtime, open_runtime
from bot.telegram.dryrun import DryRunSender
from bot.telegram.observed import AnsweredRequest, tick_observed
from bot.telegram.rounds import run_round, start_round
from bot.telegram.sender import TelegramSender, make_bot
from tests.factories import make_release
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.fakes.virtual_time import VirtualClock
from tests.test_run_e2e import Item, rss

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TICK = 30.0
CHANNEL_A, CHANNEL_B = -1001, -1002


class Clock:
    """The bot's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings_for(tmp_path: Path, feeds: dict[str, str], **bot: Any) -> Settings:
    """Feeds routed to channel a-news; every feed is due at every tick."""
    return settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "bot.db"), "tick": TICK, **bot},
            "fetch": {"allow_private_addresses": True, "timeout": 5.0},
            "defaults": {"interval": 1, "backlog": 10},
            "feeds": [{"name": name, "url": url} for name, url in feeds.items()],
            "channels": [{"name": "a-news", "chat": CHANNEL_A, "feeds": list(feeds)}],
        },
        tmp_path,
    )


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def one_round(runtime: Runtime) -> None:
    """A tick's round, as the dry run's ticking starts it, awaited."""
    start_round(runtime, lambda: run_round(runtime, None, wait_for_sends=True))
    assert runtime.round is not None
    await runtime.round


@pytest.fixture
async def dry_run(
    tmp_path: Path, feed_server: FeedServer
) -> AsyncIterator[tuple[Runtime, Clock, FeedServer]]:
    """A dry run's runtime with metrics: feeds "nida" (3 releases) and "broken" (HTTP 500)."""
    clock = Clock()
    nida = feed_server.serve("/nida.xml", rss(Item(1), Item(2), Item(3)), etag='"v1"')
    broken = feed_server.serve("/broken.xml", b"down", status=500)
    settings = settings_for(tmp_path, {"nida": nida, "broken": broken})
    metrics = Metrics(__version__, clock=clock, tick=TICK, telegram=False)
    opening = open_runtime(
        settings,
        DryRunSender(io.StringIO()),
        clock=clock,
        bot_username="releasebot_test_bot",
        dry_run=True,
        metrics=metrics,
    )
    async with opening as runtime:
        runtime.online = True
        yield runtime, clock, feed_server


async def test_a_poll_round_counts_polls_new_releases_and_feed_states(
    dry_run: tuple[Runtime, Clock, FeedServer],
) -> None:
    """After two rounds: nida polled ok then not modified, 3 new releases, its last success
    and no failures; the failing feed polled twice with an error and 2 consecutive failures."""
    runtime, clock, _ = dry_run
    metrics = runtime.metrics
    assert metrics is not None
    await one_round(runtime)
    clock.advance(3600)  # past the failing feed's backoff
    await one_round(runtime)
    assert value(metrics, "releasebot_polls_total", feed="nida", result="ok") == 1
    assert value(metrics, "releasebot_polls_total", feed="nida", result="not_modified") == 1
    assert value(metrics, "releasebot_polls_total", feed="broken", result="error") == 2
    assert value(metrics, "releasebot_new_releases_total", feed="nida") == 3
    assert value(metrics, "releasebot_new_releases_total", feed="broken") is None
    last = value(metrics, "releasebot_feed_last_success_timestamp_seconds", feed="nida")
    assert last == clock().timestamp()
    assert value(metrics, "releasebot_feed_consecutive_failures", feed="nida") == 0
    assert value(metrics, "releasebot_feed_consecutive_failures", feed="broken") == 2
    assert value(metrics, "releasebot_feed_last_success_timestamp_seconds", feed="broken") is None
    # the dry run printed its three posts: nothing is owed any more
    assert value(metrics, "releasebot_deliveries_total", channel="a-news", result="printed") == 3
    assert value(metrics, "releasebot_outbox_pending", channel="a-news") == 0
    assert value(metrics, "releasebot_channel_paused", channel="a-news") == 0
    assert value(metrics, "releasebot_poll_round_duration_seconds_count") == 2
    assert value(metrics, "releasebot_build_info", version=__version__) == 1
    assert (value(metrics, "process_start_time_seconds") or 0) > 0


async def test_labels_are_feed_and_channel_names_and_fixed_words_only(
    dry_run: tuple[Runtime, Clock, FeedServer],
) -> None:
    """No release id, URL or error text in any series: feed and channel names, fixed words."""
    runtime, _, server = dry_run
    assert runtime.metrics is not None
    await one_round(runtime)
    allowed = {
        "feed": {"nida", "broken"},
        "channel": {"a-news"},
        "result": {"ok", "not_modified", "error", "sent", "edited", "failed", "retry", "printed"},
        "version": {__version__},
    }
    exposition = runtime.metrics.exposition().decode()
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            for label, text in sample.labels.items():
                if label != "le":  # a histogram's bucket bounds
                    assert text in allowed[label], (sample.name, label, text)
    assert "HTTP" not in exposition  # the error said "HTTP 500 ..."
    assert server.url("/") not in exposition


async def test_a_feed_and_channel_removed_from_the_view_lose_their_series(
    dry_run: tuple[Runtime, Clock, FeedServer], tmp_path: Path
) -> None:
    """A reload without feed "broken" (and with channel a-news renamed): at the next round
    no series names them any more; the kept feed's counters go on."""
    runtime, clock, server = dry_run
    assert runtime.metrics is not None
    await one_round(runtime)
    settings = settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "bot.db"), "tick": TICK},
            "fetch": {"allow_private_addresses": True},
            "defaults": {"interval": 1},
            "feeds": [{"name": "nida", "url": server.url("/nida.xml")}],
            "channels": [{"name": "b-news", "chat": CHANNEL_B, "feeds": ["nida"]}],
        },
        tmp_path,
    )
    runtime.reroute(settings, apply_config(runtime.store, settings, clock()))
    clock.advance(TICK)
    await one_round(runtime)
    exposition = runtime.metrics.exposition().decode()
    assert 'feed="broken"' not in exposition
    assert 'channel="a-news"' not in exposition
    assert 'releasebot_outbox_pending{channel="b-news"} 0.0' in exposition
    assert value(runtime.metrics, "releasebot_polls_total", feed="nida", result="ok") == 1


async def test_healthz_is_ok_while_the_scheduler_ticks(
    dry_run: tuple[Runtime, Clock, FeedServer],
) -> None:
    """Ticking, database writable, a dry run (no Telegram): 200 with the small JSON body."""
    runtime, clock, _ = dry_run
    assert runtime.metrics is not None
    await one_round(runtime)
    clock.advance(2 * TICK)
    report = runtime.metrics.health.report()
    assert report.status == 200
    assert report.body == {
        "status": "ok",
        "last_tick": NOW.isoformat(timespec="seconds"),
        "database": "writable",
        "telegram": "not used (dry run)",
    }


async def test_healthz_503_after_three_ticks_without_one(
    dry_run: tuple[Runtime, Clock, FeedServer],
) -> None:
    """No tick for more than three ticks: 503, saying for how long; the next tick heals it."""
    runtime, clock, _ = dry_run
    assert runtime.metrics is not None
    await one_round(runtime)
    clock.advance(3 * TICK)
    assert runtime.metrics.health.report().status == 200
    clock.advance(1)
    report = runtime.metrics.health.report()
    assert report.status == 503
    assert report.body["reason"] == "the scheduler has not ticked for 91 s"
    assert b"\nreleasebot_healthy 0.0\n" in runtime.metrics.exposition()  # for an alert
    await one_round(runtime)
    assert runtime.metrics.health.report().status == 200
    assert b"\nreleasebot_healthy 1.0\n" in runtime.metrics.exposition()


async def test_healthz_503_while_the_database_cannot_be_written(
    dry_run: tuple[Runtime, Clock, FeedServer],
) -> None:
    """A database that refuses writes (read-only, as after I/O errors): 503 from the next
    tick on, with SQLite's words; writable again: 200 at the tick after."""
    runtime, _, _ = dry_run
    assert runtime.metrics is not None
    runtime.store.db.execute("PRAGMA query_only = ON")
    tick_observed(runtime)
    report = runtime.metrics.health.report()
    assert report.status == 503
    assert report.body["database"] == "not writable"
    assert "attempt to write a readonly database" in str(report.body["reason"])
    runtime.store.db.execute("PRAGMA query_only = OFF")
    tick_observed(runtime)
    assert runtime.metrics.health.report().status == 200


async def test_healthz_503_when_telegram_stops_answering(tmp_path: Path) -> None:
    """Any Bot API answer through the bot's request class counts; none for 5 minutes: 503."""
    clock = Clock()
    metrics = Metrics(__version__, clock=clock, tick=TICK, telegram=True)
    with FakeBotAPI(time_scale=0.01) as api:
        async with make_bot(
            api.token, base_url=api.base_url, request=AnsweredRequest(metrics)
        ) as bot:  # initialising calls getMe
            metrics.health.ticked(None)
            clock.advance(10)
            assert metrics.health.report().body["telegram"] == "answered 10 s ago"
            for _ in range(11):  # the scheduler ticks on; Telegram says nothing
                clock.advance(TICK)
                metrics.health.ticked(None)
            report = metrics.health.report()
            assert report.status == 503
            assert report.body["reason"] == "Telegram has not answered for 340 s"
            assert TELEGRAM_PATIENCE < 340
            await bot.get_me()
            assert metrics.health.report().status == 200


def test_a_bot_that_never_reached_telegram_turns_unhealthy_after_the_patience() -> None:
    """Until Telegram first answers, the time since start counts."""
    clock = Clock()
    metrics = Metrics(__version__, clock=clock, tick=TICK, telegram=True, process=False)
    clock.advance(TELEGRAM_PATIENCE)
    metrics.health.ticked(None)
    assert metrics.health.report().status == 200
    clock.advance(1)
    report = metrics.health.report()
    assert report.status == 503
    assert "Telegram has not answered in the 301 s since start" in str(report.body["reason"])


# --- deliveries and 429s, against the fake Bot API ------------------------------------


@pytest.fixture
def api(vclock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotAPI]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22: retry_after as a timedelta
    with FakeBotAPI(time_scale=1.0, clock=vclock) as fake:
        fake.add_chat(CHANNEL_A, "channel", title="A news")
        fake.add_chat(CHANNEL_B, "channel", title="B news")
        yield fake


async def test_a_drain_counts_deliveries_by_channel_and_each_429(
    tmp_path: Path, api: FakeBotAPI, vclock: VirtualClock
) -> None:
    """Two posts to A after a 429 (retry_after 2), one refused post to B: the counts match
    what the fake Bot API received and answered."""
    clock = Clock()
    settings = settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "bot.db")},
            "defaults": {"backlog": 10},
            "feeds": [{"name": "nida", "url": "https://example.org/nida.xml"}],
            "channels": [
                {"name": "a-news", "chat": CHANNEL_A, "feeds": ["nida"]},
                {"name": "b-news", "chat": CHANNEL_B, "feeds": ["nida"]},
            ],
        },
        tmp_path,
    )
    metrics = Metrics(__version__, clock=clock, tick=TICK, telegram=True, process=False)
    store = Store.open(settings.database_path)
    under_way = 0

    class Counting(TelegramSender):
        async def send(self, chat: int | str, post: Any) -> int:
            nonlocal under_way
            under_way += 1
            try:
                return await super().send(chat, post)
            finally:
                under_way -= 1

    vclock.quiet = lambda: under_way == 0
    try:
        view = apply_config(store, settings, clock())
        store.ingest("nida", [make_release(1), make_release(2)], now=clock(), flood_limit=50)
        api.fail_next(
            "sendMessage",
            429,
            "Too Many Requests: retry after 2",
            chat=CHANNEL_A,
            parameters={"retry_after": 2},
        )
        api.fail_next("sendMessage", 400, "Bad Request: message is too long", chat=CHANNEL_B)
        async with make_bot(
            api.token, base_url=api.base_url, request=AnsweredRequest(metrics)
        ) as bot:
            dispatcher = Dispatcher(
                settings,
                store=store,
                sender=Counting(bot),
                clock=clock,
                pacer=Pacer(clock=vclock, sleep=vclock.sleep),
                bot_username=bot.username,
                view=view,
                metrics=metrics,
            )
            await dispatcher.drain()
    finally:
        store.close()
    assert len(api.messages(CHANNEL_A)) == 2
    assert len(api.messages(CHANNEL_B)) == 1
    assert value(metrics, "releasebot_deliveries_total", channel="a-news", result="sent") == 2
    assert value(metrics, "releasebot_deliveries_total", channel="a-news", result="retry") == 1
    assert value(metrics, "releasebot_deliveries_total", channel="b-news", result="failed") == 1
    assert value(metrics, "releasebot_deliveries_total", channel="b-news", result="sent") == 1
    assert value(metrics, "releasebot_telegram_429_total") == 1
    assert value(metrics, "releasebot_telegram_retry_after_seconds_count") == 1
    assert value(metrics, "releasebot_telegram_retry_after_seconds_sum") == 2
    assert value(metrics, "releasebot_telegram_retry_after_seconds_bucket", le="1.0") == 0
    assert value(metrics, "releasebot_telegram_retry_after_seconds_bucket", le="2.0") == 1


# --- commands ---------------------------------------------------------------------------


@given(st.text(max_size=70))
def test_command_labels_are_known_names_or_other(name: str) -> None:
    """Whatever a user types as a command, its label is a known command name or "other"."""
    metrics = Metrics(__version__, clock=Clock(), tick=TICK, telegram=False, process=False)
    with metrics.command(name):
        pass
    [family] = [f for f in metrics.registry.collect() if f.name == "releasebot_commands"]
    labels = {sample.labels["command"] for sample in family.samples}
    assert labels == {name if name in KNOWN_COMMANDS else "other"}


# --- the HTTP endpoint ------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def test_the_endpoint_serves_metrics_and_healthz_over_http() -> None:
    """GET /metrics is Prometheus text; /healthz JSON with its status; others 404."""
    clock = Clock()
    metrics = Metrics(__version__, clock=clock, tick=TICK, telegram=False)
    metrics.health.ticked(None)
    port = free_port()
    async with serving(metrics, "127.0.0.1", port), httpx.AsyncClient() as client:
        scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=")
        assert f'releasebot_build_info{{version="{__version__}"}} 1.0' in scraped.text
        assert re.search(r"^process_resident_memory_bytes \S+$", scraped.text, re.M)
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        clock.advance(4 * TICK)
        health = await client.get(f"http://127.0.0.1:{port}/healthz?verbose")
        assert health.status_code == 503
        assert "not ticked" in health.json()["reason"]
        assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 404
        assert (await client.post(f"http://127.0.0.1:{port}/metrics")).status_code == 405


async def test_the_endpoint_listens_on_ipv6_loopback() -> None:
    """`[::1]:port` serves as 127.0.0.1 does."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        port = free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    metrics = Metrics(__version__, clock=Clock(), tick=TICK, telegram=False, process=False)
    settings = settings_from_dict({"metrics": {"listen": f"[::1]:{port}"}}, Path("."))
    assert settings.metrics.address == ("::1", port)
    async with serving(metrics, "::1", port), httpx.AsyncClient() as client:
        answer = await client.get(f"http://[::1]:{port}/healthz")
    assert answer.status_code == 200


# --- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        (" localhost:80 ", ("localhost", 80)),
    ],
)
def test_metrics_listen_takes_host_port(listen: str, address: tuple[str, int]) -> None:
    """IPv4, bracketed IPv6 and host names; unset means off."""
    settings = settings_from_dict({"metrics": {"listen": listen}}, Path("."))
    assert settings.metrics.address == address
    assert settings_from_dict({}, Path(".")).metrics.address is None


@pytest.mark.parametrize(
    ("listen", "problem"),
    [
        ("9464", "is not an address"),
        ("::1:9464", "an IPv6 address goes in brackets"),
        ("[::zz]:9464", "is not an IPv6 address"),
        ("local host:9464", "is not a host name or address"),
        ("127.0.0.1:0", "is not a port (1-65535)"),
        ("127.0.0.1:65536", "is not a port (1-65535)"),
        ("127.0.0.1:http", "is not a port (1-65535)"),
    ],
)
def test_a_bad_metrics_listen_is_a_config_problem(listen: str, problem: str) -> None:
    """Each bad address is named under its key, with the form to use."""
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"metrics": {"listen": listen}}, Path("."))
    [line] = caught.value.problems
    assert line.startswith("metrics.listen: ")
    assert problem in line
    assert "'127.0.0.1:9464'" in line


def test_the_loop_is_not_blocked_by_a_slow_scraper() -> None:
    """A client that connects and says nothing is dropped after the read timeout, and other
    scrapes are answered meanwhile."""

    async def scenario() -> int:
        metrics = Metrics(__version__, clock=Clock(), tick=TICK, telegram=False, process=False)
        metrics.health.ticked(None)
        port = free_port()
        async with serving(metrics, "127.0.0.1", port):
            _, writer = await asyncio.open_connection("127.0.0.1", port)  # says nothing
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            writer.close()
            return answer.status_code

    assert asyncio.run(scenario()) == 200


def test_a_reload_keeps_the_running_metrics_address(tmp_path: Path) -> None:
    """The endpoint is bound at start: a reload that changes `listen` (or turns it off)
    keeps the running one and names the key among those waiting for a restart."""
    running = settings_from_dict({"metrics": {"listen": "127.0.0.1:9464"}}, tmp_path)
    for wanted in ({"metrics": {"listen": "0.0.0.0:9100"}}, {}):
        applied, restart = keep_running_values(running, settings_from_dict(wanted, tmp_path))
        assert restart == ["metrics.listen"]
        assert applied.metrics.address == ("127.0.0.1", 9464)
