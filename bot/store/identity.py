"""Which stored row each configured entry *is*: names are labels, identity is the URL or chat.

Pure: the store's sync (feeds.py, routes.py) reads the rows, asks `plan_labels` which row
each configured name belongs to and in what order to relabel them, then runs the plan in
one transaction. Until the schema is keyed by ids, a row's name is its primary key, so a
rename moves the name in every table that refers to it, under `PRAGMA defer_foreign_keys`
(checked at commit). Not a migration adding ON UPDATE CASCADE: that rebuilds `releases`
and its full-text triggers on every database for a rare relabel, and the planned re-keying
by id replaces these keys anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

Key = TypeVar("Key")
Row = TypeVar("Row")

# A row that no configured entry is, but whose name a configured entry now uses, is moved
# aside under this mark: config names cannot contain "~", so the label never collides.
ASIDE = "~"


@dataclass(frozen=True, slots=True)
class LabelPlan:
    """`owner[name]`: the stored row (by its current name) a configured name is, or None for
    a new row. `steps`: renames to run in order, none onto a name still in use."""

    owner: Mapping[str, str | None]
    steps: tuple[tuple[str, str], ...]


def plan_labels(
    wanted: Sequence[tuple[str, Key]],
    stored: Mapping[str, Row],
    same: Callable[[Key, Row], bool],
) -> LabelPlan:
    """Match configured (name, identity) pairs to stored rows, identity first.

    1. a row that has the entry's name and its identity stays as it is;
    2. else an unclaimed row with its identity is that entry, renamed (a relabel, a swap);
    3. else the row with its name, if unclaimed, is kept with a changed identity (a feed
       whose publisher moved it to a new URL, a channel that changed its @username);
    4. else the entry is new.
    Unclaimed rows keep their names unless a configured entry now uses it: then they are
    moved aside (`name~1`), keeping their history.
    """
    owner: dict[str, str | None] = {}
    claimed: set[str] = set()
    configured = {name for name, _ in wanted}
    for name, key in wanted:
        if name in stored and same(key, stored[name]):
            owner[name] = name
            claimed.add(name)
    for name, key in wanted:
        if name in owner:
            continue
        # Rows no longer configured under their own name first, then by name: deterministic.
        candidates = sorted(
            (row for row in stored if row not in claimed and same(key, stored[row])),
            key=lambda row: (row in configured, row),
        )
        if candidates:
            owner[name] = candidates[0]
            claimed.add(candidates[0])
    for name, _ in wanted:
        if name not in owner:
            owner[name] = name if name in stored and name not in claimed else None
            if owner[name] is not None:
                claimed.add(name)
    targets = {row: name for name, row in owner.items() if row is not None and row != name}
    for row in sorted(set(stored) - claimed):
        if row in configured:
            targets[row] = _aside(row, set(stored) | configured | set(targets.values()))
    return LabelPlan(owner=owner, steps=_ordered(targets, set(stored)))


def _aside(name: str, used: set[str]) -> str:
    number = 1
    while f"{name}{ASIDE}{number}" in used:
        number += 1
    return f"{name}{ASIDE}{number}"


def _ordered(targets: dict[str, str], names: set[str]) -> tuple[tuple[str, str], ...]:
    """Renames in an order where each target is free when its turn comes; a cycle (a swap)
    goes through a temporary name."""
    pending = dict(targets)
    in_use = set(names)
    steps: list[tuple[str, str]] = []
    while pending:
        ready = sorted(old for old, new in pending.items() if new not in in_use)
        if not ready:  # every target is held by a row that is itself moving: break the cycle
            old = min(pending)
            temporary = _aside(f"{old}{ASIDE}moving", in_use)
            steps.append((old, temporary))
            in_use.discard(old)
            in_use.add(temporary)
            pending[temporary] = pending.pop(old)
            continue
        for old in ready:
            new = pending.pop(old)
            steps.append((old, new))
            in_use.discard(old)
            in_use.add(new)
    return tuple(steps)
