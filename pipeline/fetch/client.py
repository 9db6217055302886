"""Fetch stage: a URL in, a :class:`FetchResult` out, every failure a FetchError.

One :class:`Fetcher` per cycle owns one httpx.AsyncClient (connections are
reused across feeds and articles). Each ``fetch``:

* refuses what netguard refuses — before each hop, and again on the socket;
* follows redirects itself (httpx would not check each hop), up to the cap;
* waits for a global and a per-host slot (asyncio semaphores);
* runs under ONE deadline covering DNS, connect, headers and every body byte
  (httpx's read timeout resets on each byte, so a dripping server never trips it);
* streams the body and decompresses it here, counting decoded bytes, so a
  gzip bomb stops at ``max_bytes`` instead of filling memory.

Library exceptions become pipeline.errors here and nowhere else; URLs in
messages and logs always go through ``redact_url``.
"""

from __future__ import annotations

import asyncio
import codecs
import http
import logging
import re
import zlib
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import AsyncIterator

import httpcore
import httpx

from pipeline.config import NetworkConfig
from pipeline.errors import (DeadlineExceeded, FetchError, HTTPStatusError, RefusedURL,
                             TooLarge, TooManyRedirects)
from pipeline.fetch.decoding import decoder_for
from pipeline.fetch.freshness import fresh_for
from pipeline.fetch.netguard import (GuardedBackend, PeerRefused, Resolver, check_resolved,
                                     private_peers, written_as_address)
from pipeline.records import FetchResult
from pipeline.redact import redact_url

log = logging.getLogger("newswatch.fetch")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT_ENCODING = "gzip, deflate"
# The wire may carry a little more than the decoded cap (gzip framing,
# incompressible data); past this it is junk after the stream (e.g. endless).
WIRE_SLACK = 64 * 1024
_HEADER_SAFE = re.compile(r"[\x20-\x7e]{1,1024}")


@dataclass
class FetchStats:
    """Counters of one Fetcher, for benchmarks and tests."""

    requests: int = 0           # HTTP requests sent; each redirect hop counts
    bytes_downloaded: int = 0   # body bytes as they came off the wire
    bytes_decoded: int = 0      # body bytes after decompression
    not_modified: int = 0       # 304 answers
    redirects: int = 0
    errors: int = 0             # fetch() calls that raised


