"""Rematch over all history: time, database size and memory (issue 19).

    .venv/bin/python bench/rematch.py                 # 20,000 items, ~4/5 off topic
    .venv/bin/python bench/rematch.py --memory        # 40 simulated days with pruning

Items are real texts (the 181 article bodies of
/work/shared/data/article-extraction-benchmark) under real feed titles and summaries
(the replay entries: labelled relevant ones for a fifth of the items, so those are
kept by the shipped rules of config/watch.yaml; the others off topic). They are
judged as a cycle judges them (``match.judge``) and stored through ``storage.save_feed_batch`` with what the retention store keeps.
Then the config is edited (a watched person added, named in a few of the off-topic
texts) and ``rematch`` judges every item again, with its progress bar on stderr:
the figure is rematch time / baseline time (target ≤ 1.5), where the **baseline**,
timed in this run, is ``match.judge`` over the same items as the cycles that stored
them ran it (both with warm word caches: every distinct text is judged once first).

Size: a fresh SQLite file of 1,000 items of the same mix with ``history.keep: 0s``
and with the default, VACUUMed. Memory: ``--memory`` stores ``--per-day`` items a
day for ``--days`` days at simulated times, runs the daily maintenance (prune) and,
every 5th day, a rematch of 7 days (the service after an edit); RSS of this process
and retained rows per day.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import yaml
from tqdm import tqdm

from bench_common import ROOT, command, machine_line

import storage
from pipeline import dedupe, history, maintenance, match
from pipeline.config import load_settings
from pipeline.records import Article, FeedEntry, FeedState, ItemOutcome
from pipeline.rematch import rematch

DATA = Path("/work/shared/data")
NEW_PERSON = {"name": "Jeff Bezos", "note": "bench: a name added after the fact"}


def sources() -> tuple[list[str], list[dict], list[dict]]:
    bodies = [v["articleBody"] for v in json.loads(
        (DATA / "article-extraction-benchmark" / "ground-truth.json").read_text("utf-8")).values()]
    labels = {json.loads(line)["link"]: json.loads(line)["relevant"] for line in
              (DATA / "replay" / "labels.jsonl").read_text("utf-8").splitlines()}
    entries = [json.loads(line) for line in
               (DATA / "replay" / "entries.jsonl").read_text("utf-8").splitlines()]
    relevant = [e for e in entries if labels.get(e["link"])]
    other = [e for e in entries if labels.get(e["link"]) is False]
    return bodies, relevant, other


def make_items(n: int, start: datetime, span: timedelta, offset: int = 0):
    """(entry, text) pairs: every 5th under a relevant entry's title and summary."""
    bodies, relevant, other = sources()
    out = []
    for i in range(offset, offset + n):
        e = relevant[i % len(relevant)] if i % 5 == 0 else other[i % len(other)]
        at = start + span * ((i - offset) / max(n, 1))
        entry = FeedEntry(feed_name="Bench", feed_url="https://bench.example/feed",
                          link=f"https://bench.example/item/{i}", title=e["title"].strip(),
                          summary=(e.get("description") or "")[:2000], published=at)
        out.append((entry, f"{bodies[i % len(bodies)]}\nReport {i}."))
    return out


def judge_all(settings, items) -> tuple[list, float]:
    """The baseline: what a cycle's matching costs for these items."""
    t = time.perf_counter()
    verdicts = [match.judge(settings.topic, settings.alerts, e.title, e.summary, text,
                            max_hits=settings.limits.max_matches_per_rule)
                for e, text in items]
    return verdicts, time.perf_counter() - t


def store_items(store, settings, items, verdicts, found_at=None) -> None:
    keep = settings.history.keep.total_seconds() > 0
    outcomes = []
    for (entry, text), (topic, alerts) in zip(items, verdicts):
        at = found_at or entry.published
        art = Article(url=entry.link, title=entry.title, text=text)
        if topic is None:
            outcomes.append(ItemOutcome(entry, entry.link, "off_topic", at, entry.title,
                                        Article(url=entry.link, title=entry.title),
                                        retained=history.retain_text(text) if keep else None))
        else:
            fp = dedupe.fingerprint(text, settings.dedupe)
            outcomes.append(ItemOutcome(entry, entry.link, "new", at, entry.title, art,
                                        fingerprint=fp.to_bytes() if fp else None,
                                        alerts=list(alerts)))
    state = FeedState(url="https://bench.example/feed", name="Bench")
    for i in range(0, len(outcomes), 500):
        storage.save_feed_batch(store, state, outcomes[i:i + 500])


