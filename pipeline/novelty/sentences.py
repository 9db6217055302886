"""Cutting a report into sentences, in English and Arabic.

A sentence ends at ``.``, ``!``, ``?``, ``…``, the Arabic question mark ``؟`` and the
Arabic semicolon ``؛`` (Arabic news writes a full stop as ``.``), at the end of a line, and
optionally after closing quotes or brackets. It does not end:

* inside quotation marks (“…”, «…», "…"): ``“Don’t be afraid… Bashar Assad has fallen,”
  one of the rebels told them`` is one sentence. A quote left open for more than
  ``_MAX_QUOTED`` words is taken to be a stray mark, and sentences end again;
* after a known abbreviation or an initial (``Mr.``, ``U.S.``, ``Oct. 25``, ``J. Smith``);
* at a full stop followed by a lower-case Latin letter or no space (``3.5``, ``example.com``).

The Arabic comma ``،`` joins clauses that English would write as sentences: Arabic
news often runs a paragraph as one comma-chained sentence. It ends a sentence only when
both sides are long enough to be one (``_ARABIC_COMMA_WORDS`` words), so a list of names
stays whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENDS = ".!?…؟؛"
_OPEN_QUOTES = {"“": "”", "«": "»", "„": "“", "‹": "›"}
_CLOSERS = "\"'”’»›)]"
_MAX_QUOTED = 60
_ARABIC_COMMA_WORDS = 8
_ABBREVIATIONS = frozenset("""mr mrs ms dr st gen col lt sgt capt cpl maj rep sen gov prof jr sr
vs etc no nos fig approx hon rt rev dept est inc ltd co corp mt ft jan feb mar apr jun jul aug sep sept
oct nov dec e.g i.e a.m p.m u.s u.k u.n u.a.e""".split())
_WORD = re.compile(r"\w+", re.UNICODE)
_LATIN_LOWER = re.compile(r"[a-z]")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a text: what it says and where it is ([start, end) offsets)."""

    text: str
    start: int
    end: int

    @property
    def words(self) -> int:
        return len(_WORD.findall(self.text))

    @property
    def ended(self) -> bool:
        """Whether it ends as a sentence does (a line without one is often a heading,
        a caption or a link of the page's furniture)."""
        return self.text.rstrip(_CLOSERS)[-1:] in _ENDS + ":"


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` in order, stripped, with their offsets in it."""
    out: list[Sentence] = []
    for m in re.finditer(r"[^\n]+", text or ""):
        for start, end in _line_sentences(m.group()):
            out.append(Sentence(m.group()[start:end], m.start() + start, m.start() + end))
    return out


def _line_sentences(line: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence of one line."""
    spans, begin = [], 0
    quote: str | None = None      # the closing mark awaited
    quoted_words = 0
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote is not None:
            if ch == quote:
                quote = None
            elif ch == " ":
                quoted_words += 1
                if quoted_words > _MAX_QUOTED:
                    quote = None
            i += 1
            continue
        if ch in _OPEN_QUOTES or (ch == '"' and _opens(line, i)):
            quote, quoted_words = _OPEN_QUOTES.get(ch, '"'), 0
            i += 1
            continue
        cut = None
        if ch in _ENDS:
            cut = _end_after(line, i)
        elif ch == "،":
            cut = _arabic_comma(line, begin, i)
        if cut is not None:
            spans.append((begin, cut))
            begin = cut
            i = cut
            continue
        i += 1
    spans.append((begin, n))
    return [s for s in (_strip(line, a, b) for a, b in spans) if s is not None]


def _opens(line: str, i: int) -> bool:
    """A straight double quote opens a quotation at a word's start, not at its end."""
    return (i == 0 or not line[i - 1].isalnum()) and i + 1 < len(line) and line[i + 1] != " "


def _end_after(line: str, i: int) -> int | None:
    """Where the sentence ends if the mark at ``i`` ends it (after any run of end marks
    and closing quotes), or None."""
    j = i + 1
    while j < len(line) and (line[j] in _ENDS or line[j] in _CLOSERS):
        j += 1
    if j >= len(line):
        return None                        # the line's end ends it anyway
    if not line[j].isspace():
        return None                        # 3.5, example.com, U.S.-led
    k = j
    while k < len(line) and line[k].isspace():
        k += 1
    nxt = line[k:k + 1]
    if line[i] == "." and (_LATIN_LOWER.match(nxt) or _abbreviation_before(line, i)):
        return None
    if line[i] == "…" and _LATIN_LOWER.match(nxt):
        return None
    return j


def _abbreviation_before(line: str, i: int) -> bool:
    m = re.search(r"([\w.]+)$", line[:i])
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    # an initial or initials: J. Smith, P.J. Fleck
    return bool(re.fullmatch(r"[A-Za-z](?:\.[A-Za-z])*", word))


def _arabic_comma(line: str, begin: int, i: int) -> int | None:
    before = len(_WORD.findall(line[begin:i]))
    after = len(_WORD.findall(re.split(r"[.!?؟؛،]", line[i + 1:], maxsplit=1)[0]))
    if before >= _ARABIC_COMMA_WORDS and after >= _ARABIC_COMMA_WORDS:
        return i + 1
    return None


def _strip(line: str, a: int, b: int) -> tuple[int, int] | None:
    while a < b and line[a].isspace():
        a += 1
    while b > a and line[b - 1].isspace():
        b -= 1
    return (a, b) if b > a else None
