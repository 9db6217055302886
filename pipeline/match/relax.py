"""A relaxation of the topic rule: "maybe on topic" for every page the rule keeps.

The pre-filter asks this before extracting a page. It is *sound*: whenever the
full judgement (``judge.judge``: the topic rule, or a watched person with
``on_topic``) could keep an item made from the page, the relaxation says yes.
Alerts are raised only on items kept on topic (``judge.judge``), so they need
no relaxation of their own. It is built by forgetting what can only say no:

- ``none`` vetoes (of a clause or of the rule) and ``within`` distances go;
- a phrase or a multi-word term needs each of its words somewhere, not side by
  side; an ``all`` needs each item somewhere;
- words are looked up in the set of every word of the page's visible text
  (``pipeline/extract/visible.py``, a superset of the extracted text) and of the
  entry's title and summary, normalised and cut into words exactly as the
  matcher does (``pipeline.textnorm``), Arabic prefixes included;
- a watched person is found, by ``watchlist.occurrences``, only where a
  *distinctive* part of one of their spellings stands as a word (or, for a
  spelling of generic parts only, every part), and next to a second part or a
  long part one letter off. Relaxed: a distinctive part found together with a
  second part of the same spelling anywhere, or a distinctive part whose
  neighbour slot is a long plain part (a near miss the page's words cannot
  rule out cheaply); every part, for a spelling of generic parts only.
  A lone common part ("Austin", "Mohammed") therefore never passes.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from pipeline.match import names, people
from pipeline.match.chains import is_long, part_shapes
from pipeline.match.rules import Rule, Term
from pipeline.textnorm import NODE_BREAK, normalise, word_forms

_WORD = re.compile(r"\w+")        # the matcher's words, and the "s" of a possessive
_APOSTROPHE_WORD = re.compile(r"(\w+)'(\w+)")  # Dall'Oglio: a name part of two words
WINDOW = 10     # words between two parts of one name, at most (a name has at most 3)


class Vocabulary:
    """Every word form of some texts, for whole-word and word-start look-ups."""

    def __init__(self, texts: Iterable[str]):
        self.norms = [normalise(t) for t in texts if t]
        self.words: set[str] = set()
        self.joined: set[str] = set()       # words written with an apostrophe, joined
        for norm in self.norms:
            self.words.update(_WORD.findall(norm))
            if NODE_BREAK in norm:      # read as nothing: "Sed<b>naya</b>" is one word
                self.words.update(_WORD.findall(norm.replace(NODE_BREAK, "")))
            if "'" in norm:
                self.joined.update(a + b for a, b in _APOSTROPHE_WORD.findall(norm))
        self.forms = set(self.words)        # an Arabic word is also its stems
        for w in self.words:
            if not w.isascii():
                self.forms.update(word_forms(w))
        self._sorted: list[str] | None = None

    def has(self, word: str, prefix: bool) -> bool:
        if not prefix:
            return word in self.forms
        if self._sorted is None:
            self._sorted = sorted(self.forms)
        i = bisect.bisect_left(self._sorted, word)
        return i < len(self._sorted) and self._sorted[i].startswith(word)

    def sequences(self) -> Iterable[list[str]]:
        """The texts' words in order, node breaks read as spaces, then as nothing."""
        for norm in self.norms:
            yield _WORD.findall(norm)
            if NODE_BREAK in norm:
                yield _WORD.findall(norm.replace(NODE_BREAK, ""))


def _term_maybe(term: Term, vocab: Vocabulary) -> bool:
    return all(vocab.has(word, prefix) for word, prefix in term.words)


def _any_maybe(terms: Sequence[Term], vocab: Vocabulary) -> bool:
    return any(_term_maybe(t, vocab) for t in terms)


def rule_maybe(rule: Rule, vocab: Vocabulary) -> bool:
    """Could ``rule`` match a document whose words are all in ``vocab``?"""
    for clause in rule.clauses:
        if clause.any and not _any_maybe(clause.any, vocab):
            continue
        if all(_any_maybe(alternatives, vocab) for alternatives in clause.all):
            return True
    return False


@dataclass(frozen=True)
class _FormNeed:
    slots: tuple[int, ...]                       # part number per slot
    distinctive: frozenset[int]                  # slots of parts that are not generic
    anchors: tuple[tuple[int, str], ...]         # (distinctive slot, long plain neighbour)


