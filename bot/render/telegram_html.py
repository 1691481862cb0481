"""Telegram HTML: the one place that produces tags; everything else passes text through here.

Every helper takes plain text and escapes it, so a caller cannot forget to. Text that is
already markup (the result of another helper) is an `Html` instance and passes through
unescaped, which is how helpers nest: `bold(link(url, title))`.

`Html` is also the type the senders take (`Sender.send_text`, `Dispatcher.notify_admins`):
mypy rejects a plain `str` there, so a message sent with parse_mode HTML is always built
here in bot/render/, never as an f-string beside the call.
"""

from __future__ import annotations

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


class Html(str):
    """A string that is already Telegram HTML; the helpers never escape it again."""

    __slots__ = ()


def escape(text: str) -> Html:
    """Escape `&`, `<` and `>` so Telegram shows `text` literally; `Html` is returned as is."""
    if isinstance(text, Html):
        return text
    return Html(text.translate(_TEXT_ESCAPES))


def escape_attribute(text: str) -> Html:
    """Escape a value for a double-quoted attribute (also `"`)."""
    return Html(str(text).translate(_ATTRIBUTE_ESCAPES))


def bold(text: str) -> Html:
    """`<b>text</b>`."""
    return Html(f"<b>{escape(text)}</b>")


def italic(text: str) -> Html:
    """`<i>text</i>`."""
    return Html(f"<i>{escape(text)}</i>")


def link(href: str, text: str) -> Html:
    """`<a href="href">text</a>`; the href is escaped as an attribute value."""
    return Html(f'<a href="{escape_attribute(href)}">{escape(text)}</a>')


def pre(text: str) -> Html:
    """`<pre>text</pre>`: a preformatted block, shown in a monospace font."""
    return Html(f"<pre>{escape(text)}</pre>")
