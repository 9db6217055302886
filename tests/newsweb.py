"""A "news web" on loopback, for the tests and the benchmarks alike: threaded
HTTP servers that serve feeds and article pages from memory, answer
conditional GETs with 304, gzip when asked (if told to), and log every
request so that callers can count what was downloaded.

Tests add pages one by one (``web.add``). The benchmarks' web of generated
feeds over many loopback "sites" (``tests/benchweb.py``) plugs into the same
server as ``web.generated``: pages made on first request. Also here: the real
news pages of the extraction benchmark (``article_pages``, ``load_pages``),
and an RSS writer and article-page template for tests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Protocol
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
SHARED_PAGES = ROOT.parent / "shared" / "data" / "article-extraction-benchmark"


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    validators: bool = True       # send ETag and Last-Modified, answer 304
    status: int = 200
    modified: float = 0.0         # Last-Modified, seconds since the epoch
    kind: str = "page"            # what the request log files it under: feed, article, page

    def __post_init__(self) -> None:
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'
        self.last_modified = formatdate(self.modified, usegmt=True)
        self._gzipped: bytes | None = None

    def gzipped(self) -> bytes:
        """The body gzip-compressed, once (the benchmark's ``prepare`` does it
        off the clock)."""
        if self._gzipped is None:
            self._gzipped = zlib.compress(self.body, 6, wbits=31)
        return self._gzipped

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        if not self.validators:
            return False
        if if_none_match:
            return if_none_match == self.etag
        return bool(if_modified_since) and if_modified_since == self.last_modified


@dataclass
class Request:
    path: str
    status: int
    conditional: bool
    bytes: int = 0                # body bytes sent
    kind: str = "other"           # the page's kind; "other" for a 404
    started: float = 0.0          # time.monotonic() when the request came in
    ended: float = 0.0            # ... and when its answer was written (0: never)


class GeneratedPages(Protocol):
    def page(self, path: str) -> Page | None: ...


@dataclass
class NewsWeb:
    pages: dict[str, Page] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    servers: list[ThreadingHTTPServer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: float = 0.0          # seconds of delay per request: the internet
    use_gzip: bool = False        # gzip bodies for clients that accept it
    generated: GeneratedPages | None = None            # pages made on request
    control: Callable[[str, dict], dict] | None = None  # /_control/... answers (not logged)

    @property
    def server(self) -> ThreadingHTTPServer:
        return self.servers[0]

    @property
    def hosts(self) -> list[str]:
        return [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in self.servers]

    @property
    def base(self) -> str:
        return self.hosts[0]

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str, **kw) -> str:
        self.pages[path] = Page(body.encode() if isinstance(body, str) else body, **kw)
        return self.url(path)

    def page(self, path: str) -> Page | None:
        page = self.pages.get(path)
        if page is None and self.generated is not None:
            page = self.generated.page(urlsplit(path).path)
        return page

    def requests_to(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def stats(self) -> dict:
        """What the log holds, counted: requests, body bytes, feeds answered 200
        and 304, article pages, and article pages asked for more than once."""
        with self.lock:
            log = list(self.log)
        kinds = Counter(f"{r.kind}_{r.status}" for r in log)
        articles = Counter(r.path for r in log if r.kind == "article" and r.status == 200)
        counted = kinds["feed_200"] + kinds["feed_304"] + kinds["article_200"]
        return {"requests": len(log), "bytes": sum(r.bytes for r in log),
                "feed_200": kinds["feed_200"], "feed_304": kinds["feed_304"],
                "article_200": kinds["article_200"], "other": len(log) - counted,
                "articles_requested_twice": sum(n > 1 for n in articles.values())}

    def close(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()


def _handler(web: NewsWeb):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            self.started = time.monotonic()
            if web.control is not None and self.path.startswith("/_control/"):
                parts = urlsplit(self.path)
                answer = json.dumps(web.control(parts.path, parse_qs(parts.query))).encode()
                return self._send(200, answer, "application/json", log=False)
            if web.latency:
                time.sleep(web.latency)
            page = web.page(self.path)
            if page is None:
                return self._send(404, b"not found", "text/plain")
            if page.not_modified(self.headers.get("If-None-Match"),
                                 self.headers.get("If-Modified-Since")):
                return self._send(304, b"", None, page=page)
            gz = web.use_gzip and "gzip" in (self.headers.get("Accept-Encoding") or "")
            self._send(page.status, page.gzipped() if gz else page.body, page.content_type,
                       page=page, gz=gz)

        def _send(self, status: int, body: bytes, ctype: str | None, *, page: Page | None = None,
                  gz: bool = False, log: bool = True) -> None:
            entry = None
            if log:
                conditional = bool(self.headers.get("If-None-Match")
                                   or self.headers.get("If-Modified-Since"))
                entry = Request(self.path, status, conditional, len(body),
                                page.kind if page else "other", started=self.started)
                with web.lock:
                    web.log.append(entry)
            try:
                self._answer(status, body, ctype, page, gz)
            finally:
                if entry is not None:
                    entry.ended = time.monotonic()

        def _answer(self, status: int, body: bytes, ctype: str | None, page: Page | None,
                    gz: bool) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            if page is not None and page.validators:
                self.send_header("ETag", page.etag)
                self.send_header("Last-Modified", page.last_modified)
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

    return Handler


def start_newsweb(hosts: int = 1, **options) -> NewsWeb:
    """A news web on ``hosts`` loopback addresses (127.0.0.1, 127.0.0.2, ...: each
    its own host for per-host limits), all on one port; ``options``: NewsWeb's."""
    web = NewsWeb(**options)
    handler, port = _handler(web), 0
    for h in range(hosts):
        srv = ThreadingHTTPServer((f"127.0.0.{h + 1}", port), handler)
        srv.daemon_threads = True
        srv.request_queue_size = 256
        port = port or srv.server_address[1]
        web.servers.append(srv)
    for srv in web.servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
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
    """Real news pages from the extraction benchmark (the committed fixtures), by id."""
    folder = FIXTURES / "articles"
    return {p.name.split(".")[0]: gzip.decompress(p.read_bytes())
            for p in sorted(folder.glob("*.html.gz"))}


def load_pages() -> tuple[list[str], list[bytes], dict, str]:
    """The extraction benchmark's pages for the benchmarks: ids, page bytes,
    ground truth, and where they came from (../shared when present, else the
    fixtures, and then it says so)."""
    shared = (SHARED_PAGES / "html").is_dir()
    folder = SHARED_PAGES if shared else FIXTURES / "articles"
    files = sorted((folder / "html" if shared else folder).glob("*.html.gz"))
    pages = [gzip.decompress(p.read_bytes()) for p in files]
    where = str(folder) if shared else (f"{folder} (FALLBACK: ../shared benchmark missing, "
                                        f"only {len(pages)} fixture pages)")
    gt_file = folder / "ground-truth.json"
    truth = json.loads(gt_file.read_text("utf-8")) if gt_file.exists() else {}
    return [p.name.split(".")[0] for p in files], pages, truth, where


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
