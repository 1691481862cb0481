"""The Pacer keeps Telegram's rolling windows exactly, on a virtual clock.

1 message per chat in any 1 s, 20 per group or channel in any 60 s, 30 overall in any
1 s; a send holds a place while under way and counts from its answer; a 429 pauses its
chat. The clock (tests/fakes/virtual_time.py) moves only while the Pacer sleeps, so a
minute of pacing takes milliseconds and every instant is exact.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.pacing import OVERALL, PER_CHAT, PER_GROUP, SAFETY_MARGIN, Pacer, Rate
from tests.fakes.virtual_time import VirtualClock

CHANNEL = -1001
SECOND = 1.0 + SAFETY_MARGIN  # the 1 s windows as the Pacer keeps them
MINUTE = 60.0 + SAFETY_MARGIN


def paced() -> tuple[Pacer, VirtualClock]:
    clock = VirtualClock()
    return Pacer(clock=clock, sleep=clock.sleep), clock


async def send_times(pacer: Pacer, chats: list[int]) -> list[float]:
    """Send to each of `chats` at once (answered at once); each send's start, from now."""
    started = pacer.clock()

    async def send(chat: int) -> float:
        async with pacer.turn(chat):
            return round(pacer.clock() - started, 6)

    return list(await asyncio.gather(*(send(chat) for chat in chats)))


async def test_a_channel_gets_one_a_second_and_20_a_minute() -> None:
    """40 posts to one channel: one a second up to 20, then each waits for the post 20
    before it to leave the minute; 79 s in all, the least the windows allow."""
    pacer, _ = paced()
    times = await send_times(pacer, [CHANNEL] * 40)
    first_20 = [round(n * SECOND, 6) for n in range(20)]
    assert times == first_20 + [round(MINUTE + t, 6) for t in first_20]
    assert times[-1] < 79.1


async def test_300_chats_go_30_a_second() -> None:
    """One post to each of 300 chats: 30 in each second, 9 s in all."""
    pacer, _ = paced()
    times = await send_times(pacer, [-2000 - n for n in range(300)])
    assert times == [round((n // 30) * SECOND, 6) for n in range(300)]


async def test_a_private_chat_has_no_minute_window() -> None:
    """A user's chat (positive id) gets one reply a second, without the groups' 20 a minute."""
    pacer, _ = paced()
    times = await send_times(pacer, [501] * 25)
    assert times == [round(n * SECOND, 6) for n in range(25)]


async def test_sends_under_way_hold_their_places_until_answered() -> None:
    """30 sends under way fill the overall window: the 31st waits for their answers, then
    a whole window from the answers, however long they took."""
    pacer, clock = paced()
    started = clock()
    answer = asyncio.Event()
    starts: dict[int, float] = {}

    async def send(chat: int) -> None:
        async with pacer.turn(chat):
            starts[chat] = clock() - started
            if chat != 31:
                await answer.wait()

    tasks = [asyncio.create_task(send(chat)) for chat in range(1, 32)]
    for _ in range(30):
        await asyncio.sleep(0)
    assert sorted(starts) == list(range(1, 31))  # the 31st is not let go
    clock.advance(2.5)  # Telegram takes 2.5 s to answer them
    answer.set()
    await asyncio.gather(*tasks)
    assert starts[31] == pytest.approx(2.5 + SECOND)


async def test_a_429_pauses_its_chat_for_retry_after_and_no_other() -> None:
    """pause(chat, 3) after a 429 holds that chat 3 s; another chat goes at once."""
    pacer, _ = paced()
    pacer.pause(CHANNEL, 3.0)
    assert await send_times(pacer, [CHANNEL - 1, CHANNEL]) == [0.0, 3.0 + SAFETY_MARGIN]


async def test_a_429_while_a_send_waits_for_the_overall_window_holds_it() -> None:
    """A send already past its chat's windows, waiting for the overall one, is held when a
    429 pauses its chat meanwhile (not sent into the pause)."""
    pacer, clock = paced()
    started = clock()
    answer = asyncio.Event()
    starts: dict[int, float] = {}

    async def send(chat: int) -> None:
        async with pacer.turn(chat):
            starts[chat] = clock() - started
            if chat != CHANNEL:
                await answer.wait()

    tasks = [asyncio.create_task(send(chat)) for chat in range(1, 31)]
    tasks.append(asyncio.create_task(send(CHANNEL)))
    for _ in range(30):
        await asyncio.sleep(0)
    pacer.pause(CHANNEL, 5.0)  # a 429 to an earlier send to this channel
    answer.set()
    await asyncio.gather(*tasks)
    assert starts[CHANNEL] == pytest.approx(5.0 + SAFETY_MARGIN)


@dataclass(frozen=True)
class Send:
    chat: int
    arrives: float  # seconds after the start
    latency: float  # seconds Telegram takes to answer


@dataclass
class Done:
    send: Send
    start: float
    answer: float


def windows_of(chat: int) -> list[tuple[Rate, object]]:
    shared = [(PER_CHAT, ("chat", chat)), (OVERALL, "all")]
    return [*shared, (PER_GROUP, ("group", chat))] if chat < 0 else shared


sends = st.lists(
    st.builds(
        Send,
        chat=st.sampled_from([-1001, -1002, -1003, 501, 502]),
        arrives=st.floats(0, 90, allow_nan=False),
        latency=st.floats(0, 3, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sends)
def test_any_traffic_keeps_every_window_and_each_chats_order(traffic: list[Send]) -> None:
    """Whenever sends arrive and however long their answers take: at each send's start,
    fewer than a window's limit of its earlier sends are under way or were answered inside
    that window (so Telegram, counting each somewhere between, never sees too many); each
    chat's sends go in arrival order; all go."""
    done = asyncio.run(run_traffic(traffic))
    assert len(done) == len(traffic)
    for d in done:
        for rate, key in windows_of(d.send.chat):
            holding = [
                e
                for e in done
                if e is not d
                and key in [k for _, k in windows_of(e.send.chat)]
                and e.start <= d.start
                and e.answer > d.start - rate.seconds
            ]
            assert len(holding) < rate.count, (d, key, holding)
    for chat in {s.chat for s in traffic}:
        mine = [d for d in done if d.send.chat == chat]
        by_arrival = sorted(mine, key=lambda d: d.send.arrives)
        assert [d.start for d in by_arrival] == sorted(d.start for d in mine)


async def run_traffic(traffic: list[Send]) -> list[Done]:
    clock = VirtualClock(start=0.0)
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    done: list[Done] = []

    async def one(send: Send) -> None:
        await clock.sleep(send.arrives)
        async with pacer.turn(send.chat):
            start = clock()
            await clock.sleep(send.latency)
        done.append(Done(send, start, clock()))

    await asyncio.gather(*(one(s) for s in traffic))
    return done
