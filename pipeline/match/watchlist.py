"""Finding watched people in a document: one pass over its words for all of them.

Every name part of every person is indexed by its consonants
(pipeline/match/names.py); a document's distinct words are looked up there
once, and what a word matches is remembered for the process (news repeats its
words, so after the first pages almost every look-up is a dictionary hit).
Only the people with a part found are examined further: their parts' places
are chained into names (two parts side by side, in order or swapped) and
checked against the text between them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator, Sequence

from pipeline.match import names
from pipeline.match.chains import (Hit, Occurrence, after, before, chain_names, distinct,
                                   is_long, part_shapes)
from pipeline.textnorm import Document, word_forms

if TYPE_CHECKING:
    from pipeline.match.people import Form, Part, Person

MEMO_LIMIT = 200_000        # words remembered per watchlist before starting afresh
_WORD_AFTER = re.compile(r"\w{1,40}")


class Watchlist:
    """The name parts of a set of people, indexed by their consonants, and what each
    word met so far matched (per process: rule sets reach workers pickled, and a
    watchlist is built where it is used, see people.watchlist_of)."""

    def __init__(self, people: Sequence["Person"]):
        self.people = tuple(people)
        self.parts: list[tuple["Part", tuple[names.Shape, ...]]] = []
        self.owners: list[list[tuple[int, int, int]]] = []     # part -> (person, form, slot)
        self.index: dict[str, list[int]] = {}                  # consonants -> parts
        ids: dict[tuple[str, str], int] = {}
        for pi, person in enumerate(self.people):
            for fi, form in enumerate(person.forms):
                for si, part in enumerate(form.parts):
                    pid = ids.get((part.kind, part.word))
                    if pid is None:
                        pid = ids[(part.kind, part.word)] = len(self.parts)
                        own = part_shapes(part.word)
                        self.parts.append((part, own))
                        self.owners.append([])
                        for consonants in dict.fromkeys(s.consonants for s in own):
                            self.index.setdefault(consonants, []).append(pid)
                    self.owners[pid].append((pi, fi, si))
        self._index_forms(ids)
        self._hits: dict[str, tuple[tuple[int, str, str], ...]] = {}   # words that are parts
        self._misses: set[str] = set()                                 # words that are not

    def _index_forms(self, ids: dict[tuple[str, str], int]) -> None:
        """Which forms to examine when a part is found. A form is a name only where
        two of its parts are found, and any two of its k parts include one of its
        k - 1 least shared ones: the form is listed under those (so a given name
        shared by many people does not make all of them candidates), and under the
        slots from which a one-letter-off neighbour is looked for."""
        self.forms: list[tuple[int, int, "Form"]] = []
        self.form_parts: list[tuple[int, ...]] = []       # form -> part per slot
        self.anchors: list[int] = []                      # form -> bit mask of slots
        self.triggers: list[list[int]] = [[] for _ in self.parts]   # part -> forms
        for pi, person in enumerate(self.people):
            for fi, form in enumerate(person.forms):
                fid = len(self.forms)
                pids = tuple(ids[(p.kind, p.word)] for p in form.parts)
                self.forms.append((pi, fi, form))
                self.form_parts.append(pids)
                self.anchors.append(_anchor_slots(form))
                by_sharing = sorted(range(len(pids)), key=lambda si: len(self.owners[pids[si]]))
                listed = set(by_sharing[:len(pids) - 1])
                listed |= {si for si in range(len(pids)) if self.anchors[fid] >> si & 1}
                for si in sorted(listed):
                    if fid not in self.triggers[pids[si]]:
                        self.triggers[pids[si]].append(fid)

    # ------------------------------------------------------------ words

    def word_parts(self, word: str) -> tuple[tuple[int, str, str], ...]:
        """(part, mode, reason) for every part ``word`` can be; mode "whole" (the
        word is the part), "tail" (the word is a compound's main word: its
        prefix must stand before it) or "plain" (a simple part: no prefix may)."""
        found = self._hits.get(word)
        if found is None:
            if word in self._misses:
                return ()
            self._learn([word])
            found = self._hits.get(word, ())
        return found

    def _learn(self, words) -> None:
        if len(self._hits) + len(self._misses) >= MEMO_LIMIT:
            self._hits.clear()
            self._misses.clear()
        for word in words:
            found = self._look_up(word)
            if found:
                self._hits[word] = found
            else:
                self._misses.add(word)

    def _look_up(self, word: str) -> tuple[tuple[int, str, str], ...]:
        clean = word.replace("\u02bf", "").replace("\u02be", "")
        readings = [(r, False) for r in names.article_readings(clean)]
        tail = names.split_joined_abd(clean)
        if tail:
            readings.append((tail, True))
        out: dict[int, tuple[int, str, str]] = {}
        for text, joined in readings:
            for own in names.shapes(text):
                for pid in self.index.get(own.consonants, ()):
                    part, shapes = self.parts[pid]
                    if pid in out or (joined and part.kind != "abd"):
                        continue
                    reason = next((r for s in shapes if (r := names.compatible(own, s))), None)
                    if reason and (reason == "same" or clean not in names.NOT_NAMES):
                        # "this" is not Tice, "will" not وائل: a common word only
                        # matches a part spelt exactly like it
                        mode = "whole" if joined else ("tail" if part.kind else "plain")
                        out[pid] = (pid, mode, reason)
        return tuple(out.values())

    # ------------------------------------------------------------ parts in a document

    def _part_hits(self, doc: Document) -> dict[int, dict[tuple[int, int], str]]:
        """Part -> {(first, last): reason} for every place a part stands."""
        found: dict[int, dict[tuple[int, int], str]] = {}
        words = doc.index.keys()
        # C speed, in this order: "keys - keys" walks the right-hand side (the few
        # words that are parts), "set - set" the left (this document's words); the
        # misses, every other word met so far, are never walked
        new = words - self._hits.keys() - self._misses
        if new:
            self._learn(new)
        for word in words & self._hits.keys():
            positions = doc.index[word]
            for pid, mode, reason in self._hits.get(word, ()):
                kind = self.parts[pid][0].kind
                for p in positions:
                    span = _resolve(doc, p, kind, mode)
                    if span is not None:
                        found.setdefault(pid, {}).setdefault(span, reason)
        for text in doc.texts.values():          # Dall'Oglio, Ma'touk: one word apart
            for first, second in _apostrophe_words(text.norm):
                for pid, _, reason in self.word_parts(first + second):
                    for p in doc.index.get(first, ()):
                        if p + 1 < len(doc) and doc.words[p + 1] == second:
                            found.setdefault(pid, {}).setdefault((p, p + 1), reason)
        return found

    def parts_found(self, doc: Document) -> list[tuple["Part", str, str]]:
        """(part, reason, text) of each part found, for explanations."""
        out = []
        for pid, spans in self._part_hits(doc).items():
            for (first, last), reason in sorted(spans.items())[:2]:
                out.append((self.parts[pid][0], reason, doc.original(first, last)[3]))
        return out

    # ------------------------------------------------------------ people in a document

    def occurrences(self, doc: Document, limit: int) -> dict[int, list[Occurrence]]:
        """Person number -> the places the document names them (at most ``limit``)."""
        part_hits = self._part_hits(doc)
        candidates = {fid for pid in part_hits for fid in self.triggers[pid]}
        out: dict[int, list[Occurrence]] = {}
        for fid in sorted(candidates):
            pids = self.form_parts[fid]
            found = [(pid, si) for si, pid in enumerate(pids) if pid in part_hits]
            if len(found) < 2 and not any(
                    self.anchors[fid] >> si & 1
                    and any(r != "script" for r in part_hits[pid].values())
                    for pid, si in found):
                continue        # one part found, and no neighbour of it may be a near miss
            pi, fi, form = self.forms[fid]
            hits = [Hit(first, last, si, reason) for pid, si in found
                    for (first, last), reason in part_hits[pid].items()]
            hits += self._near_misses(doc, form, hits)
            if len({h.slot for h in hits}) < 2:
                continue
            for occ in chain_names(doc, form, hits):
                out.setdefault(pi, []).append(occ)
        return {pi: distinct(occs)[:limit] for pi, occs in out.items()}

    def _near_misses(self, doc: Document, form: "Form", hits: list[Hit]) -> list[Hit]:
        """A long part one letter off, beside a distinctive part found as spelt."""
        extra = []
        taken = {(h.first, h.slot) for h in hits}
        for h in hits:
            if form.parts[h.slot].generic or h.reason in ("typo", "script"):
                continue
            for slot, window, reach in ((h.slot + 1, range(h.last + 1, h.last + 4), after),
                                        (h.slot - 1, range(h.first - 1, h.first - 4, -1),
                                         before)):
                if not 0 <= slot < len(form.parts):
                    continue
                part = form.parts[slot]
                if part.kind or not is_long(part.word):
                    continue
                wanted = part_shapes(part.word)
                # the words close by first (cheap), the path to them only for a near one
                near = [p for p in window if 0 <= p < len(doc) and (p, slot) not in taken
                        and is_long(doc.words[p], slack=1)
                        and any(names.near(s, w) for s in names.shapes(doc.words[p])
                                for w in wanted)]
                if near:
                    reachable = set(reach(doc, h.last if reach is after else h.first))
                    extra += [Hit(p, p, slot, "typo") for p in near if p in reachable]
        return extra


_CONTRACTIONS = frozenset({"s", "t", "re", "ve", "ll", "d", "m"})    # Syria's, didn't


def _apostrophe_words(norm: str) -> Iterator[tuple[str, str]]:
    """(before, after) for each word written with an apostrophe inside, English
    contractions left out (a regex over the whole text backtracks at every word:
    3 ms on a long article; this walks back from each apostrophe)."""
    i = norm.find("'")
    while i != -1:
        right = _WORD_AFTER.match(norm, i + 1)
        if right and right.group() not in _CONTRACTIONS:
            start = i
            while start > 0 and i - start < 40 and norm[start - 1].isalnum():
                start -= 1
            if start < i:
                yield norm[start:i], right.group()
        i = norm.find("'", i + 1)


def _anchor_slots(form: "Form") -> int:
    """Bit mask of the distinctive slots beside a long simple part (which may then
    be found one letter off)."""
    mask = 0
    for si, part in enumerate(form.parts):
        if part.generic:
            continue
        for n in (si - 1, si + 1):
            if 0 <= n < len(form.parts) and not form.parts[n].kind \
                    and is_long(form.parts[n].word):
                mask |= 1 << si
    return mask


_BEFORE_PREFIX = names.ARTICLES | set(names.SUN_ARTICLES) | {
    t for tokens in names.PREFIXES.values() for t in tokens}


def _prefix_before(doc: Document, p: int) -> tuple[int, str] | None:
    """(position, kind) of a compound prefix (Abdul, Abu, عبد) standing before word p,
    an article in between allowed."""
    q = p - 1
    if q < 0:
        return None
    before = doc.words[q]
    if before not in _BEFORE_PREFIX and not names.is_arabic(before):
        return None                      # the common case, decided without field look-ups
    if doc.field_of(q) != doc.field_of(p):
        return None
    if names.is_article(doc.words[q], doc.words[p]) and q > 0 \
            and doc.field_of(q - 1) == doc.field_of(p):
        q -= 1
    for form in word_forms(doc.words[q]):
        kind = names.prefix_kind(form)
        if kind:
            return q, kind
    return None


def _resolve(doc: Document, p: int, kind: str, mode: str) -> tuple[int, int] | None:
    if mode == "whole":
        return p, p
    prefix = _prefix_before(doc, p)
    if mode == "tail":
        return (prefix[0], p) if prefix and prefix[1] == kind else None
    # a simple part inside a compound (the Salam of Abdul Salam) is not that part
    return None if prefix and prefix[1] in ("abd", "abu", "umm") else (p, p)


