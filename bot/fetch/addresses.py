"""Refuse feed hosts that resolve to loopback, private or otherwise non-public addresses.

`check_public_host` resolves a name once and returns the addresses it checked, so the
caller can connect to exactly those (see bot/fetch/pinned.py): a second lookup could
answer differently (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence

from bot.errors import AddressRefusedError, FeedUnreachableError

SETTING_HINT = "set fetch.allow_private_addresses = true to allow it"

# Resolves (host, port) to IP address strings, in the order to try them.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215
_IPV4_BITS = 0xFFFFFFFF
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(ip: str) -> bool:
    """True when `ip` is a globally routable unicast address a feed may live at.

    Loopback, private, link-local, reserved, multicast, unspecified and shared
    (carrier-grade NAT) ranges are not public. An IPv6 address that carries an IPv4
    address is judged by it: IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) ones by
    the IPv4 address alone, Teredo (2001::/32) ones by both. Anything that
    is not an IP is not public.
    """
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return _is_public(address)
    if address in _NAT64_LOCAL:
        return False  # where the IPv4 address sits is the operator's choice: cannot judge it
    if address.ipv4_mapped is not None:
        return _is_public(address.ipv4_mapped)
    if address in _NAT64:
        return _is_public(ipaddress.IPv4Address(int(address) & _IPV4_BITS))
    if address.sixtofour is not None:
        # The IPv4 address decides alone: Python's view of 2002::/16 itself changed between
        # patch releases (private up to 3.11.3, as Debian 12's 3.11.2 still has it).
        return _is_public(address.sixtofour)
    carried = list(address.teredo or ())
    return _is_public(address) and all(_is_public(ipv4) for ipv4 in carried)


def _is_public(address: _Address) -> bool:
    blocked = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
    return not blocked and address.is_global


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system gives for `host`, in its order, each once."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_public_host(
    host: str, port: int, resolver: Resolver = system_resolver
) -> list[str]:
    """Resolve `host` once; its addresses, or FeedUnreachableError (the lookup failed) or
    AddressRefusedError (an address is not public).

    Every address is checked, not just the first, because the connection may use any of
    them. An IP literal is checked as it is, without a lookup.
    """
    if _is_ip(host):
        addresses: Sequence[str] = [host]
    else:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FeedUnreachableError(host, f"DNS lookup failed for {host}") from exc
    if not addresses:
        raise FeedUnreachableError(host, f"DNS lookup failed for {host}")
    for ip in addresses:
        if not is_public_address(ip):
            raise AddressRefusedError(
                host, f"{host} resolves to the non-public address {ip}; {SETTING_HINT}"
            )
    return list(addresses)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
