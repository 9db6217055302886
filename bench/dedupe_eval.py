"""Precision and recall of the dedupe stage on a labelled set, through the
production path.

    .venv/bin/python bench/dedupe_eval.py [--sweep] [--compare] [--workers 2]

``--compare`` also measures datasketch's MinHash (Jaccard LSH and LSH Ensemble)
on the same texts, next to the bottom-k sketch (bench/dedupe_compare.py).

The set (``bench/dedupe_set.py``): 181 real article bodies and the seed
report, their copies and non-copies, as plain text. Each text is then judged
the way the cycle judges a page, so the figures are the pipeline's and not a
shortcut's:

* every stored text and every query is served as an article page (header,
  navigation, related links, footer around its paragraphs: ``page_around`` of
  tests/newsweb.py) and judged in the cycle's extraction pool by the worker's
  task, ``pipeline.verdict.judge_html`` (trafilatura, then the fingerprint of
  the text it extracted);
* the stored pages' verdicts are saved with ``storage.save_feed_batch`` and
  read back by the cycle's ``Archive``, which also loads the seed reports from
  ``seeds/`` (``load_seeds``); each query's verdict is decided as ``decide``
  does: ``archive.duplicates.find_duplicate``.

Texts under ``min_words`` cannot be judged by text (the orchestrator compares
their URLs only); they are counted and reported on their own line, not
dropped. A page that gives no article (trafilatura finds under 200
characters) would be judged on its feed entry's summary; these pages have
none, so such a query is counted as not judged by text as well.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (ROOT, BENCH, ROOT / "tests"):   # tests/: newsweb.page_around
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import storage  # noqa: E402
from dedupe_set import SEED_NAME, EvalSet, Query, build_set, load_bodies, paragraphs  # noqa: E402
from newsweb import page_around  # noqa: E402
from pipeline.config import DedupeConfig, ExtractConfig, Settings  # noqa: E402
from pipeline.archive import Archive  # noqa: E402
from pipeline.cycle import WORKER_PRELOAD  # noqa: E402
from pipeline.dedupe import DuplicateIndex, Fingerprint, fingerprint, load_seeds  # noqa: E402
from pipeline.dedupe.fingerprints import overlap  # noqa: E402
from pipeline.extract import ExtractionPool  # noqa: E402
from pipeline.match import parse_rule_set  # noqa: E402
from pipeline.records import Article, FeedEntry, FeedState, ItemOutcome  # noqa: E402
from pipeline.verdict import PageVerdict, RuleSet, judge_html  # noqa: E402

__all__ = ["SEED_NAME", "build_set", "load_bodies", "judge_set", "evaluate", "seed_text"]

SEEDS = ROOT / "seeds"
SITE = "https://eval.example/"          # stored item k is SITE + k
_RULES = parse_rule_set({"any": ["the"]}, [], {})   # topic is not measured here


def seed_text() -> str:
    return next(s.text for s in load_seeds(SEEDS) if s.name == SEED_NAME)


# ---------------------------------------------------------------- the production path

@dataclass
class Judged:
    """The set as the cycle sees it: ``texts`` holds, for every stored page and
    query, the article text its page gave (the seed: the file's text, which is
    what ``Archive`` fingerprints); ``stored`` and ``queries`` the verdicts'
    fingerprints (None: nothing to judge by text)."""

    texts: EvalSet
    stored: dict[str, bytes | None]
    queries: list[bytes | None]
    no_article: list[str] = field(default_factory=list)   # names whose page gave none
    seconds: float = 0.0


def as_page(n: int, text: str) -> bytes:
    """The text as an article page, under a headline of its own (a copy is
    republished under another one)."""
    return page_around(f"Report {n}", paragraphs(text)).encode("utf-8")


async def _verdicts(pages: list[bytes], cfg: DedupeConfig, workers: int) -> list[PageVerdict]:
    # every page fingerprinted: the pre-filter would store an off-topic page
    # unextracted, and the topic is not what this measures
    extract_cfg = ExtractConfig(workers=workers, prefilter=False)
    pool = ExtractionPool(extract_cfg, WORKER_PRELOAD)     # the cycle's pool and warm-up
    rules = RuleSet.of(*_RULES)
    try:
        return await asyncio.gather(*(
            pool.run(judge_html, page, f"{SITE}page/{n}", extract_cfg, cfg, rules,
                     f"Report {n}", "")
            for n, page in enumerate(pages)))
    finally:
        pool.close()


def judge_set(es: EvalSet, cfg: DedupeConfig, workers: int = 2) -> Judged:
    """Every stored text (but the seed) and query served as a page and judged by
    ``judge_html`` in the extraction pool."""
    t0 = time.perf_counter()
    stored = [(k, t) for k, t in es.stored if k != SEED_NAME]
    texts = [t for _, t in stored] + [q.text for q in es.queries]
    verdicts = asyncio.run(_verdicts([as_page(n, t) for n, t in enumerate(texts)], cfg, workers))
    names = [k for k, _ in stored] + [q.name for q in es.queries]
    got = [v.article.text if v.article is not None else "" for v in verdicts]
    seed = [(k, t) for k, t in es.stored if k == SEED_NAME]
    extracted = replace(es, stored=seed + [(k, t) for (k, _), t in zip(stored, got)],
                        queries=[replace(q, text=t)
                                 for q, t in zip(es.queries, got[len(stored):])])
    return Judged(texts=extracted,
                  stored={k: v.fingerprint for (k, _), v in zip(stored, verdicts)},
                  queries=[v.fingerprint for v in verdicts[len(stored):]],
                  no_article=[n for n, v in zip(names, verdicts) if v.article is None],
                  seconds=time.perf_counter() - t0)


def _stored_outcome(key: str, fp: bytes | None, now: datetime) -> ItemOutcome:
    url = SITE + key
    entry = FeedEntry(feed_name="eval", feed_url=SITE + "feed", link=url, title=key)
    return ItemOutcome(entry=entry, canonical_url=url, status="new", fetched_at=now, title=key,
                       article=Article(url=url, title=key, text=""), fingerprint=fp)


def _archive_decisions(judged: Judged, cfg: DedupeConfig) -> list[str | None]:
    """Each query decided as ``decide`` does, against an ``Archive`` read from a
    database holding the stored verdicts and from ``seeds/``: the key matched."""
    with tempfile.TemporaryDirectory(prefix="dedupe-eval-") as tmp:
        settings = Settings(feeds=(), topic=_RULES[0], alerts=(), dedupe=cfg, seeds_dir=SEEDS,
                            database_url=f"sqlite:///{tmp}/eval.db")
        store = storage.open_store(settings.database_url)
        try:
            now = datetime.now(timezone.utc)
            storage.save_feed_batch(store, FeedState(url=SITE + "feed"),
                                    [_stored_outcome(k, fp, now)
                                     for k, fp in judged.stored.items()])
            duplicates = Archive(settings, store).duplicates
        finally:
            store.close()
    got = []
    for fp in judged.queries:
        match = duplicates.find_duplicate(Fingerprint.from_bytes(fp)) if fp else None
        got.append(match.key.removeprefix(SITE) if match else None)
    return got


# ---------------------------------------------------------------- scoring

@dataclass
class Outcome:
    query: Query
    judged: bool               # False: under min_words, left to the URL test
    got: str | None            # key matched, or None
    containment: float = 0.0   # share of the query found in the text it was made from

    @property
    def right(self) -> bool:
        return (self.got in self.query.expected) if self.query.expected else self.got is None


@dataclass
class Report:
    outcomes: list[Outcome]
    negatives_other_articles: int = 0
    false_other_articles: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        judged = [o for o in self.outcomes if o.judged]
        pos = [o for o in judged if o.query.expected]
        neg = [o for o in judged if not o.query.expected]
        tp = sum(o.right for o in pos)
        fp = sum(o.got is not None for o in neg) + len(self.false_other_articles) + sum(
            o.got is not None and not o.right for o in pos)
        return dict(positives=len(pos), negatives=len(neg) + self.negatives_other_articles,
                    tp=tp, fp=fp, fn=len(pos) - tp,
                    unjudged=sum(not o.judged for o in self.outcomes))

    @property
    def precision(self) -> float:
        c = self.counts()
        return c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0

    @property
    def recall(self) -> float:
        c = self.counts()
        return c["tp"] / c["positives"] if c["positives"] else 1.0

    def seed_misses(self) -> list[str]:
        return [o.query.name for o in self.outcomes
                if o.query.kind.startswith("seed") and not o.right]


def _prints(judged: Judged, cfg: DedupeConfig) -> dict[str, Fingerprint | None]:
    """Stored fingerprints by key, the seed's computed as ``Archive`` computes it."""
    prints = {k: Fingerprint.from_bytes(b) if b else None for k, b in judged.stored.items()}
    return {SEED_NAME: fingerprint(seed_text(), cfg), **prints}


