"""What a sentence says, as the novelty stage compares it: content words and key facts.

Content words: normalised by ``pipeline.textnorm`` (case, diacritics, Arabic letter forms
and digits folded), function words dropped, English words cut to a stem, Arabic words
stripped of attached prefixes and suffixes, and the subject's synonyms (prison/jail,
freed/released, سجن/معتقل …) made one word. Key facts: numbers in any format
(``13,000``, ``13000``, ``13 thousand``, ``١٣ ألف``, ``thirteen``) and, in Latin
script, names (runs of capitalised words inside a sentence: people, places, days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz.distance import Indel

from pipeline.textnorm import normalise, word_forms

FUZZY_WORD = 0.8           # Indel similarity at which two spellings are one word

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


def meaning(text: str) -> Meaning:
    """The content words and key facts of one sentence."""
    numbers, rest = _numbers(text.translate(_DIGITS))
    norm = normalise(rest)
    stems, spellings = [], {}
    for tok in _TOKEN.findall(norm):
        if tok.isdigit() or tok in _STOP_EN or tok in _STOP_AR or len(tok) < 2:
            continue
        key = stem(tok)
        stems.append(key)
        spellings.setdefault(key, tok)
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
        bare = min(word_forms(word), key=len) if len(word) > 4 else word
        for suffix in _AR_SUFFIXES:
            if bare.endswith(suffix) and len(bare) - len(suffix) >= 3:
                return bare[:-len(suffix)]
        return bare
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
def stem(word: str) -> str:
    """The one form a normalised word is compared as."""
    raw = _raw_stem(word)
    return _SYNONYM_OF.get(raw, raw)


@lru_cache(maxsize=500_000)
def same_word(a: str, b: str) -> bool:
    """Two spellings of one word (names transliterated two ways, a typo)."""
    if min(len(a), len(b)) < 5:
        return False
    return Indel.normalized_similarity(a, b) >= FUZZY_WORD


