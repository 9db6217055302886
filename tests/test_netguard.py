"""Address policy, the connected-address check (DNS rebinding) and redaction."""

from __future__ import annotations

import asyncio
import socket

import httpcore
import pytest

from pipeline.config import NetworkConfig
from pipeline.errors import FetchError, RefusedURL
from pipeline.fetch import Fetcher
from pipeline.fetch.netguard import (GuardedBackend, PeerRefused, address_problem, check_resolved,
                               check_url, host_as_address, private_peers, redact_url)
from tests.faultserver import fault_server  # noqa: F401

REFUSED_HOSTS = {
    # IPv4 classes
    "127.0.0.1": "loopback", "127.255.255.254": "loopback",
    "10.0.0.1": "private", "10.255.255.255": "private",
    "172.16.0.1": "private", "172.31.255.255": "private",
    "192.168.0.1": "private", "192.168.255.255": "private",
    "169.254.169.254": "link-local", "0.0.0.0": "unspecified", "0.1.2.3": "unspecified",
    "100.64.0.1": "carrier-grade NAT", "100.127.255.254": "carrier-grade NAT",
    "224.0.0.1": "multicast", "240.0.0.1": "reserved", "255.255.255.255": "reserved",
    # odd IPv4 spellings a resolver reads as 127.0.0.1 (or 0.0.0.0)
    "2130706433": "loopback", "0x7f.1": "loopback", "0x7f000001": "loopback",
    "017700000001": "loopback", "127.1": "loopback",
    "127.0.1": "loopback", "127.0.0.1.": "loopback", "0": "unspecified",
    "0xa.0.0.1": "private", "3232235521": "private",
    # IPv6 and IPv4 carried in IPv6
    "[::1]": "loopback", "[::]": "unspecified", "[fc00::1]": "unique-local",
    "[fd12:3456:789a::1]": "unique-local", "[fe80::1]": "link-local",
    "[::ffff:127.0.0.1]": "loopback", "[::ffff:7f00:1]": "loopback",
    "[::ffff:169.254.169.254]": "link-local", "[::ffff:10.0.0.1]": "private",
    "[64:ff9b::7f00:1]": "loopback", "[2002:7f00:1::]": "loopback",
    "[::127.0.0.1]": "loopback", "[ff02::1]": "multicast",
}
PUBLIC_HOSTS = ["8.8.8.8", "93.184.216.34", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                "11.0.0.1", "192.169.0.1", "[2606:4700:4700::1111]", "[::ffff:8.8.8.8]",
                "example.com", "deadbeef.cafe", "1e100.net"]


@pytest.mark.parametrize("host, kind", REFUSED_HOSTS.items())
def test_private_and_odd_addresses_are_refused(host, kind):
    url = f"http://{host}/feed"
    with pytest.raises(RefusedURL) as info:
        check_url(url, allow_private=False)
    assert kind in str(info.value)
    assert str(info.value).startswith("fetch: refused: ") and str(info.value).endswith(f"({url})")


@pytest.mark.parametrize("host", [h for h in REFUSED_HOSTS])
def test_allow_private_lets_them_through(host):
    check_url(f"https://{host}:8443/feed", allow_private=True)


@pytest.mark.parametrize("host", PUBLIC_HOSTS)
def test_public_addresses_and_names_pass(host):
    check_url(f"http://{host}/x", allow_private=False)


def test_message_names_the_address_and_the_spelling():
    with pytest.raises(RefusedURL) as info:
        check_url("http://127.0.0.1:8080/x", allow_private=False)
    assert str(info.value) == ("fetch: refused: 127.0.0.1 is a loopback address "
                               "(http://127.0.0.1:8080/x)")
    with pytest.raises(RefusedURL, match=r"0x7f\.1 \(127\.0\.0\.1\) is a loopback address"):
        check_url("http://0x7f.1/", allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.com/f", "file:///etc/passwd",
                                 "gopher://example.com/", "javascript:alert(1)",
                                 "data:text/html,hi", "/relative/path", "example.com/x"])
