"""Reload in process: one `Runtime.reroute` switches the poller, the dispatcher and the
reader commands to the new view at once; a reload waits for the round under way; the
settings a running process cannot change keep their running values and are named.

Real store, real sync, real Poller (loopback feed server), Dispatcher (printing through the
dry-run sender) and Answers; the SIGHUP tests signal this test process itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser
from bot.config import Settings, load_settings, settings_from_dict
from bot.fetch.client import Fetcher, default_user_agent
from bot.render.command_args import Command
from bot.render.notices import MAX_PROBLEMS, config_rejected_notice
from bot.services.commands import Answers, ChatRef
from bot.services.config_sync import apply_config
from bot.services.dispatcher import Dispatcher
from bot.services.poller import Poller
from bot.services.progress import Progress
from bot.services.reload import keep_running_values, reload_config
from bot.services.running import NoRunError, signal_run
from bot.store import Store
from bot.store.lock import lock_path, run_lock
from bot.telegram.app import Runtime
from bot.telegram.dryrun import DryRunSender
from bot.telegram.reload import EarlyHangups, Reloading
from tests.fakes.feed_server import FeedServer
from tests.test_run_e2e import Item, rss

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BOT = "releasebot_test_bot"
OWNER, NEW_OWNER = 501, 502
LAB = ChatRef(-1002, "channel", "", None)


def config_text(
    feeds: dict[str, str], channels: dict[str, tuple[int, list[str]]], **bot: Any
) -> str:
    """A config file's text: `channels` maps a name to its chat and feeds; `bot` keys as is."""
    lines = ["[bot]", 'database = "bot.db"', *(f"{k} = {v!r}" for k, v in bot.items())]
    lines += ["[fetch]", "allow_private_addresses = true"]
    for name, url in feeds.items():
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"']
    for name, (chat, routed) in channels.items():
        lines += ["[[channels]]", f'name = "{name}"', f"chat = {chat}", f"feeds = {routed!r}"]
    return "\n".join(lines).replace("'", '"') + "\n"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "bot.db")
    yield opened
    opened.close()


def runtime_of(settings: Settings, store: Store, fetcher: Fetcher, out: io.StringIO) -> Runtime:
    """The parts of a running bot, built as open_runtime builds them (dry-run sender)."""
    view = apply_config(store, settings, NOW)
    dispatcher = Dispatcher(
        settings,
        store=store,
        sender=DryRunSender(out),
        clock=lambda: NOW,
        pacer=None,
        bot_username=BOT,
        dry_run=True,
        view=view,
    )
    poller = Poller(settings, store=store, fetcher=fetcher, clock=lambda: NOW, view=view)
    progress = Progress(lambda: NOW, lambda: 0)
    runtime = Runtime(settings, store, poller, dispatcher, lambda: NOW, progress, view)
    runtime.followers.append(Answers(settings, store, lambda: NOW, BOT, view=runtime.view))
    return runtime


async def test_one_reroute_switches_poller_dispatcher_and_answers(
    tmp_path: Path, store: Store, feed_server: FeedServer
) -> None:
    """After a reload adds feed cdc routed to new channel lab (and a new owner), the next
    poll fetches cdc, its release is posted to lab, lab's /feeds lists cdc, and the new
    owner may /retry lab: every part reads the new view and settings."""
    nida = feed_server.serve("/nida.xml", rss(Item(1)))
    cdc = feed_server.serve("/cdc.xml", rss(Item(30, guid="cdc-30")))
    path = tmp_path / "releasebot.toml"
    path.write_text(config_text({"nida": nida}, {"news": (-1001, ["nida"])}, admins=[OWNER]))
    first = load_settings(path)
    out = io.StringIO()
    async with Fetcher(first.fetch, user_agent=default_user_agent()) as fetcher:
        runtime = runtime_of(first, store, fetcher, out)
        [answers] = runtime.followers
        assert isinstance(answers, Answers)
        path.write_text(
            config_text(
                {"nida": nida, "cdc": cdc},
                {"news": (-1001, ["nida"]), "lab": (-1002, ["cdc"])},
                admins=[OWNER, NEW_OWNER],
            )
        )
        done = reload_config(store, runtime.settings, runtime.view, load_settings(path), NOW)
        runtime.reroute(done.settings, done.view)

        polled = await runtime.poller.poll_due()
    assert sorted(o.feed for o in polled) == ["cdc", "nida"]
    report = await runtime.dispatcher.drain()
    assert report.printed == 2
    assert "to -1002 ─" in out.getvalue()
    feeds = answers.answer(Command("feeds", "", addressed=True), LAB)
    assert feeds is not None
    assert "cdc" in feeds.text
    owner = ChatRef(NEW_OWNER, "private", "", NEW_OWNER)
    retry = answers.answer(Command("retry", "lab", addressed=False), owner)
    assert retry is not None
    assert "for the bot's admins" not in retry.text  # NEW_OWNER is an owner now
    assert "No channel is called" not in retry.text  # lab is a channel now
    assert runtime.view is runtime.poller.view is runtime.dispatcher.view is answers.view


