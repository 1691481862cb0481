"""One capped backoff for Telegram start-up, post retries and store outages: it never
overflows, however long the outage."""

from __future__ import annotations

import pytest

from bot.errors import TransientDeliveryError
from bot.services.backoff import Backoff
from bot.services.startup import Connection, Step
from tests.test_startup import FakeTime, failing


async def test_telegram_down_for_a_day_is_still_retried_once_a_minute() -> None:
    """1,500 failed getMe calls (a day without Telegram): the bot keeps trying once a minute
    and connects when Telegram is back, instead of failing on an overflowing wait."""
    time = FakeTime()
    get_me, calls = failing(*[TransientDeliveryError("httpx.ConnectError")] * 1500)
    link = Connection(
        [Step("getMe", get_me)], backoff=Backoff(), sleep=time.sleep, clock=time.clock
    )
    await link.first_attempt()
    await link.until_reached()
    assert link.reached
    assert calls == [1501]
    assert set(time.slept[10:]) == {60.0}


@pytest.mark.parametrize(
    ("backoff", "waits"),
    [
        (Backoff(), [1, 2, 4, 8, 16, 32, 60, 60]),  # reaching Telegram at start
        (Backoff(first=2.0, most=600.0), [2, 4, 8, 16, 32, 64, 128, 256]),  # a post's 5xx
        (Backoff(first=30.0, most=900.0), [30, 60, 120, 240, 480, 900, 900, 900]),  # store
    ],
)
def test_each_policy_doubles_up_to_its_cap(backoff: Backoff, waits: list[float]) -> None:
    """The waits double from the first up to the cap, and stay there past any count."""
    assert [backoff.delay(n) for n in range(1, 9)] == waits
    assert backoff.delay(10**6) == backoff.most
