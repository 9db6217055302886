"""``bench/dedupe_eval.py --compare``: the pipeline's bottom-k sketch against
datasketch's k-permutation MinHash on the same labelled set.

Only the sketch differs: every method sees the same texts cut the same way
(``body_words``: normalised, furniture lines shorter than a shingle dropped, texts
under ``min_words`` left to the URL test) and the same set of shingles (the
32-bit hashes of ``shingle_hashes``; MinHash gets them through ``update_batch``
with an identity ``hashfunc``, so it re-hashes nothing and its cost is its own).

Methods, each at thresholds 0.3-0.8:

* ``bottom-k``: the pipeline (``DuplicateIndex``) as configured, the row of the
  default report, then at the other containment thresholds.
* ``minhash-jaccard``: ``MinHash(num_perm=128)``, ``MinHashLSH(threshold=t)`` for
  candidates, a copy when the estimated Jaccard >= t (the best-scoring one wins).
* ``minhash-ensemble``: ``MinHashLSHEnsemble`` (containment LSH) for candidates;
  containment estimated from the MinHash Jaccard and the set sizes,
  c(Q in X) = J(|Q|+|X|)/((1+J)|Q|), and the pipeline's own rule applied:
  Q in X >= t, or X in Q >= t and Q in X >= ``embedded_share`` (the ensemble is
  queried at min(t, embedded_share), which every match needs). Candidates that
  pass are ranked by estimated Jaccard.

Scored like ``Report.counts`` (a false positive: a non-copy matched, an article
matched to another, a copy matched to the wrong text). Also printed: the exact
scores of every query against its source, i.e. the room each threshold leaves
to the nearest non-copy, which the sketch's noise has to stay inside.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

BENCH = Path(__file__).resolve().parent
for _path in (BENCH.parent, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from pipeline.config import DedupeConfig  # noqa: E402
from pipeline.dedupe import DuplicateIndex, fingerprint  # noqa: E402
from pipeline.dedupe.fingerprints import body_words, shingle_hashes  # noqa: E402
from dedupe_compare_table import conclusion, print_table  # noqa: E402

NUM_PERM = 128
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)     # Jaccard or containment, per method
TIMING_REPEAT = 3


def _identity(x: int) -> int:
    return x


@dataclass(frozen=True)
class MinSketch:
    minhash: object          # datasketch.LeanMinHash
    size: int                # distinct shingles of the text


def minsketch(text: str, cfg: DedupeConfig) -> MinSketch | None:
    """The MinHash counterpart of ``fingerprint``: same gate, same shingle set."""
    from datasketch import LeanMinHash, MinHash

    tokens = body_words(text or "", cfg.shingle_size)
    if len(tokens) < max(cfg.min_words, cfg.shingle_size):
        return None
    hashes = shingle_hashes(tokens, cfg.shingle_size)
    m = MinHash(num_perm=NUM_PERM, hashfunc=_identity)
    m.update_batch(hashes.tolist())
    return MinSketch(LeanMinHash(m), int(hashes.size))


def containments(q: MinSketch, x: MinSketch) -> tuple[float, float, float]:
    """(Jaccard, share of q in x, share of x in q), estimated from the MinHash."""
    j = q.minhash.jaccard(x.minhash)
    inter = j * (q.size + x.size) / (1 + j)
    return j, min(1.0, inter / q.size), min(1.0, inter / x.size)


# ---------------------------------------------------------------- scoring

@dataclass
class Row:
    method: str
    threshold: str
    t: float = 0.0           # the threshold the decision uses
    tp: int = 0
    fp: int = 0
    positives: int = 0
    misses: Counter = field(default_factory=Counter)     # edit kind -> copies missed
    fp_kinds: Counter = field(default_factory=Counter)   # query kind -> false matches
    us_fingerprint: float = 0.0
    us_lookup: float = 0.0
    bytes_stored: float = 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 1.0


def score(row: Row, outcomes: Iterable[tuple[object, bool, str | None]],
          false_other_articles: int) -> Row:
    """``outcomes``: (query, judged, key matched); counted as in ``Report.counts``."""
    for q, judged, got in outcomes:
        if not judged:
            continue
        row.positives += bool(q.expected)
        if q.expected and got in q.expected:
            row.tp += 1
            continue
        if q.expected:
            row.misses[q.kind] += 1
        if got is not None:            # a non-copy matched, or a copy to the wrong text
            row.fp += 1
            row.fp_kinds[q.kind] += 1
    row.fp += false_other_articles
    if false_other_articles:
        row.fp_kinds["article_vs_others"] += false_other_articles
    return row


def _timed(fn: Callable, items: list, repeat: int = TIMING_REPEAT) -> tuple[list, float]:
    """fn over items, and the mean microseconds per call of the fastest of
    ``repeat`` passes (other work on the machine only ever adds time)."""
    best = float("inf")
    for _ in range(repeat):
        out, t = [], 0.0
        for it in items:
            t0 = time.perf_counter()
            out.append(fn(it))
            t += time.perf_counter() - t0
        best = min(best, t)
    return out, 1e6 * best / max(1, len(items))


def _from_report(row: Row, report) -> Row:
    return score(row, ((o.query, o.judged, o.got) for o in report.outcomes),
                 len(report.false_other_articles))


# ---------------------------------------------------------------- methods

def bottomk_row(es, cfg: DedupeConfig, report) -> Row:
    """The pipeline's row: figures from ``report`` (``evaluate``), timings re-measured."""
    row = _from_report(Row("bottom-k (pipeline)", f"c={cfg.containment} e={cfg.embedded_share}",
                           cfg.containment), report)
    texts = [t for _, t in es.stored] + [q.text for q in es.queries]
    prints, row.us_fingerprint = _timed(lambda t: fingerprint(t, cfg), texts)
    stored = prints[:len(es.stored)]
    index = DuplicateIndex(cfg)
    for (key, _), fp in zip(es.stored, stored):
        if fp is not None:
            index.add(key, fp)
    queries = [fp for fp in prints[len(es.stored):] if fp is not None]
    _, row.us_lookup = _timed(index.find_duplicate, queries)
    row.bytes_stored = float(np.mean([len(fp.to_bytes()) for fp in stored if fp is not None]))
    return row


