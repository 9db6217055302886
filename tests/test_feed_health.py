"""Feed health: a failing feed backs off exponentially, is listed in the digest
with its error and since when, and is back to normal on its first success.
Real cycles against a FaultServer on loopback, with an injected clock."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

import storage
from conftest import write_config
from faultserver import FaultServer
from newsweb import rss
from pipeline import digest
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle

T0 = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)
FAILURES = 6


@pytest.fixture
def health(tmp_path, env):
    """A feed answering 503 ("Down Desk") beside a working one ("Up Desk")."""
    with FaultServer() as srv:
        srv.respond("/h/down.xml", 503, b"maintenance", {"Content-Type": "text/plain"})
        srv.static("/h/up.xml", rss("Up", []).encode(), "application/rss+xml")
        cfg = write_config(tmp_path, [{"name": "Down Desk", "url": srv.url("/h/down.xml")},
                                      {"name": "Up Desk", "url": srv.url("/h/up.xml")}],
                           network={"backoff_base": 60, "backoff_max": 600})
        settings = load_settings(cfg, env=env)
        store = storage.open_store(settings.database_url)
        pipeline = open_pipeline(settings, store)
        try:
            yield srv, settings, store, pipeline
        finally:
            pipeline.close()
            store.close()


def fail_repeatedly(srv, store, pipeline) -> tuple[datetime, list[float]]:
    """FAILURES cycles, each when the feed is due again; checks that the feed is
    not polled one second earlier. Returns the last cycle's time and the waits."""
    down = srv.url("/h/down.xml")
    now, waits = T0, []
    for n in range(1, FAILURES + 1):
        summary = run_cycle(pipeline, now=now)
        assert summary.feeds_failed == 1
        state = storage.feed_states(store)[down]
        assert state.consecutive_failures == n and state.failing_since == T0
        assert "503" in state.last_error
        if n == 1:
            assert state.next_poll_at is None     # first failure: next cycle as usual
            now = now + timedelta(minutes=30)
            continue
        waits.append((state.next_poll_at - now).total_seconds())
        early = run_cycle(pipeline, now=state.next_poll_at - timedelta(seconds=1))
        assert early.feeds_skipped == 1 and early.feeds_failed == 0
        now = state.next_poll_at
    return now, waits


def test_failing_feed_backs_off_exponentially(health):
    srv, _, store, pipeline = health
    _, waits = fail_repeatedly(srv, store, pipeline)
    # doubling from the base on, capped at backoff_max
    assert waits[0] in (60, 120) and waits[-1] == 600, waits
    assert all(b == min(2 * a, 600) for a, b in zip(waits, waits[1:])), waits
    assert srv.hits["/h/down.xml"] == FAILURES


def test_digest_names_the_failing_feed_with_its_error_and_since_when(health):
    srv, settings, store, pipeline = health
    now, _ = fail_repeatedly(srv, store, pipeline)
    paths = digest.write_day(settings, store, now.date(), now=now)
    doc = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    (failing,) = doc["failing_feeds"]
    assert failing["name"] == "Down Desk" and "503" in failing["error"]
    assert failing["since"].startswith("2030-03-01 08:00") and failing["failures"] == FAILURES
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert re.search(r"Down Desk.*503.*since 2030\\?-03\\?-01 08:00", md), md
    html = next(p for p in paths if p.suffix == ".html").read_text()
    assert "Down Desk" in html and "Up Desk" not in html.split("Failing feeds")[1]


def test_first_success_puts_the_feed_back_to_normal_at_once(health):
    srv, settings, store, pipeline = health
    now, _ = fail_repeatedly(srv, store, pipeline)
    srv.static("/h/down.xml", rss("Back", []).encode(), "application/rss+xml")
    run_cycle(pipeline, now=now)
    state = storage.feed_states(store)[srv.url("/h/down.xml")]
    assert (state.consecutive_failures, state.last_error, state.failing_since,
            state.next_poll_at) == (0, None, None, None)
    assert state.last_success_at == now
    again = run_cycle(pipeline, now=now + timedelta(minutes=1))
    assert again.feeds_skipped == 0 and again.feeds_polled == 2
    paths = digest.write_day(settings, store, now.date(), now=now)
    doc = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    assert doc["failing_feeds"] == []
    assert "All feeds answered." in next(p for p in paths if p.suffix == ".md").read_text()
