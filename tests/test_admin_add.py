"""/add and /import at the service level: a real Store, a real Fetcher and the loopback feed
server; the buttons go through the real pending actions in the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, settings_from_dict
from bot.fetch.client import Fetcher
from bot.models import FetchResult, RoutingView
from bot.render.admin_add import visible_length
from bot.services.admin_add import PREVIEWS, Candidate, _Previews, finish_add, start_add
from bot.services.admin_context import AdminContext, Target
from bot.services.admin_import import import_opml
from bot.services.admin_types import Actor, AdminReply, Membership, Place, Upload
from bot.services.config_sync import apply_config
from bot.store import Store
from tests.factories import make_release
from tests.fakes.feed_server import FeedServer
from tests.fakes.internet import ScriptedResolver, StandInInternet

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OWNER = Actor(user_id=1, name="@owner")
CHAT = Target(chat_id=-100111, kind="channel", title="Science news", username="science_news")
HTML_TYPE = "text/html; charset=utf-8"


def rss(title: str, count: int, prefix: str = "r") -> bytes:
    items = "".join(
        f"<item><guid>{prefix}-{n}</guid><title>{title} release {n}</title>"
        f"<link>https://agency.example/{prefix}/{n}</link>"
        f"<pubDate>Tue, 0{1 + n} Apr 2014 10:00:00 -0400</pubDate>"
        f"<description>About release {n}.</description></item>"
        for n in range(count)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://agency.example/</link>{items}</channel></rss>"
    ).encode()


def page(*links: tuple[str, str]) -> bytes:
    heads = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="{title}" href="{href}">'
        for href, title in links
    )
    html = f"<!doctype html><html><head><title>Agency</title>{heads}</head><body>Hi</body></html>"
    return html.encode()


class Members:
    """getChatMember and getChat answered from a dict (nobody is an admin unless listed)."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[int, int], Membership] = {}

    async def membership(self, chat_id: int, user_id: int) -> Membership:
        return self.statuses.get((chat_id, user_id), Membership("left"))

    async def chat(self, ref: int | str) -> Place | None:
        return None


@dataclass
class Rig:
    settings: Settings
    store: Store
    ctx: AdminContext
    views: list[RoutingView] = field(default_factory=list)
    now: datetime = NOW

    def view(self) -> RoutingView:
        return self.ctx.view()

    async def press(self, reply: AdminReply, label: str, actor: Actor = OWNER) -> AdminReply:
        """Press the button labelled `label` as the core would: look its action up, call."""
        data = next(c.data for row in reply.choices for c in row if c.text.startswith(label))
        _, token, choice = data.split(":")
        action = self.store.get_action(token)
        assert action is not None
        return await finish_add(self.ctx, CHAT, action, choice, actor)

    def audit_actions(self) -> list[str]:
        return [entry.action for entry in self.store.audit(100)]

    def pending(self, channel: str) -> list[str]:
        return [
            row[0]
            for row in self.store.db.execute(
                "SELECT r.title FROM deliveries d JOIN releases r ON r.id = d.release_id"
                " WHERE d.channel = ? AND d.state = 'pending' ORDER BY d.id",
                [channel],
            )
        ]


def make_settings(tmp_path: Path, **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "bot": {"database": str(tmp_path / "bot.db"), "admins": [1]},
        "fetch": {"allow_private_addresses": True, "timeout": 5, "connect_timeout": 2},
        "defaults": {"interval": "5m"},
        "feeds": [{"name": "nida", "url": "https://nida.example/feed.xml", "publisher": "NIDA"}],
        "channels": [{"name": "lab", "chat": -100999, "feeds": ["nida"]}],
    }
    for key, value in extra.items():
        data[key] = data.get(key, {}) | value if isinstance(value, dict) else value
    return settings_from_dict(data, tmp_path)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with _rig(tmp_path) as made:
        yield made


