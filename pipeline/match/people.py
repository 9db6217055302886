"""A watchlist of people: each person is an alert rule named after them and,
unless ``on_topic: false``, a reason to keep an item.

A person is written once in the config (``name`` and the ``also`` forms, any
script); every spelling of it is found through the name *parts* (see
pipeline/match/names.py for when two spellings are one name). A person is
found only where two parts stand side by side, so namesakes and generic names
do not match:

- two distinctive parts, in order (Mazen … Hamada) or swapped (Hamada, Mazen);
- or a whole form in order, when it has generic parts (Omar Alshogre: Omar is
  a generic name; Abu Mohammed al-Jolani);
- a lone part never: "Mohammed", "Abu Ahmad" (one part: a kunya), "Hamada".

Between two parts the text may have an article (al-, el-), one middle name or
initial, spaces, hyphens and apostrophes, never a sentence or list break. A
long part (7 Latin letters, 5 Arabic) beside a part found exactly may be one
letter off. Each match says which config form it came through and why each
part matched; ``explain_person`` is what ``test-rules`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from pipeline.errors import ConfigError
from pipeline.match import names
from pipeline.match.chains import Occurrence
from pipeline.match.watchlist import Watchlist
from pipeline.records import RuleMatch, TermHit
from pipeline.textnorm import Document

PERSON_KEYS = ("name", "also", "note", "on_topic")
MAX_HITS = 10          # occurrences kept per person and item (the digest shows a few)


@dataclass(frozen=True)
class Part:
    shown: str             # as written in the config: "al-Hamada", "Abdul Basit"
    kind: str              # "" or the compound it is: "abd", "abu", "umm", "bin"
    word: str              # the main word, normalised, without the article
    generic: bool          # too common to tell a person by (Mohammed, Abu Ahmad)
    article: bool = False  # written with the article (al-Hamada, الحمادة)


@dataclass(frozen=True)
class Form:
    label: str             # one spelling of the person as written in the config
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Person:
    """One watched person; an alert rule (``name`` is the rule's name)."""

    name: str
    also: tuple[str, ...] = ()
    note: str = ""
    on_topic: bool = True
    forms: tuple[Form, ...] = field(default=(), repr=False)

    def __reduce__(self):
        # a rule set goes with every extraction task (pipeline/verdict.py): a person
        # travels as the config wrote it (500 people: 30 KB, not 200) and its parts
        # are parsed again where it lands, once per worker and rule set
        return (_from_config, (self.name, self.also, self.note, self.on_topic))


# ---------------------------------------------------------------- parsing

def parse_form(spelling: str, *, who: str, file: str | None, key: str) -> Form:
    """One spelling's name parts; fails when it could only match namesakes."""
    pairs = names.spelling_tokens(spelling)
    tokens, written = [t for t, _ in pairs], [w for _, w in pairs]
    parts: list[Part] = []
    i, article = 0, False
    while i < len(tokens):
        token, following = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else ""
        kind = names.prefix_kind(token)
        if kind and following:
            j = i + 1
            if j + 1 < len(tokens) and names.is_article(tokens[j], tokens[j + 1]):
                j += 1
            word = names.strip_article(tokens[j])
            parts.append(Part(" ".join(written[i:j + 1]), kind, word,
                              names.is_generic(kind, word)))
            i = j + 1
            continue
        if following and names.is_article(token, following):
            article, i = True, i + 1
            continue
        tail = names.split_joined_abd(token)
        kind, word = ("abd", tail) if tail else ("", names.strip_article(token))
        if not names.shapes(word):
            raise ConfigError(f"person {who!r}: {token!r} in {spelling!r} is not a name part "
                              "(no letter to match)", file=file, key=key)
        parts.append(Part(written[i], kind, word, names.is_generic(kind, word),
                          article or word != token))
        article, i = False, i + 1
    if len(parts) < 2:
        raise ConfigError(f"person {who!r}: {spelling!r} is one name part; a person is found "
                          "by two parts side by side (given and family name, or a kunya and "
                          "a name), so write the full name", file=file, key=key)
    if len(parts) == 2 and all(p.generic for p in parts):
        raise ConfigError(f"person {who!r}: {spelling!r} is made of generic names only "
                          f"({', '.join(p.shown for p in parts)}) and would match namesakes; "
                          "add the family name", file=file, key=key)
    return Form(spelling.strip(), tuple(parts))


def _person(raw: Any, *, key: str, file: str | None) -> Person:
    if not isinstance(raw, Mapping):
        raise ConfigError("each person is a mapping with a name (and also, note, on_topic)",
                          file=file, key=key)
    unknown = sorted(set(raw) - set(PERSON_KEYS))
    if unknown:
        raise ConfigError(f"unknown key; allowed: {', '.join(PERSON_KEYS)}", file=file,
                          key=f"{key}.{unknown[0]}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("each person needs a name", file=file, key=f"{key}.name")
    name = name.strip()
    also = raw.get("also") or []
    if isinstance(also, str):
        also = [also]
    if not isinstance(also, list) or not all(isinstance(a, str) and a.strip() for a in also):
        raise ConfigError(f"person {name!r}: also must be a list of names", file=file,
                          key=f"{key}.also")
    note = raw.get("note") or ""
    if not isinstance(note, str):
        raise ConfigError(f"person {name!r}: note must be text", file=file, key=f"{key}.note")
    on_topic = raw.get("on_topic", True)
    if not isinstance(on_topic, bool):
        raise ConfigError(f"person {name!r}: on_topic must be true or false", file=file,
                          key=f"{key}.on_topic")
    also = tuple(dict.fromkeys(a.strip() for a in also if a.strip() != name))
    forms = [parse_form(name, who=name, file=file, key=f"{key}.name")]
    forms += [parse_form(a, who=name, file=file, key=f"{key}.also[{i}]")
              for i, a in enumerate(also)]
    return Person(name, also, note.strip(), on_topic, tuple(forms))


def _from_config(name: str, also: tuple[str, ...], note: str, on_topic: bool) -> Person:
    return _person({"name": name, "also": list(also), "note": note, "on_topic": on_topic},
                   key="people", file=None)


def parse_people(raw: Any, *, file: str | None = None) -> tuple[Person, ...]:
    """The config's ``people:`` list (absent or empty: nobody is watched)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("people must be a list of {name, also, note, on_topic}", file=file,
                          key="people")
    people, seen = [], set()
    for i, item in enumerate(raw):
        person = _person(item, key=f"people[{i}]", file=file)
        if person.name in seen:
            raise ConfigError(f"person {person.name!r} is listed twice", file=file,
                              key=f"people[{i}].name")
        seen.add(person.name)
        people.append(person)
    return tuple(people)


def with_people(people: Sequence[Person], alerts: Sequence, *, file: str | None = None
                ) -> tuple:
    """The alert rules with the people first (the digest shows them first)."""
    taken = {p.name for p in people}
    for i, rule in enumerate(alerts):
        if rule.name in taken:
            raise ConfigError(f"rule {rule.name!r}: an alert and a watched person have the same "
                              "name; rename one", file=file, key=f"alerts[{i}].name")
    return (*people, *alerts)


# ---------------------------------------------------------------- matching

def is_person(rule: Any) -> bool:
    return isinstance(rule, Person)


_WATCHLISTS: dict[tuple[int, ...], tuple[tuple[Person, ...], Watchlist]] = {}
_LAST: list = [None, None]         # the last rule sequence asked about, and its watchlist


def watchlist_of(rules: Sequence) -> Watchlist:
    """The index over the people among ``rules``, built once per process and rule
    set (it holds the people, so their ids stay theirs while it is cached)."""
    if _LAST[0] is rules and isinstance(rules, tuple):
        return _LAST[1]                  # the same rule set as the last item's: the usual case
    people = tuple(r for r in rules if isinstance(r, Person))
    key = tuple(map(id, people))
    cached = _WATCHLISTS.get(key)
    if cached is None:
        if len(_WATCHLISTS) >= 8:
            _WATCHLISTS.pop(next(iter(_WATCHLISTS)))
        cached = _WATCHLISTS[key] = (people, Watchlist(people))
    _LAST[:] = [rules, cached[1]]
    return cached[1]


def forget_watchlists() -> None:
    """Drop the watchlists built so far (a benchmark that swaps the spelling rules)."""
    _WATCHLISTS.clear()
    _LAST[:] = [None, None]


def match_people(rules: Sequence, doc: Document) -> dict[str, RuleMatch]:
    """Every watched person among ``rules`` that ``doc`` names, by rule name."""
    watchlist = watchlist_of(rules)
    if not watchlist.people:
        return {}
    cache_key = ("people", id(watchlist))
    found = doc.cache.get(cache_key)
    if found is None:
        found = doc.cache[cache_key] = {
            watchlist.people[i].name: RuleMatch(watchlist.people[i].name,
                                                tuple(_term_hit(doc, o) for o in occs))
            for i, occs in watchlist.occurrences(doc, MAX_HITS).items()}
    return found


def topic_match(topic_name: str, rules: Sequence, doc: Document) -> RuleMatch | None:
    """The item is on topic because it names a watched person (one with on_topic)."""
    found = match_people(rules, doc)
    if not found:
        return None
    for rule in rules:
        if isinstance(rule, Person) and rule.on_topic and rule.name in found:
            return RuleMatch(topic_name, found[rule.name].hits)
    return None


_SYMBOL = {"same": "=", "spelling": "≈", "script": "↔", "typo": "~"}


def why(o: Occurrence) -> str:
    """"Mazen = Mazen, Hamadeh ≈ al-Hamada; in order" (= same spelling, ≈ another
    romanisation, ↔ the other script, ~ one letter off)."""
    parts = ", ".join(f"{found} {_SYMBOL[reason]} {part.shown}"
                      for part, reason, found in o.parts)
    return f"{parts}; {o.order}"


def _term_hit(doc: Document, o: Occurrence) -> TermHit:
    field_name, start, end, text = doc.original(o.first, o.last)
    return TermHit(f"{o.form.label}: {why(o)}", field_name, start, end, text)


# ---------------------------------------------------------------- explaining

def explain_person(person: Person, doc: Document) -> list[str]:
    """What ``test-rules`` prints for one person: each name found and why, or
    which parts were found alone."""
    found = match_people((person,), doc).get(person.name)
    lines = [f"person {person.name!r}: " + ("MATCHES" if found else "does not match")
             + ("" if person.on_topic else " (on_topic: false, an alert only)")]
    if found:
        for h in found.hits:
            lines.append(f"  found {h.matched!r} ({h.field} {h.start}-{h.end}) through "
                         f"{h.term}")
        return lines
    alone = watchlist_of((person,)).parts_found(doc)
    if alone:
        shown = ", ".join(f"{text!r} ({_SYMBOL[reason]} {part.shown})"
                          for part, reason, text in alone[:6])
        lines.append(f"  only single parts: {shown}; a person needs two parts side by side "
                     "(two distinctive ones, or a whole form in order)")
    else:
        lines.append("  no part of the name found")
    return lines

