"""Compare the project's APA citations with citeproc-py rendering the project's own CSL-JSON.

Run: python -m bench.compare_citeproc [--fixtures DIR] [--database PATH [--config PATH]]
     [--accessed YYYY-MM-DD] [--show-all]

Needs citeproc-py (`pip install -e '.[test]'` installs it). For each release it prints
the project's APA 7 string (`render_citation(..., "apa")`, plain text) and citeproc-py's
rendering of the project's CSL-JSON (`render_citation(..., "csl-json")`) with the APA 7
CSL style bundled in bench/csl/apa.csl, then a count of identical / different and a
Markdown table of the differences for bench/README.md.

Releases come from the project's feed fixtures (tests/fixtures/feeds/, parsed with
`parse_feed` and `dedupe_by_key` as `releasebot preview` does; files that are not feeds
are skipped and named), or with `--database` from a stored database, opened read-only
through the Store; `--config` then names the publishers as the bot would (without it,
releases are cited with no configured publisher, as `preview` does).

This is a report, not an oracle: citeproc-py implements less of CSL than citeproc-js
(the reference processor), so a difference may be citeproc-py's, the style's or ours.

Normalised before comparing (formatting only, never wording or punctuation):
- italics: both sides are plain text (the project's pieces joined without markup,
  citeproc-py's `formatter.plain`), so italic markup never counts;
- whitespace: every run of whitespace, including no-break and thin spaces, becomes one
  space, and leading/trailing whitespace is dropped.
Quotes, dashes, case and punctuation are compared exactly.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.config import load_settings
from bot.errors import ReleaseBotError
from bot.feeds.parse import dedupe_by_key, parse_feed
from bot.models import NO_PUBLISHER, Publisher, Release
from bot.render.cite import render_citation
from bot.services.routing import build_view
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
APA_CSL = Path(__file__).resolve().parent / "csl" / "apa.csl"
ACCESSED = date(2024, 5, 1)
_SPACES = re.compile(r"\s+")  # \s covers U+00A0, U+2009, U+202F in Python's re


@dataclass(frozen=True)
class Cited:
    """One release from a named source (a fixture file or a database)."""

    source: str
    release: Release
    publisher: Publisher


@dataclass(frozen=True)
class Row:
    """One release's two APA strings, normalised."""

    source: str
    key: str
    project: str
    citeproc: str

    @property
    def same(self) -> bool:
        return self.project == self.citeproc


def normalise(text: str) -> str:
    """Formatting only: whitespace runs become one space, ends trimmed."""
    return _SPACES.sub(" ", text).strip()


def fixture_releases(folder: Path, skipped: list[str]) -> Iterator[Cited]:
    """Every release of every feed file in `folder`, in file order; non-feeds go to `skipped`."""
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            parsed = parse_feed(path.read_bytes(), feed_name=path.stem, base_url=path.as_uri())
        except ReleaseBotError as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        for release in dedupe_by_key(parsed.releases):
            yield Cited(path.name, release, NO_PUBLISHER)


def database_releases(database: Path, config: Path | None) -> list[Cited]:
    """Every stored release, newest first, read through a read-only Store."""
    settings = load_settings(config) if config is not None else None
    store = Store.open(database, write=False)
    try:
        stored = store.latest(sys.maxsize)
        view = build_view(store, settings) if settings is not None else None
    finally:
        store.close()
    return [
        Cited(
            s.release.feed,
            s.release,
            view.publisher(s.release.feed) if view is not None else NO_PUBLISHER,
        )
        for s in stored
    ]


class Citeproc:
    """citeproc-py with the bundled APA 7 style, one bibliography per release."""

    def __init__(self, style_path: Path = APA_CSL) -> None:
        import citeproc  # imported here so that a missing package is one clear message

        self._citeproc = citeproc
        self._style = citeproc.CitationStylesStyle(str(style_path), validate=False)

    def render(self, csl_json: str) -> str:
        from citeproc.source.json import CiteProcJSON

        items = json.loads(csl_json)
        item = items[0] if isinstance(items, list) else items
        cp = self._citeproc
        bibliography = cp.CitationStylesBibliography(
            self._style, CiteProcJSON([item]), cp.formatter.plain
        )
        bibliography.register(cp.Citation([cp.CitationItem(item["id"])]))
        return "".join(str(entry) for entry in bibliography.bibliography())


def compare(cited: Iterable[Cited], processor: Citeproc, accessed: date = ACCESSED) -> list[Row]:
    """One row per release: the project's APA and citeproc-py's, both normalised."""
    rows = []
    for one in cited:
        csl = render_citation(one.release, one.publisher, "csl-json", accessed=accessed)
        ours = render_citation(one.release, one.publisher, "apa", accessed=accessed)
        rows.append(
            Row(one.source, one.release.key, normalise(ours), normalise(processor.render(csl)))
        )
    return rows


def changed_spans(ours: str, theirs: str) -> tuple[str, str]:
    """The differing stretches of the two strings (with a little context), for the table."""
    spans_ours, spans_theirs = [], []
    matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        spans_ours.append(_with_context(ours, a0, a1))
        spans_theirs.append(_with_context(theirs, b0, b1))
    return " … ".join(spans_ours), " … ".join(spans_theirs)


def _with_context(text: str, start: int, end: int, width: int = 8) -> str:
    left = max(0, start - width)
    return f"{text[left:start]}[{text[start:end]}]{text[end : end + width]}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary(rows: list[Row]) -> str:
    same = sum(row.same for row in rows)
    noun = "release" if len(rows) == 1 else "releases"
    return f"{len(rows)} {noun}: {same} identical, {len(rows) - same} different"


def difference_table(rows: list[Row]) -> str:
    """A Markdown table of the differing releases: where each differs, then both strings."""
    lines = [
        "| source | project APA (differing part in []) | citeproc-py APA (differing part in []) |",
        "|---|---|---|",
    ]
    for row in rows:
        if row.same:
            continue
        ours, theirs = changed_spans(row.project, row.citeproc)
        lines.append(f"| {_cell(row.source)} | {_cell(ours)} | {_cell(theirs)} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="a folder of feed files")
    parser.add_argument("--database", type=Path, help="a release-bot database (read-only)")
    parser.add_argument("--config", type=Path, help="with --database: the config naming publishers")
    parser.add_argument("--accessed", type=date.fromisoformat, default=ACCESSED)
    parser.add_argument("--show-all", action="store_true", help="print identical rows too")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        processor = Citeproc()
    except ImportError:
        print("citeproc-py is not installed: pip install -e '.[test]'", file=sys.stderr)
        return 2
    skipped: list[str] = []
    if args.database is not None:
        cited: Iterable[Cited] = database_releases(args.database, args.config)
    else:
        cited = fixture_releases(args.fixtures, skipped)
    rows = compare(cited, processor, args.accessed)
    for row in rows:
        if row.same and not args.show_all:
            continue
        mark = "same" if row.same else "DIFFERENT"
        print(f"{mark}  {row.source}  {row.key}")
        print(f"  project:     {row.project}")
        print(f"  citeproc-py: {row.citeproc}")
    for note in skipped:
        print(f"skipped {note}", file=sys.stderr)
    print()
    print(summary(rows))
    print()
    print(difference_table(rows) if any(not row.same for row in rows) else "no differences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
