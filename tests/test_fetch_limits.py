"""The fetch stage's limits: timeouts and the whole-request deadline, body size
caps and decoding (gzip bombs included), requests in flight and connection
reuse; against real loopback servers misbehaving on purpose."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
import zlib

import pytest

from pipeline.config import NetworkConfig
from pipeline.errors import DeadlineExceeded, FetchError, TooLarge
from pipeline.fetch import Fetcher
from tests.faultserver import FaultServer, fault_server, unresponsive_listener  # noqa: F401
from tests.fetch_support import cfg, fetch, fetch_error


# ------------------------------------------------------- timeouts, deadline

def test_connect_timeout_on_a_listener_that_never_accepts():
    with unresponsive_listener() as (host, port):
        started = time.monotonic()
        error = fetch_error(f"http://{host}:{port}/", cfg(connect_timeout=0.3, deadline=5))
    assert "connect timed out" in str(error) and not isinstance(error, DeadlineExceeded)
    assert time.monotonic() - started < 2


def test_connection_refused_is_a_fetch_error():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/")
    assert type(error) is FetchError and "cannot connect" in str(error)


def test_deadline_covers_connect():
    with unresponsive_listener() as (host, port):
        error = fetch_error(f"http://{host}:{port}/", cfg(connect_timeout=10, deadline=0.4))
    assert isinstance(error, DeadlineExceeded)


def test_no_headers_trips_the_read_timeout(fault_server):
    fault_server.stall("/silent")
    error = fetch_error(fault_server.url("/silent"), cfg(read_timeout=0.3, deadline=5))
    assert "read timeout" in str(error)


def test_no_headers_trips_the_deadline(fault_server):
    fault_server.stall("/silent")
    assert isinstance(fetch_error(fault_server.url("/silent"), cfg(read_timeout=10, deadline=0.4)),
                      DeadlineExceeded)


def test_stall_mid_body_trips_the_deadline(fault_server):
    fault_server.stall("/half", body_first=b"<rss>" * 100, content_length=1000)
    started = time.monotonic()
    error = fetch_error(fault_server.url("/half"), cfg(read_timeout=10, deadline=0.6))
    assert isinstance(error, DeadlineExceeded)
    assert "deadline" in str(error) and time.monotonic() - started < 2


def test_drip_never_trips_read_timeout_but_trips_the_deadline(fault_server):
    fault_server.drip("/drip", b"x" * 50, interval=0.3)
    started = time.monotonic()
    error = fetch_error(fault_server.url("/drip"), cfg(read_timeout=1.0, deadline=1.0))
    assert isinstance(error, DeadlineExceeded)
    assert 0.9 < time.monotonic() - started < 2


def test_deadline_spans_all_redirect_hops(fault_server):
    fault_server.respond("/slow1", 302, b"", {"Location": "/slow2"}, delay=0.3)
    fault_server.respond("/slow2", 302, b"", {"Location": "/slow3"}, delay=0.3)
    fault_server.respond("/slow3", 200, b"late", delay=0.3)
    assert isinstance(fetch_error(fault_server.url("/slow1"), cfg(deadline=0.7)), DeadlineExceeded)


def test_server_hanging_up_mid_body_is_a_fetch_error(fault_server):
    @fault_server.route("/cut")
    def cut(req, reply):
        reply.start(200, {"Content-Length": "1000"})
        reply.write(b"only a bit")
    error = fetch_error(fault_server.url("/cut"))
    assert type(error) is FetchError and "broken HTTP response" in str(error)


# ---------------------------------------------------------------- size caps

def test_content_length_over_the_cap_is_refused_unread(fault_server):
    fault_server.respond("/big", 200, b"x" * 200_000)

    async def go():
        async with Fetcher(cfg(max_bytes=100_000)) as fetcher:
            with pytest.raises(TooLarge, match="200000 bytes announced"):
                await fetcher.fetch(fault_server.url("/big"))
            return fetcher.stats
    assert asyncio.run(go()).bytes_downloaded == 0


def test_chunked_body_over_the_cap_is_cut_off(fault_server):
    fault_server.chunked("/big", [b"y" * 30_000] * 10)
    assert isinstance(fetch_error(fault_server.url("/big"), cfg(max_bytes=100_000)), TooLarge)


def test_body_exactly_at_the_cap_passes(fault_server):
    fault_server.chunked("/fits", [b"z" * 25_000] * 4)
    assert len(fetch(fault_server.url("/fits"), cfg(max_bytes=100_000)).body) == 100_000


@pytest.mark.parametrize("encoding, content_length", [("gzip", True), ("gzip", False),
                                                      ("deflate", True)])
def test_gzip_bomb_is_cut_off_at_the_cap_and_memory_stays_small(
        fault_server, encoding, content_length):
    wire = fault_server.gzip_bomb("/bomb", 100_000_000, encoding=encoding,
                                  content_length=content_length)
    assert len(wire) < 200_000  # 100 MB of zeros on the wire

    async def go():
        async with Fetcher(cfg(max_bytes=1_000_000)) as fetcher:
            with pytest.raises(TooLarge, match="decoded body over the cap"):
                await fetcher.fetch(fault_server.url("/bomb"))
            return fetcher.stats
    tracemalloc.start()
    try:
        stats = asyncio.run(go())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12_000_000
    assert stats.bytes_decoded <= 1_000_001
    assert stats.bytes_downloaded < 150_000


def test_gzip_and_deflate_bodies_are_decoded(fault_server):
    text = b"<rss>" + b"news " * 1000 + b"</rss>"
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    fault_server.respond("/gz", 200, gzip.compress(text), {"Content-Encoding": "gzip"})
    fault_server.respond("/zl", 200, zlib.compress(text), {"Content-Encoding": "deflate"})
    fault_server.respond("/raw", 200, raw_deflate.compress(text) + raw_deflate.flush(),
                         {"Content-Encoding": "Deflate"})
    fault_server.respond("/multi", 200, gzip.compress(text[:100]) + gzip.compress(text[100:]),
                         {"Content-Encoding": "x-gzip"})
    for path in ("/gz", "/zl", "/raw", "/multi"):
        assert fetch(fault_server.url(path)).body == text, path


def test_unasked_encoding_is_refused_clearly(fault_server):
    fault_server.respond("/br", 200, b"\x1b\x00\x00", {"Content-Encoding": "br"})
    error = fetch_error(fault_server.url("/br"))
    assert "Content-Encoding 'br'" in str(error) and "only gzip or deflate" in str(error)


def test_corrupt_gzip_is_a_fetch_error(fault_server):
    fault_server.respond("/bad", 200, b"\x1f\x8b\x08\x00garbage-not-deflate" * 3,
                         {"Content-Encoding": "gzip"})
    assert "not valid compressed data" in str(fetch_error(fault_server.url("/bad")))


# ------------------------------------------------------------- concurrency

def _fetch_many(server: FaultServer, config: NetworkConfig, count: int) -> None:
    async def go():
        async with Fetcher(config) as fetcher:
            await asyncio.gather(*(fetcher.fetch(server.url(f"/slow?n={i}"))
                                   for i in range(count)))
    asyncio.run(go())


def test_per_host_limit_bounds_requests_in_flight(fault_server):
    fault_server.respond("/slow", 200, b"ok", delay=0.15)
    _fetch_many(fault_server, cfg(max_per_host=2, max_connections=10), 8)
    assert fault_server.hits["/slow"] == 8 and fault_server.max_in_flight == 2


def test_global_limit_bounds_requests_in_flight(fault_server):
    fault_server.respond("/slow", 200, b"ok", delay=0.15)
    _fetch_many(fault_server, cfg(max_per_host=10, max_connections=3), 9)
    assert fault_server.hits["/slow"] == 9 and fault_server.max_in_flight == 3


def test_one_client_reuses_its_connection(fault_server):
    fault_server.respond("/x", 200, b"ok")

    async def go():
        async with Fetcher(cfg()) as fetcher:
            for _ in range(3):
                await fetcher.fetch(fault_server.url("/x"))
    asyncio.run(go())
    assert len({r.client for r in fault_server.requests}) == 1


def test_connections_to_more_sites_than_requests_in_flight_are_kept(fault_server):
    """max_connections bounds requests in flight, not the connections kept for
    reuse: articles come from more sites than that, and a pool capped as low
    closed one site's connection to open another's on every request."""
    with FaultServer() as second, FaultServer() as third:
        sites = (fault_server, second, third)
        for srv in sites:
            srv.respond("/x", 200, b"ok")

        async def go():
            async with Fetcher(cfg(max_connections=2, max_per_host=1)) as fetcher:
                for _ in range(4):
                    for srv in sites:               # round robin: 3 sites, 2 slots
                        await fetcher.fetch(srv.url("/x"))
        asyncio.run(go())
        assert [len({r.client for r in srv.requests}) for srv in sites] == [1, 1, 1]
        assert [len(srv.requests) for srv in sites] == [4, 4, 4]
