"""Benchmark: /latest, /cite and /search answered in-process with 100,000 stored releases.

"Answered" is everything but the network: `Answers.answer` from bot/services/commands.py,
i.e. the chat's scope, the store query and the pure renderer, down to the reply's HTML and
keyboard. Target: p95 under 10 ms for each command.

The store (a file in a temp dir, WAL, as the bot opens it) holds 100,000 generated
releases of 21 feeds, ingested as a running bot would: polls of every feed in turn, so
each feed's releases are spread over the id range. Titles and summaries are drawn from a
Zipf-distributed vocabulary of 20,000 words plus real words at fixed rates ("health" in
about a quarter of the releases, "research" in a fifth, "vaccine" in 3 %, "COVID-19" in
2 %, "NIH's" in 1 %). Feed `small` holds 200 old releases only.

Each command is asked in three chats: a private chat (all feeds), a channel routed two
feeds, and a channel routed only `small` (its numbers are reported apart: a common word
there is the search's slow path). Each variant runs 30 warm-up and 300 timed answers.

Run from the repository root: `python -m bench.bench_commands [--releases N]`.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import machine, table, today  # noqa: E402
from bot.config import Settings, settings_from_dict  # noqa: E402
from bot.models import Release  # noqa: E402
from bot.render.command_args import Command  # noqa: E402
from bot.services.commands import Answers, ChatRef  # noqa: E402
from bot.services.config_sync import sync_config  # noqa: E402
from bot.store import Store  # noqa: E402

FEEDS = [f"agency{n:02d}" for n in range(20)]
SMALL = "small"
SMALL_SIZE = 200
BATCH = 250  # releases per poll of one feed
EDT = timezone(timedelta(hours=-4))
FIXED_WORDS = {"health": 0.25, "research": 0.2, "vaccine": 0.03, "COVID-19": 0.02, "NIH's": 0.01}
PRIVATE = ChatRef(77, "private", "", 77)
CHANNEL = ChatRef(-1001, "channel", "two_feeds", None)
SMALL_CHANNEL = ChatRef(-1002, "channel", "small_feed", None)
WARMUP, RUNS = 30, 300


def config() -> Settings:
    feeds = [{"name": n, "url": f"https://{n}.example.org/feed", "publisher": n} for n in FEEDS]
    feeds.append({"name": SMALL, "url": "https://small.example.org/feed", "short_name": "S"})
    return settings_from_dict(
        {
            "feeds": feeds,
            "channels": [
                {"name": "two", "chat": "@two_feeds", "feeds": FEEDS[:2]},
                {"name": "small", "chat": "@small_feed", "feeds": [SMALL]},
            ],
        },
        Path("."),
    )


class Writer:
    """Generated press-release text: Zipf words plus a few real ones at fixed rates."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.vocabulary = [f"w{n}" for n in range(20_000)]
        self.cumulative = list(itertools.accumulate(1 / (n + 1) for n in range(20_000)))

    def words(self, count: int) -> list[str]:
        return self.rng.choices(self.vocabulary, cum_weights=self.cumulative, k=count)

    def release(self, feed: str, n: int, when: datetime) -> Release:
        title = self.words(self.rng.randint(6, 12))
        for word, rate in FIXED_WORDS.items():
            if self.rng.random() < rate:
                title.insert(self.rng.randrange(len(title) + 1), word)
        url = f"https://{feed}.example.org/news/{n}"
        return Release(
            feed=feed,
            key=url,
            title=" ".join(title).capitalize(),
            link=f"{url}?utm_source=rss",
            url=url,
            published=when,
            updated=None,
            author="",
            feed_author="",
            feed_title=f"{feed} news",
            summary=" ".join(self.words(self.rng.randint(40, 90))),
            language="en",
        )


