"""Which sentences of a report say something the reader has not read yet.

Every sentence is reduced to what it says (``pipeline.novelty.facts``): its content
words and its *key facts*, numbers in any format and, in Latin script, names.

A sentence of a report is **not new** when a sentence already known says the same:
enough of its content words are found in one known sentence (or in the two or three
closest, for a sentence that joins or paraphrases several), a word matching another
spelling of itself (``Saydnaya`` / ``Sednaya``, ``Abdurrahman`` / ``Abdul Rahman``) by
edit similarity (rapidfuzz), and
none of its numbers or names is missing from those sentences. It is **new** when it
says something else, or the same with a new number of victims, a new date or a new
name. Thresholds measured on ``tests/fixtures/novelty`` (``bench/novelty_eval.py``).

Pure functions over texts, no storage: :class:`Knowledge` is what the reader has read
(seeds, earlier reports), indexed by content word so that a sentence is compared only
with the known sentences that share a word with it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from rapidfuzz import fuzz, process

from pipeline.novelty.facts import FUZZY_WORD, Meaning, meaning, same_word, stem
from pipeline.novelty.sentences import Sentence, split_sentences

# What one known sentence (or the two or three closest together) must hold of a
# sentence's content words for it to say nothing new: chosen on the labelled set
# (bench/novelty_eval.py; SAME_SHARE anywhere in 0.6-0.7 gives the same figures).
SAME_SHARE = 0.65
GROUP_SHARE = 0.7          # the two or three best together: a paraphrase drawing on several
MIN_WORDS = 4              # shorter sentences ("Read more:", "Advertisement") are furniture
MIN_UNENDED_WORDS = 8      # a line without an end mark: a heading or link, unless long
_CANDIDATES = 40           # known sentences compared per sentence, most shared words first


@dataclass(frozen=True)
class NewSentence:
    """A sentence of a report that no known text says, and the facts it adds."""

    text: str
    start: int
    end: int
    facts: tuple[str, ...] = ()      # numbers and names no matching known sentence has


class Knowledge:
    """Everything the reader has read, sentence by sentence, indexed by content word."""

    def __init__(self, texts: Iterable[str] = ()):
        self._meanings: list[Meaning] = []
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._vocabulary: dict[str, None] = {}   # every normalised word, for fuzzy look-ups
        self._names: dict[str, None] = {}
        for text in texts:
            self.learn(text)

    def __len__(self) -> int:
        return len(self._meanings)

    def learn(self, text: str) -> None:
        """Remember every sentence of ``text`` as read."""
        for sentence in split_sentences(text):
            self._remember(meaning(sentence.text))

    def _remember(self, m: Meaning) -> None:
        if not m.words and not m.numbers:
            return
        n = len(self._meanings)
        self._meanings.append(m)
        for w in m.words:
            self._by_word[w].append(n)
        self._vocabulary.update(dict.fromkeys(m.spellings.values()))
        self._names.update(dict.fromkeys(m.names))

    def new_in(self, text: str) -> list[NewSentence]:
        """The sentences of ``text`` that nothing known says (furniture left out)."""
        out = []
        for sentence in split_sentences(text):
            if not _is_news(sentence):
                continue
            verdict = self.judge(meaning(sentence.text))
            if verdict is not None:
                out.append(NewSentence(sentence.text, sentence.start, sentence.end, verdict))
        return out

    def judge(self, m: Meaning) -> tuple[str, ...] | None:
        """None when a known sentence says ``m``; else the new facts it has (maybe none)."""
        if not m.words:
            return None if m.numbers <= self._all_numbers() else tuple(sorted(m.numbers))
        scored = self._best(m)
        if not scored:
            return self._facts(m, ())
        best_share, best = scored[0]
        if best_share >= SAME_SHARE:
            return self._if_facts_new(m, [best])
        for size in (2, 3):
            if len(scored) >= size:
                group = [k for _, k in scored[:size]]
                if _share(m, group) >= GROUP_SHARE:
                    return self._if_facts_new(m, group)
        return self._facts(m, [best])

    def _best(self, m: Meaning) -> list[tuple[float, Meaning]]:
        """Known sentences sharing words with ``m``, best share first."""
        counts: dict[int, int] = defaultdict(int)
        for w in self._expand(m):
            for n in self._by_word.get(w, ()):
                counts[n] += 1
        top = sorted(counts, key=lambda n: (-counts[n], n))[:_CANDIDATES]
        scored = [(_share(m, [self._meanings[n]]), self._meanings[n]) for n in top]
        return sorted(scored, key=lambda s: -s[0])

    def _expand(self, m: Meaning) -> set[str]:
        """Its stems and the known stems of other spellings of the same words."""
        out = set(m.words)
        for key in m.words:
            if key not in self._by_word:
                out.update(stem(v) for v in self._fuzzy(m.spellings[key]))
        return out

    def _fuzzy(self, word: str) -> list[str]:
        return _close(word, self._vocabulary)

    def _if_facts_new(self, m: Meaning, matched: list[Meaning]) -> tuple[str, ...] | None:
        facts = self._facts(m, matched)
        return facts if facts else None

    def _facts(self, m: Meaning, matched: Iterable[Meaning]) -> tuple[str, ...]:
        """Numbers of ``m`` that the matched sentences lack, and names nothing known has."""
        matched = list(matched)
        known_numbers = set().union(*(k.numbers for k in matched)) if matched else set()
        new_numbers = [x for x in sorted(m.numbers) if x not in known_numbers]
        new_names = [m.name_spellings.get(x, x) for x in sorted(m.names)
                     if x not in self._names and not _known_name(x, self._names)]
        return tuple(new_numbers + new_names)

    def _all_numbers(self) -> set[str]:
        return set().union(*(k.numbers for k in self._meanings)) if self._meanings else set()


def _close(word: str, vocabulary: dict[str, None]) -> list[str]:
    """Known words that are another spelling of ``word`` (rapidfuzz scans in C)."""
    if len(word) < 5 or not vocabulary:
        return []
    found = process.extract(word, list(vocabulary), scorer=fuzz.ratio,
                            score_cutoff=FUZZY_WORD * 100, limit=8)
    return [v for v, _, _ in found if len(v) >= 5]


def _known_name(name: str, names: dict[str, None]) -> bool:
    """Another spelling of a known name, or a part of one ("Alshogre" of "Omar Alshogre")."""
    if _close(name, names):
        return True
    if len(name) < 5 or not names:
        return False
    return process.extractOne(name, list(names), scorer=fuzz.partial_ratio,
                              score_cutoff=90) is not None


def _share(m: Meaning, known: list[Meaning]) -> float:
    """Share of ``m``'s content words found in the known sentences (any spelling)."""
    if not m.words:
        return 1.0
    words = set().union(*(k.words for k in known))
    spellings = [s for k in known for s in k.spellings.values()]
    found = 0
    for w in m.words:
        if w in words or any(same_word(m.spellings[w], s) for s in spellings):
            found += 1
    return found / len(m.words)


