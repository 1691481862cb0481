"""Sends waiting for one chat line up: taken in arrival order, and only the first in line
wakes to read the windows, however many wait behind it.

The Pacer reads the wall clock through the `limits` library, so the windows here are
short (10 sends per chat in any 1 s) and each test waits about one window.
"""

from __future__ import annotations

import asyncio

from limits import RateLimitItemPerSecond

from bot.services.pacing import Limits, Pacer

CHAT = 77
PER_WINDOW = 10


def fast_pacer() -> Pacer:
    return Pacer(Limits(per_chat=RateLimitItemPerSecond(PER_WINDOW, 1)))


async def take_turns(pacer: Pacer, chat: int | str, count: int, order: list[int]) -> None:
    async def send(n: int) -> None:
        async with pacer.turn(chat):
            order.append(n)

    await asyncio.gather(*(send(n) for n in range(count)))


async def test_waiters_for_one_chat_are_served_in_order_and_only_the_first_wakes() -> None:
    """Twice a window's worth of sends to one chat: all go in arrival order, the second
    half after one window, and the waiters wake a few times in all, not once each."""
    pacer = fast_pacer()
    order: list[int] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    await take_turns(pacer, CHAT, 2 * PER_WINDOW, order)
    assert order == list(range(2 * PER_WINDOW))
    assert loop.time() - started >= 0.9  # the second half really waited for the window
    # Every waiter waking each time a place frees would be PER_WINDOW wake-ups or more.
    assert pacer.wakeups <= 3


async def test_a_long_line_for_one_chat_does_not_hold_up_another_chat() -> None:
    """Another chat's send goes at once while a long line waits for the first chat."""
    pacer = fast_pacer()
    order: list[int] = []
    line = asyncio.create_task(take_turns(pacer, CHAT, 3 * PER_WINDOW, order))
    await asyncio.sleep(0)  # the line forms
    other: list[int] = []
    await asyncio.wait_for(take_turns(pacer, CHAT + 1, 1, other), timeout=0.5)
    assert other == [0]
    assert len(order) <= PER_WINDOW  # the first chat's line is still waiting
    line.cancel()
    await asyncio.gather(line, return_exceptions=True)


async def test_a_waiter_cancelled_in_line_lets_the_next_one_go() -> None:
    """A reply dropped while it waits (a stop) leaves the line; those behind it still go."""
    pacer = fast_pacer()
    order: list[int] = []
    await take_turns(pacer, CHAT, PER_WINDOW, order)  # the window is full now

    async def send(n: int) -> None:
        async with pacer.turn(CHAT):
            order.append(n)

    first = asyncio.create_task(send(100))
    second = asyncio.create_task(send(101))
    await asyncio.sleep(0.05)
    first.cancel()
    await asyncio.wait_for(second, timeout=3)
    assert order[-1] == 101
    assert 100 not in order
