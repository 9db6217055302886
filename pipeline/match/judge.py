"""Is an item on topic, and which alerts does it raise.

Each item is normalised and indexed once (``rules.analyse``) and that one
document is matched against the topic and every alert rule.
"""

from __future__ import annotations

from typing import Sequence

from pipeline.match.rules import MAX_HITS_PER_RULE, Rule, analyse, match_document
from pipeline.records import RuleMatch


def _fields(title: str, summary: str, text: str) -> dict[str, str]:
    return {"title": title or "", "summary": summary or "", "text": text or ""}


def match_alerts(alerts: Sequence[Rule], title: str, summary: str, text: str, *,
                 max_hits: int = MAX_HITS_PER_RULE) -> list[RuleMatch]:
    """The matches of every alert rule the item raises, in config order (each
    with at most ``max_hits`` hits)."""
    doc = analyse(_fields(title, summary, text))
    return [m for rule in alerts if (m := match_document(rule, doc, max_hits)) is not None]


def judge(topic: Rule, alerts: Sequence[Rule], title: str, summary: str, text: str, *,
          max_hits: int = MAX_HITS_PER_RULE) -> tuple[RuleMatch | None, list[RuleMatch]]:
    """The topic's match and, only for an item on topic, every alert's match
    (each with at most ``max_hits`` hits); the item is normalised once for all."""
    doc = analyse(_fields(title, summary, text))
    on = match_document(topic, doc, max_hits)
    if on is None:
        return None, []
    return on, [m for rule in alerts if (m := match_document(rule, doc, max_hits)) is not None]
