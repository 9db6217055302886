"""Crash safety and concurrency, with real processes (feed health: test_feed_health.py).

* ``newswatch once`` (``python -m pipeline once``) is killed with SIGKILL at
  random moments of a cycle — during start-up and schema creation, feed
  fetches, article fetches and extraction, commits — and then run again to
  completion: nothing stored twice, nothing lost, the SQLite file sound, no
  stray files, no orphaned worker processes.
* A kill between fetching a feed and storing its items must not leave the
  feed's ETag behind (the next poll would get 304 and lose the entries).
* Two ``once`` started together: one runs, the other is skipped (exit 3).

Servers are :class:`faultserver.FaultServer` instances on loopback; article
pages are the real news pages of tests/fixtures/articles, served 20–50 ms slow.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

import storage
from storage_helpers import duplicate_url_count
from conftest import write_config
from faultserver import FaultServer
from newsweb import article_pages, rss

ROOT = Path(__file__).resolve().parent.parent
FEEDS, ENTRIES = 6, 8
SEED = int(os.environ.get("NEWSWATCH_CRASH_SEED", "20241208"))
_DB_FILES = {"newswatch.db", "newswatch.db-wal", "newswatch.db-shm", "newswatch.db.lock",
             "newswatch.db.migrate.lock"}


# ----------------------------------------------------------------- helpers

def cli(*args: str, cfg: Path, env: dict, cwd: Path, timeout: float = 60
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args, "--config", str(cfg)],
                          cwd=cwd, env=_env(env), capture_output=True, text=True,
                          timeout=timeout)


def start_once(cfg: Path, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "once", "--config", str(cfg)],
                            cwd=cwd, env=_env(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _env(env: dict) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), **env}


def exported(cfg: Path, env: dict, cwd: Path) -> list[dict]:
    res = cli("export", cfg=cfg, env=env, cwd=cwd)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def db_path(env: dict) -> Path:
    return Path(env["DATABASE_URL"].removeprefix("sqlite:///"))


def stray_files(tmp: Path) -> list[str]:
    """Temporary or unexpected files a killed process could leave behind."""
    out = []
    for p in tmp.rglob("*"):
        if p.is_dir() or p.name == "watch.yaml":
            continue
        if p.parent.name == "data" and p.name in _DB_FILES:
            continue
        if p.parent.name in ("digests", "feeds") and not p.name.startswith("."):
            continue
        out.append(str(p.relative_to(tmp)))
    return out


def sigkill(proc: subprocess.Popen) -> list[int]:
    """SIGKILL the process alone (as the OOM killer would); return the pids of its
    children at that moment (the forkserver and extraction workers)."""
    try:
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        children = []
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return children


def close_pipes(proc: subprocess.Popen) -> None:
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _exited(p: psutil.Process) -> bool:
    """Gone, or a zombie: it has exited, and reaping an orphan is its new parent's
    business (init, which in some containers reaps late or never)."""
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def reap_orphans(pids: list[int], timeout: float = 8.0) -> list[int]:
    """Wait for a killed cycle's children to exit by themselves; kill (by pid) and
    return those still running after ``timeout``."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + timeout
    running = [p for p in procs if not _exited(p)]
    while running and time.monotonic() < deadline:
        psutil.wait_procs(running, timeout=0.2)
        running = [p for p in running if not _exited(p)]
    for p in running:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return [p.pid for p in running]


class NewsSite:
    """FEEDS feeds × ENTRIES entries per round, each entry a real page served slowly."""

    def __init__(self, srv: FaultServer):
        self.srv = srv
        self.pages = list(article_pages().values())
        self.rng = random.Random(SEED)

    def article(self, body: bytes):
        delay = 0.02 + 0.03 * self.rng.random()

        def handler(req, reply):
            time.sleep(delay)
            reply.send(200, body, {"Content-Type": "text/html; charset=utf-8"})
        return handler

    def round(self, name: str) -> tuple[list[dict], set[str]]:
        feeds, urls = [], set()
        for f in range(FEEDS):
            items = []
            for e in range(ENTRIES):
                path = f"/{name}/f{f}/e{e}"
                self.srv.route(path, self.article(self.pages[(f * ENTRIES + e) % len(self.pages)]))
                title = ("Syria: detainees freed from prison" if e % 2 else
                         f"Report {f}-{e} from the region")
                items.append({"title": title, "link": self.srv.url(path),
                              "description": "Families of detainees wait for news."})
                urls.add(self.srv.url(path))
            body = rss(f"Feed {f}", items).encode()
            self.srv.static(f"/{name}/feed{f}.xml", body, "application/rss+xml",
                            etag=f'"{name}-{f}"')
            feeds.append({"name": f"Feed {name} {f}", "url": self.srv.url(f"/{name}/feed{f}.xml")})
        return feeds, urls


