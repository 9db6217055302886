"""Normalisation for matching, with a way back to the original text.

Rules are matched on a *normalised* copy of each field: NFKD (so fullwidth
letters and ligatures become plain ones), combining marks dropped (so
"Saïdnaya" == "Saidnaya" and Arabic tashkeel disappears), casefolded, Arabic
letter forms unified (أ إ آ ٱ → ا, ة → ه, ى → ي, ؤ → و, ئ → ي), tatweel and
invisible format characters removed (soft hyphen, zero-width space and joiners,
word joiner, bidi marks: "Sed\u00ADnaya" is "Sednaya"), Arabic-Indic digits
turned into 0-9 and typographic apostrophes/quotes made plain. Every
normalised character remembers which original character it came from, so a hit
can be reported as offsets into the text the reader sees. This is the one
normalisation of Newswatch: rules, fingerprints and story titles all use it
(``pipeline/dedupe/fingerprints.py`` cuts its own tokens from :func:`normalise`).

Text is then cut into word tokens. A token keeps the forms it can be matched
as: itself and, for Arabic words, the word without the attached conjunction /
preposition / article (و ف ب ل ك ال and their combinations) so that "سجن"
finds "بالسجن". An English possessive "'s" is dropped so "Syria's" is "Syria".
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

_APOSTROPHES = "\u2019\u2018\u02bc\u02bb\u2032\u0060\u00b4\u201b"
_QUOTES = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033"
_ARABIC_LETTERS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي",
                   "ؤ": "و", "ئ": "ي"}
_TATWEEL = "\u0640"
# a word, except the "s" of a possessive ("syria's" is the word "syria")
_WORD = re.compile(r"(?!(?<=\w')s\b)\w+")
_ARABIC = re.compile(r"[\u0600-\u06ff]")

# Attached clitics that may precede an Arabic word: conjunction, preposition,
# article. "لل" is ل + ال with the alef dropped, as Arabic writes it.
_CONJ = ("", "و", "ف")
_PREP = ("", "ب", "ل", "ك")
_ARTICLE = ("", "ال")
ARABIC_PREFIXES: tuple[str, ...] = tuple(sorted(
    {c + ("لل" if p == "ل" and a else p + a) for c in _CONJ for p in _PREP for a in _ARTICLE}
    - {""}, key=len, reverse=True))
_MIN_STEM = 2   # never strip a word down to fewer letters than this
# Between the text nodes of a page (pipeline/extract/visible.py): a private-use
# character, not a word character, kept by normalise; read as nothing or a space
NODE_BREAK = "\ue000"


@lru_cache(maxsize=65536)
def normalise_char(ch: str) -> str:
    """What one original character becomes in the normalised text ("" to drop it)."""
    if ch in _APOSTROPHES:
        return "'"
    if ch in _QUOTES:
        return '"'
    if ch == _TATWEEL or unicodedata.category(ch) == "Cf":
        return ""     # invisible: a soft hyphen or zero-width joiner must not split a word
    if ch in _ARABIC_LETTERS:        # before NFKD, which would split آ into ا + mark
        return _ARABIC_LETTERS[ch]
    if ch.isdigit() and not ch.isascii():
        try:
            return str(unicodedata.digit(ch))
        except (TypeError, ValueError):
            pass
    out = []
    for part in unicodedata.normalize("NFKD", ch).casefold():
        if unicodedata.combining(part):
            continue
        out.append(_ARABIC_LETTERS.get(part, part) if part != _TATWEEL else "")
    return "".join(out)


def normalise(text: str) -> str:
    """The normalised form of ``text``: ``NormText.of(text).norm`` without the map
    back (terms of a rule, fingerprints and story titles are normalised with this)."""
    if text.isascii():
        return text.lower().replace("`", "'") if "`" in text else text.lower()
    # every distinct character in the table, unchanged ones too: a character
    # missing from a translate table costs a caught KeyError
    return text.translate({ord(ch): normalise_char(ch) for ch in set(text)})


@dataclass(frozen=True)
class NormText:
    """A normalised text and the map from its characters back to the original.

    Most characters map one to one, so the map is kept as segments: a
    one-to-one run, or one original character that became 0 or several
    normalised ones (a ligature, "…" → "...", a dropped mark).
    """

    original: str
    norm: str
    # (norm start, original start, one-to-one run?) per segment; () = identity map
    segments: tuple[tuple[int, int, bool], ...] = ()
    dropped: frozenset[str] = frozenset()   # characters that normalise to nothing

    @classmethod
    def of(cls, text: str) -> "NormText":
        if text.isascii() and "`" not in text:
            return cls(text, text.lower())
        table = {ch: normalise_char(ch) for ch in set(text)}
        trans = {ord(k): v for k, v in table.items()}
        irregular = "".join(sorted(k for k, v in table.items() if len(v) != 1))
        if not irregular:
            # one character in, one out: offsets are unchanged, a C-speed translate does it
            return cls(text, text.translate(trans))
        return cls._segmented(text, table, trans, irregular)

    @classmethod
    def _segmented(cls, text: str, table: Mapping[str, str], trans: dict, irregular: str
                   ) -> "NormText":
        parts: list[str] = []
        segments: list[tuple[int, int, bool]] = []
        n = pos = 0
        for m in re.finditer("[" + re.escape(irregular) + "]", text):
            i = m.start()
            if i > pos:
                run = text[pos:i].translate(trans)
                segments.append((n, pos, True))
                parts.append(run)
                n += len(run)
            out = table[text[i]]
            if out:
                segments.append((n, i, False))
                parts.append(out)
                n += len(out)
            pos = i + 1
        if pos < len(text):
            segments.append((n, pos, True))
            parts.append(text[pos:].translate(trans))
        dropped = frozenset(k for k, v in table.items() if not v)
        return cls(text, "".join(parts), tuple(segments), dropped)

    def origin(self, k: int) -> int:
        """Index in the original of the character that produced norm[k]."""
        if not self.segments:
            return k
        i = bisect.bisect_right(self.segments, (k, len(self.original) + 1, True)) - 1
        norm_start, orig_start, one_to_one = self.segments[i]
        return orig_start + (k - norm_start) if one_to_one else orig_start

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the normalised slice [start, end)."""
        orig_start, orig_end = self.origin(start), self.origin(end - 1) + 1
        while orig_end < len(self.original) and self.original[orig_end] in self.dropped:
            orig_end += 1            # marks and tatweel after the last letter belong to it
        return orig_start, orig_end


