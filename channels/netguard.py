"""Keeping webhooks off the private network (server-side request forgery).

A marketer chooses a webhook's URL, so without a guard a campaign could make Herald's workers call
the cloud metadata service (169.254.169.254), the database, Redis or any intranet host, and report
the answers back through the ledger's error texts. Targets whose address is private, loopback,
link-local, multicast, reserved, unspecified or shared (CGNAT), IPv4 or IPv6 (including IPv4
addresses carried inside IPv6: mapped, 6to4, NAT64), are refused unless an Admin allows private
targets (HERALD_WEBHOOK_ALLOW_PRIVATE or the provider's "allow_private" option).

The check that counts happens where the socket is opened (GuardedBackend): the host name is
resolved once, every address it resolves to is checked, and the socket connects to one of those
checked addresses, so a name that resolves to a public address for a check and to a private one
for the connection (DNS rebinding) cannot slip through. `check_url` makes the same decision ahead
of time, so a form can warn before anything is sent.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

SCHEMES = ("http", "https")
ADVICE = "an Admin can allow private targets"

_PRIVATE = "a private address"
_RESERVED = "a reserved address"
# Checked in order; the first network that holds an address names its kind. Python's own
# is_global is the last word for whatever these tables miss (it differs between versions).
_V4: list[tuple[ipaddress.IPv4Network, str]] = [
    (ipaddress.IPv4Network(net), kind)
    for net, kind in [
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", _PRIVATE),
        ("172.16.0.0/12", _PRIVATE),
        ("192.168.0.0/16", _PRIVATE),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", _RESERVED),
        ("192.0.0.0/24", _RESERVED),
        ("192.0.2.0/24", _RESERVED),
        ("192.88.99.0/24", _RESERVED),
        ("198.18.0.0/15", _RESERVED),
        ("198.51.100.0/24", _RESERVED),
        ("203.0.113.0/24", _RESERVED),
    ]
]
_V6: list[tuple[ipaddress.IPv6Network, str]] = [
    (ipaddress.IPv6Network(net), kind)
    for net, kind in [
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", _PRIVATE),
        ("fec0::/10", _PRIVATE),
        ("64:ff9b:1::/48", _PRIVATE),
        ("fe80::/10", "a link-local address"),
        ("ff00::/8", "a multicast address"),
        ("::/8", _RESERVED),
        ("100::/64", _RESERVED),
        ("2001::/23", _RESERVED),
        ("2001:db8::/32", _RESERVED),
    ]
]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class TargetRefused(Exception):
    """A webhook target the guard refuses; the message is the reason, for the marketer."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host: mapped (::ffff:a.b.c.d),
    6to4 (2002:aabb:ccdd::) or the well-known NAT64 prefix (64:ff9b::a.b.c.d)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_kind(ip: IPAddress) -> str | None:
    """What makes `ip` a refused target ("a loopback address"), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return address_kind(inner)
        table: Iterable[tuple[Any, str]] = _V6
    else:
        table = _V4
    for network, kind in table:
        if ip in network:
            return kind
    if not ip.is_global:
        return "a non-public address"
    return None


def refusal(ip: IPAddress, host: str = "") -> str | None:
    """The reason to refuse connecting to `ip` (reached through the name `host`), or None."""
    kind = address_kind(ip)
    if kind is None:
        return None
    if not host:
        target = str(ip)
    elif _is_literal(host, ip):
        target = host.strip("[]")
    else:
        target = f"{host} ({ip})"
    return f"target {target} is {kind}; {ADVICE}"


def _is_literal(host: str, ip: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]) == ip
    except ValueError:
        return False


def resolve(host: str, port: int, resolver: Resolver = socket.getaddrinfo) -> list[tuple[Any, ...]]:
    """getaddrinfo for a TCP connection (an IP literal resolves to itself, without DNS)."""
    return resolver(host, port, type=socket.SOCK_STREAM)


def _address(sockaddr: tuple[Any, ...]) -> IPAddress:
    # getaddrinfo gives a link-local IPv6 address's zone separately (sockaddr[3]), or in the text.
    return ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])


def check_url(
    url: str, allow_private: bool, *, resolver: Resolver = socket.getaddrinfo
) -> str | None:
    """Why a webhook to `url` would be refused, or None when it would be attempted.

    It resolves the host name now; the sender decides again, with a fresh resolution, when it
    connects (a form's early warning, not a promise).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the URL is not valid: {exc}"
    if parts.scheme.lower() not in SCHEMES:
        return f"the URL's scheme must be http or https, not {parts.scheme or 'none'!r}"
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if allow_private:
        return None
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = resolve(host, port, resolver)
    except (OSError, UnicodeError) as exc:
        return f"the host {host} does not resolve: {exc}"
    for info in infos:
        reason = refusal(_address(info[4]), host)
        if reason:
            return reason
    return None


def truthy(value: object) -> bool:
    """An option that may arrive as a boolean (settings) or as text (an Admin's JSON)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, refusing connections to addresses the guard refuses.

    It resolves the host itself, refuses the connection if any address is refused (a name
    pointing at both a public and a private address is not a public target), and then connects
    to the checked addresses by number, so nothing resolves the name again in between. TLS is
    unaffected: httpcore verifies the certificate against the URL's host name, not the address.
    """

    def __init__(self, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo):
        self.allow_private = allow_private
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = resolve(host, port, self.resolver)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not infos:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        targets = []
        for info in infos:
            sockaddr = info[4]
            ip = _address(sockaddr)
            if not self.allow_private:
                reason = refusal(ip, host)
                if reason:
                    raise TargetRefused(reason)
            zone = sockaddr[3] if info[0] == socket.AF_INET6 and len(sockaddr) > 3 else 0
            targets.append(f"{ip}%{zone}" if zone else str(ip))
        last: Exception | None = None
        for target in dict.fromkeys(targets):
            try:
                return super().connect_tcp(
                    target,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a GuardedBackend.

    httpx does not take a network backend, so the connection pool it builds is replaced by one
    built the same way with the guarded backend (HTTP/1.1, no proxy: a proxy would resolve and
    connect on its own, out of the guard's sight).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        limits: httpx.Limits | None = None,
        verify: bool = True,
        resolver: Resolver = socket.getaddrinfo,
    ) -> None:
        limits = limits or httpx.Limits()
        super().__init__(limits=limits, verify=verify)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("httpx.HTTPTransport no longer keeps its pool in _pool")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(allow_private, resolver),
        )
