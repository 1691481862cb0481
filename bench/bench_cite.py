"""Time every citation style, plain and HTML, over generated releases.

Run: python -m bench.bench_cite [--releases 10000] [--seed 1]
Prints a Markdown table (time per citation per style) for bench/README.md's
"Citations" section. The target is under 0.2 ms per citation.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import string
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from bot.models import Publisher, Release
from bot.render.cite import STYLES, render_citation

TARGET_MS = 0.2
ACCESSED = date(2024, 5, 1)
ENGLISH_TEXT = (
    "study finds new data on opioid use among teens and young adults shows the risk of "
    "cannabis vaping in NIH HIV COVID-19 mRNA long-term follow-up cocaine-dependent "
    "males females treatment relapse prevention research funding announces grants for "
    "pain management without opioids: a national survey reports decline in smoking"
)
SPANISH_TEXT = "nuevo estudio sobre el consumo de cannabis en adolescentes publicación"
WORDS = tuple(ENGLISH_TEXT.split())
SPANISH = tuple(SPANISH_TEXT.split())
PUBLISHERS = (
    Publisher("National Institute on Drug Abuse", "NIDA"),
    Publisher("Instituto Nacional de Salud", "INS"),
    Publisher("", ""),
)


@dataclass(frozen=True)
class StyleTiming:
    style: str
    plain_ms: float
    html_ms: float


def make_releases(count: int, seed: int) -> list[Release]:
    """`count` varied releases: dated and undated, with and without URL, quotes, '?', &."""
    rng = random.Random(seed)
    return [_release(rng, n) for n in range(count)]


def _release(rng: random.Random, n: int) -> Release:
    words = rng.choices(SPANISH if n % 7 == 0 else WORDS, k=rng.randint(4, 16))
    title = " ".join(words)
    if n % 5 == 0:
        title += rng.choice(["?", "!", ' "safe"', " & <18", " 50% {draft}"])
    url = "" if n % 11 == 0 else f"https://www.example{n % 13}.gov/news/{n}/{'-'.join(words[:5])}"
    offset = timezone(timedelta(minutes=rng.randint(-12 * 60, 14 * 60)))
    published = None if n % 9 == 0 else datetime(2014, 4, 3, 22, 30, tzinfo=offset)
    return Release(
        feed="bench",
        key=str(n),
        title=title,
        link=url,
        url=url,
        published=published,
        updated=None,
        author=rng.choice(["", "", "Office of Communications", "press@example.gov"]),
        feed_author="",
        feed_title=rng.choice(["News Releases", ""]),
        summary="".join(rng.choices(string.ascii_letters + " ", k=200)),
        language="es" if n % 7 == 0 else "en",
    )


def time_style(releases: list[Release], style: str, *, html: bool) -> float:
    """Milliseconds per citation of `style` over `releases`."""
    start = time.perf_counter()
    for i, release in enumerate(releases):
        render_citation(release, PUBLISHERS[i % 3], style, accessed=ACCESSED, html=html)
    return (time.perf_counter() - start) * 1000 / len(releases)


def run(count: int, seed: int) -> list[StyleTiming]:
    releases = make_releases(count, seed)
    for style in STYLES:  # warm-up: imports, caches, branch paths
        time_style(releases[:200], style, html=False)
    return [
        StyleTiming(
            style, time_style(releases, style, html=False), time_style(releases, style, html=True)
        )
        for style in STYLES
    ]


def report(timings: list[StyleTiming], count: int) -> str:
    machine = f"{platform.machine()}, Python {platform.python_version()}, nproc {os.cpu_count()}"
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d}, {machine}, {count} releases, one process:",
        "",
        "| style | plain ms/citation | HTML ms/citation |",
        "|---|---:|---:|",
    ]
    lines += [f"| {t.style} | {t.plain_ms:.4f} | {t.html_ms:.4f} |" for t in timings]
    worst = max(max(t.plain_ms, t.html_ms) for t in timings)
    verdict = "meets" if worst < TARGET_MS else "MISSES"
    lines += ["", f"Slowest: {worst:.4f} ms per citation, {verdict} the {TARGET_MS} ms target."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(report(run(args.releases, args.seed), args.releases))


if __name__ == "__main__":
    main()
