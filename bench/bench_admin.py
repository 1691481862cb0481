"""Benchmark: admin commands answered in-process at 2,000 feeds and 100,000 releases.

"Answered" is everything but the network: `AdminService.handle` from bot/services/admin.py
(target chat, role from a cached getChatMember answer, rate limit, the store's queries and
writes with their audit rows, the new routing view handed on after a change, the reply's
HTML). getChatMember is answered in-process (`Members` below), as the Telegram adapter's
cache answers it for 60 s. Target: p95 under 20 ms for every command.

The store (a file in a temp dir, WAL, as the bot opens it) holds 2,000 feeds from the
config file and 100,000 releases (50 per feed), and 40 chat-made channels of 50 chat-made
routes each (so /set and /filter may change them). Commands run in one channel as its
administrator, and, for the bot-wide ones, in an owner's private chat. Changes alternate
with their undo (`/set f style mla`, then `default`) so every call changes something.
Baseline in the same run: the reader command /latest in the same channel (`Answers`).

Run from the repository root: `python -m bench.bench_admin [--runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import RUNS, Spread, check_runs, header, load, table  # noqa: E402
from bot.config import Settings, settings_from_dict  # noqa: E402
from bot.models import Release  # noqa: E402
from bot.render.command_args import Command  # noqa: E402
from bot.services.admin import AdminService  # noqa: E402
from bot.services.admin_context import AdminContext  # noqa: E402
from bot.services.admin_types import Actor, AdminRequest, Membership, Place  # noqa: E402
from bot.services.commands import Answers, ChatRef  # noqa: E402
from bot.services.config_sync import apply_config  # noqa: E402
from bot.store import Store  # noqa: E402

FEEDS, PER_FEED, CHANNELS, ROUTES_PER_CHANNEL = 2000, 50, 40, 50
OWNER, CHAT_ADMIN = 1, 10
CHANNEL = Place(-1000000, "channel", "Channel 0", "channel_0")
PRIVATE = Place(OWNER, "private", "Owner")
WARMUP, PER_ROUND = 10, 100
TARGET_MS = 20.0
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Members:
    """getChatMember and getChat answered in-process, as the adapter's cache would."""

    async def membership(self, chat_id: int, user_id: int) -> Membership:
        if user_id == CHAT_ADMIN:
            return Membership("administrator", can_post_messages=True)
        return Membership("left")

    async def chat(self, ref: int | str) -> Place | None:
        return CHANNEL if ref in (CHANNEL.chat_id, "@channel_0") else None


def config() -> Settings:
    feeds = [
        {"name": f"f{n}", "url": f"https://h{n % 100}.example.org/{n}.xml"} for n in range(FEEDS)
    ]
    return settings_from_dict(
        {"bot": {"admins": [OWNER]}, "admin": {"commands_per_minute": 10**9}, "feeds": feeds},
        Path("."),
    )


def build_store(path: Path, settings: Settings) -> Store:
    store = Store.open(path)
    apply_config(store, settings, START)
    with store.writing():
        for c in range(CHANNELS):
            store.add_chat_channel(f"channel-{c}", CHANNEL.chat_id - c, None)
            for r in range(ROUTES_PER_CHANNEL):
                store.add_chat_route(f"f{c * ROUTES_PER_CHANNEL + r}", f"channel-{c}", 0, now=START)
    for n in range(FEEDS):
        feed = f"f{n}"
        releases = [
            Release(
                feed=feed,
                key=f"{feed}-{i}",
                title=f"Release {i} of {feed} on health research and vaccines",
                link=f"https://h{n % 100}.example.org/{feed}/{i}",
                url=f"https://h{n % 100}.example.org/{feed}/{i}",
                published=START - timedelta(hours=i + n % 24),
                updated=None,
                author="",
                feed_author="",
                feed_title=feed,
                summary="A summary of the release. " * 8,
                language="en",
            )
            for i in range(PER_FEED)
        ]
        store.ingest(feed, releases, now=START, flood_limit=None)
    return store


Case = tuple[str, Place, int, tuple[str, ...]]  # label, chat, user, commands (alternating)

