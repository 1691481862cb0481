"""The routing view of thousands of feeds holds each repeated name once (soak memory)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.config import settings_from_dict
from bot.services.config_sync import apply_config
from bot.store import Store

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_feeds_and_routes_share_one_copy_of_each_name_publisher_and_origin(
    tmp_path: Path,
) -> None:
    """Every route's feed and channel name, and every publisher and origin, is the same
    string object as its feed's or channel's: one copy per name, not one per row."""
    feeds = [
        {"name": f"feed-{n}", "url": f"https://a{n}.example/rss", "publisher": "NIDA"}
        for n in range(50)
    ]
    channels = [
        {"name": f"news-{c}", "chat": f"@news_{c}", "feeds": [f"feed-{n}" for n in range(50)]}
        for c in range(2)
    ]
    settings = settings_from_dict({"feeds": feeds, "channels": channels}, tmp_path)
    store = Store.open(tmp_path / "releasebot.db")
    try:
        view = apply_config(store, settings, NOW)
    finally:
        store.close()
    assert len(view.routes) == 100
    for route in view.routes:
        feed = view.feed(route.feed)
        assert feed is not None
        assert route.feed is feed.name
        assert route.origin is feed.origin
        assert route.chat is view.chats[int(route.chat.rsplit("-", 1)[1])].name
    assert len({id(feed.publisher.name) for feed in view.feeds}) == 1
