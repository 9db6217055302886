"""Worker CPU per page of the extraction pool alone: no network, no event loop
busy beside it. Compare with the floor (trafilatura alone, one process) and
with the workers' CPU during a flood (bench/flood.py).

    .venv/bin/python bench/pool_cost.py [PAGES_PER_WORKER]

With a recycling interval, retired workers exit before the last CPU sample and
their CPU is not counted: compare wall times then, not CPU.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import DedupeConfig, ExtractConfig, load_settings  # noqa: E402
from pipeline.extract.pool import ExtractionPool, RuleSet  # noqa: E402

TASKS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000   # pages per worker before recycling
SHARED = ROOT.parent / "shared" / "data" / "article-extraction-benchmark" / "html"
FIXTURES = ROOT / "tests" / "fixtures" / "articles"


def children_cpu() -> float:
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def measure(pool: ExtractionPool, pages: list[bytes], rules: RuleSet | None
                  ) -> tuple[float, float]:
    cfg = DedupeConfig()
    await asyncio.gather(*(pool.extract(pages[0], "https://x.org/a", cfg) for _ in range(4)))
    cpu0, t0 = children_cpu(), time.perf_counter()
    await asyncio.gather(*(pool.extract(p, "https://x.org/a", cfg, rules) for p in pages))
    return time.perf_counter() - t0, children_cpu() - cpu0


def main() -> int:
    folder = SHARED if SHARED.exists() else FIXTURES
    print(f"pages from {folder}" + ("" if folder == SHARED else " (../shared not found)"))
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.html.gz"))] * 3
    settings = load_settings(ROOT / "config" / "watch.yaml")
    rules = RuleSet.of(settings.topic, settings.alerts)
    for label, with_rules in (("extract + fingerprint + rules", rules), ("extract + fingerprint", None)):
        pool = ExtractionPool(ExtractConfig(max_tasks_per_child=TASKS))
        try:
            wall, cpu = asyncio.run(measure(pool, pages, with_rules))
        finally:
            pool.close()
        print(f"{label}: {len(pages)} pages, wall {wall:.1f} s, worker CPU {cpu:.1f} s "
              f"({cpu / len(pages) * 1000:.1f} ms/page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
