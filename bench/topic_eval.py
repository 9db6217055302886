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
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import DedupeConfig, load_settings  # noqa: E402
from pipeline.extract import fallback_article  # noqa: E402
from pipeline.feeds import parse_feed  # noqa: E402
from pipeline.match.rules import Rule  # noqa: E402
from pipeline.records import FeedEntry  # noqa: E402
from pipeline.verdict import RuleSet, judge_page  # noqa: E402

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


def as_feed_entries(rows: list[tuple[dict, bool, str]]) -> list[FeedEntry]:
    """The rows as the cycle sees them: written back into one RSS document and
    read by the feed stage (its own markup removal and entity decoding)."""
    items = "".join(
        f"<item><guid isPermaLink=\"false\">g{i}</guid><link>{escape(e['link'])}</link>"
        f"<title>{escape(e.get('title') or '')}</title>"
        f"<description>{escape(e.get('description') or '')}</description></item>"
        for i, (e, _, _) in enumerate(rows))
    body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{items}</channel></rss>'
    parsed = parse_feed(body.encode("utf-8"), feed_name="replay", feed_url="https://replay.example/")
    by_guid = {e.guid: e for e in parsed.entries}
    return [by_guid[f"g{i}"] for i in range(len(rows))]


def evaluate(topic: Rule, rows: list[tuple[dict, bool, str]]) -> Score:
    """The topic verdict the cycle gives an entry whose page gave nothing (the
    replay has no pages): ``judge_page`` on the entry's own title and summary."""
    score = Score()
    entries = as_feed_entries(rows)
    rules, dedupe_cfg = RuleSet.of(topic, ()), DedupeConfig()
    began = time.perf_counter()
    for fe, (entry, relevant, why) in zip(entries, rows):
        match = judge_page(fallback_article(fe, "replay: no page"), fe.title, fe.summary, rules,
                           dedupe_cfg).topic
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