def _needs(watchlist) -> list[_FormNeed]:
    out = []
    for fid, (pi, _fi, form) in enumerate(watchlist.forms):
        if not watchlist.people[pi].on_topic:
            continue
        parts = form.parts
        distinctive = frozenset(s for s, p in enumerate(parts) if not p.generic)
        anchors = tuple((s, parts[n].word) for s in sorted(distinctive) for n in (s - 1, s + 1)
                        if 0 <= n < len(parts) and not parts[n].kind and is_long(parts[n].word))
        out.append(_FormNeed(watchlist.form_parts[fid], distinctive, anchors))
    return out


_NEEDS: dict[int, tuple[object, list[_FormNeed]]] = {}


def _needs_of(watchlist) -> list[_FormNeed]:
    cached = _NEEDS.get(id(watchlist))
    if cached is None or cached[0] is not watchlist:
        _NEEDS.clear()
        cached = _NEEDS[id(watchlist)] = (watchlist, _needs(watchlist))
    return cached[1]


def _near_word(part_word: str, vocab: Vocabulary) -> bool:
    """Is a word of the page one letter off ``part_word`` (a near miss)?"""
    wanted = part_shapes(part_word)
    return any(is_long(w, slack=1) and any(names.near(s, t) for s in names.shapes(w)
                                           for t in wanted)
               for w in vocab.words if abs(len(w) - len(part_word)) <= 1)


def _side_by_side(need: _FormNeed, hits: dict[str, set[int]], vocab: Vocabulary) -> bool:
    """Two parts of the spelling (one distinctive) within WINDOW words;
    ``hits``: the parts each word (or two words of an apostrophe name) can be."""
    for seq in vocab.sequences():
        last: dict[int, int] = {}          # slot -> where it was last seen
        for i, word in enumerate(seq):
            pids = hits.get(word)
            if not word.isascii():          # a stem of it may be a part
                pids = set().union(*(hits.get(f, ()) for f in word_forms(word)))
            if i + 1 < len(seq) and word + seq[i + 1] in hits:   # Dall'Oglio
                pids = (pids or set()) | hits[word + seq[i + 1]]
            if not pids:
                continue
            for slot in (s for s, pid in enumerate(need.slots) if pid in pids):
                if any(i - j <= WINDOW and (slot in need.distinctive or s in need.distinctive)
                       for s, j in last.items() if s != slot):
                    return True
                last[slot] = i
    return False


def _part_hits(watchlist, vocab: Vocabulary) -> tuple[dict[int, set[str]], dict[str, set[int]]]:
    """Part -> why words matched it; word form -> the parts it can be. Set
    operations first, as ``watchlist`` does: of a page's thousands of words
    only the few that are name parts are walked in Python."""
    wanted = vocab.forms | vocab.joined
    new = wanted - watchlist._hits.keys() - watchlist._misses
    if new:
        watchlist._learn(new)
    found: dict[int, set[str]] = {}
    hits: dict[str, set[int]] = {}
    for w in wanted & watchlist._hits.keys():
        for pid, _, reason in watchlist.word_parts(w):
            found.setdefault(pid, set()).add(reason)
            hits.setdefault(w, set()).add(pid)
    return found, hits


def people_maybe(alerts: Sequence, vocab: Vocabulary) -> bool:
    """Could a watched person with ``on_topic`` be named by a page of these words?"""
    watchlist = people.watchlist_of(alerts)
    needs = _needs_of(watchlist) if watchlist.people else []
    if not needs:
        return False
    found, hits = _part_hits(watchlist, vocab)
    for need in needs:
        slots = {s for s, pid in enumerate(need.slots) if pid in found}
        if not need.distinctive:
            if len(slots) == len(need.slots):
                return True
            continue
        if not slots & need.distinctive:
            continue
        # a near miss is looked for only beside a part found as spelt (or a variant)
        if any(s in slots and found[need.slots[s]] - {"typo", "script"}
               and _near_word(word, vocab) for s, word in need.anchors):
            return True
        if len(slots) >= 2 and _side_by_side(need, hits, vocab):
            return True
    return False


def maybe_on_topic(topic: Rule, alerts: Sequence, texts: Iterable[str]) -> bool:
    """False only when no item made of these texts (or any part of them) can be
    on topic: the page may then be stored as off topic without extraction."""
    vocab = Vocabulary(texts)
    return rule_maybe(topic, vocab) or people_maybe(alerts, vocab)
