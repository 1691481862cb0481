"""A sender that talks to no one: prints each post as a reader would see it."""

from __future__ import annotations

import html
import re
from typing import TextIO

from bot.render.post import Post
from bot.render.telegram_html import Html

_TAG = re.compile(r"<[^>]*>")


def as_reader_sees_it(post_html: str) -> str:
    """Telegram HTML shown as plain text (our HTML is escaped text plus tags we wrote)."""
    return html.unescape(_TAG.sub("", post_html))


class DryRunSender:
    """Satisfies the dispatcher's Sender protocol; nothing leaves the machine."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    async def send(self, chat: int | str, post: Post) -> int:
        self.count += 1
        print(f"──── post {self.count} to {chat} ────", file=self.out)
        print(as_reader_sees_it(post.text), file=self.out)
        for button in post.buttons:
            print(f"[ {button.text} ] {button.url}", file=self.out)
        print(file=self.out)
        return self.count

    async def edit(self, chat: int | str, message_id: int, post: Post) -> None:
        print(f"──── edit of post {message_id} in {chat} ────", file=self.out)
        print(as_reader_sees_it(post.text), file=self.out)
        print(file=self.out)

    async def send_text(self, chat: int | str, text: Html) -> None:
        print(f"──── message to {chat} ────\n{as_reader_sees_it(text)}\n", file=self.out)
