"""A small threaded HTTP/1.1 server that misbehaves on request, for tests.

It listens on 127.0.0.1 on a free port and answers each path with a handler
you register. A handler gets the parsed :class:`Request` and a :class:`Reply`
that writes raw bytes, so it can send any status, headers (garbage included)
and body, stall, drip, or hang up::

    with FaultServer() as srv:                       # or the ``fault_server`` fixture
        srv.static("/feed", b"<rss/>", etag='"v1"')   # answers 304 to If-None-Match
        srv.drip("/slow", b"x" * 100, interval=0.3)
        srv.redirect("/a", "/b")
        @srv.route("/custom")
        def custom(req, reply):
            reply.send(429, b"", {"Retry-After": "7"})
        fetch(srv.url("/feed"))
        assert srv.hits["/feed"] == 1 and srv.max_in_flight == 1

Connections are kept alive after a framed reply (``send``, ``finish_chunks``),
closed after anything else. ``stop()`` wakes every stalled handler, so a
test never waits on its server.
"""

from __future__ import annotations

import email.utils
import functools
import http
import socket
import socketserver
import threading
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Sequence

import pytest

HeaderValue = str | bytes
Headers = Mapping[str, HeaderValue] | Sequence[tuple[str, HeaderValue]] | None


@dataclass
class Request:
    method: str
    target: str                      # as sent: path and query
    path: str                        # without the query
    headers: dict[str, str]          # names lower-cased; the last value wins
    body: bytes = b""
    client: tuple = ()
    received_at: float = field(default_factory=time.monotonic)


class Reply:
    """Raw control over one response on one connection."""

    def __init__(self, sock: socket.socket, stopping: threading.Event):
        self._sock = sock
        self._stopping = stopping
        self.keep_alive = False      # set by framed replies; the server reads the next request

    # -- framed replies (the connection may be reused afterwards)

    def send(self, status: int = 200, body: bytes = b"", headers: Headers = None, *,
             reason: str | None = None) -> None:
        """A complete response; adds Content-Length unless the headers set framing."""
        pairs = _pairs(headers)
        names = {n.lower() for n, _ in pairs}
        if "content-length" not in names and "transfer-encoding" not in names:
            pairs.append(("Content-Length", str(len(body))))
        self.start(status, pairs, reason=reason)
        self.write(body)
        self.keep_alive = "connection" not in names

    def start_chunks(self, status: int = 200, headers: Headers = None) -> None:
        self.start(status, _pairs(headers) + [("Transfer-Encoding", "chunked")])

    def chunk(self, data: bytes) -> None:
        if data:
            self.write(b"%x\r\n%s\r\n" % (len(data), data))

    def finish_chunks(self) -> None:
        self.write(b"0\r\n\r\n")
        self.keep_alive = True

    # -- raw pieces (the connection is closed afterwards)

    def start(self, status: int, headers: Headers = None, *, reason: str | None = None) -> None:
        """Status line and headers only; the body is up to the handler."""
        if reason is None:
            try:
                reason = http.HTTPStatus(status).phrase
            except ValueError:
                reason = "Whatever"
        lines = [f"HTTP/1.1 {status} {reason}".encode("latin-1")]
        for name, value in _pairs(headers):
            raw = value if isinstance(value, bytes) else str(value).encode("latin-1")
            lines.append(name.encode("latin-1") + b": " + raw)
        self.write(b"\r\n".join(lines) + b"\r\n\r\n")

    def write(self, data: bytes) -> None:
        if data:
            self._sock.sendall(data)

    def drip(self, data: bytes, interval: float, size: int = 1) -> None:
        """Write ``size`` bytes every ``interval`` seconds (never trips a read timeout)."""
        for i in range(0, len(data), size):
            if self._stopping.wait(interval if i else 0):
                return
            self.write(data[i:i + size])

    def stall(self, seconds: float | None = None) -> None:
        """Say nothing for ``seconds`` (None: until the server stops)."""
        self._stopping.wait(seconds)


Handler = Callable[[Request, Reply], None]


def _pairs(headers: Headers) -> list[tuple[str, HeaderValue]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(n), v) for n, v in items]


class _Connection(socketserver.BaseRequestHandler):
    server: "_TCPServer"

    def handle(self) -> None:
        owner = self.server.owner
        owner._track(self.request, add=True)
        rfile = self.request.makefile("rb")
        try:
            while not owner._stopping.is_set():
                req = _read_request(rfile, self.client_address)
                if req is None:
                    return
                reply = Reply(self.request, owner._stopping)
                owner._dispatch(req, reply)
                if not reply.keep_alive:
                    return
        except (ConnectionError, TimeoutError, OSError):
            return  # the client hung up, as clients under test do
        finally:
            owner._track(self.request, add=False)
            rfile.close()


def _read_request(rfile, client: tuple) -> Request | None:
    line = rfile.readline(65537)
    if not line.strip():
        return None
    method, target, _version = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = rfile.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = rfile.read(length) if length else b""
    return Request(method, target, target.split("?", 1)[0], headers, body, client)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    owner: "FaultServer"

    def handle_error(self, request, client_address) -> None:
        import sys
        self.owner.errors.append(sys.exc_info()[1])


