"""Which sentences of a report say something the reader has not read yet.

Every sentence is reduced to what it says: its content words (normalised by
``pipeline.textnorm``: case, diacritics, Arabic letter forms and digits folded; function
words dropped; English words cut to a stem, Arabic words stripped of attached
prefixes and suffixes) and its *key facts*: numbers (in any format: ``13,000``,
``13000``, ``13 thousand``, ``١٣ ألف``, ``thirteen``) and, in Latin script, names
(capitalised words inside a sentence: people, places, days, months).

A sentence of a report is **not new** when a sentence already known says the same:
enough of its content words are found in one known sentence (or in the two or three
closest, for a sentence that joins or paraphrases several), a word matching another spelling of itself (``Saydnaya`` /
``Sednaya``, ``Abdurrahman`` / ``Abdul Rahman``) by edit similarity (rapidfuzz), and
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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from pipeline.novelty.sentences import Sentence, split_sentences
from pipeline.textnorm import normalise, word_forms

# What one known sentence (or two together) must hold of a sentence's content words
# for it to say nothing new. Measured (bench/novelty_eval.py --sweep).
SAME_SHARE = 0.65
GROUP_SHARE = 0.7          # the two or three best together: a paraphrase drawing on several
FUZZY_WORD = 0.8           # Indel similarity at which two spellings are one word
MIN_WORDS = 4              # shorter sentences ("Read more:", "Advertisement") are furniture
MIN_UNENDED_WORDS = 8      # a line without an end mark: a heading or link, unless long
_CANDIDATES = 40           # known sentences compared per sentence, most shared words first

_STOP_EN = frozenset("""a about above after again against all also am an and any are as at be
because been before being below between both but by can could did do does doing down during
each few for from further had has have having he her here hers herself him himself his how i if
in into is it its itself just me more most my myself no nor not now of off on once only or other
our ours out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours said says say told according also
would could may might must shall one ones us its it's s t""".split())
_STOP_AR = frozenset(normalise(w) for w in """في من على إلى الى عن أن إن ان أنه أنها إنه إنها
التي الذي الذين اللذين اللتين هذا هذه ذلك تلك هؤلاء هناك هنا كان كانت يكون تكون كانوا قد لقد
ما لا لم لن مع بعد قبل بين حتى أو او ثم كما عند منذ خلال حيث أي كل بعض غير هو هي هم هن نحن
أنا انت أنت وقد وكان وكانت وهو وهي وهم فقد الى اى ايضا أيضا وقال قال قالت وقالت يقول تقول
لدى لدي لها له لهم به بها فيه فيها منه منها عليه عليها عنه عنها إنهم انهم مما ممن الا إلا
ولا وما ومن وفي وعلى وإن وأن""".split())
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_AR_SUFFIXES = ("اتها", "اتهم", "هما", "كما", "ات", "ون", "ين", "ان", "ها", "هم", "هن",
                "نا", "كم", "يه", "ه", "ي")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\d+", re.UNICODE)
_NUMBER = re.compile(r"\d{1,3}(?:[,\u066c\u00a0 ]\d{3})+(?:[.\u066b]\d+)?|\d+(?:[.\u066b]\d+)?")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
    **{normalise(k): v for k, v in {
        "واحد": 1, "اثنان": 2, "اثنين": 2, "ثلاثة": 3, "ثلاث": 3, "أربعة": 4, "أربع": 4,
        "خمسة": 5, "خمس": 5, "ستة": 6, "ست": 6, "سبعة": 7, "سبع": 7, "ثمانية": 8, "ثماني": 8,
        "تسعة": 9, "تسع": 9, "عشرة": 10, "عشر": 10, "عشرون": 20, "عشرين": 20,
        "ثلاثون": 30, "ثلاثين": 30, "أربعون": 40, "أربعين": 40, "خمسون": 50, "خمسين": 50,
        "مئة": 100, "مائة": 100}.items()}}
_MULTIPLIERS = {"thousand": 1000, "million": 10**6, "billion": 10**9, "k": 1000,
                **{normalise(k): v for k, v in {"ألف": 1000, "آلاف": 1000, "الف": 1000,
                                               "مليون": 10**6, "ملايين": 10**6,
                                               "مليار": 10**9}.items()}}
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


@dataclass(frozen=True)
class Meaning:
    """What a sentence says, as compared: content words and key facts."""

    words: frozenset[str]            # stems of its content words
    spellings: dict[str, str]        # stem -> the normalised word it came from
    numbers: frozenset[str]          # canonical numbers ("13000", "3.5")
    names: frozenset[str]            # normalised capitalised words (Latin script)
    name_spellings: dict[str, str] = field(default_factory=dict)   # normalised -> as written


@dataclass(frozen=True)
class NewSentence:
    """A sentence of a report that no known text says, and the facts it adds."""

    text: str
    start: int
    end: int
    facts: tuple[str, ...] = ()      # numbers and names no matching known sentence has


def meaning(text: str) -> Meaning:
    """The content words and key facts of one sentence."""
    numbers, rest = _numbers(text.translate(_DIGITS))
    norm = normalise(rest)
    stems, spellings = [], {}
    for tok in _TOKEN.findall(norm):
        if tok.isdigit() or tok in _STOP_EN or tok in _STOP_AR or len(tok) < 2:
            continue
        stem = _stem(tok)
        stems.append(stem)
        spellings.setdefault(stem, tok)
    names = _names(rest)
    return Meaning(frozenset(stems), spellings, frozenset(numbers),
                   frozenset(names), names)