def bottomk_sweep(cfg: DedupeConfig, base: Row, evaluate_at: Callable) -> list[Row]:
    """The pipeline at the containment thresholds MinHash is swept over too
    (embedded_share as configured); same sketch, so ``base``'s costs.
    ``evaluate_at(cfg)``: the report of the same verdicts at other thresholds."""
    rows = []
    for t in THRESHOLDS:
        if abs(t - cfg.containment) < 1e-9:
            continue
        report = evaluate_at(replace(cfg, containment=t))
        rows.append(_from_report(Row("bottom-k", f"c={t:.1f} e={cfg.embedded_share}", t,
                                     us_fingerprint=base.us_fingerprint,
                                     us_lookup=base.us_lookup,
                                     bytes_stored=base.bytes_stored), report))
    return rows


class _Sketches:
    """MinHash of every stored text and query, computed once for all thresholds."""

    def __init__(self, es, cfg: DedupeConfig):
        texts = [t for _, t in es.stored] + [q.text for q in es.queries]
        sk, self.us_fingerprint = _timed(lambda t: minsketch(t, cfg), texts)
        self.stored = {key: s for (key, _), s in zip(es.stored, sk) if s is not None}
        self.queries = sk[len(es.stored):]
        self.order = {key: i for i, (key, _) in enumerate(es.stored)}
        self.bytes_stored = float(np.mean([s.minhash.bytesize("<") for s in self.stored.values()]))
        articles = [k for k, _ in es.stored if not k.startswith("page:")]   # seed + articles
        self.articles = {k: self.stored[k] for k in articles if k in self.stored}


def _run(es, sk: _Sketches, row: Row, make_lookup: Callable) -> Row:
    """``make_lookup(entries)`` -> lookup(sketch, exclude) -> key or None."""
    lookup = make_lookup(sk.stored)
    pairs = [(q, s) for q, s in zip(es.queries, sk.queries) if s is not None]
    got, row.us_lookup = _timed(lambda p: lookup(p[1], None), pairs)
    by_name = {q.name: g for (q, _), g in zip(pairs, got)}
    outcomes = [(q, s is not None, by_name.get(q.name)) for q, s in zip(es.queries, sk.queries)]
    # every article against all the others (the evaluation leaves the seed in too)
    others = make_lookup(sk.articles)
    false_others = sum(others(s, key) is not None
                       for key, s in sk.articles.items() if key != es.stored[0][0])
    row.us_fingerprint, row.bytes_stored = sk.us_fingerprint, sk.bytes_stored
    return score(row, outcomes, false_others)


def _best(cands: list[tuple[float, int, str]]) -> str | None:
    """Highest score wins; on a tie the oldest stored text, as the pipeline names it."""
    return min(cands, key=lambda c: (-c[0], c[1]))[2] if cands else None


def minhash_jaccard_row(es, sk: _Sketches, t: float) -> Row:
    from datasketch import MinHashLSH

    def make(entries: dict[str, MinSketch]):
        lsh = MinHashLSH(threshold=t, num_perm=NUM_PERM)
        for key, s in entries.items():
            lsh.insert(key, s.minhash)

        def lookup(q: MinSketch, exclude: str | None) -> str | None:
            cands = []
            for key in lsh.query(q.minhash):
                if key == exclude:
                    continue
                j = q.minhash.jaccard(entries[key].minhash)
                if j >= t:
                    cands.append((j, sk.order[key], key))
            return _best(cands)
        return lookup

    return _run(es, sk, Row("minhash-jaccard LSH", f"J>={t:.1f}", t), make)


