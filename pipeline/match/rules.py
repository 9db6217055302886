"""The rule language: parse it from the config, match it against an item.

A rule is a named set of *clauses*; it matches when any clause matches and
none of the rule's ``none`` terms occurs. A clause has

- ``any``: at least one of these terms occurs;
- ``all``: each item occurs; an item is a term or a list of alternative terms;
- ``none``: none of these terms occurs (only this clause is vetoed);
- ``within: N``: the ``all`` items occur within N words of each other.

In the YAML a rule with one clause writes its keys directly
(``{any: [...], all: [...], none: [...], within: 8}``); a rule with several
writes ``{any_of: [{...}, {...}], none: [...]}``. A term is a word, a phrase
(a multi-word string, optionally in double quotes), a prefix (``detain*``) or a
reference to a variant set (``{Sednaya}``). Matching is on title, summary and
text, on whole words of the normalised text (see pipeline/textnorm.py); word
distances for ``within`` run through title, summary and text in that order.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Any, Mapping

from pipeline.errors import ConfigError
from pipeline.records import RuleMatch, TermHit
from pipeline.textnorm import Document, normalise, words

CLAUSE_KEYS = ("any", "all", "none", "within")
# A match keeps its first hits only: the digest shows a few, and a page repeating
# a term 100,000 times made megabytes of stored JSON per row
MAX_HITS_PER_RULE = 50
MAX_MATCHED_CHARS = 200     # of the text a hit quotes (a phrase may span much punctuation)
_VARIANT_REF = re.compile(r"^\{\s*([^{}]+?)\s*\}$")


@dataclass(frozen=True)
class Term:
    text: str                           # as written in the config (a variant's spelling)
    words: tuple[tuple[str, bool], ...]  # (normalised word, is a prefix)
    via: str | None = None              # the variant set it came from, if any

    def label(self) -> str:
        return f"{{{self.via}}}={self.text}" if self.via else self.text


Alternatives = tuple[Term, ...]


@dataclass(frozen=True)
class Clause:
    any: Alternatives = ()
    all: tuple[Alternatives, ...] = ()
    none: Alternatives = ()
    within: int | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    clauses: tuple[Clause, ...]
    none: Alternatives = ()


# ---------------------------------------------------------------- parsing

class _Ctx:
    """Where we are in the config, for error messages that name the rule and key."""

    def __init__(self, rule: str, file: str | None):
        self.rule, self.file = rule, file

    def fail(self, message: str, key: str) -> ConfigError:
        return ConfigError(f"rule {self.rule!r}: {message}", file=self.file, key=key)


def parse_term(raw: Any, variants: Mapping[str, tuple[str, ...]], ctx: _Ctx, key: str
               ) -> Alternatives:
    """One term as written; a variant reference gives all of its spellings."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)            # YAML reads a bare 2011 or 215 as a number
    if not isinstance(raw, str):
        raise ctx.fail(f"a term must be a string, not {type(raw).__name__}", key)
    ref = _VARIANT_REF.match(raw.strip())
    if ref:
        name = ref.group(1)
        if name not in variants:
            known = ", ".join(sorted(variants)) or "none defined"
            raise ctx.fail(f"unknown variant set {{{name}}} (known: {known})", key)
        return tuple(_plain_term(s, ctx, key, via=name) for s in variants[name])
    if "{" in raw or "}" in raw:
        raise ctx.fail(f"{raw!r}: write a variant reference alone, as {{Name}}", key)
    return (_plain_term(raw, ctx, key),)


def _plain_term(raw: str, ctx: _Ctx, key: str, via: str | None = None) -> Term:
    text = normalise(raw).strip()
    if text.startswith('"') or text.endswith('"') or '"' in text:
        if len(text) < 2 or not (text.startswith('"') and text.endswith('"')) \
                or '"' in text[1:-1]:
            raise ctx.fail(f"{raw!r}: unbalanced quote; quote a whole phrase: '\"a b\"'", key)
        text = text[1:-1]
    found = [(_drop_article(word), text[end:end + 1] == "*") for word, _, end in words(text)]
    if re.search(r"(?<!\w)\*|\*(?=\w)", text):
        raise ctx.fail(f"{raw!r}: '*' may only end a word (detain*)", key)
    if not found:
        raise ctx.fail("empty term" + (f" {raw!r}" if raw.strip() else ""), key)
    return Term(raw.strip(), tuple(found), via)


def _drop_article(word: str) -> str:
    """"المعتقلين" in a rule also finds "معتقلين": the article is optional in the text."""
    if word.startswith("ال") and len(word) >= 5:
        return word[2:]
    return word