def settings_for(folder: Path, *, keep: str = "30d", person: bool = False):
    doc = yaml.safe_load((ROOT / "config" / "watch.yaml").read_text("utf-8"))
    doc["feeds"] = [{"name": "Bench", "url": "https://bench.example/feed"}]
    doc["history"] = {"keep": keep}
    doc["seeds_dir"] = str(ROOT / "seeds")
    if person:
        doc["people"] = [*doc.get("people", []), NEW_PERSON]
    path = folder / ("edited.yaml" if person else "watch.yaml")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return load_settings(path, env={"DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
                                    "NEWSWATCH_OUTPUT_DIR": str(folder / "out")})


def db_kib(store) -> float:
    with store.engine.connect() as conn:     # the file as it would be copied: no WAL
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("VACUUM")
    return store.sqlite_path.stat().st_size / 1024


def timing(n: int, folder: Path) -> None:
    settings = settings_for(folder)
    now = datetime.now(timezone.utc)
    items = make_items(n, now - timedelta(days=29), timedelta(days=28))
    edited = settings_for(folder, person=True)
    for rules in (settings, edited):       # warm word caches: every distinct text once
        judge_all(rules, items[:400])
    # the baseline: the matching of the cycles that stored these items
    verdicts, baseline = judge_all(settings, items)
    store = storage.open_store(settings.database_url)
    store_items(store, settings, items, verdicts)
    off = sum(1 for t, _ in verdicts if t is None)
    bar = tqdm(total=storage.count_to_rematch(store, now - timedelta(days=30), now),
               unit=" items", desc="rematch", file=sys.stderr)
    t = time.perf_counter()
    report = rematch(edited, store, timedelta(days=30), now=now, progress=bar.update)
    took = time.perf_counter() - t
    bar.close()
    print(f"items stored: {n} ({off} off topic, {n - off} kept), rules of config/watch.yaml")
    print(f"baseline, matching them as a cycle does: {baseline:.1f} s "
          f"({baseline / n * 1000:.2f} ms/item)")
    print(f"rematch --since 30d after adding a watched person: {took:.1f} s "
          f"({took / n * 1000:.2f} ms/item), {report.checked} checked, "
          f"{len(report.promoted)} promoted, {len(report.alerts_added)} alerts added")
    print(f"ratio rematch / baseline: {took / baseline:.2f} (target <= 1.5)")


def sizes(folder: Path) -> None:
    now = datetime.now(timezone.utc)
    for keep in ("0s", "30d"):
        sub = folder / f"size-{keep}"
        sub.mkdir()
        settings = settings_for(sub, keep=keep)
        items = make_items(1000, now - timedelta(days=1), timedelta(hours=20))
        verdicts, _ = judge_all(settings, items)
        store = storage.open_store(settings.database_url)
        store_items(store, settings, items, verdicts)
        off = sum(1 for t, _ in verdicts if t is None)
        print(f"database per 1,000 articles ({off} off topic), history.keep {keep}: "
              f"{db_kib(store):,.0f} KiB ({storage.count_retained(store)} texts retained)")


def memory(days: int, per_day: int, folder: Path) -> None:
    settings = settings_for(folder)
    edited = settings_for(folder, person=True)
    store = storage.open_store(settings.database_url)
    proc = psutil.Process()
    start = datetime.now(timezone.utc) - timedelta(days=days)
    print(f"{'day':>4} {'RSS MiB':>8} {'retained':>9} {'items':>7} {'DB MiB':>7}")
    for day in range(1, days + 1):
        at = start + timedelta(days=day)
        items = make_items(per_day, at - timedelta(days=1), timedelta(hours=23),
                           offset=day * per_day)
        verdicts, _ = judge_all(settings, items)
        store_items(store, settings, items, verdicts)
        maintenance.daily(settings, store, now=at)
        if day % 5 == 0:
            rematch(edited if day % 10 == 0 else settings, store, timedelta(days=7), now=at)
        if day in (1, 2, 5, 10, 15, 20, 25, 30, 35, 40) or day == days:
            path = store.sqlite_path       # the file and its write-ahead log
            wal = path.with_name(path.name + "-wal")
            size = (path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 2**20
            print(f"{day:4} {proc.memory_info().rss / 2**20:8.1f} "
                  f"{storage.count_retained(store):9} {day * per_day:7} {size:7.1f}",
                  flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--memory", action="store_true", help="the simulated days instead")
    ap.add_argument("--days", type=int, default=40)
    ap.add_argument("--per-day", type=int, default=300)
    args = ap.parse_args(argv)
    print(machine_line())
    print(f"$ {command('rematch.py', sys.argv[1:] if argv is None else argv)}")
    with tempfile.TemporaryDirectory(prefix="nw-rematch-") as tmp:
        folder = Path(tmp)
        if args.memory:
            memory(args.days, args.per_day, folder)
        else:
            sizes(folder)
            timing(args.items, folder)


if __name__ == "__main__":
    main()
