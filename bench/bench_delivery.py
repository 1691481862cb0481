"""Benchmark: delivering posts under Telegram's real rate windows, against the strict fake Bot API.

(a) one new release routed to 300 channels. Bound 9 s: at most 30 messages in any 1 s
    overall, so 300 sends span at least 9 s. Target: at most 1.1 x the bound, zero 429s.
(b) 40 new releases to one channel. Bound 79 s: at most 20 messages in any 60 s per
    channel and 1 per second per chat. Target: at most 1.05 x the bound, zero 429s.

"release-bot" is the real Dispatcher (SQLite store in a temp dir, post rendering, the
Pacer, TelegramSender, the PTB Application `releasebot run` builds), timed around
`drain()`. Baselines, in the same run, send the same rendered posts (chats in parallel,
each chat's posts in order; a 429 makes the caller wait `retry_after` and send again):
  - PTB's AIORateLimiter with its defaults (30/s overall, 20/60 s per group, no per-chat
    limit, max_retries=0), the usual way to rate-limit a PTB bot;
  - aiolimiter leaky buckets tight enough never to break a window: 1 per 1/30 s
    overall, 1 per s per chat, 1 per 3 s per channel (a leaky bucket of 20/60 s lets
    up to 40 through in one 60 s window).

The fake server (time_scale=1.0: the real windows) runs in its own process, so it
shares no GIL with the code measured; each measurement gets a fresh server.

Each sender runs --runs times (default 5), round by round, and the table gives min, median
and max; --baseline-runs runs the baselines fewer times (scenario (b) takes ~5 min a round).

Run from the repository root:
`python bench/bench_delivery.py [--only a|b] [--no-baselines] [--runs N] [--baseline-runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/x.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(REPO))

from telegram import Bot  # noqa: E402
from telegram.error import RetryAfter  # noqa: E402
from telegram.ext import ApplicationBuilder  # noqa: E402

from bench.common import RUNS, Spread, check_runs, header, load, table  # noqa: E402
from bot.config import Settings, settings_from_dict  # noqa: E402
from bot.models import Publisher, Release  # noqa: E402
from bot.render.post import Post, PostOptions, render_post  # noqa: E402
from bot.services.config_sync import sync_config  # noqa: E402
from bot.services.dispatcher import Dispatcher  # noqa: E402
from bot.services.pacing import Pacer  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.telegram.application import build_application  # noqa: E402
from bot.telegram.sender import TelegramSender, _markup  # noqa: E402
from tests.factories import make_release  # noqa: E402

PUBLISHER = Publisher(name="National Institute on Drug Abuse", short_name="NIDA")


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    channels: int
    releases: int
    bound: float
    target: float


SCENARIOS = (
    Scenario("a", "1 release to 300 channels", 300, 1, 9.0, 1.10),
    Scenario("b", "40 releases to 1 channel", 1, 40, 79.0, 1.05),
)


def chat_ids(count: int) -> list[int]:
    return [-1_000_000_000_000 - n for n in range(1, count + 1)]


def release(n: int) -> Release:
    return make_release(
        n,
        title=f"Release {n}: new findings on adolescent substance use & treatment",
        link=f"https://example.org/releases/{n}",
        summary=("A summary sentence about the study and what it found. " * 12).strip(),
    )


# --- the fake Bot API in a process of its own -------------------------------------------


def _serve_fake(chats: list[int], conn: Connection) -> None:
    from tests.fakes.bot_api import FakeBotAPI

    with FakeBotAPI(time_scale=1.0) as api:
        for chat in chats:
            api.add_chat(chat, "channel")
        conn.send((api.base_url, api.token))
        while True:
            command = conn.recv()
            if command == "stats":
                received = {chat: [m.html for m in api.messages(chat)] for chat in chats}
                conn.send({"rate_limited": api.rate_limited_count, "received": received})
            else:
                conn.send(None)
                return


class FakeProcess:
    """A fresh FakeBotAPI with real windows, `chats` registered as channels."""

    def __init__(self, chats: list[int]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fake, args=(chats, child), daemon=True)

    def __enter__(self) -> FakeProcess:
        self._process.start()
        self.base_url, self.token = self._conn.recv()
        return self

    def stats(self) -> dict[str, Any]:
        self._conn.send("stats")
        result: dict[str, Any] = self._conn.recv()
        return result

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._process.join(timeout=10)


# --- what is measured -------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    name: str
    seconds: float
    rate_limited: int  # 429s the fake answered
    delivered: int
    in_order: bool


def bench_settings(scenario: Scenario, chats: list[int], base_url: str, folder: Path) -> Settings:
    data = {
        "bot": {"database": str(folder / "bench.db"), "api_base_url": base_url},
        "defaults": {"backlog": scenario.releases, "flood_limit": max(10, scenario.releases)},
        "feeds": [
            {
                "name": "nida",
                "url": "https://example.org/nida.xml",
                "publisher": PUBLISHER.name,
                "short_name": PUBLISHER.short_name,
            }
        ],
        "channels": [
            {"name": f"c{i}", "chat": chat, "feeds": ["nida"]} for i, chat in enumerate(chats)
        ],
    }
    return settings_from_dict(data, folder)


async def run_release_bot(scenario: Scenario, fake: FakeProcess, chats: list[int]) -> float:
    """The real dispatcher drains the outbox the store wrote; returns seconds for drain()."""
    with tempfile.TemporaryDirectory() as folder:
        settings = bench_settings(scenario, chats, fake.base_url, Path(folder))
        store = Store.open(settings.database_path)
        try:
            now = datetime.now(UTC)
            sync_config(store, settings, now)
            releases = [release(n) for n in range(1, scenario.releases + 1)]
            store.ingest("nida", releases, now=now, flood_limit=scenario.releases)
            app = build_application(settings, fake.token)
            async with app:
                dispatcher = Dispatcher(
                    settings,
                    store=store,
                    sender=TelegramSender(app.bot),
                    clock=lambda: datetime.now(UTC),
                    pacer=Pacer(),
                    bot_username=app.bot.username,
                )
                start = time.perf_counter()
                report = await dispatcher.drain()
                elapsed = time.perf_counter() - start
        finally:
            store.close()
    expected = scenario.channels * scenario.releases
    if report.sent != expected:
        raise RuntimeError(f"sent {report.sent} of {expected}")
    return elapsed


def rendered_posts(scenario: Scenario) -> list[Post]:
    options = PostOptions("apa", 600, True, "releasebot_test_bot")
    return [
        render_post(release(n), PUBLISHER, release_id=n, options=options, accessed=date.today())
        for n in range(1, scenario.releases + 1)
    ]


Send = Callable[[int, Post], Awaitable[None]]


async def send_all(chats: list[int], posts: list[Post], send: Send) -> float:
    """Chats in parallel, each chat's posts in order; a 429 waits retry_after and resends."""

    async def one_chat(chat: int) -> None:
        for post in posts:
            while True:
                try:
                    await send(chat, post)
                    break
                except RetryAfter as exc:
                    wait = exc.retry_after
                    await asyncio.sleep(wait if isinstance(wait, int) else wait.total_seconds())

    start = time.perf_counter()
    await asyncio.gather(*(one_chat(chat) for chat in chats))
    return time.perf_counter() - start


