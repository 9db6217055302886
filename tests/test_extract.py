"""The extract stage on real news pages from the extraction benchmark."""

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from newsweb import FIXTURES, article_pages
from pipeline.config import DedupeConfig, ExtractConfig
from pipeline.errors import ExtractError
from pipeline.extract import extract_article, fallback_article
from pipeline.match.rules import parse_rule_set
from pipeline.verdict import RuleSet, judge_html
from pipeline.records import FeedEntry

GROUND_TRUTH = json.loads((FIXTURES / "articles" / "ground-truth.json").read_text())


def _f1(extracted: str, truth: str) -> float:
    """The benchmark's measure on one page: word 4-gram overlap."""
    def grams(t):
        w = re.findall(r"\w+", t)
        return Counter(tuple(w[i:i + 4]) for i in range(len(w) - 3))
    a, b = grams(extracted), grams(truth)
    tp = sum((a & b).values())
    p, r = tp / max(1, sum(a.values())), tp / max(1, sum(b.values()))
    return 2 * p * r / (p + r) if p + r else 0.0


@pytest.mark.parametrize("page_id", sorted(GROUND_TRUTH))
def test_real_pages_give_their_article(page_id):
    html = article_pages()[page_id]
    art = extract_article(html, GROUND_TRUTH[page_id]["url"], ExtractConfig())
    assert art.source == "page" and art.title
    assert _f1(art.text, GROUND_TRUTH[page_id]["articleBody"]) > 0.6


def test_metadata_comes_out():
    pid = next(k for k in GROUND_TRUTH if k.startswith("042bb7"))
    art = extract_article(article_pages()[pid], GROUND_TRUTH[pid]["url"], ExtractConfig())
    assert art.author and art.site == "Wall Street Journal"


@pytest.mark.parametrize("html", [b"", b"<html><body><p>Cookies?</p></body></html>",
                                  b"\x89PNG\r\n\x1a\n\x00\x00binary"])
def test_pages_without_article_raise(html):
    with pytest.raises(ExtractError) as err:
        extract_article(html, "http://example.org/x", ExtractConfig())
    assert str(err.value).startswith("extract: ") and "http://example.org/x" in str(err.value)


def test_worker_task_returns_a_verdict_or_a_typed_error():
    pid = next(iter(GROUND_TRUTH))
    rules = RuleSet.of(*parse_rule_set({"any": ["the"]}, [], {}))
    page = judge_html(article_pages()[pid], "http://e/x", ExtractConfig(), DedupeConfig(), rules)
    assert page.article is not None and page.fingerprint and page.error is None
    assert page.title == page.article.title and page.topic is not None
    # (the pre-filter would store it off topic unextracted: tests/test_prefilter.py)
    empty = judge_html(b"<html></html>", "http://e/y", ExtractConfig(prefilter=False),
                       DedupeConfig(), rules)
    assert empty.article is None and isinstance(empty.error, ExtractError)
    assert str(empty.error).startswith("extract: ") and empty.error.url == "http://e/y"


def test_fallback_says_so():
    entry = FeedEntry(feed_name="f", feed_url="http://f", link="http://e/1", title="T",
                      summary="S")
    art = fallback_article(entry, "fetch: 404 not found (http://e/1)")
    assert (art.title, art.text, art.source) == ("T", "S", "entry")
    assert art.fallback_reason.startswith("fetch: 404")


def test_workers_are_forked_warm():
    """What the forkserver preloads (pipeline/worker.py) leaves trafilatura's
    one-time costs paid: justext's stop words, the frozen heap; and extraction
    never reaches dateparser (htmldate's extensive search is off), whose locales
    cost 2-4 s of CPU to compile. A library upgrade that moves these would make
    every worker cold again without any test failing but this one."""
    probe = ("import gc, json, pipeline.worker\n"
             "from trafilatura import external\n"
             "from dateparser.languages.loader import LocaleDataLoader\n"
             "from newsweb import article_pages\n"
             "from pipeline.config import ExtractConfig\n"
             "from pipeline.extract import extract_article\n"
             "for html in article_pages().values():\n"
             "    try: extract_article(html, 'https://example.org/a', ExtractConfig())\n"
             "    except Exception: pass\n"
             "print(json.dumps({'frozen': gc.get_freeze_count(),\n"
             "  'stop_words': len(external.JT_STOPLIST or ()),\n"
             "  'locales': len(LocaleDataLoader._loaded_locales)}))")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=root, timeout=120, env={**os.environ, "PYTHONPATH": str(root / "tests")})
    assert out.returncode == 0, out.stderr
    warm = json.loads(out.stdout)
    assert warm["frozen"] > 10_000
    assert warm["stop_words"] > 10_000
    assert warm["locales"] == 0, warm
