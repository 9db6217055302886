"""Hostile feeds through whole cycles, against real local servers.

* XML attacks: billion laughs and XXE (file:// and http:// external entities,
  a parameter entity) — never expanded, never read, never fetched.
* SSRF at cycle level: entry links at loopback, private, link-local, numeric
  and hex spellings of 127.0.0.1, ``file://``, and a feed URL redirecting to
  loopback — refused before any connection, with the reason recorded.
* Output safety (the digest): test_hostile_digest.py.
* Secrets: ``user:pass@`` and ``?token=`` feed URLs never show in logs, stored
  errors, the export or the digest, yet Basic auth reaches the server.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import feedparser
import pytest

import storage
from conftest import write_config
from cycle_support import export_rows, run_in_process, write_digest_now
from faultserver import FaultServer
from newsweb import article_pages, rss
from pipeline.config import load_settings
from pipeline.feeds import parse as feeds_stage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def srv():
    with FaultServer() as server:
        yield server


def db_texts(env: dict) -> str:
    """Every text column the database holds about items, feeds and cycles."""
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT title, summary, text, error, fallback_reason FROM items")
        texts = [str(v) for row in rows for v in row if v]
        texts += [str(v) for row in con.execute("SELECT last_error FROM feeds") for v in row if v]
        texts += [str(v) for row in con.execute("SELECT summary FROM cycles") for v in row if v]
    return "\n".join(texts)


# ------------------------------------------------------------------ XML attacks

LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10))
BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol0 "lollollollollollollollollollol">{LAUGHS}]>
<rss version="2.0"><channel><title>Laughs &lol9;</title>
<item><title>Syria: detainees freed &lol9;</title><link>{{link}}</link>
<description>Prisoners &lol9; released</description></item></channel></rss>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY file SYSTEM "file:///etc/passwd">
  <!ENTITY web SYSTEM "{hit}">
  <!ENTITY % remote SYSTEM "{pe}"> %remote;
]>
<rss version="2.0"><channel><title>XXE &file;</title>
<item><title>Syria: prison &file; &web;</title><link>{link}</link>
<description>Detainees &file; &web; held</description></item></channel></rss>"""


def test_xml_bombs_and_external_entities_in_a_cycle(srv, tmp_path, env, monkeypatch):
    pages = list(article_pages().values())
    srv.static("/a/laughs", pages[0], "text/html; charset=utf-8")
    srv.static("/a/xxe", pages[1], "text/html; charset=utf-8")
    srv.static("/xxe-hit", b"root:x:0:0:root:/root:/bin/bash\n", "text/plain")
    srv.static("/xxe-pe", b'<!ENTITY leak SYSTEM "file:///etc/passwd">', "text/plain")
    srv.static("/laughs.xml", BILLION_LAUGHS.replace("{link}", srv.url("/a/laughs")).encode(),
               "application/rss+xml")
    srv.static("/xxe.xml", XXE.format(hit=srv.url("/xxe-hit"), pe=srv.url("/xxe-pe"),
                                      link=srv.url("/a/xxe")).encode(), "application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "Laughs", "url": srv.url("/laughs.xml")},
                                  {"name": "XXE", "url": srv.url("/xxe.xml")}])
    given = []
    real_parse = feedparser.parse

    def spy(source, *args, **kw):      # feedparser must only ever get bytes
        given.append(type(source))
        return real_parse(source, *args, **kw)

    monkeypatch.setattr(feeds_stage.feedparser, "parse", spy)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    settings, store, summary = run_in_process(cfg, env)
    elapsed = time.monotonic() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    assert given and set(given) == {bytes}
    assert summary.feeds_failed == 0 and summary.entries_seen == 2
    assert elapsed < 20 and grown_mb < 200, (elapsed, grown_mb)
    assert srv.hits["/xxe-hit"] == 0 and srv.hits["/xxe-pe"] == 0, "external entity fetched"
    rows = export_rows(store)
    assert len(rows) == 2
    docs = write_digest_now(settings, store)
    everything = "\n".join([db_texts(env), json.dumps(rows), *docs.values()])
    assert "root:" not in everything and "/bin/bash" not in everything
    assert "lollollollol" not in everything, "an entity was expanded"
    assert len(everything) < 2_000_000


# ------------------------------------------------------------------ SSRF

@contextmanager
def connections() -> Iterator[list]:
    """The addresses every socket of this process connects to meanwhile (an
    audit hook: the real sockets, whatever library opens them)."""
    seen, recording = [], [True]

    def audit(event, args):
        if event == "socket.connect" and recording[0]:
            seen.append(args[1])

    sys.addaudithook(audit)     # audit hooks cannot be removed: it stops recording instead
    try:
        yield seen
    finally:
        recording[0] = False