def minhash_ensemble_row(es, sk: _Sketches, t: float, cfg: DedupeConfig) -> Row:
    from datasketch import MinHashLSHEnsemble

    floor = min(t, cfg.embedded_share)    # every match has Q in X >= this

    def make(entries: dict[str, MinSketch]):
        ens = MinHashLSHEnsemble(threshold=floor, num_perm=NUM_PERM, num_part=16)
        ens.index([(key, s.minhash, s.size) for key, s in entries.items()])

        def lookup(q: MinSketch, exclude: str | None) -> str | None:
            cands = []
            for key in set(ens.query(q.minhash, q.size)):
                if key == exclude:
                    continue
                j, q_in_x, x_in_q = containments(q, entries[key])
                if q_in_x >= t or (x_in_q >= t and q_in_x >= cfg.embedded_share):
                    # ranked by Jaccard, the estimate MinHash makes well: containment
                    # of a small text in a huge page rests on one or two equal minima
                    cands.append((j, sk.order[key], key))
            return _best(cands)
        return lookup

    return _run(es, sk, Row("minhash LSH-ensemble", f"C>={t:.1f}", t), make)


@dataclass
class Separation:
    """Exact scores against the source: the lowest copies, the highest non-copy."""

    name: str
    copies: list[float]
    non_copies: list[float]

    @property
    def closest_non_copy(self) -> float:
        return max(self.non_copies, default=0.0)

    def line(self) -> str:
        c = np.asarray(self.copies)
        return (f"  {self.name:34s} copies min {c.min():.2f}, 1st pct {np.percentile(c, 1):.2f}, "
                f"median {np.median(c):.2f}; non-copies max {self.closest_non_copy:.2f}")


def separation(es, cfg: DedupeConfig) -> tuple[Separation, Separation]:
    """Exact Jaccard, and the exact score of the pipeline's containment rule
    (new in old, or old in new when new in old >= embedded_share), of every
    query against the text it was made from and of every article against every
    other article."""
    def shingles(text: str) -> np.ndarray:
        return shingle_hashes(body_words(text or "", cfg.shingle_size), cfg.shingle_size)

    def scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        common = np.intersect1d(a, b, assume_unique=True).size
        j = common / (a.size + b.size - common)
        a_in_b, b_in_a = common / a.size, common / b.size
        return j, max(a_in_b, b_in_a if a_in_b >= cfg.embedded_share else 0.0)

    sets = {k: shingles(t) for k, t in es.stored}
    jac, rule = Separation("exact Jaccard", [], []), \
        Separation("exact containment-rule score", [], [])
    for q in es.queries:
        a, b = shingles(q.text), sets.get(q.source)
        if b is None or a.size == 0 or b.size == 0 or len(body_words(q.text, cfg.shingle_size)) \
                < max(cfg.min_words, cfg.shingle_size):
            continue
        j, r = scores(a, b)
        (jac.copies if q.expected else jac.non_copies).append(j)
        (rule.copies if q.expected else rule.non_copies).append(r)
    arts = [k for k, _ in es.stored if not k.startswith("page:") and sets[k].size]
    for i, x in enumerate(arts):
        for y in arts[i + 1:]:
            j, r = scores(sets[x], sets[y])
            r = max(r, scores(sets[y], sets[x])[1])
            jac.non_copies.append(j)
            rule.non_copies.append(r)
    return jac, rule


def compare(es, cfg: DedupeConfig, report, evaluate_at: Callable) -> list[Row]:
    """Print the comparison table and its conclusion. ``es``: the set as the
    cycle fingerprinted it (each text the article its page gave); ``report``:
    the pipeline's figures on it; ``evaluate_at(cfg)``: the same at other
    thresholds."""
    try:
        import datasketch  # noqa: F401
    except ImportError:
        print("--compare needs datasketch (not installed)")
        return []
    t0 = time.perf_counter()
    rows = [bottomk_row(es, cfg, report)]
    rows += bottomk_sweep(cfg, rows[0], evaluate_at)
    sk = _Sketches(es, cfg)
    rows += [minhash_jaccard_row(es, sk, t) for t in THRESHOLDS]
    rows += [minhash_ensemble_row(es, sk, t, cfg) for t in THRESHOLDS]
    jac, rule = separation(es, cfg)
    print(f"\nsketch comparison (same texts, same {cfg.shingle_size}-word shingles; "
          f"MinHash num_perm={NUM_PERM}; us = mean microseconds, fastest of {TIMING_REPEAT} "
          f"passes; B/fp = mean bytes per stored fingerprint; bottom-k sweep rows share the "
          f"pipeline row's costs; {time.perf_counter() - t0:.0f}s)")
    print_table(rows)
    print("exact scores against the source, no sketch (non-copies include article pairs):")
    print(jac.line())
    print(rule.line())
    print("\nconclusion: " + conclusion(rows, jac, rule))
    return rows
