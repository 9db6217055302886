"""What the service and the command line call: one function per moment.

* :func:`after_cycle` — after each poll cycle: the Atom feeds, then a round
  of the outbox (the cycle's new alerts, and anything waiting for a retry).
* :func:`after_digest` — once the day's digest is written: the feeds, the
  digest recorded for its channels, a round.
* :func:`send_digest` — ``newswatch digest --send``: that day, now, again.
* :func:`notify_test` — ``newswatch notify-test``: a test message to each channel.
* :func:`listing` — ``newswatch deliveries``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import storage
from pipeline.deliver import atom, outbox
from pipeline.deliver import channels as channel_io
from pipeline.deliver.messages import probe_message
from pipeline.errors import DeliveryError

log = logging.getLogger("newswatch.deliver")

HISTORY = timedelta(days=90)          # sent and failed messages kept for ``deliveries``


def after_cycle(settings, store: storage.Store, summary=None, *,
                now: datetime | None = None) -> outbox.RoundReport:
    """The feeds (when the cycle stored something new, or one is missing) and
    a round of the outbox."""
    now = now or datetime.now(timezone.utc)
    if summary is None or getattr(summary, "new", 1) or \
            not all(p.exists() for p in atom.feed_paths(settings).values()):
        _write_feeds(settings, store)
    return deliver_round(settings, store, now)


def after_digest(settings, store: storage.Store, day: date, *,
                 now: datetime | None = None) -> outbox.RoundReport:
    now = now or datetime.now(timezone.utc)
    _write_feeds(settings, store)
    outbox.enqueue_digest(settings.delivery, store, day.isoformat(), now)
    return deliver_round(settings, store, now)


def send_digest(settings, store: storage.Store, day: date, *,
                now: datetime | None = None) -> outbox.RoundReport:
    """Send the digest of ``day`` to every digest channel now, even those that had it."""
    now = now or datetime.now(timezone.utc)
    outbox.enqueue_digest(settings.delivery, store, day.isoformat(), now, again=True)
    return outbox.send_due(settings.delivery, store, now, tz=settings.tz,
                           digest_of=_digest_maker(settings, store, now),
                           kind="digest", key=day.isoformat())


def deliver_round(settings, store: storage.Store, now: datetime) -> outbox.RoundReport:
    cfg = settings.delivery
    storage.forget_channels(store, [c.id for c in cfg.channels])
    if not cfg.channels:
        return outbox.RoundReport()
    outbox.enqueue_alerts(cfg, store, now)
    _recover_digest(settings, store, now)
    storage.prune_deliveries(store, now - HISTORY)
    return outbox.send_due(cfg, store, now, tz=settings.tz,
                           digest_of=_digest_maker(settings, store, now))


def _recover_digest(settings, store: storage.Store, now: datetime) -> None:
    """Record the latest digest if it was written but a crash came before it
    was recorded for its channels (``after_digest`` runs after the write)."""
    local = now.astimezone(settings.tz)
    day = local.date() if local.time().replace(tzinfo=None) >= settings.digest_time \
        else local.date() - timedelta(days=1)
    written_since = datetime.combine(day, settings.digest_time, settings.tz)
    if now - written_since < outbox.ALERT_LOOKBACK and \
            storage.digest_written(store, day.isoformat()):
        outbox.enqueue_digest(settings.delivery, store, day.isoformat(), now)


def _digest_maker(settings, store: storage.Store, now: datetime):
    """day -> the digest model of that day, as the digest files hold it."""
    def digest_of(day: str):
        # the digest package's own orchestrator: the same model write_day renders
        from pipeline import digest

        return digest.digest_for(settings, store, date.fromisoformat(day), now=now)
    return digest_of


def _write_feeds(settings, store: storage.Store) -> None:
    try:
        atom.write_feeds(settings, store)
    except DeliveryError as exc:
        log.error("%s; the feeds keep their previous content", exc)


def notify_test(settings, *, now: datetime | None = None) -> list[tuple[str, str, str | None]]:
    """Send a test message to every configured channel: (channel, roles, error or None)."""
    now = (now or datetime.now(timezone.utc)).astimezone(settings.tz)
    cfg = settings.delivery
    name = str(settings.config_file or "config")
    results = []
    for channel in cfg.channels:
        roles = _roles(cfg, channel.id)
        try:
            channel_io.send(channel, probe_message(channel_io.body_format(channel), now, name))
            results.append((channel.shown, roles, None))
        except DeliveryError as exc:
            results.append((channel.shown, roles, exc.reason))
    return results


def _roles(cfg, channel_id: str) -> str:
    roles = [name for name, chans in (("digest", cfg.digest), ("all alerts", cfg.alerts))
             if any(c.id == channel_id for c in chans)]
    roles += [f"alerts of {rule!r}" for rule, chans in cfg.notify
              if any(c.id == channel_id for c in chans)]
    return ", ".join(roles)


def listing(settings, store: storage.Store, *, status: str | None = None,
            limit: int = 30) -> list[str]:
    """Lines for ``newswatch deliveries``: the channels, then the newest messages."""
    tz = settings.tz
    counts = storage.delivery_counts(store)
    lines = [f"outbox: {counts.get('sent', 0)} sent, {counts.get('pending', 0)} pending, "
             f"{counts.get('failed', 0)} failed"]
    states = {s.channel_id: s for s in storage.channel_states(store)}
    for channel in settings.delivery.channels:
        s = states.get(channel.id)
        if s is None:
            state = "nothing sent yet"
        elif s.failing_since:
            state = (f"FAILING since {_local(s.failing_since, tz)} ({s.consecutive_failures} "
                     f"failures in a row): {s.last_error}")
        elif s.consecutive_failures:
            state = f"{s.consecutive_failures} recent failures: {s.last_error}"
        else:
            state = f"ok, last sent {_local(s.last_success_at, tz)}"
        lines.append(f"channel {channel.shown} ({_roles(settings.delivery, channel.id)}): {state}")
    for d in storage.deliveries(store, status=status, limit=limit):
        what = f"digest {d.key}" if d.kind == "digest" else f"alert: {d.title or d.key}"
        when = _local(d.sent_at, tz) if d.status == "sent" else \
            f"next try {_local(d.next_attempt_at, tz)}" if d.status == "pending" else "given up"
        error = f" — {d.last_error}" if d.last_error and d.status != "sent" else ""
        lines.append(f"{d.status:<8} {when:<22} {d.channel}  {what} "
                     f"(attempts {d.attempts}){error}")
    return lines


def _local(moment: datetime | None, tz) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "-"


def retry_failed(store: storage.Store, *, now: datetime | None = None) -> int:
    return storage.retry_failed_deliveries(store, now or datetime.now(timezone.utc))


__all__ = ["after_cycle", "after_digest", "send_digest", "deliver_round", "notify_test",
           "listing", "retry_failed"]