class _rig:  # noqa: N801 -- used as `async with _rig(...)`
    def __init__(self, tmp_path: Path, fetcher: Fetcher | None = None, **extra: Any) -> None:
        self.settings = make_settings(tmp_path, **extra)
        self.fetcher = fetcher or Fetcher(self.settings.fetch, user_agent="test")

    async def __aenter__(self) -> Rig:
        store = Store.open(self.settings.database_path)
        apply_config(store, self.settings, NOW)
        made = Rig(self.settings, store, None)  # type: ignore[arg-type]
        made.ctx = AdminContext(
            settings=self.settings,
            store=store,
            clock=lambda: made.now,
            members=Members(),
            fetcher=self.fetcher,
            bot_username="releasebot_test_bot",
            rerouted=lambda settings, view: made.views.append(view),
        )
        self.made = made
        return made

    async def __aexit__(self, *exc: object) -> None:
        await self.fetcher.aclose()
        self.made.store.close()


# /add by URL


async def test_add_by_feed_url_previews_and_stores_nothing_until_pressed(
    rig: Rig, feed_server: FeedServer
) -> None:
    """The preview shows title, count and the newest release as posted; nothing is stored."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 3))
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    assert "Agency News" in reply.text
    assert "3 releases" in reply.text
    assert "Agency News release 2" in reply.text  # the newest (latest pubDate)
    labels = [c.text for row in reply.choices for c in row]
    assert labels == [
        "Subscribe: no backlog",
        "Subscribe: newest 1",
        "Subscribe: newest 5",
        "Cancel",
    ]
    assert rig.store.feed_by_url(url) is None
    assert rig.audit_actions() == []
    assert feed_server.hits("/feed.xml") == 1


async def test_subscribe_newest_one_owes_the_newest_release_at_once(
    rig: Rig, feed_server: FeedServer
) -> None:
    """Pressing "newest 1" makes feed, channel and route in one go and queues the newest."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 3))
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    done = await rig.press(reply, "Subscribe: newest 1")
    assert "subscribed to" in done.text
    assert "agency-news" in done.text
    view = rig.view()
    feed = view.feed("agency-news")
    assert feed is not None
    assert feed.origin == "chat"
    assert feed.interval == 600.0  # max(defaults.interval 5 min, admin.min_interval 10 min)
    assert view.route("agency-news", "science_news") is not None
    assert view.chat("science_news") is not None
    assert rig.pending("science_news") == ["Agency News release 2"]
    assert rig.audit_actions() == ["add"]
    assert rig.views, "the runtime was told the new view"
    assert feed_server.hits("/feed.xml") == 1  # the preview's fetch was stored, not repeated
    assert rig.store.due_feeds(["agency-news"], NOW) == []  # not polled again at once


async def test_subscribe_without_backlog_owes_nothing_old(
    rig: Rig, feed_server: FeedServer
) -> None:
    """ "no backlog": the releases are stored as seen, none is posted."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 3))
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    await rig.press(reply, "Subscribe: no backlog")
    assert rig.view().route("agency-news", "science_news") is not None
    assert rig.pending("science_news") == []


async def test_subscribe_without_the_kept_preview_lets_the_first_poll_owe_the_backlog(
    rig: Rig, feed_server: FeedServer
) -> None:
    """After a restart (the fetched feed forgotten) the route waits for the first poll."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 3))
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    token = reply.choices[0][0].data.split(":")[1]
    PREVIEWS.take(token, NOW)  # as a restart would
    await rig.press(reply, "Subscribe: newest 5")
    assert rig.pending("science_news") == []
    assert rig.store.due_feeds(["agency-news"], NOW) == ["agency-news"]
    releases = [make_release(n, feed="agency-news") for n in range(7)]
    rig.store.ingest("agency-news", releases, now=NOW, flood_limit=10)
    assert len(rig.pending("science_news")) == 5


