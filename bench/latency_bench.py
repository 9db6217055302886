"""Detection latency and requests per day: fixed polling against adaptive.

A simulated week of 50 feeds with publication rhythms like the real ones
(seeded): bursty wires (bursts of items by day, a trickle at night, the
last 20 items listed), daily NGOs (office hours, weekdays, last 15 listed)
and weekly blogs (last 10 listed); a few send ``Cache-Control: max-age``.
Both schedules run the REAL rules of pipeline/feedstate.py (``tick``,
``due_feeds``, ``after_success``) on a virtual clock: each tick asks which
feeds are due, each poll sees the entries a feed lists at that moment (a 304
when nothing is new) and hands their dates to ``after_success``. Only the
network and the clock are simulated; no request leaves the process.

Latency is from an item's publication to the first poll that lists it; an
item that dropped off its feed before a poll counts as lost. The baseline is
fixed polling every 30 minutes, in the same run, same week.

Also measured: what an idle scheduler tick costs (``cycle.idle_tick`` on a
real SQLite database of 50 feeds, statements and ms) against an empty cycle
(``run_cycle`` with no feed due), the cost each tick had without the check.

    .venv/bin/python bench/latency_bench.py [--seed 7] [--feeds 50]
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from pipeline import cycle, feedstate  # noqa: E402
from pipeline.config import FeedSpec, Settings, settings_from_mapping  # noqa: E402
from pipeline.records import FeedState  # noqa: E402

START = datetime(2024, 12, 2, tzinfo=timezone.utc)          # a Monday
WEEK = timedelta(days=7)
HISTORY = timedelta(days=21)                                # published before the week
MIN = 60.0


@dataclass
class SimFeed:
    spec: FeedSpec
    kind: str
    shows: int                                  # entries the feed lists
    max_age: float | None
    published: list[datetime] = field(default_factory=list)   # sorted

    def listed(self, now: datetime) -> list[datetime]:
        end = bisect.bisect_right(self.published, now)
        return self.published[max(0, end - self.shows):end]


def wire_times(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """Bursts of 1-6 items a few minutes apart, a burst every ~35 min from
    06:00 to 22:00 UTC, one item every ~3 h at night."""
    out, t = [], start
    while t < end:
        day = 6 <= t.hour < 22
        t += timedelta(minutes=rng.expovariate(1 / (35 if day else 180)))
        if not day:
            out.append(t)
            continue
        burst = t
        for _ in range(rng.randint(1, 6)):
            out.append(burst)
            burst += timedelta(minutes=rng.uniform(1, 4))
    return out


def daily_times(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """1-3 items on a weekday, in office hours; now and then one at a weekend."""
    out, day = [], start
    while day < end:
        n = rng.randint(1, 3) if day.weekday() < 5 else int(rng.random() < 0.2)
        out += [day + timedelta(hours=rng.uniform(8, 18)) for _ in range(n)]
        day += timedelta(days=1)
    return out


def weekly_times(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """1-2 posts a week at any time of day."""
    out, week = [], start
    while week < end:
        out += [week + timedelta(days=rng.uniform(0, 7)) for _ in range(rng.randint(1, 2))]
        week += WEEK
    return out


KINDS = (  # kind, share of feeds, rhythm, entries listed
    ("wire", 0.16, wire_times, 20),
    ("daily", 0.34, daily_times, 15),
    ("weekly", 0.50, weekly_times, 10),
)


def make_feeds(n: int, seed: int) -> list[SimFeed]:
    rng = random.Random(seed)
    feeds = []
    for kind, share, rhythm, shows in KINDS:
        for i in range(max(1, round(n * share))):
            url = f"http://{kind}{i}.example/feed"
            max_age = rng.choice([None, None, None, 300.0, 900.0])   # a CDN's max-age
            f = SimFeed(FeedSpec(name=f"{kind} {i}", url=url), kind, shows, max_age)
            f.published = sorted(rhythm(rng, START - HISTORY, START + WEEK))
            feeds.append(f)
    return feeds[:n]


def bench_settings(adaptive: bool, feeds: list[SimFeed], poll_min: str, poll_max: str
                   ) -> Settings:
    return settings_from_mapping({
        "feeds": [{"name": f.spec.name, "url": f.spec.url} for f in feeds],
        "topic": {"any": ["prison"]}, "poll_interval": "30m",
        "network": {"poll_adaptive": adaptive, "poll_min": poll_min, "poll_max": poll_max}})


@dataclass
class Run:
    name: str
    latencies: dict[str, list[float]] = field(default_factory=dict)   # kind -> minutes
    lost: int = 0
    requests: int = 0
    not_modified: int = 0

    def all(self) -> list[float]:
        return [x for xs in self.latencies.values() for x in xs]


def simulate(name: str, feeds: list[SimFeed], settings: Settings) -> Run:
    """One week of ticks; every decision is feedstate's."""
    run, states = Run(name), {}
    last_poll = {f.spec.url: START - timedelta(days=365) for f in feeds}
    by_url = {f.spec.url: f for f in feeds}
    step, now = feedstate.tick(settings), START
    while now < START + WEEK:
        due, _skipped = feedstate.due_feeds(settings.feeds, states, now, settings)
        for spec, state in due:
            f = by_url[spec.url]
            states[spec.url] = poll(run, f, state, last_poll[spec.url], now, settings)
            last_poll[spec.url] = now
        now += step
    return run


