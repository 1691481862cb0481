"""Which changes to a release, or to a post, a reader would notice: only those are worth an edit.

A feed may rewrite an entry on every poll without changing anything a person reads: a
re-wrapped summary, a title's case, a fresh `utm_source` in a link. Both checks here
compare a reader's view of the text: Unicode composed alike, invisible format characters
dropped, whitespace collapsed, case folded, and every link in canonical form (no tracking
parameters). That view is a normal form, so unnoticed changes cannot add up to a noticed
one: a text is compared with what was shown, however many small steps lie between.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from bot.feeds.urls import canonical_url
from bot.models import Release
from bot.render.post import Post

__all__ = ["noticeable_change", "post_fingerprint", "reader_text"]

_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_SPACE_RUN = re.compile(r"\s+")
# Zero-width and other format characters (soft hyphen, BOM...): nothing a reader sees.
_INVISIBLE = frozenset({"Cf"})


def _canonical_link(match: re.Match[str]) -> str:
    link = match.group(0)
    return canonical_url(link) or link


def reader_text(text: str) -> str:
    """`text` as a reader tells texts apart: two texts with the same reader text look alike."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    text = _LINK.sub(_canonical_link, text)
    return unicodedata.normalize("NFC", _SPACE_RUN.sub(" ", text).strip().casefold())


def noticeable_change(old: Release, new: Release) -> bool:
    """Whether a reader of the post would see `new` differ from `old`: its title, its
    summary (words, not their spacing, case or tracking parameters) or where it links."""
    return (
        reader_text(old.title) != reader_text(new.title)
        or reader_text(old.summary) != reader_text(new.summary)
        or old.url != new.url  # canonical already: a new tracking parameter is no change
    )


def post_fingerprint(post: Post) -> str:
    """A digest of what a chat shows of `post`; equal for posts a reader cannot tell apart.

    Kept with each delivery as it is sent or edited, so a change past the summary's cut,
    or one the rendering hides, costs no edit.
    """
    parts = [reader_text(post.text), "1" if post.link_preview else "0"]
    for button in post.buttons:
        parts += [reader_text(button.text), canonical_url(button.url) or button.url]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
