"""Unattended soak (issue 13, "done when"): consecutive cycles, as ``newswatch run``
would run them, over one local web serving every trigger of the issue at once.

    .venv/bin/python bench/soak.py [--cycles 10] [--big 20000] [--parse-in-loop]

The web (tests/faultserver.py, loopback): three good feeds of real article
pages (one new entry each cycle, one article answering 503 once, one 429 with
Retry-After once); an HTML page whose advertised feed link is a malformed URL;
a feed whose entry link is one; a feed of ``--big`` entries (capped per
cycle); hostile bytes: random binary as a feed, a billion-laughs feed, a gzip
bomb and binary garbage as article pages, an article that never answers.
Cycles are 30 minutes apart on the cycle's clock (``now=``), so retries and
backoff progress as they would.

Checked after every cycle (exit 1 if any fails): the cycle completed; every
good feed item published so far is stored exactly once (the 503/429 ones
from their page once retried); ``health`` says healthy. Printed: each cycle's
wall time, the event loop's worst lag in it, its summary line, and the totals.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
import storage_helpers  # noqa: E402
from conftest import write_config  # noqa: E402
from faultserver import FaultServer  # noqa: E402
from newsweb import article_pages, page_around, rss  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.cycle import open_pipeline, run_cycle  # noqa: E402
from pipeline.maintenance import health  # noqa: E402
from pipeline import guards  # noqa: E402

T0 = datetime(2030, 6, 1, 8, 0, tzinfo=timezone.utc)
LAUGHS = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
BILLION_LAUGHS = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{LAUGHS}]>'
                  '<rss version="2.0"><channel><title>&l9;</title><item><title>Syria &l9;'
                  '</title><link>http://127.0.0.1:9/x</link></item></channel></rss>').encode()


class LoopLag:
    """The event loop's worst lag in a cycle: the stop watcher wakes every 0.1 s,
    so a longer gap between two wake-ups is time the loop could not run."""

    def __init__(self):
        self.worst = 0.0
        real = guards.Grace.watch
        probe = self

        async def watch(grace):
            import asyncio
            loop = asyncio.get_running_loop()
            last = loop.time()
            while not grace.stop.is_set():
                await asyncio.sleep(0.1)
                now = loop.time()
                probe.worst = max(probe.worst, now - last - 0.1)
                last = now
            await real(grace)
        guards.Grace.watch = watch

    def take(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst


class SoakWeb:
    """The web of the soak; ``publish(k)`` adds cycle k's new entries."""

    def __init__(self, srv: FaultServer, big: int):
        self.srv, self.pages = srv, list(article_pages().values())
        self.good: dict[str, list[dict]] = {f"/good{f}.xml": [] for f in range(3)}
        self.published: set[str] = set()
        self._flaky_calls: dict[str, int] = {}
        self._hostile()
        self._big(big)

    def url(self, path: str) -> str:
        return self.srv.url(path)

    def feeds(self) -> list[dict]:
        paths = [*self.good, "/page.html", "/badlink.xml", "/big.xml", "/binary.xml",
                 "/laughs.xml"]
        return [{"name": p.strip("/"), "url": self.url(p)} for p in paths]

    def publish(self, k: int) -> None:
        for f, path in enumerate(self.good):
            art = f"/a/{f}/{k}"
            if (f, k) == (0, 0):
                self._flaky(art, 503, {})
            elif (f, k) == (1, 1):
                self._flaky(art, 429, {"Retry-After": "1200"})
            else:
                self.srv.static(art, self.pages[(3 * k + f) % len(self.pages)],
                                "text/html; charset=utf-8")
            self.good[path].insert(0, {"title": f"Syria report {f}-{k}", "link": self.url(art),
                                       "description": "Families of detainees wait.",
                                       "pubDate": formatdate(1900000000 + k * 1800,
                                                             usegmt=True)})
            self.published.add(self.url(art))
            items = list(self.good[path])
            if f == 2:      # hostile pages inside a good feed
                items += [{"title": "Syria bomb", "link": self.url("/a/bomb")},
                          {"title": "Syria garbage", "link": self.url("/a/garbage")},
                          {"title": "Syria hung", "link": self.url("/a/hung")}]
            self.srv.static(path, rss(f"Good {f}", items).encode(), "application/rss+xml",
                            etag=f'"{path}-{k}"')

    def _flaky(self, path: str, status: int, headers: dict) -> None:
        body = self.pages[len(self._flaky_calls) % len(self.pages)]
        self._flaky_calls[path] = 0

        def handler(req, reply):
            self._flaky_calls[path] += 1
            if self._flaky_calls[path] == 1:
                reply.send(status, b"busy", {"Content-Type": "text/plain", **headers})
            else:
                reply.send(200, body, {"Content-Type": "text/html; charset=utf-8"})
        self.srv.route(path, handler)

    def _hostile(self) -> None:
        srv = self.srv
        srv.static("/page.html", b'<!DOCTYPE html><html><head><link rel="alternate" type='
                   b'"application/rss+xml" href="http://[::1"></head><body>x</body></html>',
                   "text/html")
        srv.static("/badlink.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
                   b'B</title><item><title>Syria</title><link>http://[::1</link></item>'
                   b'</channel></rss>', "application/rss+xml")
        srv.static("/binary.xml", os.urandom(200_000), "application/rss+xml")
        srv.static("/laughs.xml", BILLION_LAUGHS, "application/rss+xml")
        srv.gzip_bomb("/a/bomb", 200_000_000)
        srv.static("/a/garbage", os.urandom(300_000) + b"\x00" * 1000, "text/html")
        srv.stall("/a/hung")

    def _big(self, n: int) -> None:
        page = page_around("Prison records", ["Detainees' families read the records."] * 3)
        for i in range(n):
            self.srv.static(f"/big/{i}", page.replace("records.", f"records {i}.").encode(),
                            "text/html")
        items = [{"title": f"Syria {i}", "link": self.url(f"/big/{i}"),
                  "pubDate": formatdate(1800000000 + i, usegmt=True)} for i in range(n)]
        body = rss("Big", items).encode()
        print(f"big feed: {n} entries, {len(body) / 1e6:.1f} MB")
        self.srv.static("/big.xml", body, "application/rss+xml", etag='"big"')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--big", type=int, default=20000)
    ap.add_argument("--parse-in-loop", action="store_true",
                    help="the baseline: feeds parsed in the event loop's thread, as before")
    args = ap.parse_args()
    if args.parse_in_loop:
        from pipeline import cycle, feeds

        async def parse_in_loop(self, feed, res):
            return feeds.parse_feed(res.body, feed_name=feed.name, feed_url=feed.url,
                                    content_type=res.content_type, charset=res.charset)
        cycle._Cycle._parse = parse_in_loop
    problems: list[str] = []
    with FaultServer() as srv, tempfile.TemporaryDirectory() as tmp:
        web = SoakWeb(srv, args.big)
        env = {"DATABASE_URL": f"sqlite:///{tmp}/data/newswatch.db",
               "NEWSWATCH_OUTPUT_DIR": f"{tmp}/output"}
        web.publish(0)
        cfg = write_config(Path(tmp), web.feeds(), network={"deadline": 5})
        settings = load_settings(cfg, env=env)
        store = storage.open_store(settings.database_url)
        pipeline = open_pipeline(settings, store)
        began, lag = time.monotonic(), LoopLag()
        try:
            for k in range(args.cycles):
                if k:
                    web.publish(k)
                now = T0 + timedelta(minutes=30 * k)
                t = time.monotonic()
                summary = run_cycle(pipeline, now=now)
                print(f"{k + 1:2d} {time.monotonic() - t:6.1f}s  loop lag {lag.take() * 1000:4.0f} ms"
                      f"  {summary.line()}")
                problems += check(store, settings, web, summary.finished_at, k)
        finally:
            pipeline.close()
        total = time.monotonic() - began
        items = storage_helpers.count_items(store)
        print(f"{args.cycles} cycles in {total:.1f}s; {items} items stored, "
              f"{storage.count_pending_articles(store)} still pending; "
              f"{len(web.published)} good items published")
        store.close()
    for p in problems:
        print("PROBLEM:", p)
    print("all invariants held" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


def check(store, settings, web: SoakWeb, finished: datetime, k: int) -> list[str]:
    problems = []
    rows = {i.url: i for i in storage.all_items(store)}
    retried = {web.url("/a/0/0"), web.url("/a/1/1")}
    waiting = {u for u in retried if u not in rows}
    # a retried page comes back within its backoff: 600 s (the 503), 1200 s (the 429)
    missing = web.published - set(rows) - (waiting if k < 2 else set())
    if missing:
        problems.append(f"cycle {k + 1}: good items not stored: {sorted(missing)[:3]}")
    if storage_helpers.duplicate_url_count(store):
        problems.append(f"cycle {k + 1}: an entry URL stored twice")
    for url in retried - waiting:
        if rows[url].extraction != "page":
            problems.append(f"cycle {k + 1}: {url} stored from its summary, not its page")
    ok, reason = health(settings, store, now=finished + timedelta(seconds=1))
    if not ok:
        problems.append(f"cycle {k + 1}: {reason}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
