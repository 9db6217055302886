"""A local Google News, for tests: search feeds, article pages carrying the
decoding signature, the batchexecute endpoint, and the publishers' pages.

On top of :class:`faultserver.FaultServer`. It speaks the protocol the maintained
decoders document (googlenewsdecoder, newspaper4k #645)::

    GET  /rss/articles/<id>            -> HTML with <c-wiz><div jscontroller
                                          data-n-a-sg="<sig>" data-n-a-ts="<ts>">
    POST /_/DotsSplashUi/data/batchexecute   f.req=[[["Fbv4je","[\\"garturlreq\\",
         [...], \\"<id>\\", <ts>, \\"<sig>\\"]",null,"generic"]]]
                                       -> )]}'  then  [["wrb.fr","Fbv4je",
                                          "[\\"garturlresp\\",\\"<url>\\",1]",...]]

and checks what the client sends: a wrong signature or timestamp is a 400, as
Google answers it. ``old_id(url)`` makes an old-style id (decoded offline);
``new_id(url)`` a new-style token only this server can resolve.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
from urllib.parse import parse_qs

from faultserver import FaultServer, Reply, Request

BATCH = "/_/DotsSplashUi/data/batchexecute"


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def old_id(url: str, amp: str | None = None) -> str:
    """An old-style id: 08 13 22, varint length, the URL (then an AMP URL)."""
    raw = b"\x08\x13\x22" + _varint(len(url.encode())) + url.encode()
    if amp:
        raw += b"\xd2\x01" + _varint(len(amp.encode())) + amp.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _new_token() -> str:
    payload = b"AU_yqL" + secrets.token_urlsafe(60).encode()
    raw = b"\x08\x13\x22" + _varint(len(payload)) + payload
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class GoogleNewsWeb:
    """Routes on ``srv``; ``srv.url()`` is the ``google_news.base_url``."""

    def __init__(self, srv: FaultServer):
        self.srv = srv
        self.targets: dict[str, str] = {}     # new-style id -> publisher URL
        self.broken: set[str] = set()          # ids whose batchexecute answer fails
        self.unsigned: set[str] = set()        # ids whose /rss/articles page has no signature
        self.resolutions = 0                   # successful batchexecute answers
        srv.route(BATCH, self._batch)

    def new_id(self, url: str) -> str:
        article = _new_token()
        self.targets[article] = url
        for path in (f"/rss/articles/{article}", f"/articles/{article}"):
            self.srv.route(path, self._article_page)
        return article

    def link(self, article: str) -> str:
        return self.srv.url(f"/rss/articles/{article}") + "?oc=5"

    def requests_to_google(self) -> int:
        return sum(1 for r in self.srv.requests
                   if r.path == BATCH or r.path.startswith(("/rss/articles/", "/articles/")))

    @staticmethod
    def _signature(article: str) -> tuple[str, str]:
        return "AZ" + article[-12:], str(1733900000 + len(article))

    def _article_page(self, req: Request, reply: Reply) -> None:
        article = req.path.rsplit("/", 1)[-1]
        sig, ts = self._signature(article)
        if article in self.unsigned and req.path.startswith("/rss/"):
            sig = ""
        body = (f'<!doctype html><html><head><title>Google News</title></head><body>'
                f'<c-wiz jsrenderer="x"><div jscontroller="aLI87" jsaction="rcuQ6b:npT2md"'
                f' data-n-a-sg="{html.escape(sig)}" data-n-a-ts="{ts}" data-n-a-id="{article}">'
                f'</div></c-wiz></body></html>').encode()
        reply.send(200, body, {"Content-Type": "text/html; charset=utf-8"})

    def _batch(self, req: Request, reply: Reply) -> None:
        try:
            f_req = parse_qs(req.body.decode())["f.req"][0]
            rpc = json.loads(f_req)[0][0]
            inner = json.loads(rpc[1])
            article, ts, sig = inner[2], inner[3], inner[4]
        except (KeyError, IndexError, ValueError, TypeError):
            reply.send(400, b"bad f.req", {"Content-Type": "text/plain"})
            return
        good = rpc[0] == "Fbv4je" and inner[0] == "garturlreq"
        if not good or (sig, str(ts)) != self._signature(article) or article in self.broken:
            reply.send(400, b")]}'\n\n[[\"er\",null,null,null,null,400]]",
                       {"Content-Type": "application/json"})
            return
        url = self.targets.get(article)
        if url is None:
            reply.send(400, b"unknown id", {"Content-Type": "text/plain"})
            return
        self.resolutions += 1
        answer = json.dumps([["wrb.fr", "Fbv4je", json.dumps(["garturlresp", url, 1]), None,
                              None, None, "generic"], ["di", 42], ["af.httprm", 41, "1", 7]])
        reply.send(200, f")]}}'\n\n{answer}".encode(),
                   {"Content-Type": "application/json; charset=utf-8"})


def google_feed(entries: list[tuple[str, str, str, str]]) -> bytes:
    """A Google News search feed: (title, link, source url, source name) each."""
    items = []
    for n, (title, link, src, name) in enumerate(entries):
        desc = html.escape(f'<a href="{link}" target="_blank">{html.escape(title)}</a>'
                           f'&nbsp;&nbsp;<font color="#6f6f6f">{html.escape(name)}</font>')
        src_el = f'<source url="{html.escape(src)}">{html.escape(name)}</source>' if src else ""
        items.append(f"<item><title>{html.escape(title)} - {html.escape(name)}</title>"
                     f"<link>{html.escape(link)}</link><guid isPermaLink=\"false\">g{n}</guid>"
                     f"<pubDate>Wed, 11 Dec 2024 {10 + n % 12:02d}:00:00 GMT</pubDate>"
                     f"<description>{desc}</description>{src_el}</item>")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rss version="2.0">'
            '<channel><generator>NFE/5.0</generator><title>"Sednaya" - Google News</title>'
            '<link>https://news.google.com/search?q=Sednaya</link><description>Google News'
            f'</description>{"".join(items)}</channel></rss>').encode()


def plain_feed(entries: list[tuple[str, str]]) -> bytes:
    """A publisher's own RSS feed: (title, link) each."""
    items = "".join(f"<item><title>{html.escape(t)}</title><link>{html.escape(u)}</link>"
                    f"<pubDate>Wed, 11 Dec 2024 09:00:00 GMT</pubDate></item>"
                    for t, u in entries)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Publisher</title>'
            f'<link>http://example.org/</link>{items}</channel></rss>').encode()


def article_page(title: str, n: int) -> bytes:
    """A publisher's article about Sednaya, distinct per ``n`` (no near-duplicates)."""
    words = " ".join(f"word{n}x{i}" for i in range(120))
    return (f"<html><head><title>{html.escape(title)}</title></head><body><article>"
            f"<h1>{html.escape(title)}</h1><p>Former detainees of Sednaya prison in Syria "
            f"described report number {n} to investigators on Tuesday.</p><p>{words}</p>"
            f"</article></body></html>").encode()