def _numbers(text: str) -> tuple[list[str], str]:
    """The numbers of ``text`` as canonical strings, and the text without them."""
    found: list[str] = []
    words = text.split()
    out_words = []
    i = 0
    while i < len(words):
        low = normalise(words[i]).strip(".,;:!?()\"'،؛؟")
        value = _NUMBER_WORDS.get(low)
        if value is not None and i + 1 < len(words):
            mult = _MULTIPLIERS.get(normalise(words[i + 1]).strip(".,;:!?()\"'،؛؟"))
            if mult:
                found.append(str(value * mult))
                i += 2
                continue
        if value is not None and low not in ("one",):
            found.append(str(value))
            i += 1
            continue
        out_words.append(words[i])
        i += 1
    text = " ".join(out_words)

    def number(m: re.Match) -> str:
        raw = re.sub(r"[,\u066c\u00a0 ]", "", m.group()).replace("\u066b", ".")
        tail = text[m.end():m.end() + 12]
        mult = re.match(r"\s*(\w+)", tail)
        value = float(raw) if "." in raw else int(raw)
        if mult and normalise(mult.group(1)) in _MULTIPLIERS:
            value = value * _MULTIPLIERS[normalise(mult.group(1))]
        found.append(_canonical(value))
        return " "
    return found, _NUMBER.sub(number, text)


def _canonical(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


_CONNECTORS = frozenset("al el bin ibn abu abd de van von".split())


def _names(text: str) -> dict[str, str]:
    """Runs of capitalised Latin words (people, places, organisations, days, months),
    by their normalised letters run together ("rami abdurrahman" -> "ramiabdurrahman",
    so that "Abdul Rahman" and "Abdurrahman" can meet). A lone capitalised word that
    starts the sentence is not taken: every sentence starts that way."""
    out: dict[str, str] = {}
    words = list(re.finditer(r"[^\W\d_]+", text))
    run: list[str] = []
    first, last_end = 0, 0
    for k, m in enumerate(words + [None]):
        word = m.group() if m else ""
        low = normalise(word)
        capital = bool(word) and word[0].isupper() and word.isascii()
        joined = m is not None and re.fullmatch(r"[ \-\u2010]{1,2}", text[last_end:m.start()])
        if run and not joined:
            _end_run(out, run, first)
            run = []
        last_end = m.end() if m else 0
        if capital and low not in _STOP_EN or (run and low in _CONNECTORS):
            if not run:
                first = k
            run.append(word)
            continue
        _end_run(out, run, first)
        run = []
    return out


def _end_run(out: dict[str, str], run: list[str], first: int) -> None:
    while run and normalise(run[-1]) in _CONNECTORS:
        run.pop()
    if run and not (first == 0 and len(run) == 1):
        key = "".join(normalise(w) for w in run)
        if len(key) >= 3:
            out[key] = " ".join(run)


# Words that outlets covering detainees use for one another: a reworded report says
# "jail" for "prison", "freed" for "released", "relatives" for "families". Each group
# is one word to the comparison (the first word's stem stands for all).
SYNONYMS = [
    "prison prisons jail jails prisoner inmate inmates captive detainee detainees",
    "release released releases free freed freeing liberated",
    "fall collapse toppling topple toppled ouster downfall overthrow ousted",
    "rebel rebels insurgents insurgent fighters",
    "notorious infamous",
    "family families relatives relative loved",
    "missing disappeared vanished",
    "search searching seek seeking seeks hunt",
    "regime government",
    "أفرج أطلق حرر تحرير الإفراج إطلاق",
    "سجن سجون السجن السجون معتقل",
    "المعارضة الفصائل الثوار المتمردون المقاتلون مقاتلو",
    "سقوط انهيار الإطاحة",
    "عائلة أسرة ذوي أقارب أهالي العائلات عائلات",
    "اختفى مفقود المفقودين فقد",
]


def _raw_stem(word: str) -> str:
    if _ARABIC.search(word):
        stem = min(word_forms(word), key=len) if len(word) > 4 else word
        for suffix in _AR_SUFFIXES:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= 3:
                return stem[:-len(suffix)]
        return stem
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ians") or word.endswith("ian"):
        word = word[:word.rindex("n")]           # Syrian(s) -> Syria, Russian -> Russia
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    return word[:6]


_SYNONYM_OF = {_raw_stem(normalise(w)): _raw_stem(normalise(group.split()[0]))
               for group in SYNONYMS for w in group.split()}


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    stem = _raw_stem(word)
    return _SYNONYM_OF.get(stem, stem)


@lru_cache(maxsize=500_000)
def _same_word(a: str, b: str) -> bool:
    """Two spellings of one word (names transliterated two ways, a typo)."""
    if min(len(a), len(b)) < 5:
        return False
    return Indel.normalized_similarity(a, b) >= FUZZY_WORD


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
        for stem in m.words:
            if stem not in self._by_word:
                out.update(_stem(v) for v in self._fuzzy(m.spellings[stem]))
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
        if w in words or any(_same_word(m.spellings[w], s) for s in spellings):
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
