"""Time every citation style, plain and HTML, over generated releases.

Run: python -m bench.bench_cite [--releases 10000] [--seed 1] [--runs 5]
Prints a Markdown table (CPU time per citation per style, min / median / max over the
runs) for bench/README.md's "Citations" section. The target is under 0.2 ms per citation.
CPU time, because rendering is pure and single-threaded: on an idle machine it equals the
wall time, and on a loaded one it leaves out the waits for a core (the wall time of the
slowest style is printed beside it).
"""

from __future__ import annotations

import argparse
import random
import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bench.common import RUNS, Spread, check_runs, header, load, table, timed_cpu
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
    plain_ms: Spread  # CPU time per citation, one value per run
    html_ms: Spread
    wall_ms: Spread  # wall time per citation, plain and HTML runs together


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


def time_style(releases: list[Release], style: str, *, html: bool) -> tuple[float, float]:
    """Milliseconds per citation of `style` over `releases`: CPU time, and wall time."""

    def cite_all() -> None:
        for i, release in enumerate(releases):
            render_citation(release, PUBLISHERS[i % 3], style, accessed=ACCESSED, html=html)

    wall, cpu = timed_cpu(cite_all)
    return cpu * 1000 / len(releases), wall * 1000 / len(releases)


def run(count: int, seed: int, runs: int) -> list[StyleTiming]:
    """Every style, plain and HTML, `runs` rounds over the same releases."""
    releases = make_releases(count, seed)
    for style in STYLES:  # warm-up: imports, caches, branch paths
        time_style(releases[:200], style, html=False)
    plain: dict[str, list[float]] = {style: [] for style in STYLES}
    html: dict[str, list[float]] = {style: [] for style in STYLES}
    walls: dict[str, list[float]] = {style: [] for style in STYLES}
    for _ in range(runs):  # round by round, so load from other jobs falls on every style
        for style in STYLES:
            cpu, wall = time_style(releases, style, html=False)
            plain[style].append(cpu)
            walls[style].append(wall)
            cpu, wall = time_style(releases, style, html=True)
            html[style].append(cpu)
            walls[style].append(wall)
    return [
        StyleTiming(s, Spread.of(plain[s]), Spread.of(html[s]), Spread.of(walls[s])) for s in STYLES
    ]


def report(timings: list[StyleTiming], count: int) -> str:
    rows = [
        [
            "style",
            "plain CPU ms min",
            "plain median",
            "plain max",
            "HTML CPU ms min",
            "HTML median",
            "HTML max",
        ]
    ]
    ms = "{:.4f}".format
    rows += [[t.style, *t.plain_ms.cells(ms), *t.html_ms.cells(ms)] for t in timings]
    worst = max(timings, key=lambda t: max(t.plain_ms.median, t.html_ms.median))
    spread = worst.html_ms if worst.html_ms.median >= worst.plain_ms.median else worst.plain_ms
    verdict = "meets" if spread.median < TARGET_MS else "MISSES"
    return "\n".join(
        [
            f"{count:,} releases, one process; load average {load()} at the end",
            "",
            table(rows),
            "",
            f"Slowest: {worst.style}, {spread.text(ms)} ms per citation "
            f"({TARGET_MS / spread.median:.1f} times under the target on the median), "
            f"{verdict} the {TARGET_MS} ms target.",
            f"Times are CPU time (one thread, pure rendering); the wall time per citation of "
            f"{worst.style} was {worst.wall_ms.text(ms)} ms (it counts waiting for a core).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=check_runs, default=RUNS, help=f"rounds (default {RUNS})")
    args = parser.parse_args()
    print(header(args.runs), flush=True)
    print(report(run(args.releases, args.seed, args.runs), args.releases))


if __name__ == "__main__":
    main()
