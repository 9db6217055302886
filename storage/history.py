"""The retention store: what is kept of off-topic items for ``rematch``, and the
statements rematch runs (pipeline/rematch.py decides; this only reads and writes)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, LargeBinary, delete, func, update
from sqlmodel import Field, SQLModel, select

from pipeline.records import ItemOutcome, Promotion, Retained, RuleMatch, StoredItem


class RetainedRow(SQLModel, table=True):
    """The compressed text (``kind`` "text") or page ("page") of one off-topic item,
    kept for ``history.keep`` after ``seen_at``. Gone once the item is promoted."""

    __tablename__ = "retained"

    item_id: int = Field(primary_key=True, foreign_key="items.id")
    kind: str = "text"
    codec: str = "zstd"
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False,
                                               index=True))


def save_retained(s, ids: dict[str, int], outcomes: list[ItemOutcome]) -> None:
    """In the transaction that inserts the items (``ids``: entry URL -> new id)."""
    rows = [dict(item_id=ids[o.entry.link], kind=o.retained.kind, codec=o.retained.codec,
                 data=o.retained.data, seen_at=o.fetched_at)
            for o in outcomes if o.retained is not None and o.entry.link in ids]
    if rows:
        s.exec(RetainedRow.__table__.insert().values(rows))  # type: ignore[call-overload]


def items_to_rematch(store, start: datetime, end: datetime, after_id: int, limit: int
                     ) -> list[tuple[StoredItem, Retained | None]]:
    """The next ``limit`` items (id above ``after_id``) found in [start, end) that
    were kept or judged off topic, with their alerts and what was retained."""
    from storage.models import ItemRow
    from storage.queries import _alerts_for, _stored_item

    with store.session() as s:
        q = (select(ItemRow, RetainedRow)
             .join(RetainedRow, RetainedRow.item_id == ItemRow.id, isouter=True)
             .where(*_seen_between(start, end), ItemRow.id > after_id)
             .order_by(ItemRow.id).limit(limit))
        rows = s.exec(q).all()
        alerts = _alerts_for(s, [r.id for r, _ in rows if r.status != "off_topic"])
    return [(_stored_item(r, alerts.get(r.id, ())),
             Retained(kind=k.kind, codec=k.codec, data=k.data) if k is not None else None)
            for r, k in rows]


def count_to_rematch(store, start: datetime, end: datetime) -> int:
    from storage.models import ItemRow

    with store.session() as s:
        return int(s.exec(select(func.count()).select_from(ItemRow).where(
            *_seen_between(start, end))).one())


def _seen_between(start: datetime, end: datetime) -> tuple:
    """The items rematch judges again: found in [start, end), kept or off topic
    (copies and failures have nothing of their own to judge)."""
    from storage.models import ItemRow

    return (ItemRow.fetched_at >= start, ItemRow.fetched_at < end,
            ItemRow.status.in_(["new", "update", "off_topic"]))


def set_alerts(store, changes: dict[int, list[RuleMatch]]) -> None:
    """Set each item's alerts to exactly the matches given, in one transaction."""
    from storage.models import AlertRow
    from storage.dialect import _chunks
    from storage.queries import _hits_json

    if not changes:
        return
    now = datetime.now(timezone.utc)
    with store.session() as s:
        for part in _chunks(list(changes)):
            s.exec(delete(AlertRow).where(AlertRow.item_id.in_(part)))  # type: ignore
        rows = [dict(item_id=i, rule=m.rule, hits=_hits_json(m), created_at=now)
                for i, matches in changes.items() for m in matches]
        if rows:
            s.exec(AlertRow.__table__.insert().values(rows))  # type: ignore[call-overload]


def promote(store, promotions: list[Promotion], found_at: datetime) -> None:
    """Make off-topic items kept ones, found now (so in the next digest), with
    ``first_seen_at`` the time they were first seen; their retained copy goes (the
    text is the item's now), and kept ones enter the search index."""
    from storage.models import ItemRow
    from storage.search import index_saved

    if not promotions:
        return
    with store.session() as s:
        rows = {r.id: r for r in s.exec(select(ItemRow).where(
            ItemRow.id.in_([p.item_id for p in promotions])))}
        indexed = []
        for p in promotions:
            row = rows[p.item_id]
            s.exec(update(ItemRow).where(ItemRow.id == p.item_id).values(
                status=p.status, text=p.text, fingerprint=p.fingerprint,
                duplicate_of=p.duplicate_of, story_key=p.story_key, fetched_at=found_at,
                first_seen_at=row.first_seen_at or row.fetched_at))
            indexed.append(dict(id=p.item_id, status=p.status, title=row.title,
                                summary=row.summary, text=p.text, source=row.source,
                                published=row.published, fetched_at=found_at))
        s.exec(delete(RetainedRow).where(  # type: ignore[call-overload]
            RetainedRow.item_id.in_([p.item_id for p in promotions])))
        index_saved(s.connection(), indexed)
    set_alerts(store, {p.item_id: p.alerts for p in promotions})


def prune_retained(store, before: datetime) -> int:
    """Forget what was kept of items seen before ``before``; returns rows removed."""
    with store.session() as s:
        result = s.exec(delete(RetainedRow).where(  # type: ignore[call-overload]
            RetainedRow.seen_at < before))
        return int(result.rowcount or 0)


def count_retained(store) -> int:
    with store.session() as s:
        return int(s.exec(select(func.count()).select_from(RetainedRow)).one())


def retained_kinds(store) -> list[str]:
    """What is kept of each retained item ("text" or "page"), in item order."""
    with store.session() as s:
        return list(s.exec(select(RetainedRow.kind).order_by(RetainedRow.item_id)))