def evaluate(judged: Judged, cfg: DedupeConfig) -> Report:
    """Score the decisions. Only the thresholds of ``cfg`` may differ from the
    config the set was judged with (the fingerprints are the verdicts')."""
    t0 = time.perf_counter()
    prints = _prints(judged, cfg)
    outcomes = []
    for q, fp_bytes, got in zip(judged.texts.queries, judged.queries,
                                _archive_decisions(judged, cfg)):
        if fp_bytes is None:
            outcomes.append(Outcome(q, False, None))
            continue
        src = prints.get(q.source)
        c = overlap(Fingerprint.from_bytes(fp_bytes), src).new_in_old if src is not None else 0.0
        outcomes.append(Outcome(q, True, got, c))
    report = Report(outcomes)
    # every article against all the other articles: nothing may match. (Not
    # against the stored pages: their filler is other articles' sentences, so a
    # short article can really be inside one.) One index per article, so the
    # index itself, not an Archive per article.
    articles = [k for k in prints if k != SEED_NAME and not k.startswith("page:")]
    for key in articles:
        others = DuplicateIndex(cfg)
        for k in [SEED_NAME] + articles:
            if prints[k] is not None and k != key:
                others.add(k, prints[k])
        report.negatives_other_articles += 1
        match = others.find_duplicate(prints[key]) if prints[key] is not None else None
        if match is not None:
            report.false_other_articles.append(f"{key} -> {match.key} "
                                               f"(c={match.containment:.2f})")
    report.seconds = time.perf_counter() - t0
    return report


