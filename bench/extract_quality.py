"""Quality of the pipeline's extract stage on the 181 real pages of the
article-extraction benchmark, with the benchmark's own measure.

Per page both texts are split into word 4-grams (tokens ``\\w+``); matched,
extra and missing 4-grams are counted as multisets and normalised to sum to 1;
the three are averaged over pages, then precision, recall and F1 are computed.
The text scored is what the pipeline stores: ``pipeline.verdict.judge_html``
(trafilatura with ``extraction_options``, then the 200-character floor; a page
that gives an error scores as empty text).

    .venv/bin/python bench/extract_quality.py [--workers 2] [--worst 5]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))   # newsweb

from newsweb import load_pages  # noqa: E402

_TOKEN = __import__("re").compile(r"\w+", __import__("re").UNICODE)


def ngrams(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1))
                   if tokens[i:i + n])


def page_score(truth: str, pred: str) -> tuple[float, float, float]:
    t, p = ngrams(truth), ngrams(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def _extract(args) -> tuple[str, str | None]:
    html, url = args
    from pipeline.config import DedupeConfig, ExtractConfig
    from pipeline.match.rules import parse_rule_set
    from pipeline.verdict import RuleSet, judge_html

    rules = RuleSet.of(*parse_rule_set({"any": ["the"]}, [], {}))
    page = judge_html(html, url, ExtractConfig(), DedupeConfig(), rules)
    return (page.article.text if page.article else ""), (str(page.error) if page.error else None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="F1 of the extract stage on the 181 pages")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worst", type=int, default=5, help="list the N worst pages")
    args = ap.parse_args(argv)
    ids, pages, truth, source = load_pages()
    urls = [truth.get(i, {}).get("url") or f"https://example.org/{i}" for i in ids]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        results = list(ex.map(_extract, zip(pages, urls), chunksize=4))
    elapsed = time.perf_counter() - t0
    scores, errors = [], []
    for pid, (text, err) in zip(ids, results):
        scores.append((page_score(truth.get(pid, {}).get("articleBody", ""), text), pid))
        if err:
            errors.append((pid, err))
    n = len(scores)
    tp = sum(s[0] for s, _ in scores) / n
    fp = sum(s[1] for s, _ in scores) / n
    fn = sum(s[2] for s, _ in scores) / n
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    import trafilatura
    print(f"$ .venv/bin/python bench/extract_quality.py {' '.join(argv or sys.argv[1:])}")
    print(f"pages: {n} from {source}; trafilatura {trafilatura.__version__}, "
          f"Python {platform.python_version()}")
    print(f"extract stage: precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}"
          f"  (target >= 0.95: {'MET' if f1 >= 0.95 else 'SHORT'})")
    print(f"pages with an extract error (scored as empty): {len(errors)}")
    for pid, err in errors:
        print(f"  {pid[:12]}  {err}")
    print(f"worst {args.worst} pages by F1:")
    def f1_of(s):
        p = s[0] / (s[0] + s[1]) if s[0] + s[1] else 0
        r = s[0] / (s[0] + s[2]) if s[0] + s[2] else 0
        return 2 * p * r / (p + r) if p + r else 0
    for s, pid in sorted(scores, key=lambda x: f1_of(x[0]))[:args.worst]:
        print(f"  {pid[:12]}  F1 {f1_of(s):.3f}  matched {s[0]:.2f} extra {s[1]:.2f} "
              f"missing {s[2]:.2f}")
    print(f"({elapsed:.1f}s with {args.workers} worker processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
