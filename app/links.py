"""Evidence links checked from the server, without letting a link reach inside MCX's network.

A link is resolved once; every address it resolves to must be public (an IPv6 address that
carries an IPv4 one, such as IPv4-mapped, IPv4-compatible, NAT64, 6to4 or Teredo, is judged by
the IPv4 address it leads to); MCX then connects to the address it checked, never resolving
the name again (no DNS rebinding), keeping the name in the Host header and TLS SNI so the
certificate is still verified against it. Redirects are followed by hand, each hop checked the
same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass

import httpx

from app.settings import Settings

MAX_REDIRECTS = 5
# How HTTPS certificates are verified (against the link's name, not the address); the tests
# put their own certificate authority here.
TLS_VERIFY: ssl.SSLContext | bool = True
REDIRECTS = frozenset({301, 302, 303, 307, 308})
UNREACHABLE = "MCX cannot reach this address to check it; make sure reviewers can open it"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# RFC 8215's local-use NAT64 prefix: where the IPv4 address sits depends on the network's own
# prefix length, so it cannot be unwrapped; it is inside someone's network by definition.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _low_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (empty for a plain IPv6 address)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [_low_ipv4(address)]
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        return [_low_ipv4(address)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the server and the (de-obfuscated) client
    return []


def _public_ipv4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def public_address(address: IPAddress) -> bool:
    """Whether an address is public, judged by where it really leads."""
    if isinstance(address, ipaddress.IPv4Address):
        return _public_ipv4(address)
    if address in _NAT64_LOCAL:
        return False
    carried = _carried_ipv4(address)
    if carried:
        return all(_public_ipv4(inner) for inner in carried)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_site_local
        or address.is_private
        or address.is_unspecified
    )


class Unreachable(Exception):
    """The link (or a hop it redirects to) leads somewhere MCX will not fetch."""


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    addresses: list[IPAddress]


async def lookup(host: str, port: int) -> list[IPAddress]:
    """The addresses a name resolves to (the system resolver), in its order, once each."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def resolve(url: httpx.URL, *, allow_private: bool) -> Target:
    """The link's addresses, resolved once; refuses unless every one of them may be fetched."""
    if url.scheme not in ("http", "https") or not url.host:
        raise Unreachable
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = await lookup(url.host, port)
    except (OSError, UnicodeError, ValueError):
        raise Unreachable from None
    if not addresses:
        raise Unreachable
    if not allow_private and not all(public_address(a) for a in addresses):
        raise Unreachable
    return Target(url, addresses)


async def _fetch(client: httpx.AsyncClient, target: Target) -> httpx.Response:
    """One GET to the checked addresses in turn (the first that connects), body unread."""
    url = target.url
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    failure: httpx.HTTPError = httpx.ConnectError("no address answered")
    for address in target.addresses:
        request = client.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers={"Host": host_header, "User-Agent": "MCX link check"},
            extensions=extensions,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            failure = exc
            continue
        await response.aclose()
        return response
    raise failure


async def link_problem(url: str, settings: Settings) -> str | None:
    """None when the link answers (status below 400) within the time limit; else why not."""
    try:
        async with asyncio.timeout(settings.link_check_seconds):
            return await _follow(url, settings)
    except (TimeoutError, httpx.TimeoutException):
        return f"the link did not answer within {settings.link_check_seconds:g} seconds"
    except Unreachable:
        return UNREACHABLE
    except httpx.HTTPError:
        return "the link does not open (no server answered)"


async def _follow(raw: str, settings: Settings) -> str | None:
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL:
        raise Unreachable from None
    async with httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        timeout=settings.link_check_seconds,
        verify=TLS_VERIFY,
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            target = await resolve(url, allow_private=settings.link_check_private)
            response = await _fetch(client, target)
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                break
            try:
                url = url.join(location)
            except httpx.InvalidURL:
                return "the link redirects to an address that is not valid"
        else:
            return f"the link redirects more than {MAX_REDIRECTS} times"
    if response.status_code >= 400:
        return f"the link does not open (the server answered {response.status_code})"
    return None
