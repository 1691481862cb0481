"""Refuse feed hosts that resolve to loopback, private or otherwise non-public addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from bot.errors import FeedFetchError

SETTING_HINT = "set fetch.allow_private_addresses = true to allow it"


def is_public_address(ip: str) -> bool:
    """True when `ip` is a globally routable unicast address a feed may live at.

    Loopback, private, link-local, reserved, multicast, unspecified and shared
    (carrier-grade NAT) ranges are not public; an IPv4-mapped IPv6 address is
    judged by the IPv4 address it carries. Anything that is not an IP is not public.
    """
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    blocked = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
    return not blocked and address.is_global


async def check_public_host(host: str, port: int) -> None:
    """Resolve `host` and raise FeedFetchError unless every address it has is public.

    Every address is checked, not just the first, because the connection may use any of them.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FeedFetchError(host, f"DNS lookup failed for {host}") from exc
    for info in infos:
        ip = str(info[4][0])
        if not is_public_address(ip):
            raise FeedFetchError(
                host, f"{host} resolves to the non-public address {ip}; {SETTING_HINT}"
            )
