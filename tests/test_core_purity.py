"""The functional core imports no I/O library: no HTTP, SQLite, Telegram, asyncio or sockets."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

CORE_MODULES = [
    "models.py",
    "errors.py",
    "feeds/parse.py",
    "feeds/urls.py",
    "feeds/dates.py",
    "feeds/text.py",
    "feeds/backoff.py",
    *sorted(str(p.relative_to(BOT)) for p in (BOT / "render").glob("*.py")),
]

FORBIDDEN = {
    "httpx",
    "sqlite3",
    "sqlite_utils",
    "telegram",
    "asyncio",
    "socket",
    "urllib.request",
    "http",
    "aiolimiter",
    "apscheduler",
    "subprocess",
    "time",
    "random",
    "requests",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


def core_closure(module: str, seen: set[str]) -> set[str]:
    """Every module the core module imports, following imports inside bot/."""
    found: set[str] = set()
    path = BOT / module
    if module in seen or not path.exists():
        return found
    seen.add(module)
    for name in imported_modules(path):
        found.add(name)
        if name.startswith("bot."):
            target = name.removeprefix("bot.").replace(".", "/")
            sub = f"{target}.py" if (BOT / f"{target}.py").exists() else f"{target}/__init__.py"
            found |= core_closure(sub, seen)
    return found


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_does_no_io(module):
    """Parsing, normalising and rendering stay pure, directly and through bot/ imports."""
    assert (BOT / module).exists(), f"core module {module} is missing"
    bad = sorted(name for name in core_closure(module, set()) if forbidden(name))
    assert bad == [], f"{module} reaches I/O modules: {bad}"


def test_core_reads_no_clock():
    """Time comes in as an argument: no datetime.now/utcnow/today, time.time in the core."""
    for module in CORE_MODULES:
        source = (BOT / module).read_text(encoding="utf-8")
        for call in ("datetime.now(", ".utcnow(", "date.today(", "time.time("):
            assert call not in source, f"{module} reads the clock with {call}"
