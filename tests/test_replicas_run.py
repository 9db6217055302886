"""Three ``newswatch run`` replicas on one real PostgreSQL over a local news
web of 300 feeds, one SIGKILLed mid-cycle (while it holds leases) and
restarted; then a second wave of articles. What must hold, from what the
server, the database and the receiver saw: no feed fetched by two replicas
at overlapping times (the server logs each request's start and end), no URL
stored twice, every article published stored, one digest for the day, one
delivery per outbox row. Waits are for events (rows, log lines) with
deadlines, never fixed sleeps."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone

import pytest

import storage
from conftest import write_config
from newsweb import page_around, rss, start_newsweb
from pgcluster import cluster
from receivers import WebhookReceiver
from storage_helpers import count_items, duplicate_url_count
from test_service import RunningService

FEEDS = 300
LEASE = 12            # network.feed_lease, seconds: what a killed replica's feeds wait
WORDS = ("council budget harbour railway election court inquiry river school hospital "
         "bridge farmers police market teachers drought vaccine museum factory").split()


class Web:
    """300 feeds on one news web; ``publish()`` adds one article to each."""

    def __init__(self):
        self.web = start_newsweb(hosts=3)
        self.items: list[list[dict]] = [[] for _ in range(FEEDS)]
        self.rng = random.Random(20)
        self.published: list[str] = []

    def feed_url(self, f: int) -> str:
        return f"{self.web.hosts[f % 3]}/feeds/{f}.xml"

    def publish(self) -> None:
        for f in range(FEEDS):
            n = len(self.items[f])
            released = " as prisoners released" if f % 10 == 0 else ""
            title = f"Prison report {f}-{n}{released}"
            words = [self.rng.choice(WORDS) for _ in range(120)]
            paras = [" ".join(words[i:i + 30]) + "." for i in range(0, 120, 30)]
            path = f"/news/{f}/{n}"
            self.web.add(path, page_around(title, paras), kind="article")
            link = f"{self.web.hosts[f % 3]}{path}"
            self.items[f].append({"title": title, "link": link})
            self.published.append(link)
            self.web.add(f"/feeds/{f}.xml", rss(f"Feed {f}", self.items[f]),
                         content_type="application/rss+xml", kind="feed")


def overlapping_fetches(log) -> list[str]:
    """Feed paths requested twice with the two requests in flight together."""
    spans = defaultdict(list)
    for r in log:
        if r.path.startswith("/feeds/"):
            spans[r.path].append((r.started, r.ended or float("inf")))
    bad = []
    for path, s in spans.items():
        s.sort()
        bad += [path for a, b in zip(s, s[1:]) if b[0] < a[1]]
    return bad


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)      # polling for an event, with a deadline
    raise AssertionError(f"not within {timeout}s: {what}")


def live_leases_of(store, pid: int) -> list[str]:
    """The feeds replica ``pid`` holds a live lease on."""
    now = datetime.now(timezone.utc)
    return [url for url, who in storage.feed_leases(store, now).items() if f"-{pid}-" in who]


@pytest.fixture
def replicas():
    started: list[RunningService] = []
    yield started
    for svc in started:
        svc.kill()


def test_three_replicas_share_300_feeds_and_survive_a_sigkill(tmp_path, replicas):
    site, hooks = Web(), WebhookReceiver()
    site.publish()
    with cluster(port=54333, settings=("max_connections=60",)) as url:
        cfg = write_config(
            tmp_path, [{"name": f"Feed {f}", "url": site.feed_url(f)} for f in range(FEEDS)],
            poll_interval="2s", digest_time="00:00",
            network={"feed_lease": LEASE, "max_per_host": 8},
            delivery={"alerts": [hooks.url()], "digest": [hooks.url("/digest")],
                      "group_above": 10_000})
        env = {"DATABASE_URL": url, "NEWSWATCH_OUTPUT_DIR": str(tmp_path / "out"),
               "NEWSWATCH_MIN_POLL_INTERVAL": "1s"}
        store = storage.open_store(url)     # tables made once, before the replicas race
        try:
            replicas += [RunningService(cfg, env) for _ in range(3)]
            victim = replicas[0]
            # mid-cycle: the victim holds leases on feeds it has not finished
            wait_until(lambda: live_leases_of(store, victim.proc.pid), 60,
                       "the first replica leasing feeds")
            victim.kill()
            orphaned = live_leases_of(store, victim.proc.pid)   # its leases outlive it
            replicas.append(RunningService(cfg, env))     # restarted: a new replica
            wait_until(lambda: count_items(store) >= FEEDS - 30, 90, "the first wave stored")
            site.publish()
            wait_until(lambda: count_items(store) == len(site.published), 90,
                       f"all {len(site.published)} articles stored")
            # five cycles each after the takeover for the live replicas
            for svc in replicas[1:]:
                svc.wait_for(r"cycle: feeds \d+ polled", n=5, timeout=60)
            wait_until(lambda: not storage.delivery_counts(store).get("pending"), 30,
                       "the outbox drained")
            health = subprocess.run([sys.executable, "-m", "pipeline", "health", "--config",
                                     str(cfg)], env={**os.environ, **env}, capture_output=True,
                                    text=True, timeout=60).stdout
            for svc in replicas[1:]:
                svc.terminate()
            stored = {i.url for i in storage.all_items(store)}
            counts = storage.delivery_counts(store)
            twice = duplicate_url_count(store)
        finally:
            store.close()
    hooks.stop()
    logs = "\n".join(svc.output() for svc in replicas)
    assert not overlapping_fetches(site.web.log)
    assert twice == 0 and stored == set(site.published)
    assert len(re.findall(r"digest: wrote \d{4}-\d{2}-\d{2}", logs)) == 1
    assert len([h for h in hooks.hooks if h.path == "/digest"]) == 1
    # every outbox row sent, each exactly once (one message per row: no grouping)
    assert counts.get("sent") == len(hooks.hooks) and set(counts) == {"sent"}
    assert len({(h.path, h.title, h.body) for h in hooks.hooks}) == len(hooks.hooks)
    # health reports the replicas by id; the one killed long ago no more
    listed = re.findall(r"replica (\S+-(\d+)-\w+):", health)
    assert {int(pid) for _, pid in listed} & {svc.proc.pid for svc in replicas[1:]}, health
    assert victim.proc.pid not in {int(pid) for _, pid in listed}
    # the killed replica died holding leases; its feeds were taken over once they
    # expired (their articles are among those stored), by the others
    assert orphaned
    feeds_of = {site.feed_url(f): f for f in range(FEEDS)}
    assert all(site.items[feeds_of[u]][0]["link"] in stored for u in orphaned)
