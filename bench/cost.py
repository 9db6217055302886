"""What a whole ``newswatch once`` costs, against trafilatura alone in the same run.

    .venv/bin/python bench/cost.py [--flood-pages 360 --mix-entries 900] [--profile]

* FLOOD: every page on topic (a topic of common words), the shipped alerts and
  people. A whole ``newswatch once`` process on a fresh database (process start,
  forkserver warm-up and workers included): CPU of every process of it per
  article, against trafilatura's CPU per page alone in this process; wall time
  against the one-process floor (trafilatura alone, the pages one after another).
* MIX: the replay's real feed entries (titles and summaries, about 3% about the
  topic) linking to the extraction benchmark's real pages, the shipped config.
  Total CPU of ``newswatch once`` with the pre-filter against trafilatura alone
  over all the pages; run again with ``extract.prefilter: false`` on a fresh
  database, and the kept sets (new and updated items) compared.

The news web runs in this process (threads), so its CPU is not the service's;
the service's CPU is measured from its process tree, every descendant reaped
here (this process is made their subreaper). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import ctypes
import html
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psutil
import yaml

from bench_common import ROOT, command, machine_line, say   # puts tests/ on sys.path
import storage
from benchweb import Site, start_benchweb
from pipeline.config import ExtractConfig
from pipeline.extract import extraction_options

EVERY_PAGE = {"any": ["the", "a", "and", "of", "to", "in", "is", "on"]}
REPLAY = ROOT / "tests" / "fixtures" / "replay" / "entries.jsonl"
KEPT = ("new", "update")


def _subreaper() -> None:
    """Orphaned descendants (the forkserver, workers) come back to this process,
    so that their CPU is counted when they are reaped (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:          # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _reap_all() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kids = psutil.Process().children()
        if not kids:
            return
        for k in kids:
            try:
                os.waitpid(k.pid, 0)
            except ChildProcessError:
                pass


def _watch_main(proc: subprocess.Popen) -> float:
    """The CPU of the main process alone (the last look before it ended: 50 ms
    apart), to tell it from the forkserver's and the workers'."""
    ps, last = psutil.Process(proc.pid), 0.0
    while proc.poll() is None:
        try:
            t = ps.cpu_times()
            last = t.user + t.system
        except psutil.Error:
            break
        time.sleep(0.05)
    return last


def _config(folder: Path, feeds: list[str], topic, prefilter: bool) -> Path:
    shipped = yaml.safe_load((ROOT / "config" / "watch.yaml").read_text("utf-8"))
    doc = {"feeds": [{"name": f"Bench {i}", "url": u} for i, u in enumerate(feeds)],
           "topic": topic or shipped["topic"], "alerts": shipped["alerts"],
           "people": shipped.get("people", []), "variants": shipped.get("variants", {}),
           "network": {"allow_private_addresses": True, "max_new_articles_per_feed": 10_000},
           "extract": {"prefilter": prefilter}, "seeds_dir": str(ROOT / "seeds"),
           "timezone": "UTC"}
    path = folder / "watch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def run_once(feeds: list[str], topic, prefilter: bool, profile: bool = False) -> dict:
    """A whole ``newswatch once`` on a fresh database: wall, CPU of its tree, kept URLs."""
    tmp = Path(tempfile.mkdtemp(prefix="nwcost-"))
    cfg = _config(tmp, feeds, topic, prefilter)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'newswatch.db'}",
           "NEWSWATCH_OUTPUT_DIR": str(tmp / "output")}
    cmd = [str(ROOT / ".venv" / "bin" / "newswatch"), "once", "--config", str(cfg)]
    if profile:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(tmp / "main.prof"),
               "-m", "pipeline", "once", "--config", str(cfg)]
    cpu0, t = _children_cpu(), time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp)
    main_cpu = _watch_main(proc)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    r = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    _reap_all()
    cpu = _children_cpu() - cpu0
    if r.returncode != 0:
        raise SystemExit(f"newswatch once failed ({r.returncode}): {r.stderr[-2000:]}")
    store = storage.open_store(env["DATABASE_URL"])
    items = list(storage.all_items(store))
    kept = {i.url for i in items if i.status in KEPT}
    out = {"wall": wall, "cpu": cpu, "main_cpu": main_cpu, "kept": kept, "items": len(items),
           "line": r.stdout.strip().splitlines()[-1:] or [r.stderr.strip()[-300:]]}
    if profile:
        out["profile"] = tmp / "main.prof"
    return out


def floor(bodies: list[tuple[bytes, str]]) -> tuple[float, float]:
    """trafilatura alone on the pages, one after another here: (wall, CPU) seconds."""
    import trafilatura

    import pipeline.worker  # noqa: F401  (warmed up the way the workers are)

    opts = extraction_options(ExtractConfig())
    trafilatura.bare_extraction(bodies[0][0], url=bodies[0][1], **opts)
    t, c = time.perf_counter(), time.process_time()
    for body, url in bodies:
        trafilatura.bare_extraction(body, url=url, **opts)
    return time.perf_counter() - t, time.process_time() - c


class ReplaySite(Site):
    """The replay's entries on the benchmark's pages: each page is given its
    entry's headline (title, og:title, h1) and a first paragraph, the entry's
    summary, so that a page is about what its entry says (3% about the topic)."""

    def article_body(self, g: int) -> bytes:
        a, body = self.articles[g], super().article_body(g)
        head, para = html.escape(a.title).encode(), html.escape(a.summary).encode()
        body = _TITLE.sub(b"<title>" + head + b"</title>", body, 1)
        body = _OG.sub(b"", body)
        return _FIRST_P.sub(b"<h1>" + head + b"</h1><p>" + para + b"</p>\\g<0>", body, 1)