async def _send_with(bot: Bot, chat: int, post: Post) -> None:
    await bot.send_message(
        chat, post.text, parse_mode="HTML", reply_markup=_markup(post), read_timeout=30
    )


async def run_aioratelimiter(scenario: Scenario, fake: FakeProcess, chats: list[int]) -> float:
    from telegram.ext import AIORateLimiter  # the `bench` extra (aiolimiter); baselines only

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .connection_pool_size(64)
        .pool_timeout(30.0)
        .rate_limiter(AIORateLimiter())
        .build()
    )
    async with app:
        return await send_all(
            chats, rendered_posts(scenario), lambda chat, post: _send_with(app.bot, chat, post)
        )


async def run_tight_buckets(scenario: Scenario, fake: FakeProcess, chats: list[int]) -> float:
    from aiolimiter import AsyncLimiter  # the `bench` extra; baselines only

    overall = AsyncLimiter(1, 1 / 30)
    per_chat = {chat: AsyncLimiter(1, 1) for chat in chats}
    per_channel = {chat: AsyncLimiter(1, 3) for chat in chats}
    async with AsyncExitStack() as stack:
        bot = await stack.enter_async_context(
            Bot(fake.token, base_url=fake.base_url, request=_request())
        )

        async def send(chat: int, post: Post) -> None:
            async with per_channel[chat], per_chat[chat], overall:
                await _send_with(bot, chat, post)

        return await send_all(chats, rendered_posts(scenario), send)


def _request() -> Any:
    from telegram.request import HTTPXRequest

    return HTTPXRequest(connection_pool_size=64, pool_timeout=30.0)


Runner = Callable[[Scenario, FakeProcess, list[int]], Coroutine[Any, Any, float]]


