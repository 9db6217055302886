"""Measure how well watched people are found in running text.

    .venv/bin/python bench/people_eval.py [--latin-only] [--quiet] [--compare]

The labelled set is tests/fixtures/people/ (see its README): 70 real people of
the Syria detention story, each spelling embedded in sentences, and hard
negatives (namesakes, one part alone, parts split by punctuation, common words,
generic names). The watchlist is built from people.yaml as a user would write
it (``name`` and ``also``: the Latin name and one Arabic form); ``--latin-only``
drops the ``also`` forms, so every Arabic and French spelling must come from the
generated spelling space. A person match is a (sentence, person) pair; prints
precision, recall, the counts by kind and every miss and false match.
``--compare`` also measures the alternatives the spelling model was chosen over.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.match import people  # noqa: E402
from pipeline.match.rules import analyse  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "people"


@dataclass(frozen=True)
class Sentence:
    text: str
    expect: frozenset[str]
    kind: str              # "positive" or the negative's kind (namesake, one-part …)
    seen: str = ""


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[tuple[str, str]] = field(default_factory=list)        # (person, sentence)
    false: list[tuple[str, str, str]] = field(default_factory=list)    # (person, kind, sentence)
    by_kind: dict[str, list[int]] = field(default_factory=dict)        # kind -> [sentences, wrong]
    seconds: float = 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _read(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load(directory: Path = FIXTURE) -> tuple[list[dict], list[Sentence], list[Sentence]]:
    """The people (as in people.yaml), the sentences the matcher was tuned on
    (positives and negatives) and the held-out sentences written after it."""
    listed = _read(directory / "people.yaml")
    tuned = [Sentence(s["text"], frozenset(s["expect"]), "positive", s.get("seen", ""))
             for s in _read(directory / "positives.yaml")]
    tuned += [Sentence(s["text"], frozenset(), s["kind"])
              for s in _read(directory / "negatives.yaml")]
    heldout = [Sentence(s["text"], frozenset(s["expect"]), s["kind"])
               for s in _read(directory / "heldout.yaml")]
    return listed, tuned, heldout


def watchlist(listed: list[dict], *, latin_only: bool = False) -> tuple[people.Person, ...]:
    """The people as a user would list them; ``latin_only`` drops the Arabic-script
    forms of ``also`` (the Latin aliases stay: they are other names, not spellings)."""
    raw = [{"name": p["name"],
            "also": [a for a in p.get("also", []) if not (latin_only and _arabic(a))]}
           for p in listed]
    return people.parse_people(raw, file="tests/fixtures/people/people.yaml")


def _arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def found_in(watched, text: str) -> set[str]:
    doc = analyse({"title": "", "summary": "", "text": text})
    return set(people.match_people(watched, doc))


def evaluate(watched, sentences: list[Sentence], finder=found_in) -> Score:
    score = Score()
    start = time.perf_counter()
    for s in sentences:
        found = finder(watched, s.text)
        kind = score.by_kind.setdefault(s.kind, [0, 0])
        kind[0] += 1
        kind[1] += found != s.expect
        for name in found & s.expect:
            score.tp += 1
        for name in sorted(s.expect - found):
            score.fn += 1
            score.misses.append((name, s.text))
        for name in sorted(found - s.expect):
            score.fp += 1
            score.false.append((name, s.kind, s.text))
    score.seconds = time.perf_counter() - start
    return score


def report(title: str, score: Score, n: int, quiet: bool = False) -> None:
    print(f"{title}: precision {score.precision:.3f}, recall {score.recall:.3f} "
          f"({score.tp} found, {score.fn} missed, {score.fp} false) over {n} sentences, "
          f"{score.seconds / n * 1e3:.2f} ms a sentence")
    print("  wrong sentences by kind: " + ", ".join(
        f"{k} {wrong}/{total}" for k, (total, wrong) in sorted(score.by_kind.items())))
    if quiet:
        return
    for name, text in score.misses:
        print(f"  MISSED {name}: {text}")
    for name, kind, text in score.false:
        print(f"  FALSE  {name} ({kind}): {text}")


# ---------------------------------------------------------------- alternatives (--compare)

def _alternatives(listed, sentences, latin_only: bool) -> None:
    """The same sentences with Latin-with-Latin spellings decided another way: a
    library's similarity of the two words, (a) among the parts that share the
    word's consonants (our index) and (b) among all parts (no index). Arabic with
    Latin stays ours in both; "cross-script by consonants only" drops our vowel
    rules there instead. What the spelling model was chosen over (README)."""
    from pipeline.match import names

    original = names.compatible
    watched = watchlist(listed, latin_only=latin_only)
    rows = [("shapes (ours)", original, False)]
    rows.append(("exact normalised spelling", _latin_by(lambda x, y: x == y), False))
    rows.append(("consonants equal, vowels ignored", _latin_by(lambda x, y: True), False))
    rows.append(("cross-script by consonants only", _cross_consonants_only(original), False))
    for label, same in _library_tests():
        rows.append((f"{label}, within our consonant index", _latin_by(same), False))
        rows.append((f"{label}, every part a candidate", _latin_by(same, any_consonants=True),
                     True))
    try:
        for label, compare, everything in rows:
            names.compatible = compare
            people.forget_watchlists()
            if everything:
                wl = people.watchlist_of(watched)
                wl.index = _EveryPart(len(wl.parts))
            report(label, evaluate(watched, sentences), len(sentences), quiet=True)
    finally:
        names.compatible = original
        people.forget_watchlists()


class _EveryPart(dict):
    """An index that offers every part as a candidate for every word."""

    def __init__(self, n: int):
        super().__init__()
        self.every = list(range(n))

    def get(self, key, default=None):
        return self.every


def _latin_by(same, any_consonants: bool = False):
    """Ours for Arabic; ``same(word, word)`` decides two Latin spellings."""
    from pipeline.match import names

    ours = names.compatible

    def compare(a, b):
        if a.script != names.LATIN or b.script != names.LATIN:
            return ours(a, b)
        if not any_consonants and a.consonants != b.consonants:
            return None
        return "spelling" if same(a.word, b.word) else None
    return compare


def _cross_consonants_only(ours):
    def compare(a, b):
        if a.script != b.script:
            return "script" if a.consonants == b.consonants else None
        return ours(a, b)
    return compare


def _library_tests():
    import jellyfish

    tests = [("jellyfish metaphone codes equal",
              lambda x, y: jellyfish.metaphone(x) == jellyfish.metaphone(y)),
             ("jellyfish match rating comparison",
              lambda x, y: bool(jellyfish.match_rating_comparison(x, y)))]
    try:
        from rapidfuzz.distance import JaroWinkler, Levenshtein
        tests[:0] = [
            ("rapidfuzz Levenshtein <= 1", lambda x, y: Levenshtein.distance(x, y) <= 1),
            ("rapidfuzz Levenshtein <= 2", lambda x, y: Levenshtein.distance(x, y) <= 2),
            ("rapidfuzz Jaro-Winkler >= 0.9",
             lambda x, y: JaroWinkler.similarity(x, y) >= 0.9)]
    except ImportError:
        print("  (rapidfuzz not installed (make bench installs it): its rows are left out)")
    try:
        from rigour.names import NamePart, compare_parts
        tests.append(("rigour compare_parts score >= 0.7", lambda x, y: any(
            al.score >= 0.7 for al in compare_parts([NamePart(x, 0)], [NamePart(y, 0)]))))
    except ImportError:
        print("  (rigour not installed: its rows are left out)")
    return tests


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latin-only", action="store_true",
                        help="the watchlist without its Arabic (also) forms")
    parser.add_argument("--compare", action="store_true",
                        help="also measure the alternative ways of comparing spellings")
    parser.add_argument("--quiet", action="store_true", help="figures only")
    args = parser.parse_args(argv)
    listed, tuned, heldout = load()
    for label, sentences in (("tuned on", tuned), ("held out", heldout)):
        positives = sum(s.kind == "positive" for s in sentences)
        print(f"{label}: {positives} sentences naming people, "
              f"{len(sentences) - positives} hard negatives")
    print(f"{len(listed)} people, {sum(len(p['spellings']) for p in listed)} spellings")
    watched = watchlist(listed, latin_only=args.latin_only)
    title = "Latin names only" if args.latin_only else "name + also"
    report(f"{title}, tuned on", evaluate(watched, tuned), len(tuned), quiet=args.quiet)
    report(f"{title}, held out", evaluate(watched, heldout), len(heldout), quiet=args.quiet)
    if args.compare:
        print(f"alternatives, {title}, all {len(tuned) + len(heldout)} sentences:")
        _alternatives(listed, tuned + heldout, args.latin_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
