"""Telegram's link check, as strict as the real server: which URLs a button or `<a href>` may hold.

Modelled on tdlib's `LinkManager::check_link`: a URL without a scheme gets `http://`,
only http(s), tg:// and ton:// are accepted, and an http(s) host must be a public domain
name (no `localhost`, no bare IP address). One rule is the fake's own, from our design
doc: a t.me deep-link payload (`?start=` / `?startgroup=`) is 1 to 64 characters of
`A-Za-z0-9_-`; the real server accepts a longer one and the button then does nothing.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_TG_PATH = re.compile(r"^[A-Za-z0-9_]+(/[^\s]*)?(\?[^\s]*)?$")
_PAYLOAD = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_DEEP_LINK_HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog"})
_DEEP_LINK_PARAMS = ("start", "startgroup")


class LinkError(ValueError):
    """The link is refused; `reason` is tdlib's text (e.g. "Wrong HTTP URL")."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def check_link(url: str) -> str:
    """Return the link as Telegram keeps it, or raise LinkError saying why it is refused."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        raise LinkError("Wrong HTTP URL")
    match = _SCHEME.match(url)
    if match is None:
        url = "http://" + url
        scheme = "http"
    else:
        scheme = match.group(1).lower()
    if scheme in ("tg", "ton"):
        return _check_tg_link(url, scheme)
    if scheme not in ("http", "https"):
        raise LinkError("Unsupported URL protocol")
    return _check_http_link(url)


def _check_tg_link(url: str, scheme: str) -> str:
    rest = url[len(scheme) + 3 :]
    if not _TG_PATH.match(rest):
        raise LinkError("Wrong tg URL" if scheme == "tg" else "Wrong TON URL")
    _check_deep_link_payload(urlsplit(url).query)
    return url


def _check_http_link(url: str) -> str:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 -- urlsplit validates the port lazily
    except ValueError as exc:
        raise LinkError("Wrong port number specified in the URL") from exc
    host = (parts.hostname or "").rstrip(".")
    if not _is_public_domain(host):
        raise LinkError("Wrong HTTP URL")
    if host.lower() in _DEEP_LINK_HOSTS:
        _check_deep_link_payload(parts.query)
    return url


def _is_public_domain(host: str) -> bool:
    labels = host.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return False
    if any(not all(ch.isalnum() or ch == "-" for ch in label) for label in labels):
        return False
    tld = labels[-1]
    return len(tld) >= 2 and (tld.isalpha() or tld.lower().startswith("xn--"))


def _check_deep_link_payload(query: str) -> None:
    values = parse_qs(query, keep_blank_values=True)
    for name in _DEEP_LINK_PARAMS:
        for payload in values.get(name, []):
            if not _PAYLOAD.match(payload):
                raise LinkError("Wrong start parameter")
