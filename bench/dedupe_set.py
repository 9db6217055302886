"""The labelled set of ``bench/dedupe_eval.py``: copies and non-copies made from
real article bodies and the seed report, as plain text.

Built from the 181 human-written article bodies of the article extraction
benchmark (``ground-truth.json``; ../shared copy if present, else
tests/fixtures/ground-truth/) and the seed report. Deterministic (seeded RNG).

Stored: every article and the seed. Queries:

* copies (should match their source): page furniture added; first or last
  paragraphs cut; headline and a sentence changed plus quote/whitespace edits;
  the article embedded in a longer page; the clean article when a longer page
  holding it is what was stored; all of these combined; and the seed with its
  furniture lines removed or replaced, cut and edited.
* not copies (should match nothing): every article against all the *others*;
  "same event" texts that take a few sentences (quotes first) of an article
  and surround them with sentences from many other articles.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import DedupeConfig
from pipeline.dedupe.fingerprints import words

ROOT = Path(__file__).resolve().parents[1]
SHARED_GT = ROOT.parent / "shared/data/article-extraction-benchmark/ground-truth.json"
FIXTURE_GT = ROOT / "tests/fixtures/ground-truth/ground-truth.json"
SEED_NAME = "000_ecf7d2cffda6f16f.txt"
SEED_FURNITURE = ["Syria latest as Assad flees to Moscow", "Read more:",
                  "From eye doctor to dictator", "Who are the Syrian rebels?"]
FURNITURE = ["Advertisement", "Skip to content", "Share this article", "Sign up for our newsletter",
             "Follow us on Facebook and Twitter", "Most read", "Image caption:", "Read more:",
             "Related stories", "This article was originally published by our partners.",
             "Copyright 2024. All rights reserved.", "Click here to get the app",
             "Comments are closed.", "Photo: Reuters", "Listen to this article"]


@dataclass
class Query:
    name: str                 # "<kind>:<source id>"
    kind: str
    text: str
    expected: frozenset[str]  # keys that are a right answer; empty: not a copy
    source: str = ""          # the article it was made from (also for non-copies)


@dataclass
class EvalSet:
    stored: list[tuple[str, str]]             # (key, text), in index order
    queries: list[Query]
    short_articles: list[str] = field(default_factory=list)
    source: str = ""


def ground_truth_path() -> Path:
    return SHARED_GT if SHARED_GT.exists() else FIXTURE_GT


def load_bodies(path: Path | None = None) -> dict[str, str]:
    data = json.loads((path or ground_truth_path()).read_text(encoding="utf-8"))
    return {k[:12]: v["articleBody"] for k, v in sorted(data.items())}


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n+", text) if p.strip()]


def sentences(text: str) -> list[str]:
    return [s.strip() for p in paragraphs(text)
            for s in re.split(r"(?<=[.!?…”\"])\s+(?=[^\W\d_])|(?<=[。！？])", p)
            if len(words(s)) >= 4]


def _cut(paras: list[str], share: float, from_start: bool) -> list[str]:
    """Drop about ``share`` of the words from one end, whole paragraphs, else sentences."""
    units = paras if len(paras) >= 4 else [s for p in paras for s in sentences(p)] or paras
    total, dropped, n = sum(len(u.split()) for u in units), 0, 0
    order = units if from_start else units[::-1]
    while n < len(order) - 1 and dropped + len(order[n].split()) <= share * total:
        dropped += len(order[n].split())
        n += 1
    kept = order[n:] if n else order
    return kept if from_start else kept[::-1]


def _furnish(paras: list[str], rng: random.Random, others: list[str]) -> list[str]:
    out = list(paras)
    for _ in range(rng.randint(3, 6)):
        line = rng.choice(FURNITURE + [f"Read more: {rng.choice(others)}"])
        out.insert(rng.randint(0, len(out)), line)
    return [rng.choice(FURNITURE)] + out + [rng.choice(FURNITURE), rng.choice(FURNITURE)]


def _edit(paras: list[str], rng: random.Random, others: list[str]) -> list[str]:
    sents = [s for p in paras for s in (sentences(p) or [p])]
    if len(sents) > 3:
        sents.pop(rng.randrange(1, len(sents)))              # a sentence dropped
    sents.insert(rng.randrange(len(sents) + 1), rng.choice(others))   # one added
    text = " ".join(sents)
    text = (text.replace("’", "'").replace("“", '"').replace("”", '"') if rng.random() < .5
            else re.sub(r'"([^"]*)"', r"“\1”", text).replace("'", "’"))
    text = re.sub(r" ", lambda m: rng.choice([" ", " ", " ", "  ", "\t"]), text)
    # paragraphs re-split at sentence ends (a copy keeps sentences whole)
    text = re.sub(r"(?<=[.!?”\"]) +", lambda m: rng.choice([" ", " ", "\n", "\n\n"]), text)
    headline = " ".join(rng.choice(others).split()[:10])
    return [headline] + paragraphs(text)


def _page_around(text: str, rng: random.Random, filler: list[str], share: float) -> str:
    """``text`` inside a page where it is about ``share`` of the words."""
    need = len(text.split()) * (1 / share - 1)
    before, after, n = [], [], 0
    for _ in range(10_000):
        s = rng.choice(filler)
        if n + len(s.split()) > need + 5:     # stay near the share asked for
            continue
        (before if rng.random() < .5 else after).append(s)
        n += len(s.split())
        if n >= need - 5:
            break
    return "\n".join(before + [text] + after)


def copies_of(key: str, text: str, rng: random.Random, filler: list[str]) -> list[Query]:
    paras, want = paragraphs(text), frozenset({key, f"page:{key}"})
    variants = {
        "furniture": _furnish(paras, rng, filler),
        "cut_start": _cut(paras, rng.uniform(.15, .35), True),
        "cut_end": _cut(paras, rng.uniform(.15, .40), False),
        "edited": _edit(paras, rng, filler),
        "combined": _furnish(_edit(_cut(paras, rng.uniform(.1, .25), rng.random() < .5),
                                   rng, filler), rng, filler),
    }
    out = [Query(f"{kind}:{key}", kind, "\n".join(p), want, key)
           for kind, p in variants.items()]
    page = _page_around(text, rng, filler, rng.uniform(.55, .8))
    out.append(Query(f"embedded:{key}", "embedded", page, want, key))
    return out


def not_copies(key: str, text: str, rng: random.Random, pool: list[list[str]]) -> Query:
    """A same-event text: 2-4 sentences of ``text`` (quotes first) amid sentences
    of at least 12 other articles, one each."""
    sents = sentences(text)
    quoted = [s for s in sents if re.search(r"[“”\"]", s)]
    taken = (quoted + [s for s in sents if s not in quoted])[:rng.randint(2, 4)]
    rest = [rng.choice(p) for p in rng.sample(pool, k=min(len(pool), rng.randint(12, 18)))]
    body = rest[:]
    for s in taken:
        body.insert(rng.randrange(len(body) + 1), s)
    return Query(f"shared_quotes:{key}", "shared_quotes", " ".join(body), frozenset(), key)


def seed_variants(seed: str, rng: random.Random, filler: list[str]) -> list[Query]:
    lines = [ln for ln in seed.splitlines() if ln.strip()]
    clean = [ln for ln in lines if ln.strip() not in SEED_FURNITURE]
    replaced = [ln if ln.strip() not in SEED_FURNITURE else rng.choice(FURNITURE) for ln in lines]
    want = frozenset({SEED_NAME})
    texts = {"seed_no_furniture": clean, "seed_other_furniture": _furnish(replaced, rng, filler),
             "seed_cut_start": _cut(clean, .3, True), "seed_cut_end": _cut(clean, .35, False),
             "seed_edited": _edit(clean, rng, filler),
             "seed_combined": _furnish(_edit(_cut(clean, .2, False), rng, filler), rng, filler)}
    out = [Query(k, k, "\n".join(v), want, SEED_NAME) for k, v in texts.items()]
    out.append(Query("seed_embedded", "seed_embedded", _page_around("\n".join(clean), rng,
                                                                     filler, .6), want, SEED_NAME))
    return out


def build_set(bodies: dict[str, str], seed_text: str, cfg: DedupeConfig,
              rng_seed: int = 20241209) -> EvalSet:
    rng = random.Random(rng_seed)
    long_ = {k: t for k, t in bodies.items() if len(t.split()) >= cfg.min_words}
    # filler (added sentences, "Read more" lines, page text) is sentences of
    # other articles, of sentence length: a 300-word "sentence" would be a copy
    pools = {k: [s for s in sentences(t) if len(words(s)) <= 40] for k, t in bodies.items()}
    pools = {k: p for k, p in pools.items() if len(p) >= 3}
    stored = [(SEED_NAME, seed_text)] + list(long_.items())
    queries: list[Query] = []
    for key, text in long_.items():
        # filler is never taken from the article itself
        others = [s for k, p in pools.items() if k != key for s in p]
        queries += copies_of(key, text, rng, others)
        queries.append(not_copies(key, text, rng, [p for k, p in pools.items() if k != key]))
        # stored: a page holding the article; query: the clean article
        page_key = f"page:{key}"
        stored.append((page_key, _page_around(text, rng, others, rng.uniform(.35, .7))))
        queries.append(Query(f"inside_stored_page:{key}", "inside_stored_page", text,
                             frozenset({key, page_key}), page_key))
    queries += seed_variants(seed_text, rng, [s for p in pools.values() for s in p])
    return EvalSet(stored=stored, queries=queries, source=str(ground_truth_path()),
                   short_articles=sorted(set(bodies) - set(long_)))
