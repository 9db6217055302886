"""Memory of the service over floods and quiet cycles, against the benchmarks'
news web (``tests/benchweb.py``).

    .venv/bin/python bench/memory.py [--floods 5 --quiet 200] [--quick]

One Pipeline, ``--floods`` floods of new URLs, ``--quiet`` quiet cycles spread
between them; RSS of the service process and its forkserver and extraction
workers (not the news web) sampled every 0.2 s. Printed: the peak and settled
RSS per flood, their slopes after the first flood, and the quiet cycles' slope.
``--quick``: 3 floods of 600 URLs and 60 quiet cycles.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

# bench_common first: it puts the repository and tests/ on sys.path
from bench_common import Web, command, env_for, machine_line, say, web_arguments, write_config
import storage
from measure import children_pss, main_rss, tree_rss
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle


class PeakSampler:
    """The largest RSS of the service's process tree since the last ``reset``."""

    def __init__(self, skip: set[int]):
        self.skip, self.peak = skip, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.skip))
            self._stop.wait(0.2)

    def reset(self) -> None:
        self.peak = 0.0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if len(xs) < 2:
        return float("nan")
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def run(args, flood_size: int) -> tuple[list, list, list, float]:
    """(floods: (index, peak during, RSS after, articles), quiets: (index, RSS
    after), mains: (index, service process RSS after), seconds)."""
    web = Web(feeds=args.feeds, per_feed=args.per_feed, latency=args.latency,
              dup_share=args.dup_share)
    skip = {web.proc.pid}      # the news web is the internet here, not part of the service
    tmp = Path(tempfile.mkdtemp(prefix="nwbench-mem-"))
    settings = load_settings(write_config(tmp, web), env=env_for(tmp))
    pipeline = open_pipeline(settings, storage.open_store(settings.database_url))
    sampler = PeakSampler(skip)
    floods, quiets, mains = [], [], []
    per_flood_quiet = args.quiet // args.floods
    t0 = time.perf_counter()
    try:
        for i in range(args.floods):
            if i:
                web.publish(flood_size)
            sampler.reset()
            s = run_cycle(pipeline)
            floods.append((i + 1, sampler.peak, tree_rss(skip), s.articles_fetched))
            mains.append((i + 1, main_rss()))
            workers_pss, n_procs = children_pss(skip)
            print(f"  flood {i + 1}: {s.articles_fetched} articles, peak RSS "
                  f"{sampler.peak:.0f} MB, after {floods[-1][2]:.0f} MB (service alone "
                  f"{mains[-1][1]:.0f} MB RSS, forkserver + workers {workers_pss:.0f} MB PSS "
                  f"in {n_procs} processes)", flush=True)
            for _ in range(per_flood_quiet):
                run_cycle(pipeline)
                quiets.append((len(quiets) + 1, tree_rss(skip)))
            print(f"    after {len(quiets)} quiet cycles: RSS {quiets[-1][1]:.0f} MB", flush=True)
    finally:
        sampler.stop()
        pipeline.close()
        pipeline.store.close()
        web.close()
    return floods, quiets, mains, time.perf_counter() - t0


def memory(args) -> dict:
    flood_size = 600 if args.quick else args.feeds * args.per_feed
    if args.quick:
        args.floods, args.quiet = 3, 60
    floods, quiets, mains, elapsed = run(args, flood_size)
    per_flood_quiet = args.quiet // args.floods
    peak_slope = slope([(f, p) for f, p, _, _ in floods[1:]])
    after_slope = slope([(f, a) for f, _, a, _ in floods[1:]])
    q_slope = slope(quiets[-per_flood_quiet:]) * 100   # after the last flood: quiet growth only
    q_all = slope(quiets[per_flood_quiet:]) * 100 if len(quiets) > per_flood_quiet \
        else float("nan")
    say(command("memory.py", args.argv) + "   # MEMORY")
    print(f"  {args.floods} floods of {flood_size} new URLs, {len(quiets)} quiet cycles, "
          f"{elapsed:.0f}s; RSS = service process + forkserver + extraction workers "
          f"(not the news web)")
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
    web_arguments(ap, latency=0.0)
    ap.add_argument("--floods", type=int, default=5)
    ap.add_argument("--quiet", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    args.argv = argv
    print(machine_line())
    memory(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
