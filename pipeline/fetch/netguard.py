"""Which URLs and addresses the fetch stage may reach.

Three layers keep Newswatch from being used to reach the machine it runs on or
its network (SSRF), unless ``allow_private_addresses`` is set:

1. :func:`check_url` — before anything else: scheme, and hosts written as an
   address in any form a resolver accepts (``127.1``, ``0x7f.1``,
   ``2130706433``, ``[::ffff:127.0.0.1]``).
2. :func:`check_resolved` — the host name's DNS answers, every one of them.
3. :class:`GuardedBackend` — the address the socket is ACTUALLY connected to.
   DNS can answer differently a second time (rebinding), so layers 1–2 alone
   prove nothing about the connection httpx opens afterwards.

A feed URL from the user's config may reach a private address only when the
address is written in it (:func:`written_as_address`): that is the user's
explicit choice. A host name there is resolved and checked like any other,
since what it resolves to is not what the user wrote.

Every message shows :func:`pipeline.redact.redact_url` instead of a URL.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import re
import socket
import ssl
from contextlib import contextmanager
from typing import Any, Awaitable, Callable, Iterable, Iterator

import httpcore
import httpx

from pipeline.errors import FetchError, RefusedURL
from pipeline.redact import redact_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the host name resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[list[str]]]

ALLOWED_SCHEMES = ("http", "https")

# Labels for the address blocks a fetch must not reach; first match wins.
_BLOCKED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), label) for net, label in (
        ("0.0.0.0/8", "an unspecified (this-network) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("169.254.0.0/16", "a link-local address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local (private) address"),
    ))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Characters of the numeric IPv4 spellings inet_aton accepts (decimal, octal, hex).
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")
# What httpx leaves of a valid host name or address (IDNA already applied).
_HOST_CHARS = re.compile(r"[A-Za-z0-9._\-]+|[0-9A-Fa-f:.]+(%25[A-Za-z0-9._\-]+)?")


# ---------------------------------------------------------------- addresses

def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be fetched ("a loopback address" …), or None if public."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        # ::ffff:127.0.0.1 reaches 127.0.0.1: judge the address it carries.
        problem = address_problem(embedded)
        return f"{problem} (embeds {embedded})" if problem else None
    for network, label in _BLOCKED:
        if ip.version == network.version and ip in network:
            return label
    if ip.is_multicast:
        return "a multicast address"
    if not ip.is_global or ip.is_reserved:
        return "a reserved (non-public) address"
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version == 4:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def host_as_address(host: str) -> IPAddress | None:
    """The address a host written as a number means, read the way a resolver reads it.

    ``127.1``, ``0x7f.1``, ``017700000001`` and ``2130706433`` are all 127.0.0.1
    to getaddrinfo (it uses inet_aton), so they must be to us too.
    """
    text = host.strip().strip("[]").lower()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    text = text.rstrip(".")
    if not text or not _NUMERIC_HOST.fullmatch(text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


# --------------------------------------------------------------------- URLs

def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be fetched, judged without the network; None if it may."""
    try:
        parsed = httpx.URL(url)  # the same parser the client will use
    except (httpx.InvalidURL, TypeError, ValueError):
        return "not a valid URL"
    if parsed.scheme not in ALLOWED_SCHEMES:
        shown = (parsed.scheme or "none")[:20]
        return f"scheme {shown!r} is not allowed (only http and https)"
    if not parsed.host:
        return "the URL has no host"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"port {parsed.port} is out of range"
    if not _HOST_CHARS.fullmatch(parsed.host):
        return "the host is not a valid name or address"
    if allow_private:
        return None
    ip = host_as_address(parsed.host)
    if ip is None:
        return None
    problem = address_problem(ip)
    if problem is None:
        return None
    spelled = parsed.host if str(ip) == parsed.host.strip("[]") else f"{parsed.host} ({ip})"
    return f"{spelled} is {problem}"


