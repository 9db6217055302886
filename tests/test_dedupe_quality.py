"""Quality gate of the dedupe stage: the figures of bench/dedupe_eval.py, pinned.

Runs the same set builder on the committed copy of the ground truth
(tests/fixtures/ground-truth/, MIT) so it needs nothing outside the repo.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from pipeline.config import DedupeConfig
from pipeline.dedupe import load_seeds

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests/fixtures/ground-truth/ground-truth.json"


def _eval_module():
    spec = importlib.util.spec_from_file_location("dedupe_eval", ROOT / "bench/dedupe_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module        # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    ev = _eval_module()
    cfg = DedupeConfig()
    seed = next(s.text for s in load_seeds(ROOT / "seeds") if s.name == ev.SEED_NAME)
    es = ev.build_set(ev.load_bodies(FIXTURE), seed, cfg)
    return es, ev.evaluate(es, cfg)


def test_precision_and_recall(report):
    es, r = report
    c = r.counts()
    assert c["positives"] >= 1000 and c["negatives"] >= 300, c
    assert r.precision >= 0.99, c
    assert r.recall >= 0.97, c


def test_every_seed_variant_caught(report):
    es, r = report
    seed_queries = [o for o in r.outcomes if o.query.kind.startswith("seed")]
    assert len(seed_queries) >= 7
    assert r.seed_misses() == []


def test_no_article_matches_another(report):
    _, r = report
    assert r.false_other_articles == []


def test_short_articles_reported_not_dropped(report):
    es, _ = report
    # one ground-truth body is under min_words: it is listed, not silently lost
    assert es.short_articles == ["85439e26c41c"]
