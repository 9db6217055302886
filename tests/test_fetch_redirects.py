"""The fetch stage's redirects: loops, caps, relative locations, and every hop
checked before connecting (private addresses, names that resolve to them,
other schemes); against real loopback servers."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.errors import HTTPStatusError, RefusedURL, TooManyRedirects
from pipeline.fetch import Fetcher
from pipeline.fetch.netguard import GuardedBackend
from tests.faultserver import fault_server  # noqa: F401
from tests.fetch_support import cfg, fetch, fetch_error


# ----------------------------------------------------------------- redirects

def test_redirect_loop_is_detected(fault_server):
    fault_server.redirect("/a", "/b")
    fault_server.redirect("/b", "/a")
    error = fetch_error(fault_server.url("/a"))
    assert isinstance(error, TooManyRedirects) and "loop" in str(error)
    assert fault_server.hits["/a"] == 1 and fault_server.hits["/b"] == 1


def test_redirect_chain_longer_than_the_cap(fault_server):
    for i in range(6):
        fault_server.redirect(f"/r{i}", f"/r{i + 1}")
    fault_server.respond("/r6", 200, b"end")
    error = fetch_error(fault_server.url("/r0"), cfg(max_redirects=3))
    assert isinstance(error, TooManyRedirects) and "more than 3 redirects" in str(error)
    assert sum(fault_server.hits.values()) == 4  # the first request and three hops
    assert fetch(fault_server.url("/r0"), cfg(max_redirects=6)).body == b"end"


def test_relative_redirects_resolve_against_the_current_url(fault_server):
    port = fault_server.port
    fault_server.redirect("/feeds/a", "b?x=1", 301)                      # sibling
    fault_server.redirect("/feeds/b", "../top", 307)                     # parent
    fault_server.redirect("/top", f"//127.0.0.1:{port}/abs", 308)        # scheme-relative
    fault_server.redirect("/abs", f"http://127.0.0.1:{port}/final#frag", 303)
    fault_server.respond("/final", 200, b"here")
    result = fetch(fault_server.url("/feeds/a"))
    assert result.body == b"here" and result.url == fault_server.url("/feeds/a")
    assert result.final_url == fault_server.url("/final#frag")
    assert [r.target for r in fault_server.requests] == [
        "/feeds/a", "/feeds/b?x=1", "/top", "/abs", "/final"]


def test_redirect_without_location_is_an_error(fault_server):
    fault_server.respond("/x", 302, b"")
    error = fetch_error(fault_server.url("/x"))
    assert isinstance(error, HTTPStatusError) and error.status == 302


@pytest.fixture
def connect_log(monkeypatch):
    """Hosts the fetcher opened connections to (a spy on the real backend)."""
    hosts: list[str] = []
    real = GuardedBackend.connect_tcp

    async def spy(self, host, port, *args, **kwargs):
        hosts.append(host)
        return await real(self, host, port, *args, **kwargs)
    monkeypatch.setattr(GuardedBackend, "connect_tcp", spy)
    return hosts


@pytest.mark.parametrize("target, address", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://10.0.0.1/admin", "10.0.0.1 is a private address"),
    ("http://[::ffff:10.0.0.1]/", "a private address"),
    ("http://0x7f.1/", "127.0.0.1"),
])
def test_redirect_to_a_private_address_is_refused_before_connecting(
        fault_server, connect_log, target, address):
    fault_server.redirect("/feed", target)
    error = fetch_error(fault_server.url("/feed"), cfg(allow_private_addresses=False),
                        trusted=True)
    assert isinstance(error, RefusedURL)
    assert address in str(error) and "after redirect to" in str(error)
    assert connect_log == ["127.0.0.1"]  # only the trusted first hop was ever connected


def test_redirect_to_a_name_resolving_private_is_refused_before_connecting(
        fault_server, connect_log):
    async def resolver(host, port):
        return {"metadata.internal": ["169.254.169.254"]}.get(host, ["93.184.216.34"])
    fault_server.redirect("/feed", "http://metadata.internal/computeMetadata/v1/")

    async def go():
        async with Fetcher(cfg(allow_private_addresses=False), resolver=resolver) as fetcher:
            await fetcher.fetch(fault_server.url("/feed"), trusted=True)
    with pytest.raises(RefusedURL, match="metadata.internal resolves to 169.254.169.254"):
        asyncio.run(go())
    assert connect_log == ["127.0.0.1"]


def test_trusted_first_hop_does_not_trust_a_redirect_back_to_loopback(fault_server):
    fault_server.redirect("/feed", "/elsewhere")
    error = fetch_error(fault_server.url("/feed"), cfg(allow_private_addresses=False),
                        trusted=True)
    assert isinstance(error, RefusedURL) and "loopback" in str(error)
    assert fault_server.hits["/elsewhere"] == 0


def test_redirect_to_another_scheme_is_refused(fault_server):
    fault_server.redirect("/x", "file:///etc/passwd")
    error = fetch_error(fault_server.url("/x"))
    assert isinstance(error, RefusedURL) and "scheme 'file'" in str(error)


def test_untrusted_private_url_is_refused_without_a_request(fault_server):
    fault_server.respond("/x", 200, b"secret")
    error = fetch_error(fault_server.url("/x"), cfg(allow_private_addresses=False))
    assert isinstance(error, RefusedURL) and "127.0.0.1 is a loopback address" in str(error)
    assert fault_server.hits["/x"] == 0
