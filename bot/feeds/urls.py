"""Canonical URLs: one spelling per page, so cross-posted releases and reposts match.

Canonical means absolute http(s), scheme and host in lower case, no default port, no
credentials, no fragment, no tracking parameters, unsafe characters percent-encoded.
Everything else (path case, parameter order, existing escapes) is kept as published.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

from bot.errors import BadFeedURLError

__all__ = [
    "MAX_URL_LENGTH",
    "canonical_url",
    "check_feed_url",
    "is_http_url",
    "is_tracking_param",
    "other_scheme",
]

MAX_URL_LENGTH = 2048
_NOT_WEB = frozenset({"javascript", "data", "mailto", "feed", "about", "tel", "blob"})

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok",
    }
)  # fmt: skip
# Characters RFC 3986 allows in a path or query as they are; "%" keeps escapes intact,
# which also makes canonicalising twice change nothing.
_SAFE_CHARS = "!$&'()*+,;=:@/?%~-._"
_BAD_HOST_CHARS = re.compile(r"[\s<>\"{}|\\^`%/?#@]")


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the reader (utm_*, fbclid, gclid...)."""
    key = unquote_plus(name).strip().lower()
    return key.startswith("utm_") or key in _TRACKING_NAMES


def is_http_url(text: str) -> bool:
    """True when `text` is spelled as an absolute http(s) URL (case and padding aside)."""
    return isinstance(text, str) and text.strip().lower().startswith(("http://", "https://"))


def other_scheme(url: str) -> str:
    """The same URL under the other of http and https; "" when it is neither. Publishers
    serve both, so a link typed with http:// names the page stored as https://."""
    scheme, colon, rest = url.partition(":")
    twin = {"http": "https", "https": "http"}.get(scheme.lower())
    return f"{twin}{colon}{rest}" if twin and rest.startswith("//") else ""


def canonical_url(url: str, base: str = "") -> str:
    """The canonical form of `url` resolved against `base`; "" when it is not http(s).

    Never raises: anything that cannot be an absolute http(s) URL gives "".
    """
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        return ""
    try:
        return _canonical(text, base.strip() if isinstance(base, str) else "")
    except (ValueError, UnicodeError):
        return ""


def _canonical(text: str, base: str) -> str:
    if base and not urlsplit(text).scheme:
        text = urljoin(base, text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host or _BAD_HOST_CHARS.search(host):
        return ""
    if not host.isascii():
        host = host.encode("idna").decode("ascii")  # UnicodeError when not a valid name
    port = parts.port  # raises ValueError for a malformed port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = quote(parts.path, safe=_SAFE_CHARS) or "/"
    query = _without_tracking(quote(parts.query, safe=_SAFE_CHARS))
    return urlunsplit((scheme, netloc, path, query, ""))


def _without_tracking(query: str) -> str:
    # Over-escaped feeds leave a literal "&amp;" between parameters.
    while "&amp;" in query:
        query = query.replace("&amp;", "&")
    kept = [
        field
        for field in query.split("&")
        if field and not is_tracking_param(field.partition("=")[0])
    ]
    return "&".join(kept)


def check_feed_url(url: str) -> str:
    """A feed URL an admin typed, trimmed; BadFeedURLError saying what is wrong otherwise.

    Accepted: http(s) with a host, no user:password@ credentials, no spaces or control
    characters inside, at most MAX_URL_LENGTH characters. Nothing is fetched here: the
    address guard checks where it leads when it is fetched.
    """
    text = url.strip()
    shown = text if len(text) <= 80 else f"{text[:80]}…"
    if not text:
        raise BadFeedURLError(shown, "no URL given")
    if len(text) > MAX_URL_LENGTH:
        raise BadFeedURLError(
            shown, f"the URL has {len(text):,} characters; at most {MAX_URL_LENGTH:,} are allowed"
        )
    if any(char.isspace() or not char.isprintable() for char in text):
        raise BadFeedURLError(shown, "the URL contains a space or a control character")
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    other = scheme not in _DEFAULT_PORTS
    # "javascript:…" or "ftp://…" is another scheme; "example.org:8080/rss" lacks one.
    if colon and scheme.isalpha() and other and (rest.startswith("/") or scheme in _NOT_WEB):
        raise BadFeedURLError(shown, f"only http and https feeds can be followed, not {scheme}:")
    if not colon or other or not rest.startswith("//"):
        raise BadFeedURLError(shown, "not a web address: write it with https:// or http://")
    try:
        parts = urlsplit(text)
        _ = parts.port  # ValueError for a malformed port
    except ValueError as exc:
        raise BadFeedURLError(shown, f"invalid URL: {exc}") from exc
    if "@" in parts.netloc:
        raise BadFeedURLError(
            shown, "the URL holds a user name or password (user:password@); remove it"
        )
    if not parts.hostname:
        raise BadFeedURLError(shown, "the URL has no host name")
    if not canonical_url(text):
        raise BadFeedURLError(shown, "invalid host name in the URL")
    return text
