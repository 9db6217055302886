"""The fetch stage against real loopback servers misbehaving on purpose."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import gzip
import logging
import socket
import time
import tracemalloc
import zlib

import pytest

from pipeline.config import NetworkConfig
from pipeline.errors import (DeadlineExceeded, FetchError, HTTPStatusError, RefusedURL,
                             TooLarge, TooManyRedirects)
from pipeline.fetch import Fetcher, parse_content_type, parse_retry_after
from pipeline.fetch.netguard import GuardedBackend
from tests.faultserver import FaultServer, fault_server, unresponsive_listener  # noqa: F401

UA = "Newswatch-test/1.0 (+https://example.org/newswatch)"


def cfg(**overrides) -> NetworkConfig:
    """Loopback servers are private addresses: tests allow them unless they test refusal."""
    base = dict(allow_private_addresses=True, connect_timeout=1.0, read_timeout=2.0,
                deadline=2.0, max_bytes=100_000, max_redirects=5, user_agent=UA)
    return NetworkConfig(**{**base, **overrides})


def fetch(url: str, config: NetworkConfig | None = None, **kwargs):
    async def go():
        async with Fetcher(config or cfg()) as fetcher:
            return await fetcher.fetch(url, **kwargs)
    return asyncio.run(go())


def fetch_error(url: str, config: NetworkConfig | None = None, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, config, **kwargs)
    return info.value


# ------------------------------------------------------------ plain answers

def test_200_gives_body_type_charset_and_validators(fault_server):
    fault_server.static("/feed", b"<rss>ok</rss>", 'application/rss+xml; charset="UTF-8"',
                        etag='"abc"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT")
    result = fetch(fault_server.url("/feed"))
    assert (result.status, result.body) == (200, b"<rss>ok</rss>")
    assert (result.content_type, result.charset) == ("application/rss+xml", "utf-8")
    assert result.etag == '"abc"' and result.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert result.url == result.final_url == fault_server.url("/feed")


def test_user_agent_accept_encoding_and_accept_are_sent(fault_server):
    fault_server.respond("/x", 200, b"ok")
    fetch(fault_server.url("/x"), accept="application/rss+xml")
    headers = fault_server.requests[0].headers
    assert headers["user-agent"] == UA
    assert headers["accept-encoding"] == "gzip, deflate"
    assert headers["accept"] == "application/rss+xml"


def test_etag_round_trip_gives_304(fault_server):
    fault_server.static("/feed", b"<rss/>", "application/rss+xml", etag='W/"v7"')

    async def go():
        async with Fetcher(cfg()) as fetcher:
            first = await fetcher.fetch(fault_server.url("/feed"))
            second = await fetcher.fetch(fault_server.url("/feed"), etag=first.etag)
            return first, second, fetcher.stats
    first, second, stats = asyncio.run(go())
    assert first.status == 200 and first.etag == 'W/"v7"'
    assert second.not_modified and second.body == b"" and second.etag == 'W/"v7"'
    assert fault_server.requests[1].headers["if-none-match"] == 'W/"v7"'
    assert stats.not_modified == 1 and stats.requests == 2


def test_last_modified_round_trip_gives_304(fault_server):
    stamp = email.utils.formatdate(time.time() - 3600, usegmt=True)
    fault_server.static("/feed", b"<rss/>", last_modified=stamp)
    first = fetch(fault_server.url("/feed"))
    second = fetch(fault_server.url("/feed"), last_modified=first.last_modified)
    assert first.last_modified == stamp
    assert second.status == 304 and second.last_modified == stamp
    assert fault_server.requests[1].headers["if-modified-since"] == stamp


def test_unsendable_validators_are_dropped_not_crashed_on(fault_server):
    fault_server.respond("/x", 200, b"ok")
    assert fetch(fault_server.url("/x"), etag='"caf\u00e9"', last_modified="x\r\nEvil: 1").body == b"ok"
    assert "if-none-match" not in fault_server.requests[0].headers
    assert "evil" not in fault_server.requests[0].headers


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


# ------------------------------------------------------------------ statuses

@pytest.mark.parametrize("status, words", [(404, "404 not found"), (410, "410 gone"),
                                           (500, "500 internal server error"),
                                           (403, "403 forbidden"), (599, "599")])
def test_error_statuses_raise_with_status(fault_server, status, words):
    fault_server.respond("/x", status, b"nope", {"Retry-After": "5"})
    error = fetch_error(fault_server.url("/x"))
    assert isinstance(error, HTTPStatusError) and error.status == status
    assert str(error).startswith(f"fetch: {words}") and error.retry_after is None
    assert error.url == fault_server.url("/x")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(fault_server, status):
    fault_server.respond("/x", status, b"", {"Retry-After": "120"})
    error = fetch_error(fault_server.url("/x"))
    assert error.status == status and error.retry_after == 120.0
    if status == 429:
        assert str(error).startswith("fetch: 429 too many requests (http://127.0.0.1")


def test_retry_after_as_http_date(fault_server):
    later = email.utils.formatdate(time.time() + 90, usegmt=True)
    fault_server.respond("/x", 429, b"", {"Retry-After": later})
    assert 80 <= fetch_error(fault_server.url("/x")).retry_after <= 91


def test_retry_after_garbage_is_none(fault_server):
    fault_server.respond("/x", 503, b"", {"Retry-After": "soon-ish"})
    assert fetch_error(fault_server.url("/x")).retry_after is None


def test_parse_retry_after_past_date_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after(" 7 ") == 7.0 and parse_retry_after("-3") is None


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


# ------------------------------------------------- wrong or garbage headers

@pytest.mark.parametrize("header, expected", [
    (None, ("", None)),
    ("text/html", ("text/html", None)),
    ("TEXT/XML ; Charset = \"ISO-8859-1\"", ("text/xml", "iso-8859-1")),
    ("text/html; charset=no-such-charset", ("text/html", None)),
    ("text/html; charset=", ("text/html", None)),
    ("garbage", ("", None)),
    (";;;charset=utf-8", ("", "utf-8")),
])
def test_parse_content_type(header, expected):
    assert parse_content_type(header) == expected


def test_wrong_content_type_and_garbage_headers_still_give_the_body(fault_server):
    fault_server.respond("/feed", 200, b"<?xml version='1.0'?><rss/>", [
        ("Content-Type", "image/png; charset=utf-8; charset=latin-1; ;="),
        ("Content-Encoding", "utf-8"),              # a charset where a coding belongs
        ("X-Junk", b"\x80\xff\xfe binary"),
        ("ETag", ""),
    ])
    result = fetch(fault_server.url("/feed"))
    assert result.body == b"<?xml version='1.0'?><rss/>"
    assert result.content_type == "image/png"


def test_missing_content_type(fault_server):
    fault_server.respond("/x", 200, b"body")
    result = fetch(fault_server.url("/x"))
    assert (result.content_type, result.charset) == ("", None)


def test_garbage_status_line_is_a_fetch_error(fault_server):
    @fault_server.route("/junk")
    def junk(req, reply):
        reply.write(b"SPDY/9 hello there\r\n\r\n")
    assert type(fetch_error(fault_server.url("/junk"))) is FetchError


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


# ------------------------------------------------------- credentials, stats

def test_credentials_are_sent_but_never_shown(fault_server, caplog):
    fault_server.respond("/private", 404, b"")
    url = (f"http://reader:s3cr3t-pw@127.0.0.1:{fault_server.port}/private"
           "?token=tok-123&page=2&api_key=k-456")
    with caplog.at_level(logging.DEBUG, logger="newswatch"):
        error = fetch_error(url)
    sent = fault_server.requests[0].headers["authorization"]
    assert sent == "Basic " + base64.b64encode(b"reader:s3cr3t-pw").decode()
    shown = str(error) + error.url + caplog.text
    for secret in ("s3cr3t-pw", "reader", "tok-123", "k-456"):
        assert secret not in shown
    assert "page=2" in str(error) and "token=***" in str(error)


def test_credentials_not_shown_when_refused_or_timed_out(fault_server):
    fault_server.stall("/s")
    url = f"http://u:hunter2@127.0.0.1:{fault_server.port}/s?password=hunter3"
    for config in (cfg(allow_private_addresses=False), cfg(deadline=0.3)):
        error = fetch_error(url, config)
        assert "hunter2" not in str(error) and "hunter3" not in str(error)


def test_stats_count_requests_bytes_and_not_modified(fault_server):
    fault_server.static("/feed", b"a" * 1000, etag='"1"')
    fault_server.redirect("/old", "/feed", 301)
    fault_server.respond("/gone", 410)

    async def go():
        async with Fetcher(cfg()) as fetcher:
            await fetcher.fetch(fault_server.url("/old"))
            await fetcher.fetch(fault_server.url("/feed"), etag='"1"')
            with pytest.raises(HTTPStatusError):
                await fetcher.fetch(fault_server.url("/gone"))
            return fetcher.stats
    stats = asyncio.run(go())
    assert (stats.requests, stats.redirects, stats.not_modified, stats.errors) == (4, 1, 1, 1)
    assert stats.bytes_downloaded == 1000 and stats.bytes_decoded == 1000


def test_fetch_outside_the_context_manager_is_a_programming_error():
    with pytest.raises(RuntimeError):
        asyncio.run(Fetcher(cfg()).fetch("http://example.org/"))