def poll(run: Run, f: SimFeed, state: FeedState, last: datetime, now: datetime,
         settings: Settings) -> FeedState:
    run.requests += 1
    listed = f.listed(now)
    lo = bisect.bisect_right(f.published, last)
    new = f.published[lo:bisect.bisect_right(f.published, now)]
    shown = set(listed)
    for published in new:
        if published < START:
            continue                            # before the week: not measured
        if published in shown:
            run.latencies.setdefault(f.kind, []).append((now - published).total_seconds() / MIN)
        else:
            run.lost += 1
    changed = bool(new) or state.last_success_at is None
    run.not_modified += not changed
    return feedstate.after_success(f.spec, state, now, settings, etag='"v"', last_modified=None,
                                   dates=listed if changed else None, fresh_for=f.max_age)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def report(run: Run, days: float) -> str:
    lat = run.all()
    kinds = ", ".join(f"{k} median {statistics.median(v):.1f}" for k, v in
                      sorted(run.latencies.items()))
    return (f"{run.name:<22} median {statistics.median(lat):6.1f} min  p90 {pct(lat, 0.9):6.1f}"
            f" min  requests/day {run.requests / days:7.0f} ({run.not_modified / days:.0f} 304)"
            f"  items {len(lat)} lost {run.lost}  [{kinds}]")


def other_weeks(args, seeds: list[int]) -> str:
    """The same ratios for other seeded weeks: not one lucky week."""
    cells = []
    for seed in seeds:
        feeds = make_feeds(args.feeds, seed)
        fixed = simulate("fixed", feeds, bench_settings(False, feeds, "5m", "2h"))
        adaptive = simulate("adaptive", feeds,
                            bench_settings(True, feeds, args.poll_min, args.poll_max))
        med = statistics.median(adaptive.all()) / statistics.median(fixed.all())
        cells.append(f"seed {seed}: x{med:.2f} median, x{adaptive.requests / fixed.requests:.2f}"
                     f" requests, lost {adaptive.lost} vs {fixed.lost}")
    return "other weeks (adaptive / fixed): " + "; ".join(cells)


# --- what an idle tick costs ------------------------------------------------------

def idle_tick_cost(n_feeds: int, repeat: int = 50) -> tuple[tuple[int, float], tuple[int, float]]:
    """(statements, ms) of an idle tick and of an empty cycle, on a real
    SQLite database whose feeds are all waiting for their pace."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = {"feeds": [{"name": f"f{i}", "url": f"http://f{i}.example/rss"}
                         for i in range(n_feeds)],
               "topic": {"any": ["prison"]}, "seeds_dir": str(ROOT / "seeds"),
               "extract": {"workers": 1}, "network": {"poll_adaptive": True}}
        settings = settings_from_mapping(raw)
        store = storage.open_store(f"sqlite:///{tmp}/bench.db")
        now = datetime.now(timezone.utc)
        storage.save_feed_states(store, [
            FeedState(url=f.url, name=f.name, last_success_at=now, poll_every=3600.0,
                      next_poll_at=now + timedelta(hours=1)) for f in settings.feeds])
        pipeline = cycle.open_pipeline(settings, store)
        try:
            idle = _measure(store, repeat, lambda: cycle.idle_tick(pipeline, now, now))
            empty = _measure(store, max(3, repeat // 10),
                             lambda: cycle.run_cycle(pipeline, now=now))
        finally:
            pipeline.close()
            store.close()
    return idle, empty


def _measure(store, repeat: int, step) -> tuple[int, float]:
    step()                                          # warm: connections, imports
    with storage.counting_statements(store) as seen:
        t = time.perf_counter()
        for _ in range(repeat):
            step()
        ms = (time.perf_counter() - t) * 1000 / repeat
    return round(len(seen) / repeat), ms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--poll-min", default="5m")
    ap.add_argument("--poll-max", default="2h")
    args = ap.parse_args(argv)
    feeds = make_feeds(args.feeds, args.seed)
    days = WEEK / timedelta(days=1)
    counts = ", ".join(f"{sum(f.kind == k for f in feeds)} {k}" for k, *_ in KINDS)
    print(f"# a simulated week of {len(feeds)} feeds ({counts}), seed {args.seed}; the real "
          f"pipeline/feedstate.py rules on a virtual clock")
    fixed = simulate("fixed every 30 min", feeds, bench_settings(False, feeds, "5m", "2h"))
    adaptive = simulate(f"adaptive {args.poll_min}..{args.poll_max}", feeds,
                        bench_settings(True, feeds, args.poll_min, args.poll_max))
    print(report(fixed, days))
    print(report(adaptive, days))
    med = statistics.median(adaptive.all()) / statistics.median(fixed.all())
    p90 = pct(adaptive.all(), 0.9) / pct(fixed.all(), 0.9)
    print(f"adaptive / fixed: median latency x{med:.2f} (target <= 0.33), p90 x{p90:.2f}, "
          f"requests/day x{adaptive.requests / fixed.requests:.2f} (target <= 1.00)")
    print(other_weeks(args, [s for s in range(1, 9) if s != args.seed]))
    (idle_n, idle_ms), (empty_n, empty_ms) = idle_tick_cost(args.feeds)
    print(f"idle tick ({args.feeds} feeds, SQLite): {idle_n} SQL statements, {idle_ms:.2f} ms; "
          f"an empty cycle (the tick without the check): {empty_n} statements, "
          f"{empty_ms:.1f} ms (x{idle_ms / empty_ms:.3f} of its time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
