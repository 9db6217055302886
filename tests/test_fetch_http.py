"""The fetch stage's HTTP: answers, validators and 304s, error statuses and
Retry-After, content types and garbage headers, credentials and counters;
against real loopback servers misbehaving on purpose."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import time

import pytest

from pipeline.errors import FetchError, HTTPStatusError
from pipeline.fetch import Fetcher, parse_content_type, parse_retry_after
from tests.faultserver import fault_server  # noqa: F401
from tests.fetch_support import UA, cfg, fetch, fetch_error


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
