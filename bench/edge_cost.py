"""What making outside text safe costs, against the work it sits next to.

    .venv/bin/python bench/edge_cost.py

Same run, same data, interleaved (this VM's speed drifts by 10-20% within
minutes, so every figure is a ratio to a baseline measured alongside it):

* pages: the 181 real pages of the extraction benchmark (../shared copy, else
  tests/fixtures/articles): ``repair_character_references`` on the page bytes plus
  ``clean_external_text`` and ``cap_text`` on the extracted text, against
  trafilatura's extraction of the same page;
* feeds: the replay's 1,645 real entries written back into RSS documents of 40
  entries: ``parse_feed`` (repair, cleaning, caps, date bounds) against
  ``feedparser.parse`` alone on the same bytes;
* hostile text: ``clean_external_text`` on the pages' extracted text with an
  escape sequence, CRLF line ends and a lone surrogate in each (the slow path).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import trafilatura  # noqa: E402

from pipeline.config import ExtractConfig  # noqa: E402
from pipeline.extract import extraction_options  # noqa: E402
from pipeline.feeds import parse_feed  # noqa: E402
from pipeline.sanitize import (cap_text, clean_external_text,  # noqa: E402
                               repair_character_references)

SHARED = ROOT.parent / "shared" / "data"
ROUNDS = 3


def pages() -> list[bytes]:
    folder = SHARED / "article-extraction-benchmark" / "html"
    if not folder.exists():
        folder = ROOT / "tests" / "fixtures" / "articles"
    return [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.html.gz"))]


def feeds() -> list[bytes]:
    path = SHARED / "replay" / "entries.jsonl"
    if not path.exists():
        path = ROOT / "tests" / "fixtures" / "replay" / "entries.jsonl"
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    out = []
    for start in range(0, len(rows), 40):
        items = "".join(
            f"<item><link>{escape(e['link'])}</link><title>{escape(e.get('title') or '')}</title>"
            f"<description>{escape(e.get('description') or '')}</description>"
            f"<pubDate>Thu, 05 Dec 2024 03:45:29 GMT</pubDate></item>"
            for e in rows[start:start + 40])
        out.append(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                   f"<title>replay</title>{items}</channel></rss>".encode())
    return out


def clock(work) -> float:
    began = time.process_time()
    work()
    return time.process_time() - began


def main() -> None:
    html, opts = pages(), extraction_options(ExtractConfig())
    texts = [getattr(trafilatura.bare_extraction(h, **opts), "text", "") or "" for h in html]
    hostile = ["\x1b[31m" + t.replace("\n", "\r\n") + "\ud800" for t in texts]
    bodies = feeds()
    edge = extract = parse = bare = slow = 0.0
    for _ in range(ROUNDS):
        extract += clock(lambda: [trafilatura.bare_extraction(h, **opts) for h in html])
        edge += clock(lambda: [(repair_character_references(h), cap_text(
            clean_external_text(t), 200_000)) for h, t in zip(html, texts)])
        slow += clock(lambda: [clean_external_text(t) for t in hostile])
        bare += clock(lambda: [feedparser.parse(b) for b in bodies])
        parse += clock(lambda: [parse_feed(b, feed_name="r", feed_url="https://r.example/")
                                for b in bodies])
    n_pages, n_feeds = len(html) * ROUNDS, len(bodies) * ROUNDS
    print(f"pages  {len(html)}: extraction {extract / n_pages * 1000:.2f} ms/page, "
          f"repair + clean + cap {edge / n_pages * 1000:.3f} ms/page "
          f"= {edge / extract:.2%} of extraction")
    print(f"       hostile text (escapes, CRLF, a surrogate): {slow / n_pages * 1000:.3f} ms/page "
          f"= {slow / extract:.2%} of extraction")
    print(f"feeds  {len(bodies)} of 40 entries: feedparser alone {bare / n_feeds * 1000:.2f} ms, "
          f"parse_feed {parse / n_feeds * 1000:.2f} ms/feed = {parse / bare:.2f} x feedparser")


if __name__ == "__main__":
    main()
