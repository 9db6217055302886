"""The delivery side's SQL: the outbox of messages per channel, the channels'
failure records, and the reads of stored items that deliveries render.

The outbox is what makes delivery durable. A message for a channel is a row
recorded *before* anything is sent (status ``pending``); sending claims it
first (``attempts + 1`` and the time of the next try, committed), then marks it
``sent``. A process killed at any point leaves either a pending row (sent again
later: at most the message in flight is duplicated) or a sent one (never sent
again). Claims are conditional updates, so two processes never both send a row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, func, update
from sqlmodel import select

from pipeline.records import ChannelState, Delivery, StoredItem
from storage.models import AlertRow, ChannelRow, ItemRow, OutboxRow
from storage.dialect import _chunks, _insert, _utc
from storage.queries import _alerts_for, _stored_item
from storage.store import Store

# (kind, key, item_id, channel_id, channel shown)
OutboxEntry = tuple[str, str, "int | None", str, str]


def _delivery(r: OutboxRow, title: str = "") -> Delivery:
    return Delivery(id=r.id, kind=r.kind, key=r.key, channel_id=r.channel_id,
                    channel=r.channel, status=r.status, attempts=r.attempts,
                    created_at=_utc(r.created_at), next_attempt_at=_utc(r.next_attempt_at),
                    item_id=r.item_id, sent_at=_utc(r.sent_at), last_error=r.last_error,
                    title=title)


def _channel_state(r: ChannelRow) -> ChannelState:
    return ChannelState(channel_id=r.channel_id, channel=r.channel,
                        consecutive_failures=r.consecutive_failures, last_error=r.last_error,
                        failing_since=_utc(r.failing_since),
                        last_attempt_at=_utc(r.last_attempt_at),
                        last_success_at=_utc(r.last_success_at))


# --- recording and claiming ------------------------------------------------

def enqueue_deliveries(store: Store, entries: Iterable[OutboxEntry], now: datetime) -> int:
    """Record messages to send; one already recorded for that channel (sent or
    not) is left as it is. Returns how many were new."""
    rows = [dict(kind=k, key=key, item_id=item, channel_id=cid, channel=shown,
                 status="pending", attempts=0, created_at=now, next_attempt_at=now)
            for k, key, item, cid, shown in dict.fromkeys(entries)]
    added = 0
    with store.session() as s:
        for i in range(0, len(rows), 200):
            stmt = (_insert(store)(OutboxRow).values(rows[i:i + 200])
                    .on_conflict_do_nothing(index_elements=["kind", "key", "channel_id"])
                    .returning(OutboxRow.id))
            added += len(s.exec(stmt).all())  # type: ignore[call-overload]
    return added


def requeue_deliveries(store: Store, entries: Iterable[OutboxEntry], now: datetime) -> None:
    """Record messages as pending with a fresh count of attempts, even those
    sent before (an explicit ``digest --send``)."""
    entries = list(dict.fromkeys(entries))
    enqueue_deliveries(store, entries, now)
    with store.session() as s:
        for kind, key, _item, cid, _shown in entries:
            s.exec(update(OutboxRow)  # type: ignore[call-overload]
                   .where(OutboxRow.kind == kind, OutboxRow.key == key,
                          OutboxRow.channel_id == cid)
                   .values(status="pending", attempts=0, next_attempt_at=now, sent_at=None,
                           last_error=None))


def due_deliveries(store: Store, now: datetime, *, kind: str | None = None,
                   key: str | None = None) -> list[Delivery]:
    """Pending messages whose next try has come, oldest first."""
    with store.session() as s:
        q = select(OutboxRow).where(OutboxRow.status == "pending",
                                    OutboxRow.next_attempt_at <= now)
        if kind is not None:
            q = q.where(OutboxRow.kind == kind)
        if key is not None:
            q = q.where(OutboxRow.key == key)
        return [_delivery(r) for r in s.exec(q.order_by(OutboxRow.created_at, OutboxRow.id))]


def claim_deliveries(store: Store, ids: list[int], now: datetime,
                     retry_at: datetime) -> list[int]:
    """Count one more attempt and set the next try for those of ``ids`` still
    due; returns the ids claimed. Committed before the message is sent, so a
    process killed while sending leaves the row pending for a later try, and
    a second process that read the same rows claims none of them."""
    claimed: list[int] = []
    with store.session() as s:
        for part in _chunks(ids):
            stmt = (update(OutboxRow)
                    .where(OutboxRow.id.in_(part), OutboxRow.status == "pending",
                           OutboxRow.next_attempt_at <= now)
                    .values(attempts=OutboxRow.attempts + 1, next_attempt_at=retry_at)
                    .returning(OutboxRow.id))
            claimed.extend(s.exec(stmt).scalars())  # type: ignore[call-overload]
    return claimed


def mark_sent(store: Store, ids: list[int], channel_id: str, channel: str,
              now: datetime) -> None:
    """The messages reached the channel; its run of failures ends."""
    with store.session() as s:
        for part in _chunks(ids):
            s.exec(update(OutboxRow).where(OutboxRow.id.in_(part))  # type: ignore[call-overload]
                   .values(status="sent", sent_at=now, last_error=None))
        row = s.get(ChannelRow, channel_id) or ChannelRow(channel_id=channel_id)
        row.channel, row.consecutive_failures, row.last_error = channel, 0, None
        row.failing_since, row.last_attempt_at, row.last_success_at = None, now, now
        s.add(row)


def mark_failed(store: Store, ids: list[int], channel_id: str, channel: str, error: str,
                now: datetime, max_attempts: int) -> ChannelState:
    """A try failed: messages that have had ``max_attempts`` tries stop being
    retried (``failed``); the channel counts one more failure in a row and is
    failing once that count reaches ``max_attempts``."""
    with store.session() as s:
        for part in _chunks(ids):
            s.exec(update(OutboxRow).where(OutboxRow.id.in_(part))  # type: ignore[call-overload]
                   .values(last_error=error))
            s.exec(update(OutboxRow)  # type: ignore[call-overload]
                   .where(OutboxRow.id.in_(part), OutboxRow.attempts >= max_attempts)
                   .values(status="failed"))
        row = s.get(ChannelRow, channel_id) or ChannelRow(channel_id=channel_id)
        row.channel, row.last_error, row.last_attempt_at = channel, error, now
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
        if row.consecutive_failures >= max_attempts and row.failing_since is None:
            row.failing_since = now
        s.add(row)
        return _channel_state(row)


def retry_failed_deliveries(store: Store, now: datetime) -> int:
    """Give every message that ran out of tries a fresh set; returns how many."""
    with store.session() as s:
        result = s.exec(update(OutboxRow)  # type: ignore[call-overload]
                        .where(OutboxRow.status == "failed")
                        .values(status="pending", attempts=0, next_attempt_at=now))
        return int(result.rowcount or 0)


def forget_channels(store: Store, keep: Iterable[str]) -> None:
    """The failure records of channels no longer configured (so they are not
    reported failing). Their messages stay: one run with another config must
    not drop what the service still has to send; they go out if the channel
    comes back, and are pruned with the history otherwise."""
    keep = list(keep)
    with store.session() as s:
        s.exec(delete(ChannelRow).where(  # type: ignore[call-overload]
            ChannelRow.channel_id.not_in(keep)))


def prune_deliveries(store: Store, before: datetime) -> None:
    """Messages recorded before ``before``: sent and failed ones are history,
    and one still pending that long is for a channel no longer configured."""
    with store.session() as s:
        s.exec(delete(OutboxRow).where(  # type: ignore[call-overload]
            OutboxRow.created_at < before))


# --- reading ---------------------------------------------------------------

def deliveries(store: Store, *, status: str | None = None, limit: int = 50) -> list[Delivery]:
    """The newest messages of the outbox (of one status if given), with the
    titles of their items."""
    with store.session() as s:
        q = select(OutboxRow, ItemRow.title).join(
            ItemRow, OutboxRow.item_id == ItemRow.id, isouter=True)
        if status is not None:
            q = q.where(OutboxRow.status == status)
        q = q.order_by(OutboxRow.created_at.desc(), OutboxRow.id.desc()).limit(limit)
        return [_delivery(r, title or "") for r, title in s.exec(q)]


def delivery_counts(store: Store) -> dict[str, int]:
    """Messages in the outbox by status."""
    with store.session() as s:
        q = select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        return {status: int(n) for status, n in s.exec(q)}


def channel_states(store: Store) -> list[ChannelState]:
    with store.session() as s:
        return [_channel_state(r) for r in s.exec(select(ChannelRow)
                                                  .order_by(ChannelRow.channel))]


def failing_channels(store: Store) -> list[ChannelState]:
    """Channels that failed max_attempts times in a row, longest failing first."""
    with store.session() as s:
        q = (select(ChannelRow).where(ChannelRow.failing_since.is_not(None))
             .order_by(ChannelRow.failing_since))
        return [_channel_state(r) for r in s.exec(q)]


def alerted_items_since(store: Store, since: datetime) -> list[tuple[int, tuple[str, ...]]]:
    """(item id, its alert rules) of the new items found since ``since`` that
    raised an alert, oldest first."""
    with store.session() as s:
        q = (select(ItemRow.id, AlertRow.rule).join(AlertRow, AlertRow.item_id == ItemRow.id)
             .where(ItemRow.fetched_at >= since, ItemRow.status == "new")
             .order_by(ItemRow.fetched_at, ItemRow.id, AlertRow.rule))
        found: dict[int, list[str]] = {}
        for item_id, rule in s.exec(q):
            found.setdefault(item_id, []).append(rule)
    return [(i, tuple(rules)) for i, rules in found.items()]


def stored_items(store: Store, ids: Iterable[int]) -> list[StoredItem]:
    """The items with these ids, with their alerts, in the order asked."""
    ids = list(dict.fromkeys(ids))
    rows: dict[int, ItemRow] = {}
    with store.session() as s:
        for part in _chunks(ids):
            rows.update((r.id, r) for r in s.exec(select(ItemRow).where(ItemRow.id.in_(part))))
        alerts = _alerts_for(s, list(rows))
    return [_stored_item(rows[i], alerts.get(i, ())) for i in ids if i in rows]


def newest_items(store: Store, limit: int, *, rule: str | None = None) -> list[StoredItem]:
    """The ``limit`` newest new (on-topic) items, newest first; only those
    that raised ``rule`` if given."""
    with store.session() as s:
        q = select(ItemRow).where(ItemRow.status == "new")
        if rule is not None:
            q = q.join(AlertRow, AlertRow.item_id == ItemRow.id).where(AlertRow.rule == rule)
        rows = s.exec(q.order_by(ItemRow.fetched_at.desc(), ItemRow.id.desc())
                      .limit(limit)).all()
        alerts = _alerts_for(s, [r.id for r in rows])
    return [_stored_item(r, alerts.get(r.id, ())) for r in rows]
