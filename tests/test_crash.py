"""Crash safety: `kill -9` mid-burst loses nothing and repeats only the sends in flight."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import BotProcess, Item, db_rows, release_url, rss, write_config

CHATS = [-1201, -1202, -1203, -1204, -1205]
RELEASES = range(1, 5)  # 1 post per second per chat: four rounds in all


def test_kill_9_mid_burst_then_restart_delivers_everything_with_few_duplicates(
    tmp_path: Path, fake_bot_api: FakeBotAPI, feed_server: FeedServer
) -> None:
    """5 channels x 4 releases; kill -9 while sends are in flight; after a restart every
    release is in every channel, and each chat's duplicates are at most its in-flight sends."""
    api = fake_bot_api
    for chat in CHATS:
        api.add_chat(chat, "channel")
    api.set_delay("sendMessage", 0.3)  # each send spends a while in flight
    url = feed_server.serve("/nida.xml", rss(*(Item(n) for n in RELEASES)))
    channels = {f"c{i}": chat for i, chat in enumerate(CHATS)}
    config = write_config(
        tmp_path,
        api_base_url=api.base_url,
        feeds={"nida": url},
        channels=[(name, chat, ["nida"]) for name, chat in channels.items()],
        backlog=10,
    )

    def in_flight() -> list[str]:
        return [
            r["channel"]
            for r in db_rows(config, "SELECT * FROM deliveries")
            if r["state"] == "sending"
        ]

    def unanswered() -> bool:
        """A send is under way whose message has not reached the chat yet: killed now, the
        bot cannot have recorded its answer. (A `sending` row alone may be one whose answer
        is on its way back, recorded before the kill lands.)"""
        rows = db_rows(config, "SELECT channel, state FROM deliveries")
        return any(
            len(api.messages(chat))
            < sum(r["state"] in ("sent", "sending") for r in rows if r["channel"] == name)
            for name, chat in channels.items()
        )

    first = BotProcess(config, token=api.token)
    try:
        first.wait_for(
            lambda: len(api.all_messages()) >= len(CHATS) and unanswered(), "sends in flight"
        )
    finally:
        first.kill()
    sending_at_kill = Counter(in_flight())
    delivered_at_kill = len(api.all_messages())
    time.sleep(0.5)  # the fake finishes answering the dead process's last calls
    assert 0 < delivered_at_kill < len(CHATS) * len(RELEASES)  # really in the middle

    second = BotProcess(config, "--once", token=api.token)
    assert second.wait(timeout=60) == 0, second.stderr
    assert "sends were in flight at the last stop" in second.stderr

    for name, chat in channels.items():
        received = Counter(m.buttons[0]["url"] for m in api.messages(chat))
        assert set(received) == {release_url(n) for n in RELEASES}, name
        duplicates = sum(count - 1 for count in received.values())
        assert duplicates <= sending_at_kill[name], name
    states = {r["state"] for r in db_rows(config, "SELECT state FROM deliveries")}
    assert states == {"sent"}
