"""One cycle in this process, and what it left: the export's rows and the day's
digest (for tests that look at what a user would see)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import storage
from pipeline import digest
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle
from pipeline.maintenance import export_entries


def run_once(settings):
    """One cycle on ``settings`` in this process: (its summary, the open store)."""
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    try:
        return run_cycle(pipeline), store
    finally:
        pipeline.close()


def run_in_process(cfg: Path, env: dict):
    settings = load_settings(cfg, env=env)
    summary, store = run_once(settings)
    return settings, store, summary


def export_rows(store) -> list[dict]:
    out = io.StringIO()
    export_entries(store, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def write_digest_now(settings, store) -> dict[str, str]:
    day = digest.digest_day_of(datetime.now(timezone.utc), settings.digest_time, settings.tz)
    paths = digest.write_day(settings, store, day)
    return {p.suffix[1:]: p.read_text("utf-8") for p in paths}
