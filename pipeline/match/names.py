"""How a name part is spelt: what the Arabic and Latin spellings of one name share.

Arabic script writes consonants and long vowels; a romanisation adds the short
vowels and picks one of several Latin letters for each sound (q/k, j/g/dj,
sh/ch, ou/u, ee/i, e for both a and i, a final a/ah/eh for ta marbuta). So
instead of listing every spelling of a name (Hamada, Hamadeh, Hammada,
Hamadah, حمادة …: several choices per letter multiply), each spelling is
reduced to a :class:`Shape`: the *consonants*, one symbol per sound shared by
both scripts, and the vowel *gaps* between them. Two spellings are one name
when their consonants are the same and every gap could stand for the same
vowels (:func:`compatible`):

- Latin with Latin: each vowel has a class (a → A, e → E, i/y/ee → I,
  o/u/ou/w → U); E (the kasra of Mazen, the fatha of Mohammed) goes with A or
  I; a run may carry one glide more (Husayn, Hussein, Husein); a final mute e
  may be absent (Marouane, Marwan).
- Arabic with Latin: Arabic shows long vowels and ʿayn (ا و ي ع), not short
  ones, so a written long vowel needs a matching Latin vowel, an unwritten one
  allows any; word-initial and final vowels must agree (Omar/عمر, not
  "more"; Hamada/حمادة, not حامد).
- Arabic with Arabic: the same letters once normalised (pipeline/textnorm.py
  folds hamza seats, alef forms, ta marbuta, alef maqsura and tashkeel).

The article (al-, el-, ال, as- before s …) is never part of the shape; Abd,
Abu, Umm and bin compounds are one part (``prefix_kind``). :func:`near` is the
small edit tolerance for long parts only (one letter; jellyfish's Levenshtein,
see the README's dependency table). Generic names (Mohammed, Ahmad, Abu X …) are known
here so that a person is never found by one of them alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import jellyfish

from pipeline.textnorm import normalise

LATIN, ARABIC = "latin", "arabic"

# ---------------------------------------------------------------- particles

ARTICLES = frozenset({"al", "el", "il", "ul"})
# the article assimilated to a "sun letter": as-Sarout, ash-Shami, ad-Din, er-Rahman
SUN_ARTICLES = {"ad": "d", "ar": "r", "as": "s", "ash": "sh", "at": "t", "az": "z",
                "an": "n", "ath": "th", "adh": "dh", "ed": "d", "er": "r", "es": "s",
                "esh": "sh", "et": "t", "ez": "z", "en": "n"}
PREFIXES = {
    "abd": frozenset({"abd", "abdul", "abdel", "abdal", "abdil", "abdol", "abdoul", "abdu",
                      "abdou", "abdur", "abdar", "abder", "abdus", "abdas", "abdes", "abdun",
                      "عبد"}),
    "abu": frozenset({"abu", "abou", "abo", "abi", "aboo", "ابو", "ابي", "ابا"}),
    "umm": frozenset({"umm", "um", "oum", "om", "ام"}),
    "bin": frozenset({"bin", "ibn", "ben", "bn", "bint", "بن", "ابن", "بنت"}),
}
_ABD_JOINED = re.compile(r"^abd(?:ou|u|e|a|o|i)?(?:sh|l|r|s|n|z|t|d)?(?=[a-z]{3})")
_ALLAH = re.compile(r"^[aeiou]?l?la+h?$")        # the tail of Abdullah / Abdallah / Abdalla


def is_article(token: str, following: str = "") -> bool:
    """Is ``token`` the Arabic article written apart (al, el, or as- before an s …)?"""
    if token in ARTICLES:
        return True
    letter = SUN_ARTICLES.get(token)
    return letter is not None and following.startswith(letter)


def prefix_kind(token: str) -> str:
    """"abd", "abu", "umm" or "bin" when ``token`` opens a compound name, else ""."""
    for kind, tokens in PREFIXES.items():
        if token in tokens:
            return kind
    return ""


def split_joined_abd(word: str) -> str | None:
    """The tail of a joined Abd compound (Abdulrahman → rahman, عبدالرحمن → رحمن)."""
    if word.startswith("عبد") and len(word) >= 6:
        tail = word[3:]
        return tail[2:] if tail.startswith("ال") and tail != "الله" else tail
    m = _ABD_JOINED.match(word)
    if not m:
        return None
    tail = word[m.end():]
    return "allah" if _ALLAH.match(word[3:]) else tail


def article_readings(word: str) -> tuple[str, ...]:
    """The word and, when it may carry a joined article, the word without it
    (Alabbasi → abbasi, Elassad → assad, الحمادة → حماده): both are looked up."""
    if word.startswith("ال") and len(word) >= 4 and word != "الله":
        return word, word[2:]
    if (word.startswith("al") or word.startswith("el")) and len(word) >= 6:
        return word, word[2:]
    return (word,)


def strip_article(word: str) -> str:
    """A name part without a joined article: Alshogre → shogre, الحمادة → حماده."""
    if word.startswith("ال") and len(word) >= 4 and word != "الله":
        return word[2:]
    if (word.startswith("al") or word.startswith("el")) and len(word) >= 6 \
            and word[2] not in "aeiouy":
        return word[2:]
    return word


# ---------------------------------------------------------------- shapes

@dataclass(frozen=True)
class Shape:
    script: str
    text: str                 # the spelling compared (normalised, article stripped)
    consonants: str           # one symbol per consonant, the same in both scripts
    gaps: tuple[str, ...]     # the vowels before, between and after them
    word: str = ""            # the word it is the shape of

    @property
    def folded(self) -> str:
        """Consonants and vowel classes interleaved: what :func:`near` compares."""
        return "".join(g + c for g, c in zip(self.gaps, self.consonants)) + self.gaps[-1]


# Latin letters to the shared symbols: digraphs first (one regex, leftmost first),
# then single letters and the vowel classes (one translate)
_LATIN_DIGRAPHS = re.compile(r"sch|tch|ch|sh|kh|gh|dj|ph|th|dh|ck|ee|oo|ou|c(?=[eiy])")
_DIGRAPH = {"sch": "S", "tch": "S", "ch": "S", "sh": "S", "kh": "X", "gh": "G", "dj": "G",
            "ph": "f", "th": "t", "dh": "z", "ck": "k", "ee": "i", "oo": "u", "ou": "u",
            "c": "s"}                                     # c before e, i, y: Hocine, Vincenzo
_LATIN_TABLE = str.maketrans({"c": "k", "q": "k", "j": "G", "g": "G", "v": "f", "p": "b",
                              "x": "ks", "a": "A", "e": "E", "i": "I", "y": "Y", "o": "U",
                              "u": "U", "w": "W"})
_LATIN_VOWELS = "AEIUYW"
_NOT_LETTER = re.compile(r"[^a-z]")
_DOUBLE = re.compile(r"(.)\1+")
_LATIN_SPLIT = re.compile(r"([^AEIUYW])")

# Arabic letters (as pipeline/textnorm.py leaves them) to the same symbols; long
# vowels and ʿayn/hamza are vowel classes (A I U, * for any vowel)
_ARABIC_TABLE = str.maketrans({
    "ب": "b", "ت": "t", "ث": "t", "ج": "G", "ح": "h", "خ": "X", "د": "d", "ذ": "z", "ر": "r",
    "ز": "z", "س": "s", "ش": "S", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "غ": "G", "ف": "f",
    "ق": "k", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "H", "پ": "b", "چ": "S", "گ": "G",
    "ڤ": "f", "ک": "k", "ا": "A", "و": "U", "ي": "I", "ی": "I", "ع": "*", "ء": "*"})
_ARABIC_SPLIT = re.compile(r"([^AIU*~])")
_NOT_ARABIC_SYMBOL = re.compile(r"[^a-zA-Z*~]")


def is_arabic(word: str) -> bool:
    return bool(word) and "\u0600" <= word[0] <= "\u06ff"


@lru_cache(maxsize=65536)
def shapes(word: str) -> tuple[Shape, ...]:
    """The shapes of one normalised word (none when it has no consonant). A Latin
    final -eh/-ah is the ta marbuta (Hamadeh, حمادة) or a consonant (Saleh,
    صالح): both readings are kept."""
    if not word:
        return ()
    if is_arabic(word):
        found = _arabic_shape(word)
        return (found,) if found else ()
    s = _NOT_LETTER.sub("", word)
    s = _LATIN_DIGRAPHS.sub(lambda m: _DIGRAPH[m.group()], s)
    s = _DOUBLE.sub(r"\1", s.translate(_LATIN_TABLE))
    readings = [s]
    if len(s) > 2 and s[-1] == "h" and s[-2] in _LATIN_VOWELS:
        readings.insert(0, _DOUBLE.sub(r"\1", s[:-1]))
    return tuple(found for r in readings if (found := _split(LATIN, r, word, _LATIN_SPLIT)))


def _split(script: str, symbols: str, word: str, pattern: re.Pattern) -> Shape | None:
    pieces = pattern.split(symbols)
    if len(pieces) < 3:
        return None                     # no consonant
    return Shape(script, symbols, "".join(pieces[1::2]), tuple(pieces[0::2]), word)


def _arabic_shape(word: str) -> Shape | None:
    s = _NOT_ARABIC_SYMBOL.sub("", word.translate(_ARABIC_TABLE))
    if not s:
        return None
    if s[0] == "A":
        s = "*" + s[1:]                 # a word-initial alef: any vowel
    if len(s) > 1 and s[-1] == "H" and _ARABIC_SPLIT.search(s[:-1]):
        s = s[:-1] + "~"                # ta marbuta or a final h: an optional final vowel
    elif s[-1] == "I":
        s = s[:-1] + "*"                # a final ya (alef maqsura once folded): any vowel
    s = s.replace("H", "h")
    shape = _split(ARABIC, s, word, _ARABIC_SPLIT)
    return Shape(ARABIC, word, shape.consonants, shape.gaps, word) if shape else None


# ---------------------------------------------------------------- comparing

_AGREE = frozenset({("A", "E"), ("E", "A"), ("I", "E"), ("E", "I"), ("U", "W"), ("W", "U"),
                    ("I", "Y"), ("Y", "I")})


def _vowels_agree(a: str, b: str) -> bool:
    """One vowel class for another: E is the a or the i of a romanisation (Mazen,
    Mohammed), w and y the glides of u and i (Wael/Ouael, Yassin/Iassine)."""
    return a == b or (a, b) in _AGREE


def _latin_runs_agree(a: str, b: str, edge: bool, final: bool) -> bool:
    if a == b:
        return True
    if not a or not b:
        return final and (a or b) == "E"          # a mute final e (Marouane = Marwan)
    if len(a) == len(b):
        return all(_vowels_agree(x, y) for x, y in zip(a, b))
    long, short = (a, b) if len(a) > len(b) else (b, a)
    if len(long) - len(short) != 1:
        return False
    return any(_latin_runs_agree(long[:i] + long[i + 1:], short, edge, final)
               for i in range(len(long)))


def _cross_gap_agrees(latin: str, arabic: str, edge: bool, final: bool) -> bool:
    written = arabic.replace("~", "")
    if not written:
        if "~" in arabic:
            return True               # a final ه may be h or a vowel
        if not latin or not edge:
            return True               # short vowels are not written in Arabic
        return final and latin == "E"
    if not latin:
        return False                  # Arabic writes a long vowel or ʿayn here
    if edge and not final and written[0] == "*" and latin[0] in "WY":
        return False                  # an initial alef or ʿayn is a vowel, not w or y
    if edge and not final and written[0] in "UI" and not _vowels_agree(written[0], latin[0]):
        return False                  # an initial و or ي: Wael, Yara; not Ael, Ara
    return all(v == "*" or any(_vowels_agree(v, x) for x in latin) for v in written)


def compatible(a: Shape, b: Shape) -> str | None:
    """Why two spellings may be one name ("same", "spelling", "script"), or None."""
    if a.consonants != b.consonants:
        return None
    if a.script == b.script == ARABIC:
        return "same" if a.text == b.text else None
    if a.text == b.text:
        return "same"
    last = len(a.gaps) - 1
    if a.script == b.script:
        ok = all(_latin_runs_agree(x, y, i in (0, last), i == last)
                 for i, (x, y) in enumerate(zip(a.gaps, b.gaps)))
        return "spelling" if ok else None
    latin, arabic = (a, b) if a.script == LATIN else (b, a)
    ok = all(_cross_gap_agrees(x, y, i in (0, last), i == last)
             for i, (x, y) in enumerate(zip(latin.gaps, arabic.gaps)))
    return "script" if ok else None


LONG_LATIN, LONG_ARABIC = 7, 5     # letters from which one wrong letter is tolerated


def near(a: Shape, b: Shape) -> bool:
    """One letter off, for long parts only (Khartabil / Khartbil, زيتونة / زيتونه)."""
    if a.script != b.script:
        return False
    if a.script == LATIN:
        if min(len(a.text), len(b.text)) < LONG_LATIN:
            return False
        return jellyfish.levenshtein_distance(a.folded, b.folded) <= 1
    if min(len(a.text), len(b.text)) < LONG_ARABIC:
        return False
    return jellyfish.levenshtein_distance(a.text, b.text) <= 1


# ---------------------------------------------------------------- generic names

# Given names and titles too common to tell a person by (seeded from rigour's list
# of generic person names, with the most frequent Arabic given names added):
# a part that spells one of these never counts as distinctive.
GENERIC_NAMES = (
    "muhammad mohammed mohamed mohammad muhammed mehmet ahmad ahmed mahmoud mustafa ali "
    "hassan hasan hussein husayn omar khaled ibrahim youssef yusuf abdullah bilal "
    "sheikh hajj sayyid imam father mr mrs dr doctor colonel general president")
GENERIC_COMPOUNDS = {"abd": ("allah", "rahman", "aziz", "haq", "samad", "karim")}
GENERIC_KINDS = frozenset({"abu", "umm"})     # a kunya (Abu Ahmad, Umm Ali) is generic


@lru_cache(maxsize=1)
def _generic_shapes() -> dict[str, tuple[Shape, ...]]:
    out = {"": tuple(s for w in GENERIC_NAMES.split() for s in shapes(w))}
    for kind, tails in GENERIC_COMPOUNDS.items():
        out[kind] = tuple(s for w in tails for s in shapes(w))
    return out


@lru_cache(maxsize=16384)
def is_generic(kind: str, text: str) -> bool:
    """Is a name part (a compound's kind and its main word) too common alone?"""
    if kind in GENERIC_KINDS:
        return True
    own = shapes(text)
    if not own:
        return True
    generic = _generic_shapes().get("" if kind == "bin" else kind, ())
    return any(compatible(s, g) for s in own for g in generic)


_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2013_.,;:()\"]+")
_SILENT = re.compile(r"['\u2018\u2019\u02bc\u02bf\u02be`]")