def _term_list(raw: Any, variants, ctx: _Ctx, key: str) -> Alternatives:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise ctx.fail("must be a list of terms", key)
    out: list[Term] = []
    for i, item in enumerate(raw):
        out.extend(parse_term(item, variants, ctx, f"{key}[{i}]"))
    return tuple(out)


def _parse_clause(raw: Any, variants, ctx: _Ctx, key: str) -> Clause:
    if not isinstance(raw, Mapping):
        raise ctx.fail("a clause is a mapping with any / all / none / within", key)
    unknown = sorted(set(raw) - set(CLAUSE_KEYS))
    if unknown:
        raise ctx.fail(f"unknown key {unknown[0]!r}; allowed: {', '.join(CLAUSE_KEYS)}",
                       f"{key}.{unknown[0]}" if key else unknown[0])
    dot = f"{key}." if key else ""
    any_ = _term_list(raw.get("any") or [], variants, ctx, f"{dot}any")
    all_ = _parse_all(raw.get("all") or [], variants, ctx, f"{dot}all")
    none = _term_list(raw.get("none") or [], variants, ctx, f"{dot}none")
    if not any_ and not all_:
        raise ctx.fail("empty rule: give at least one term under any or all", key or "any")
    within = raw.get("within")
    if within is not None:
        if isinstance(within, bool) or not isinstance(within, int) or within < 1:
            raise ctx.fail(f"within must be a whole number of words >= 1, not {within!r}",
                           f"{dot}within")
        if len(all_) < 2:
            raise ctx.fail("within needs at least two items under all", f"{dot}within")
    return Clause(any_, all_, none, within)


def _parse_all(raw: Any, variants, ctx: _Ctx, key: str) -> tuple[Alternatives, ...]:
    if not isinstance(raw, list):
        raise ctx.fail("all must be a list; each item a term or a list of alternatives", key)
    items = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            items.append(parse_term(item, variants, ctx, f"{key}[{i}]"))
        elif isinstance(item, list) and item:
            items.append(_term_list(item, variants, ctx, f"{key}[{i}]"))
        else:
            raise ctx.fail("each item of all must be a term or a non-empty list of terms",
                           f"{key}[{i}]")
    return tuple(items)


def parse_rule(name: str, raw: Mapping, variants: Mapping[str, tuple[str, ...]], *,
               key: str, file: str | None = None) -> Rule:
    """A rule from its YAML mapping; ``key`` is where it sits (``alerts[2]``)."""
    ctx = _Ctx(name, file)
    if not isinstance(raw, Mapping) or not raw:
        raise ctx.fail("empty rule: give any / all / none (or any_of)", key)
    if "any_of" not in raw:
        clause = _parse_clause(raw, variants, ctx, key)
        return Rule(name, (Clause(clause.any, clause.all, (), clause.within),), clause.none)
    unknown = sorted(set(raw) - {"any_of", "none"})
    if unknown:
        raise ctx.fail(f"unknown key {unknown[0]!r} beside any_of; allowed: any_of, none "
                       "(put any/all/within inside a clause)", f"{key}.{unknown[0]}")
    clauses_raw = raw["any_of"]
    if not isinstance(clauses_raw, list) or not clauses_raw:
        raise ctx.fail("any_of must be a non-empty list of clauses", f"{key}.any_of")
    clauses = tuple(_parse_clause(c, variants, ctx, f"{key}.any_of[{i}]")
                    for i, c in enumerate(clauses_raw))
    none = _term_list(raw.get("none") or [], variants, ctx, f"{key}.none")
    return Rule(name, clauses, none)


def parse_variants(raw: Any, *, file: str | None = None) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise ConfigError("variants must map a name to a list of spellings", file=file,
                          key="variants")
    out = {}
    for name, spellings in raw.items():
        key = f"variants.{name}"
        if isinstance(spellings, str):
            spellings = [spellings]
        if not isinstance(spellings, list) or not spellings or \
                not all(isinstance(s, str) and s.strip() for s in spellings):
            raise ConfigError(f"variant set {name!r} must be a non-empty list of terms",
                              file=file, key=key)
        if any(_VARIANT_REF.match(s.strip()) for s in spellings):
            raise ConfigError(f"variant set {name!r} may not refer to another set",
                              file=file, key=key)
        ctx = _Ctx(f"variants.{name}", file)
        for i, s in enumerate(spellings):     # fail early on a bad spelling
            _plain_term(s, ctx, f"{key}[{i}]")
        out[str(name)] = tuple(dict.fromkeys(s.strip() for s in spellings))
    return out