def test_other_schemes_are_refused_even_when_private_is_allowed(url):
    with pytest.raises(RefusedURL, match="scheme|no host"):
        check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://[::1/", "http://exa mple.com/", "http://:80/",
                                 "http://example.com:99999/", "http://example.com:0/",
                                 # httpx itself rejects a dotted quad with octal parts
                                 "http://0177.0.0.1/"])
def test_broken_urls_are_refused(url):
    with pytest.raises(RefusedURL):
        check_url(url, allow_private=False)


def test_host_as_address_reads_like_a_resolver():
    assert str(host_as_address("0x7f.0.0.1")) == "127.0.0.1"
    assert str(host_as_address("[::ffff:127.0.0.1]")) == "::ffff:7f00:1"
    assert host_as_address("example.com") is None
    assert host_as_address("1.2.3.4.5") is None
    assert address_problem(host_as_address("8.8.8.8")) is None


# ---------------------------------------------------------- resolution

def test_localhost_is_refused_by_what_it_resolves_to():
    with pytest.raises(RefusedURL, match="localhost resolves to .*loopback"):
        asyncio.run(check_resolved("http://localhost:8080/", allow_private=False))


def test_every_dns_answer_is_checked():
    async def resolver(host, port):
        return ["93.184.216.34", "10.1.2.3"]
    with pytest.raises(RefusedURL, match="resolves to 10.1.2.3, a private address"):
        asyncio.run(check_resolved("https://news.example/", allow_private=False,
                                   resolver=resolver))


def test_public_answers_pass_and_allow_private_skips_resolution():
    calls = []

    async def resolver(host, port):
        calls.append((host, port))
        return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    asyncio.run(check_resolved("https://news.example/", allow_private=False, resolver=resolver))
    asyncio.run(check_resolved("https://news.example/", allow_private=True, resolver=resolver))
    assert calls == [("news.example", 443)]


