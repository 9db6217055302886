"""A trickle: how a cycle with a few new entries costs as the archive grows
(history independence), against the benchmarks' news web (``tests/benchweb.py``).

    .venv/bin/python bench/trickle.py [--stored 2000,20000 --share 0.01 --repeat 3]

For each archive size: a fresh database holding that many stored items with
real fingerprints (what the feeds show now, plus older ones), a first cycle
that reads every feed once, one warm-up cycle, then ``--repeat`` cycles with
``--share`` of the entries new; the median wall and main-process CPU are
printed, and their ratio between the two sizes (1.0 = independent of history).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

# bench_common first: it puts the repository and tests/ on sys.path
from bench_common import Web, command, env_for, machine_line, say, web_arguments, write_config
import storage
from extract_quality import _extract
from measure import CpuClock
from newsweb import load_pages
from pipeline import dedupe, feeds
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle
from pipeline.records import Article, FeedEntry, FeedState, ItemOutcome
from storage_helpers import count_items

_EVERY4 = re.compile(r"\w+(?:\W+\w+){3}")


def history_texts() -> list[str]:
    """The benchmark pages' article texts, as the pipeline extracts them (cached
    in the temporary folder: ~10 s to make)."""
    cache = Path(tempfile.gettempdir()) / "nwbench-texts.json"
    if cache.exists():
        return json.loads(cache.read_text())
    ids, pages, _, _ = load_pages()
    with ProcessPoolExecutor(2) as ex:
        texts = [t for t, _ in ex.map(_extract, [(p, "http://x/" + i) for i, p in
                                                 zip(ids, pages)], chunksize=4)]
    cache.write_text(json.dumps(texts))
    return texts


def _live_entries(web: Web) -> list[tuple[int, str, str]]:
    """(feed, link, title) of every entry the feeds show now, read through the feed stage."""
    live = []
    for f, url in enumerate(web.config["feeds"]):
        with urllib.request.urlopen(url) as r:
            parsed = feeds.parse_feed(r.read(), feed_name=f"Bench {f}", feed_url=url,
                                      content_type=r.headers.get_content_type())
        live += [(f, e.link, e.title) for e in parsed.entries]
    return live


def populate(store, settings, web: Web, extra: int, texts: list[str]) -> float:
    """Store every article the feeds show now (as the flood would have), plus
    ``extra`` older ones, as "new" items with real fingerprints."""
    t = time.perf_counter()
    now = datetime.now(timezone.utc)
    urls = web.config["feeds"]
    items = _live_entries(web)
    base = web.config["hosts"][0]
    items += [(k % len(urls), f"{base}/archive/{k}-old", f"Archived story {k}")
              for k in range(extra)]
    outcomes = []
    for k, (f, link, title) in enumerate(items):
        token = f" zh{k}"
        text = _EVERY4.sub(lambda m: m.group(0) + token, texts[k % len(texts)])
        fp = dedupe.fingerprint(text, settings.dedupe)
        entry = FeedEntry(feed_name=f"Bench {f}", feed_url=urls[f], link=link, title=title,
                          summary=text[:300],
                          published=datetime.fromtimestamp(1733700000 + k * 30, timezone.utc))
        outcomes.append(ItemOutcome(entry=entry, canonical_url=dedupe.canonical_url(link),
                                    status="new", fetched_at=now, title=title,
                                    article=Article(url=link, title=title, text=text),
                                    fingerprint=fp.to_bytes() if fp else None))
        if len(outcomes) == 1000:
            storage.save_feed_batch(store, FeedState(url="bench:history"), outcomes)
            outcomes = []
    if outcomes:
        storage.save_feed_batch(store, FeedState(url="bench:history"), outcomes)
    return time.perf_counter() - t


def one_size(size: int, web: Web, texts: list[str], args) -> dict:
    visible = args.feeds * args.per_feed
    new_per = max(1, round(visible * args.share))
    tmp = Path(tempfile.mkdtemp(prefix="nwbench-trickle-"))
    settings = load_settings(write_config(tmp, web), env=env_for(tmp))
    store = storage.open_store(settings.database_url)
    fill = populate(store, settings, web, max(0, size - visible), texts)
    t = time.perf_counter()
    pipeline = open_pipeline(settings, store)
    pipeline.archive.load()      # the first decision would pay it; timed here instead
    opened = time.perf_counter() - t
    walls, cpus, fetched = [], [], []
    try:
        t = time.perf_counter()
        run_cycle(pipeline)              # feeds fetched once: validators stored
        catchup = time.perf_counter() - t
        web.publish(new_per)
        run_cycle(pipeline)              # warm-up: the pool starts its workers
        for _ in range(args.repeat):
            web.publish(new_per)
            web.ctl("reset")
            with CpuClock(web) as c:
                s = run_cycle(pipeline)
            walls.append(c.wall)
            cpus.append(c.main)
            fetched.append(web.ctl("stats")["article_200"])
    finally:
        pipeline.close()
    n = count_items(store)
    store.close()
    say(command("trickle.py", args.argv) + f"   # TRICKLE, {size} stored")
    print(f"  {n} items stored ({fill:.1f}s to store the history); open_pipeline "
          f"{opened:.2f}s; first cycle (all feeds re-read, nothing new) {catchup:.2f}s")
    print(f"  {new_per} new of {visible} entries ({args.share:.0%}), median of "
          f"{args.repeat}: {statistics.median(walls) * 1000:.0f} ms wall, main CPU "
          f"{statistics.median(cpus) * 1000:.0f} ms; articles fetched per cycle {fetched}")
    print(f"  {s.line()}")
    return dict(wall=statistics.median(walls), cpu=statistics.median(cpus), stored=n,
                fetched=fetched, open=opened, fill=fill, catchup=catchup, line=s.line())


def trickle(args) -> dict:
    sizes = [int(x) for x in args.stored.split(",")]
    web = Web(feeds=args.feeds, per_feed=args.per_feed, latency=args.latency,
              dup_share=args.dup_share)
    texts = history_texts()
    try:
        results = {size: one_size(size, web, texts, args) for size in sizes}
    finally:
        web.close()
    if len(sizes) == 2:
        a, b = (results[x] for x in sizes)
        print(f"\n  trickle wall {sizes[1]} / {sizes[0]} stored = {b['wall'] / a['wall']:.2f}"
              f"; main CPU ratio {b['cpu'] / a['cpu']:.2f} (1.0 = independent of history)")
    return results


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web_arguments(ap)
    ap.add_argument("--stored", default="2000,20000")
    ap.add_argument("--share", type=float, default=0.01, help="share of entries new per cycle")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    args.argv = argv
    print(machine_line())
    trickle(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