# Words that are never a middle name between two parts of a name, even capitalised
# in a headline ("The Raid On Saleh's Farm", "Mazen And Hamada"), and the Arabic
# given names that often stand in the middle of one (Hamza Ali al-Khatib).
NOT_NAMES = frozenset("""
    a an and as at be but by for from had has have he her his how in into is it its
    meets met new not of on or over says said she than that the their then they this
    to told tells under vs was were what when where who why will with after before
    these those there here well also all any are can could may our out one two
    au aux avec dans de des du en est et la le les par pour sur un une
    """.split())
ARABIC_MIDDLE_NAMES = frozenset(normalise(w) for w in """
    محمد أحمد محمود مصطفى علي حسن حسين عمر خالد إبراهيم يوسف عبدالله بلال صالح
    """.split())


def spelling_tokens(spelling: str) -> list[tuple[str, str]]:
    """(normalised, as written) for each word of a spelling in the config: split at
    spaces and hyphens, apostrophes and ʿ ʾ dropped (Dall'Oglio is one word, as is
    Ma'touk). Words of one letter (initials) are left out."""
    out = []
    for raw in _SEPARATORS.split(spelling):
        norm = _SILENT.sub("", normalise(raw))
        if len(norm) > 1 or (norm and is_arabic(norm)):
            out.append((norm, raw))
    return out
