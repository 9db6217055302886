"""A flood: the whole pipeline's cold cycle against the benchmarks' news web
(``tests/benchweb.py``, run as its own process), then the quiet cycle, a whole
``newswatch once`` process, and the FLOOR the flood is compared to.

    .venv/bin/python bench/flood.py [--feeds 50 --per-feed 40 --latency 0.05] [--profile]

* FLOOD: ``run_cycle`` on a fresh database, every entry new.
* QUIET: a second ``run_cycle`` on the same Pipeline, nothing changed (304s).
* ONCE: ``newswatch once`` as a process, three times, nothing new.
* FLOOR: trafilatura alone on the same pages, one after another in this
  process, with the pipeline's ``extraction_options``, measured before and
  after the flood (this VM's speed drifts by 10-20% over minutes); also the
  same pages split over the cores.

Each figure is printed with the command that made it. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

# bench_common first: it puts the repository and tests/ on sys.path
from bench_common import (ROOT, Web, command, env_for, machine_line, say, web_arguments,
                          write_config)
import storage
from measure import CpuClock, Sections, floor, floor_pages, parallel_floor
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle


def flood(args) -> dict:
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
        pages = floor_pages(args)      # built once, off the clock
        floor_before = floor(pages, settings.extract)
        store = storage.open_store(settings.database_url)
        t = time.perf_counter()
        pipeline = open_pipeline(settings, store)
        out["open"] = time.perf_counter() - t
        cold(pipeline, web, args, out)
        quiet(pipeline, web, args, out)
        pipeline.close()
        store.close()
        once(web, tmp, cfg_path, out)
        web.close()                    # the floor runs on a machine with nothing else on it
        floors(pages, settings.extract, floor_before, args, out)
    finally:
        web.close()
    return out


def cold(pipeline, web: Web, args, out: dict) -> None:
    """The flood itself: every entry new."""
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
    say(command("flood.py", args.argv) + "   # FLOOD")
    print(f"  cold cycle, {out['articles']} new articles: {clock.wall:.2f}s = "
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


def quiet(pipeline, web: Web, args, out: dict) -> None:
    """The same Pipeline again, nothing changed on the web."""
    web.ctl("reset")
    with CpuClock(web) as q:
        s2 = run_cycle(pipeline)
    st = web.ctl("stats")
    out.update(quiet=q.wall, quiet_requests=st["requests"], quiet_bytes=st["bytes"],
               quiet_304=st["feed_304"], quiet_articles=st["article_200"])
    say(command("flood.py", args.argv) + "   # QUIET")
    print(f"  second run_cycle on the same Pipeline: {q.wall * 1000:.0f} ms = "
          f"{q.wall / out['flood'] * 100:.2f}% of the flood (target < 1%)")
    print(f"  requests {st['requests']} ({st['feed_304']} feeds 304, {st['feed_200']} feeds "
          f"200, {st['article_200']} articles), body bytes {st['bytes']}; main CPU "
          f"{q.main * 1000:.0f} ms")
    print(f"  {s2.line()}")


def once(web: Web, tmp: Path, cfg_path: Path, out: dict) -> None:
    """A whole ``newswatch once`` process, three times, on the flooded database."""
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


def floors(pages, extract_cfg, floor_before: float, args, out: dict) -> None:
    """trafilatura alone on the same pages: one process, then one per core."""
    n_articles = out["articles"]
    floor_after = floor(pages, extract_cfg)
    out["floor"] = (floor_before + floor_after) / 2
    out["ratio"] = ratio = out["flood"] / out["floor"]
    say(command("flood.py", args.argv) + "   # FLOOR")
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
    out["parallel_floor"] = parallel_floor(pages, extract_cfg, cores)
    print(f"  the same pages split over {cores} processes at once (no fetching, no "
          f"pipeline): {out['parallel_floor']:.2f}s = "
          f"{out['parallel_floor'] / out['floor']:.3f} x floor: the best any pipeline can do "
          f"here; flood / that = {out['flood'] / out['parallel_floor']:.3f}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web_arguments(ap)
    ap.add_argument("--profile", action="store_true", help="cProfile the flood's main process")
    args = ap.parse_args(argv)
    args.argv = argv
    print(machine_line())
    flood(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
