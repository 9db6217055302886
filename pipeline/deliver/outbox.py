"""The durable outbox: every (alert or digest, channel) is recorded in the
database before it is sent and marked sent after, so deliveries survive
crashes, restarts and channels that are down.

One round (after each cycle, and after the digest is written):

1. record: each new alerted item found in the last ALERT_LOOKBACK for every
   channel it goes to (``delivery.alerts`` and its rules' ``notify``), and the
   day's digest for ``delivery.digest``. A row that exists already (sent or
   not) is left alone: never the same item twice on the same channel.
2. send what is due, channel by channel: a channel with more than
   ``group_above`` alerts waiting gets them as one grouped message. Each
   message is first *claimed* (one more attempt counted and the next try set,
   committed), then sent, then marked sent. A SIGKILL between the send and the
   mark leaves the row pending: it is sent again later, so the one message in
   flight can arrive twice; nothing is ever lost.
3. a failure waits ``retry_after`` × 2^(attempts-1) (at most 6 h) before the
   next try, across cycles and restarts; after ``max_attempts`` tries the
   message is given up (``failed``, ``newswatch deliveries --retry`` re-arms
   it) and a channel that failed that many times in a row is reported failing
   (log, digest, ``health``) until a message gets through again. A channel
   that fails is not tried again in the same round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import storage
from pipeline.deliver import channels as channel_io
from pipeline.deliver.messages import Message, alert_message, alert_view, digest_message
from pipeline.deliver.options import Channel, DeliveryConfig
from pipeline.errors import DeliveryError
from pipeline.records import Delivery

log = logging.getLogger("newswatch.deliver")

ALERT_LOOKBACK = timedelta(hours=24)   # alerts of items found this recently are announced
DigestOf = Callable[[str], object]     # day -> the digest model of that day


@dataclass
class RoundReport:
    """What one round of sending did."""

    sent: list[tuple[str, str]] = field(default_factory=list)          # (channel, what)
    failed: list[tuple[str, str, str]] = field(default_factory=list)   # (channel, what, why)
    delivered_at: list[datetime] = field(default_factory=list)

    def line(self) -> str:
        return (f"deliver: {len(self.sent)} message{'s' if len(self.sent) != 1 else ''} sent, "
                f"{len(self.failed)} failed")


def enqueue_alerts(cfg: DeliveryConfig, store: storage.Store, now: datetime) -> int:
    """Record the new alerted items of the last ALERT_LOOKBACK for their channels."""
    entries = [("alert", str(item_id), item_id, c.id, c.shown)
               for item_id, rules in storage.alerted_items_since(store, now - ALERT_LOOKBACK)
               for c in cfg.alert_channels(rules)]
    return storage.enqueue_deliveries(store, entries, now) if entries else 0


def enqueue_digest(cfg: DeliveryConfig, store: storage.Store, day: str, now: datetime, *,
                   again: bool = False) -> None:
    """Record the digest of ``day`` for every digest channel; ``again`` sends it
    even to channels that had it (``newswatch digest --send``)."""
    entries = [("digest", day, None, c.id, c.shown) for c in cfg.digest]
    if entries:
        (storage.requeue_deliveries if again else storage.enqueue_deliveries)(
            store, entries, now)


def send_due(cfg: DeliveryConfig, store: storage.Store, now: datetime, *, tz,
             digest_of: DigestOf, kind: str | None = None, key: str | None = None
             ) -> RoundReport:
    """Send every recorded message whose time has come."""
    report = RoundReport()
    known = {c.id: c for c in cfg.channels}
    waiting: dict[str, list[Delivery]] = {}
    for row in storage.due_deliveries(store, now, kind=kind, key=key):
        waiting.setdefault(row.channel_id, []).append(row)
    for channel_id, rows in waiting.items():
        channel = known.get(channel_id)
        if channel is None:
            continue                         # no longer configured (forgotten next round)
        for batch in _batches(rows, cfg.group_above):
            if not _send_batch(cfg, store, channel, batch, now, tz, digest_of, report):
                break                        # down: its other messages wait for the next round
    return report


def _batches(rows: list[Delivery], group_above: int) -> list[list[Delivery]]:
    """Digests one by one; alerts one by one, or all in one when there are
    more than ``group_above`` (a flood must not become a flood of messages)."""
    digests = [[r] for r in rows if r.kind == "digest"]
    alerts = [r for r in rows if r.kind == "alert"]
    grouped = [alerts] if len(alerts) > group_above else [[r] for r in alerts]
    return digests + grouped


def _send_batch(cfg: DeliveryConfig, store: storage.Store, channel: Channel,
                batch: list[Delivery], now: datetime, tz, digest_of: DigestOf,
                report: RoundReport) -> bool:
    attempt = max(r.attempts for r in batch) + 1
    wait = min(cfg.retry_after * 2 ** (attempt - 1), cfg.retry_max)
    claimed = set(storage.claim_deliveries(store, [r.id for r in batch], now,
                                           now + timedelta(seconds=wait)))
    batch = [r for r in batch if r.id in claimed]   # another process may have taken some
    if not batch:
        return True
    ids, what = [r.id for r in batch], _what(batch)
    message = _render(store, channel, batch, tz, digest_of)
    try:
        if message is not None:
            channel_io.send(channel, message)
    except DeliveryError as exc:
        state = storage.mark_failed(store, ids, channel.id, channel.shown, exc.reason, now,
                                    cfg.max_attempts)
        report.failed.append((channel.shown, what, exc.reason))
        log.warning("%s (%s, attempt %d of %d; next try in %s)", exc, what, attempt,
                    cfg.max_attempts, timedelta(seconds=round(wait)))
        if state.failing_since == now:
            log.error("deliver: channel %s is failing: %d failures in a row, the last: %s",
                      channel.shown, state.consecutive_failures, exc.reason)
        return False
    done = datetime.now(timezone.utc)
    storage.mark_sent(store, ids, channel.id, channel.shown, done)
    report.sent.append((channel.shown, what))
    report.delivered_at.append(done)
    log.info("deliver: sent %s to %s", what, channel.shown)
    return True


def _render(store: storage.Store, channel: Channel, batch: list[Delivery], tz,
            digest_of: DigestOf) -> Message | None:
    form = channel_io.body_format(channel)
    if batch[0].kind == "digest":
        return digest_message(digest_of(batch[0].key), form)
    items = storage.stored_items(store, [r.item_id for r in batch if r.item_id is not None])
    if not items:
        return None                          # nothing left to announce
    return alert_message([alert_view(i, tz) for i in items], form)


def _what(batch: list[Delivery]) -> str:
    if batch[0].kind == "digest":
        return f"digest {batch[0].key}"
    return "1 alert" if len(batch) == 1 else f"{len(batch)} alerts in one message"
