"""Sends waiting for one chat line up: taken in arrival order, and only the first in line
wakes to read the windows, however many wait behind it.

The Pacer runs on a virtual clock (tests/fakes/virtual_time.py): its seconds pass only
while it sleeps, so the windows are Telegram's real ones and nothing waits for real.
"""

from __future__ import annotations

import asyncio

from bot.services.pacing import SAFETY_MARGIN, Limits, Pacer, Rate
from tests.fakes.virtual_time import VirtualClock

CHAT = 77
PER_WINDOW = 10
WINDOW = 1.0 + SAFETY_MARGIN  # a chat's window as the Pacer keeps it


def fast_pacer(clock: VirtualClock) -> Pacer:
    return Pacer(Limits(per_chat=Rate(PER_WINDOW, 1.0)), clock=clock, sleep=clock.sleep)


async def take_turns(
    pacer: Pacer, chat: int | str, count: int, order: list[int], at: list[float] | None = None
) -> None:
    async def send(n: int) -> None:
        async with pacer.turn(chat):
            order.append(n)
            if at is not None:
                at.append(pacer.clock())

    await asyncio.gather(*(send(n) for n in range(count)))


async def test_waiters_for_one_chat_are_served_in_order_and_only_the_first_wakes() -> None:
    """Twice a window's worth of sends to one chat: all go in arrival order, the second
    half exactly one window after the first, and the waiters wake once in all, not once each."""
    clock = VirtualClock()
    pacer = fast_pacer(clock)
    order: list[int] = []
    at: list[float] = []
    started = clock()
    await take_turns(pacer, CHAT, 2 * PER_WINDOW, order, at)
    assert order == list(range(2 * PER_WINDOW))
    assert at == [started] * PER_WINDOW + [started + WINDOW] * PER_WINDOW
    # Every waiter waking each time a place frees would be PER_WINDOW wake-ups or more.
    assert pacer.wakeups <= 3


async def test_a_long_line_for_one_chat_does_not_hold_up_another_chat() -> None:
    """Another chat's send goes at once while a long line waits for the first chat."""
    clock = VirtualClock()
    pacer = fast_pacer(clock)
    order: list[int] = []
    started = clock()
    line = asyncio.create_task(take_turns(pacer, CHAT, 3 * PER_WINDOW, order))
    await asyncio.sleep(0)  # the line forms
    other: list[int] = []
    other_at: list[float] = []
    await take_turns(pacer, CHAT + 1, 1, other, other_at)
    assert other == [0]
    assert other_at == [started]  # no wait at all
    assert len(order) <= PER_WINDOW  # the first chat's line is still waiting
    line.cancel()
    await asyncio.gather(line, return_exceptions=True)


async def test_a_waiter_cancelled_in_line_lets_the_next_one_go() -> None:
    """A reply dropped while it waits (a stop) leaves the line; the one behind it goes as
    soon as the window frees."""
    clock = VirtualClock()
    pacer = fast_pacer(clock)
    order: list[int] = []
    started = clock()
    await take_turns(pacer, CHAT, PER_WINDOW, order)  # the window is full now
    sent_at: list[float] = []

    async def send(n: int) -> None:
        async with pacer.turn(CHAT):
            order.append(n)
            sent_at.append(clock())

    first = asyncio.create_task(send(100))
    second = asyncio.create_task(send(101))
    await asyncio.sleep(0)  # both are in line, the first asleep until the window frees
    first.cancel()
    await second
    assert order[-1] == 101
    assert 100 not in order
    assert sent_at == [started + WINDOW]
