"""At most a few edits per post per day, so a feed that rewrites itself cannot hold a chat.

A post's day of edits begins with its first edit; once that day's edits are spent, further
changes wait for the day to end and then go out together, the latest content in one edit.
Pure: time comes in as `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import Delivery, EditBudget

EDITS_PER_DAY = 3
EDIT_DAY = timedelta(days=1)


def edit_wait(delivery: Delivery, now: datetime, per_day: int = EDITS_PER_DAY) -> datetime | None:
    """When an edit of `delivery` may be made, if not now (None: now)."""
    window = delivery.edit_window
    if window is None or not window <= now < window + EDIT_DAY:  # a clock set back: a new day
        return None
    return window + EDIT_DAY if delivery.edits_in_window >= per_day else None


def after_edit(delivery: Delivery, now: datetime, per_day: int = EDITS_PER_DAY) -> EditBudget:
    """The budget once Telegram has answered one more edit of `delivery` at `now`."""
    window, used = delivery.edit_window, delivery.edits_in_window
    if window is None or not window <= now < window + EDIT_DAY:
        window, used = now, 0
    used += 1
    return EditBudget(window, used, window + EDIT_DAY if used >= per_day else None)