def parse_rule_set(topic_raw: Any, alerts_raw: Any, variants_raw: Any, *,
                   file: str | None = None) -> tuple[Rule, tuple[Rule, ...]]:
    """The topic rule and the alert rules of a config file."""
    variants = parse_variants(variants_raw or {}, file=file)
    if topic_raw is None:
        raise ConfigError("a topic rule is required", file=file, key="topic")
    topic = parse_rule("topic", topic_raw, variants, key="topic", file=file)
    if not isinstance(alerts_raw, list):
        raise ConfigError("alerts must be a list of {name, ...rule}", file=file, key="alerts")
    alerts, names = [], set()
    for i, item in enumerate(alerts_raw):
        key = f"alerts[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError("each alert is a mapping with a name and a rule",
                              file=file, key=key)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("each alert needs a name", file=file, key=f"{key}.name")
        name = name.strip()
        if name in names:
            raise ConfigError(f"rule {name!r}: alert names must be unique", file=file,
                              key=f"{key}.name")
        names.add(name)
        # "notify" (the rule's own delivery channels) is read by pipeline.deliver
        body = {k: v for k, v in item.items() if k not in ("name", "notify")}
        alerts.append(parse_rule(name, body, variants, key=key, file=file))
    return topic, tuple(alerts)


# ---------------------------------------------------------------- matching

Span = tuple[int, int]   # first and last token position of one occurrence


def occurrences(term: Term, doc: Document) -> list[Span]:
    """Where ``term`` occurs in ``doc``, as token spans (cached on the document)."""
    found = doc.cache.get(term)
    if found is not None:
        return found
    (first, first_prefix), rest = term.words[0], term.words[1:]
    spans = []
    for p in doc.positions(first, first_prefix):
        last = p + len(rest)
        if last >= len(doc) or doc.field_of(last) != doc.field_of(p):
            continue     # a phrase does not run from one field into the next
        if all(doc.matches_at(p + k + 1, w, pre) for k, (w, pre) in enumerate(rest)):
            spans.append((p, last))
    doc.cache[term] = spans
    return spans


def found_terms(terms: Alternatives, doc: Document) -> list[tuple[Term, Span]]:
    return [(t, s) for t in terms for s in occurrences(t, doc)]


def within_limit(groups: list[list[Span]], limit: int) -> bool:
    """Is there one span from each group, the last start at most ``limit`` words
    after the first end? Each span in turn is tried as the one that starts last."""
    prepared = []
    for spans in groups:
        spans = sorted(spans)
        prepared.append(([s for s, _ in spans], list(accumulate((e for _, e in spans), max))))
    for spans in groups:
        for anchor, _ in spans:
            if all((i := bisect_right(starts, anchor)) and best_end[i - 1] >= anchor - limit
                   for starts, best_end in prepared):
                return True
    return False


def clause_hits(clause: Clause, doc: Document) -> list[tuple[Term, Span]] | None:
    """The hits that make the clause match, or None when it does not."""
    hits = found_terms(clause.any, doc)
    if clause.any and not hits:
        return None
    groups = []
    for alternatives in clause.all:
        found = found_terms(alternatives, doc)
        if not found:
            return None
        groups.append(found)
    if clause.within is not None and \
            not within_limit([[s for _, s in g] for g in groups], clause.within):
        return None
    if found_terms(clause.none, doc):
        return None
    return hits + [h for g in groups for h in g]


def match_document(rule: Rule, doc: Document, max_hits: int = MAX_HITS_PER_RULE
                   ) -> RuleMatch | None:
    """The rule's match on ``doc`` with its first ``max_hits`` hits, or None."""
    if found_terms(rule.none, doc):
        return None
    hits: list[tuple[Term, Span]] = []
    for clause in rule.clauses:
        found = clause_hits(clause, doc)
        if found is not None:
            hits.extend(found)
    if not hits:
        return None
    return RuleMatch(rule=rule.name, hits=_term_hits(hits, doc, max_hits))


def _term_hits(hits: list[tuple[Term, Span]], doc: Document, limit: int
               ) -> tuple[TermHit, ...]:
    """One hit per span, in text order, the first ``limit`` of them."""
    out: dict[Span, TermHit] = {}
    for term, (first, last) in sorted(hits, key=lambda h: h[1]):
        if len(out) >= limit:
            break
        if (first, last) not in out:
            field, start, end, text = doc.original(first, last)
            out[(first, last)] = TermHit(term.text, field, start, end, text[:MAX_MATCHED_CHARS])
    return tuple(out.values())


@lru_cache(maxsize=16)
def _cached_document(items: tuple[tuple[str, str], ...]) -> Document:
    return Document.of(dict(items))


def analyse(fields: Mapping[str, str]) -> Document:
    """The normalised, indexed item; the same fields give the same (cached) document."""
    return _cached_document(tuple((k, v or "") for k, v in fields.items()))


def match_rule(rule: Rule, fields: Mapping[str, str]) -> RuleMatch | None:
    """The rule's match on ``{"title": ..., "summary": ..., "text": ...}``, or None."""
    return match_document(rule, analyse(fields))
