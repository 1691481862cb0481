"""The admin side's CLI: `opml import/export`, `config export`, `audit`, run in-process
(`bot.cli.main`) on real databases, with feeds served on loopback."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.cli import main
from bot.config import settings_from_dict
from bot.models import AuditEntry, RouteOverrides, RoutingView
from bot.render.toml_text import document
from bot.services.config_sync import apply_config
from bot.services.routing import build_view
from bot.store import Store
from tests.fakes.feed_server import FeedServer

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def rss(title: str, count: int = 2) -> bytes:
    items = "".join(
        f"<item><guid>{title}-{n}</guid><title>{title} {n}</title>"
        f"<link>https://agency.example/{n}</link></item>"
        for n in range(count)
    )
    return f'<rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()


def write_config(path: Path, database: Path, body: str = "") -> Path:
    path.write_text(
        f'[bot]\ndatabase = "{database}"\n\n[fetch]\nallow_private_addresses = true\n\n{body}',
        encoding="utf-8",
    )
    return path


def view_of(config: Path) -> RoutingView:
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    settings = settings_from_dict(data, config.parent)
    store = Store.open(settings.database_path)
    try:
        return build_view(store, settings)
    finally:
        store.close()


def chat_made(database: Path, config: Path, feed_url: str) -> None:
    """A feed, a channel and a route made in a chat, with options and a filter."""
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    settings = settings_from_dict(data, config.parent)
    store = Store.open(database)
    try:
        apply_config(store, settings, NOW)
        entry = AuditEntry(NOW, 7, "@admin", "science", "add", "chatfeed -> science", "", "x")
        with store.change(entry):
            store.add_chat_feed("chatfeed", feed_url, title="Chat Feed", interval=600.0)
            store.add_chat_channel("science", -100777, 3)
            store.add_chat_route("chatfeed", "science", 1, now=NOW)
            store.add_chat_route("nida", "science", 0, now=NOW)
        store.set_route_options("chatfeed", "science", citation_style="mla", silent=True)
        store.set_route_filter("chatfeed", "science", ("vaccine", "opioid use"), ("mouse",))
        store.set_route_paused("science", True, "nida")
    finally:
        store.close()


CONFIG_BODY = """
[defaults]
interval = "20m"
citation_style = "chicago"

[[feeds]]
name = "nida"
url = "{nida}"
publisher = "National Institute on \\"Drug\\" Abuse"
timezone = "America/New_York"

