"""Measuring for the pipeline benchmark: process-tree memory, CPU clocks,
per-section CPU in the main process, and the extraction floors (trafilatura
alone, in one process and split over the cores) that the flood is compared to."""

from __future__ import annotations

import functools
import threading
import time
from typing import TYPE_CHECKING

import psutil

from pipeline import cycle as cycle_mod
from pipeline import pages as pages_mod

if TYPE_CHECKING:
    from bench_common import Web


def _service_tree(skip: set[int]) -> list[psutil.Process]:
    """This process and its descendants (forkserver, extraction workers), less
    ``skip``: the bench's own news-web server is a child too, and not the service."""
    me = psutil.Process()
    return [me] + [c for c in me.children(recursive=True) if c.pid not in skip]


def tree_rss(skip: set[int] = frozenset()) -> float:
    """RSS in MB of the service process and its workers."""
    total = 0
    for q in _service_tree(set(skip)):
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def main_rss() -> float:
    """RSS in MB of this process alone (the service: event loop, indexes, database)."""
    return psutil.Process().memory_info().rss / 2**20


def children_pss(skip: set[int] = frozenset()) -> tuple[float, int]:
    """PSS in MB of the forkserver and extraction workers (shared pages counted
    once; RSS would count the pages they share with the forkserver once per
    worker), and how many processes that is."""
    total, n = 0, 0
    for q in _service_tree(set(skip))[1:]:
        try:
            total += q.memory_full_info().pss
            n += 1
        except psutil.Error:
            pass
    return total / 2**20, n


class CpuClock:
    """Wall, this process's CPU, the web server's CPU and the machine's busy CPU."""

    def __init__(self, web: Web | None):
        self.web = web

    def _sample(self) -> None:
        server = self.web.proc.pid if self.web else None
        me = psutil.Process()
        for q in me.children(recursive=True):
            if q.pid == server:        # the news web's CPU is counted on its own
                continue
            try:
                t = q.cpu_times()
                self.kids[q.pid] = t.user + t.system
                # the forkserver is this process's child; the workers are its children
                if q.ppid() == me.pid and "forkserver" in " ".join(q.cmdline()):
                    self.forkservers.add(q.pid)
            except psutil.Error:
                pass

    def _sampler(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def __enter__(self):
        self.kids: dict[int, float] = {}
        self.forkservers: set[int] = set()
        self._sample()
        self.kids0 = dict(self.kids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sampler, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        self.main0 = time.process_time()
        self.web0 = self.web.cpu() if self.web else 0.0
        self.sys0 = psutil.cpu_times()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.main = time.process_time() - self.main0
        self._stop.set()
        self._thread.join()
        self._sample()
        self.workers = sum(v - self.kids0.get(pid, 0.0) for pid, v in self.kids.items())
        self.forkserver = sum(self.kids[p] - self.kids0.get(p, 0.0) for p in self.forkservers)
        self.server = (self.web.cpu() - self.web0) if self.web else 0.0
        s1 = psutil.cpu_times()
        busy = lambda t: t.user + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) \
            + t.nice
        self.busy = busy(s1) - busy(self.sys0)

    def line(self) -> str:
        other = max(0.0, self.busy - self.main - self.server - self.workers)
        return (f"wall {self.wall:.2f}s; CPU: main process {self.main:.2f}s, extraction "
                f"workers {self.workers:.2f}s (sampled every 0.1s; of which their forkserver's "
                f"imports and warm-up {self.forkserver:.2f}s), news-web server "
                f"{self.server:.2f}s, anything else on the machine {other:.2f}s; "
                f"cores busy {self.busy / self.wall:.2f} of {psutil.cpu_count()}")


class Sections:
    """CPU time (thread_time) spent in named synchronous calls of the main process."""

    TARGETS = [("feeds", "parse_feed"), ("storage", "seen_urls"),
               ("storage", "original_for_canonical"), ("storage", "save_feed_batch"),
               ("dedupe", "canonical_url")]

    def __init__(self):
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo = []

    def __enter__(self):
        for modname, name in self.TARGETS:
            mod = getattr(cycle_mod, modname)
            self._wrap(mod, name, f"{modname}.{name}")
        self._wrap(cycle_mod._Cycle, "decide", "cycle.decide (index lookups)")
        # the pages that gave nothing are judged here, in the event loop's process
        self._wrap(pages_mod, "judge_page", "verdict.judge_page (entry fallbacks)")
        self._wrap(cycle_mod.storage, "record_cycle", "storage.record_cycle")
        return self

    def _wrap(self, owner, name, label):
        orig = getattr(owner, name)
        sec = self

        @functools.wraps(orig)
        def timed(*a, **kw):
            t = time.thread_time()
            try:
                return orig(*a, **kw)
            finally:
                sec.cpu[label] = sec.cpu.get(label, 0.0) + time.thread_time() - t
                sec.calls[label] = sec.calls.get(label, 0) + 1

        setattr(owner, name, timed)
        self._undo.append((owner, name, orig))

    def __exit__(self, *exc):
        for owner, name, orig in reversed(self._undo):
            setattr(owner, name, orig)

    def report(self, main_cpu: float) -> None:
        print("  main-process CPU by section (thread CPU time):")
        for label, secs in sorted(self.cpu.items(), key=lambda kv: -kv[1]):
            print(f"    {label:48s} {secs:7.2f}s  ({self.calls[label]} calls)")
        inner = sum(self.cpu.values())
        print(f"    {'rest: event loop, httpx, pool IPC, start-up':48s} "
              f"{max(0.0, main_cpu - inner):7.2f}s")


def floor_pages(args) -> list[tuple[bytes, str]]:
    """The flood's pages (body, URL) as the news web serves them, built off the clock."""
    from benchweb import Site

    site = Site(n_feeds=args.feeds, per_feed=args.per_feed, dup_share=args.dup_share)
    live = [g for items in site.feed_items for g in items]
    return [(site.article_body(g), f"http://127.0.0.1/news/{site.articles[g].feed}/{g}-story")
            for g in live]


def _extract_share(job) -> float:
    """Seconds trafilatura alone takes for these pages, one after another, warmed
    up the way the pipeline's workers are (``pipeline.worker``: dateparser's
    locales and trafilatura's lazy tables loaded before the clock starts)."""
    import trafilatura

    import pipeline.worker  # noqa: F401  (warms up on import)

    bodies, opts = job
    trafilatura.bare_extraction(bodies[0][0], url=bodies[0][1], **opts)
    t = time.perf_counter()
    for body, url in bodies:
        trafilatura.bare_extraction(body, url=url, **opts)
    return time.perf_counter() - t


def floor(bodies: list[tuple[bytes, str]], extract_cfg) -> float:
    """The floor: the flood's pages (``floor_pages``) extracted one after another
    in this process, with the pipeline's own trafilatura settings."""
    from pipeline.extract import extraction_options

    return _extract_share((bodies, extraction_options(extract_cfg)))


def parallel_floor(bodies: list[tuple[bytes, str]], extract_cfg, cores: int) -> float:
    """Wall time of the floor's pages split over ``cores`` processes running at
    once: on shared vCPUs two extractions at a time are not twice as fast, and
    this says by how much (the longest share is the wall time)."""
    from concurrent.futures import ProcessPoolExecutor

    from pipeline.extract import extraction_options

    opts = extraction_options(extract_cfg)
    shares = [(bodies[i::cores], opts) for i in range(cores)]
    with ProcessPoolExecutor(cores) as ex:
        return max(ex.map(_extract_share, shares))
