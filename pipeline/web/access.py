"""Who may read, and what a page may do once it is read.

Every answer carries a Content-Security-Policy that lets a page load only the
reading room's own stylesheet and icon: no script runs (there is none, and an
injected one would be refused), no image, font or frame comes from anywhere
else, forms submit only here, and no page can be framed.

With a token (``web.token`` or NEWSWATCH_WEB_TOKEN; required away from
loopback) every request but ``/health`` must carry it, compared in constant
time: ``Authorization: Bearer <token>`` (scripts, curl), or a cookie set by a
first visit to any page with ``?token=<token>``. That visit is answered with a
redirect to the same page without the token, so it stays out of the history
and the address bar; the cookie (HttpOnly, SameSite=Strict, 30 days) holds an
HMAC of the token, not the token itself. Only GET and HEAD are served.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, quote, urlencode

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
COOKIE = "newswatch_reader"
COOKIE_DAYS = 30
OPEN_PATHS = {"/health"}          # probes ask without the token


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"newswatch reading room", hashlib.sha256).hexdigest()


class Guard:
    """ASGI middleware: the token check, the read-only rule and the headers."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token
        self.cookie = cookie_value(token) if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)

        if scope["method"] not in ("GET", "HEAD"):
            return await _plain(send_with_headers, 405, "The reading room only reads.",
                                [(b"allow", b"GET, HEAD")])
        if self.token and scope["path"] not in OPEN_PATHS:
            verdict = self._check(scope)
            if verdict == "first visit":
                return await self._welcome(scope, send_with_headers)
            if verdict != "ok":
                return await _plain(send_with_headers, 401,
                                    "This reading room needs its token: open any page once "
                                    "with ?token=… or send Authorization: Bearer ….",
                                    [(b"www-authenticate", b'Bearer realm="newswatch"')])
        await self.app(scope, receive, send_with_headers)

    def _check(self, scope: Scope) -> str:
        headers = Headers(scope=scope)
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and _same(auth[7:].strip(), self.token):
            return "ok"
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and _same(value, self.cookie):
                return "ok"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query and _same(query["token"], self.token):
            return "first visit"
        return "refused"

    async def _welcome(self, scope: Scope, send: Send) -> None:
        """The token was right: set the cookie, send the reader to the page without it."""
        query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
                 if k != "token"]
        path = scope.get("raw_path") or quote(scope["path"]).encode()
        path = b"/" + path.lstrip(b"/")          # never "//host": that would leave the site
        target = path.decode("latin-1") + ("?" + urlencode(query) if query else "")
        cookie = (f"{COOKIE}={self.cookie}; HttpOnly; SameSite=Strict; Path=/; "
                  f"Max-Age={COOKIE_DAYS * 86400}")
        await _plain(send, 303, "Welcome to the reading room.",
                     [(b"location", target.encode("latin-1", "replace")),
                      (b"set-cookie", cookie.encode())])


def _same(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


async def _plain(send: Send, status: int, text: str, headers: list) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
