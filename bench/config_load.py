"""What reading the config costs: ``load_settings(config/watch.yaml)`` with
libyaml's loader (used when PyYAML has it) against the pure-Python one, and
the YAML parse alone, measured in the same run. The service re-reads the file
only when it changed; ``once``, ``check-config`` and ``test-rules`` read it
once per process.

    .venv/bin/python bench/config_load.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import config, safeyaml  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
WATCH = ROOT / "config" / "watch.yaml"


def median_ms(fn) -> float:
    fn()                                        # warm: imports, zoneinfo cache
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    fast, slow = safeyaml.LOADER, safeyaml._BoundedPyLoader
    print(f"config/watch.yaml, median of {ROUNDS}; loader in use: {fast.__name__}")
    parse_fast = median_ms(lambda: safeyaml.load_mapping(WATCH, fast))
    parse_slow = median_ms(lambda: safeyaml.load_mapping(WATCH, slow))
    print(f"  YAML read   {fast.__name__:>16} {parse_fast:6.1f} ms   "
          f"{slow.__name__} {parse_slow:6.1f} ms   ratio {parse_slow / parse_fast:4.1f}x")
    settings = median_ms(lambda: config.load_settings(WATCH))
    print(f"  load_settings (YAML read, schema checks, rules) {settings:6.1f} ms")


if __name__ == "__main__":
    main()