_TITLE = re.compile(rb"<title[^>]*>.*?</title>", re.I | re.S)
_OG = re.compile(rb"<meta[^>]+property=[\"']og:title[\"'][^>]*>", re.I)
_FIRST_P = re.compile(rb"<p[ >]", re.I)


def _site(pages: int, per_feed: int, replay: bool) -> Site:
    feeds = max(1, pages // per_feed)
    site = (ReplaySite if replay else Site)(n_feeds=feeds, per_feed=per_feed, dup_share=0.05)
    if replay:
        entries = [json.loads(line) for line in REPLAY.read_text("utf-8").splitlines()]
        n = len(site.articles)
        for a in site.articles:     # spread over the whole replay: every feed, every day
            e = entries[(a.g * len(entries) // n) % len(entries)]
            site.articles[a.g] = replace(a, title=e["title"].strip(),
                                         summary=e["description"] or "")
    return site


def _bodies(site: Site, hosts: list[str], web) -> list[tuple[bytes, str]]:
    return [(site.article_body(g), web.article_url(site.articles[g]))
            for items in site.feed_items for g in items]


def part(name: str, site: Site, topic, args, *, compare: bool) -> dict:
    gen = start_benchweb(site, hosts=4, latency=0.0)
    try:
        gen.prepare()
        feeds = [gen.feed_url(f) for f in range(site.n_feeds)]
        bodies = _bodies(site, gen.web.hosts, gen)
        f_wall, f_cpu = floor(bodies)
        on = run_once(feeds, topic, True, args.profile)
        out = {"pages": len(bodies), "floor_wall": f_wall, "floor_cpu": f_cpu, "on": on}
        if compare:
            out["off"] = run_once(feeds, topic, False)
        return out
    finally:
        gen.web.close()


def report_flood(r: dict, args) -> None:
    n, on = r["pages"], r["on"]
    say(command("cost.py", args.argv) + "   # FLOOD, every page on topic, whole process")
    print(f"  {n} pages; trafilatura alone here: {r['floor_cpu'] / n * 1000:.1f} ms CPU/page, "
          f"{r['floor_wall']:.1f}s wall (one process)")
    print(f"  newswatch once: {on['cpu']:.1f}s CPU all processes = {on['cpu'] / n * 1000:.1f} "
          f"ms/article ({on['main_cpu']:.1f}s of it the main process); {on['wall']:.1f}s wall; "
          f"kept {len(on['kept'])} of {on['items']} items")
    cpu_ratio, wall_ratio = on["cpu"] / r["floor_cpu"], on["wall"] / r["floor_wall"]
    print(f"  CPU per article / trafilatura CPU per page = {cpu_ratio:.2f}x (target <= 1.25: "
          f"{'MET' if cpu_ratio <= 1.25 else 'SHORT'})")
    print(f"  wall / one-process floor = {wall_ratio:.2f}x (target <= 0.70: "
          f"{'MET' if wall_ratio <= 0.70 else 'SHORT'})")
    print(f"  {on['line'][0]}")


def report_mix(r: dict, args) -> None:
    n, on, off = r["pages"], r["on"], r["off"]
    say(command("cost.py", args.argv) + "   # MIX, replay entries on real pages, shipped config")
    print(f"  {n} pages; trafilatura alone over all of them: {r['floor_cpu']:.1f}s CPU")
    ratio = on["cpu"] / r["floor_cpu"]
    print(f"  newswatch once, pre-filter on:  {on['cpu']:.1f}s CPU ({on['main_cpu']:.1f}s main "
          f"process), {on['wall']:.1f}s wall, "
          f"kept {len(on['kept'])} = {len(on['kept']) / n:.1%}")
    print(f"  newswatch once, pre-filter off: {off['cpu']:.1f}s CPU, {off['wall']:.1f}s wall, "
          f"kept {len(off['kept'])}")
    print(f"  total CPU / trafilatura = {ratio:.2f}x (target <= 0.35: "
          f"{'MET' if ratio <= 0.35 else 'SHORT'}); without the pre-filter "
          f"{off['cpu'] / r['floor_cpu']:.2f}x")
    same = on["kept"] == off["kept"]
    print(f"  kept set identical with and without the pre-filter: {same}"
          + ("" if same else f" (only with: {sorted(on['kept'] - off['kept'])[:5]}, only "
                             f"without: {sorted(off['kept'] - on['kept'])[:5]})"))


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flood-pages", type=int, default=360)
    ap.add_argument("--mix-entries", type=int, default=900)
    ap.add_argument("--per-feed", type=int, default=30)
    ap.add_argument("--only", choices=("flood", "mix"))
    ap.add_argument("--profile", action="store_true", help="cProfile the main process")
    args = ap.parse_args(argv)
    args.argv = argv
    _subreaper()
    print(machine_line())
    if args.only != "mix":
        r = part("flood", _site(args.flood_pages, args.per_feed, False), EVERY_PAGE, args,
                 compare=False)
        report_flood(r, args)
        if args.profile:
            import pstats
            pstats.Stats(str(r["on"]["profile"])).sort_stats("tottime").print_stats(30)
    if args.only != "flood":
        report_mix(part("mix", _site(args.mix_entries, args.per_feed, True), None, args,
                        compare=True), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