def test_restart_only_settings_keep_their_running_values_and_are_named(tmp_path: Path) -> None:
    """A reload that changes the tick, the API URL, the fetch timeout and the database as
    well as the owners: the owners change now; the others keep running values and are
    listed."""
    running = settings_from_dict({"bot": {"admins": [OWNER], "tick": "30s"}}, tmp_path)
    loaded = settings_from_dict(
        {
            "bot": {
                "admins": [NEW_OWNER],
                "tick": "5s",
                "api_base_url": "http://127.0.0.1:9/bot",
            },
            "fetch": {"timeout": "5s", "max_items": 5},
            "defaults": {"backlog": 4},
        },
        tmp_path / "elsewhere",
    )
    applied, restart = keep_running_values(running, loaded)
    # bot.database: the same name, read from another folder, is another file
    assert restart == ["bot.api_base_url", "bot.database", "bot.tick", "fetch.timeout"]
    assert applied.bot.admins == (NEW_OWNER,)
    assert (applied.fetch.max_items, applied.defaults.backlog) == (5, 4)
    assert applied.bot.tick == 30.0
    assert applied.bot.api_base_url == running.bot.api_base_url
    assert applied.fetch.timeout == running.fetch.timeout
    assert applied.database_path == running.database_path


def test_the_owners_notice_lists_at_most_ten_problems_escaped() -> None:
    """A file broken in 25 places: the notice shows ten problems and says how many more;
    a `<` in a problem is escaped."""
    problems = [f"feeds[{n}].timezone: unknown time zone 'Mars/<{n}>'" for n in range(1, 26)]
    notice = config_rejected_notice("conf/<bot>.toml", problems)
    assert notice.count("• ") == MAX_PROBLEMS
    assert "… and 15 more (releasebot check lists them all)" in notice
    assert "<b>conf/&lt;bot&gt;.toml</b>" in notice
    assert "Mars/&lt;1&gt;" in notice
    assert "<1>" not in notice


