"""A damaged or read-only database, as an operator meets it: the real `releasebot` process.

Only a missing database file is created. An empty file, a file that is not a database, a
database written by a newer release-bot and one with a damaged page are refused at start
by every command that opens the database: exit 2, one line on stderr naming the file and
what to do, no traceback, and the file left exactly as it was. A read-only database (or
folder) still answers the commands that only read; the commands that write say so.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.inprocess import releasebot_here
from tests.test_run_e2e import CHANNEL_A, Item, rss, write_config

REPO = Path(__file__).resolve().parent.parent
PAGE = 4096
STORE_COMMANDS = [
    ("poll",),
    ("latest",),
    ("cite", "1"),
    ("status",),
    ("check",),
    ("prune",),
    ("run", "--once", "--dry-run"),
    ("run", "--dry-run"),
]


def start(
    config: Path, *args: str, token: str | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """Start `python -m bot --config CONFIG ARGS` (behind `prefix`, e.g. a privilege drop)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN",)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    command = [*prefix, sys.executable, "-m", "bot", "--config", str(config), *args]
    return subprocess.Popen(
        command, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return -9, out, err + f"\n(still running after {timeout} s: killed)"
    return proc.returncode, out, err


def releasebot(config: Path, *args: str, prefix: tuple[str, ...] = ()) -> tuple[int, str, str]:
    return finish(start(config, *args, prefix=prefix))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in `folder` with its bytes: 'untouched' means this stays the same.

    `run`'s lock file is left out: it only names the process that last held the lock."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith(".lock")
    }


# --- a real database, and ways to break it ------------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database the real `poll` filled with 40 releases (cleanly closed: no -wal left)."""
    folder = tmp_path_factory.mktemp("stored")
    (folder / "feed.xml").write_bytes(rss(*(Item(n) for n in range(1, 41))))
    config = write_config(
        folder, api_base_url="http://127.0.0.1:9/bot", feeds={"nida": "feed.xml"}, channels=[]
    )
    code, _, err = releasebot(config, "poll")
    assert code == 0, err
    return folder / "bot.db"


def fresh_copy(stored: Path, folder: Path) -> Path:
    """A config in `folder` whose database is a copy of the stored one; returns the config."""
    shutil.copy(stored, folder / "bot.db")
    shutil.copy(stored.parent / "feed.xml", folder / "feed.xml")
    return write_config(
        folder,
        api_base_url="http://127.0.0.1:9/bot",
        feeds={"nida": "feed.xml"},
        channels=[("a-news", CHANNEL_A, ["nida"])],
    )


