"""Citation keys (issue 11 point 7): unique across the database, stable for a release, and a
reference `/cite` and `releasebot cite` accept.

221 real releases gave 191 distinct keys (`nasa2018nasa` eight times), so a reference
manager merged different releases. Now the first release with a base keeps it, later ones
get `nasa2018nasaa`, `nasa2018nasab` ... in the order they were stored, and a key once given
never changes (BibLaTeX's and BibTeX styles' own a/b suffixes follow the same idea).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import settings_from_dict
from bot.models import Publisher, Release
from bot.render.cite import citation_key, render_citation
from bot.render.cite_data import key_with_suffix
from bot.render.command_args import Command
from bot.render.replies import Reply
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import apply_config, sync_config
from bot.store import Store
from tests.factories import make_release
from tests.fakes.telegram_html import validate_message_text
from tests.inprocess import Cli, with_config
from tests.processes import releasebot

NASA = Publisher("National Aeronautics and Space Administration", "NASA")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ACCESSED = date(2024, 5, 1)
ADMIN = ChatRef(9, "private", "", 9)
CONFIG = {
    "bot": {"admins": [9]},
    "feeds": [
        {"name": "nasa", "url": "https://example.org/nasa", "publisher": NASA.name,
         "short_name": "NASA"},
        {"name": "jpl", "url": "https://example.org/jpl", "publisher": NASA.name,
         "short_name": "NASA"},
    ],
    "channels": [{"name": "news", "chat": "@space_news", "feeds": ["nasa", "jpl"]}],
}  # fmt: skip
TITLES = [
    "NASA selects astronauts for the first commercial flights",
    "NASA awards launch service contract",
    "NASA InSight lander arrives on Mars",
]


def release(n: int, title: str, year: int | None, feed: str = "nasa") -> Release:
    published = None if year is None else datetime(year, 1 + n % 12, 1 + n % 28, tzinfo=UTC)
    return replace(
        make_release(n, feed=feed, title=title, published=published),
        key=f"{feed}-{n}",
        url=f"https://{feed}.example.org/{n}",
    )


def base_key(item: Release) -> str:
    return citation_key(item, NASA)


def stored_keys(store: Store) -> dict[int, str | None]:
    return dict(store.db.execute("SELECT id, cite_key FROM releases ORDER BY id").fetchall())


def csl_id(store: Store, release_id: int) -> str:
    """The id a reference manager sees in the CSL-JSON of a stored release."""
    found = store.release(release_id)
    assert found is not None
    text = render_citation(found.release, NASA, "csl-json", accessed=ACCESSED, key=found.cite_key)
    item_id: str = json.loads(text)[0]["id"]
    return item_id


def test_suffixes_run_a_to_z_then_aa() -> None:
    """After the bare base come a ... z, then aa, ab (as BibTeX styles letter same-year works)."""
    assert [key_with_suffix("nasa2018nasa", i) for i in (0, 1, 2, 26, 27, 28)] == [
        "nasa2018nasa", "nasa2018nasaa", "nasa2018nasab",
        "nasa2018nasaz", "nasa2018nasaaa", "nasa2018nasaab",
    ]  # fmt: skip


batches = st.lists(
    st.tuples(
        st.lists(
            st.tuples(
                st.sampled_from(["nasa", "jpl"]),
                st.sampled_from([*TITLES, "Mars", "", "The"]),
                st.sampled_from([2018, 2019, None]),
            ),
            min_size=1,
            max_size=12,
        ),
        st.booleans(),  # keyed as stored (a poll), or stored before m012 and keyed on startup
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches)
def test_keys_stay_unique_and_stable_as_releases_with_colliding_bases_arrive(
    batches: list[tuple[list[tuple[str, str, int | None]], bool]],
) -> None:
    """Releases of two feeds of one publisher, most sharing a base key: after every poll each
    release has a key no other has, starting with its base; the CSL-JSON id is that key; and
    no key given before changes when later releases with the same base arrive."""
    config = settings_from_dict(CONFIG, base_dir=Path("."))
    store = Store.open(":memory:")
    try:
        sync_config(store, config, NOW)
        seen: dict[int, str | None] = {}
        n = 0
        for batch, keyed_on_store in batches:
            for feed in ("nasa", "jpl"):
                items = []
                for feed_name, title, year in batch:
                    if feed_name == feed:
                        n += 1
                        items.append(release(n, title, year, feed))
                store.ingest(
                    feed,
                    items,
                    now=NOW,
                    flood_limit=None,
                    cite_key_of=base_key if keyed_on_store else None,
                )
            if not keyed_on_store:
                apply_config(store, config, NOW)  # what `run` does at start
            keys = stored_keys(store)
            assert None not in keys.values()
            assert len(set(keys.values())) == len(keys)
            assert {i: keys[i] for i in seen} == seen
            for release_id, key in keys.items():
                found = store.release(release_id)
                assert found is not None
                assert key is not None
                assert key.startswith(base_key(found.release))
                assert csl_id(store, release_id) == key
            seen = keys
    finally:
        store.close()


# --- cite by key ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answers() -> Iterator[Answers]:
    """Answers over a store holding three NASA releases of 2018, all with the base key
    `nasa2018nasa`, stored oldest first as a poll stores them."""
    config = settings_from_dict(CONFIG, base_dir=Path("."))
    store = Store.open(":memory:")
    sync_config(store, config, NOW)
    items = [release(n, title, 2018) for n, title in enumerate(TITLES, 1)]
    store.ingest("nasa", items, now=NOW, flood_limit=None, cite_key_of=base_key)
    yield Answers(config, store, lambda: NOW, "releasebot_test_bot")
    store.close()


def cite(answers: Answers, args: str) -> str:
    reply = answers.answer(Command("cite", args, addressed=True), ADMIN) or Reply("")
    return validate_message_text(reply.text, parse_mode="HTML").text


@pytest.mark.parametrize(
    ("ref", "title"),
    [
        ("nasa2018nasa", TITLES[0]),
        ("nasa2018nasaa", TITLES[1]),
        ("NASA2018NASAB", TITLES[2]),  # keys are case-insensitive refs
    ],
)
def test_cite_by_key_in_a_chat(answers: Answers, ref: str, title: str) -> None:
    """`/cite bibtex KEY` cites the release that key belongs to, under that key."""
    text = cite(answers, f"bibtex {ref}")
    assert f"@misc{{{ref.lower()},\n" in text
    assert title.split()[1] in text  # "selects", "awards", "InSight"


def test_the_three_releases_carry_three_keys(answers: Answers) -> None:
    """Cited by id, the three releases show three different BibTeX keys and CSL ids."""
    bib = {cite(answers, f"bibtex #{n}").split("\n")[2] for n in (1, 2, 3)}
    assert bib == {"@misc{nasa2018nasa,", "@misc{nasa2018nasaa,", "@misc{nasa2018nasab,"}
    ids = {json.loads(cite(answers, f"csl-json {n}").split("\n", 2)[2])[0]["id"] for n in (1, 2, 3)}
    assert ids == {"nasa2018nasa", "nasa2018nasaa", "nasa2018nasab"}


# --- releasebot cite KEY --------------------------------------------------------------------

FEED_ITEM = """  <item>
    <title>{title}</title>
    <link>https://www.nasa.gov/{slug}</link>
    <guid>https://www.nasa.gov/{slug}</guid>
    <pubDate>{date}</pubDate>
  </item>
