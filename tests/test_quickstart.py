"""The README's quickstart commands are the ones CI runs, and they need no system-wide pip."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def quickstart_commands() -> dict[str, str]:
    """The README quickstart's numbered commands: {'1': 'python3 -m venv ...', '2': ...}."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands: dict[str, str] = {}
    number = ""
    for line in block.splitlines():
        if match := re.match(r"# (\d)\. ", line):
            number = match.group(1)
        elif line.strip() and number:
            commands[number] = line.strip()
    return commands


def test_ci_runs_the_readme_test_command_exactly() -> None:
    """.ci/run has the README's second quickstart command as one of its lines, as written."""
    test_command = quickstart_commands()["2"]
    ci_lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines


def test_quickstart_commands_install_into_a_virtual_environment() -> None:
    """Each command makes .venv and installs there: a stock Debian/Ubuntu Python (PEP 668,
    no pip outside a virtual environment) runs them as written."""
    for command in quickstart_commands().values():
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -e ")
        assert not re.search(r"(^|&& )pip ", command)
