"""The output of ``bench/dedupe_compare.py``: the table of every method's
figures, and which sketch finds more copies at the precision asked for."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dedupe_compare import Row, Separation

MIN_PRECISION = 0.99
NOISE_MISSES = 2               # copies: a recall gap this small is a tie


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


def _margin(r: Row, jac: Separation, rule: Separation) -> float:
    """Room between the row's threshold and the nearest non-copy, in exact score."""
    sep = jac if r.method.startswith("minhash-jaccard") else rule
    return r.t - sep.closest_non_copy


def conclusion(rows: list[Row], jac: Separation, rule: Separation) -> str:
    """Which sketch finds more copies at precision >= MIN_PRECISION (and with no
    false match at all), from ``rows``; a gap of NOISE_MISSES copies or fewer is
    called a tie."""
    base = rows[0]
    bk = [r for r in rows if r.method.startswith("bottom-k")]
    mh = [r for r in rows if not r.method.startswith("bottom-k")]

    def best_of(rs: list[Row], floor: float) -> Row | None:
        ok = [r for r in rs if r.precision >= floor]
        return max(ok, key=lambda r: (r.recall, r.precision, _margin(r, jac, rule)), default=None)

    def desc(r: Row | None) -> str:
        if r is None:
            return "none"
        return (f"{r.method} {r.threshold} (recall {r.recall:.3f}, precision {r.precision:.3f}, "
                f"{r.positives - r.tp} missed, {r.fp} false, threshold "
                f"{_margin(r, jac, rule):+.2f} from the nearest non-copy's exact score)")

    def verdict(b: Row | None, m: Row | None) -> str:
        if b is None or m is None:
            return "bottom-k" if b else "MinHash" if m else "neither"
        gap = (b.positives - b.tp) - (m.positives - m.tp)     # > 0: MinHash misses fewer
        if abs(gap) <= NOISE_MISSES:
            lead = "no one" if gap == 0 else "MinHash" if gap > 0 else "bottom-k"
            return (f"a tie ({lead} ahead by {abs(gap)} of {b.positives} copies, "
                    f"within {NOISE_MISSES})")
        return f"{'MinHash' if gap > 0 else 'bottom-k'} by {abs(gap)} copies"

    parts = []
    for floor in (MIN_PRECISION, 1.0):
        b, m = best_of(bk, floor), best_of(mh, floor)
        parts.append(f"at precision >= {floor:.3f} the best bottom-k is {desc(b)} and the best "
                     f"MinHash is {desc(m)}: {verdict(b, m)}")
    text = "On recall, " + "; ".join(parts) + "."
    m = best_of(mh, MIN_PRECISION)
    if m is not None:
        stricter = [r for r in mh if r.method == m.method and r.t > m.t]
        if stricter:
            nxt = min(stricter, key=lambda r: r.t)
            text += (f" One step stricter ({nxt.threshold}) that MinHash recall is "
                     f"{nxt.recall:.3f}.")
        text += (f" Against the configured pipeline ({base.threshold}: recall {base.recall:.3f}, "
                 f"precision {base.precision:.3f}, threshold {_margin(base, jac, rule):+.2f} "
                 f"from the nearest non-copy) it costs "
                 f"{m.us_fingerprint / base.us_fingerprint:.2f}x the time per fingerprint, "
                 f"{m.us_lookup / base.us_lookup:.2f}x per lookup and "
                 f"{m.bytes_stored / base.bytes_stored:.2f}x the bytes per stored fingerprint.")
    return text