def test_cycle_refuses_private_targets_before_connecting(srv, tmp_path, env, caplog):
    port = srv.port
    targets = {
        "loopback": f"http://127.0.0.1:{port}/internal/secret",
        "private": "http://10.0.0.1/admin",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "ipv6-loopback": f"http://[::1]:{port}/internal/v6",
        "decimal": f"http://2130706433:{port}/internal/decimal",
        "hex": f"http://0x7f.0.0.1:{port}/internal/hex",
        "name": f"http://localhost:{port}/internal/name",
    }
    items = [{"title": f"Syria: detainees {k}", "link": v} for k, v in targets.items()]
    items.append({"title": "Syria: local file", "link": "file:///etc/passwd", "guid": "f1"})
    srv.static("/ssrf.xml", rss("SSRF", items).encode(), "application/rss+xml")
    srv.redirect("/moved.xml", f"http://127.0.0.1:{port}/ssrf.xml")
    srv.static("/page.html", f'<!DOCTYPE html><html><head><link rel="alternate" '
               f'type="application/rss+xml" href="http://127.0.0.1:{port}/ssrf.xml">'
               f'</head><body>news</body></html>'.encode(), "text/html")
    cfg = write_config(tmp_path, [{"name": "SSRF", "url": srv.url("/ssrf.xml")},
                                  {"name": "Moved", "url": srv.url("/moved.xml")},
                                  {"name": "Page", "url": srv.url("/page.html")}],
                       network={"allow_private_addresses": False})
    with connections() as connects, caplog.at_level("INFO"):
        _, store, _ = run_in_process(cfg, env)

    # nothing but the trusted server on loopback was ever connected to
    hosts = {a[0] for a in connects if isinstance(a, tuple)}
    assert hosts <= {"127.0.0.1"}, hosts
    assert [r.path for r in srv.requests if r.path.startswith("/internal")] == []
    rows = {r["url"]: r for r in export_rows(store)}
    reasons = {"loopback": "loopback", "private": "private address",
               "metadata": "link-local", "ipv6-loopback": "loopback",
               "decimal": "127.0.0.1", "hex": "127.0.0.1", "name": "resolves to"}
    for key, url in targets.items():
        row = next(r for u, r in rows.items() if u.startswith(url.split("/internal")[0][:18])
                   and u.rstrip("/").endswith(url.rsplit("/", 1)[-1]))
        assert row["status"] == "failed", (key, row)
        assert "refused" in row["error"] and reasons[key] in row["error"], (key, row["error"])
    assert not any(u.startswith("file:") for u in rows)
    assert any("scheme 'file' refused" in r.getMessage() for r in caplog.records)
    # the trusted feed URL may be on loopback; where it redirects to may not
    failing = {f.name: f.last_error for f in storage.failing_feeds(store)}
    assert "refused" in failing["Moved"] and "after redirect" in failing["Moved"]
    assert "refused" in failing["Page"] and "loopback" in failing["Page"]
    assert srv.hits["/ssrf.xml"] == 1           # only the trusted first hop


def test_cycle_fetches_a_loopback_link_when_private_addresses_are_allowed(srv, tmp_path, env):
    link = srv.url("/internal/secret")
    srv.static("/local.xml", rss("Local", [{"title": "Syria: detainees", "link": link}]).encode(),
               "application/rss+xml")
    srv.static("/internal/secret", list(article_pages().values())[0], "text/html")
    cfg = write_config(tmp_path, [{"name": "Local", "url": srv.url("/local.xml")}],
                       network={"allow_private_addresses": True})
    _, store, _ = run_in_process(cfg, env)
    assert srv.hits["/internal/secret"] == 1
    assert export_rows(store)[0]["status"] != "failed"


# ------------------------------------------------------------------ secrets

USER, PASSWORD = "newsdesk", "hunter2-Pa55"
TOKENS = ("tok-FAIL-1234", "tok-OK-5678", "KEY-9999", "tok-HTML-4321")


def test_credentials_in_feed_urls_never_leak(srv, tmp_path, env):
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    srv.respond("/private/fail.xml", 503, b"down", {"Content-Type": "text/plain"})
    srv.respond("/private/html", 200, b"<html><body>login</body></html>",
                {"Content-Type": "text/html"})
    page = list(article_pages().values())[2]
    srv.static("/s/a1", page, "text/html; charset=utf-8")
    srv.static("/private/ok.xml", rss("OK", [
        {"title": "Syria: detainees freed", "link": "/s/a1"},          # relative link
        {"title": "Syria: prison gone", "link": "/s/missing"},
    ]).encode(), "application/rss+xml")
    cred = f"{USER}:{PASSWORD}@127.0.0.1:{srv.port}"
    feeds = [{"name": "Failing", "url": f"http://{cred}/private/fail.xml?token={TOKENS[0]}"},
             {"name": "Working",
              "url": f"http://{cred}/private/ok.xml?token={TOKENS[1]}&api_key={TOKENS[2]}"},
             {"name": "Not a feed", "url": f"http://{cred}/private/html?access_token={TOKENS[3]}"}]
    cfg = write_config(tmp_path, feeds)
    outputs = []
    for fmt in ("text", "json"):
        res = subprocess.run([sys.executable, "-m", "pipeline", "once", "--config", str(cfg), "-v"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": str(ROOT), **env,
                                  "NEWSWATCH_LOG_FORMAT": fmt})
        assert res.returncode == 0, res.stderr
        outputs += [res.stdout, res.stderr]
    assert "failed" in outputs[0]
    exp = subprocess.run([sys.executable, "-m", "pipeline", "export", "--config", str(cfg)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert exp.returncode == 0 and exp.stdout.count("\n") == 2, exp.stdout
    settings = load_settings(cfg, env=env)
    store = storage.open_store(settings.database_url)
    docs = write_digest_now(settings, store)
    places = {"once output": "\n".join(outputs), "stored errors": db_texts(env),
              "export": exp.stdout, **{f"digest.{k}": v for k, v in docs.items()}}
    for where, text in places.items():
        for secret in (PASSWORD, *TOKENS):
            assert secret not in text, f"{secret!r} leaked into {where}"
    # the failures are there, named (just without the secrets)
    assert "503" in places["stored errors"] and "Failing" in docs["md"]
    assert "Not a feed" in docs["md"]
    # Basic auth is really sent to the feed's server, and only to the feed URLs
    feed_reqs = [r for r in srv.requests if r.path.startswith("/private/")]
    assert feed_reqs and all(r.headers.get("authorization") == auth for r in feed_reqs)
    article_reqs = [r for r in srv.requests if r.path.startswith("/s/")]
    assert article_reqs and all("authorization" not in r.headers for r in article_reqs)
