"""Precision, recall and F of "new" sentences, per language, on the labelled novelty set;
and of *updates* among near-copies.

    .venv/bin/python bench/novelty_eval.py [--errors] [--baseline]

The set is ``tests/fixtures/novelty/pairs.jsonl`` (see its README): report pairs, each a
report whose sentences are labelled new / not new against its known texts (seed report,
earlier reports). A report is rebuilt from its sentences (line breaks and spaces as
published), cut again by ``pipeline.novelty`` and judged; a labelled sentence counts as
predicted new when at least half of it lies in sentences the pipeline calls new.

Updates: every pair labelled ``update`` or ``copy`` is a near-copy of its known text. A
predicted update is a report the dedupe stage finds to be a near-copy of a known text
(default DedupeConfig) *and* :func:`update_sentences` calls an update (default
BriefingConfig thresholds): what ``cycle.decide`` does.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import novelty  # noqa: E402
from pipeline.config import BriefingConfig, DedupeConfig  # noqa: E402
from pipeline.dedupe import DuplicateIndex, fingerprint  # noqa: E402

PAIRS = ROOT / "tests/fixtures/novelty/pairs.jsonl"


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, gold: bool) -> None:
        if predicted and gold:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (f"P {self.precision:.3f}  R {self.recall:.3f}  F {self.f:.3f}   "
                f"tp {self.tp} fp {self.fp} fn {self.fn} tn {self.tn}")


def load_pairs(path: Path = PAIRS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


class Sources:
    """The texts a pair's ``known`` entries name."""

    def __init__(self) -> None:
        rows = [json.loads(line) for line in (ROOT / "tests/fixtures/replay/entries.jsonl")
                .read_text(encoding="utf-8").splitlines()]
        self.replay = {r["link"]: r for r in rows}
        gt = json.loads((ROOT / "tests/fixtures/ground-truth/ground-truth.json")
                        .read_text(encoding="utf-8"))
        self.bodies = {k[:12]: v["articleBody"] for k, v in gt.items()}

    def text(self, ref: str) -> str:
        kind, _, rest = ref.partition(":")
        if kind == "seed":
            return (ROOT / "seeds" / rest).read_text(encoding="utf-8")
        if kind == "replay":
            return html.unescape(self.replay[rest]["description"] or "")
        if kind == "replay-title":
            return html.unescape(self.replay[rest]["title"] or "").strip()
        if kind == "article":
            key, _, span = rest.partition(":")
            paras = [p.strip() for p in self.bodies[key].split("\n") if p.strip()]
            if span:
                start, end = (int(x) for x in span.split("-"))
                paras = paras[start:end]
            return "\n".join(paras)
        return ref           # an inline text


def report_of(pair: dict) -> tuple[str, list[tuple[int, int]]]:
    """The report's text and the [start, end) of each labelled sentence in it."""
    text, spans = "", []
    for k, s in enumerate(pair["sentences"]):
        if k:
            text += s.get("sep", "\n")
        spans.append((len(text), len(text) + len(s["text"])))
        text += s["text"]
    return text, spans


def predicted_new(pair: dict, sources: Sources) -> list[bool]:
    text, spans = report_of(pair)
    known = novelty.Knowledge(sources.text(k) for k in pair["known"])
    found = [(n.start, n.end) for n in known.new_in(text)]
    out = []
    for a, b in spans:
        covered = sum(max(0, min(b, y) - max(a, x)) for x, y in found)
        out.append(covered * 2 >= (b - a))
    return out


def sentence_scores(pairs: list[dict], sources: Sources, errors: bool = False
                    ) -> dict[str, Score]:
    scores: dict[str, Score] = {}
    for pair in pairs:
        for s, predicted in zip(pair["sentences"], predicted_new(pair, sources)):
            for key in (pair["lang"], f"{pair['lang']} {pair['origin']}"):
                scores.setdefault(key, Score()).add(predicted, s["new"])
            if errors and predicted != s["new"]:
                mark = "FP" if predicted else "FN"
                print(f"  {mark} {pair['id']}: {s['text'][:150]}")
    return scores