"""
CLI_ITEMS = [
    ("NASA selects astronauts", "selects", "Fri, 03 Aug 2018 10:00:00 -0400"),
    ("NASA awards contract", "awards", "Tue, 04 Sep 2018 10:00:00 -0400"),
    ("NASA InSight lander arrives on Mars", "insight", "Mon, 26 Nov 2018 15:00:00 -0500"),
    # Published before the others but seen later: it takes the next free key.
    ("NASA names new chief scientist", "names", "Tue, 02 Jan 2018 10:00:00 -0500"),
]


def write_feed(path: Path, count: int) -> None:
    items = "".join(
        FEED_ITEM.format(title=title, slug=slug, date=day) for title, slug, day in CLI_ITEMS[:count]
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>NASA News</title><link>https://www.nasa.gov/</link>\n{items}</channel></rss>\n",
        encoding="utf-8",
    )


def cli_key(cite: Cli, config: Path, ref: str) -> tuple[str, str]:
    """The BibTeX key and title `releasebot cite REF --style bibtex` prints (run by `cite`:
    in this process, tests/inprocess.py)."""
    proc = cite(config, "cite", ref, "--style", "bibtex")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    title = next(line for line in lines if line.lstrip().startswith("title"))
    return lines[0], title


def test_releasebot_cite_by_key_and_keys_survive_a_later_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`releasebot cite nasa2018nasaa` cites the second release stored; a release that
    arrives later (though published earlier) takes the next suffix, and the keys already
    given stay as they were."""
    write_feed(tmp_path / "nasa.xml", 3)
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\ndatabase = "bot.db"\n\n[[feeds]]\nname = "nasa"\nurl = "nasa.xml"\n'
        f'publisher = "{NASA.name}"\nshort_name = "NASA"\n\n'
        '[[channels]]\nname = "news"\nchat = "@space_news"\nfeeds = ["nasa"]\n',
        encoding="utf-8",
    )  # fmt: skip
    assert releasebot(config, "poll").returncode == 0
    here = with_config(capsys)
    before = {
        key: cli_key(here, config, key)
        for key in ("nasa2018nasa", "nasa2018nasaa", "nasa2018nasab")
    }
    assert before["nasa2018nasa"][0] == "@misc{nasa2018nasa,"
    assert "{NASA} selects astronauts" in before["nasa2018nasa"][1]
    assert before["nasa2018nasaa"][0] == "@misc{nasa2018nasaa,"
    assert "{NASA} awards contract" in before["nasa2018nasaa"][1]
    assert before["nasa2018nasab"][0] == "@misc{nasa2018nasab,"
    assert "{InSight}" in before["nasa2018nasab"][1]
    write_feed(tmp_path / "nasa.xml", 4)
    assert releasebot(config, "poll").returncode == 0
    after = {key: cli_key(here, config, key) for key in before}
    assert after == before
    key, title = cli_key(here, config, "nasa2018nasac")
    assert key == "@misc{nasa2018nasac,"
    assert "chief scientist" in title


def test_the_next_key_of_a_base_is_right_after_a_restart_and_a_rollback(tmp_path: Path) -> None:
    """Keys of one base continue a, b, c ... across store objects (a restart), and a key
    whose release was rolled back is given again, not skipped."""

    def ingest(store: Store, numbers: range) -> None:
        releases = [make_release(n, key=f"k{n}", url=f"https://x.example/{n}") for n in numbers]
        store.ingest("nida", releases, now=NOW, flood_limit=None, cite_key_of=lambda r: "nih2014x")

    first = Store.open(tmp_path / "bot.db")
    first.sync_feeds([("nida", "https://x.example/feed")])
    ingest(first, range(3))

    def rolled_back() -> None:
        with first.writing():
            ingest(first, range(3, 4))
            raise RuntimeError("the transaction is rolled back")

    with pytest.raises(RuntimeError):
        rolled_back()
    ingest(first, range(4, 5))
    first.close()
    second = Store.open(tmp_path / "bot.db")
    ingest(second, range(5, 6))
    assert sorted(k for k in stored_keys(second).values() if k) == [
        "nih2014x",
        "nih2014xa",
        "nih2014xb",
        "nih2014xc",
        "nih2014xd",
    ]
    second.close()