def quick_check(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)  # no -shm left
    try:
        return [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()


def make_empty(db: Path) -> None:
    db.write_bytes(b"")


def make_not_a_database(db: Path) -> None:
    db.write_text("feed,title\nnida,Release 1\n", encoding="utf-8")


def make_newer(db: Path) -> None:
    """Record a migration this release-bot does not know, as a newer one would."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('releasebot', 'm999_from_the_future', '2030-01-01 00:00:00+00:00')"
        )
    conn.close()
    assert not db.with_name("bot.db-wal").exists()


def make_damaged(db: Path) -> None:
    """Overwrite a b-tree page header in the middle of the file (never page 1, the header),
    on a page whose damage quick_check reports by its number (damage to some pages, such
    as an index's root, only makes it say "database disk image is malformed")."""
    original = db.read_bytes()
    pages = len(original) // PAGE
    for page in range(pages // 2, pages):
        data = bytearray(original)
        data[page * PAGE : page * PAGE + 64] = b"\xff" * 64
        db.write_bytes(bytes(data))
        if any("Page" in line for line in quick_check(db)):
            return
    pytest.fail("no page in the second half of the file made quick_check name it")


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (make_empty, "is empty (0 bytes): restore it from a backup, or delete it"),
    "not a database": (make_not_a_database, "is not a SQLite database"),
    "newer schema": (make_newer, "was written by a newer release-bot"),
    "damaged page": (make_damaged, "is damaged ("),
}


def assert_refused(code: int, err: str, db: Path, says: str, command: str) -> None:
    assert "Traceback" not in err, f"{command}: {err}"
    assert code == 2, f"{command} exited {code}: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"{command}: {err}"
    assert str(db) in lines[0], f"{command}: {lines[0]}"
    assert says in lines[0], f"{command}: {lines[0]}"


# Per kind of damage, one one-shot command and the long-running `run` stay real processes
# (exit code and stderr as an operator sees them); the rest run in this process.
IN_PROCESS = [
    ("latest",),
    ("cite", "1"),
    ("status",),
    ("check",),
    ("prune",),
    ("run", "--once", "--dry-run"),
]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_command_refuses_an_unusable_database_and_leaves_it_as_it_was(
    stored: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Empty, not a database, newer schema, damaged page: each command exits 2 with one line
    naming the file and what to do, and the folder keeps exactly the same bytes."""
    config = fresh_copy(stored, tmp_path)
    db = tmp_path / "bot.db"
    make, says = DAMAGE[damage]
    make(db)
    before = snapshot(tmp_path)
    assert sorted([("poll",), ("run", "--dry-run"), *IN_PROCESS]) == sorted(STORE_COMMANDS)
    poll = start(config, "poll")
    for args in IN_PROCESS:
        done = releasebot_here(capsys, ["--config", str(config), *args])
        assert_refused(done.returncode, done.stderr, db, says, " ".join(args))
    code, _, err = finish(poll)
    assert_refused(code, err, db, says, "poll")
    # `run` holds the database's lock: started once `poll` and the in-process run are done.
    code, _, err = finish(start(config, "run", "--dry-run"))
    assert_refused(code, err, db, says, "run --dry-run")
    assert snapshot(tmp_path) == before


def test_check_lists_what_quick_check_found_on_a_damaged_page(stored: Path, tmp_path: Path) -> None:
    """`check` prints each problem SQLite found (the damaged page) and exits 2."""
    config = fresh_copy(stored, tmp_path)
    make_damaged(tmp_path / "bot.db")
    found = [line for line in quick_check(tmp_path / "bot.db") if "Page" in line]
    code, out, err = releasebot(config, "check")
    assert code == 2, err
    assert "config ok" in out
    reported = [line for line in out.splitlines() if line.startswith("database: ")]
    assert reported
    assert any(line.split(": ", 1)[1] in found[0] for line in reported), (out, found)
    assert "restore it from a backup" in err


def test_the_live_bot_refuses_an_empty_database(tmp_path: Path, fake_bot_api: FakeBotAPI) -> None:
    """`run` and `run --once` with a real token refuse an empty database too: exit 2, one
    line, nothing sent, the file still empty."""
    fake_bot_api.add_chat(CHANNEL_A, "channel")
    (tmp_path / "feed.xml").write_bytes(rss(Item(1)))
    config = write_config(
        tmp_path,
        api_base_url=fake_bot_api.base_url,
        feeds={"nida": "feed.xml"},
        channels=[("a-news", CHANNEL_A, ["nida"])],
    )
    db = tmp_path / "bot.db"
    db.write_bytes(b"")
    for args in (("run", "--once"), ("run",)):
        code, _, err = finish(start(config, *args, token=fake_bot_api.token))
        assert_refused(code, err, db, "is empty (0 bytes)", " ".join(args))
    assert db.read_bytes() == b""
    assert fake_bot_api.requests_for("sendMessage") == []


def test_a_missing_database_is_created(tmp_path: Path) -> None:
    """Only a missing file is a new database: `poll` creates it and stores the releases."""
    (tmp_path / "feed.xml").write_bytes(rss(Item(1), Item(2)))
    config = write_config(
        tmp_path, api_base_url="http://127.0.0.1:9/bot", feeds={"nida": "feed.xml"}, channels=[]
    )
    code, out, err = releasebot(config, "poll")
    assert code == 0, err
    assert "nida" in out
    assert quick_check(tmp_path / "bot.db") == ["ok"]


def test_processes_starting_together_on_a_missing_database_all_use_it(tmp_path: Path) -> None:
    """A new database never shows up empty: six `check`s started at once on a missing
    file all find a whole database (none is told it is empty), and one file remains."""
    config = write_config(
        tmp_path, api_base_url="http://127.0.0.1:9/bot", feeds={"nida": "feed.xml"}, channels=[]
    )
    procs = [start(config, "check") for _ in range(6)]
    for proc in procs:
        code, out, err = finish(proc)
        assert code == 0, err
        assert "database ok" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bot.db", "releasebot.toml"]


# --- read-only ------------------------------------------------------------------------------


def unprivileged(folder: Path) -> tuple[str, ...]:
    """A command prefix under which file permissions apply to this test's processes.

    Root ignores permission bits (CAP_DAC_OVERRIDE), so as root the commands run as root
    without the capabilities that bypass them (`setpriv` drops them from the bounding set).
    A probe checks that a read-only file really cannot be written that way.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and without setpriv root ignores file permissions")
    prefix = (
        setpriv,
        "--bounding-set=-dac_override,-dac_read_search,-fowner",
        "--inh-caps=-all",
    )
    probe = folder / "probe"
    probe.write_text("")
    probe.chmod(0o444)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", f"open({str(probe)!r}, 'a')"],
            capture_output=True,
            check=False,
            timeout=30,
        )
    finally:
        probe.unlink()
    if done.returncode == 0 or b"PermissionError" not in done.stderr:
        pytest.skip(f"cannot drop root's file-permission override here: {done.stderr!r}")
    return prefix


@pytest.fixture(params=["file", "folder"])
def read_only(request: pytest.FixtureRequest, stored: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the stored database made read-only: the file itself, or its folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    config = fresh_copy(stored, folder)
    target = folder / "bot.db" if request.param == "file" else folder
    mode = stat.S_IMODE(target.stat().st_mode)
    target.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield config
    finally:
        target.chmod(mode)


def test_reading_commands_work_on_a_read_only_database(read_only: Path) -> None:
    """`latest`, `cite`, `status`, `check`, `retry --list` and `preview` answer from a
    read-only database (or folder), and leave no file behind."""
    prefix = unprivileged(read_only.parent.parent)
    folder = read_only.parent
    before = snapshot(folder)
    code, out, err = releasebot(read_only, "latest", "-n", "2", prefix=prefix)
    assert code == 0, err
    assert "Release 40 on drug use" in out
    code, out, err = releasebot(read_only, "cite", "1", prefix=prefix)
    assert code == 0, err
    assert "Release 1 on drug use" in out
    code, out, err = releasebot(read_only, "status", prefix=prefix)
    assert code == 0, err
    assert out.splitlines()[1].startswith("nida ")
    assert "is read-only" in err
    code, out, err = releasebot(read_only, "check", prefix=prefix)
    assert code == 0, err
    assert "database ok" in out
    code, out, err = releasebot(read_only, "retry", "--list", prefix=prefix)
    assert (code, err.strip()) == (1, "releasebot: no failed posts")
    code, out, err = releasebot(read_only, "preview", "nida", "--limit", "1", prefix=prefix)
    assert code == 0, err
    assert "Release 40 on drug use" in out
    assert snapshot(folder) == before


@pytest.mark.parametrize("command", [("poll",), ("run", "--once", "--dry-run")])
def test_writing_commands_say_the_database_is_read_only(
    read_only: Path, command: tuple[str, ...]
) -> None:
    """`poll` and `run` on a read-only database (or folder): one line saying so, exit 2."""
    prefix = unprivileged(read_only.parent.parent)
    db = read_only.parent / "bot.db"
    before = snapshot(read_only.parent)
    code, _, err = releasebot(read_only, *command, prefix=prefix)
    assert_refused(code, err, db, "is read-only: ", " ".join(command))
    assert snapshot(read_only.parent) == before


def test_a_read_only_reader_sees_what_a_live_writer_has_not_checkpointed_yet(
    stored: Path, tmp_path: Path
) -> None:
    """Beside a writer whose latest change is still only in the -wal file, `cite` on the
    database (read-only for it) shows that change: the WAL is read, not ignored."""
    prefix = unprivileged(tmp_path)
    config = fresh_copy(stored, tmp_path)
    db = tmp_path / "bot.db"
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        with writer:
            writer.execute("UPDATE releases SET title = 'Retitled while live' WHERE id = 1")
        assert db.with_name("bot.db-wal").stat().st_size > 0
        db.chmod(0o444)
        code, out, err = releasebot(config, "cite", "1", prefix=prefix)
    finally:
        db.chmod(0o644)
        writer.close()
    assert code == 0, err
    assert "Retitled while live" in out


def test_a_read_only_folder_holding_a_wal_without_its_shm_is_named_with_the_fix(
    stored: Path, tmp_path: Path
) -> None:
    """A copied folder kept a -wal but lost its -shm, and is read-only: SQLite cannot read
    it there, so the reading commands say why and what to do (exit 2), not "unable to open"."""
    folder = tmp_path / "data"
    folder.mkdir()
    config = fresh_copy(stored, folder)
    db = folder / "bot.db"
    writer = sqlite3.connect(db)  # a writer whose changes are still only in the -wal
    writer.execute("PRAGMA journal_mode = wal")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE feeds SET title = 'changed' WHERE name = 'nida'")
    writer.commit()
    shutil.copy(folder / "bot.db-wal", tmp_path / "wal")
    writer.close()
    shutil.copy(tmp_path / "wal", folder / "bot.db-wal")
    (folder / "bot.db-shm").unlink(missing_ok=True)
    prefix = unprivileged(tmp_path)
    mode = stat.S_IMODE(folder.stat().st_mode)
    folder.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        code, _, err = releasebot(config, "latest", prefix=prefix)
    finally:
        folder.chmod(mode)
    assert "Traceback" not in err
    assert code == 2, err
    assert "bot.db-wal" in err
    assert "copy the database with its -wal file to a writable folder" in err