def update_scores(pairs: list[dict], sources: Sources, cfg: BriefingConfig,
                  errors: bool = False) -> tuple[dict[str, Score], dict[str, int]]:
    dedupe = DedupeConfig()
    scores: dict[str, Score] = {}
    near = {"update": 0, "copy": 0}
    for pair in pairs:
        if pair["kind"] not in ("update", "copy"):
            continue
        text, _ = report_of(pair)
        known = [sources.text(k) for k in pair["known"]]
        index = DuplicateIndex(dedupe)
        for n, k in enumerate(known):
            fp = fingerprint(k, dedupe)
            if fp is not None:
                index.add(str(n), fp)
        fp = fingerprint(text, dedupe)
        is_near = fp is not None and index.find_duplicate(fp) is not None
        near[pair["kind"]] += is_near
        update = is_near and novelty.update_sentences(
            text, known, min_new_sentences=cfg.update_min_new_sentences,
            min_new_share=cfg.update_min_new_share) is not None
        gold = pair["kind"] == "update"
        for key in ("all", pair["lang"]):
            scores.setdefault(key, Score()).add(update, gold)
        if errors and update != gold:
            print(f"  {'FP' if update else 'FN'} update {pair['id']} (near-copy: {is_near})")
    return scores, near


def baseline_scores(pairs: list[dict], sources: Sources) -> dict[str, tuple[float, Score]]:
    """The simple baseline of the TREC Novelty Track: a sentence is new when its highest
    similarity to any known sentence (rapidfuzz token_set_ratio on normalised text) is
    below a threshold; the best threshold per language, chosen on the set itself."""
    from rapidfuzz import fuzz, process

    from pipeline.textnorm import normalise

    rows: dict[str, list[tuple[float, bool]]] = {}
    for pair in pairs:
        known = [normalise(s.text) for k in pair["known"]
                 for s in novelty.split_sentences(sources.text(k))]
        for s in pair["sentences"]:
            best = process.extractOne(normalise(s["text"]), known, scorer=fuzz.token_set_ratio)
            rows.setdefault(pair["lang"], []).append((best[1] if best else 0.0, s["new"]))
    out = {}
    for lang, scored in rows.items():
        candidates = []
        for threshold in range(30, 100, 5):
            score = Score()
            for similarity, gold in scored:
                score.add(similarity < threshold, gold)
            candidates.append((score.f, threshold, score))
        _, threshold, score = max(candidates, key=lambda c: c[0])
        out[lang] = (threshold, score)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--errors", action="store_true", help="print every wrong decision")
    ap.add_argument("--baseline", action="store_true",
                    help="also the max-similarity baseline (rapidfuzz token_set_ratio)")
    args = ap.parse_args()
    pairs = load_pairs()
    sources = Sources()
    for lang in ("en", "ar"):
        of = [p for p in pairs if p["lang"] == lang]
        print(f"{lang}: {len(of)} pairs, {sum(len(p['sentences']) for p in of)} sentences "
              f"({sum(s['new'] for p in of for s in p['sentences'])} new)")
    scores = sentence_scores(pairs, sources, args.errors)
    for key in sorted(scores):
        print(f"new sentences {key:<28} {scores[key].line()}")
    if args.baseline:
        for lang, (threshold, score) in sorted(baseline_scores(pairs, sources).items()):
            print(f"baseline {lang} (max token_set_ratio < {threshold})  {score.line()}")
    ups, near = update_scores(pairs, sources, BriefingConfig(), args.errors)
    n_up = sum(p["kind"] == "update" for p in pairs)
    n_copy = sum(p["kind"] == "copy" for p in pairs)
    print(f"updates: {n_up} labelled updates, {n_copy} pure copies; near-copies found by "
          f"dedupe: {near['update']}/{n_up} updates, {near['copy']}/{n_copy} copies")
    for key in ("all", "en", "ar"):
        print(f"updates {key:<3} {ups[key].line()}")


if __name__ == "__main__":
    main()
