"""``bench/dedupe_eval.py --compare``: the pipeline's bottom-k sketch against
datasketch's k-permutation MinHash on the same labelled set.

Only the sketch differs: every method sees the same texts cut the same way
(``body_words``: normalised, furniture lines shorter than a shingle dropped, texts
under ``min_words`` left to the URL test) and the same set of shingles (the
32-bit hashes of ``shingle_hashes``; MinHash gets them through ``update_batch``
with an identity ``hashfunc``, so it re-hashes nothing and its cost is its own).

Methods:

* ``bottom-k``: the pipeline as configured (``DuplicateIndex``), the row of the
  default report.
* ``minhash-jaccard``: ``MinHash(num_perm=128)``, ``MinHashLSH(threshold=t)`` for
  candidates, a copy when the estimated Jaccard >= t (the best-scoring one wins).
* ``minhash-ensemble``: ``MinHashLSHEnsemble`` (containment LSH) for candidates;
  containment estimated from the MinHash Jaccard and the set sizes,
  c(Q in X) = J(|Q|+|X|)/((1+J)|Q|), and the pipeline's own rule applied:
  Q in X >= t, or X in Q >= t and Q in X >= ``embedded_share`` (the ensemble is
  queried at min(t, embedded_share), which every match needs).

Every method is scored like ``Report.counts``: a false positive is a non-copy
that matched, an article matched to another article, or a copy matched to the
wrong text.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.config import DedupeConfig  # noqa: E402
from pipeline.dedupe import DuplicateIndex, fingerprint  # noqa: E402
from pipeline.fingerprints import body_words, shingle_hashes  # noqa: E402

NUM_PERM = 128
JACCARD_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
CONTAINMENT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_PRECISION = 0.99


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
        if q.expected:
            row.positives += 1
            if got in q.expected:
                row.tp += 1
            else:
                row.misses[q.kind] += 1
                if got is not None:
                    row.fp += 1
                    row.fp_kinds[q.kind] += 1
        elif got is not None:
            row.fp += 1
            row.fp_kinds[q.kind] += 1
    row.fp += false_other_articles
    if false_other_articles:
        row.fp_kinds["article_vs_others"] += false_other_articles
    return row


def _timed(fn: Callable, items: list) -> tuple[list, float]:
    """fn over items, and the mean microseconds per call."""
    out, t = [], 0.0
    for it in items:
        t0 = time.perf_counter()
        out.append(fn(it))
        t += time.perf_counter() - t0
    return out, 1e6 * t / max(1, len(items))


# ---------------------------------------------------------------- methods

def bottomk_row(es, cfg: DedupeConfig, report) -> Row:
    """The pipeline's row: figures from ``report`` (``evaluate``), timings re-measured."""
    row = score(Row("bottom-k (pipeline)", f"c={cfg.containment} e={cfg.embedded_share}"),
                ((o.query, o.judged, o.got) for o in report.outcomes),
                len(report.false_other_articles))
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

    return _run(es, sk, Row("minhash-jaccard LSH", f"J>={t:.1f}"), make)


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
                _, q_in_x, x_in_q = containments(q, entries[key])
                if q_in_x >= t or (x_in_q >= t and q_in_x >= cfg.embedded_share):
                    cands.append((max(q_in_x, x_in_q), sk.order[key], key))
            return _best(cands)
        return lookup

    return _run(es, sk, Row("minhash LSH-ensemble", f"C>={t:.1f}"), make)


# ---------------------------------------------------------------- output

def _kinds(c: Counter) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) \
        or "-"


def print_table(rows: list[Row]) -> None:
    head = (f"{'method':22s} {'threshold':13s} {'prec':>6s} {'recall':>6s} {'FP':>3s} "
            f"{'FN':>3s} {'us/fp':>6s} {'us/look':>7s} {'B/fp':>5s}  misses by edit kind")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.method:22s} {r.threshold:13s} {r.precision:6.3f} {r.recall:6.3f} {r.fp:3d} "
              f"{r.positives - r.tp:3d} {r.us_fingerprint:6.0f} {r.us_lookup:7.0f} "
              f"{r.bytes_stored:5.0f}  {_kinds(r.misses)}")
    fps = [r for r in rows if r.fp]
    if fps:
        print("false positives by query kind:")
        for r in fps:
            print(f"  {r.method} {r.threshold}: {_kinds(r.fp_kinds)}")


def conclusion(rows: list[Row]) -> str:
    base, alts = rows[0], rows[1:]
    ok = [r for r in alts if r.precision >= MIN_PRECISION]
    best = max(ok, key=lambda r: (r.recall, r.precision, -r.us_lookup), default=None)
    top = max(alts, key=lambda r: (r.recall, r.precision))
    parts = [f"At precision >= {MIN_PRECISION}, the pipeline's bottom-k sketch "
             f"{'qualifies' if base.precision >= MIN_PRECISION else 'does NOT qualify'} "
             f"(precision {base.precision:.3f}, recall {base.recall:.3f}, "
             f"{base.positives - base.tp} copies missed)"]
    if best is None:
        parts.append(f"no MinHash setting reaches that precision (highest recall "
                     f"{top.recall:.3f} by {top.method} {top.threshold} at precision "
                     f"{top.precision:.3f})")
    else:
        parts.append(f"the best MinHash setting there is {best.method} {best.threshold} "
                     f"(precision {best.precision:.3f}, recall {best.recall:.3f}, "
                     f"{best.positives - best.tp} missed, mostly {_kinds(best.misses)})")
    if best is not None and best.recall > base.recall:
        winner = f"{best.method} {best.threshold}"
    elif base.precision >= MIN_PRECISION:
        winner = "bottom-k"
    else:
        winner = "neither"
    d = (base.recall - best.recall) if best is not None else None
    text = "; ".join(parts) + ". "
    text += f"Winner on recall at precision >= {MIN_PRECISION}: {winner}"
    if d is not None:
        text += f" (recall difference {abs(d) * 100:.1f} points)"
    if winner == "bottom-k" and best is not None:
        text += (f"; the MinHash setting also costs {best.us_fingerprint / base.us_fingerprint:.1f}x"
                 f" the time per fingerprint, {best.us_lookup / base.us_lookup:.1f}x per lookup"
                 f" and {best.bytes_stored / base.bytes_stored:.2f}x the bytes stored")
    elif best is not None:
        text += (f"; it costs {best.us_fingerprint / base.us_fingerprint:.1f}x the time per "
                 f"fingerprint, {best.us_lookup / base.us_lookup:.1f}x per lookup and "
                 f"{best.bytes_stored / base.bytes_stored:.2f}x the bytes stored")
    return text + "."


def compare(es, cfg: DedupeConfig, report) -> list[Row]:
    """Print the comparison table and its conclusion; ``report``: ``evaluate(es, cfg)``."""
    try:
        import datasketch  # noqa: F401
    except ImportError:
        print("--compare needs datasketch (not installed)")
        return []
    t0 = time.perf_counter()
    rows = [bottomk_row(es, cfg, report)]
    sk = _Sketches(es, cfg)
    rows += [minhash_jaccard_row(es, sk, t) for t in JACCARD_THRESHOLDS]
    rows += [minhash_ensemble_row(es, sk, t, cfg) for t in CONTAINMENT_THRESHOLDS]
    print(f"\nsketch comparison (same texts, same {cfg.shingle_size}-word shingles; "
          f"MinHash num_perm={NUM_PERM}; us = microseconds, B/fp = bytes per stored "
          f"fingerprint; {time.perf_counter() - t0:.1f}s)")
    print_table(rows)
    print("\nconclusion: " + conclusion(rows))
    return rows
