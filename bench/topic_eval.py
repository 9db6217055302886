"""Measure the default topic rule on the replay of real feed entries.

    .venv/bin/python bench/topic_eval.py [--config config/watch.yaml] [--data DIR] [--quiet]

Runs the topic rule of the config over each entry's title and description
(tags stripped, entities unescaped: plain text, as a feed parser gives it)
and prints precision, recall, F1, the counts, and every miss with its title.
Reads ../shared/data/replay when it exists, else tests/fixtures/replay.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.alerts import on_topic  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.rules import Rule  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "replay"
FIXTURE = ROOT / "tests" / "fixtures" / "replay"
_TAG = re.compile(r"<[^>]+>")


def plain(markup: str | None) -> str:
    """Feed markup as plain text: tags out, entities (&#039; &amp; …) decoded."""
    return " ".join(html.unescape(_TAG.sub(" ", markup or "")).split())


def data_dir() -> Path:
    return SHARED if (SHARED / "entries.jsonl").exists() else FIXTURE


def load(directory: Path) -> list[tuple[dict, bool, str]]:
    """(entry, relevant, why) for each entry that has a label."""
    labels = {}
    with open(directory / "labels.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                labels[row["link"]] = (bool(row["relevant"]), row.get("why", ""))
    out = []
    with open(directory / "entries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entry = json.loads(line)
                if entry["link"] in labels:
                    out.append((entry, *labels[entry["link"]]))
    return out


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    false_negatives: list[tuple[dict, str]] = field(default_factory=list)
    false_positives: list[tuple[dict, str, list[str]]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(topic: Rule, rows: list[tuple[dict, bool, str]]) -> Score:
    score = Score()
    began = time.perf_counter()
    for entry, relevant, why in rows:
        match = on_topic(topic, plain(entry.get("title")), plain(entry.get("description")), "")
        if match and relevant:
            score.tp += 1
        elif match:
            score.fp += 1
            score.false_positives.append((entry, why, match.keywords))
        elif relevant:
            score.fn += 1
            score.false_negatives.append((entry, why))
        else:
            score.tn += 1
    score.seconds = time.perf_counter() - began
    return score


def report(score: Score, source: Path, n: int) -> str:
    lines = [f"data: {source} ({n} labelled entries)",
             f"precision {score.precision:.3f}  recall {score.recall:.3f}  F1 {score.f1:.3f}",
             f"tp {score.tp}  fp {score.fp}  fn {score.fn}  tn {score.tn}"
             f"  ({score.seconds * 1000 / max(n, 1):.3f} ms per entry)"]
    lines.append(f"\nfalse negatives ({score.fn}):")
    lines += [f"  - {plain(e.get('title'))}  [{why}]" for e, why in score.false_negatives]
    lines.append(f"\nfalse positives ({score.fp}):")
    lines += [f"  + {plain(e.get('title'))}  [matched: {', '.join(kw)}; label: {why}]"
              for e, why, kw in score.false_positives]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "watch.yaml"))
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    source = args.data or data_dir()
    rows = load(source)
    topic = load_settings(args.config).topic
    print(report(evaluate(topic, rows), source, len(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
