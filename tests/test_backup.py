"""`releasebot backup PATH`: a consistent copy while another process writes, and a restore.

The writer is a second process holding the run lock and storing releases one transaction
after another, as `releasebot run` does; the backup is the real `releasebot` command.
The refusals and the copy's checks run the command in-process (`run_here`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store import Store
from tests.factories import make_release
from tests.test_cli import REPO, run_cli, run_here, write_config
from tests.test_database_open import make_damaged, make_newer

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STORED = 2000  # releases before the writer starts: a backup of some size

# Holds the run lock (as `releasebot run` does) and stores one release per transaction
# until the stop file appears; says "writing" once the first one is committed.
WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from bot.store import Store
from bot.store.lock import run_lock
from tests.factories import make_release

db, stop = Path(sys.argv[1]), Path(sys.argv[2])
now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
store = Store.open(db)
n = 100_000
with run_lock(db, now=now):
    while not stop.exists():
        n += 1
        store.ingest("nida", [make_release(n)], now=now, flood_limit=None)
        if n == 100_001:
            print("writing", flush=True)
store.close()
"""


def release_ids(db: Path) -> set[int]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM releases")}
    finally:
        conn.close()


def integrity(db: Path) -> list[str]:
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose database holds STORED releases of the feed "nida"."""
    config = write_config(tmp_path, {"nida": "https://nida.example/feed"})
    store = Store.open(tmp_path / "releasebot.db")
    store.sync_feeds([("nida", "https://nida.example/feed")])
    store.ingest("nida", [make_release(n) for n in range(1, STORED + 1)], now=NOW, flood_limit=None)
    store.close()
    return config


@pytest.fixture
def writer(config: Path) -> Iterator[subprocess.Popen[str]]:
    """A second process storing releases into the database, holding its run lock."""
    db, stop = config.parent / "releasebot.db", config.parent / "stop-writing"
    paths = [str(REPO), os.environ.get("PYTHONPATH")]  # the internet guard's entry kept
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(stop)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "writing\n", proc.stderr and proc.stderr.read()
        yield proc
    finally:
        stop.touch()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err


def test_a_backup_during_a_burst_of_writes_holds_everything_committed_before_it(
    config: Path, writer: subprocess.Popen[str]
) -> None:
    """While another process holds the run lock and commits release after release, the
    backup exits 0, passes integrity_check and holds every release committed before it."""
    db, copy = config.parent / "releasebot.db", config.parent / "backups" / "bot.db"
    copy.parent.mkdir()
    before = release_ids(db)
    done = run_cli("backup", str(copy), cwd=config.parent, config=config)
    after = release_ids(db)
    assert done.returncode == 0, done.stderr
    assert len(after) > len(before)  # the writer went on committing meanwhile
    assert integrity(copy) == ["ok"]
    in_copy = release_ids(copy)
    assert before <= in_copy <= after
    [line] = done.stdout.splitlines()
    assert str(copy) in line
    assert f"{len(in_copy):,} releases" in line
    assert os.listdir(copy.parent) == ["bot.db"]  # no temporary file, no -wal beside it


def test_restore_is_stop_copy_back_start(config: Path) -> None:
    """Restoring as the README says (stop, copy the backup over the database, start) brings
    back what the backup held: later releases are gone, the rest are all there."""
    db, copy = config.parent / "releasebot.db", config.parent / "copy.db"
    assert run_cli("backup", str(copy), cwd=config.parent, config=config).returncode == 0
    store = Store.open(db)
    store.ingest("nida", [make_release(n) for n in range(5001, 5011)], now=NOW, flood_limit=None)
    store.close()
    for side in ("-wal", "-shm"):  # a bot that was killed leaves these: they go too
        db.with_name(db.name + side).unlink(missing_ok=True)
    shutil.copyfile(copy, db)
    checked = run_cli("check", cwd=config.parent, config=config)
    latest = run_cli("latest", "-n", "1", cwd=config.parent, config=config)
    assert checked.returncode == 0, checked.stderr
    assert "Release number 2000 " in latest.stdout
    assert len(release_ids(db)) == STORED


def test_an_existing_file_is_kept_unless_forced(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backup never overwrites a file by accident: exit 2 and the file as it was; with
    --force it is replaced by the copy."""
    target = config.parent / "notes.txt"
    target.write_text("keep me\n", encoding="utf-8")
    refused = run_here(capsys, "backup", str(target), cwd=config.parent, config=config)
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert target.read_text(encoding="utf-8") == "keep me\n"
    forced = run_here(capsys, "backup", str(target), "--force", cwd=config.parent, config=config)
    assert forced.returncode == 0, forced.stderr
    assert integrity(target) == ["ok"]
    assert len(release_ids(target)) == STORED


def test_the_database_itself_is_never_the_target(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup` onto the database's own path (even with --force) is refused, the file kept."""
    db = config.parent / "releasebot.db"
    before = db.read_bytes()
    done = run_here(capsys, "backup", str(db), "--force", cwd=config.parent, config=config)
    assert done.returncode == 2
    assert "is the database itself" in done.stderr
    assert db.read_bytes() == before


def test_a_copy_that_fails_its_check_is_not_left_behind(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged database: exit 1 naming the problem, and no file at PATH nor beside it."""
    make_damaged(config.parent / "releasebot.db")
    out = config.parent / "out"
    out.mkdir()
    done = run_here(capsys, "backup", str(out / "bot.db"), cwd=config.parent, config=config)
    assert done.returncode == 1, done.stderr
    assert "failed its integrity check" in done.stderr
    assert os.listdir(out) == []


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "does not exist"), ("feed,title\n", "is not a SQLite database")],
)
def test_no_database_no_backup(tmp_path: Path, content: str | None, says: str) -> None:
    """No database yet, or the config names another file: exit 2 with one line naming it,
    no copy, and no database created."""
    config = write_config(tmp_path, {"nida": "https://nida.example/feed"})
    db = tmp_path / "releasebot.db"
    if content is not None:
        db.write_text(content, encoding="utf-8")
    done = run_cli("backup", str(tmp_path / "copy.db"), cwd=tmp_path, config=config)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert str(db) in line
    assert says in line
    assert db.exists() == (content is not None)
    assert not (tmp_path / "copy.db").exists()


def test_a_database_from_a_newer_release_bot_can_be_backed_up(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The commands that use the database refuse one a newer release-bot wrote; a backup
    of it is still made (and keeps its schema: nothing is migrated)."""
    db, copy = config.parent / "releasebot.db", config.parent / "newer.db"
    make_newer(db)
    done = run_here(capsys, "backup", str(copy), cwd=config.parent, config=config)
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(copy)
    names = {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations")}
    conn.close()
    assert "m999_from_the_future" in names
