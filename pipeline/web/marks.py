"""Where to highlight: the words of a stored item that an alert rule or the
search matched, as (segment, is_match) pairs the templates mark up, and the
sentences each report of a story added to the ones before it."""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from pipeline.match import rules, snippet
from pipeline.records import StoredItem, TermHit
from pipeline.textnorm import normalise, words

Segments = list[tuple[str, bool]]
_SENTENCE_END = re.compile(r"(?<=[.!?؟…])\s+|\n+")
_MIN_SENTENCE_WORDS = 4


def query_hits(item: StoredItem, rule: rules.Rule | None) -> tuple[TermHit, ...]:
    """Where the search's terms occur in the item (the rule language finds them,
    so the highlight falls on the word that made the item match)."""
    if rule is None:
        return ()
    found = rules.match_rule(rule, {"title": item.title, "summary": item.summary,
                                    "text": item.text})
    return found.hits if found else ()


def alert_hits(item: StoredItem) -> list[TermHit]:
    return [h for m in item.alerts for h in m.hits]


def marked(text: str, hits: Iterable[TermHit], field: str) -> Segments:
    """All of ``text`` as segments, the hits in ``field`` marked."""
    spans = sorted((h.start, h.end) for h in hits
                   if h.field == field and 0 <= h.start < h.end <= len(text))
    out: Segments = []
    pos = 0
    for start, end in spans:
        if start < pos:            # overlapping hits: one mark
            start = pos
        if start >= end:
            continue
        out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    out.append((text[pos:], False))
    return [(seg, hit) for seg, hit in out if seg]


def paragraphs(segments: Segments) -> list[Segments]:
    """Segments cut at line breaks, for <p> elements."""
    paras: list[Segments] = [[]]
    for seg, hit in segments:
        parts = re.split(r"\n\s*", seg) if not hit else [seg]
        for i, part in enumerate(parts):
            if i:
                paras.append([])
            if part:
                paras[-1].append((part, hit))
    return [p for p in paras if p]


def best_snippet(item: StoredItem, hits: Sequence[TermHit]) -> Segments:
    """The excerpt around the first hit, from text, else summary, else the start."""
    for field in ("text", "summary"):
        source = getattr(item, field)
        if source and any(h.field == field for h in hits):
            return snippet(source, hits, field=field)
    return snippet(item.text or item.summary, ())


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text or "")
            if len(words(normalise(s))) >= _MIN_SENTENCE_WORDS]


def _key(sentence: str) -> str:
    return " ".join(w for w, _, _ in words(normalise(sentence)))


def what_each_added(items: Sequence[StoredItem], limit: int = 3) -> list[tuple[list[str], int]]:
    """For each report in order: (up to ``limit`` of its sentences that no earlier
    report had, how many such sentences there are)."""
    seen: set[str] = set()
    out = []
    for item in items:
        fresh = []
        for sentence in _sentences(item.text or item.summary):
            key = _key(sentence)
            if key not in seen:
                seen.add(key)
                fresh.append(sentence)
        out.append((fresh[:limit], len(fresh)))
    return out