@pytest.fixture(scope="module")
def server():
    with FaultServer() as srv:
        yield srv


# ------------------------------------------------------------- SIGKILL trials

def _kill_at_random_moment(cfg, env, tmp, srv: FaultServer, prefix: str, rng: random.Random,
                           log: list) -> bool:
    """Start ``once``, wait for a random moment of its cycle, SIGKILL it. True if the
    kill landed while it ran, False if the cycle finished first."""
    mode = rng.choice(["startup", "cycle", "cycle", "articles"])
    seen_before = len(srv.requests)
    proc = start_once(cfg, env, tmp)
    started = time.monotonic()
    if mode == "startup":                 # imports, schema creation, index loading
        target = lambda: time.monotonic() - started >= delay  # noqa: E731
        delay = rng.uniform(0.2, 1.2)
    elif mode == "cycle":                 # any moment once the first feed was asked for
        delay, first = rng.uniform(0.0, 1.8), None

        def target():
            nonlocal first
            if first is None and any(r.path.startswith(prefix) for r in srv.requests[seen_before:]):
                first = time.monotonic()
            return first is not None and time.monotonic() - first >= delay
    else:                                 # after the k-th article request (fetch/extract)
        k = rng.randint(1, FEEDS * ENTRIES // 4)
        delay = k

        def target():
            return sum("/e" in r.path for r in srv.requests[seen_before:]) >= k
    while proc.poll() is None and not target():
        if time.monotonic() - started > 30:
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.04))       # jitter: not always right at the event
    if proc.poll() is not None:
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        log.append((mode, round(delay, 2), "finished first"))
        return False
    children = sigkill(proc)
    orphans = reap_orphans(children)
    close_pipes(proc)
    assert orphans == [], f"worker processes outlived the killed cycle: {orphans}"
    log.append((mode, round(delay, 2), f"killed after {time.monotonic() - started:.2f}s"))
    return True


def test_sigkill_at_random_moments_loses_nothing_and_stores_nothing_twice(server, tmp_path):
    site = NewsSite(server)
    rng = random.Random(SEED)
    kills, log = 0, []
    for rnd in range(3):
        name = f"k{rnd}"
        folder = tmp_path / name
        folder.mkdir()
        env = {"DATABASE_URL": f"sqlite:///{folder / 'data' / 'newswatch.db'}",
               "NEWSWATCH_OUTPUT_DIR": str(folder / "output")}
        feeds, urls = site.round(name)
        cfg = write_config(folder, feeds, extract={"workers": 1})
        for _ in range(7):
            kills += _kill_at_random_moment(cfg, env, folder, server, f"/{name}/", rng, log)
        final = cli("once", cfg=cfg, env=env, cwd=folder)
        assert final.returncode == 0, final.stderr
        assert "cycle: feeds 6 polled, 0 failed" in final.stdout, final.stdout

        rows = exported(cfg, env, folder)
        stored = [r["url"] for r in rows]
        assert len(stored) == len(set(stored)), "an entry URL was stored twice"
        assert set(stored) == urls, f"lost: {sorted(urls - set(stored))[:5]}"
        store = storage.open_store(env["DATABASE_URL"])
        try:
            assert duplicate_url_count(store) == 0
            assert storage.integrity_check(store) == "ok"
            # each feed's validators are stored, now that its items are
            assert all(s.etag for s in storage.feed_states(store).values())
            assert not storage.failing_feeds(store)
        finally:
            store.close()
        with sqlite3.connect(db_path(env)) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert stray_files(folder) == []
    # the digest of the last round, written and checked for stray temporaries too
    res = cli("digest", cfg=cfg, env=env, cwd=folder)
    assert res.returncode == 0, res.stderr
    assert stray_files(folder) == []
    print("kill trials:", log)
    assert kills >= 20, f"only {kills} kills landed inside a cycle: {log}"


