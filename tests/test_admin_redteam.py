"""Red-team findings on the admin side (issue 12): each test shows one defect fixed.

Same world as tests/test_admin_service.py (tests/admin_world.py): a real Store synced from a
real config, getChatMember answered as Telegram would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services.admin_types import AdminReply
from tests.admin_world import GROUP_ADMIN, LAB, OWNER, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def text_of(reply: AdminReply | None) -> str:
    assert reply is not None
    return str(reply.text)


@pytest.mark.parametrize("command", ["/set cdc summary_length ²", "/set cdc backlog ³", "/audit ²"])
async def test_a_superscript_digit_is_a_usage_hint_not_a_crash(world: World, command: str) -> None:
    """`/set cdc backlog ³` and `/audit ²` (digits to str.isdigit, not to int) get a hint."""
    before = world.audit_rows()
    reply = await world.send(command, OWNER if command.startswith("/audit") else GROUP_ADMIN, LAB)
    assert "whole number" in text_of(reply) or "Use /audit" in text_of(reply)
    assert world.audit_rows() == before
