"""The real service (``python -m pipeline run``) in a subprocess against a local
news web: cycles repeat, config edits apply live (and broken ones are
ignored), SIGTERM mid-cycle exits 0 quickly with nothing half-written, a
missed digest is caught up exactly once, and ``health`` flips when cycles
stop. Plus in-process checks of the failure paths that a subprocess cannot
provoke (a cycle raising, another process holding the cycle lock)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest
import yaml
from conftest import ROOT, TEST_ALERTS, write_config
from newsweb import page_around, rss

import storage
from storage_helpers import count_items, duplicate_url_count
from pipeline import service as service_mod
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline

SUMMARY = re.compile(r"cycle: feeds \d+ polled")


class RunningService:
    """``python -m pipeline run`` with its stdout collected line by line."""

    def __init__(self, config: Path, env: dict[str, str]):
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", "--config", str(config)],
            cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def count(self, pattern: str | re.Pattern) -> int:
        with self.cond:
            return sum(1 for line in self.lines if re.search(pattern, line))

    def wait_for(self, pattern: str | re.Pattern, n: int = 1, timeout: float = 20) -> None:
        with self.cond:
            ok = self.cond.wait_for(
                lambda: sum(1 for ln in self.lines if re.search(pattern, ln)) >= n
                or self.proc.poll() is not None, timeout)
        assert ok and self.count(pattern) >= n, (
            f"no {n}× {pattern!r} in {timeout}s:\n" + self.output())

    def output(self) -> str:
        with self.cond:
            return "\n".join(self.lines)

    def terminate(self, timeout: float = 10, sig: int = signal.SIGTERM) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        return rc, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def services():
    started: list[RunningService] = []

    def start(config: Path, env: dict[str, str]) -> RunningService:
        svc = RunningService(config, env)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.kill()


def cli(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args, "--config", str(config)],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=30)


def exported(config: Path, env: dict[str, str]) -> dict[str, dict]:
    res = cli(config, env, "export")
    assert res.returncode == 0, res.stderr
    return {doc["url"]: doc for doc in map(json.loads, res.stdout.splitlines())}


def article(web, path: str, title: str, paragraphs: list[str]) -> dict:
    web.add(path, page_around(title, paragraphs))
    return {"title": title, "link": web.url(path), "description": paragraphs[0]}


def publish(web, items: list[dict]) -> str:
    return web.add("/feed.xml", rss("Test wire", items), content_type="application/rss+xml")


TADAMON_REPORT = [
    "Families of detainees gathered in Damascus on Monday to read lists of names that "
    "activists say were found in the records of the Tadamon neighbourhood branch.",
    "Relatives of people held in Syrian prisons for years said they had no word of their "
    "sons and daughters, and asked the new authorities to open every file they hold.",
    "Lawyers who document enforced disappearance said the lists were incomplete and urged "
    "families to register their missing relatives with the independent commission.",
]
SECOND_TADAMON_REPORT = [
    "A second batch of documents from Tadamon was handed to a committee of former "
    "detainees on Thursday, according to a statement published by the committee.",
    "Volunteers spent the night photographing prison ledgers, transfer orders and "
    "interrogation logs, which they plan to publish in a searchable archive online.",
    "The committee said it would compare the names against the thousands of reports of "
    "missing people it has collected since the first prisons were opened in December.",
]


def test_cycles_repeat_with_json_logs_and_health_flips(web, env, tmp_path, services):
    feed = publish(web, [article(web, "/a/1", "Detainees' families read the Tadamon lists",
                                 TADAMON_REPORT)])
    config = write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s")
    svc = services(config, {**env, "NEWSWATCH_LOG_FORMAT": "json"})
    svc.wait_for(SUMMARY, n=3)
    docs = [json.loads(line) for line in svc.output().splitlines()]   # every line is JSON
    summaries = [d["message"] for d in docs if SUMMARY.search(d["message"])]
    assert "1 new" in summaries[0] and "0 new" in summaries[-1]
    health = cli(config, env, "health")
    assert health.returncode == 0 and health.stdout.startswith("healthy"), health

    rc, took = svc.terminate()
    assert rc == 0 and took < 10
    time.sleep(2.5)                        # more than 2 × poll_interval without a cycle
    health = cli(config, env, "health")
    assert health.returncode == 1 and health.stdout.startswith("unhealthy"), health


def test_config_edits_apply_live_and_broken_edits_are_ignored(web, env, tmp_path, services):
    first = article(web, "/a/1", "Detainees' families read the Tadamon lists", TADAMON_REPORT)
    feed = publish(web, [first])
    config = write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s")
    good = config.read_text(encoding="utf-8")
    svc = services(config, env)
    svc.wait_for("1 new")

    # a broken edit: logged once with file, key and reason; cycles go on
    config.write_text(good.replace("poll_interval: 1s", "poll_interval: soon"), "utf-8")
    svc.wait_for("config: invalid edit ignored")
    before = svc.count(SUMMARY)
    svc.wait_for(SUMMARY, n=before + 3)
    assert svc.count("config: invalid edit ignored") == 1
    logged = next(ln for ln in svc.lines if "invalid edit" in ln)
    assert str(config) in logged and "poll_interval" in logged and "not a duration" in logged

    # a valid edit: a new alert rule applies to the next new item, without restart
    doc = yaml.safe_load(good)
    doc["alerts"] = [*TEST_ALERTS, {"name": "Tadamon", "any": ["Tadamon"]}]
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    svc.wait_for("config: reloaded")
    second = article(web, "/a/2", "Tadamon ledgers handed to former detainees",
                     SECOND_TADAMON_REPORT)
    publish(web, [first, second])
    svc.wait_for("1 new", n=2)
    # ... and, by the service's rematch after the edit (history.rematch_on_edit), to
    # the items of the last week too
    svc.wait_for(r"rematch: \d+ items since .* 1 alerts added")
    items = exported(config, env)
    assert "Tadamon" in items[second["link"]]["alerts"]
    assert "Tadamon" in items[first["link"]]["alerts"]
    assert svc.proc.poll() is None
    assert svc.terminate()[0] == 0


def test_sigterm_mid_cycle_exits_cleanly_with_work_committed(web, env, tmp_path, services):
    """Every article is in flight when SIGTERM arrives (the server holds each
    answer until the service says it got the signal): they are finished and
    committed. Sent once the extraction workers are up, so that nothing here
    depends on how busy the machine is: that their cold start does not eat the
    pages' grace is tests/test_trust_cycle.py's (in process, deterministic)."""
    arrived, released = threading.Condition(), threading.Event()
    in_flight: list[str] = []
    base = web.server.RequestHandlerClass

    class HeldArticles(base):
        def do_GET(self):
            if self.path.startswith("/slow/"):
                with arrived:
                    in_flight.append(self.path)
                    arrived.notify_all()
                released.wait(120)
            super().do_GET()

    web.server.RequestHandlerClass = HeldArticles
    items = [article(web, f"/slow/{i}", f"Report {i} on Syrian detainees", [
        f"Report number {i}: " + p for p in (TADAMON_REPORT if i % 2 else SECOND_TADAMON_REPORT)])
        for i in range(3)]
    feed = publish(web, items)
    config = write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s",
                          network={"deadline": 120, "read_timeout": 120})   # held answers
    svc = services(config, env)
    with arrived:
        assert arrived.wait_for(lambda: len(in_flight) == len(items), 20), svc.output()
    assert _until(lambda: _workers_up(svc.proc.pid), 120), svc.output()
    started = time.monotonic()
    svc.proc.send_signal(signal.SIGTERM)
    svc.wait_for("SIGTERM received")
    released.set()                       # the answers go out once the stop was asked for
    rc = svc.proc.wait(10)
    took = time.monotonic() - started
    assert rc == 0, svc.output()
    assert took < 10
    assert "service: stopped" in svc.output()

    store = storage.open_store(env["DATABASE_URL"])
    assert storage.integrity_check(store) == "ok"
    assert duplicate_url_count(store) == 0
    stored = list(storage.all_items(store))
    # the articles already downloading were finished and committed, whole
    assert sorted(i.url for i in stored) == sorted(i["link"] for i in items)
    assert all(i.title and i.status in {"new", "update", "duplicate", "off_topic", "failed"}
               for i in stored)
    assert not [p for p in tmp_path.rglob("*.tmp")]


def _workers_up(pid: int) -> bool:
    """A worker forked from the forkserver: only done once its warm-up is over."""
    try:
        kids = psutil.Process(pid).children(recursive=True)
        return sum("forkserver" in " ".join(k.cmdline()) for k in kids) >= 2
    except psutil.Error:
        return False


def _until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_sigterm_during_a_hung_fetch_still_exits_within_ten_seconds(web, env, tmp_path,
                                                                    services):
    hanging = threading.Event()
    base = web.server.RequestHandlerClass

    class HungArticles(base):
        def do_GET(self):
            if self.path.startswith("/hung/"):
                hanging.set()
                time.sleep(20)
            super().do_GET()

    web.server.RequestHandlerClass = HungArticles
    feed = publish(web, [article(web, "/hung/1", "Report on Syrian detainees", TADAMON_REPORT)])
    config = write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s",
                          network={"deadline": 60, "read_timeout": 60})
    svc = services(config, env)
    assert hanging.wait(20), svc.output()
    rc, took = svc.terminate()
    assert rc == 0 and took < 10, svc.output()
    # the cycle gave up on the hung page after its grace period and ended by
    # itself, so the service never needed its forced exit
    assert "did not finish" not in svc.output() and "cycle: feeds" in svc.output()
    store = storage.open_store(env["DATABASE_URL"])
    assert storage.integrity_check(store) == "ok"
    assert count_items(store) == 0          # the unfinished feed was not committed


def test_missed_digest_is_written_once_across_restarts(web, env, tmp_path, services):
    tz = ZoneInfo("Europe/London")
    local = datetime.now(tz)
    passed = max(local - timedelta(minutes=2), local.replace(hour=0, minute=0))
    feed = publish(web, [article(web, "/a/1", "Detainees' families read the Tadamon lists",
                                 TADAMON_REPORT)])
    config = write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s",
                          timezone="Europe/London", digest_time=f"{passed:%H:%M}")
    svc = services(config, env)
    svc.wait_for("digest: wrote")
    svc.wait_for(SUMMARY)
    assert svc.terminate()[0] == 0

    day = local.date().isoformat()
    folder = Path(env["NEWSWATCH_OUTPUT_DIR"]) / "digests"
    files = [folder / f"{name}.{ext}" for name in (day, "latest") for ext in ("md", "html", "json")]
    assert all(f.exists() for f in files), list(folder.iterdir())
    assert json.loads((folder / f"{day}.json").read_text("utf-8"))["day"] == day
    before = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in files}
    db = env["DATABASE_URL"].removeprefix("sqlite:///")
    assert _digest_rows(db) == [day]

    again = services(config, env)
    again.wait_for(SUMMARY, n=2)
    assert again.terminate(sig=signal.SIGINT)[0] == 0          # Ctrl-C stops it cleanly too
    assert again.count("digest: wrote") == 0
    assert {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in files} == before
    assert _digest_rows(db) == [day]


def _digest_rows(db: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT day FROM digests")]


# --- in process: the failure paths -------------------------------------------

@pytest.fixture
def service(web, env, tmp_path):
    feed = publish(web, [article(web, "/a/1", "Detainees' families read the Tadamon lists",
                                 TADAMON_REPORT)])
    config = write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s",
                          digest_time="23:59")
    watcher = service_mod.ConfigWatcher(config, env)
    settings = load_settings(config, env=env)
    pipeline = open_pipeline(settings, storage.open_store(settings.database_url))
    svc = service_mod.Service(watcher, settings, pipeline)
    yield svc
    pipeline.close()


def test_a_failing_cycle_is_logged_counted_and_survived(service, monkeypatch, caplog):
    def broken(*args, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service_mod, "run_cycle", broken)
    with caplog.at_level(logging.INFO, logger="newswatch"):
        service.poll()
        service.poll()
    assert service.failed_cycles == 2
    failed = [r for r in caplog.records if "cycle failed" in r.getMessage()]
    assert len(failed) == 2 and failed[0].exc_info and "disk on fire" in caplog.text
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="newswatch"):
        service.poll()
    assert "1 new" in caplog.text
    assert storage.last_cycle(service.store) is not None      # what health reads


def test_a_cycle_held_by_another_process_is_skipped(service, caplog):
    with storage.cycle_lock(service.store, wait=0):
        with caplog.at_level(logging.INFO, logger="newswatch"):
            service.poll()
    assert re.search(r"skipped: .*another newswatch cycle is running", caplog.text)
    assert service.failed_cycles == 0 and storage.last_cycle(service.store) is None


def test_an_edit_is_reloaded_once_and_an_invalid_one_logged_once(service, caplog):
    path = service.config.path
    good = path.read_text("utf-8")
    assert service.config.changed_settings() is None                # unchanged
    path.write_text(good.replace("timezone: UTC", "timezone: Mars/Olympus"), "utf-8")
    with caplog.at_level(logging.ERROR, logger="newswatch"):
        assert service.config.changed_settings() is None
        assert service.config.changed_settings() is None
    assert caplog.text.count("invalid edit ignored") == 1
    assert "key timezone" in caplog.text and "IANA" in caplog.text
    path.write_text(good.replace("poll_interval: 1s", "poll_interval: 5m"), "utf-8")
    service.apply_config_edits()
    assert service.settings.poll_interval == timedelta(minutes=5)
    assert service.config.changed_settings() is None