def print_report(judged: Judged, report: Report, cfg: DedupeConfig) -> None:
    es, c = judged.texts, report.counts()
    print(f"ground truth: {es.source}")
    print(f"stored texts: {len(es.stored)}; queries: {len(es.queries)} "
          f"+ {report.negatives_other_articles} article-vs-others; every one but the seed "
          f"served as a page and judged by judge_html in {judged.seconds:.1f}s")
    print(f"articles under min_words={cfg.min_words} (not judged by text, URL only): "
          f"{len(es.short_articles)} {es.short_articles}; unjudged queries: {c['unjudged']}; "
          f"pages that gave no article: {len(judged.no_article)} {judged.no_article[:10]}")
    print(f"copies: {c['positives']}, not copies: {c['negatives']}; "
          f"tp {c['tp']} fp {c['fp']} fn {c['fn']}")
    print(f"precision {report.precision:.4f}  recall {report.recall:.4f}  "
          f"(decisions {report.seconds:.1f}s)")
    by_kind: dict[str, list[Outcome]] = {}
    for o in report.outcomes:
        if o.judged:
            by_kind.setdefault(o.query.kind, []).append(o)
    for kind, os_ in sorted(by_kind.items()):
        cs = sorted(o.containment for o in os_)
        spread = f"  containment min {cs[0]:.2f} median {cs[len(cs) // 2]:.2f}" \
            if os_[0].query.expected else f"  containment max {cs[-1]:.2f}"
        print(f"  {kind:22s} {sum(o.right for o in os_):4d}/{len(os_):<4d} right{spread}")
    print(f"seed variants missed: {report.seed_misses() or 'none'}")
    wrong = [o for o in report.outcomes if o.judged and not o.right]
    wrong.sort(key=lambda o: o.containment)
    print("worst misses / false matches:")
    for o in wrong[:10]:
        print(f"  {o.query.name}: got {o.got}, containment vs source {o.containment:.2f}")
    for line in report.false_other_articles[:10]:
        print(f"  article vs others: {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="also try other thresholds")
    ap.add_argument("--compare", action="store_true",
                    help="also measure datasketch MinHash LSH / LSH Ensemble on the same texts")
    ap.add_argument("--workers", type=int, default=2, help="extraction worker processes")
    args = ap.parse_args(argv)
    cfg = DedupeConfig()
    judged = judge_set(build_set(load_bodies(), seed_text(), cfg), cfg, args.workers)
    report = evaluate(judged, cfg)
    print_report(judged, report, cfg)
    if args.sweep:
        print("\nthreshold sweep (containment, embedded_share): precision recall")
        for c in (0.4, 0.5, 0.6, 0.7, 0.8):
            for e in (0.4, 0.5, 0.6):
                r = evaluate(judged, replace(cfg, containment=c, embedded_share=e))
                print(f"  {c:.1f} {e:.1f}: {r.precision:.4f} {r.recall:.4f}")
    if args.compare:
        from dedupe_compare import compare  # imported late: datasketch is for --compare only

        compare(judged.texts, cfg, report, lambda at: evaluate(judged, at))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
