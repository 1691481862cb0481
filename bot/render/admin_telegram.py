"""The texts the Telegram adapter of admin commands says itself (bot/telegram/admin.py and
admin_members.py): when an answer failed, a file too big to import, and the greeting when
the bot is added to a chat. Everything else an admin reads comes from the admin services."""

from __future__ import annotations

from bot.render.telegram_html import Html, bold, escape

FAILED = Html("Sorry, that did not work: something went wrong on my side. Please try again.")
SLOW_DOWN = Html("One command at a time, please: I am still answering your last ones.")
PRESS_FAILED = "Sorry, that did not work. Please try again."  # a toast: plain text
PRESS_SLOW_DOWN = "One press at a time, please."


def too_big_to_import(size: int, limit: int) -> Html:
    return Html(
        f"That file is too big to import ({size // 1024:,} KiB): an OPML list may be at most"
        f" {limit // 1024:,} KiB. Split it, or use <code>releasebot opml import</code> on the"
        " server."
    )


def file_unreadable(detail: str) -> Html:
    return Html(f"Sorry, I could not fetch that file from Telegram ({escape(detail)}).")


def greeting(*, kind: str, title: str, ref: str, bot_username: str, can_post: bool) -> Html:
    """How to subscribe a chat the bot was just added to. `ref` is "@username" or the
    chat's id, as /add takes it from a private chat."""
    where = "channel" if kind == "channel" else "group"
    lines = [
        f"I was added to the {where} {bold(title or ref)}.",
        f"To post a feed's releases there, send <code>/add URL</code> in that {where},"
        f" or send me <code>/add {escape(ref)} URL</code> here.",
    ]
    if not can_post:
        lines.append("I cannot post there yet: make me an administrator who may post messages.")
    lines.append(f"Admins of the {where} see every command in the menu (@{escape(bot_username)}).")
    return Html("\n\n".join(lines))
