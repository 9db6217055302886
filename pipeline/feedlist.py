"""``newswatch feeds``: every configured feed with its health, in words a user can
act on (ok, failing since, moved to X, gone, probably dead, never polled), its
last success, the items kept in the last 30 days and its last error.

The rows come from storage (feed states, kept counts); the words from
``pipeline.feedstate.health`` and ``FeedState.config_notice``, the same the
digest and the reading room show. :func:`cmd_feeds` is bare ``newswatch feeds`` (``pipeline/feedcommands.py``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone

from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.feedstate import adopt_moved, health
from pipeline.records import FeedState
from pipeline.redact import redact_text, redact_url

if TYPE_CHECKING:   # imported when the command runs: the CLI builds its parser every call
    import storage

KEPT_WINDOW = timedelta(days=30)


def feed_rows(settings: Settings, store: storage.Store, now: datetime) -> list[dict]:
    """One row per configured feed, in config order."""
    import storage

    states = adopt_moved(settings.feeds, storage.feed_states(store))
    kept = storage.kept_counts_by_feed(store, now - KEPT_WINDOW)
    return [_row(f.name, f.url, states.get(f.url), kept.get(f.url, 0)) for f in settings.feeds]


def _row(name: str, url: str, state: FeedState | None, kept: int) -> dict:
    status = health(state)
    moved = redact_url(state.moved_to) if state and state.moved_to else None
    since = state.failing_since if state and status == "failing" else None
    return {"name": name, "url": redact_url(url), "state": status,
            "failing_since": _iso(since), "moved_to": moved,
            "gone_since": _iso(state.gone_at) if state else None,
            "dead_since": _iso(state.dead_since) if state else None,
            "last_success": _iso(state.last_success_at) if state else None,
            "kept_30_days": kept,
            "last_error": redact_text(state.last_error) if state and state.last_error else None,
            "notice": state.config_notice(moved or "") if state else None}


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds") if when else None


def _text(row: dict) -> str:
    state = row["state"]
    if state == "failing":
        state = f"failing since {row['failing_since']}"
    lines = [f"{row['name']}  [{state}]", f"  {row['url']}"]
    if row["notice"]:
        lines.append(f"  {row['notice']}")
    lines.append(f"  last success: {row['last_success'] or 'never'}; "
                 f"kept in the last 30 days: {row['kept_30_days']}")
    if row["last_error"]:
        lines.append(f"  last error: {row['last_error']}")
    return "\n".join(lines)


def cmd_feeds(args, env) -> int:
    from pipeline.config import load_settings

    import storage

    settings = load_settings(args.config, env=env)
    store = storage.open_store(settings.database_url)
    try:
        rows = feed_rows(settings, store, datetime.now(timezone.utc))
    finally:
        store.close()
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(_text(r) for r in rows) if rows else "No feeds configured.")
    return 0


def add_options(parser) -> None:
    """The listing's options on the ``feeds`` command (pipeline/feedcommands.py)."""
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