class Fetcher:
    """Fetches URLs for one cycle; use as ``async with Fetcher(cfg) as f:``."""

    def __init__(self, cfg: NetworkConfig, *, resolver: Resolver | None = None):
        self.cfg = cfg
        self.stats = FetchStats()
        # Injectable for tests (a fake DNS answer); None = the loop's getaddrinfo.
        self._resolver = resolver
        self._global = asyncio.Semaphore(max(1, cfg.max_connections))
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> "Fetcher":
        self._client = _make_client(self.cfg)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, *, trusted: bool = False, etag: str | None = None,
                    last_modified: str | None = None, accept: str | None = None,
                    form: bytes | None = None) -> FetchResult:
        """GET ``url``. ``trusted`` (feed URLs from the user's config only) lets the
        first hop reach a private address written literally in the URL
        (``http://10.0.0.5/feed``); a host NAME is resolved and checked like any
        other, since what it resolves to is not what the user wrote. Redirect
        hops are always checked. ``form`` (urlencoded bytes) makes the first hop a
        POST of it; a redirect after it is a GET, as browsers do."""
        if self._client is None:
            raise RuntimeError("use Fetcher as 'async with Fetcher(cfg) as fetcher'")
        shown = redact_url(url)
        headers = _request_headers(etag, last_modified, accept)
        try:
            result = await self._within_deadline(url, shown, trusted, headers, form)
        except FetchError as exc:
            self.stats.errors += 1
            log.debug("%s", exc)  # already redacted; the caller decides what is worth a warning
            raise
        log.debug("fetch: %d %s (%d bytes)", result.status, shown, len(result.body))
        return result

    async def _within_deadline(self, url: str, shown: str, trusted: bool,
                               headers: dict[str, str], form: bytes | None = None
                               ) -> FetchResult:
        # The clock starts once the first hop has its slots: time spent queueing
        # behind other requests is not this server's slowness.
        budget = asyncio.timeout(None)
        try:
            async with budget:
                return await self._follow(url, shown, trusted, headers, budget, form)
        except TimeoutError as exc:
            if not budget.expired():
                raise _translate(exc, shown, self.cfg) from exc
            raise DeadlineExceeded(f"no complete response within {self.cfg.deadline:g}s"
                                   " (deadline)", url=shown) from exc

    async def _follow(self, url: str, shown: str, trusted: bool, headers: dict[str, str],
                      budget: asyncio.Timeout, form: bytes | None = None) -> FetchResult:
        current, seen = url, {_without_fragment(url)}
        moved: str | None = None     # where the unbroken run of 301/308s from ``url`` led
        for hop in range(self.cfg.max_redirects + 1):
            allow_private = self.cfg.allow_private_addresses or (
                trusted and hop == 0 and written_as_address(current))
            where = f" after redirect to {redact_url(current)}" if hop else ""
            try:
                async with self._slots(_host_of(current)):
                    if budget.when() is None:
                        budget.reschedule(asyncio.get_running_loop().time() + self.cfg.deadline)
                    await check_resolved(current, allow_private=allow_private,
                                         resolver=self._resolver)
                    with private_peers(allow_private):
                        outcome = await self._one_request(current, headers, shown, where,
                                                          form if hop == 0 else None)
            except RefusedURL as exc:
                raise RefusedURL(f"{_reason(exc)}{where}", url=shown) from exc
            except FetchError as exc:
                if type(exc) is FetchError and exc.url != shown:  # a hop's name did not resolve
                    raise FetchError(f"{_reason(exc)}{where}", url=shown) from exc
                raise
            except TimeoutError:
                raise  # the deadline: _within_deadline names it
            except PeerRefused as exc:
                raise RefusedURL(f"refused: {exc.reason}{where}", url=shown) from exc
            except _LIBRARY_ERRORS as exc:
                raise _translate(exc, shown, self.cfg, where) from exc
            if isinstance(outcome, FetchResult):
                return replace(outcome, url=url, permanent_redirect=moved)
            target = self._redirect_target(current, outcome, shown)
            if outcome[0] in PERMANENT_REDIRECTS and moved == (current if hop else None):
                moved = target      # a temporary hop breaks the run: what follows may change
            if _without_fragment(target) in seen:
                raise TooManyRedirects(f"redirect loop: {redact_url(current)} leads back to "
                                       f"{redact_url(target)}", url=shown)
            seen.add(_without_fragment(target))
            self.stats.redirects += 1
            log.debug("fetch: %s redirects to %s", redact_url(current), redact_url(target))
            current = target
        raise TooManyRedirects(f"more than {self.cfg.max_redirects} redirects", url=shown)

    @asynccontextmanager
    async def _slots(self, host: str) -> AsyncIterator[None]:
        # Per-host first: a request waiting for a busy host holds no global slot.
        per_host = self._per_host.get(host)
        if per_host is None:
            per_host = self._per_host[host] = asyncio.Semaphore(max(1, self.cfg.max_per_host))
        async with per_host, self._global:
            yield

    async def _one_request(self, url: str, headers: dict[str, str], shown: str, where: str,
                           form: bytes | None = None) -> FetchResult | tuple[int, str | None]:
        """One GET (a POST of ``form``): a result, or (status, Location) when it is a redirect.

        ``shown`` is the redacted URL the caller asked for; ``where`` names the
        redirect hop, if any, for messages.
        """
        assert self._client is not None
        self.stats.requests += 1
        if form is not None:
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
        async with self._client.stream("POST" if form is not None else "GET", url,
                                       headers=headers, content=form) as resp:
            status = resp.status_code
            if status in REDIRECT_STATUSES:
                return status, resp.headers.get("location")
            if status == 304:
                self.stats.not_modified += 1
                return FetchResult(url=url, final_url=url, status=304, body=b"",
                                   etag=resp.headers.get("etag") or headers.get("If-None-Match"),
                                   last_modified=resp.headers.get("last-modified")
                                   or headers.get("If-Modified-Since"),
                                   fresh_for=fresh_for(resp.headers))
            if not 200 <= status < 300:
                raise _status_error(status, resp.headers, shown, where)
            body = await self._read_body(resp, shown, where)
        content_type, charset = parse_content_type(resp.headers.get("content-type"))
        return FetchResult(url=url, final_url=url, status=status, body=body,
                           content_type=content_type, charset=charset,
                           etag=resp.headers.get("etag"),
                           last_modified=resp.headers.get("last-modified"),
                           fresh_for=fresh_for(resp.headers))

    def _redirect_target(self, current: str, outcome: tuple[int, str | None],
                         shown: str) -> str:
        status, location = outcome
        if not location or not location.strip():
            raise HTTPStatusError(f"{status} redirect without a Location header", url=shown,
                                  status=status)
        try:
            return str(httpx.URL(current).join(location.strip()))
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise FetchError(f"{status} redirect to an invalid Location", url=shown) from exc

    async def _read_body(self, resp: httpx.Response, shown: str, where: str) -> bytes:
        """The decoded body, refused as soon as it passes max_bytes."""
        cap = self.cfg.max_bytes
        declared = _content_length(resp.headers)
        if declared is not None and declared > cap:
            raise TooLarge(f"body of {declared} bytes announced, over the cap of {cap}{where}",
                           url=shown)
        decoder = decoder_for(resp.headers.get("content-encoding"), shown, where)
        parts: list[bytes] = []
        wire = size = 0
        async for raw in resp.aiter_raw():
            wire += len(raw)
            self.stats.bytes_downloaded += len(raw)
            if wire > cap + WIRE_SLACK:
                raise TooLarge(f"body over the cap of {cap} bytes{where}", url=shown)
            # Ask for at most one byte past the cap: a bomb never gets to unpack.
            data = decoder.decode(raw, cap - size + 1)
            size += len(data)
            self.stats.bytes_decoded += len(data)
            if size > cap:
                what = "decoded body" if decoder.compressed else "body"
                raise TooLarge(f"{what} over the cap of {cap} bytes{where}", url=shown)
            parts.append(data)
        return b"".join(parts)