def measure(name: str, runner: Runner, scenario: Scenario) -> Result:
    chats = chat_ids(scenario.channels)
    with FakeProcess(chats) as fake:
        seconds = asyncio.run(runner(scenario, fake, chats))
        stats = fake.stats()
    received: dict[int, list[str]] = stats["received"]
    delivered = sum(len(texts) for texts in received.values())
    in_order = all(
        [text.split(":", 1)[0] for text in texts]
        == [f"<b>Release {n}" for n in range(1, len(texts) + 1)]
        for texts in received.values()
    )
    expected = scenario.channels * scenario.releases
    if delivered != expected:
        raise RuntimeError(f"{name}: the fake received {delivered} posts of {expected}")
    return Result(name, seconds, stats["rate_limited"], delivered, in_order)


# --- report -----------------------------------------------------------------------------


def summary_row(scenario: Scenario, name: str, results: list[Result]) -> list[str]:
    """One README row: seconds and x bound as min / median / max over the runs."""
    seconds = Spread.of(r.seconds for r in results)
    limited = Spread.of(r.rate_limited for r in results)
    return [
        f"{scenario.key}: {scenario.title}",
        name,
        str(seconds.runs),
        *seconds.cells(lambda v: f"{v:.2f}"),
        *seconds.cells(lambda v: f"{v / scenario.bound:.3f}x"),
        f"{limited.min:.0f} to {limited.max:.0f}",
        f"{min(r.delivered for r in results)}",
        "yes" if all(r.in_order for r in results) else "NO",
    ]


HEADER = [
    "scenario",
    "sender",
    "runs",
    "min s",
    "median s",
    "max s",
    "min x bound",
    "median x bound",
    "max x bound",
    "429s per run",
    "delivered",
    "in order",
]


def verdict(scenario: Scenario, results: list[Result]) -> tuple[bool, str]:
    """Target met on the median run (and said whether on every run), zero 429s in all."""
    seconds = Spread.of(r.seconds for r in results)
    no_429 = all(r.rate_limited == 0 for r in results)
    median_ok = seconds.median / scenario.bound <= scenario.target and no_429
    every_ok = seconds.max / scenario.bound <= scenario.target and no_429
    text = (
        f"{scenario.key}: release-bot {seconds.median / scenario.bound:.3f}x "
        f"the {scenario.bound:g} s bound (median; max {seconds.max / scenario.bound:.3f}x), "
        f"{'no' if no_429 else 'SOME'} 429s; target <= {scenario.target:g}x: "
        f"{'met' if median_ok else 'MISSED'}"
        f"{'' if every_ok == median_ok else ' (not on every run)'}"
    )
    return median_ok, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=[s.key for s in SCENARIOS])
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--runs", type=check_runs, default=RUNS, help=f"runs of release-bot (default {RUNS})"
    )
    parser.add_argument(
        "--baseline-runs",
        type=int,
        help="runs of each baseline (default: as --runs; fewer saves minutes in (b))",
    )
    args = parser.parse_args()
    baseline_runs = args.runs if args.baseline_runs is None else args.baseline_runs
    runners: list[tuple[str, Runner, int]] = [("**release-bot**", run_release_bot, args.runs)]
    if not args.no_baselines:
        runners += [
            ("PTB AIORateLimiter (defaults)", run_aioratelimiter, baseline_runs),
            ("aiolimiter, tight buckets", run_tight_buckets, baseline_runs),
        ]
    print(f"{header(args.runs)}; fake Bot API time_scale=1.0", flush=True)
    if baseline_runs != args.runs:
        print(f"(baselines: {baseline_runs} runs each)", flush=True)
    rows = [HEADER]
    verdicts: list[tuple[bool, str]] = []
    for scenario in SCENARIOS:
        if args.only and scenario.key != args.only:
            continue
        results: dict[str, list[Result]] = {name: [] for name, _, _ in runners}
        # Round by round, senders taking turns, so that load from other jobs falls on all.
        for run in range(max(runs for _, _, runs in runners)):
            for name, runner, runs in runners:
                if run < runs:
                    result = measure(name, runner, scenario)
                    results[name].append(result)
                    print(
                        f"  {scenario.key} run {run + 1}: {name} {result.seconds:.2f} s, "
                        f"{result.rate_limited} 429s",
                        file=sys.stderr,
                        flush=True,
                    )
        rows += [summary_row(scenario, name, results[name]) for name, _, _ in runners]
        verdicts.append(verdict(scenario, results[runners[0][0]]))
    print(f"load average {load()} at the end")
    print()
    print(table(rows))
    print()
    for _, text in verdicts:
        print(text)
    return 0 if all(ok for ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
