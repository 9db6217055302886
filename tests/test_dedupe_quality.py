"""Quality gate of the dedupe stage: the figures of bench/dedupe_eval.py, pinned.

Runs the same set builder on the committed copy of the ground truth
(tests/fixtures/ground-truth/, MIT) so it needs nothing outside the repo, and
the same production path: every text served as an article page and judged by
``pipeline.verdict.judge_html`` in the cycle's extraction pool, the stored
verdicts saved and read back by the cycle's ``Archive`` (with the seeds of
``seeds/``), each query decided by ``find_duplicate`` as ``decide`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.config import DedupeConfig

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests/fixtures/ground-truth/ground-truth.json"
sys.path.insert(0, str(ROOT / "bench"))

import dedupe_eval as ev  # noqa: E402


@pytest.fixture(scope="module")
def report():
    cfg = DedupeConfig()
    judged = ev.judge_set(ev.build_set(ev.load_bodies(FIXTURE), ev.seed_text(), cfg), cfg)
    return judged, ev.evaluate(judged, cfg)


def test_precision_and_recall(report):
    _, r = report
    c = r.counts()
    assert c["positives"] >= 1000 and c["negatives"] >= 300, c
    assert r.precision >= 0.99, c
    assert r.recall >= 0.97, c


def test_every_page_gave_its_article_to_the_fingerprint(report):
    judged, r = report
    # the figures are of extracted text: no page fell through to "nothing to judge"
    assert judged.no_article == []
    assert r.counts()["unjudged"] == 0
    assert all(fp is not None for fp in judged.queries)


def test_every_seed_variant_caught(report):
    _, r = report
    seed_queries = [o for o in r.outcomes if o.query.kind.startswith("seed")]
    assert len(seed_queries) >= 7
    assert r.seed_misses() == []


def test_no_article_matches_another(report):
    _, r = report
    assert r.false_other_articles == []


def test_short_articles_reported_not_dropped(report):
    judged, _ = report
    # one ground-truth body is under min_words: it is listed, not silently lost
    assert judged.texts.short_articles == ["85439e26c41c"]
