"""Failed posts and their re-queuing, as `releasebot retry` prints them and /retry replies.

Pure: the CLI and the Telegram handler read the store and pass plain values in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.render.authors import clean
from bot.render.command_args import CommandArgumentError, echo
from bot.render.post import shorten
from bot.render.replies import Part, Reply, fit_list, strong, text
from bot.render.tokens import scrub_tokens

MAX_TITLE = 120
MAX_ERROR = 300


@dataclass(frozen=True, slots=True)
class FailedPost:
    """A delivery that failed, with what an admin needs to decide whether to retry it."""

    delivery_id: int
    channel: str
    release_id: int
    title: str
    error: str


@dataclass(frozen=True, slots=True)
class RetryRequest:
    """`/retry`, `/retry list` or `/retry <channel>`."""

    listing: bool
    channel: str | None


def parse_retry(args: str, channels: Sequence[str]) -> RetryRequest:
    """The /retry arguments: nothing (every channel), `list`, or a configured channel's name."""
    word = clean(args)
    if not word:
        return RetryRequest(listing=False, channel=None)
    if word.lower() == "list":
        return RetryRequest(listing=True, channel=None)
    for name in channels:
        if name.lower() == word.lower():
            return RetryRequest(listing=False, channel=name)
    known = ", ".join(channels[:20]) or "none"
    raise CommandArgumentError(
        f"Use /retry, /retry list or /retry <channel>. No channel is called “{echo(word)}”;"
        f" channels: {known}."
    )


def _plural(count: int) -> str:
    return f"{count} failed post" + ("" if count == 1 else "s")


def requeued_summary(counts: Mapping[str, int]) -> str:
    """'re-queued 3 failed posts (a-news 2, b-news 1)'; '' when none was."""
    total = sum(counts.values())
    if not total:
        return ""
    per_channel = ", ".join(f"{name} {count}" for name, count in counts.items())
    return f"re-queued {_plural(total)} ({per_channel})"


def failed_lines(posts: Sequence[FailedPost]) -> list[str]:
    """Two lines per failed post, for the CLI: what it is, then why it failed."""
    lines = []
    for post in posts:
        title = _title(post)
        lines.append(f"delivery {post.delivery_id}  {post.channel}  #{post.release_id}  {title}")
        lines.append(f"    {shorten(clean(scrub_tokens(post.error)), MAX_ERROR)}")
    return lines


def requeued_reply(counts: Mapping[str, int]) -> Reply:
    """What /retry answers once failed posts are pending again."""
    summary = requeued_summary(counts)
    if not summary:
        return Reply(text("No failed posts to retry.").html)
    return Reply(
        text(
            summary[0].upper() + summary[1:] + ". They go out again now, oldest first;"
            " a paused channel's posts wait until it resumes."
        ).html
    )


def failed_list_reply(posts: Sequence[FailedPost]) -> Reply:
    """What /retry list answers: each failed post, oldest first, with Telegram's reason."""
    if not posts:
        return Reply(text("No failed posts.").html)
    head = strong(f"Failed posts ({len(posts)})")
    items = [
        strong(f"{post.channel} · #{post.release_id} ")
        + text(_title(post) + "\n" + shorten(clean(scrub_tokens(post.error)), MAX_ERROR))
        for post in posts
    ]
    tail = text("/retry sends them all again; /retry <channel> only one channel's.")
    return Reply(fit_list(head, items, tail, _more))


def _title(post: FailedPost) -> str:
    return shorten(clean(post.title), MAX_TITLE) or "(untitled release)"


def _more(count: int) -> Part:
    return text(f"… and {count} more: `releasebot retry --list` shows them all.")


def admins_only_reply() -> Reply:
    """/retry from someone who is not in bot.admins, or outside a private chat."""
    return Reply(text("/retry is for the bot's admins, in a private chat with the bot.").html)
