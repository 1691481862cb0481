"""The parser worker process gives exactly what parsing in-process gives, errors included."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import EntityDeclarationError, FeedParseError
from bot.feeds.parse import parse_feed
from bot.services.parse_pool import ParsePool

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
ARGS = {
    "feed_name": "nih",
    "base_url": "https://www.nih.gov/feed.xml",
    "timezone": ZoneInfo("America/New_York"),
    "content_type": "application/rss+xml",
}


@pytest.fixture
def pool():
    pool = ParsePool(processes=1)
    yield pool
    pool.close()


async def test_worker_process_parses_like_the_core(pool):
    """Releases parsed in the worker equal those parsed in-process, dates and all."""
    body = (FIXTURES / "rss2_drupal_nih.xml").read_bytes()
    assert await pool.parse(body, **ARGS) == parse_feed(body, **ARGS)


async def test_refusals_cross_the_process_boundary(pool):
    """An entity declaration is refused as EntityDeclarationError, not a pickling failure."""
    body = (FIXTURES / "entity_billion_laughs.xml").read_bytes()
    with pytest.raises(EntityDeclarationError, match="entity declarations refused"):
        await pool.parse(body, **ARGS)
    with pytest.raises(FeedParseError, match="not a feed"):
        await pool.parse((FIXTURES / "html_page.html").read_bytes(), **ARGS)


async def test_thread_mode_gives_the_same_result():
    """processes=0 parses in a thread: same result, no worker process."""
    body = (FIXTURES / "rss1_dcdate.rdf").read_bytes()
    assert await ParsePool(processes=0).parse(body, **ARGS) == parse_feed(body, **ARGS)