def test_kill_between_feed_fetch_and_store_keeps_no_validators(server, tmp_path, env):
    """The feed was fetched (with an ETag) but its items not yet stored when the
    process died: the next cycle must fetch the feed in full (no If-None-Match),
    or the entries would be lost behind a 304."""
    release = threading.Event()
    pages = list(article_pages().values())

    def stuck(req, reply):                 # holds the cycle after the feed fetch
        release.wait(20)
        reply.send(200, pages[0], {"Content-Type": "text/html; charset=utf-8"})

    server.route("/v/slow", stuck)
    server.static("/v/fast", pages[1], "text/html; charset=utf-8")
    server.static("/v/feed.xml", rss("V", [
        {"title": "Syria: prison released detainees", "link": server.url("/v/fast")},
        {"title": "Syria: detainees still held", "link": server.url("/v/slow")},
    ]).encode(), "application/rss+xml", etag='"v1"')
    cfg = write_config(tmp_path, [{"name": "V", "url": server.url("/v/feed.xml")}])

    def feed_requests():
        return [r for r in server.requests if r.path == "/v/feed.xml"]

    proc = start_once(cfg, env, tmp_path)
    deadline = time.monotonic() + 30
    while not any(r.path == "/v/slow" for r in server.requests):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(0.1)
    assert reap_orphans(sigkill(proc)) == []
    close_pipes(proc)
    assert len(feed_requests()) == 1
    with sqlite3.connect(db_path(env)) as con:
        assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 0
        row = con.execute("SELECT etag FROM feeds").fetchone()
        assert row is None or row[0] is None, "ETag stored without the feed's items"

    release.set()
    res = cli("once", cfg=cfg, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    second = feed_requests()[1]
    assert "if-none-match" not in second.headers, "the restarted cycle sent the lost ETag"
    assert len(exported(cfg, env, tmp_path)) == 2

    res = cli("once", cfg=cfg, env=env, cwd=tmp_path)   # now that items are stored: 304
    assert res.returncode == 0 and "1 not modified" in res.stdout, res.stdout
    assert feed_requests()[2].headers.get("if-none-match") == '"v1"'


# ------------------------------------------------------------- concurrency

def test_two_once_at_the_same_moment(server, tmp_path):
    site = NewsSite(server)
    feeds, urls = site.round("cc")
    feeds, urls = feeds[:3], {u for u in urls if any(f"/cc/f{i}/" in u for i in range(3))}
    outcomes = []
    for attempt in range(2):               # a fresh database each time: the schema race too
        folder = tmp_path / f"a{attempt}"
        folder.mkdir()
        env = {"DATABASE_URL": f"sqlite:///{folder / 'data' / 'newswatch.db'}",
               "NEWSWATCH_OUTPUT_DIR": str(folder / "output")}
        cfg = write_config(folder, feeds)
        procs = [start_once(cfg, env, folder) for _ in range(2)]
        results = [(p.wait(60), *p.communicate()) for p in procs]
        codes = sorted(r[0] for r in results)
        outcomes.append(codes)
        assert codes in ([0, 0], [0, 3]), results
        for code, out, err in results:
            if code == 3:
                assert "skipped: " in err and "another newswatch cycle is running" in err, err
            else:
                assert out.startswith("cycle: ") or "\ncycle: " in out, out
        rows = exported(cfg, env, folder)
        assert sorted(r["url"] for r in rows) == sorted(urls)
        store = storage.open_store(env["DATABASE_URL"])
        try:
            assert duplicate_url_count(store) == 0
            assert storage.integrity_check(store) == "ok"
            with store.engine.connect() as conn:
                from sqlalchemy import text
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        finally:
            store.close()
    print("concurrent outcomes:", outcomes)