# ------------------------------------------------------------------ helpers

def _make_client(cfg: NetworkConfig) -> httpx.AsyncClient:
    # Fetcher's semaphores bound the requests in flight (max_connections in all,
    # max_per_host to one site); the pool only keeps connections open for reuse.
    # Capped at max_connections too, it closed an idle connection to one site to
    # open one to another on nearly every request once articles came from more
    # sites than that: 393 connections for 410 requests to 10 sites, 40 without.
    limits = httpx.Limits(max_connections=None,
                          max_keepalive_connections=4 * max(1, cfg.max_connections))
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, retries=0)
    # httpx has no public hook for the network backend; swap in a pool built the
    # way AsyncHTTPTransport builds it, plus the peer-checking backend.
    # (tests/test_netguard.py's rebinding tests fail loudly if this stops working.)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True, http2=False, retries=0,
        network_backend=GuardedBackend())
    timeout = httpx.Timeout(connect=cfg.connect_timeout, read=cfg.read_timeout,
                            write=cfg.read_timeout, pool=cfg.deadline)
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False,
        # trust_env=False: no proxy from the environment (the peer check would
        # see the proxy, not the site) and no ~/.netrc credentials sent around.
        trust_env=False,
        headers={"User-Agent": cfg.user_agent, "Accept-Encoding": ACCEPT_ENCODING})


