"""What each page shows, read from storage into plain values for its template.

No HTTP here (``app.py`` does that) and no SQL (``storage/`` does that): each
function takes the current settings and the store and returns the template's
context, or None when what was asked for does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Mapping

import storage
from pipeline import maintenance
from pipeline.config import Settings
from pipeline.records import FeedState, StoredItem
from pipeline.redact import redact_text, redact_url
from pipeline.web import briefing, marks
from pipeline.web.query import ParsedQuery, parse_query, variant_sets

PAGE_SIZE = 20
MAX_PAGE = 500                  # deep pages cost the database and help nobody
KEPT_WINDOW = timedelta(days=30)
ATOM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.atom$")


def when(moment: datetime | None, settings: Settings) -> str:
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z") if moment else ""


def item_time(item: StoredItem, settings: Settings) -> str:
    return when(item.published or item.fetched_at, settings)


# --- briefings ----------------------------------------------------------------

def briefing_page(settings: Settings, store: storage.Store, day: date,
                  now: datetime) -> dict:
    b = briefing.build_briefing(settings, store, day, now)
    open_day, open_start = briefing.open_day(settings, now)
    newer = storage.kept_item_time(store, after=open_start) if open_day > day else None
    return {"b": b, "d": b.digest, "open_day": open_day if newer else None}


def home_day(settings: Settings, store: storage.Store, now: datetime) -> date:
    return briefing.day_to_show(settings, store, now)


# --- one item, one story ------------------------------------------------------

def item_page(settings: Settings, store: storage.Store, item_id: int, q: str = ""
              ) -> dict | None:
    item = storage.item_by_id(store, item_id)
    if item is None:
        return None
    parsed = parse_query(q, variant_sets(settings)) if q.strip() else None
    hits = marks.alert_hits(item) + list(marks.query_hits(item, parsed and parsed.highlight))
    story_key = item.story_key or item.url
    story = [i for i in storage.story_items(store, story_key) if i.id != item.id]
    original = storage.item_by_url(store, item.duplicate_of) if item.duplicate_of else None
    return {
        "item": item, "when": item_time(item, settings), "url": briefing.safe_url(item.url),
        "found_by_rematch": when(item.first_seen_at, settings) if item.first_seen_at else None,
        "title": marks.marked(item.title or item.url, hits, "title"),
        "summary": marks.marked(item.summary, hits, "summary") if item.summary and
        item.summary.strip() not in (item.text or "") else [],
        "paragraphs": marks.paragraphs(marks.marked(item.text, hits, "text")),
        "rules": [m.rule for m in item.alerts], "q": q,
        "copies": [_row(c, settings) for c in storage.copies_of(store, item.url)],
        "story": [_row(i, settings) for i in story], "story_id": item.id,
        "original": _row(original, settings) if original else None,
        "seed_original": item.duplicate_of if item.duplicate_of and not original else None,
    }


def story_page(settings: Settings, store: storage.Store, item_id: int) -> dict | None:
    item = storage.item_by_id(store, item_id)
    if item is None:
        return None
    items = storage.story_items(store, item.story_key or item.url) or [item]
    added = marks.what_each_added(items)
    return {"lead": items[0],
            "reports": [{**_row(i, settings), "added": a, "added_count": n,
                         "copies": len(storage.copies_of(store, i.url))}
                        for i, (a, n) in zip(items, added)]}


def _row(item: StoredItem, settings: Settings) -> dict:
    return {"id": item.id, "title": item.title or item.url,
            "source": ", ".join((item.source, *item.also_in)),     # every feed that carried it
            "when": item_time(item, settings), "url": briefing.safe_url(item.url),
            "status": item.status}


# --- search ---------------------------------------------------------------------

@dataclass
class SearchForm:
    q: str = ""
    source: str = ""
    rule: str = ""
    since: str = ""             # YYYY-MM-DD, local dates, both inclusive
    until: str = ""
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, params: Mapping[str, str]) -> "SearchForm":
        form = cls(q=params.get("q", "")[:1000], source=params.get("source", ""),
                   rule=params.get("rule", ""), since=params.get("from", ""),
                   until=params.get("to", ""))
        page = params.get("page", "1")
        form.page = min(int(page), MAX_PAGE) if page.isdigit() and int(page) > 0 else 1
        return form

    def day(self, value: str, label: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.problems.append(f"{label}: {value!r} is not a date (YYYY-MM-DD)")
            return None

    def link(self, page: int) -> dict:
        return {k: v for k, v in (("q", self.q), ("source", self.source), ("rule", self.rule),
                                  ("from", self.since), ("to", self.until),
                                  ("page", str(page) if page > 1 else "")) if v}


def search_query(settings: Settings, form: SearchForm, parsed: ParsedQuery
                 ) -> storage.SearchQuery | None:
    """The storage query for the form, or None when there is nothing to search
    (no words, no filters) or the form needs fixing first (``form.problems``)."""
    tz = settings.tz
    since, until = form.day(form.since, "from"), form.day(form.until, "to")
    if parsed.error:
        form.problems.append(parsed.error)
    searching = bool(parsed.groups or parsed.exclude or form.source or form.rule
                     or since or until)
    if form.problems or not searching:
        return None
    return parsed.storage_query(
        source=form.source or None, rule=form.rule or None,
        since=datetime.combine(since, time(0), tz).astimezone(timezone.utc) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
        if until else None)


def search_page(settings: Settings, store: storage.Store, form: SearchForm) -> dict:
    parsed = parse_query(form.q, variant_sets(settings))
    context = {"form": form, "parsed": parsed, "results": [], "total": 0,
               "sources": storage.search_sources(store),
               "rules": sorted({r.name for r in settings.alerts}
                               | set(storage.alert_rule_names(store)))}
    query = search_query(settings, form, parsed)
    if query is None:
        return context
    total, items = storage.search_items(store, query, limit=PAGE_SIZE,
                                        offset=(form.page - 1) * PAGE_SIZE)
    results = []
    for item in items:
        hits = marks.query_hits(item, parsed.highlight)
        results.append({**_row(item, settings), "rules": [m.rule for m in item.alerts],
                        "title_marked": marks.marked(item.title or item.url, hits, "title"),
                        "snippet": marks.best_snippet(item, hits)})
    last = min(MAX_PAGE, max(1, -(-total // PAGE_SIZE)))
    context.update(results=results, total=total, searched=True,
                   first=(form.page - 1) * PAGE_SIZE + 1 if results else 0,
                   previous=form.link(form.page - 1) if form.page > 1 else None,
                   next=form.link(form.page + 1) if form.page < last else None)
    return context


# --- feeds, health, Atom --------------------------------------------------------

def feeds_page(settings: Settings, store: storage.Store, now: datetime) -> dict:
    states = storage.feed_states(store)
    kept = storage.kept_counts_by_feed(store, now - KEPT_WINDOW)
    rows = [_feed_row(f.name, f.url, states.get(f.url), kept, settings, True)
            for f in settings.feeds]
    configured = {f.url for f in settings.feeds}
    rows += [_feed_row(s.name or s.url, url, s, kept, settings, False)
             for url, s in sorted(states.items()) if url not in configured]
    return {"feeds": rows, "atom": atom_files(settings),
            "failing": sum(1 for r in rows if r["failures"])}


def _feed_row(name, url, state, kept, settings, configured) -> dict:
    return {"name": name, "url": redact_url(url), "configured": configured,
            "last_success": when(state.last_success_at, settings) if state else "",
            "last_error": redact_text(state.last_error or "") if state else "",
            "failures": state.consecutive_failures if state else 0,
            "failing_since": when(state.failing_since, settings) if state else "",
            "next_poll": when(state.next_poll_at, settings) if state else "",
            "pace": (state or FeedState(url)).pace_text(settings.poll_interval)
            if configured else "",
            "kept": kept.get(url, 0),
            "notice": (state.config_notice(redact_url(state.moved_to or "")) or "")
            if state and configured else ""}


def atom_files(settings: Settings) -> list[str]:
    folder = Path(settings.output_dir) / "feeds"
    try:
        return sorted(p.name for p in folder.iterdir()
                      if ATOM_NAME.match(p.name) and p.is_file())
    except OSError:
        return []


def atom_path(settings: Settings, name: str) -> Path | None:
    """The Atom file ``name`` in output/feeds/, if it is one (never a path outside)."""
    if not ATOM_NAME.match(name):
        return None
    path = Path(settings.output_dir) / "feeds" / name
    return path if path.is_file() else None


def health(settings: Settings, store: storage.Store, now: datetime) -> tuple[bool, dict]:
    """What a probe needs, and nothing a feed sent: answered without the token."""
    ok, _reason = maintenance.health(settings, store, now)
    last = storage.last_cycle(store)
    return ok, {"status": "ok" if ok else "unhealthy",
                "last_cycle": last[0].isoformat() if last else None,
                "healthy_within_seconds": int(settings.poll_interval.total_seconds() * 2)}
