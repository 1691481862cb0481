"""End to end: /metrics and /healthz of the real `releasebot run` process, over HTTP.

The process runs against the fake Bot API and a loopback feed, with `[metrics] listen` on
a free port; the test scrapes while it runs and compares the counts with what the fake
Bot API received.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import __version__
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import ADMIN, CHANNEL_A, BotProcess, Item, one_channel_config, rss

READER = 2003


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_metrics(config: Path, port: int) -> Path:
    with config.open("a", encoding="utf-8") as out:
        out.write(f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    return config


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:  # not listening yet
        return 0, ""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(
    scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return scrape.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(time_scale=0.01) as fake:
        fake.add_chat(CHANNEL_A, "channel", title="A news")
        fake.add_chat(ADMIN, "private", title="Ada")
        yield fake


def test_a_running_bot_serves_metrics_matching_what_telegram_received(
    tmp_path: Path, api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """Three posts (one after a 429) and a /latest: the scrape says 3 sent, 1 retried, one
    429, 3 new releases, one /latest; /healthz is 200 with Telegram answering."""
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2), Item(3)))
    port = free_port()
    config = with_metrics(one_channel_config(tmp_path, api, url, tick="0.5s"), port)
    api.fail_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 1",
        chat=CHANNEL_A,
        parameters={"retry_after": 1},
    )
    bot = BotProcess(config, token=api.token)
    try:
        bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 3, "three posts")
        api.push_message(READER, "/latest", READER, first_name="Reader")
        bot.wait_for(lambda: len(api.messages(READER)) == 1, "the reply to /latest")

        def counted() -> bool:  # the gauges follow at the end of a round
            status, text = get(port, "/metrics")
            scrape = samples(text) if status == 200 else {}
            return (
                sample(scrape, "releasebot_commands_total", command="latest") == 1
                and sample(scrape, "releasebot_outbox_pending", channel="a-news") == 0
                and (
                    sample(scrape, "releasebot_feed_last_success_timestamp_seconds", feed="nida")
                    or 0
                )
                > 0
            )

        bot.wait_for(counted, "the scrape to show the command and an empty outbox")
        status, text = get(port, "/metrics")
        scrape = samples(text)
        sent = sample(scrape, "releasebot_deliveries_total", channel="a-news", result="sent")
        assert sent == len(api.messages(CHANNEL_A)) == 3
        assert sample(scrape, "releasebot_deliveries_total", channel="a-news", result="retry") == 1
        assert sample(scrape, "releasebot_telegram_429_total") == 1
        assert sample(scrape, "releasebot_telegram_retry_after_seconds_sum") == 1
        assert sample(scrape, "releasebot_new_releases_total", feed="nida") == 3
        assert (sample(scrape, "releasebot_polls_total", feed="nida", result="ok") or 0) >= 1
        assert sample(scrape, "releasebot_feed_consecutive_failures", feed="nida") == 0
        assert sample(scrape, "releasebot_channel_paused", channel="a-news") == 0
        assert sample(scrape, "releasebot_command_duration_seconds_count", command="latest") == 1
        assert (sample(scrape, "releasebot_poll_round_duration_seconds_count") or 0) >= 1
        assert sample(scrape, "releasebot_build_info", version=__version__) == 1
        assert (sample(scrape, "process_start_time_seconds") or 0) > 0
        status, body = get(port, "/healthz")
        health = json.loads(body)
        assert (status, health["status"], health["database"]) == (200, "ok", "writable")
        assert health["telegram"].startswith("answered ")
    finally:
        code = bot.terminate()
    assert code == 0
    assert get(port, "/healthz") == (0, "")  # closed with the run


def test_a_dry_run_serves_healthz_without_telegram(
    tmp_path: Path, api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """`run --dry-run` has no Telegram to hear from: /healthz says so and is 200; its
    printed posts are counted as such."""
    url = feed_server.serve("/nida.xml", rss(Item(1), Item(2)))
    port = free_port()
    config = with_metrics(one_channel_config(tmp_path, api, url, tick="0.5s"), port)
    bot = BotProcess(config, "--dry-run", token=None)
    try:

        def printed() -> bool:
            status, text = get(port, "/metrics")
            scrape = samples(text) if status == 200 else {}
            return (
                sample(scrape, "releasebot_deliveries_total", channel="a-news", result="printed")
                == 2
            )

        bot.wait_for(printed, "two printed posts counted")
        status, body = get(port, "/healthz")
        assert status == 200
        assert json.loads(body)["telegram"] == "not used (dry run)"
    finally:
        assert bot.terminate() == 0
    assert api.requests == []


def test_a_taken_metrics_port_is_a_config_error(
    tmp_path: Path, api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """An address the bot cannot listen on stops the run at start with exit 2, naming the key."""
    url = feed_server.serve("/nida.xml", rss(Item(1)))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        config = with_metrics(one_channel_config(tmp_path, api, url), port)
        bot = BotProcess(config, "--dry-run", token=None)
        assert bot.wait(timeout=30) == 2
    assert f"metrics.listen: cannot listen on 127.0.0.1:{port}" in bot.stderr