async def test_a_reload_waits_for_the_round_under_way(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGHUP during a round: the round finishes with the view it started with; the reload
    applies after it, and a second SIGHUP meanwhile does not reload twice. Its one line
    says what changed, and which changed setting waits for a restart."""
    path = tmp_path / "releasebot.toml"
    path.write_text(config_text({"nida": "nida.xml"}, {"news": (-1001, ["nida"])}))
    settings = load_settings(path)
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        runtime = runtime_of(settings, store, fetcher, io.StringIO())
        before = runtime.view
        round_may_end = asyncio.Event()
        seen: list[object] = []

        async def round_() -> None:
            await round_may_end.wait()
            seen.append(runtime.poller.view)

        runtime.round = asyncio.create_task(round_())
        path.write_text(config_text({"nida": "nida.xml", "nih": "nih.xml"}, {}, tick="5s"))
        reloading = Reloading(runtime, path, asyncio.get_running_loop())
        with caplog.at_level(logging.INFO, logger="bot.telegram.reload"):
            reloading.on_signal()
            reloading.on_signal()
            await asyncio.sleep(0.01)
            assert runtime.view is before  # not in the middle of the round
            round_may_end.set()
            assert runtime.round is not None
            await runtime.round
    assert seen == [before]
    assert runtime.view.feed_names == ("nida", "nih")
    assert runtime.view.chat_names == ()
    reloaded = [r.message for r in caplog.records if r.message.startswith("reloaded")]
    assert reloaded == [
        f"reloaded {path}: feeds +1 -0, channels +0 -1, routes +0 -1;"
        " changed in the file but kept until a restart: bot.tick"
    ]
    assert runtime.settings.bot.tick == settings.bot.tick


async def test_a_sighup_before_the_run_can_reload_is_applied_once_it_can(
    tmp_path: Path, store: Store
) -> None:
    """A SIGHUP that comes while the run starts (before its loop takes the signal) neither
    ends the process nor is lost: the reload happens once the run is up."""
    path = tmp_path / "releasebot.toml"
    path.write_text(config_text({"nida": "nida.xml"}, {}))
    before = signal.getsignal(signal.SIGHUP)
    try:
        early = EarlyHangups.catch()
        os.kill(os.getpid(), signal.SIGHUP)
        assert early.pending
        settings = load_settings(path)
        async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
            runtime = runtime_of(settings, store, fetcher, io.StringIO())
            path.write_text(config_text({"nida": "nida.xml", "nih": "nih.xml"}, {}))
            with Reloading(runtime, path, asyncio.get_running_loop(), early=early):
                assert runtime.round is not None
                await runtime.round
                os.kill(os.getpid(), signal.SIGHUP)  # handled by the loop now, not fatal
                await asyncio.sleep(0.05)
            assert signal.getsignal(signal.SIGHUP) == early.caught  # while the run stops
    finally:
        signal.signal(signal.SIGHUP, before)
    assert runtime.view.feed_names == ("nida", "nih")


async def test_run_once_does_not_reload(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """`run --once` reads its config at start only: a SIGHUP is logged and changes nothing."""
    path = tmp_path / "releasebot.toml"
    path.write_text(config_text({"nida": "nida.xml"}, {}))
    settings = load_settings(path)
    async with Fetcher(settings.fetch, user_agent=default_user_agent()) as fetcher:
        runtime = runtime_of(settings, store, fetcher, io.StringIO())
        path.write_text(config_text({}, {}))
        with caplog.at_level(logging.WARNING):
            Reloading(runtime, path, asyncio.get_running_loop(), once=True).on_signal()
    assert runtime.round is None
    assert runtime.view.feed_names == ("nida",)
    assert "run --once reads" in caplog.text


# --- releasebot reload: which run it signals ------------------------------------------


@contextlib.contextmanager
def held_by(database: Path, record: dict[str, Any]) -> Iterator[None]:
    """Hold `database`'s run lock in this process, its file saying `record` instead of us."""
    with run_lock(database, now=NOW):
        lock_path(database).write_text(json.dumps(record))
        yield


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ({"what": "run", "pid": 1, "host": "build-box-7"}, "is on host build-box-7 (PID 1"),
        ({"what": "run", "host": socket.gethostname()}, "does not say its PID"),
        ({"what": "poll", "pid": 1, "host": socket.gethostname()}, "a releasebot poll holds"),
    ],
)
def test_reload_signals_only_a_run_on_this_host_with_a_known_pid(
    tmp_path: Path, record: dict[str, Any], says: str
) -> None:
    """The lock is held, but by a run on another host, by a run whose PID the file does not
    say, or by a `poll`: nothing is signalled, and the error says which."""
    database = tmp_path / "bot.db"
    with held_by(database, record), pytest.raises(NoRunError) as refused:
        signal_run(database)
    assert says in refused.value.message


def test_reload_takes_config_before_or_after_the_command() -> None:
    """`releasebot reload --config X` and `releasebot --config X reload` name the same file."""
    parser = build_parser()
    assert parser.parse_args(["reload", "--config", "x.toml"]).config == Path("x.toml")
    assert parser.parse_args(["--config", "y.toml", "reload"]).config == Path("y.toml")
    assert parser.parse_args(["reload"]).config is None