CASES: list[Case] = [
    ("subs (50 routes)", CHANNEL, CHAT_ADMIN, ("/subs",)),
    ("set style / default", CHANNEL, CHAT_ADMIN, ("/set f1 style mla", "/set f1 style default")),
    (
        "filter include / clear",
        CHANNEL,
        CHAT_ADMIN,
        ('/filter f2 include vaccine "health research"', "/filter f2 clear"),
    ),
    ("pause / resume one route", CHANNEL, CHAT_ADMIN, ("/pause f3", "/resume f3")),
    ("status (chat admin)", CHANNEL, CHAT_ADMIN, ("/status",)),
    ("export (50 feeds)", CHANNEL, CHAT_ADMIN, ("/export",)),
    ("status (owner, 2,000 feeds)", PRIVATE, OWNER, ("/status",)),
    ("audit 20 (owner)", PRIVATE, OWNER, ("/audit 20",)),
]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timings(call: Callable[[int], object], count: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for i in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        call(i)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=check_runs, default=RUNS, help=f"rounds (default {RUNS})")
    args = parser.parse_args()
    settings = config()
    print(header(args.runs), flush=True)
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store = build_store(Path(folder) / "bench.db", settings)
        built = time.perf_counter() - started
        clock = lambda: datetime.now(UTC)  # noqa: E731
        ctx = AdminContext(
            settings=settings,
            store=store,
            clock=clock,
            members=Members(),
            fetcher=None,
            bot_username="releasebot_bench_bot",
        )
        service = AdminService(ctx)
        answers = Answers(settings, store, clock, "releasebot_bench_bot")
        reader = ChatRef(CHANNEL.chat_id, "channel", "channel_0", None)

        def admin(place: Place, user: int, commands: tuple[str, ...]) -> Callable[[int], object]:
            def call(i: int) -> object:
                command, _, rest = commands[i % len(commands)].removeprefix("/").partition(" ")
                request = AdminRequest(command, rest, Actor(user, f"user{user}"), place)
                reply = loop.run_until_complete(service.handle(request))
                if reply is None:
                    raise SystemExit(f"no answer to {commands[i % len(commands)]}")
                return reply

            return call

        labels = ["latest (reader baseline)", *(case[0] for case in CASES)]
        calls = {
            "latest (reader baseline)": lambda i: answers.answer(
                Command("latest", "", False), reader
            )
        }
        for label, place, user, commands in CASES:
            calls[label] = admin(place, user, commands)
        for label, _, _, commands in CASES:  # what is measured answers as it should
            for i in range(len(commands)):
                reply = calls[label](i)
                first = str(getattr(reply, "text", "")).splitlines()[0][:90]
                print(f"  {commands[i]}: {first}", flush=True)
        walls: dict[str, list[list[float]]] = {label: [] for label in labels}
        cpus: dict[str, list[list[float]]] = {label: [] for label in labels}
        for _ in range(args.runs):
            for label in labels:
                timings(calls[label], WARMUP)
                wall, cpu = timings(calls[label], PER_ROUND)
                walls[label].append(wall)
                cpus[label].append(cpu)
        store.close()
    loop.close()
    print(
        f"{FEEDS:,} feeds, {FEEDS * PER_FEED:,} releases, {CHANNELS} chat-made channels of"
        f" {ROUTES_PER_CHANNEL} routes (built in {built:.0f} s); {WARMUP} warm-up and"
        f" {PER_ROUND} timed calls per command per round; load average {load()} at the end"
    )
    ms = "{:.2f}".format
    rows = [
        [
            "command",
            "p50 ms (median)",
            "p95 ms min",
            "p95 ms median",
            "p95 ms max",
            "CPU p95 ms min",
            "CPU p95 ms median",
            "CPU p95 ms max",
        ]
    ]
    worst = worst_cpu = 0.0
    for label in labels:
        rows.append(
            [
                label,
                ms(Spread.of(statistics.median(w) for w in walls[label]).median),
                *Spread.of(p95(w) for w in walls[label]).cells(ms),
                *Spread.of(p95(c) for c in cpus[label]).cells(ms),
            ]
        )
        if label != labels[0]:
            worst = max(worst, max(p95(w) for w in walls[label]))
            worst_cpu = max(worst_cpu, max(p95(c) for c in cpus[label]))
    print()
    print(table(rows))
    print()
    for kind, value in (("wall", worst), ("CPU", worst_cpu)):
        verdict = "met" if value < TARGET_MS else "MISSED"
        print(
            f"target p95 < {TARGET_MS:g} ms for every admin command in every round, {kind} time:"
            f" {verdict} (slowest p95 {value:.2f} ms)"
        )


if __name__ == "__main__":
    main()
