"""When parts of a name found in a text make one name: side by side, in order or
swapped, with nothing between them but an article, an initial or a middle name.

The watchlist (pipeline/match/watchlist.py) finds where each name part stands;
this module chains those places into names and says why each one counts
(pipeline/match/people.py has the rules in the reader's words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator

from pipeline.match import names
from pipeline.textnorm import Document

if TYPE_CHECKING:
    from pipeline.match.people import Form, Part

# what may not stand between two parts of one name: a sentence or list break
# ("… Mazen. Hamada said"), a line break; words, spaces, hyphens, apostrophes may
_BREAK = re.compile(r"[^\w \t\u00a0\-\u2010\u2011'\u2019\u02bc\u02bf]")
_INITIAL = re.compile(r"(?<![^\W\d_])([^\W\d_])\.")


@dataclass(frozen=True)
class Hit:
    first: int          # word numbers in the document
    last: int
    slot: int           # which part of the form
    reason: str         # same / spelling / script / typo


@dataclass(frozen=True)
class Occurrence:
    first: int
    last: int
    form: "Form"
    parts: tuple[tuple["Part", str, str], ...]   # (part, reason, text found)
    order: str          # "in order", "swapped", "the whole form in order"


@lru_cache(maxsize=65536)
def part_shapes(word: str) -> tuple[names.Shape, ...]:
    """A part's shapes, with and without what may be a joined article (الياس,
    Alabbasi: the al- may be the name's own)."""
    return tuple(s for r in names.article_readings(word) for s in names.shapes(r))


def _is_part(word: str, part: "Part") -> bool:
    wanted = part_shapes(part.word)
    return any(names.compatible(s, w) for s in names.shapes(word) for w in wanted)


def _with_conjunction(doc: Document, h: Hit, part: "Part") -> bool:
    """"مازن وحمادة" is Mazen *and* Hamada: a part written with the conjunction و/ف
    attached does not continue a name (unless the letter is the name's own: وائل)."""
    token = doc.words[h.first]
    return names.is_arabic(token) and token[0] in "وف" and len(token) > 3 \
        and _is_part(token[1:], part)


_ARABIC_ARTICLE = re.compile(r"^[وف]?[بكل]?ال|^[وف]?لل")


def _with_article(doc: Document, h: Hit, part: "Part") -> bool:
    """A given name does not take the article: الرائد صالح is Major Saleh, not Raed
    Saleh; العمر is age, not Omar."""
    if part.article:
        return False
    token = doc.words[h.first]
    if names.is_arabic(token):
        m = _ARABIC_ARTICLE.match(token)
        return bool(m) and _is_part(token[m.end():], part)
    return h.first > 0 and doc.words[h.first - 1] in names.ARTICLES


def is_long(word: str, slack: int = 0) -> bool:
    return len(word) + slack >= (names.LONG_ARABIC if names.is_arabic(word)
                                 else names.LONG_LATIN)


def _skippable(doc: Document, i: int) -> bool:
    """May word i stand between two parts of a name (an article, a particle, an
    initial, a middle name)?"""
    word = doc.words[i]
    following = doc.words[i + 1] if i + 1 < len(doc) else ""
    if names.is_article(word, following) or names.prefix_kind(word) == "bin":
        return True
    if names.is_arabic(word):
        return word in names.ARABIC_MIDDLE_NAMES     # not "وعلي": and Ali is another one
    if not word.isalpha() or word in names.NOT_NAMES:
        return False
    return doc.original(i, i)[3][:1].isupper()


def after(doc: Document, last: int) -> Iterator[int]:
    """Where the next part of a name may start after word ``last``."""
    field = doc.field_of(last)
    i = last + 1
    for _ in range(3):
        if i >= len(doc) or doc.field_of(i) != field:
            return
        yield i
        if not _skippable(doc, i):
            return
        i += 1


def before(doc: Document, first: int) -> Iterator[int]:
    """Where the part before may end, before word ``first``."""
    field = doc.field_of(first)
    i = first - 1
    for _ in range(3):
        if i < 0 or doc.field_of(i) != field:
            return
        yield i
        if not _skippable(doc, i):
            return
        i -= 1


def _found_after(doc: Document, last: int, by_start: dict[int, list[Hit]]) -> Iterator[Hit]:
    """The hits that may continue a name ending at word ``last``: those starting at
    most three words on, in the same field, with only words that may stand between
    two parts of a name before them (tested only when a hit is there: a word's
    original text is dear, its offsets are computed for the whole field)."""
    field = None
    for p in range(last + 1, last + 4):
        if p >= len(doc):
            return
        if p in by_start:
            field = field or doc.field_of(last)
            if doc.field_of(p) != field:
                return
            if all(_skippable(doc, q) for q in range(last + 1, p)):
                yield from by_start[p]