async def test_cancel_changes_nothing(rig: Rig, feed_server: FeedServer) -> None:
    """Cancel: no feed, no route, no audit entry."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 3))
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    done = await rig.press(reply, "Cancel")
    assert "Cancelled" in done.text
    assert rig.store.feed_by_url(url) is None
    assert rig.audit_actions() == []


async def test_a_name_given_after_the_url_is_the_feeds_name(
    rig: Rig, feed_server: FeedServer
) -> None:
    """`/add URL name` names the feed; a name taken or invalid is refused before fetching."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 1))
    bad = await start_add(rig.ctx, CHAT, f"{url} Not/Valid", may_add_new=True, actor=OWNER)
    assert "cannot be a feed name" in bad.text
    taken = await start_add(rig.ctx, CHAT, f"{url} nida", may_add_new=True, actor=OWNER)
    await_press = await rig.press(taken, "Subscribe: no backlog")
    assert "exists already" in await_press.text
    reply = await start_add(rig.ctx, CHAT, f"{url} agency", may_add_new=True, actor=OWNER)
    await rig.press(reply, "Subscribe: no backlog")
    assert rig.view().route("agency", "science_news") is not None


async def test_add_in_a_forum_topic_routes_to_that_topic(rig: Rig, feed_server: FeedServer) -> None:
    """A forum topic gets its own channel row with its thread: the route posts there."""
    topic = Target(chat_id=-100222, kind="supergroup", title="Lab forum", thread_id=7)
    url = feed_server.serve("/feed.xml", rss("Agency News", 2))
    reply = await start_add(rig.ctx, topic, url, may_add_new=True, actor=OWNER)
    token = reply.choices[0][0].data.split(":")[1]
    action = rig.store.get_action(token)
    assert action is not None
    assert action.thread_id == 7
    await finish_add(rig.ctx, topic, action, "1", OWNER)
    chats = [chat for chat in rig.view().chats if chat.chat == "-100222"]
    assert [(chat.name, chat.thread_id) for chat in chats] == [("lab-forum-topic-7", 7)]
    assert rig.view().route("agency-news", "lab-forum-topic-7") is not None


# pages


async def test_add_by_page_with_one_feed_follows_it(rig: Rig, feed_server: FeedServer) -> None:
    """A web page linking to one feed: that feed is fetched once and previewed."""
    feed_server.serve("/news/rss.xml", rss("Agency News", 2))
    url = feed_server.serve("/news/", page(("rss.xml", "News")), content_type=HTML_TYPE)
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    assert "Agency News" in reply.text
    assert "2 releases" in reply.text
    await rig.press(reply, "Subscribe: no backlog")
    assert rig.store.feed_by_url(feed_server.url("/news/rss.xml")) == ("agency-news", "chat")
    assert (feed_server.hits("/news/"), feed_server.hits("/news/rss.xml")) == (1, 1)


async def test_add_by_page_with_several_feeds_offers_a_button_each(
    rig: Rig, feed_server: FeedServer
) -> None:
    """Several feeds on a page: a button each; the one pressed is fetched and previewed."""
    feed_server.serve("/en.xml", rss("News in English", 2))
    feed_server.serve("/es.xml", rss("Noticias", 4))
    url = feed_server.serve(
        "/", page(("/en.xml", "English"), ("/es.xml", "Español")), content_type=HTML_TYPE
    )
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    labels = [c.text for row in reply.choices for c in row]
    assert labels == ["English (RSS)", "Español (RSS)", "Cancel"]
    assert feed_server.hits("/en.xml") + feed_server.hits("/es.xml") == 0
    preview = await rig.press(reply, "Español")
    assert "Noticias" in preview.text
    assert "4 releases" in preview.text
    await rig.press(preview, "Subscribe: newest 1")
    assert rig.view().route("noticias", "science_news") is not None
    assert feed_server.hits("/es.xml") == 1
    assert feed_server.hits("/en.xml") == 0


async def test_a_page_without_feeds_is_refused(rig: Rig, feed_server: FeedServer) -> None:
    """A web page that announces no feed: a clear refusal, nothing stored."""
    url = feed_server.serve("/about", page(), content_type=HTML_TYPE)
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    assert "links to no RSS or Atom feed" in reply.text
    assert not reply.choices


async def test_a_non_feed_is_refused_with_its_reason(rig: Rig, feed_server: FeedServer) -> None:
    """JSON where a feed should be, or a 404: the reply says what went wrong."""
    json_url = feed_server.serve("/api", b'{"items": []}', content_type="application/json")
    reply = await start_add(rig.ctx, CHAT, json_url, may_add_new=True, actor=OWNER)
    assert reply.text.startswith("Not added: the feed could not be read:")
    assert not reply.choices
    gone = feed_server.serve("/gone.xml", b"", status=404)
    reply = await start_add(rig.ctx, CHAT, gone, may_add_new=True, actor=OWNER)
    assert "HTTP 404" in reply.text
    assert rig.audit_actions() == []


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("ftp://agency.example/feed.xml", "only http and https"),
        ("https://user:secret@agency.example/feed.xml", "user name or password"),
        ("https://agency.example/" + "a" * 2048, "at most 2,048"),
        ("agency.example/feed.xml", "not a web address"),
    ],
)
async def test_urls_are_checked_before_anything_is_fetched(rig: Rig, typed: str, says: str) -> None:
    """Only http(s), no credentials, at most 2,048 characters."""
    reply = await start_add(rig.ctx, CHAT, typed, may_add_new=True, actor=OWNER)
    assert says in reply.text
    assert not reply.choices


async def test_a_redirect_to_a_private_address_is_refused(tmp_path: Path) -> None:
    """With the guard on, a public URL redirecting to 127.0.0.1 is refused, never fetched."""
    public_ip = "93.184.216.34"
    with FeedServer() as public, FeedServer() as private:
        private.serve("/secret.xml", rss("Secret", 1))
        public.redirect("/feed.xml", private.url("/secret.xml"), status=302)
        settings = make_settings(tmp_path, fetch={"allow_private_addresses": False})
        fetcher = Fetcher(
            settings.fetch,
            user_agent="test",
            resolver=ScriptedResolver({"agency.example": [[public_ip]]}),
            network_backend=StandInInternet({public_ip: public}),
        )
        async with _rig(tmp_path, fetcher, fetch={"allow_private_addresses": False}) as made:
            reply = await start_add(
                made.ctx, CHAT, "http://agency.example/feed.xml", may_add_new=True, actor=OWNER
            )
        assert "non-public address 127.0.0.1" in reply.text
        assert not reply.choices
        assert public.hits("/feed.xml") == 1
        assert private.hits("/secret.xml") == 0


# known feeds


async def test_a_known_feed_by_name_is_not_fetched(rig: Rig, feed_server: FeedServer) -> None:
    """`/add NIDA`: the feed the bot follows, previewed from the store, no request made."""
    releases = [make_release(n) for n in range(4)]
    rig.store.ingest("nida", releases, now=NOW, flood_limit=10)
    reply = await start_add(rig.ctx, CHAT, "NIDA", may_add_new=False, actor=OWNER)
    assert "4 releases" in reply.text
    assert "already followed" in reply.text
    assert releases[3].title in reply.text
    await rig.press(reply, "Subscribe: newest 1")
    route = rig.view().route("nida", "science_news")
    assert route is not None
    assert route.origin == "chat"
    assert rig.pending("science_news") == [releases[3].title]
    assert feed_server.hits("/feed.xml") == 0  # nothing served, nothing asked


async def test_a_known_feed_by_url_is_not_fetched(rig: Rig) -> None:
    """The URL of a feed the bot follows: no fetch (the feed's host does not even exist)."""
    reply = await start_add(
        rig.ctx, CHAT, "https://nida.example/feed.xml", may_add_new=False, actor=OWNER
    )
    assert "already followed" in reply.text
    assert "0 releases" in reply.text


