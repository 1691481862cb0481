"""End to end: the real `releasebot run` process finds the study behind each release on the
loopback fakes of doi.org and NCBI, politely, without holding any post back for it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.doi_resolver import DoiResolver
from tests.fakes.feed_server import FeedServer
from tests.fakes.ncbi import Ncbi
from tests.fakes.study_services import SEED_DOI, SEED_PMID
from tests.test_run_e2e import CHANNEL_A, REPO, BotProcess, db_rows, one_channel_config

FEED = Path(__file__).parent / "fixtures" / "feeds" / "nida_study.rss.xml"
CONTACT = "press-bot@example.org"
STUDY_LINE = f"Study: Young et al. (2014), The Journal of Neuroscience · doi:{SEED_DOI}"
SLOW = 6.0  # seconds the resolver takes over the seed DOI: the posts must not wait for it


def with_study_section(config: Path, resolver: DoiResolver, ncbi: Ncbi) -> Path:
    """The config with `[study]` pointing at the fakes."""
    lines = [
        "[study]",
        f'doi_resolver = "{resolver.url("/")}"',
        f'ncbi_api = "{ncbi.url("/entrez/eutils/")}"',
        f'contact_email = "{CONTACT}"',
        'timeout = "15s"',
    ]
    config.write_text(config.read_text(encoding="utf-8") + "\n".join(lines) + "\n")
    return config


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_run_finds_the_seed_study_politely_without_delaying_posts(tmp_path):
    """The NIDA feed's study (a PubMed link in one release, the DOI in another) ends up
    found in the database; every post went out while the slow resolver was still
    answering, and the two with a study were then edited once to show its line; the
    services saw the contact e-mail; `status` shows the lookups."""
    with (
        FakeBotAPI(time_scale=0.01) as api,
        FeedServer() as feeds,
        DoiResolver() as resolver,
        Ncbi(rate_limit=True) as ncbi,
    ):
        api.add_chat(CHANNEL_A, "channel", title="A news")
        resolver.slow(SEED_DOI, SLOW)
        url = feeds.serve("/nida.xml", FEED.read_bytes())
        config = with_study_section(one_channel_config(tmp_path, api, url), resolver, ncbi)
        bot = BotProcess(config, token=api.token)
        try:
            bot.wait_for(lambda: len(api.messages(CHANNEL_A)) == 3, "the three posts")
            bot.wait_for(
                lambda: (
                    {row["state"] for row in db_rows(config, "SELECT state FROM studies")}
                    == {"found"}
                ),
                "the studies found",
            )
            bot.wait_for(
                lambda: sum(STUDY_LINE in m.text for m in api.messages(CHANNEL_A)) == 2,
                "the two posts with a study edited to show it",
            )
            time.sleep(1.5)  # room for an edit that should not happen
            assert bot.terminate() == 0
        finally:
            bot.kill()
        posts = api.messages(CHANNEL_A)
        with_study = [m for m in posts if STUDY_LINE in m.text]
        assert all(STUDY_LINE not in m.history[0].text for m in with_study)  # sent without
        assert [len(m.history) for m in with_study] == [1, 1]  # then edited once
        assert [m.history for m in posts if m not in with_study] == [()]  # no study: untouched
        studies = {row["ref"]: row for row in db_rows(config, "SELECT * FROM studies")}
        assert set(studies) == {f"pmid:{SEED_PMID}", f"doi:{SEED_DOI.lower()}"}
        assert {row["doi"] for row in studies.values()} == {SEED_DOI.lower()}
        found_at = min(instant(row["checked_at"]) for row in studies.values())
        sent = db_rows(config, "SELECT sent_at FROM deliveries WHERE state = 'sent'")
        assert len(sent) == 3
        assert all(instant(row["sent_at"]) < found_at for row in sent)  # no post waited
        agent = f"(mailto:{CONTACT})"
        assert resolver.requests
        assert ncbi.requests
        assert all(agent in seen.headers["user-agent"] for seen in resolver.requests)
        assert all(agent in seen.headers["user-agent"] for seen in ncbi.requests)
        assert {(seen.param("tool"), seen.param("email")) for seen in ncbi.requests} == {
            ("releasebot", CONTACT)
        }
        assert ncbi.refused == []  # never over NCBI's 3 requests a second
        assert resolver.hits(SEED_DOI) <= 2 * 2  # each identifier looked up once (2 hops)
    status = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "status"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "studies: 2 found, 0 pending, 0 not registered, 0 failed" in status.stdout


@contextmanager
def once_run(
    tmp_path: Path, *, slow: float = 0.0, config_tail: str = ""
) -> Iterator[tuple[Path, FakeBotAPI, DoiResolver, Ncbi]]:
    """A `run --once` over the NIDA feed (the resolver `slow` seconds over the seed DOI,
    `config_tail` added under `[study]`) that exited 0; the fakes stay up to be asked."""
    with (
        FakeBotAPI(time_scale=0.01) as api,
        FeedServer() as feeds,
        DoiResolver() as resolver,
        Ncbi() as ncbi,
    ):
        api.add_chat(CHANNEL_A, "channel", title="A news")
        if slow:
            resolver.slow(SEED_DOI, slow)
        url = feeds.serve("/nida.xml", FEED.read_bytes())
        config = with_study_section(one_channel_config(tmp_path, api, url), resolver, ncbi)
        if config_tail:
            config.write_text(config.read_text(encoding="utf-8") + config_tail)
        bot = BotProcess(config, "--once", token=api.token)
        try:
            assert bot.wait(timeout=60) == 0, bot.stderr
        finally:
            bot.kill()
        yield config, api, resolver, ncbi


def test_run_once_finishes_the_lookups_before_it_exits(tmp_path):
    """`run --once` sends its posts, then waits for the lookups under way: the study is in
    the database when it exits 0, for a bot run from cron."""
    # The resolver's 5 s over the seed DOI: longer than the three sends take.
    with once_run(tmp_path, slow=5.0) as (config, api, _resolver, _ncbi):
        assert len(api.messages(CHANNEL_A)) == 3
        states = {row["ref"]: row["state"] for row in db_rows(config, "SELECT * FROM studies")}
        assert states == {f"pmid:{SEED_PMID}": "found", f"doi:{SEED_DOI.lower()}": "found"}


def test_disabled_studies_ask_nothing(tmp_path):
    """`[study] enabled = false`: the posts go out and neither service hears a request."""
    with once_run(tmp_path, config_tail="enabled = false\n") as (config, api, resolver, ncbi):
        assert len(api.messages(CHANNEL_A)) == 3
        assert resolver.requests == []
        assert ncbi.requests == []
        states = {row["state"] for row in db_rows(config, "SELECT state FROM studies")}
        assert states == {"pending"}
