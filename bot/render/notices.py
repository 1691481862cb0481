"""Notices for the admins about the bot's own health, as Telegram HTML (pure).

Each returns `Html`: what goes in from outside (Telegram's or SQLite's error text, names from
the config) is escaped here, so a `<` or `&` in it reads as written.
"""

from __future__ import annotations

from bot.render.chat_problems import ChatProblem, how_to_fix, what_happened
from bot.render.telegram_html import Html, bold, escape

MAX_ERROR = 300  # characters of the engine's error quoted in a notice


def _about(seconds: float) -> str:
    """A rounded duration for people: '45 s', '12 min', '3 h 5 min'."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def store_unwritable_notice(database: str, error: str, retry_in: float) -> Html:
    """The database cannot be written: polling waits, and nothing published meanwhile is lost."""
    if len(error) > MAX_ERROR:
        error = error[: MAX_ERROR - 1] + "…"
    return Html(
        f"release-bot cannot write to its database {bold(database)}: {escape(error)}\n"
        f"Polling waits and tries again with backoff (next try in {_about(retry_in)}). "
        "Free disk space there (or fix the file's permissions): every release published "
        "meanwhile will be posted once the bot can write again."
    )


def store_recovered_notice(database: str, lasted: float) -> Html:
    """The database can be written again after `lasted` seconds; what was missed is owed."""
    return Html(
        f"release-bot can write to its database {bold(database)} again "
        f"(after {_about(lasted)}). Polling has resumed; the releases published meanwhile "
        "are being posted."
    )


def channel_paused_notice(
    channel: str, problem: ChatProblem, *, bot_username: str, recheck_every: str
) -> Html:
    """The bot cannot post to `channel`: why, in plain words, and the fix. Sent once per
    incident, whether a send or a check found it first."""
    return Html(
        f"release-bot cannot post to {bold(channel)}: {escape(_clip(what_happened(problem)))}.\n"
        f"To fix it: {escape(how_to_fix(problem, bot_username))}.\n"
        "Its posts wait and go out by themselves once the bot can post there "
        f"(checked every {escape(recheck_every)})."
    )


def channel_resumed_notice(channel: str, chat: str, waiting: int) -> Html:
    """The bot can post to `channel` again; the posts that waited are going out."""
    owed = {0: "nothing was waiting", 1: "its 1 waiting post is going out now"}.get(
        waiting, f"its {waiting} waiting posts are going out now"
    )
    return Html(f"release-bot can post to {bold(channel)} ({escape(chat)}) again: {owed}.")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


MAX_PROBLEMS = 10  # problems listed in a notice; a file broken in 200 places says how many more


def config_rejected_notice(path: str, problems: list[str]) -> Html:
    """A reload found the config file invalid (or unreadable): the bot runs on with the
    configuration it had; the problems, as `releasebot check` lists them."""
    shown = [f"• {escape(_clip(problem))}" for problem in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"… and {len(problems) - MAX_PROBLEMS} more (releasebot check lists them all)")
    return Html(
        f"release-bot did not reload {bold(path)}: the file has problems, so the bot keeps "
        "running with the configuration it had.\n"
        + "\n".join(shown)
        + "\nFix the file, then reload again (releasebot reload, or SIGHUP)."
    )