def written_as_address(url: str) -> bool:
    """Whether ``url``'s host is an address written out (``127.0.0.1``, ``[::1]``),
    not a name: a name means whatever DNS says at connect time."""
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return bool(host) and host_as_address(host) is not None


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise RefusedURL (with the reason) when ``url`` may not be fetched."""
    problem = url_problem(url, allow_private=allow_private)
    if problem:
        raise RefusedURL(f"refused: {problem}", url=redact_url(url))


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the event loop's getaddrinfo (in a thread, never blocking the loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolved_problem(host: str, port: int, *, resolver: Resolver | None = None
                           ) -> str | None:
    """Why ``host`` may not be fetched judging by ALL its DNS answers; None if public.

    Raises FetchError when the name does not resolve.
    """
    if host_as_address(host) is not None:
        return None  # a literal address: url_problem already judged it
    try:
        addresses = await (resolver or system_resolver)(host, port)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise FetchError(f"cannot resolve {host}: {reason}") from exc
    if not addresses:
        raise FetchError(f"cannot resolve {host}: no addresses")
    for text in addresses:
        ip = host_as_address(text)
        problem = address_problem(ip) if ip else "not an address"
        if problem:
            return f"{host} resolves to {text}, {problem}"
    return None


async def check_resolved(url: str, *, allow_private: bool,
                         resolver: Resolver | None = None) -> None:
    """check_url, then refuse a host name any of whose addresses is not public."""
    check_url(url, allow_private=allow_private)
    if allow_private:
        return
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        problem = await resolved_problem(parsed.host, port, resolver=resolver)
    except FetchError as exc:
        raise FetchError(str(exc).removeprefix("fetch: "), url=redact_url(url)) from exc
    if problem:
        raise RefusedURL(f"refused: {problem}", url=redact_url(url))


# ------------------------------------------------- the connected address

# Whether the request running in this task may talk to a non-public peer.
# A context variable because one connection pool serves trusted feed URLs and
# untrusted article links alike; each request carries its own answer.
_PRIVATE_PEER_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "newswatch_private_peer_allowed", default=False)


@contextmanager
def private_peers(allowed: bool) -> Iterator[None]:
    """Within this block, requests in this task may (or may not) reach private peers."""
    token = _PRIVATE_PEER_ALLOWED.set(allowed)
    try:
        yield
    finally:
        _PRIVATE_PEER_ALLOWED.reset(token)


class PeerRefused(Exception):
    """Raised inside httpcore when the connected peer is not public; fetch turns it
    into RefusedURL with the URL (this layer only knows the address)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class GuardedStream(httpcore.AsyncNetworkStream):
    """A connection that refuses to send a byte to a non-public peer.

    Checked at connect and again on every write: a pooled connection opened by
    a trusted request may later be offered to an untrusted one.
    """

    def __init__(self, stream: httpcore.AsyncNetworkStream, peer: str | None = None):
        self._stream = stream
        self.peer = peer if peer is not None else _peer_of(stream)
        ip = host_as_address(self.peer) if self.peer else None
        self._problem = address_problem(ip) if ip else "an address that cannot be determined"

    def check_peer(self) -> None:
        if self._problem and not _PRIVATE_PEER_ALLOWED.get():
            raise PeerRefused(f"connected to {self.peer or 'unknown peer'}, {self._problem}")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.check_peer()
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return GuardedStream(tls, peer=self.peer)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _peer_of(stream: httpcore.AsyncNetworkStream) -> str | None:
    addr = stream.get_extra_info("server_addr")
    if not addr:
        sock = stream.get_extra_info("socket")
        try:
            addr = sock.getpeername() if sock is not None else None
        except OSError:
            addr = None
    if isinstance(addr, (tuple, list)) and addr:
        return str(addr[0])
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that checks the peer address of every connection."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None):
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout=timeout,
                                               local_address=local_address,
                                               socket_options=socket_options)
        guarded = GuardedStream(stream)
        try:
            guarded.check_peer()  # fail before the TLS handshake sends anything
        except PeerRefused:
            await stream.aclose()
            raise
        return guarded

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise PeerRefused("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
