"""What a watchlist costs per article: ``pipeline.match.judge`` with and without people.

    .venv/bin/python bench/people_cost.py [--people 500] [--rounds 5]

Real article texts: the bodies of ../shared/data/article-extraction-benchmark
(181 pages; tests/fixtures/articles' 11 when the shared folder is absent), each
with its title. Each article is judged as a new item (its document analysed
afresh) with three rule sets, timed in the same run, interleaved:

  today     the default config's topic and alert rules, without its people
  default   the default config as shipped (its small watchlist included)
  +N        the default config with N more people (synthetic Syrian names, each
            with an Arabic form), the target being within 1.5x of today

Times are the process's CPU time (other processes on the machine do not count).
The first pass over the articles is reported apart ("cold": the watchlist meets
every word for the first time, one rule set after the other); later passes are the
steady state of a long-running worker, which remembers what each word matched, and
there the rule sets take turns article by article. Also printed: the
time to build the watchlist index and the size of the pickled rule set, which
travels with every extraction task (pipeline/verdict.py RuleSet).
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import match  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.match import people, rules  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "article-extraction-benchmark"
FIXTURES = ROOT / "tests" / "fixtures" / "articles"

GIVEN = """Mazen مازن|Khaled خالد|Samer سامر|Bassam بسام|Fadi فادي|Rami رامي|Nabil نبيل|
Wassim وسيم|Hani هاني|Tarek طارق|Ziad زياد|Ghassan غسان|Firas فراس|Majd مجد|Imad عماد|
Yasser ياسر|Louay لؤي|Samir سمير|Karim كريم|Hisham هشام|Walid وليد|Anas أنس|Jihad جهاد|
Osama أسامة|Nour نور|Lina لينا|Hala هالة|Rasha رشا|Dima ديما|Reem ريم|Salma سلمى|Rana رنا|
Huda هدى|Maya مايا|Omar عمر"""
FAMILY = """Haddad حداد|Khoury خوري|Darwish درويش|Halabi حلبي|Shami شامي|Masri مصري|Hamwi حموي|
Kurdi كردي|Jaber جابر|Nasser ناصر|Saleh صالح|Othman عثمان|Qassem قاسم|Hariri الحريري|
Atassi الأتاسي|Sabbagh صباغ|Attar العطار|Bitar البيطار|Tabbaa طباع|Kayali الكيالي|
Najjar النجار|Hijazi حجازي|Sawaf الصواف|Zoabi الزعبي|Hourani الحوراني|Moussa موسى|
Yassin ياسين|Abboud عبود|Mardini مارديني|Aswad الأسود"""


def synthetic_people(n: int) -> list[dict]:
    """n people, every given name with every family name in a fixed shuffled order."""
    given = [g.split() for g in GIVEN.replace("\n", "").split("|")]
    family = [f.split() for f in FAMILY.replace("\n", "").split("|")]
    pairs = [(g, f) for g in given for f in family]
    pairs = [pairs[(i * 7919) % len(pairs)] for i in range(len(pairs))]
    if n > len(pairs):
        raise SystemExit(f"at most {len(pairs)} synthetic people")
    return [{"name": f"{g[0]} {f[0]}", "also": [f"{g[1]} {f[1]}"]} for g, f in pairs[:n]]


def articles() -> list[tuple[str, str]]:
    """(title, text) of each real article."""
    folder = SHARED if (SHARED / "ground-truth.json").exists() else FIXTURES
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for entry in truth.values():
        body = entry.get("articleBody") or ""
        if body.strip():
            first = body.strip().split("\n", 1)[0]
            out.append((first[:120], body))
    print(f"{len(out)} article texts from {folder}")
    return out


def judge_all(topic, alerts, texts) -> float:
    """CPU seconds to judge every article once, each as a new document."""
    start = time.process_time()
    for title, text in texts:
        rules._cached_document.cache_clear()
        match.judge(topic, alerts, title, "", text)
    return time.process_time() - start


def interleaved(topic, sets: dict, texts, rounds: int) -> dict[str, list[float]]:
    """Per rule set, the CPU seconds of each round over all articles, the sets taking
    turns article by article (in a rotating order), so that a change in the
    machine's speed falls on all of them alike."""
    labels = list(sets)
    out = {label: [] for label in labels}
    for r in range(rounds):
        spent = dict.fromkeys(labels, 0.0)
        for i, (title, text) in enumerate(texts):
            for label in labels[(i + r) % len(labels):] + labels[:(i + r) % len(labels)]:
                rules._cached_document.cache_clear()
                start = time.process_time()
                match.judge(topic, sets[label], title, "", text)
                spent[label] += time.process_time() - start
        for label in labels:
            out[label].append(spent[label])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    settings = load_settings(ROOT / "config" / "watch.yaml")
    texts = articles()
    today = tuple(r for r in settings.alerts if not people.is_person(r))
    start = time.perf_counter()
    extra = people.parse_people(synthetic_people(args.people))
    parsed = time.perf_counter() - start
    more = people.with_people(extra + settings.people, today)
    start = time.perf_counter()
    people.watchlist_of(more)
    built = time.perf_counter() - start
    sets = {"today": today, "default": settings.alerts, f"+{args.people}": more}
    for label, alerts in sets.items():
        size = len(pickle.dumps((settings.topic, alerts), protocol=pickle.HIGHEST_PROTOCOL))
        print(f"  {label:8} {sum(people.is_person(r) for r in alerts):4} people, "
              f"{len(alerts):4} alert rules, pickled rule set {size / 1024:.0f} KB")
    print(f"  parsing {args.people} people {parsed * 1e3:.0f} ms, building their index "
          f"{built * 1e3:.0f} ms (once per process and config)")
    gc.collect()
    cold = {label: judge_all(settings.topic, alerts, texts) for label, alerts in sets.items()}
    warm = interleaved(settings.topic, sets, texts, args.rounds)
    n = len(texts)
    print(f"CPU per article; steady: median of {args.rounds} interleaved rounds, the ratio "
          "taken within each round")
    for label in sets:
        ratios = sorted(w / b for w, b in zip(warm[label], warm["today"]))
        print(f"{label:8} cold {cold[label] / n * 1e3:6.3f} ms ({cold[label] / cold['today']:4.2f}x"
              f" today)   steady {statistics.median(warm[label]) / n * 1e3:6.3f} ms "
              f"({statistics.median(ratios):4.2f}x today; rounds {ratios[0]:.2f}-{ratios[-1]:.2f})")
    ratio = statistics.median(w / b for w, b in zip(warm[f"+{args.people}"], warm["today"]))
    print(f"with {args.people} people: {ratio:.2f}x today's matching time per article "
          f"(target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