def build_store(path: Path, settings: Settings, total: int) -> Store:
    """Fill a store the way polling would: batches of every feed in turn, oldest first."""
    store = Store.open(path)
    sync_config(store, settings, datetime.now(UTC))
    writer = Writer()
    start = datetime(2010, 1, 1, 9, 0, tzinfo=EDT)
    small = [writer.release(SMALL, n, start + timedelta(days=n)) for n in range(SMALL_SIZE)]
    store.ingest(SMALL, small, now=datetime.now(UTC), flood_limit=10**6)
    per_feed = (total - SMALL_SIZE) // len(FEEDS)
    step = timedelta(minutes=(14 * 365 * 24 * 60) // per_feed)
    for first in range(0, per_feed, BATCH):
        for index, feed in enumerate(FEEDS):
            batch = [
                writer.release(feed, n, start + step * n + timedelta(minutes=index))
                for n in range(first, min(first + BATCH, per_feed))
            ]
            store.ingest(feed, batch, now=datetime.now(UTC), flood_limit=10**6)
    return store


def timings(answer: Callable[[], object]) -> list[float]:
    for _ in range(WARMUP):
        answer()
    out = []
    for _ in range(RUNS):
        started = time.perf_counter()
        answer()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def variants(store: Store) -> dict[str, list[tuple[ChatRef, str]]]:
    some = store.latest(1, FEEDS[:2])[0]
    old = store.latest(1, [FEEDS[5]])[0]
    return {
        "latest": [
            (PRIVATE, ""),
            (PRIVATE, "20"),
            (PRIVATE, f"10 {FEEDS[7]}"),
            (CHANNEL, ""),
            (CHANNEL, "20"),
        ],
        "cite": [
            (PRIVATE, ""),
            (PRIVATE, f"#{old.id}"),
            (PRIVATE, f"bibtex {old.release.url}?utm_campaign=x"),
            (PRIVATE, "mla vaccine research"),
            (CHANNEL, f"chicago {some.id}"),
            (CHANNEL, "COVID-19 health"),
        ],
        "search": [
            (PRIVATE, "health"),
            (PRIVATE, "health research"),
            (PRIVATE, "COVID-19"),
            (PRIVATE, "NIH's vaccine"),
            (PRIVATE, "w5 w17"),
            (PRIVATE, "zeppelin"),
            (CHANNEL, "health"),
            (CHANNEL, "vaccine research"),
            (CHANNEL, '"quoted" w3'),
        ],
    }


SMALL_VARIANTS = [
    ("latest", ""),
    ("cite", ""),
    ("search", "w40"),
    ("search", "health"),
    ("search", "health research"),
]


def releases(store: Store) -> int:
    """How many releases the database holds (the store has no such query: the bot needs none)."""
    return int(store.db.execute("SELECT count(*) FROM releases").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--releases", type=int, default=100_000)
    args = parser.parse_args()
    settings = config()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store = build_store(Path(folder) / "bench.db", settings, args.releases)
        built = time.perf_counter() - started
        answers = Answers(settings, store, lambda: datetime.now(UTC), "releasebot_bench_bot")
        print(f"{today()}, {machine()}, {releases(store):,} releases (built in {built:.0f} s)")
        rows = [["command", "variants", "p50 ms", "p95 ms", "slowest variant p95 ms"]]
        detail = [["command", "chat", "arguments", "p50 ms", "p95 ms"]]
        for name, cases in variants(store).items():
            every: list[float] = []
            worst = 0.0
            for chat, text in cases:
                times = timings(
                    lambda n=name, c=chat, t=text: answers.answer(Command(n, t, False), c)
                )
                every += times
                worst = max(worst, p95(times))
                detail.append(
                    [
                        name,
                        chat.type,
                        f"`{text}`" if text else "-",
                        f"{statistics.median(times):.2f}",
                        f"{p95(times):.2f}",
                    ]
                )
            rows.append(
                [
                    name,
                    str(len(cases)),
                    f"{statistics.median(every):.2f}",
                    f"{p95(every):.2f}",
                    f"{worst:.2f}",
                ]
            )
        for name, text in SMALL_VARIANTS:
            times = timings(
                lambda n=name, t=text: answers.answer(Command(n, t, False), SMALL_CHANNEL)
            )
            detail.append(
                [
                    name,
                    "channel of `small`",
                    f"`{text}`" if text else "-",
                    f"{statistics.median(times):.2f}",
                    f"{p95(times):.2f}",
                ]
            )
        store.close()
    print(table(rows))
    print()
    print(table(detail))


if __name__ == "__main__":
    main()
