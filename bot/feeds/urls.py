"""Canonical URLs: one spelling per page, so cross-posted releases and reposts match.

Canonical means absolute http(s), scheme and host in lower case, no default port, no
credentials, no fragment, no tracking parameters, unsafe characters percent-encoded.
Everything else (path case, parameter order, existing escapes) is kept as published.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

__all__ = ["canonical_url", "is_http_url", "is_tracking_param", "other_scheme"]

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
