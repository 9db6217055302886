"""Commands over what is already stored: export, health, daily maintenance (rematch is
pipeline/rematch.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import IO

import storage
from pipeline.config import Settings
from pipeline.records import StoredItem

# clocks of two machines writing one database (``newswatch once`` elsewhere) differ a little
CLOCK_SKEW = timedelta(seconds=5)


def export_entries(store: storage.Store, out: IO[str]) -> int:
    """One JSON line per entry URL seen; returns the number written."""
    n = 0
    for item in storage.all_items(store):
        out.write(json.dumps(_export_record(item), ensure_ascii=False) + "\n")
        n += 1
    return n


def _export_record(item: StoredItem) -> dict:
    return {"url": item.url, "canonical_url": item.canonical_url, "title": item.title,
            "source": item.source, "also_in": list(item.also_in), "status": item.status, "duplicate_of": item.duplicate_of,
            "alerts": [m.rule for m in item.alerts],
            "published": item.published.isoformat() if item.published else None,
            "fetched_at": item.fetched_at.isoformat(), "story": item.story_key,
            "extraction": item.extraction, "error": item.error}


def daily(settings: Settings, store: storage.Store, now: datetime | None = None) -> int:
    """The service's daily maintenance: forget what was kept of off-topic items
    older than ``history.keep``. Returns the number of items forgotten."""
    now = now or datetime.now(timezone.utc)
    return storage.prune_retained(store, now - settings.history.keep)


def health(settings: Settings, store: storage.Store,
           now: datetime | None = None) -> tuple[bool, str]:
    """Healthy when the last cycle finished within twice the poll interval, and
    not in the future: a clock that went back is worth a look (new items are
    stamped no earlier than the last cycle until it catches up)."""
    now = now or datetime.now(timezone.utc)
    last = storage.last_cycle(store)
    limit = settings.poll_interval * 2
    if last is None:
        return False, "unhealthy: no cycle has finished yet"
    finished, summary = last
    age = now - finished
    if age < -CLOCK_SKEW:
        return False, (f"unhealthy: the last cycle finished {_ago(-age)} in the future "
                       f"({finished.isoformat(timespec='seconds')}); did the clock go back?")
    if age > limit:
        return False, (f"unhealthy: last cycle finished {_ago(age)} ago, more than "
                       f"2 × poll interval ({_ago(limit)})")
    return True, f"healthy: last cycle finished {_ago(age)} ago: {summary}" + \
        _paces(settings, store) + _failing_channels(store)


def _paces(settings: Settings, store: storage.Store) -> str:
    """Adaptive polling: the configured feeds' paces, fastest and slowest."""
    if not settings.network.poll_adaptive or not settings.feeds:
        return ""
    states = storage.feed_states(store)
    paced = sorted(((states[f.url].poll_every or settings.poll_interval.total_seconds(),
                     f.name, states[f.url]) for f in settings.feeds if f.url in states),
                   key=lambda row: row[:2])
    if not paced:
        return ""
    (_, fast, fs), (_, slow, ss) = paced[0], paced[-1]
    return (f"; {len(paced)} feeds polled at their pace, fastest {fast} "
            f"{fs.pace_text(settings.poll_interval)}, slowest {slow} "
            f"{ss.pace_text(settings.poll_interval)}")


def _failing_channels(store: storage.Store) -> str:
    """Delivery channels that keep failing: reported, not a reason to restart
    the service (a restart does not bring a mail server back)."""
    failing = storage.failing_channels(store)
    if not failing:
        return ""
    return "; delivery channels failing: " + "; ".join(
        f"{c.channel} since {c.failing_since:%Y-%m-%d %H:%M} UTC ({c.consecutive_failures} "
        f"failures in a row: {c.last_error})" for c in failing)


def _ago(delta: timedelta) -> str:
    s = max(0, int(delta.total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def watchlist_reports(settings: Settings, store: storage.Store, days: int = 30,
                      now: datetime | None = None) -> list[tuple[str, int, datetime | None]]:
    """(person, reports found in the last ``days`` days, when the latest was found)
    for each watched person, in config order."""
    now = now or datetime.now(timezone.utc)
    counts = storage.reports_per_rule(store, [p.name for p in settings.people],
                                      now - timedelta(days=days))
    return [(p.name, *counts.get(p.name, (0, None))) for p in settings.people]
