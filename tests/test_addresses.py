"""The public-address check sees through IPv6 addresses that carry an IPv4 address."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import FeedFetchError
from bot.fetch.addresses import check_public_host, is_public_address

PRIVATE_IPV4 = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0"]

ipv4s = st.ip_addresses(v=4)
private_ipv4s = ipv4s.filter(lambda ip: not is_public_address(str(ip)))
public_ipv4s = ipv4s.filter(lambda ip: is_public_address(str(ip)))


def six_to_four(ipv4: ipaddress.IPv4Address, rest: int = 0) -> str:
    """2002:VVVV:VVVV::/48 with any subnet and interface bits after it."""
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipv4) << 80) | rest))


def nat64(ipv4: ipaddress.IPv4Address) -> str:
    """The well-known NAT64 prefix 64:ff9b::/96 with the IPv4 address as its last 32 bits."""
    return str(ipaddress.IPv6Address((0x64FF9B << 96) | int(ipv4)))


def nat64_local(ipv4: ipaddress.IPv4Address, middle: int = 0) -> str:
    """The local-use NAT64 prefix 64:ff9b:1::/48, the IPv4 address in the last 32 bits."""
    return str(ipaddress.IPv6Address((0x64FF9B0001 << 80) | (middle << 32) | int(ipv4)))


def teredo(server: ipaddress.IPv4Address, client: ipaddress.IPv4Address, port: int = 0) -> str:
    """2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, port and client stored inverted (RFC 4380)."""
    bits = (0x20010000 << 96) | (int(server) << 64) | ((port ^ 0xFFFF) << 32)
    return str(ipaddress.IPv6Address(bits | (int(client) ^ 0xFFFFFFFF)))


@pytest.mark.parametrize("ipv4", PRIVATE_IPV4)
def test_six_to_four_wrapping_a_private_address_is_refused(ipv4: str) -> None:
    """2002:7f00:1:: is 127.0.0.1 through a 6to4 relay: not public."""
    assert not is_public_address(six_to_four(ipaddress.IPv4Address(ipv4)))


@pytest.mark.parametrize("ipv4", PRIVATE_IPV4)
def test_nat64_wrapping_a_private_address_is_refused(ipv4: str) -> None:
    """64:ff9b::7f00:1 is 127.0.0.1 through NAT64: not public."""
    assert not is_public_address(nat64(ipaddress.IPv4Address(ipv4)))


def test_nat64_wrapping_a_public_address_is_public() -> None:
    """On an IPv6-only network with DNS64, a public feed host is reached through NAT64."""
    assert is_public_address("64:ff9b::5db8:d822")  # 93.184.216.34


def test_local_use_nat64_is_refused() -> None:
    """Under 64:ff9b:1::/48 the operator decides where the IPv4 address sits, so none passes."""
    assert not is_public_address("64:ff9b:1::5db8:d822")


def test_teredo_is_refused() -> None:
    """A Teredo address is refused even when its server and client are public."""
    public = ipaddress.IPv4Address("93.184.216.34")
    assert not is_public_address(teredo(public, public))


@given(private_ipv4s, st.integers(0, 2**80 - 1))
def test_six_to_four_of_any_refused_ipv4_is_refused(ipv4: ipaddress.IPv4Address, rest: int) -> None:
    """Whatever IPv4 address is refused stays refused inside a 6to4 address."""
    assert not is_public_address(six_to_four(ipv4, rest))


@given(private_ipv4s, st.integers(0, 2**48 - 1))
def test_any_nat64_of_a_refused_ipv4_is_refused(ipv4: ipaddress.IPv4Address, middle: int) -> None:
    """Whatever IPv4 address is refused stays refused inside either NAT64 prefix."""
    assert not is_public_address(nat64(ipv4))
    assert not is_public_address(nat64_local(ipv4, middle))


@given(private_ipv4s, ipv4s, st.integers(0, 0xFFFF), st.booleans())
def test_teredo_carrying_a_refused_ipv4_is_refused(
    private: ipaddress.IPv4Address, other: ipaddress.IPv4Address, port: int, as_client: bool
) -> None:
    """A Teredo address with a refused server or client address is refused."""
    server, client = (other, private) if as_client else (private, other)
    assert not is_public_address(teredo(server, client, port))


@given(ipv4s)
def test_mapped_and_nat64_addresses_are_judged_by_their_ipv4(ipv4: ipaddress.IPv4Address) -> None:
    """::ffff:a.b.c.d and 64:ff9b::a.b.c.d pass exactly when a.b.c.d does."""
    expected = is_public_address(str(ipv4))
    assert is_public_address(f"::ffff:{ipv4}") == expected
    assert is_public_address(nat64(ipv4)) == expected


@given(public_ipv4s, st.integers(0, 2**80 - 1))
def test_six_to_four_of_a_public_ipv4_is_public(ipv4: ipaddress.IPv4Address, rest: int) -> None:
    """6to4 of a public address stays public: only what it carries decides."""
    assert is_public_address(six_to_four(ipv4, rest))


async def test_check_public_host_refuses_a_name_resolving_to_six_to_four() -> None:
    """A name whose AAAA record wraps loopback in 6to4 is refused, naming that address."""

    async def resolver(host: str, port: int) -> list[str]:
        return ["2002:7f00:1::1"]

    with pytest.raises(FeedFetchError, match=r"non-public address 2002:7f00:1::1"):
        await check_public_host("wrapped.example", 443, resolver)
