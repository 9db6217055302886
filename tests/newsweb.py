"""A small "news web" for tests: a threaded HTTP server on loopback that serves
feeds and article pages from memory, answers conditional GETs with 304, and
logs every request so tests can count what was downloaded."""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    validators: bool = True       # send ETag and Last-Modified, answer 304
    status: int = 200


@dataclass
class Request:
    path: str
    status: int
    conditional: bool


@dataclass
class NewsWeb:
    pages: dict[str, Page] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str, **kw) -> str:
        self.pages[path] = Page(body.encode() if isinstance(body, str) else body, **kw)
        return self.url(path)

    def requests_to(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()


def _handler(web: NewsWeb):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            page = web.pages.get(self.path)
            conditional = bool(self.headers.get("If-None-Match")
                               or self.headers.get("If-Modified-Since"))
            if page is None:
                return self._send(404, b"not found", "text/plain", conditional)
            etag = '"' + hashlib.sha1(page.body).hexdigest()[:16] + '"'
            if page.validators and self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", None, conditional, etag=etag)
            self._send(page.status, page.body, page.content_type, conditional,
                       etag=etag if page.validators else None)

        def _send(self, status, body, ctype, conditional, etag=None) -> None:
            with web.lock:
                web.log.append(Request(self.path, status, conditional))
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(0, usegmt=True))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

    return Handler


def start_newsweb() -> NewsWeb:
    web = NewsWeb()
    web.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(web))
    web.server.daemon_threads = True
    threading.Thread(target=web.server.serve_forever, daemon=True).start()
    return web


def rss(title: str, items: list[dict]) -> str:
    """An RSS 2.0 document; each item has title, link, description, pubDate (optional)."""
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
             f"<title>{escape(title)}</title><link>http://example.org/</link>"
             "<description>test feed</description>"]
    for i, it in enumerate(items):
        parts.append(
            f"<item><title>{escape(it['title'])}</title><link>{escape(it['link'])}</link>"
            f"<guid>{escape(it.get('guid', it['link']))}</guid>"
            f"<description>{escape(it.get('description', ''))}</description>"
            f"<pubDate>{it.get('pubDate', formatdate(1733700000 + i * 60, usegmt=True))}"
            "</pubDate></item>")
    parts.append("</channel></rss>")
    return "".join(parts)


def article_pages() -> dict[str, bytes]:
    """Real news pages from the extraction benchmark, by id."""
    folder = FIXTURES / "articles"
    return {p.name.split(".")[0]: gzip.decompress(p.read_bytes())
            for p in sorted(folder.glob("*.html.gz"))}


def seed_text() -> str:
    return next((Path(__file__).parent.parent / "seeds").glob("0*.txt")).read_text("utf-8")


def page_around(title: str, paragraphs: list[str], *, site: str = "Example News") -> str:
    """A plausible article page: header, navigation, the paragraphs, related links, footer."""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} | {escape(site)}</title>
<meta property="og:title" content="{escape(title)}"></head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/politics">Politics</a>
<a href="/sport">Sport</a></nav><div class="promo">Subscribe to our newsletter for daily
updates</div></header>
<main><article><h1>{escape(title)}</h1><p class="byline">By Staff Reporter</p>
{body}
</article>
<aside><h3>Related</h3><ul><li><a href="/a">Markets rally as oil slips</a></li>
<li><a href="/b">Weather: storms expected this weekend</a></li></ul></aside></main>
<footer>© {escape(site)} 2024. All rights reserved. <a href="/privacy">Privacy</a></footer>
</body></html>"""