def test_a_name_that_does_not_resolve_is_a_fetch_error_not_a_refusal():
    async def resolver(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(FetchError, match="cannot resolve nowhere.example") as info:
        asyncio.run(check_resolved("http://nowhere.example/", allow_private=False,
                                   resolver=resolver))
    assert not isinstance(info.value, RefusedURL)


# ------------------------------------------- the connected address (rebinding)

def _public_dns(host: str, port: int):
    async def resolver(asked_host, asked_port):
        return ["93.184.216.34"]  # what an attacker's DNS says at check time
    return resolver


def test_rebinding_is_refused_at_connect(fault_server):
    """The pre-check hears a public address; the socket lands on 127.0.0.1."""
    fault_server.respond("/", 200, b"internal secrets")
    url = f"http://localhost:{fault_server.port}/"

    async def go(allow_private: bool):
        config = NetworkConfig(allow_private_addresses=allow_private, deadline=2)
        async with Fetcher(config, resolver=_public_dns("localhost", fault_server.port)) as f:
            return await f.fetch(url)
    with pytest.raises(RefusedURL, match=r"connected to (127\.0\.0\.1|::1), a loopback"):
        asyncio.run(go(allow_private=False))
    assert fault_server.hits["/"] == 0  # not a byte of the request was sent
    assert asyncio.run(go(allow_private=True)).body == b"internal secrets"


def test_pooled_connection_of_a_trusted_request_is_not_reused_untrusted(fault_server,
                                                                         monkeypatch):
    """A keep-alive connection opened where private peers were allowed must not
    carry a request where they are not: the check runs on each write, not only
    at connect. (Through Fetcher this is a second line: a trusted feed URL may
    reach a private peer only when its address is written literally, and an
    untrusted URL naming that address is refused before the pool.)"""
    connects = []
    real_connect = GuardedBackend.connect_tcp

    async def counting_connect(self, host, port, **kwargs):
        connects.append(host)
        return await real_connect(self, host, port, **kwargs)
    monkeypatch.setattr(GuardedBackend, "connect_tcp", counting_connect)
    fault_server.respond("/feed", 200, b"feed")
    fault_server.respond("/article", 200, b"private article")

    async def go():
        async with httpcore.AsyncConnectionPool(network_backend=GuardedBackend()) as pool:
            with private_peers(True):
                feed = await pool.request("GET", fault_server.url("/feed"))
            with private_peers(False), pytest.raises(PeerRefused, match="connected to"):
                await pool.request("GET", fault_server.url("/article"))
            return feed
    assert asyncio.run(go()).content == b"feed"
    assert fault_server.hits == {"/feed": 1}
    assert connects == ["127.0.0.1"]  # refused on the reused connection, not at connect


def test_a_trusted_url_naming_its_host_is_checked_like_any_other(fault_server):
    """Only an address written literally in the config is exempt: a name is
    resolved and checked, and refused before a connection."""
    fault_server.respond("/feed", 200, b"feed")
    literal = fault_server.url("/feed")
    named = f"http://localhost:{fault_server.port}/feed"

    async def go(url):
        async with Fetcher(NetworkConfig(allow_private_addresses=False, deadline=2)) as f:
            return await f.fetch(url, trusted=True)
    assert asyncio.run(go(literal)).body == b"feed"
    with pytest.raises(RefusedURL, match="localhost resolves to .*loopback"):
        asyncio.run(go(named))
    assert fault_server.hits == {"/feed": 1}


def test_guarded_backend_checks_the_peer_of_a_raw_connection(fault_server):
    async def connect(allowed: bool):
        backend = GuardedBackend()
        with private_peers(allowed):
            stream = await backend.connect_tcp("127.0.0.1", fault_server.port, timeout=1)
            await stream.aclose()
    with pytest.raises(PeerRefused, match="127.0.0.1, a loopback address"):
        asyncio.run(connect(False))
    asyncio.run(connect(True))
    with pytest.raises(PeerRefused, match="unix"):
        asyncio.run(GuardedBackend().connect_unix_socket("/var/run/docker.sock"))


def test_guard_refuses_by_default_outside_any_fetch(fault_server):
    """Code that borrows the backend without saying what it allows gets no private peers."""
    async def connect():
        pool = httpcore.AsyncConnectionPool(network_backend=GuardedBackend())
        async with pool:
            await pool.request("GET", fault_server.url("/"))
    with pytest.raises(PeerRefused):
        asyncio.run(connect())


# -------------------------------------------------------------- redaction

@pytest.mark.parametrize("url, expected", [
    ("https://user:pass@example.com/feed", "https://example.com/feed"),
    ("https://user@example.com/feed", "https://example.com/feed"),
    ("https://u:p%40ss@example.com:8443/a?b=1", "https://example.com:8443/a?b=1"),
    ("https://example.com/f?token=abc&page=2", "https://example.com/f?token=***&page=2"),
    ("https://example.com/f?API_KEY=abc&apikey=d&key=e&sig=f",
     "https://example.com/f?API_KEY=***&apikey=***&key=***&sig=***"),
    ("https://example.com/f?password=a;secret=b&signature=c&auth=d&access_token=e",
     "https://example.com/f?password=***;secret=***&signature=***&auth=***&access_token=***"),
    ("https://example.com/f?client_secret=x&X-Amz-Signature=y&monkey=banana",
     "https://example.com/f?client_secret=***&X-Amz-Signature=***&monkey=banana"),
    ("https://example.com/cb#access_token=abc&state=1", "https://example.com/cb#access_token=***&state=1"),
    ("https://example.com/plain?q=token", "https://example.com/plain?q=token"),
    ("http://a:b@[::1/broken?token=t", "http://[::1/broken?token=***"),
    ("not a url at all", "not a url at all"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected
