"""A small world for admin-service tests: a real Store on a temporary database, synced from
a real config, plus chat-made rows; `Members` answers getChatMember and getChat the way
Telegram would (statuses and rights per chat and user), counting the look-ups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import settings_from_dict
from bot.errors import ChatUnavailableError
from bot.models import RoutingView
from bot.services.admin import AdminService
from bot.services.admin_context import AdminContext
from bot.services.admin_types import (
    GROUP_ANONYMOUS_BOT,
    Actor,
    AdminReply,
    AdminRequest,
    Membership,
    Place,
    Press,
)
from bot.services.config_sync import apply_config
from bot.store import Store
from tests.factories import make_release

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

OWNER = 1
CHANNEL_ADMIN = 10  # administrator of the channel "news", may post
GROUP_ADMIN = 20  # administrator of the group "lab", may change its info
MEMBER = 30  # a plain member of both
WEAK_ADMIN = 40  # administrator of "lab" without can_change_info
CREATOR = 50  # created "lab"

NEWS = Place(-100100, "channel", "Agency <news>", "agency_news")
LAB = Place(-100200, "supergroup", "Lab & friends")
ELSEWHERE = Place(-100300, "supergroup", "Other group")

CONFIG: dict[str, Any] = {
    "bot": {"admins": [OWNER]},
    "defaults": {"backlog": 5},
    "feeds": [
        {"name": "nida", "url": "https://example.org/nida.xml", "publisher": "NIDA"},
    ],
    "channels": [{"name": "news", "chat": NEWS.chat_id, "feeds": ["nida"]}],
}
CDC_URL = "https://cdc.example/feed.xml"


class Members:
    """getChatMember and getChat as Telegram answers them; `left` for strangers."""

    def __init__(self) -> None:
        self.rights: dict[tuple[int, int], Membership] = {}
        self.chats: dict[int | str, Place] = {}
        self.lookups = 0
        for place in (NEWS, LAB, ELSEWHERE):
            self.chats[place.chat_id] = place
            if place.username:
                self.chats[f"@{place.username}"] = place
        self.set(NEWS, CHANNEL_ADMIN, Membership("administrator", can_post_messages=True))
        self.set(LAB, GROUP_ADMIN, Membership("administrator", can_change_info=True))
        self.set(LAB, WEAK_ADMIN, Membership("administrator", can_change_info=False))
        self.set(LAB, CREATOR, Membership("creator"))
        for place in (NEWS, LAB):
            self.set(place, MEMBER, Membership("member"))

    def set(self, place: Place, user_id: int, membership: Membership) -> None:
        self.rights[(place.chat_id, user_id)] = membership

    async def membership(self, chat_id: int, user_id: int) -> Membership:
        self.lookups += 1
        if chat_id not in self.chats:
            raise ChatUnavailableError("Bad Request: chat not found")
        return self.rights.get((chat_id, user_id), Membership("left"))

    async def chat(self, ref: int | str) -> Place | None:
        return self.chats.get(ref if isinstance(ref, int) else ref.lower())


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    store: Store
    clock: Clock
    members: Members
    service: AdminService
    views: list[RoutingView] = field(default_factory=list)
    woken: int = 0

    async def send(
        self,
        text: str,
        user: int | None,
        place: Place = LAB,
        *,
        sender_chat: int | None = None,
        name: str = "",
    ) -> AdminReply | None:
        """Send `/command args` as `user` in `place`."""
        command, _, args = text.removeprefix("/").partition(" ")
        actor = Actor(user, name or f"user{user}", sender_chat)
        return await self.service.handle(AdminRequest(command, args, actor, place))

    async def press(self, data: str, user: int, place: Place = LAB) -> AdminReply:
        actor = Actor(user, f"user{user}")
        return await self.service.press(Press(data, actor, place, message_id=1))

    def audit_rows(self) -> int:
        return int(self.store.db.execute("SELECT count(*) FROM audit").fetchone()[0])

    def deliveries(self, channel: str) -> dict[str, int]:
        return self.store.delivery_counts().get(channel, {})


def private(user: int) -> Place:
    return Place(user, "private", f"user{user}")


def anonymous(place: Place) -> dict[str, Any]:
    """The keyword arguments of a message sent as the group (an anonymous admin)."""
    return {"user": GROUP_ANONYMOUS_BOT, "sender_chat": place.chat_id}


def make_world(tmp_path: Path, **admin: Any) -> Iterator[World]:
    """news (channel, config): nida (config route) and cdc (chat route); lab (group, chat):
    cdc (chat route); each route owed two posts."""
    settings = settings_from_dict({**CONFIG, "admin": admin}, tmp_path)
    store = Store.open(tmp_path / "bot.db")
    clock = Clock()
    apply_config(store, settings, clock())
    with store.writing():
        store.add_chat_feed("cdc", CDC_URL, title="CDC <newsroom>", interval=900.0)
        store.add_chat_channel("lab", LAB.chat_id, None)
        store.add_chat_route("cdc", "lab", 5, now=clock())
        store.add_chat_route("cdc", "news", 5, now=clock())
    for feed in ("nida", "cdc"):
        releases = [
            make_release(n, feed=feed, key=f"{feed}-{n}", url=f"https://{feed}.example/{n}")
            for n in (1, 2)
        ]
        store.ingest(feed, releases, now=clock(), flood_limit=None)
    members = Members()
    world: World
    ctx = AdminContext(
        settings=settings,
        store=store,
        clock=clock,
        members=members,
        fetcher=None,
        bot_username="releasebot_test_bot",
        rerouted=lambda settings, view: world.views.append(view),
    )

    def wake() -> None:
        world.woken += 1

    world = World(store, clock, members, AdminService(ctx, wake=wake))
    try:
        yield world
    finally:
        store.close()
