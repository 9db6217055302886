"""Throughput, quiet-cycle cost, history independence and memory of the whole
pipeline against a local news web (bench/newsweb.py, run as its own process).

    .venv/bin/python bench/pipeline_bench.py flood   [--feeds 50 --per-feed 40 --latency 0.05]
    .venv/bin/python bench/pipeline_bench.py trickle [--stored 2000,20000 --latency 0.05]
    .venv/bin/python bench/pipeline_bench.py memory  [--floods 5 --quiet 200] [--quick]
    .venv/bin/python bench/pipeline_bench.py all     (flood, then trickle, then memory --quick)

``flood`` also runs the quiet cycle (a second run_cycle on the same Pipeline),
a whole ``newswatch once`` process, and the FLOOR: trafilatura alone on the
same pages, one after another in this process, with the pipeline's
``extraction_options``. Each figure is printed with the command that made it.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import psutil
import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from pipeline import cycle as cycle_mod  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.cycle import open_pipeline, run_cycle  # noqa: E402
from measure import (CpuClock, Sections, children_pss, floor, floor_pages,  # noqa: E402
                     main_rss, parallel_floor, tree_rss)

PY = sys.executable
# A topic that keeps a realistic share of general news (about a third of the
# benchmark's pages: politics, courts, police); the alert rules are the
# shipped config's (config/watch.yaml), so matching costs what it costs there.
BENCH_TOPIC = {"any": ["president*", "police", "court*", "elect*", "parliament*",
                       "prison*", "senat*", "minister*"]}


def say(cmd: str) -> None:
    print(f"\n$ {cmd}", flush=True)


# ------------------------------------------------------------------ news web

class Web:
    def __init__(self, *, feeds: int, per_feed: int, latency: float, hosts: int = 10,
                 dup_share: float = 0.05):
        self.args = ["--feeds", str(feeds), "--per-feed", str(per_feed), "--latency",
                     str(latency), "--hosts", str(hosts), "--dup-share", str(dup_share)]
        self.feeds, self.per_feed, self.dup_share = feeds, per_feed, dup_share
        t = time.perf_counter()
        self.proc = subprocess.Popen([PY, str(BENCH / "newsweb.py"), *self.args],
                                     stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.control, self.source = info["control"], info["source"]
        self.ps = psutil.Process(self.proc.pid)
        prep = self.ctl("prepare")
        self.config = self.ctl("config")
        self.setup_seconds = time.perf_counter() - t
        self.prepare_seconds = prep["seconds"]

    def ctl(self, what: str) -> dict:
        with urllib.request.urlopen(self.control + what, timeout=600) as r:
            return json.loads(r.read())

    def publish(self, n: int) -> None:
        self.ctl(f"publish?n={n}")
        self.ctl("prepare")
        self.config = self.ctl("config")

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def write_config(folder: Path, web: Web, *, topic=None) -> Path:
    shipped = yaml.safe_load((ROOT / "config" / "watch.yaml").read_text("utf-8"))
    doc = {
        "feeds": [{"name": f"Bench {i}", "url": u} for i, u in enumerate(web.config["feeds"])],
        "topic": topic or BENCH_TOPIC,
        "alerts": shipped["alerts"],
        "variants": shipped.get("variants", {}),
        "network": {"allow_private_addresses": True},
        "seeds_dir": str(ROOT / "seeds"),
        "timezone": "UTC",
    }
    path = folder / "watch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def env_for(folder: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{folder / 'newswatch.db'}",
            "NEWSWATCH_OUTPUT_DIR": str(folder / "output")}


# ------------------------------------------------------------------ flood / quiet / once

def cmd_flood(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="nwbench-"))
    web = Web(feeds=args.feeds, per_feed=args.per_feed, latency=args.latency,
              dup_share=args.dup_share)
    n_articles = args.feeds * args.per_feed
    print(f"news web: {args.feeds} feeds x {args.per_feed} entries = {n_articles} articles on "
          f"10 loopback hosts, latency {args.latency}s/request; pages from {web.source}; "
          f"bodies built off the clock in {web.prepare_seconds:.1f}s")
    cfg_path = write_config(tmp, web)
    settings = load_settings(cfg_path, env=env_for(tmp))
    out: dict = {"articles": n_articles}
    try:
        # the floor is measured before and after the flood: this VM's speed drifts by
        # 10-20% over minutes, as much as the differences being measured
        pages = floor_pages(args)      # built once, off the clock
        floor_before = floor(pages, settings.extract)
        store = storage.open_store(settings.database_url)
        t = time.perf_counter()
        pipeline = open_pipeline(settings, store)
        out["open"] = time.perf_counter() - t
        web.ctl("reset")
        prof = cProfile.Profile() if args.profile else None
        with Sections() as sections, CpuClock(web) as clock:
            if prof:
                prof.enable()
            s1 = run_cycle(pipeline)
            if prof:
                prof.disable()
        st = web.ctl("stats")
        out.update(flood=clock.wall, flood_main_cpu=clock.main, flood_server_cpu=clock.server,
                   flood_busy=clock.busy, summary=s1.line())
        say(f".venv/bin/python bench/pipeline_bench.py {' '.join(args.argv)}   # FLOOD")
        print(f"  cold cycle, {n_articles} new articles: {clock.wall:.2f}s = "
              f"{s1.articles_fetched / clock.wall:.1f} articles/s  (open_pipeline before it: "
              f"{out['open']:.2f}s)")
        print(f"  {clock.line()}")
        print(f"  {s1.line()}")
        print(f"  server saw {st['requests']} requests, {st['article_200']} article pages, "
              f"{st['bytes'] / 2**20:.1f} MB")
        sections.report(clock.main)
        if prof:
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
            print("\n".join(buf.getvalue().splitlines()[:45]))

        # quiet: the same Pipeline, nothing changed
        web.ctl("reset")
        with CpuClock(web) as q:
            s2 = run_cycle(pipeline)
        st = web.ctl("stats")
        out.update(quiet=q.wall, quiet_requests=st["requests"], quiet_bytes=st["bytes"],
                   quiet_304=st["feed_304"], quiet_articles=st["article_200"])
        say(f".venv/bin/python bench/pipeline_bench.py {' '.join(args.argv)}   # QUIET")
        print(f"  second run_cycle on the same Pipeline: {q.wall * 1000:.0f} ms = "
              f"{q.wall / clock.wall * 100:.2f}% of the flood (target < 1%)")
        print(f"  requests {st['requests']} ({st['feed_304']} feeds 304, {st['feed_200']} feeds "
              f"200, {st['article_200']} articles), body bytes {st['bytes']}; main CPU "
              f"{q.main * 1000:.0f} ms")
        print(f"  {s2.line()}")
        pipeline.close()
        store.close()

        # a whole `newswatch once` process
        web.ctl("reset")
        env = {**os.environ, **env_for(tmp)}
        cmd = [str(ROOT / ".venv" / "bin" / "newswatch"), "once", "--config", str(cfg_path)]
        times = []
        for _ in range(3):
            t = time.perf_counter()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
            times.append(time.perf_counter() - t)
        st = web.ctl("stats")
        out.update(once=min(times), once_all=times, once_requests=st["requests"] / 3)
        say(f"{shlex.join(cmd[:2]).replace(str(ROOT) + '/', '')} --config <bench config>"
            f"   # ONCE, whole process x3")
        print(f"  wall {', '.join(f'{t:.2f}s' for t in times)} (target < 3 s); "
              f"{st['requests'] // 3} requests each, {st['article_200']} articles, "
              f"{st['bytes'] // 3} body bytes each")
        print(f"  {r.stdout.strip() or r.stderr.strip()[-300:]}")

        # the floor: trafilatura alone, same pages, one after another
        web.close()
        floor_after = floor(pages, settings.extract)
        out["floor"] = (floor_before + floor_after) / 2
        ratio = out["flood"] / out["floor"]
        out["ratio"] = ratio
        say(f".venv/bin/python bench/pipeline_bench.py {' '.join(args.argv)}   # FLOOR")
        print(f"  trafilatura.bare_extraction alone, the same {n_articles} pages one after "
              f"another in one process (warmed up as the workers are): {floor_before:.2f}s "
              f"before the flood, {floor_after:.2f}s after; mean {out['floor']:.2f}s "
              f"({out['floor'] / n_articles * 1000:.1f} ms/page)")
        print(f"  flood / floor = {ratio:.3f}  (target <= 0.60: "
              f"{'MET' if ratio <= 0.6 else 'SHORT'}; against the floor before / after: "
              f"{out['flood'] / floor_before:.3f} / {out['flood'] / floor_after:.3f})")
        # what is physically possible on this machine: all CPU spent / cores
        cores = psutil.cpu_count()
        need = (out["floor"] + out["flood_main_cpu"] + out["flood_server_cpu"]) / cores
        print(f"  bound if every core were busy all the time: (floor + main CPU + server CPU) "
              f"/ {cores} cores = {need:.1f}s = {need / out['floor']:.3f} x floor")
        # what the cores really give: the same pages extracted by one process per core
        out["parallel_floor"] = parallel_floor(pages, settings.extract, cores)
        print(f"  the same pages split over {cores} processes at once (no fetching, no "
              f"pipeline): {out['parallel_floor']:.2f}s = "
              f"{out['parallel_floor'] / out['floor']:.3f} x floor: the best any pipeline can do "
              f"here; flood / that = {out['flood'] / out['parallel_floor']:.3f}")
    finally:
        if web.proc.poll() is None:
            web.close()
    return out


# ------------------------------------------------------------------ trickle

def _history_texts() -> list[str]:
    from newsweb import load_pages
    from extract_quality import _extract
    from concurrent.futures import ProcessPoolExecutor

    cache = Path(tempfile.gettempdir()) / "nwbench-texts.json"
    if cache.exists():
        return json.loads(cache.read_text())
    ids, pages, truth, _ = load_pages()
    with ProcessPoolExecutor(2) as ex:
        texts = [t for t, _ in ex.map(_extract, [(p, "http://x/" + i) for i, p in
                                                 zip(ids, pages)], chunksize=4)]
    cache.write_text(json.dumps(texts))
    return texts


_EVERY4 = re.compile(r"\w+(?:\W+\w+){3}")


def populate(store, settings, web: Web, extra: int, texts: list[str]) -> float:
    """Store every article the feeds show now (as the flood would have), plus
    ``extra`` older ones, as "new" items with real fingerprints."""
    from pipeline import dedupe
    from pipeline.records import Article, FeedEntry, FeedState, ItemOutcome

    t = time.perf_counter()
    now = datetime.now(timezone.utc)
    cfg = settings.dedupe
    feeds = web.config["feeds"]
    outcomes = []
    live = []
    # the links the feeds show now are read from the feeds themselves
    import feedparser
    for f, url in enumerate(feeds):
        with urllib.request.urlopen(url) as r:
            body = r.read()
        for e in feedparser.parse(body).entries:
            live.append((f, e.link, e.title))
    items = [(f, link, title) for f, link, title in live]
    base = web.config["hosts"][0]
    items += [(k % len(feeds), f"{base}/archive/{k}-old", f"Archived story {k}")
              for k in range(extra)]
    for k, (f, link, title) in enumerate(items):
        token = f" zh{k}"
        text = _EVERY4.sub(lambda m: m.group(0) + token, texts[k % len(texts)])
        fp = dedupe.fingerprint(text, cfg)
        entry = FeedEntry(feed_name=f"Bench {f}", feed_url=feeds[f], link=link, title=title,
                          summary=text[:300],
                          published=datetime.fromtimestamp(1733700000 + k * 30, timezone.utc))
        outcomes.append(ItemOutcome(entry=entry, canonical_url=dedupe.canonical_url(link),
                                    status="new", fetched_at=now,
                                    article=Article(url=link, title=title, text=text),
                                    fingerprint=fp.to_bytes() if fp else None))
        if len(outcomes) == 1000:
            storage.save_feed_batch(store, FeedState(url="bench:history"), outcomes)
            outcomes = []
    if outcomes:
        storage.save_feed_batch(store, FeedState(url="bench:history"), outcomes)
    return time.perf_counter() - t


def cmd_trickle(args) -> dict:
    sizes = [int(x) for x in args.stored.split(",")]
    web = Web(feeds=args.feeds, per_feed=args.per_feed, latency=args.latency,
              dup_share=args.dup_share)
    texts = _history_texts()
    visible = args.feeds * args.per_feed
    new_per = max(1, round(visible * args.share))
    results = {}
    try:
        for size in sizes:
            tmp = Path(tempfile.mkdtemp(prefix="nwbench-trickle-"))
            settings = load_settings(write_config(tmp, web), env=env_for(tmp))
            store = storage.open_store(settings.database_url)
            fill = populate(store, settings, web, max(0, size - visible), texts)
            t = time.perf_counter()
            pipeline = open_pipeline(settings, store)
            pipeline.archive.load()      # the first decision would pay it; timed here instead
            opened = time.perf_counter() - t
            try:
                t = time.perf_counter()
                run_cycle(pipeline)              # feeds fetched once: validators stored
                catchup = time.perf_counter() - t
                web.publish(new_per)
                run_cycle(pipeline)              # warm-up: the pool starts its workers
                walls, cpus, fetched = [], [], []
                for _ in range(args.repeat):
                    web.publish(new_per)
                    web.ctl("reset")
                    with CpuClock(web) as c:
                        s = run_cycle(pipeline)
                    st = web.ctl("stats")
                    walls.append(c.wall)
                    cpus.append(c.main)
                    fetched.append(st["article_200"])
            finally:
                pipeline.close()
            n = storage.count_items(store)
            store.close()
            results[size] = dict(wall=statistics.median(walls), cpu=statistics.median(cpus),
                                 stored=n, fetched=fetched, open=opened, fill=fill,
                                 catchup=catchup, line=s.line())
            say(f".venv/bin/python bench/pipeline_bench.py {' '.join(args.argv)}"
                f"   # TRICKLE, {size} stored")
            print(f"  {n} items stored ({fill:.1f}s to store the history); open_pipeline "
                  f"{opened:.2f}s; first cycle (all feeds re-read, nothing new) {catchup:.2f}s")
            print(f"  {new_per} new of {visible} entries ({args.share:.0%}), median of "
                  f"{args.repeat}: {statistics.median(walls) * 1000:.0f} ms wall, main CPU "
                  f"{statistics.median(cpus) * 1000:.0f} ms; articles fetched per cycle "
                  f"{fetched}")
            print(f"  {s.line()}")
        if len(sizes) == 2:
            a, b = (results[x] for x in sizes)
            print(f"\n  trickle wall {sizes[1]} / {sizes[0]} stored = {b['wall'] / a['wall']:.2f}"
                  f"; main CPU ratio {b['cpu'] / a['cpu']:.2f} (1.0 = independent of history)")
    finally:
        web.close()
    return results


# ------------------------------------------------------------------ memory

def cmd_memory(args) -> dict:
    if args.quick:
        args.floods, args.quiet, flood_size = 3, 60, 600
    else:
        flood_size = args.feeds * args.per_feed
    web = Web(feeds=args.feeds, per_feed=args.per_feed, latency=0.0, dup_share=args.dup_share)
    skip = {web.proc.pid}      # the news web is the internet here, not part of the service
    tmp = Path(tempfile.mkdtemp(prefix="nwbench-mem-"))
    settings = load_settings(write_config(tmp, web), env=env_for(tmp))
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    peak = [0.0]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss(skip))
            stop.wait(0.2)

    threading.Thread(target=sampler, daemon=True).start()
    floods, quiets = [], []      # (index, peak during, rss after)
    mains = []                   # (index, service process RSS after)
    per_flood_quiet = args.quiet // args.floods
    t0 = time.perf_counter()
    try:
        for i in range(args.floods):
            if i:
                web.publish(flood_size)
            peak[0] = 0.0
            s = run_cycle(pipeline)
            floods.append((i + 1, peak[0], tree_rss(skip), s.articles_fetched))
            mains.append((i + 1, main_rss()))
            workers_pss, n_procs = children_pss(skip)
            print(f"  flood {i + 1}: {s.articles_fetched} articles, peak RSS {peak[0]:.0f} MB, "
                  f"after {floods[-1][2]:.0f} MB (service alone {mains[-1][1]:.0f} MB RSS, "
                  f"forkserver + workers {workers_pss:.0f} MB PSS in {n_procs} processes)",
                  flush=True)
            for _ in range(per_flood_quiet):
                run_cycle(pipeline)
                quiets.append((len(quiets) + 1, tree_rss(skip)))
            print(f"    after {len(quiets)} quiet cycles: RSS {quiets[-1][1]:.0f} MB", flush=True)
    finally:
        stop.set()
        pipeline.close()
        web.close()
    elapsed = time.perf_counter() - t0

    def slope(points):
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if len(xs) < 2:
            return float("nan")
        mx, my = statistics.mean(xs), statistics.mean(ys)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)

    peak_slope = slope([(f, p) for f, p, _, _ in floods[1:]])
    after_slope = slope([(f, a) for f, _, a, _ in floods[1:]])
    # quiet cycles after the last flood: pure quiet growth
    last = quiets[-per_flood_quiet:]
    q_slope = slope(last) * 100
    q_all = slope([(q, r) for q, r in quiets[per_flood_quiet:]]) * 100 if len(quiets) > \
        per_flood_quiet else float("nan")
    say(f".venv/bin/python bench/pipeline_bench.py {' '.join(args.argv)}   # MEMORY")
    print(f"  {args.floods} floods of {flood_size} new URLs, {len(quiets)} quiet cycles, "
          f"{elapsed:.0f}s; RSS = service process + forkserver + extraction workers (not the news web)")
    print(f"  peak RSS per flood: {', '.join(f'{p:.0f}' for _, p, _, _ in floods)} MB; "
          f"after: {', '.join(f'{a:.0f}' for _, _, a, _ in floods)} MB")
    print(f"  slope after the first flood: peak {peak_slope:+.1f} MB/flood, settled "
          f"{after_slope:+.1f} MB/flood; quiet {q_slope:+.2f} MB per 100 quiet cycles "
          f"(last {per_flood_quiet}), {q_all:+.2f} MB/100 over all after flood 1 (incl. floods)")
    print(f"  the service process alone after each flood: "
          f"{', '.join(f'{m:.0f}' for _, m in mains)} MB RSS; slope after the first "
          f"{slope(mains[1:]):+.1f} MB/flood (its archive grows by {flood_size} items a flood)")
    return dict(floods=floods, quiet_slope=q_slope, peak_slope=peak_slope,
                after_slope=after_slope)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["flood", "trickle", "memory", "all"])
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--per-feed", type=int, default=40)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--dup-share", type=float, default=0.05)
    ap.add_argument("--profile", action="store_true", help="cProfile the flood's main process")
    ap.add_argument("--rules-in-main", action="store_true",
                    help="match topic/alert rules in the main process (before the change)")
    ap.add_argument("--stored", default="2000,20000")
    ap.add_argument("--share", type=float, default=0.01, help="trickle: share of entries new")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--floods", type=int, default=5)
    ap.add_argument("--quiet", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    args.argv = argv
    if args.rules_in_main:      # the cycle as it was: no RuleSet, so decide() judges
        cycle_mod.RuleSet.of = staticmethod(lambda *a, **k: None)
    print(f"# {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}")
    if args.what in ("flood", "all"):
        cmd_flood(args)
    if args.what in ("trickle", "all"):
        cmd_trickle(args)
    if args.what in ("memory", "all"):
        if args.what == "all":
            args.quick = True
        cmd_memory(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