async def test_already_subscribed_says_so(rig: Rig) -> None:
    """A chat subscribed already is told, with no buttons."""
    lab = Target(chat_id=-100999, kind="channel", title="Lab")
    reply = await start_add(rig.ctx, lab, "nida", may_add_new=True, actor=OWNER)
    assert "already subscribed" in reply.text
    assert not reply.choices


# limits


async def test_a_chat_admin_may_not_follow_a_new_url_without_the_setting(
    rig: Rig, feed_server: FeedServer
) -> None:
    """Without chat_admins_add_feeds a chat admin gets a refusal and nothing is fetched."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 1))
    admin = Actor(user_id=5, name="@chatadmin")
    reply = await start_add(rig.ctx, CHAT, url, may_add_new=False, actor=admin)
    assert "only the bot's owners may follow a new feed URL" in reply.text
    assert feed_server.hits("/feed.xml") == 0


async def test_max_feeds_refuses_a_new_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    """At [admin] max_feeds a new URL is refused before fetching."""
    url = feed_server.serve("/feed.xml", rss("Agency News", 1))
    async with _rig(tmp_path, admin={"max_feeds": 1}) as made:
        reply = await start_add(made.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    assert "max_feeds" in reply.text
    assert feed_server.hits("/feed.xml") == 0


async def test_max_routes_per_chat_refuses_one_more(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """At [admin] max_routes_per_chat the chat is told to remove one first."""
    urls = [feed_server.serve(f"/{n}.xml", rss(f"Feed {n}", 1, prefix=str(n))) for n in range(2)]
    async with _rig(tmp_path, admin={"max_routes_per_chat": 1}) as made:
        first = await start_add(made.ctx, CHAT, urls[0], may_add_new=True, actor=OWNER)
        await made.press(first, "Subscribe: no backlog")
        second = await start_add(made.ctx, CHAT, urls[1], may_add_new=True, actor=OWNER)
    assert "max_routes_per_chat" in second.text
    assert not second.choices


# /import


def opml(urls: list[str]) -> bytes:
    outlines = "".join(f'<outline type="rss" text="t" xmlUrl="{url}"/>' for url in urls)
    return (
        f'<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head>'
        f"<body>{outlines}</body></opml>"
    ).encode()


async def test_opml_import_of_thirty_feeds_with_mixed_outcomes(
    rig: Rig, feed_server: FeedServer
) -> None:
    """30 feeds: new ones added, the known one skipped without a fetch, bad ones refused."""
    good = [feed_server.serve(f"/f{n}.xml", rss(f"Feed {n}", 2, prefix=f"f{n}")) for n in range(24)]
    missing = [feed_server.serve(f"/gone{n}.xml", b"", status=404) for n in range(2)]
    page_url = feed_server.serve("/page", page(), content_type=HTML_TYPE)
    urls = [
        *good,
        *missing,
        page_url,
        "https://nida.example/feed.xml",  # followed already: no fetch
        "ftp://agency.example/x.xml",
        "https://u:p@agency.example/x.xml",
    ]
    upload = Upload("feeds.opml", "text/x-opml", opml(urls))
    seen: list[tuple[int, int]] = []
    reply = await import_opml(
        rig.ctx, CHAT, upload, may_add_new=True, actor=OWNER, progress=lambda *p: seen.append(p)
    )
    assert "30 feeds in the file: 25 added, 0 already there, 5 refused" in reply.text
    assert "HTTP 404" in reply.text
    assert "only http and https" in reply.text
    assert seen[0] == (0, 30)
    assert seen[-1] == (30, 30)
    routes = rig.view().routes_of("science_news")
    assert len(routes) == 25
    assert {route.backlog for route in routes} == {0}
    assert rig.pending("science_news") == []
    assert rig.audit_actions().count("import") == 25
    assert all(feed_server.hits(f"/f{n}.xml") == 1 for n in range(24))
    again = await import_opml(rig.ctx, CHAT, upload, may_add_new=True, actor=OWNER)
    assert "25 already there" in again.text
    assert all(feed_server.hits(f"/f{n}.xml") == 1 for n in range(24))  # known: no fetch


async def test_opml_import_by_a_chat_admin_takes_only_known_feeds(
    rig: Rig, feed_server: FeedServer
) -> None:
    """Without permission for new URLs, only feeds the bot follows are subscribed."""
    url = feed_server.serve("/new.xml", rss("New", 1))
    upload = Upload("feeds.opml", "text/x-opml", opml([url, "https://nida.example/feed.xml"]))
    reply = await import_opml(rig.ctx, CHAT, upload, may_add_new=False, actor=OWNER)
    assert "1 added" in reply.text
    assert "only the bot's owners" in reply.text
    assert feed_server.hits("/new.xml") == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]>'
            b'<opml version="2.0"><body><outline xmlUrl="http://x.example/&a;"/></body></opml>',
            "entity declarations",
        ),
        (b"<html><body>not opml</body></html>", "not an OPML file"),
        (b"", "empty"),
    ],
)
async def test_hostile_opml_is_refused_and_changes_nothing(
    rig: Rig, content: bytes, says: str
) -> None:
    """Entity declarations and non-OPML are refused with the parser's message."""
    reply = await import_opml(
        rig.ctx, CHAT, Upload("x.opml", "text/xml", content), may_add_new=True, actor=OWNER
    )
    assert says in reply.text
    assert rig.audit_actions() == []


