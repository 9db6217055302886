"""Cost of one dedupe decision as the number of stored items grows.

    .venv/bin/python bench/dedupe_scale.py [--sizes 1000,10000,100000] [--queries 1000]

Synthetic texts (Zipf-distributed words from a 40,000-word vocabulary, 250 to
900 words each) are fingerprinted and added to one DuplicateIndex; at each
size the same queries are timed: half are edited copies of stored items (a
fifth cut, furniture lines added; they must be found), half are new texts.
A decision here is ``find_duplicate`` (candidate lookup + verification); the
fingerprint, computed once per article in the extraction worker, is timed
apart. Memory is the process RSS (psutil) grown while filling the index.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import DedupeConfig  # noqa: E402
from pipeline.dedupe import DuplicateIndex, fingerprint  # noqa: E402

FURNITURE = "Read more:\nSign up for our newsletter today\nAdvertisement\nShare this article"


class TextMaker:
    def __init__(self, seed: int = 7, vocabulary: int = 40_000):
        self.rng = np.random.default_rng(seed)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lengths = self.rng.integers(2, 11, size=vocabulary)
        self.vocab = ["".join(self.rng.choice(letters, size=n)) for n in lengths]
        weights = 1.0 / np.arange(1, vocabulary + 1) ** 1.1   # news vocabulary is Zipfian
        self.cdf = np.cumsum(weights / weights.sum())

    def text(self) -> str:
        n = int(self.rng.integers(250, 900))
        ids = np.minimum(np.searchsorted(self.cdf, self.rng.random(n)), len(self.vocab) - 1)
        words = [self.vocab[i] for i in ids]
        # paragraphs of ~60 words, as extracted articles come
        return "\n".join(" ".join(words[i:i + 60]) for i in range(0, len(words), 60))

    def copy_of(self, text: str) -> str:
        paras = text.split("\n")
        keep = paras[: max(1, int(len(paras) * 0.8))]
        return FURNITURE + "\n" + "\n".join(keep) + "\nMost read"


def time_queries(index: DuplicateIndex, queries: list[tuple[object, str | None]]
                 ) -> tuple[float, float, int]:
    """Median and mean microseconds per decision, and how many were right."""
    times, right = [], 0
    for fp, expected in queries:
        t0 = time.perf_counter()
        match = index.find_duplicate(fp)
        times.append(time.perf_counter() - t0)
        right += (match.key if match else None) == expected
    return statistics.median(times) * 1e6, statistics.mean(times) * 1e6, right


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cfg, maker, proc = DedupeConfig(), TextMaker(), psutil.Process()
    index = DuplicateIndex(cfg)
    copies_from: list[tuple[str, str]] = []      # (key, text) of items queried as copies
    half = args.queries // 2
    new_texts = [maker.text() for _ in range(half)]
    gc.collect()
    rss0 = proc.memory_info().rss
    fp_seconds, fp_count, results = 0.0, 0, []
    for size in sizes:
        while len(index) < size:
            text, key = maker.text(), f"https://example.org/{len(index)}"
            t0 = time.perf_counter()
            fp = fingerprint(text, cfg)
            fp_seconds, fp_count = fp_seconds + time.perf_counter() - t0, fp_count + 1
            index.add(key, fp)
            if len(copies_from) < half and len(index) % max(1, sizes[0] // half) == 0:
                copies_from.append((key, text))
        queries = [(fingerprint(maker.copy_of(t), cfg), k) for k, t in copies_from]
        queries += [(fingerprint(t, cfg), None) for t in new_texts]
        index.compact()     # as Archive.load leaves it: building is not the decisions' cost
        gc.collect()        # build garbage is not the decisions' cost either
        median, mean, right = time_queries(index, queries)
        rss = (proc.memory_info().rss - rss0) / 2**20
        results.append((size, median, mean))
        print(f"{size:>7} stored: decision median {median:7.1f} us, mean {mean:7.1f} us; "
              f"{right}/{len(queries)} right; RSS grown {rss:7.1f} MiB "
              f"({rss * 2**20 / size:,.0f} B/item)", flush=True)
    base = results[0]
    for size, median, mean in results[1:]:
        print(f"ratio {size} / {base[0]}: median {median / base[1]:.2f}x, "
              f"mean {mean / base[2]:.2f}x")
    print(f"fingerprint: {fp_seconds / fp_count * 1e3:.3f} ms per text "
          f"(mean of {fp_count}, 250-900 words)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
