"""Red-team findings on /add (issue 12) with the real Fetcher and the loopback feed server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.render.admin_add import visible_length
from bot.render.post import MAX_TEXT
from bot.services.admin_add import start_add
from bot.services.admin_import import import_opml
from bot.services.admin_types import Upload
from tests.fakes.feed_server import FeedServer
from tests.test_admin_add import CHAT, HTML_TYPE, OWNER, Rig, _rig, opml, page, rss


@pytest.fixture
async def add_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with _rig(tmp_path) as made:
        yield made


async def test_a_page_whose_feeds_have_huge_titles_still_gets_a_choice_that_fits(
    add_rig: Rig, feed_server: FeedServer
) -> None:
    """A hostile page linking 8 feeds titled with 1,000 characters each: the "which one?"
    message still fits one Telegram message (4,096 characters), so the admin gets it."""
    links = []
    for n in range(8):
        feed_server.serve(f"/{n}.xml", rss(f"Feed {n}", 1))
        links.append((f"/{n}.xml", f"{n} " + "&<b>" * 250))
    url = feed_server.serve("/", page(*links), content_type=HTML_TYPE)
    reply = await start_add(add_rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    assert len(reply.choices) == 9  # a button per feed, and Cancel
    assert visible_length(reply.text) <= MAX_TEXT
    assert "0 &amp;&lt;b&gt;" in reply.text


async def test_an_import_summary_of_long_refused_urls_fits_one_message(add_rig: Rig) -> None:
    """30 refused feeds with 1,500-character URLs: the summary still fits one Telegram
    message (it was ~45,000 characters, which Telegram refuses: the admin heard nothing)."""
    urls = [f"ftp://agency.example/{n}/" + "x" * 1500 for n in range(30)]
    upload = Upload("feeds.opml", "text/x-opml", opml(urls))
    reply = await import_opml(add_rig.ctx, CHAT, upload, may_add_new=True, actor=OWNER)
    assert "30 feeds in the file: 0 added, 0 already there, 30 refused" in reply.text
    assert "only http and https" in reply.text
    assert visible_length(reply.text) <= MAX_TEXT