def test_previews_expire_with_their_buttons() -> None:
    """A kept preview older than a button's life is not used."""
    kept = _Previews(limit=2)
    fetched = FetchResult("ok", "u", None, b"body", "", None, None)
    found = Candidate(url="u", title="t", fetched=fetched)
    kept.keep("a", found, NOW)
    assert kept.take("a", NOW + timedelta(minutes=11)) is None
    kept.keep("b", found, NOW)
    taken = kept.take("b", NOW + timedelta(minutes=1))
    assert taken is not None
    assert taken.fetched is not None
    assert taken.fetched.body == b""  # the body is not kept, only what is stored


async def test_the_preview_of_a_huge_release_fits_one_message(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A release that alone fills a post still previews within Telegram's 4,096 characters."""
    words = " ".join(f"word{n}" for n in range(3000))
    body = (
        f'<rss version="2.0"><channel><title>{"Very long title " * 60}</title>'
        f"<item><guid>x</guid><title>{'Headline ' * 60}</title>"
        f"<link>https://agency.example/x</link><description>{words}</description></item>"
        "</channel></rss>"
    ).encode()
    url = feed_server.serve("/big.xml", body)
    async with _rig(tmp_path, defaults={"summary_length": 3000}) as made:
        reply = await start_add(made.ctx, CHAT, url, may_add_new=True, actor=OWNER)
    assert "word1 word2" in reply.text
    assert visible_length(reply.text) <= 4096
    assert reply.choices


async def test_opml_import_stops_at_the_chats_route_limit(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Limits hold feed by feed: past max_routes_per_chat the rest are refused with why."""
    urls = [feed_server.serve(f"/{n}.xml", rss(f"Feed {n}", 1, prefix=str(n))) for n in range(4)]
    upload = Upload("feeds.opml", "text/x-opml", opml(urls))
    async with _rig(tmp_path, admin={"max_routes_per_chat": 2}) as made:
        reply = await import_opml(made.ctx, CHAT, upload, may_add_new=True, actor=OWNER)
        assert len(made.view().routes_of("science_news")) == 2
    assert "2 added, 0 already there, 2 refused" in reply.text
    assert "max_routes_per_chat" in reply.text