def _joined(doc: Document, a: Hit, b: Hit, swapped: bool) -> bool:
    """Nothing but spaces, hyphens, apostrophes and the skipped words (an article,
    an initial, a middle name) between a and b, a comma only in "Hamada, Mazen";
    and each name word capitalised where the text has capitals at all."""
    field, _, end, _ = doc.original(a.first, a.last)
    _, start, _, _ = doc.original(b.first, b.last)
    text = doc.texts[field].original
    between = _INITIAL.sub(" ", text[end:start])
    if swapped:
        # family name first only as an index or a list writes it: "Hamada, Mazen",
        # or the French "HAMADA Mazen"; "Hamada Mazen" is someone called Hamada
        comma = re.sub(r"^(\s*)[,\u060c]", r"\1", between)
        family = doc.original(a.first, a.last)[3]
        if comma == between and not (family.isupper() and _has_capitals(doc, field)
                                     and len(family) > 1):
            return False
        between = comma
    if _BREAK.search(between):
        return False
    if _has_capitals(doc, field):
        for hit in (a, b):
            if doc.original(hit.first, hit.first)[3][:1].islower():
                return False
    return True


def _has_capitals(doc: Document, field: str) -> bool:
    key = ("people: cased", field)
    cased = doc.cache.get(key)
    if cased is None:
        text = doc.texts[field].original
        cased = doc.cache[key] = text != text.lower() and text != text.upper()
    return cased


def chain_names(doc: Document, form: "Form", hits: list[Hit]) -> list[Occurrence]:
    """The names one form's parts make where they stand side by side."""
    by_start: dict[int, list[Hit]] = {}
    for h in hits:
        by_start.setdefault(h.first, []).append(h)
    out, used = [], set()
    for h in sorted(hits, key=lambda h: (h.first, h.slot)):
        if (h.first, h.slot) in used:
            continue
        if not any(p in by_start for p in range(h.last + 1, h.last + 4)):
            continue                     # nothing found close after it: no name starts here
        chain = [h]
        while True:
            nxt = min((c for c in _found_after(doc, chain[-1].last, by_start)
                       if c.slot > chain[-1].slot and _joined(doc, chain[-1], c, False)
                       and not _with_conjunction(doc, c, form.parts[c.slot])),
                      key=lambda c: c.slot, default=None)
            if nxt is None:
                break
            chain.append(nxt)
        occ = _in_order(doc, form, chain) if len(chain) > 1 else _swapped(doc, form, h, by_start)
        if occ is not None:
            out.append(occ)
            used.update((c.first, c.slot) for c in chain)
    return out


def _in_order(doc: Document, form: "Form", chain: list[Hit]) -> Occurrence | None:
    if chain[0].slot == 0 and _with_article(doc, chain[0], form.parts[0]):
        return None
    distinctive = sum(not form.parts[c.slot].generic for c in chain)
    whole = len(chain) == len(form.parts)
    if distinctive < 2 and not (whole and distinctive >= 1) and not (whole and len(chain) > 2):
        return None
    order = "in order" if distinctive >= 2 else "the whole form in order"
    return _occurrence(doc, form, chain, order)


def _swapped(doc: Document, form: "Form", h: Hit, by_start: dict[int, list[Hit]]
             ) -> Occurrence | None:
    """Family name first: "al-Hamada, Mazen"; two distinctive parts only."""
    if form.parts[h.slot].generic:
        return None
    for c in _found_after(doc, h.last, by_start):
        if c.slot < h.slot and not form.parts[c.slot].generic and _joined(doc, h, c, True) \
                and not _with_conjunction(doc, c, form.parts[c.slot]) \
                and not (c.slot == 0 and _with_article(doc, c, form.parts[0])):
            return _occurrence(doc, form, [h, c], "swapped")
    return None


def _occurrence(doc: Document, form: "Form", chain: list[Hit], order: str) -> Occurrence:
    parts = tuple((form.parts[c.slot], c.reason, doc.original(c.first, c.last)[3])
                  for c in chain)
    return Occurrence(chain[0].first, chain[-1].last, form, parts, order)


_RANK = {"same": 0, "spelling": 1, "script": 2, "typo": 3}


def distinct(occs: list[Occurrence]) -> list[Occurrence]:
    """One occurrence per place in the text (the longest, then the closest
    spelling), in text order."""
    best: dict[int, Occurrence] = {}
    for o in sorted(occs, key=lambda o: (o.first, -(o.last - o.first),
                                         sum(_RANK[r] for _, r, _ in o.parts))):
        if not any(b.first <= o.first <= b.last for b in best.values()):
            best[o.first] = o
    return [best[k] for k in sorted(best)]