def _request_headers(etag: str | None, last_modified: str | None,
                     accept: str | None) -> dict[str, str]:
    # Validators come back from servers and the database: anything that is
    # not plain printable ASCII would make httpx raise, so it is dropped.
    headers = {"Accept": accept if accept and _HEADER_SAFE.fullmatch(accept) else "*/*"}
    if etag and _HEADER_SAFE.fullmatch(etag):
        headers["If-None-Match"] = etag
    if last_modified and _HEADER_SAFE.fullmatch(last_modified):
        headers["If-Modified-Since"] = last_modified
    return headers


def _host_of(url: str) -> str:
    try:
        return httpx.URL(url).host.lower()
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""  # check_resolved refuses it right after


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _reason(exc: FetchError) -> str:
    """The message without the stage and the URL: what it was raised with."""
    return exc.reason


def _content_length(headers: httpx.Headers) -> int | None:
    value = headers.get("content-length", "").split(",")[0].strip()
    return int(value) if value.isascii() and value.isdigit() else None


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """("text/html", "utf-8") from 'text/html; charset="UTF-8"'; ("", None) if absent.

    An unknown charset gives None: decoding with it downstream would raise.
    """
    if not value:
        return "", None
    media, *params = value.split(";")
    media = media.strip().lower()
    if "/" not in media or " " in media:
        media = ""
    charset = None
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset":
            candidate = raw.strip().strip("\"'").strip().lower()
            try:
                codecs.lookup(candidate)
                charset = candidate
            except (LookupError, ValueError):
                charset = None
    return media, charset


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _status_error(status: int, headers: httpx.Headers, shown: str, where: str
                  ) -> HTTPStatusError:
    # The phrase is ours, not the server's: a reason line can say anything.
    try:
        phrase = f"{status} {http.HTTPStatus(status).phrase.lower()}"
    except ValueError:
        phrase = f"{status} (unknown status)"
    retry_after = parse_retry_after(headers.get("retry-after")) if status in (429, 503) else None
    return HTTPStatusError(f"{phrase}{where}", url=shown, status=status,
                           retry_after=retry_after)


# What can come out of AsyncClient.stream and Response.aiter_raw in httpx 0.28:
# httpx's own exceptions (it maps every httpcore exception to one around the
# request and around the body iterator: map_httpcore_exceptions in
# httpx/_transports/default.py), OSError from the network, zlib.error from our
# decoder. PeerRefused and RefusedURL are caught before these.
_LIBRARY_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, zlib.error)


def _translate(exc: BaseException, shown: str, cfg: NetworkConfig, where: str = ""
               ) -> FetchError:
    """The one place library exceptions become FetchErrors."""
    if isinstance(exc, httpx.ConnectTimeout):
        message = f"connect timed out after {cfg.connect_timeout:g}s"
    elif isinstance(exc, httpx.ReadTimeout):
        message = f"no data for {cfg.read_timeout:g}s (read timeout)"
    elif isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        message = f"timed out ({type(exc).__name__})"
    elif isinstance(exc, httpx.ConnectError):
        message = f"cannot connect: {_detail(exc)}"
    elif isinstance(exc, httpx.RemoteProtocolError):
        message = f"broken HTTP response: {_detail(exc)}"
    elif isinstance(exc, zlib.error):
        message = f"body is not valid compressed data: {_detail(exc)}"
    elif isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return RefusedURL(f"refused: not a valid URL{where}", url=shown)
    else:
        message = f"{type(exc).__name__}: {_detail(exc)}"
    return FetchError(f"{message}{where}", url=shown)


def _detail(exc: BaseException) -> str:
    # Library messages can quote the request line or URL: keep them short and
    # strip anything that looks like a URL, whose credentials we cannot vouch for.
    text = re.sub(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+", lambda m: redact_url(m.group(0)),
                  str(exc) or type(exc).__name__)
    return text[:200]