[[channels]]
name = "news"
chat = "@agency_news"
feeds = ["nida"]
summary_length = 300
"""


def test_config_export_is_a_config_check_accepts_giving_the_same_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """config export -> check accepts it -> synced into an empty database: the same view,
    chat-made route (options, filter) included."""
    database = tmp_path / "a.db"
    config = write_config(
        tmp_path / "a.toml", database, CONFIG_BODY.format(nida="https://nida.example/rss")
    )
    chat_made(database, config, "https://chat.example/feed.xml")
    assert main(["--config", str(config), "config", "export"]) == 0
    exported = capsys.readouterr().out
    assert "made in a Telegram chat" in exported
    data = tomllib.loads(exported)
    data["bot"]["database"] = str(tmp_path / "b.db")
    fresh = tmp_path / "b.toml"
    fresh.write_text(exported.replace(str(database), str(tmp_path / "b.db")), encoding="utf-8")
    assert main(["--config", str(fresh), "check"]) == 0
    capsys.readouterr()
    settings = settings_from_dict(tomllib.loads(fresh.read_text()), tmp_path)
    store = Store.open(settings.database_path)
    try:
        apply_config(store, settings, NOW)
    finally:
        store.close()
    before, after = view_of(config), view_of(fresh)
    assert _shape(after) == _shape(before)
    route = after.route("chatfeed", "science")
    assert route is not None
    assert route.include == ("vaccine", "opioid use")
    assert route.exclude == ("mouse",)
    assert route.overrides == RouteOverrides(citation_style="mla", silent=True)
    assert after.chat("science") is not None
    assert after.chat("science").thread_id == 3  # type: ignore[union-attr]


def _shape(view: RoutingView) -> tuple[Any, ...]:
    """The view without origins and pauses (which are not configuration)."""
    feeds = {(f.name, f.source, f.publisher, f.timezone, f.interval) for f in view.feeds}
    chats = {(c.name, c.chat, c.options, c.thread_id) for c in view.chats}
    routes = {(r.feed, r.chat, r.backlog, r.overrides, r.include, r.exclude) for r in view.routes}
    return feeds, chats, routes


def test_opml_export_then_import_into_an_empty_database_gives_the_same_feeds_and_routes(
    tmp_path: Path,
    feed_server: FeedServer,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """opml export --chat, then opml import --chat into an empty database: same feeds, routes."""
    nida = feed_server.serve("/nida.xml", rss("NIDA news"))
    chat_feed = feed_server.serve("/chat.xml", rss("Chat Feed"))
    database = tmp_path / "a.db"
    config = write_config(tmp_path / "a.toml", database, CONFIG_BODY.format(nida=nida))
    chat_made(database, config, chat_feed)
    assert main(["--config", str(config), "opml", "export", "--chat", "science"]) == 0
    exported = capsysbinary.readouterr().out
    assert b"<opml" in exported
    opml = tmp_path / "science.opml"
    opml.write_bytes(exported)
    empty = write_config(tmp_path / "b.toml", tmp_path / "b.db")
    code = main(["--config", str(empty), "opml", "import", str(opml), "--chat", "-100777"])
    out = capsysbinary.readouterr()
    assert code == 0, out
    assert b"2 added, 0 already there, 0 refused" in out.out
    assert b"checked" not in out.err  # quick work on a pipe: no progress lines (test_cli_progress)

    def routed(view: RoutingView, chat: str) -> set[str]:
        return {view.feed(r.feed).source for r in view.routes_of(chat)}  # type: ignore[union-attr]

    after = view_of(empty)
    assert routed(after, "100777") == routed(view_of(config), "science") == {nida, chat_feed}
    assert main(["--config", str(empty), "audit", "-n", "5"]) == 0
    audit = capsysbinary.readouterr().out.decode()
    assert audit.count("import") == 2
    assert "releasebot (CLI)" in audit


def test_opml_import_reports_refused_feeds_and_exits_1(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A feed that cannot be read is listed with its reason; the exit code says so."""
    good = feed_server.serve("/good.xml", rss("Good"))
    gone = feed_server.serve("/gone.xml", b"", status=404)
    opml = tmp_path / "x.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        f'<outline xmlUrl="{good}"/><outline xmlUrl="{gone}"/></body></opml>'
    )
    config = write_config(tmp_path / "c.toml", tmp_path / "c.db")
    code = main(["--config", str(config), "opml", "import", str(opml), "--chat", "@lab_news"])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 added, 0 already there, 1 refused" in out
    assert "HTTP 404" in out
    assert view_of(config).chat("lab_news") is not None


def test_opml_import_of_a_hostile_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Entity declarations: refused with the parser's message, exit 1."""
    opml = tmp_path / "x.opml"
    opml.write_text('<!DOCTYPE opml [<!ENTITY a "b">]><opml version="2.0"><body/></opml>')
    config = write_config(tmp_path / "c.toml", tmp_path / "c.db")
    code = main(["--config", str(config), "opml", "import", str(opml), "--chat", "-1001"])
    assert code == 1
    assert "entity declarations" in capsys.readouterr().err


def test_audit_on_an_empty_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No change yet: one line saying so."""
    config = write_config(tmp_path / "c.toml", tmp_path / "c.db")
    store = Store.open(tmp_path / "c.db")
    store.close()
    assert main(["--config", str(config), "audit"]) == 0
    assert "no changes recorded" in capsys.readouterr().out


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))  # SQLite text has no surrogates
_SCALARS = st.one_of(
    _TEXT,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)


@given(st.dictionaries(_TEXT.filter(bool), _SCALARS | st.lists(_TEXT, max_size=3), max_size=5))
@example({"0\n": 1})  # found by Hypothesis: `$` let a key ending in a line break go bare
def test_toml_writer_round_trips_any_text(table: dict[str, Any]) -> None:
    """Whatever a title or filter holds (quotes, controls, emoji), tomllib reads it back."""
    text = document({"t": table}, {"routes": [("a comment\nwith a newline", table)]})
    read = tomllib.loads(text)
    assert read.get("t", {}) == table
    assert read["routes"] == [table]


def test_opml_export_names_the_chat_by_username_or_name(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """--chat takes a channel's name or its @username; an unknown chat is a usage error."""
    database = tmp_path / "a.db"
    config = write_config(
        tmp_path / "a.toml", database, CONFIG_BODY.format(nida="https://nida.example/rss")
    )
    chat_made(database, config, "https://chat.example/feed.xml")
    for chat in ("news", "@Agency_News"):
        assert main(["--config", str(config), "opml", "export", "--chat", chat]) == 0
        exported = capsysbinary.readouterr().out
        assert b"https://nida.example/rss" in exported
        assert b"chat.example" not in exported
    assert main(["--config", str(config), "opml", "export", "--chat", "@nobody_here"]) == 2
