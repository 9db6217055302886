"""Is an item on topic, and which alerts does it raise.

Each item is normalised and indexed once (``rules.analyse``) and that one
document is matched against the topic and every alert rule. Watched people
(``people.Person``) are alert rules too, found all at once through their
watchlist; a person with ``on_topic`` also keeps an item the topic rule would
drop (a headline naming only the person).
"""

from __future__ import annotations

from typing import Sequence

from pipeline.match import people
from pipeline.match.rules import MAX_HITS_PER_RULE, Rule, analyse, match_document
from pipeline.records import RuleMatch
from pipeline.textnorm import Document


def _fields(title: str, summary: str, text: str) -> dict[str, str]:
    return {"title": title or "", "summary": summary or "", "text": text or ""}


def _alert_matches(alerts: Sequence, doc: Document, max_hits: int) -> list[RuleMatch]:
    """Every alert's match, people included, in config order (people come first),
    each with at most ``max_hits`` hits."""
    named = people.match_people(alerts, doc)
    return [m for rule in alerts
            if (m := named.get(rule.name) if people.is_person(rule)
                else match_document(rule, doc, max_hits)) is not None]


def match_alerts(alerts: Sequence, title: str, summary: str, text: str, *,
                 max_hits: int = MAX_HITS_PER_RULE) -> list[RuleMatch]:
    """The matches of every alert rule the item raises, in config order."""
    return _alert_matches(alerts, analyse(_fields(title, summary, text)), max_hits)


def judge(topic: Rule, alerts: Sequence, title: str, summary: str, text: str, *,
          max_hits: int = MAX_HITS_PER_RULE) -> tuple[RuleMatch | None, list[RuleMatch]]:
    """The topic's match and, only for an item on topic, every alert's match;
    the item is normalised once for all of them. A watched person (on_topic)
    named in the item puts it on topic."""
    doc = analyse(_fields(title, summary, text))
    on = match_document(topic, doc, max_hits) or people.topic_match(topic.name, alerts, doc)
    if on is None:
        return None, []
    return on, _alert_matches(alerts, doc, max_hits)


def explain_match(rule, fields: dict[str, str]) -> tuple[bool, list[str]]:
    """Does the rule (an alert rule or a watched person) match, and why."""
    from pipeline.match.explain import explain_rule

    doc = analyse(fields)
    if people.is_person(rule):
        return rule.name in people.match_people((rule,), doc), people.explain_person(rule, doc)
    return match_document(rule, doc) is not None, explain_rule(rule, fields)