def _is_news(sentence: Sentence) -> bool:
    """Long enough to say something: page furniture ("Read more:", a caption, a
    heading, a link to another story) is neither new nor old."""
    n = sentence.words
    return n >= MIN_WORDS and (sentence.ended or n >= MIN_UNENDED_WORDS)


def new_sentences(report_text: str, known_texts: Iterable[str]) -> list[NewSentence]:
    """The sentences of ``report_text`` that none of ``known_texts`` says."""
    return Knowledge(known_texts).new_in(report_text)


def news_words(text: str) -> int:
    """Words in the sentences of ``text`` that can be news (furniture left out)."""
    return sum(s.words for s in split_sentences(text) if _is_news(s))


def update_sentences(report_text: str, original_texts: Iterable[str], *,
                     min_new_sentences: int, min_new_share: float) -> list[NewSentence] | None:
    """The new sentences of a near-copy when they make it an *update* of its original:
    at least ``min_new_sentences`` of them, or at least ``min_new_share`` of its words.
    None when it adds less: a copy, which the reader has read."""
    new = Knowledge(original_texts).new_in(report_text)
    if not new:
        return None
    total = news_words(report_text)
    share = sum(_words_of(s.text) for s in new) / total if total else 0.0
    if len(new) >= min_new_sentences or share >= min_new_share:
        return new
    return None


def _words_of(text: str) -> int:
    return len(re.findall(r"\w+", text))
