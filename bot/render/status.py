"""`releasebot status`: what an admin needs to see about feeds and channels, as plain text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.models import ChannelState, FeedState
from bot.render.tokens import scrub_tokens


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def failure_kind(permanent: bool) -> str:
    """How a failing feed's error is labelled: 'permanent' needs someone to act."""
    return "permanent" if permanent else "transient"


def feed_lines(feeds: Sequence[FeedState]) -> list[str]:
    """One line per feed: last success, consecutive failures, next poll, last error
    (labelled permanent or transient: see bot.errors.FeedError)."""
    width = max([4, *(len(feed.name) for feed in feeds)])
    lines = [f"{'feed':<{width}}  {'last success':<20}  {'fails':>5}  {'next poll':<20}  error"]
    for feed in feeds:
        error = ""
        if feed.failures and feed.last_error:
            error = f"{failure_kind(feed.error_permanent)}: {feed.last_error}"
        lines.append(
            f"{feed.name:<{width}}  {_when(feed.last_success):<20}  {feed.failures:>5}  "
            f"{_when(feed.next_poll):<20}  {scrub_tokens(error or '')}".rstrip()
        )
    return lines


def channel_lines(
    channels: Sequence[ChannelState], counts: Mapping[str, Mapping[str, int]]
) -> list[str]:
    """One line per channel: its chat, paused or not (and why), deliveries by state."""
    width = max([7, *(len(channel.name) for channel in channels)])
    states = ("pending", "sent", "failed", "dry_run")
    header = f"{'channel':<{width}}  {'chat':<24}  {'state':<6}  "
    lines = [header + "  ".join(f"{s:>7}" for s in states) + "  note"]
    for channel in channels:
        chat = str(channel.chat_id) if channel.chat_id is not None else channel.chat
        if channel.chat_id is not None and channel.chat.startswith("@"):
            chat = f"{channel.chat} ({channel.chat_id})"
        numbers = counts.get(channel.name, {})
        pending = numbers.get("pending", 0) + numbers.get("sending", 0)
        row = [pending, numbers.get("sent", 0), numbers.get("failed", 0), numbers.get("dry_run", 0)]
        state = "paused" if channel.paused else "ok"
        lines.append(
            f"{channel.name:<{width}}  {chat:<24}  {state:<6}  "
            + "  ".join(f"{n:>7}" for n in row)
            + f"  {scrub_tokens(channel.pause_error or '')}".rstrip()
        )
    return lines


def needs_attention(
    feeds: Sequence[FeedState],
    channels: Sequence[ChannelState],
    counts: Mapping[str, Mapping[str, int]],
) -> bool:
    """A failing feed, a paused channel or a failed delivery: something for an admin."""
    return (
        any(feed.failures for feed in feeds)
        or any(channel.paused for channel in channels)
        or any(numbers.get("failed", 0) for numbers in counts.values())
    )


def study_lookups_line(counts: Mapping[str, int]) -> str | None:
    """The study lookups in one line, e.g. "studies: 12 found, 3 pending, 1 not
    registered, 0 failed"; None when no release points to a study."""
    if not any(counts.values()):
        return None
    states = (("found", "found"), ("pending", "pending"), ("not_registered", "not registered"))
    shown = [f"{counts.get(state, 0)} {label}" for state, label in (*states, ("failed", "failed"))]
    return "studies: " + ", ".join(shown)
