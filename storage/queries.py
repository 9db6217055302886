"""Every SQL statement Newswatch runs, in functions named for what they mean."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Iterable, Iterator

from sqlalchemy import delete, func, or_
from sqlmodel import select

from pipeline.records import (Article, FeedState, ItemOutcome, RuleMatch,
                              StoredItem, TermHit)
from storage.dialect import _chunks, _insert, _utc
from storage.history import save_retained
from storage.models import AlertRow, CycleRow, DigestRow, FeedRow, ItemRow
from storage.links import add_item_sources, other_sources
from storage.search import index_saved
from storage.store import Store

# --- feeds -----------------------------------------------------------------

def feed_states(store: Store) -> dict[str, FeedState]:
    with store.session() as s:
        return {r.url: _feed_state(r) for r in s.exec(select(FeedRow))}


def _feed_state(r: FeedRow) -> FeedState:
    return FeedState(url=r.url, name=r.name, etag=r.etag, last_modified=r.last_modified,
                     consecutive_failures=r.consecutive_failures, last_error=r.last_error,
                     failing_since=_utc(r.failing_since),
                     last_success_at=_utc(r.last_success_at),
                     next_poll_at=_utc(r.next_poll_at), poll_every=r.poll_every,
                     newest_entry_at=_utc(r.newest_entry_at), moved_to=r.moved_to,
                     gone_at=_utc(r.gone_at), not_found_count=r.not_found_count or 0,
                     dead_since=_utc(r.dead_since))


def failing_feeds(store: Store, urls: Iterable[str] | None = None) -> list[FeedState]:
    """Feeds whose last poll failed, oldest failure first (only ``urls`` if given)."""
    with store.session() as s:
        q = select(FeedRow).where(FeedRow.consecutive_failures > 0)
        rows = [_feed_state(r) for r in s.exec(q.order_by(FeedRow.failing_since))]
    if urls is not None:
        wanted = set(urls)
        rows = [r for r in rows if r.url in wanted]
    return rows


def feeds_to_update(store: Store, urls: Iterable[str] | None = None) -> list[FeedState]:
    """Feeds (only ``urls``, the configured ones, if given) whose config needs a
    change: moved (a 301/308), gone (a 410) or probably dead (404s), by name."""
    with store.session() as s:
        q = select(FeedRow).where(or_(FeedRow.moved_to.is_not(None),
                                      FeedRow.gone_at.is_not(None),
                                      FeedRow.dead_since.is_not(None)))
        found = [_feed_state(r) for r in s.exec(q)]
    if urls is not None:
        wanted = set(urls)
        found = [st for st in found if st.url in wanted]
    return sorted(found, key=lambda st: (st.name, st.url))


def save_feed_states(store: Store, states: list[FeedState]) -> None:
    """Store the states of many feeds with nothing to add (the 304s of a
    cycle) in one transaction: a quiet cycle is mostly this."""
    if not states:
        return
    with store.session() as s:
        rows = {}
        for part in _chunks([st.url for st in states]):
            rows.update((r.url, r) for r in s.exec(select(FeedRow).where(FeedRow.url.in_(part))))
        for state in states:
            s.add(_feed_row(rows.get(state.url) or FeedRow(url=state.url), state))


# --- items -----------------------------------------------------------------

def seen_urls(store: Store, urls: Iterable[str]) -> set[str]:
    """Those of ``urls`` already stored, as an entry URL or as a canonical URL."""
    urls = list(dict.fromkeys(urls))
    found: set[str] = set()
    with store.session() as s:
        for part in _chunks(urls):
            q = select(ItemRow.url, ItemRow.canonical_url).where(
                or_(ItemRow.url.in_(part), ItemRow.canonical_url.in_(part)))
            for url, canonical in s.exec(q):
                found.add(url)
                found.add(canonical)
    return found & set(urls)


def original_for_canonical(store: Store, canonical_urls: Iterable[str]) -> dict[str, str]:
    """canonical URL -> entry URL of the first item stored under it."""
    canonical_urls = list(dict.fromkeys(canonical_urls))
    found: dict[str, str] = {}
    with store.session() as s:
        for part in _chunks(canonical_urls):
            q = (select(ItemRow.canonical_url, ItemRow.url)
                 .where(ItemRow.canonical_url.in_(part)).order_by(ItemRow.id))
            for canonical, url in s.exec(q):
                found.setdefault(canonical, url)
    return found


def save_feed_batch(store: Store, state: FeedState, outcomes: list[ItemOutcome],
                    sources: Iterable[tuple[str, str, str]] = ()) -> int:
    """Store a feed's items, their alerts and the feed's new state in ONE transaction.

    Validators (ETag, Last-Modified) and "seen" marks are committed together
    with the items they cover, so a crash never makes a later cycle skip an
    entry that was not stored. An entry URL already stored (a second process,
    a replay) is skipped, never stored twice. ``sources`` are (item URL, feed URL,
    feed name) of stored items another feed also carried. Returns the number of
    new rows.
    """
    with store.session() as s:
        added = _insert_outcomes(s, store, outcomes)
        add_item_sources(s, store, sources, datetime.now(timezone.utc))
        _upsert_feed(s, state)
    return added


def _insert_outcomes(s, store: Store, outcomes: list[ItemOutcome]) -> int:
    """Insert the items and their alerts in session ``s``; returns the number of
    new rows (an entry URL already stored is skipped)."""
    if not outcomes:
        return 0
    insert = _insert(store)
    ids: dict[str, int] = {}
    rows = [_item_values(o) for o in outcomes]
    for i in range(0, len(rows), 200):
        stmt = (insert(ItemRow).values(rows[i:i + 200])
                .on_conflict_do_nothing(index_elements=["url"])
                .returning(ItemRow.id, ItemRow.url))
        ids.update({url: id_ for id_, url in s.exec(stmt)})  # type: ignore[call-overload]
    now = datetime.now(timezone.utc)
    # alerts only for rows this call inserted: a row another process
    # stored first already has its own
    alert_rows = [dict(item_id=ids[o.entry.link], rule=m.rule,
                       hits=_hits_json(m), created_at=now)
                  for o in outcomes for m in o.alerts if o.entry.link in ids]
    if alert_rows:
        s.exec(insert(AlertRow).values(alert_rows)  # type: ignore[call-overload]
               .on_conflict_do_nothing(index_elements=["item_id", "rule"]))
    save_retained(s, ids, outcomes)      # what rematch needs of off-topic ones
    # the search index, in the same transaction (storage/search.py)
    index_saved(s.connection(), [{**r, "id": ids[r["url"]]} for r in rows if r["url"] in ids])
    return len(ids)


def _upsert_feed(s, state: FeedState) -> None:
    s.add(_feed_row(s.get(FeedRow, state.url) or FeedRow(url=state.url), state))


def _feed_row(row: FeedRow, state: FeedState) -> FeedRow:
    """``row`` holding ``state``."""
    for key, value in asdict(state).items():
        setattr(row, key, value)
    return row


def _item_values(o: ItemOutcome) -> dict:
    a = o.article or Article(url=o.entry.link, source="entry")
    return dict(
        url=o.entry.link, canonical_url=o.canonical_url, guid=o.entry.guid,
        title=o.title[:1000], summary=o.entry.summary,
        text=a.text, source=o.entry.feed_name, feed_url=o.entry.feed_url,
        status=o.status, published=o.entry.published, fetched_at=o.fetched_at,
        extraction=a.source, fallback_reason=a.fallback_reason, author=a.author,
        site=a.site, language=a.language, duplicate_of=o.duplicate_of,
        story_key=o.story_key, fingerprint=o.fingerprint, error=o.error)


def _hits_json(m: RuleMatch) -> str:
    return json.dumps([asdict(h) for h in m.hits], ensure_ascii=False)


def fingerprints(store: Store) -> Iterator[tuple[str, bytes, str, datetime | None,
                                                 str | None]]:
    """(url, fingerprint, title, published, story_key) of every stored new item (and update),
    for the dedupe and story indexes; read in pages to keep memory flat."""
    last_id = 0
    while True:
        with store.session() as s:
            q = (select(ItemRow.id, ItemRow.url, ItemRow.fingerprint, ItemRow.title,
                        ItemRow.published, ItemRow.fetched_at, ItemRow.story_key)
                 .where(ItemRow.status.in_(["new", "update"]), ItemRow.id > last_id)
                 .order_by(ItemRow.id).limit(5000))
            page = s.exec(q).all()
        if not page:
            return
        for id_, url, fp, title, published, fetched_at, story in page:
            yield url, fp, title, _utc(published) or _utc(fetched_at), story
        last_id = page[-1][0]


def items_between(store: Store, start: datetime, end: datetime,
                  statuses: Iterable[str] | None = None) -> list[StoredItem]:
    """Items found in [start, end), oldest first, with their alerts."""
    with store.session() as s:
        q = select(ItemRow).where(ItemRow.fetched_at >= start, ItemRow.fetched_at < end)
        if statuses is not None:
            q = q.where(ItemRow.status.in_(list(statuses)))
        rows = s.exec(q.order_by(ItemRow.fetched_at, ItemRow.id)).all()
        alerts = _alerts_for(s, [r.id for r in rows])
        also = other_sources(s, rows)
    return [_stored_item(r, alerts.get(r.id, ()), also.get(r.url, ())) for r in rows]


def _alerts_for(s, ids: list[int]) -> dict[int, tuple[RuleMatch, ...]]:
    out: dict[int, list[RuleMatch]] = {}
    for part in _chunks(ids):
        q = (select(AlertRow).where(AlertRow.item_id.in_(part))
             .order_by(AlertRow.rule))
        for a in s.exec(q):
            hits = tuple(TermHit(**h) for h in json.loads(a.hits or "[]"))
            out.setdefault(a.item_id, []).append(RuleMatch(rule=a.rule, hits=hits))
    return {k: tuple(v) for k, v in out.items()}


def _stored_item(r: ItemRow, alerts: tuple[RuleMatch, ...],
                 also_in: tuple[str, ...] = ()) -> StoredItem:
    return StoredItem(id=r.id, url=r.url, canonical_url=r.canonical_url, title=r.title,
                      source=r.source, feed_url=r.feed_url, status=r.status,
                      published=_utc(r.published), fetched_at=_utc(r.fetched_at),
                      summary=r.summary, text=r.text, extraction=r.extraction,
                      fallback_reason=r.fallback_reason, duplicate_of=r.duplicate_of,
                      story_key=r.story_key, error=r.error, alerts=alerts, also_in=also_in,
                      first_seen_at=_utc(r.first_seen_at))


def titles_for(store: Store, urls: Iterable[str]) -> dict[str, tuple[str, str]]:
    """url -> (title, source) for the given stored items."""
    urls = list(dict.fromkeys(urls))
    out: dict[str, tuple[str, str]] = {}
    with store.session() as s:
        for part in _chunks(urls):
            q = select(ItemRow.url, ItemRow.title, ItemRow.source).where(
                ItemRow.url.in_(part))
            for url, title, source in s.exec(q):
                out[url] = (title, source)
    return out


def earlier_reports(store: Store, before: datetime, stories: Iterable[str]) -> list[StoredItem]:
    """New items and updates found before ``before`` that are, or belong to, one of
    ``stories`` (story keys: the URL of a story's first item), oldest first."""
    keys = list(dict.fromkeys(stories))
    found: dict[int, ItemRow] = {}
    with store.session() as s:
        for part in _chunks(keys):
            q = select(ItemRow).where(
                ItemRow.fetched_at < before, ItemRow.status.in_(["new", "update"]),
                or_(ItemRow.url.in_(part), ItemRow.story_key.in_(part)))
            found.update({r.id: r for r in s.exec(q)})
        rows = sorted(found.values(), key=lambda r: (_utc(r.fetched_at), r.id))
    return [_stored_item(r, ()) for r in rows]


def original_texts(store: Store, key: str) -> list[str]:
    """The text of the stored item ``key`` and of every stored update of it: what a
    near-copy of ``key`` is compared with to tell an update from a copy."""
    with store.session() as s:
        q = select(ItemRow.text, ItemRow.summary).where(
            or_(ItemRow.url == key,
                (ItemRow.duplicate_of == key) & (ItemRow.status == "update")))
        return [text or summary or "" for text, summary in s.exec(q.order_by(ItemRow.id))]


def all_items(store: Store) -> Iterator[StoredItem]:
    """Every stored entry, in the order it was found (for export)."""
    last_id = 0
    while True:
        with store.session() as s:
            rows = s.exec(select(ItemRow).where(ItemRow.id > last_id)
                          .order_by(ItemRow.id).limit(1000)).all()
            alerts = _alerts_for(s, [r.id for r in rows])
            also = other_sources(s, rows)
        if not rows:
            return
        for r in rows:
            yield _stored_item(r, alerts.get(r.id, ()), also.get(r.url, ()))
        last_id = rows[-1].id


def replace_alerts(store: Store, item_id: int, matches: list[RuleMatch]) -> tuple[int, int]:
    """Set an item's alerts to exactly ``matches``; returns (added, removed)."""
    now = datetime.now(timezone.utc)
    with store.session() as s:
        old = {a.rule: a for a in s.exec(select(AlertRow).where(AlertRow.item_id == item_id))}
        new = {m.rule: m for m in matches}
        for rule in set(old) - set(new):
            s.delete(old[rule])
        for rule in set(new) - set(old):
            s.add(AlertRow(item_id=item_id, rule=rule, hits=_hits_json(new[rule]),
                           created_at=now))
        for rule in set(new) & set(old):
            old[rule].hits = _hits_json(new[rule])
            s.add(old[rule])
    return len(set(new) - set(old)), len(set(old) - set(new))


def reports_per_rule(store: Store, rules: Iterable[str], since: datetime
                     ) -> dict[str, tuple[int, datetime]]:
    """rule -> (items found since ``since`` that raised it, when the latest item that
    ever raised it was found); a rule that never raised one is left out."""
    rules = list(dict.fromkeys(rules))
    out: dict[str, tuple[int, datetime]] = {}
    with store.session() as s:
        for part in _chunks(rules):
            recent = func.count(func.distinct(ItemRow.id)).filter(ItemRow.fetched_at >= since)
            q = (select(AlertRow.rule, recent, func.max(ItemRow.fetched_at))
                 .join(ItemRow, ItemRow.id == AlertRow.item_id)
                 .where(AlertRow.rule.in_(part)).group_by(AlertRow.rule))
            for rule, count, latest in s.exec(q):
                out[rule] = (int(count), _utc(latest))
    return out


def count_items(store: Store, status: str | None = None) -> int:
    with store.session() as s:
        q = select(func.count()).select_from(ItemRow)
        if status:
            q = q.where(ItemRow.status == status)
        return int(s.exec(q).one())


def duplicate_url_count(store: Store) -> int:
    """Entry URLs stored more than once (must always be 0)."""
    with store.session() as s:
        q = select(ItemRow.url).group_by(ItemRow.url).having(func.count() > 1)
        return len(s.exec(q).all())


# --- cycles and digests ----------------------------------------------------

def record_cycle(store: Store, started_at: datetime, finished_at: datetime,
                 summary_line: str) -> None:
    with store.session() as s:
        s.add(CycleRow(started_at=started_at, finished_at=finished_at, summary=summary_line))
        # keep a month of history at the default interval; older rows say nothing new
        keep = select(CycleRow.id).order_by(CycleRow.id.desc()).limit(2000)
        s.exec(delete(CycleRow).where(CycleRow.id.not_in(keep)))  # type: ignore[call-overload]


def last_cycle(store: Store) -> tuple[datetime, str] | None:
    with store.session() as s:
        row = s.exec(select(CycleRow).order_by(CycleRow.finished_at.desc()).limit(1)).first()
    return (_utc(row.finished_at), row.summary) if row else None


def discovery_floor(store: Store) -> datetime | None:
    """The earliest time a new discovery may be stamped with: the latest start
    of a recorded cycle or write of a digest. A clock that stepped back would
    otherwise stamp new items into a digest window already written."""
    with store.session() as s:
        started = s.exec(select(func.max(CycleRow.started_at))).one()
        written = s.exec(select(func.max(DigestRow.written_at))).one()
    times = [_utc(t) for t in (started, written) if t is not None]
    return max(times) if times else None


def digest_written(store: Store, day: str) -> bool:
    with store.session() as s:
        return s.get(DigestRow, day) is not None


def record_digest(store: Store, day: str, written_at: datetime) -> None:
    with store.session() as s:
        row = s.get(DigestRow, day) or DigestRow(day=day, written_at=written_at)
        row.written_at = written_at
        s.add(row)


