"""What `releasebot run` tells the operator while it runs: its start, stop and round lines.

Pure text from counts; bot/services/progress.py decides when a line is due. A dry run
says "printed" for the posts it only printed: nothing was sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.render.display import format_duration


@dataclass(frozen=True, slots=True)
class Tally:
    """What happened over some rounds: feeds polled, releases found, posts out."""

    polled: int = 0
    failed_feeds: int = 0
    new: int = 0
    updated: int = 0
    sent: int = 0
    edited: int = 0
    failed_posts: int = 0
    printed: int = 0  # a dry run's posts: printed, not sent

    @property
    def eventful(self) -> bool:
        """Whether a release was found or a post went out (or failed) since the last line."""
        return any(
            (self.new, self.updated, self.sent, self.edited, self.failed_posts, self.printed)
        )

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.polled + other.polled,
            self.failed_feeds + other.failed_feeds,
            self.new + other.new,
            self.updated + other.updated,
            self.sent + other.sent,
            self.edited + other.edited,
            self.failed_posts + other.failed_posts,
            self.printed + other.printed,
        )


def counted(count: int, noun: str) -> str:
    """'1 post', '3 posts'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def start_line(
    *,
    version: str,
    username: str,
    feeds: int,
    channels: int,
    database: str,
    tick: float,
    dry_run: bool,
) -> str:
    """'release-bot 0.1.0 running as @news_bot: 3 feeds, 2 channels, database ...'."""
    who = f" as @{username}" if username else ""
    mode = f"dry run{who} (prints posts, sends nothing)" if dry_run else f"running{who}"
    return (
        f"release-bot {version} {mode}: {counted(feeds, 'feed')}, "
        f"{counted(channels, 'channel')}, database {database}; "
        f"polling due feeds every {format_duration(tick)}"
    )


def _posts(tally: Tally) -> list[str]:
    parts = []
    if tally.printed:
        parts.append(f"printed {counted(tally.printed, 'post')} (dry run)")
    if tally.sent:
        parts.append(f"sent {counted(tally.sent, 'post')}")
    if tally.edited:
        parts.append(f"edited {tally.edited}")
    if tally.failed_posts:
        parts.append(f"{tally.failed_posts} failed")
    return parts


def _waiting(waiting: int) -> str:
    return f"{counted(waiting, 'post')} waiting"


def _polls(tally: Tally) -> str:
    failed = f", {tally.failed_feeds} failed" if tally.failed_feeds else ""
    return f"{counted(tally.polled, 'feed poll')}{failed}"


def round_line(tally: Tally, waiting: int) -> str:
    """'3 new releases, 1 updated (2 feed polls); sent 2 posts; 1 post waiting'."""
    found = [counted(tally.new, "new release")] if tally.new else []
    if tally.updated:
        found.append(f"{tally.updated} updated")
    parts = [f"{', '.join(found) or 'nothing new'} ({_polls(tally)})"] if tally.polled else []
    posts = _posts(tally)
    if posts:
        parts.append(", ".join(posts))
    parts.append(_waiting(waiting))
    return "; ".join(parts)


def heartbeat_line(tally: Tally, seconds: float, waiting: int) -> str:
    """'still running: nothing new in the last 1 h (120 feed polls); 0 posts waiting'."""
    return (
        f"still running: nothing new in the last {format_duration(round(seconds / 60) * 60)}"
        f" ({_polls(tally)}); {_waiting(waiting)}"
    )


def stop_line(tally: Tally, waiting: int) -> str:
    """'release-bot stopped: this run found 5 new releases and sent 4 posts; 1 post waiting'."""
    done = f"this run found {counted(tally.new, 'new release')}"
    posts = _posts(tally)
    if posts:
        done += " and " + ", ".join(posts)
    return f"release-bot stopped: {done}; {_waiting(waiting)} for the next start"