class FaultServer:
    """Threaded test server on 127.0.0.1:<free port>. See the module docstring."""

    def __init__(self, host: str = "127.0.0.1"):
        self._routes: dict[str, Handler] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.requests: list[Request] = []
        self.hits: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.errors: list[BaseException] = []   # handler crashes (not client hang-ups)
        self._server = _TCPServer((host, 0), _Connection)
        self._server.owner = self
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> "FaultServer":
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.hits.clear()
            self.max_in_flight = self.in_flight

    # -- routing

    def route(self, path: str, handler: Handler | None = None):
        """Register ``handler(request, reply)`` for ``path`` (query ignored); a decorator too."""
        if handler is None:
            return functools.partial(self.route, path)
        self._routes[path] = handler
        return handler

    def _dispatch(self, req: Request, reply: Reply) -> None:
        with self._lock:
            self.requests.append(req)
            self.hits[req.path] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            handler = self._routes.get(req.path)
            if handler is None:
                reply.send(404, b"no route", {"Content-Type": "text/plain"})
            else:
                handler(req, reply)
        except (ConnectionError, TimeoutError):
            reply.keep_alive = False
        except Exception as exc:  # a broken handler: record it, hang up
            self.errors.append(exc)
            reply.keep_alive = False
        finally:
            with self._lock:
                self.in_flight -= 1

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._open.add if add else self._open.discard)(sock)

    # -- ready-made behaviours

    def respond(self, path: str, status: int = 200, body: bytes = b"",
                headers: Headers = None, *, delay: float = 0.0) -> None:
        """Always the same response, after ``delay`` seconds."""
        def handler(req: Request, reply: Reply) -> None:
            reply.stall(delay) if delay else None
            reply.send(status, body, headers)
        self.route(path, handler)

    def static(self, path: str, body: bytes, content_type: str = "text/plain",
               *, etag: str | None = None, last_modified: float | str | None = None) -> None:
        """Content with validators; answers 304 to a matching conditional GET."""
        if isinstance(last_modified, (int, float)):
            last_modified = email.utils.formatdate(last_modified, usegmt=True)
        headers = {"Content-Type": content_type}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified

        def handler(req: Request, reply: Reply) -> None:
            if _not_modified(req, etag, last_modified):
                reply.send(304, b"", {k: v for k, v in headers.items() if k != "Content-Type"})
            else:
                reply.send(200, body, headers)
        self.route(path, handler)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.respond(path, status, b"", {"Location": location})

    def drip(self, path: str, body: bytes, interval: float, *, size: int = 1,
             headers: Headers = None) -> None:
        """Headers at once, then ``size`` bytes of body every ``interval`` seconds."""
        def handler(req: Request, reply: Reply) -> None:
            reply.start(200, _pairs(headers) + [("Content-Length", str(len(body)))])
            reply.drip(body, interval, size)
        self.route(path, handler)

    def stall(self, path: str, *, body_first: bytes | None = None,
              content_length: int | None = None) -> None:
        """Read the request and go silent: before the headers (``body_first`` None)
        or after headers and the first bytes of a longer body."""
        def handler(req: Request, reply: Reply) -> None:
            if body_first is not None:
                length = content_length or len(body_first) + 10_000
                reply.start(200, [("Content-Length", str(length))])
                reply.write(body_first)
            reply.stall()
        self.route(path, handler)

    def chunked(self, path: str, chunks: Sequence[bytes], headers: Headers = None) -> None:
        """A body in chunked encoding (no Content-Length)."""
        def handler(req: Request, reply: Reply) -> None:
            reply.start_chunks(200, headers)
            for piece in chunks:
                reply.chunk(piece)
            reply.finish_chunks()
        self.route(path, handler)

    def gzip_bomb(self, path: str, decoded_size: int, *, encoding: str = "gzip",
                  content_length: bool = True) -> bytes:
        """``decoded_size`` zero bytes, compressed (100 MB is about 100 KB on the wire)."""
        payload = compressed_zeros(decoded_size, encoding)
        headers = [("Content-Type", "application/xml"), ("Content-Encoding", encoding)]
        if content_length:
            self.respond(path, 200, payload, headers)
        else:
            self.chunked(path, [payload[i:i + 65536] for i in range(0, len(payload), 65536)],
                         headers)
        return payload


def _not_modified(req: Request, etag: str | None, last_modified: str | None) -> bool:
    if_none_match = req.headers.get("if-none-match")
    if if_none_match is not None:
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3); weak comparison.
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return bool(etag) and ("*" in tags or etag.removeprefix("W/") in tags)
    since = req.headers.get("if-modified-since")
    if since and last_modified:
        try:
            return (email.utils.parsedate_to_datetime(last_modified)
                    <= email.utils.parsedate_to_datetime(since))
        except (TypeError, ValueError):
            return False
    return False


@functools.lru_cache(maxsize=8)
def compressed_zeros(size: int, encoding: str = "gzip") -> bytes:
    """``size`` zero bytes gzip- or zlib(deflate)-compressed, built 1 MiB at a time."""
    wbits = 31 if encoding in ("gzip", "x-gzip") else 15
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1 << 20)
    out = []
    for start in range(0, size, len(block)):
        out.append(packer.compress(block[:min(len(block), size - start)]))
    out.append(packer.flush())
    return b"".join(out)


@contextmanager
def unresponsive_listener() -> Iterator[tuple[str, int]]:
    """(host, port) of a listening socket whose accept queue is full, so a new
    connect() hangs in the handshake — a connect timeout without leaving loopback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):  # the kernel admits about backlog+1; fill until a connect hangs
            filler = socket.socket()
            filler.settimeout(0.1)
            fillers.append(filler)
            try:
                filler.connect(listener.getsockname())
            except (TimeoutError, OSError):
                break
        yield listener.getsockname()[:2]
    finally:
        for sock in fillers + [listener]:
            sock.close()


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv
