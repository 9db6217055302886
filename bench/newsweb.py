"""A local "news web" for benchmarks: N feeds (RSS and Atom) spread over several
loopback "sites" (127.0.0.1, 127.0.0.2, ... — each its own host for the
per-host limits), whose entries link to real article pages from the
extraction benchmark, reused under many URLs.

* Article g (a global serial number) serves benchmark page ``g % P``. Its
  first use is the page as published; later uses are *variants*: a token
  ``zq<copy>`` is inserted after every 4th word of the page body's text
  (scripts and styles untouched), so every 5-word shingle differs and the
  dedupe stage sees a different article, while topic words stay intact and
  trafilatura does the same work. A share ``--dup-share`` of the articles
  are exact copies of an earlier article under a new URL (syndication).
* Feeds carry the latest ``--per-feed`` entries, with ETag and
  Last-Modified; a conditional GET on an unchanged feed gets 304.
* gzip when the client asks (bodies compressed ahead, not per request).
* ``--latency`` seconds of delay per request stand for the internet.
* Every request and body byte is counted; ``/_control/...`` (not counted):
  ``stats``, ``reset``, ``publish?n=K`` (K new articles, round-robin over the
  feeds), ``prepare`` (build every body now, off the clock), ``config``.

Run it as its own process (``python bench/newsweb.py --feeds 50``): it
prints one JSON line with its base URLs, then serves until killed. Serving
costs CPU on the same cores as the pipeline; the benchmark reports it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "article-extraction-benchmark"
FIXTURES = ROOT / "tests" / "fixtures" / "articles"


def corpus_dir() -> tuple[Path, bool]:
    """(folder with html/*.html.gz or *.html.gz and ground-truth.json, is_shared)."""
    if (SHARED / "html").is_dir():
        return SHARED, True
    return FIXTURES, False


def load_pages() -> tuple[list[str], list[bytes], dict, str]:
    """ids, page bytes, ground truth, and where they came from."""
    folder, shared = corpus_dir()
    files = sorted((folder / "html").glob("*.html.gz") if shared else folder.glob("*.html.gz"))
    ids = [p.name.split(".")[0] for p in files]
    pages = [gzip.decompress(p.read_bytes()) for p in files]
    gt_path = folder / "ground-truth.json"
    gt = json.loads(gt_path.read_text("utf-8")) if gt_path.exists() else {}
    where = str(folder) if shared else (f"{folder} (FALLBACK: ../shared benchmark missing, "
                                        f"only {len(pages)} fixture pages)")
    return ids, pages, gt, where


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
_OG_TITLE = re.compile(rb'<meta[^>]+property=["\']og:title["\'][^>]+content=["\']([^"\']*)',
                       re.I)
_SKIP = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>",
                   re.I | re.S)
_EVERY4 = re.compile(r"\w+(?:\W+\w+){3}")


def _html_unescape(b: bytes) -> str:
    import html
    return re.sub(r"\s+", " ", html.unescape(b.decode("utf-8", "replace"))).strip()


def mutate(page: bytes, copy: int) -> bytes:
    """The page with ``zq<copy>`` after every 4th word of the body's text."""
    text = page.decode("utf-8", "replace")
    start = text.lower().find("<body")
    if start < 0:
        start = 0
    token = f" zq{copy}"
    out = [text[:start]]
    pos = start

    def words(segment: str) -> str:
        return _EVERY4.sub(lambda m: m.group(0) + token, segment) if len(segment) > 20 \
            else segment

    for m in _SKIP.finditer(text, start):
        out.append(words(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(words(text[pos:]))
    return "".join(out).encode("utf-8")


@dataclass
class Article:
    g: int
    feed: int
    page: int
    copy: int            # 0: the page as published; n: the n-th variant
    title: str
    summary: str
    published: float


@dataclass
class Site:
    """The whole news web's content, deterministic from its parameters (the
    benchmark rebuilds the same bodies in its own process for the floor)."""

    n_feeds: int = 50
    per_feed: int = 40
    dup_share: float = 0.05
    seed: int = 7
    ids: list[str] = field(default_factory=list)
    pages: list[bytes] = field(default_factory=list)
    truth: dict = field(default_factory=dict)
    source: str = ""
    articles: list[Article] = field(default_factory=list)
    feed_items: list[list[int]] = field(default_factory=list)   # newest last
    feed_version: list[int] = field(default_factory=list)

    def __post_init__(self):
        if not self.pages:
            self.ids, self.pages, self.truth, self.source = load_pages()
        self._titles = []
        for pid, page in zip(self.ids, self.pages):
            m = _OG_TITLE.search(page) or _TITLE.search(page[:200_000])
            self._titles.append(_html_unescape(m.group(1))[:200] if m else f"Article {pid[:8]}")
        self._summaries = [(self.truth.get(pid, {}).get("articleBody") or "")[:400]
                           for pid in self.ids]
        self.feed_items = [[] for _ in range(self.n_feeds)]
        self.feed_version = [0] * self.n_feeds
        self._rng = random.Random(self.seed)
        self.publish(self.n_feeds * self.per_feed)

    # -- content
    def publish(self, n: int) -> list[int]:
        """n new articles, round-robin over the feeds; returns their serials."""
        new = []
        for _ in range(n):
            g = len(self.articles)
            feed = g % self.n_feeds
            page = g % len(self.pages)
            copy = g // len(self.pages)
            if copy and self._rng.random() < self.dup_share:
                copy -= 1                           # an exact copy of an earlier article
            title = self._titles[page] + (f" (update {copy})" if copy else "")
            self.articles.append(Article(g, feed, page, copy, title, self._summaries[page],
                                         1733700000 + g * 30))
            self.feed_items[feed].append(g)
            del self.feed_items[feed][:-self.per_feed]
            self.feed_version[feed] += 1
            new.append(g)
        return new

    def article_body(self, g: int) -> bytes:
        a = self.articles[g]
        page = self.pages[a.page]
        return page if a.copy == 0 else mutate(page, a.copy)

    def feed_kind(self, f: int) -> str:
        return "atom" if f % 2 else "rss"

    def feed_body(self, f: int, article_url) -> bytes:
        items = [self.articles[g] for g in reversed(self.feed_items[f])]
        if self.feed_kind(f) == "rss":
            parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                     f"<title>Bench feed {f}</title><link>http://example.org/{f}</link>"
                     f"<description>benchmark feed {f}</description>"]
            for a in items:
                url = escape(article_url(a))
                summary = escape(f"<p>{escape(a.summary)}</p>")
                parts.append(f"<item><title>{escape(a.title)}</title><link>{url}</link>"
                             f"<guid>{url}</guid><description>{summary}</description>"
                             f"<pubDate>{formatdate(a.published, usegmt=True)}</pubDate></item>")
            parts.append("</channel></rss>")
        else:
            parts = ['<?xml version="1.0" encoding="utf-8"?>\n'
                     '<feed xmlns="http://www.w3.org/2005/Atom">'
                     f"<title>Bench feed {f}</title><id>urn:bench:feed:{f}</id>"
                     f"<updated>{_iso(items[0].published if items else 0)}</updated>"]
            for a in items:
                url = escape(article_url(a))
                summary = escape(f"<p>{escape(a.summary)}</p>")
                parts.append(f'<entry><title>{escape(a.title)}</title>'
                             f'<link rel="alternate" href="{url}"/><id>{url}</id>'
                             f"<updated>{_iso(a.published)}</updated>"
                             f'<summary type="html">{summary}</summary></entry>')
            parts.append("</feed>")
        return "".join(parts).encode("utf-8")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# ------------------------------------------------------------------ server

@dataclass
class Body:
    raw: bytes
    gz: bytes
    etag: str
    modified: str
    ctype: str


class NewsWebServer:
    def __init__(self, site: Site, *, hosts: int = 10, latency: float = 0.0,
                 use_gzip: bool = True, port: int = 0):
        self.site = site
        self.latency = latency
        self.use_gzip = use_gzip
        self.lock = threading.Lock()
        self.stats = self._empty_stats()
        self._bodies: dict[str, Body] = {}
        self._feed_versions: dict[int, int] = {}
        self.servers: list[ThreadingHTTPServer] = []
        handler = self._handler()
        for h in range(hosts):
            addr = f"127.0.0.{h + 1}"
            srv = ThreadingHTTPServer((addr, port), handler)
            srv.daemon_threads = True
            srv.request_queue_size = 256
            port = port or srv.server_address[1]
            self.servers.append(srv)
        self.hosts = [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in self.servers]

    @staticmethod
    def _empty_stats() -> dict:
        return {"requests": 0, "bytes": 0, "feed_200": 0, "feed_304": 0, "article_200": 0,
                "other": 0, "article_paths": {}}

    # URLs
    def feed_url(self, f: int) -> str:
        ext = "atom" if self.site.feed_kind(f) == "atom" else "xml"
        return f"{self.hosts[f % len(self.hosts)]}/feeds/{f}.{ext}"

    def article_url(self, a: Article) -> str:
        return f"{self.hosts[a.feed % len(self.hosts)]}/news/{a.feed}/{a.g}-story"

    # bodies
    def _make(self, raw: bytes, ctype: str, modified: float) -> Body:
        gz = zlib.compress(raw, 6, wbits=31) if self.use_gzip else b""
        return Body(raw, gz, '"' + hashlib.sha1(raw).hexdigest()[:16] + '"',
                    formatdate(modified, usegmt=True), ctype)

    def body_for(self, path: str) -> Body | None:
        m = re.fullmatch(r"/feeds/(\d+)\.(xml|atom)", path)
        if m:
            f = int(m.group(1))
            if f >= self.site.n_feeds:
                return None
            with self.lock:
                version = self.site.feed_version[f]
                cached = self._bodies.get(path)
                if cached is not None and self._feed_versions.get(f) == version:
                    return cached
                raw = self.site.feed_body(f, self.article_url)
                items = self.site.feed_items[f]
                modified = self.site.articles[items[-1]].published if items else 0
            ctype = ("application/atom+xml" if m.group(2) == "atom"
                     else "application/rss+xml") + "; charset=utf-8"
            body = self._make(raw, ctype, modified)
            with self.lock:
                self._bodies[path], self._feed_versions[f] = body, version
            return body
        m = re.fullmatch(r"/news/(\d+)/(\d+)-story", path)
        if m:
            g = int(m.group(2))
            if g >= len(self.site.articles):
                return None
            cached = self._bodies.get(path)
            if cached is None:
                cached = self._make(self.site.article_body(g), "text/html; charset=utf-8",
                                    self.site.articles[g].published)
                with self.lock:
                    self._bodies[path] = cached
            return cached
        return None

    def prepare(self) -> int:
        """Build every body the feeds link to now (off the clock); drop the rest."""
        live = set()
        for f in range(self.site.n_feeds):
            self.body_for(urlsplit(self.feed_url(f)).path)
            for g in self.site.feed_items[f]:
                path = urlsplit(self.article_url(self.site.articles[g])).path
                live.add(path)
                self.body_for(path)
        with self.lock:
            for path in [p for p in self._bodies if p.startswith("/news/") and p not in live]:
                del self._bodies[path]     # old articles: rebuilt if asked for again
        return len(live)

    def control(self, path: str, query: dict) -> dict:
        if path == "/_control/stats":
            with self.lock:
                s = dict(self.stats)
                s["articles_requested_twice"] = sum(1 for n in s.pop("article_paths").values()
                                                    if n > 1)
                return s
        if path == "/_control/reset":
            with self.lock:
                self.stats = self._empty_stats()
            return {"ok": True}
        if path == "/_control/publish":
            n = int(query.get("n", ["1"])[0])
            with self.lock:
                new = self.site.publish(n)
            return {"published": len(new), "total": len(self.site.articles)}
        if path == "/_control/prepare":
            t = time.perf_counter()
            n = self.prepare()
            return {"bodies": n, "seconds": round(time.perf_counter() - t, 2)}
        if path == "/_control/config":
            return {"hosts": self.hosts, "feeds": [self.feed_url(f)
                                                   for f in range(self.site.n_feeds)],
                    "source": self.site.source, "articles": len(self.site.articles)}
        return {"error": "unknown"}

    def _handler(self):
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.startswith("/_control/"):
                    data = json.dumps(web.control(parts.path, parse_qs(parts.query))).encode()
                    return self._send(200, data, "application/json", count=False)
                if web.latency:
                    time.sleep(web.latency)
                body = web.body_for(parts.path)
                if body is None:
                    return self._send(404, b"not found", "text/plain")
                is_feed = parts.path.startswith("/feeds/")
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                if (inm and inm == body.etag) or (not inm and ims and ims == body.modified):
                    return self._send(304, b"", None, body=body, kind="feed_304")
                gz = web.use_gzip and "gzip" in (self.headers.get("Accept-Encoding") or "")
                kind = "feed_200" if is_feed else "article_200"
                self._send(200, body.gz if gz else body.raw, body.ctype, body=body, kind=kind,
                           gz=gz, path=None if is_feed else parts.path)

            def _send(self, status, data, ctype, *, count=True, body=None, kind="other",
                      gz=False, path=None) -> None:
                if count:
                    with web.lock:
                        st = web.stats
                        st["requests"] += 1
                        st["bytes"] += len(data)
                        st[kind] += 1
                        if path:
                            st["article_paths"][path] = st["article_paths"].get(path, 0) + 1
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if body is not None:
                    self.send_header("ETag", body.etag)
                    self.send_header("Last-Modified", body.modified)
                if gz:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

        return Handler

    def serve(self) -> None:
        for srv in self.servers:
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def shutdown(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--per-feed", type=int, default=40)
    ap.add_argument("--hosts", type=int, default=10, help="loopback sites 127.0.0.1..N")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    ap.add_argument("--dup-share", type=float, default=0.05)
    ap.add_argument("--no-gzip", action="store_true")
    ap.add_argument("--prepare", action="store_true", help="build all bodies before serving")
    args = ap.parse_args(argv)
    site = Site(n_feeds=args.feeds, per_feed=args.per_feed, dup_share=args.dup_share)
    web = NewsWebServer(site, hosts=args.hosts, latency=args.latency,
                        use_gzip=not args.no_gzip)
    if args.prepare:
        web.prepare()
    web.serve()
    print(json.dumps({"control": web.hosts[0] + "/_control/", "hosts": web.hosts,
                      "source": site.source}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
