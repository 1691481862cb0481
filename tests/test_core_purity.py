"""The layers hold: import-linter's contracts in pyproject.toml, and no clock read in the core.

The contracts (core <- adapters <- services <- telegram/CLI; no I/O library in the core; PTB
only in bot/telegram and the CLI) also run as `lint-imports` in .ci/run; here they run on
this checkout, and once on a copy with a forbidden import to show they can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOT = REPO / "bot"
# lint-imports, run by this interpreter (its console script may not be on PATH)
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]

CORE_PACKAGES = ("render", "feeds")
CORE_FILES = ("models.py", "errors.py")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    paths = [str(root), os.environ.get("PYTHONPATH")]  # the internet guard's entry kept
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def test_layer_contracts_hold():
    """No module imports a layer above it, and the core imports no I/O library."""
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_a_renderer_importing_the_store_breaks_the_contracts(tmp_path):
    """The contracts catch a core module reaching up into an adapter."""
    shutil.copytree(BOT, tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    post = tmp_path / "bot" / "render" / "post.py"
    post.write_text(post.read_text(encoding="utf-8") + "\nimport bot.store  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "bot.render.post -> bot.store" in done.stdout


def core_modules() -> list[Path]:
    return [
        *(BOT / name for name in CORE_FILES),
        *(path for package in CORE_PACKAGES for path in (BOT / package).glob("*.py")),
    ]


def test_core_reads_no_clock():
    """Time comes in as an argument: no datetime.now/utcnow/today, time.time in the core."""
    for module in core_modules():
        source = module.read_text(encoding="utf-8")
        for call in ("datetime.now(", ".utcnow(", "date.today(", "time.time("):
            assert call not in source, f"{module.name} reads the clock with {call}"
