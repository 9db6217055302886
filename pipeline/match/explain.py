"""Why a rule matched or did not, clause by clause: what ``newswatch test-rules``
prints. Reads the rule language's records and matching; changes nothing."""

from __future__ import annotations

from typing import Mapping

from pipeline.match.rules import (Alternatives, Clause, Rule, Span, Term, analyse, found_terms,
                                  match_document, within_limit)
from pipeline.textnorm import Document

def _where(hits: list[tuple[Term, Span]], doc: Document, limit: int = 3) -> str:
    shown = []
    for term, (first, last) in hits[:limit]:
        field, start, end, text = doc.original(first, last)
        shown.append(f"{term.label()} → {text!r} ({field} {start}-{end})")
    more = f" and {len(hits) - limit} more" if len(hits) > limit else ""
    return "; ".join(shown) + more


def _names(terms: Alternatives, limit: int = 6) -> str:
    # a variant set is named once ({Detention}), not spelled out term by term
    labels = list(dict.fromkeys(f"{{{t.via}}}" if t.via else t.text for t in terms))
    return ", ".join(labels[:limit]) + (", …" if len(labels) > limit else "")


def _explain_clause(clause: Clause, doc: Document) -> tuple[bool, list[str]]:
    lines, ok = [], True
    if clause.any:
        found = found_terms(clause.any, doc)
        ok &= bool(found)
        lines.append(f"any: found {_where(found, doc)}" if found
                     else f"any: none of {_names(clause.any)} found")
    for i, alternatives in enumerate(clause.all):
        found = found_terms(alternatives, doc)
        ok &= bool(found)
        lines.append(f"all[{i}]: found {_where(found, doc)}" if found
                     else f"all[{i}]: missing — none of {_names(alternatives)} found")
    if clause.within is not None and ok:
        near = within_limit([[s for _, s in found_terms(a, doc)] for a in clause.all], clause.within)
        ok &= near
        lines.append(f"within {clause.within}: " + ("yes, the all items are close enough"
                     if near else "no, the all items are further apart than that"))
    vetoed = found_terms(clause.none, doc)
    if vetoed:
        ok = False
        lines.append(f"none: vetoed by {_where(vetoed, doc)}")
    return ok, lines


def explain_rule(rule: Rule, fields: Mapping[str, str]) -> list[str]:
    """Human-readable lines: which clause and term matched or failed, and why."""
    doc = analyse(fields)
    result = match_document(rule, doc)
    lines = [f"rule {rule.name!r}: " + ("MATCHES" if result else "does not match")]
    vetoed = found_terms(rule.none, doc)
    if vetoed:
        lines.append(f"  vetoed by none: {_where(vetoed, doc)}")
    for i, clause in enumerate(rule.clauses):
        ok, details = _explain_clause(clause, doc)
        head = f"clause {i + 1} of {len(rule.clauses)}" if len(rule.clauses) > 1 else "clause"
        lines.append(f"  {head}: {'matches' if ok else 'fails'}")
        lines.extend(f"    {d}" for d in details)
    return lines
