"""Hostile feeds through whole cycles, against real local servers.

* XML attacks: billion laughs and XXE (file:// and http:// external entities,
  a parameter entity) — never expanded, never read, never fetched.
* SSRF at cycle level: entry links at loopback, private, link-local, numeric
  and hex spellings of 127.0.0.1, ``file://``, and a feed URL redirecting to
  loopback — refused before any connection, with the reason recorded.
* Output safety: the 745 feeds of feedparser's ``sanitize/`` corpus plus
  hand-written hostile entries go into the digest; the HTML digest is checked
  with html.parser, the Markdown digest by parsing its links.
* Secrets: ``user:pass@`` and ``?token=`` feed URLs never show in logs, stored
  errors, the export or the digest, yet Basic auth reaches the server.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import pytest

import storage
from conftest import write_config
from faultserver import FaultServer
from newsweb import article_pages, rss
from pipeline import digest
from pipeline.feeds import parse as feeds_stage
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle
from pipeline.maintenance import export_entries

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = Path(__file__).parent / "fixtures" / "feedparser" / "wellformed" / "sanitize"


@pytest.fixture
def srv():
    with FaultServer() as server:
        yield server


def run_in_process(cfg: Path, env: dict):
    settings = load_settings(cfg, env=env)
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    try:
        summary = run_cycle(pipeline)
    finally:
        pipeline.close()
    return settings, store, summary


def export_rows(store) -> list[dict]:
    out = io.StringIO()
    export_entries(store, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def write_digest_now(settings, store) -> dict[str, str]:
    day = digest.digest_day_of(datetime.now(timezone.utc), settings.digest_time, settings.tz)
    paths = digest.write_day(settings, store, day)
    return {p.suffix[1:]: p.read_text("utf-8") for p in paths}


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
    connects = []

    def audit(event, args):
        if event == "socket.connect" and recording:
            connects.append(args[1])

    recording = True
    sys.addaudithook(audit)
    try:
        with caplog.at_level("INFO"):
            settings, store, summary = run_in_process(cfg, env)
    finally:
        recording = False

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

    # allowed: the loopback link is fetched (and nothing else private is tried)
    srv.static("/local.xml", rss("Local", [items[0]]).encode(), "application/rss+xml")
    srv.static("/internal/secret", list(article_pages().values())[0], "text/html")
    env2 = {**env, "DATABASE_URL": env["DATABASE_URL"].replace("newswatch.db", "allowed.db")}
    (tmp_path / "allowed").mkdir()
    cfg2 = write_config(tmp_path / "allowed", [{"name": "Local", "url": srv.url("/local.xml")}],
                        network={"allow_private_addresses": True})
    _, store2, _ = run_in_process(cfg2, env2)
    assert srv.hits["/internal/secret"] == 1
    assert export_rows(store2)[0]["status"] != "failed"


# ------------------------------------------------------------------ output safety

def sanitize_payloads() -> list[tuple[str, str]]:
    """(title, html) of every entry of feedparser's sanitize corpus, as the feed
    author wrote them (feedparser's own sanitizer switched off to read them)."""
    out = []
    for path in sorted(SANITIZE.glob("*.xml")):
        doc = feedparser.parse(path.read_bytes(), sanitize_html=False,
                               resolve_relative_uris=False)
        for e in doc.entries or [doc.feed]:
            html = (e.get("content") or [{}])[0].get("value") or e.get("summary", "") \
                or e.get("subtitle", "") or e.get("title", "")
            if html or e.get("title"):
                out.append((e.get("title", ""), html))
    return out


HOSTILE_ITEMS = """
<item><title><![CDATA[<script>alert(1)</script>Syria headline with tag]]></title>
  <link>{base}/h/1</link><description>Syria detainees</description></item>
<item><title>&amp;lt;script&amp;gt;alert(2)&amp;lt;/script&amp;gt; Syria literal markup</title>
  <link>{base}/h/2</link><description>&amp;lt;img src=http://evil.example/t.png onerror=alert(4)&amp;gt; Syria</description></item>
<item><title>Syria [x](javascript:alert(1)) ![](http://evil.example/pixel.png) md</title>
  <link>{base}/h/3</link><description>Syria &lt;a href="javascript:alert(7)"&gt;click&lt;/a&gt; [y](data:text/html,boom)</description></item>
<item><title>Syria comment</title><link>{base}/h/4</link>
  <description><![CDATA[Syria <!-- <script>alert(3)</script> --> comment <style>body{{background:url(http://evil.example/s.png)}}</style><div style="background:url(http://evil.example/bg.png)">css</div><iframe src="http://evil.example/f"></iframe><object data="x.swf"></object><embed src="x.swf"><link rel=stylesheet href="http://evil.example/c.css">]]></description></item>
<item><title>Syria javascript link</title><link>javascript:alert(5)</link><guid isPermaLink="false">j1</guid></item>
<item><title>Syria data link</title><link>data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==</link><guid isPermaLink="false">d1</guid></item>
<item><title>Syria quote break-out</title><link>{base}/h/7?x="&gt;&lt;script&gt;alert(8)&lt;/script&gt;</link></item>
<item><title>Syria paren break-out</title><link>{base}/h/8(1)?q=a)](javascript:alert(9))</link></item>
<item><title>Syria
# Heading injected
&lt;h1&gt;big&lt;/h1&gt; | table | `code` *em* _u_ ~~s~~</title><link>{base}/h/9</link></item>
"""


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.style_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style_text.append(data)


def _unescaped(md: str, ch: str) -> list[int]:
    out, i = [], 0
    while i < len(md):
        if md[i] == "\\":
            i += 2
            continue
        if md[i] == ch:
            out.append(i)
        i += 1
    return out


def markdown_links(md: str) -> list[str]:
    """Targets of every inline link/image ``[text](target)`` a renderer would see."""
    targets = []
    for pos in _unescaped(md, "]"):
        if md[pos + 1:pos + 2] == "(":
            end = md.find(")", pos + 2)
            targets.append(md[pos + 2:end if end > 0 else None])
    return targets


def test_hostile_feed_content_never_becomes_markup_in_the_digest(srv, tmp_path, env):
    payloads = sanitize_payloads()
    assert len(payloads) >= 650
    # titles told apart by a letter code, not a number: "Syria 2" would make the
    # hand-written "alert(2) … Syria" item a follower of its story (shown by source only)
    code = lambda i: "".join("bcdfghjklm"[int(d)] for d in f"{i:03d}")  # noqa: E731
    items = [{"title": f"{t} Syria {code(i)}", "link": srv.url(f"/gone/{i}"), "description": h}
             for i, (t, h) in enumerate(payloads)]
    srv.static("/sanitize.xml", rss("Sanitize corpus", items).encode(), "application/rss+xml")
    hostile = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>'
               + HOSTILE_ITEMS.format(base=srv.url("").rstrip("/")) + "</channel></rss>")
    srv.static("/hostile.xml", hostile.encode(), "application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "Sanitize <b>corpus</b>", "url": srv.url("/sanitize.xml")},
                                  {"name": "Hostile [x](javascript:1)", "url": srv.url("/hostile.xml")}],
                       topic={"any": ["Syria*"]})
    settings, store, summary = run_in_process(cfg, env)
    assert summary.feeds_failed == 0
    assert summary.new >= 600, summary.line()            # they really reach the digest
    docs = write_digest_now(settings, store)
    html, md = docs["html"], docs["md"]

    # --- HTML: parse it, tag by tag
    parser = TagCollector()
    parser.feed(html)
    tags = parser.tags
    names = [t for t, _ in tags]
    for bad in ("script", "iframe", "object", "embed", "img", "link", "form", "base",
                "frame", "svg", "math", "video", "audio", "source", "input", "button"):
        assert bad not in names, f"<{bad}> in the HTML digest"
    assert names.count("style") == 1 and names.count("meta") == 4   # the template's own
    assert "url(" not in "".join(parser.style_text) and "@import" not in "".join(parser.style_text)
    hrefs = []
    for tag, attrs in tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert name not in ("src", "srcset", "style", "formaction", "xlink:href",
                                "background", "poster", "data"), (tag, name)
        if "href" in attrs:
            hrefs.append(attrs["href"])
    assert len(hrefs) >= 600
    for href in hrefs:
        assert re.match(r"https?://[^\s\"'<>]+$", href), href
    csp = next(a["content"] for t, a in tags if t == "meta"
               and a.get("http-equiv", "").lower() == "content-security-policy")
    directives = dict((d.split() + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'" and directives["img-src"] == "'none'"
    assert "script-src" not in directives and "unsafe-eval" not in csp
    # the hostile text is there, as text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html

    # --- Markdown: no raw HTML, only http(s) link targets
    assert _unescaped(md, "<") == [], "raw '<' in the Markdown digest"
    targets = markdown_links(md)
    assert len(targets) >= 600
    for target in targets:
        assert re.match(r"https?://[^\s()<>]+$", target), target
    for pos in _unescaped(md, "!"):
        assert md[pos + 1:pos + 2] != "[", "an image in the Markdown digest"
    assert "\\<script\\>alert\\(2\\)" in md
    assert not re.search(r"^#+ Heading injected", md, re.M)

    # --- JSON: only http(s) URLs (or none)
    doc = json.loads(docs["json"])
    for story in doc["stories"]:
        for item in [story, *story["reports"]]:
            assert item["url"] is None or re.match(r"https?://", item["url"])


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
