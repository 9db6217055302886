"""The search box's language, read into a storage query and a highlighting rule.

    Sednaya prison          both words, anywhere in the report
    "mass grave"            the words together, in this order
    Tadamon OR Tadamun      either
    Sednaya -football       without "football"
    detain*                 any word starting so
    {Sednaya}               every spelling of a variant set in the config

Words are normalised as the rule language normalises them (accents, hamza
forms, tashkeel, Arabic prefixes: see pipeline/textnorm.py), and a word that is
one of the spellings of a name in the config's variant sets (a set of
capitalised names, no ``*``, such as Sednaya's) stands for all of them: Saydnaya
finds Sednaya and صيدنايا. Sets of ideas (Detention, Syria …) are expanded only
when asked for with ``{Name}``: "missing" should not find every prison story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.match import rules
from pipeline.textnorm import normalise, words
from storage import SearchQuery, SearchTerm

MAX_TERMS = 24
MAX_WORD = 100          # characters; no word is longer, and PostgreSQL refuses 2 KB lexemes
_TOKEN = re.compile(r'(?P<neg>-?)(?:"(?P<phrase>[^"]*)"?|\{(?P<set>[^{}]*)\}?'
                    r'|(?P<word>[^\s"{}]+))')


@dataclass
class ParsedQuery:
    text: str
    groups: tuple[tuple[SearchTerm, ...], ...] = ()
    exclude: tuple[SearchTerm, ...] = ()
    highlight: rules.Rule | None = None       # the positive terms, to mark in results
    # variant sets used: {"asked": "Saydnaya", "set": "Sednaya", "spellings": [...]}
    expanded: list[dict] = field(default_factory=list)
    error: str | None = None

    def storage_query(self, **filters) -> SearchQuery:
        return SearchQuery(groups=self.groups, exclude=self.exclude, **filters)


def variant_sets(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The config's variant sets, as its rules use them ({name: spellings})."""
    found: dict[str, dict[str, None]] = {}
    for rule in (settings.topic, *settings.alerts):
        if not hasattr(rule, "clauses"):     # a watched person: spellings are generated
            continue
        for clause in rule.clauses:
            terms = [*clause.any, *clause.none, *(t for alt in clause.all for t in alt)]
            for term in terms:
                if term.via:
                    found.setdefault(term.via, {})[term.text] = None
        for term in rule.none:
            if term.via:
                found.setdefault(term.via, {})[term.text] = None
    return {name: tuple(spellings) for name, spellings in found.items()}


def _name_sets(variants: dict[str, tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """normalised words of a spelling -> its set, for sets of one name's spellings."""
    out = {}
    for name, spellings in variants.items():
        latin = [s for s in spellings if s.isascii()]
        if any("*" in s for s in spellings) or not all(s[:1].isupper() for s in latin):
            continue
        for s in spellings:
            out[tuple(w for w, _, _ in words(normalise(s.strip('"'))))] = name
    return out


def parse_query(text: str, variants: dict[str, tuple[str, ...]]) -> ParsedQuery:
    """The query typed in the box; ``error`` says what to fix when it cannot be used."""
    parsed = ParsedQuery(text=text)
    names = _name_sets(variants)
    groups: list[list[str]] = []
    exclude: list[str] = []
    join_next = False
    for m in _TOKEN.finditer(text[:1000]):
        if m.group("word") == "OR" and not m.group("neg"):
            join_next = bool(groups)
            continue
        raw = _rule_term(m, names, variants, parsed)
        if raw is None:
            continue
        if m.group("neg"):
            exclude.append(raw)
        elif join_next:
            groups[-1].append(raw)
        else:
            groups.append([raw])
        join_next = False
    if sum(map(len, groups)) + len(exclude) > MAX_TERMS:
        parsed.error = f"at most {MAX_TERMS} terms, please"
        return parsed
    try:
        parsed.groups = tuple(tuple(_terms(g, variants)) for g in groups)
        parsed.exclude = tuple(_terms(exclude, variants))
        positives = [t for g in groups for t in g]
        if positives:
            parsed.highlight = rules.parse_rule("search", {"any": positives}, variants,
                                                key="q")
    except ConfigError as exc:
        parsed.error = exc.reason.replace("rule 'search': ", "")
    return parsed


def _rule_term(m: re.Match, names: dict, variants: dict, parsed: ParsedQuery) -> str | None:
    """One token of the box as a term of the rule language (None: nothing left)."""
    if m.group("set") is not None:
        name = m.group("set").strip()
        if name in variants:
            parsed.expanded.append({"asked": "{" + name + "}", "set": name,
                                    "spellings": list(variants[name])})
            return "{" + name + "}"
        return _quoted(name)
    if m.group("phrase") is not None:
        return _quoted(m.group("phrase"))
    prefix = m.group("word").endswith("*")
    key = tuple(w for w, _, _ in words(normalise(m.group("word").replace("*", " "))))
    if not key or any(len(w) > MAX_WORD for w in key):
        return None                     # nothing, or no word: a pasted URL, base64
    if not prefix and key in names:
        name = names[key]
        others = [s for s in variants[name] if normalise(s) != " ".join(key)]
        parsed.expanded.append({"asked": m.group("word"), "set": name, "spellings": others})
        return "{" + name + "}"
    if len(key) > 1:
        return '"' + " ".join(key) + '"'
    return key[0] + ("*" if prefix else "")


def _quoted(phrase: str) -> str | None:
    inner = " ".join(w for w, _, _ in words(normalise(phrase)) if len(w) <= MAX_WORD)
    return f'"{inner}"' if inner else None


def _terms(raw_terms: list[str], variants: dict) -> list[SearchTerm]:
    if not raw_terms:
        return []
    rule = rules.parse_rule("search", {"any": raw_terms}, variants, key="q")
    return [SearchTerm(words=t.words) for t in rule.clauses[0].any]