@lru_cache(maxsize=65536)
def word_forms(word: str) -> tuple[str, ...]:
    """The word and, for Arabic, the word without each attached prefix it may carry."""
    if not _ARABIC.search(word):
        return (word,)
    forms = [word]
    for prefix in ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            forms.append(word[len(prefix):])
    return tuple(dict.fromkeys(forms))


def words(norm: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of each word of a normalised text, possessive 's dropped."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(norm)]


def word_list(norm: str) -> list[str]:
    """The words of a normalised text, as :func:`words` cuts them, without their
    offsets (C speed: what indexing every stored text needs)."""
    return _WORD.findall(norm)


class Document:
    """The fields of one item, normalised and indexed once for every rule.

    Words are numbered across the fields (title, summary, text); a rule's
    term is found through ``index`` (form -> word numbers). Every rule is
    matched on every fetched page in a flood, so the index is built from the
    bare word list (C-speed ``findall``) and the rest (character offsets, a
    word's Arabic stems) only for the words a rule asks about."""

    def __init__(self, texts: dict[str, NormText], words_: list[str],
                 fields: list[tuple[int, str]]):
        self.texts = texts
        self.words = words_
        self._field_starts = [start for start, _ in fields]
        self._field_names = [name for _, name in fields]
        self._offsets: dict[str, list[tuple[int, int]]] = {}
        self._sorted_forms: list[str] | None = None
        self.cache: dict = {}            # term -> occurrences, shared by rules
        index: dict[str, list[int]] = {}
        for i, word in enumerate(words_):
            index.setdefault(word, []).append(i)
        own = {w: positions for w, positions in index.items() if not w.isascii()}
        for word, positions in own.items():
            for form in word_forms(word)[1:]:    # Arabic: the word without its prefixes
                index[form] = sorted(set(index.get(form, ())).union(positions))
        self.index = index

    @classmethod
    def of(cls, fields: Mapping[str, str], order: Sequence[str] = ("title", "summary", "text")
           ) -> "Document":
        names = [f for f in order if f in fields] + [f for f in fields if f not in order]
        texts, all_words, starts = {}, [], []
        for name in names:
            nt = NormText.of(fields[name] or "")
            texts[name] = nt
            starts.append((len(all_words), name))
            all_words.extend(_WORD.findall(nt.norm))
        return cls(texts, all_words, starts)

    def __len__(self) -> int:
        return len(self.words)

    def _field_index(self, i: int) -> int:
        return bisect.bisect_right(self._field_starts, i) - 1

    def field_of(self, i: int) -> str:
        return self._field_names[self._field_index(i)]

    def matches_at(self, i: int, word: str, prefix: bool) -> bool:
        """Does word number ``i`` match ``word`` (whole, or as a word start)?"""
        forms = word_forms(self.words[i])
        if prefix:
            return any(f.startswith(word) for f in forms)
        return word in forms

    def positions(self, word: str, prefix: bool) -> list[int]:
        """Word numbers where ``word`` (a whole word, or a word start) occurs."""
        if not prefix:
            return self.index.get(word, [])
        if self._sorted_forms is None:
            self._sorted_forms = sorted(self.index)
        forms = self._sorted_forms
        found: set[int] = set()
        i = bisect.bisect_left(forms, word)
        while i < len(forms) and forms[i].startswith(word):
            found.update(self.index[forms[i]])
            i += 1
        return sorted(found)

    def _span(self, i: int) -> tuple[str, int, int]:
        """(field, start, end) of word number ``i`` in its field's normalised text."""
        k = self._field_index(i)
        name = self._field_names[k]
        if name not in self._offsets:
            self._offsets[name] = [m.span() for m in _WORD.finditer(self.texts[name].norm)]
        start, end = self._offsets[name][i - self._field_starts[k]]
        return name, start, end

    def original(self, first: int, last: int) -> tuple[str, int, int, str]:
        """(field, start, end, text) in the original field for words first..last."""
        name, start, _ = self._span(first)
        _, _, end = self._span(last)
        nt = self.texts[name]
        start, end = nt.span(start, end)
        return name, start, end, nt.original[start:end]
