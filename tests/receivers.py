"""Real receivers for delivery tests, on loopback: an SMTP server (aiosmtpd)
that keeps each message it is given, and an HTTP server for Apprise's
``json://`` and ``form://`` webhooks that keeps each request and can be told
to answer 500 a number of times first. Both let a test wait for the n-th
message on a condition, never on a sleep."""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.items: list = []
        self.times: list[float] = []          # time.time() of each arrival
        self.cond = threading.Condition()

    def add(self, item) -> None:
        with self.cond:
            self.items.append(item)
            self.times.append(time.time())
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 20.0) -> list:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.items) >= n, timeout):
                raise AssertionError(f"expected {n} messages, got {len(self.items)}")
            return list(self.items)


class SMTPReceiver(_Inbox):
    """aiosmtpd on 127.0.0.1; ``messages`` are parsed EmailMessage objects."""

    def __init__(self) -> None:
        super().__init__()
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.add(email.message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, to: str = "team@example.org") -> str:
        return (f"mailto://127.0.0.1:{self.port}?mode=insecure&from=newswatch@example.org"
                f"&to={to}")

    @property
    def messages(self) -> list[EmailMessage]:
        with self.cond:
            return list(self.items)

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Hook:
    path: str
    title: str
    body: str
    kind: str                     # "json" or "form"
    raw: bytes = b""


@dataclass
class WebhookReceiver(_Inbox):
    """Answers ``failures`` requests with 500, then 200. ``before_reply`` is
    called with each accepted request before the answer is written."""

    failures: int = 0
    before_reply: Callable[[Hook], None] | None = None
    refused: int = 0
    server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _Inbox.__init__(self)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    fail = receiver.refused < receiver.failures
                    receiver.refused += fail
                if fail:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                hook = _parse(self.path, self.headers.get("Content-Type", ""), raw)
                receiver.add(hook)
                if receiver.before_reply:
                    receiver.before_reply(hook)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook", kind: str = "json") -> str:
        host, port = self.server.server_address[:2]
        return f"{kind}://{host}:{port}{path}"

    @property
    def hooks(self) -> list[Hook]:
        with self.cond:
            return list(self.items)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _parse(path: str, content_type: str, raw: bytes) -> Hook:
    if "json" in content_type:
        doc = json.loads(raw)
        return Hook(path, doc.get("title", ""), doc.get("message", ""), "json", raw)
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
    return Hook(path, form.get("title", ""), form.get("message", ""), "form", raw)
