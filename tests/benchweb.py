"""The benchmarks' news web: N feeds (RSS and Atom) spread over several loopback
"sites" (127.0.0.1, 127.0.0.2, ... — each its own host for the per-host
limits), whose entries link to real article pages from the extraction
benchmark, reused under many URLs. Served by ``newsweb.NewsWeb``, the same
server as the tests'.

* Article g (a global serial number) serves benchmark page ``g % P``. Its
  first use is the page as published; later uses are *variants*: a token
  ``zq<copy>`` is inserted after every 4th word of the page body's text
  (scripts and styles untouched), so every 5-word shingle differs and the
  dedupe stage sees a different article, while topic words stay intact and
  trafilatura does the same work. A share ``--dup-share`` of the articles
  are exact copies of an earlier article under a new URL (syndication).
* Feeds carry the latest ``--per-feed`` entries, with ETag and
  Last-Modified; a conditional GET on an unchanged feed gets 304.
* gzip when the client asks (bodies compressed ahead by ``prepare``).
* ``--latency`` seconds of delay per request stand for the internet.
* Every request and body byte is counted; ``/_control/...`` (not counted):
  ``stats``, ``reset``, ``publish?n=K`` (K new articles, round-robin over the
  feeds), ``prepare`` (build every body now, off the clock), ``config``.

Run it as its own process (``python tests/benchweb.py --feeds 50``): it
prints one JSON line with its base URLs, then serves until killed. Serving
costs CPU on the same cores as the pipeline; the benchmark reports it.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from newsweb import NewsWeb, Page, load_pages, start_newsweb

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
_OG_TITLE = re.compile(rb'<meta[^>]+property=["\']og:title["\'][^>]+content=["\']([^"\']*)',
                       re.I)
_SKIP = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>",
                   re.I | re.S)
_EVERY4 = re.compile(r"\w+(?:\W+\w+){3}")
_FEED_PATH = re.compile(r"/feeds/(\d+)\.(xml|atom)")
_ARTICLE_PATH = re.compile(r"/news/(\d+)/(\d+)-story")


def _plain(b: bytes) -> str:
    return re.sub(r"\s+", " ", html.unescape(b.decode("utf-8", "replace"))).strip()


def mutate(page: bytes, copy: int) -> bytes:
    """The page with ``zq<copy>`` after every 4th word of the body's text. The
    markup is skipped with a regex, not parsed: this makes a variant of a page,
    it reads no text out of one."""
    text = page.decode("utf-8", "replace")
    start = max(text.lower().find("<body"), 0)
    token = f" zq{copy}"
    out, pos = [text[:start]], start

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
            self._titles.append(_plain(m.group(1))[:200] if m else f"Article {pid[:8]}")
        self._summaries = [(self.truth.get(pid, {}).get("articleBody") or "")[:400]
                           for pid in self.ids]
        self.feed_items = [[] for _ in range(self.n_feeds)]
        self.feed_version = [0] * self.n_feeds
        self._rng = random.Random(self.seed)
        self.publish(self.n_feeds * self.per_feed)

    def publish(self, n: int) -> list[int]:
        """n new articles, round-robin over the feeds; returns their serials."""
        new = []
        for _ in range(n):
            g = len(self.articles)
            feed, page, copy = g % self.n_feeds, g % len(self.pages), g // len(self.pages)
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
        rss = self.feed_kind(f) == "rss"
        parts = [_feed_head(f, rss, items[0].published if items else 0)]
        for a in items:
            url, summary = escape(article_url(a)), escape(f"<p>{escape(a.summary)}</p>")
            parts.append(
                f"<item><title>{escape(a.title)}</title><link>{url}</link><guid>{url}</guid>"
                f"<description>{summary}</description>"
                f"<pubDate>{formatdate(a.published, usegmt=True)}</pubDate></item>" if rss else
                f'<entry><title>{escape(a.title)}</title><link rel="alternate" href="{url}"/>'
                f"<id>{url}</id><updated>{_iso(a.published)}</updated>"
                f'<summary type="html">{summary}</summary></entry>')
        parts.append("</channel></rss>" if rss else "</feed>")
        return "".join(parts).encode("utf-8")


def _feed_head(f: int, rss: bool, updated: float) -> str:
    if rss:
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>Bench feed {f}</title><link>http://example.org/{f}</link>"
                f"<description>benchmark feed {f}</description>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Bench feed {f}</title><id>urn:bench:feed:{f}</id>"
            f"<updated>{_iso(updated)}</updated>")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class GeneratedWeb:
    """A Site's feeds and articles at URLs of a NewsWeb's hosts (a feed and its
    articles on host ``feed % hosts``), each page built at its first request
    and kept until its feed changes (feeds) or it leaves every feed (articles)."""

    def __init__(self, site: Site, web: NewsWeb):
        self.site, self.web = site, web
        self._pages: dict[str, Page] = {}
        self._feed_versions: dict[int, int] = {}
        web.generated, web.control = self, self.control

    def feed_url(self, f: int) -> str:
        ext = "atom" if self.site.feed_kind(f) == "atom" else "xml"
        return f"{self.web.hosts[f % len(self.web.hosts)]}/feeds/{f}.{ext}"

    def article_url(self, a: Article) -> str:
        return f"{self.web.hosts[a.feed % len(self.web.hosts)]}/news/{a.feed}/{a.g}-story"

    def page(self, path: str) -> Page | None:
        m = _FEED_PATH.fullmatch(path)
        if m and int(m.group(1)) < self.site.n_feeds:
            return self._feed(path, int(m.group(1)), m.group(2))
        m = _ARTICLE_PATH.fullmatch(path)
        if m and int(m.group(2)) < len(self.site.articles):
            with self.web.lock:
                cached = self._pages.get(path)
            if cached is None:
                g = int(m.group(2))
                cached = Page(self.site.article_body(g), modified=self.site.articles[g].published,
                              kind="article")
                with self.web.lock:
                    self._pages[path] = cached
            return cached
        return None

    def _feed(self, path: str, f: int, ext: str) -> Page:
        with self.web.lock:
            version = self.site.feed_version[f]
            cached = self._pages.get(path)
            if cached is not None and self._feed_versions.get(f) == version:
                return cached
            raw = self.site.feed_body(f, self.article_url)
            items = self.site.feed_items[f]
            modified = self.site.articles[items[-1]].published if items else 0
        ctype = ("application/atom+xml" if ext == "atom" else "application/rss+xml")
        page = Page(raw, content_type=ctype + "; charset=utf-8", modified=modified, kind="feed")
        with self.web.lock:
            self._pages[path], self._feed_versions[f] = page, version
        return page

    def prepare(self) -> int:
        """Build (and compress) every body the feeds link to now, off the clock;
        drop the rest."""
        live, paths = set(), []
        for f in range(self.site.n_feeds):
            paths.append(urlsplit(self.feed_url(f)).path)
            for g in self.site.feed_items[f]:
                live.add(urlsplit(self.article_url(self.site.articles[g])).path)
        for path in paths + sorted(live):
            page = self.page(path)
            if self.web.use_gzip:
                page.gzipped()
        with self.web.lock:
            for path in [p for p in self._pages if p.startswith("/news/") and p not in live]:
                del self._pages[path]     # old articles: rebuilt if asked for again
        return len(live)

    def control(self, path: str, query: dict) -> dict:
        if path == "/_control/stats":
            return self.web.stats()
        if path == "/_control/reset":
            self.web.clear_log()
            return {"ok": True}
        if path == "/_control/publish":
            with self.web.lock:
                new = self.site.publish(int(query.get("n", ["1"])[0]))
            return {"published": len(new), "total": len(self.site.articles)}
        if path == "/_control/prepare":
            t = time.perf_counter()
            n = self.prepare()
            return {"bodies": n, "seconds": round(time.perf_counter() - t, 2)}
        if path == "/_control/config":
            return {"hosts": self.web.hosts, "source": self.site.source,
                    "feeds": [self.feed_url(f) for f in range(self.site.n_feeds)],
                    "articles": len(self.site.articles)}
        return {"error": "unknown"}


def start_benchweb(site: Site, *, hosts: int = 10, latency: float = 0.0,
                   use_gzip: bool = True) -> GeneratedWeb:
    return GeneratedWeb(site, start_newsweb(hosts, latency=latency, use_gzip=use_gzip))


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
    gen = start_benchweb(site, hosts=args.hosts, latency=args.latency,
                         use_gzip=not args.no_gzip)
    if args.prepare:
        gen.prepare()
    print(json.dumps({"control": gen.web.hosts[0] + "/_control/", "hosts": gen.web.hosts,
                      "source": site.source}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        gen.web.close()


if __name__ == "__main__":
    main(sys.argv[1:])
