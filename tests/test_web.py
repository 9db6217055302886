"""The reading room over HTTP: a real uvicorn server on loopback, a real SQLite
file, httpx as the client. Pages, the token, the headers that keep feed text
inert, the read-only rule, the Atom files, the CLI's ``serve`` and the server
inside ``newswatch run``."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, write_config

import storage
from storage_helpers import save_feed_state
from pipeline import digest
from pipeline.config import WebConfig, load_settings
from pipeline.errors import ConfigError
from pipeline.records import Article, FeedEntry, FeedState, ItemOutcome, RuleMatch, TermHit
from pipeline.web import ReadingRoom, web_config

NOW = datetime(2024, 12, 9, 6, 0, tzinfo=timezone.utc)     # inside the digest of 12-09
HOSTILE = '<script>alert(1)</script><img src="http://evil.example/x.png"> Sednaya'
TOKEN = "a-long-enough-test-token-0123456789"
LEAD = "https://a.example/lead"


def _outcome(link, title, text, *, status="new", story=None, dup=None, alerts=(), hours=0,
             source="BBC"):
    when = NOW - timedelta(hours=hours)
    entry = FeedEntry(feed_name=source, feed_url="http://f.example/rss", link=link,
                      title=title, summary="", published=when)
    return ItemOutcome(entry=entry, canonical_url=link, status=status, fetched_at=when,
                       title=title, article=Article(url=link, title=title, text=text),
                       story_key=story, duplicate_of=dup, alerts=list(alerts))


def _fill(store) -> None:
    text = "Families gathered outside Sednaya prison.\nThe detainees were freed on Sunday."
    hit = TermHit("Sednaya", "text", text.index("Sednaya"), text.index("Sednaya") + 7,
                  "Sednaya")
    outcomes = [
        _outcome(LEAD, "Sednaya prison opened", text, hours=5,
                 alerts=[RuleMatch("Sednaya prison", (hit,))]),
        _outcome("https://b.example/follow", "Families at Sednaya", text +
                 "\nA new sentence that only this report has to say.", story=LEAD, hours=3),
        _outcome("https://c.example/copy", "Copy of the lead", text, status="duplicate",
                 dup=LEAD, hours=2, source="Mirror"),
        _outcome("https://d.example/h", HOSTILE, "Sednaya " + HOSTILE, hours=1,
                 source='Feed "><script>x</script>'),
        _outcome("javascript:alert(2)", "Sednaya no link", "Sednaya text", hours=1),
    ]
    outcomes += [_outcome(f"https://e.example/{i}", f"Prison report {i}", "prison " * 5,
                          hours=4 + i / 100) for i in range(25)]
    storage.save_feed_batch(store, FeedState(url="http://f.example/rss", name="F",
                                             last_success_at=NOW), outcomes)
    save_feed_state(store, FeedState(
        url="https://user:secret@dead.example/rss?token=abc", name="Dead",
        consecutive_failures=3, last_error="fetch: 503 (https://user:secret@dead.example/rss)",
        failing_since=NOW))


@pytest.fixture
def settings(tmp_path, env):
    cfg = write_config(tmp_path, [{"name": "F", "url": "http://f.example/rss"},
                                  {"name": "Dead",
                                   "url": "https://user:secret@dead.example/rss?token=abc"}])
    return load_settings(cfg, env=env)


@pytest.fixture
def room(settings):
    store = storage.open_store(settings.database_url)
    _fill(store)
    room = ReadingRoom(lambda: settings, store, WebConfig(port=0)).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{room.port}", timeout=10) as client:
        yield client
    room.stop()
    store.close()


@pytest.fixture
def locked(settings):
    store = storage.open_store(settings.database_url)
    room = ReadingRoom(lambda: settings, store, WebConfig(port=0, token=TOKEN)).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{room.port}", timeout=10) as client:
        yield client
    room.stop()
    store.close()


class _Page(HTMLParser):
    """Every tag with its attributes, to check what the browser would act on."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _inert(html: str) -> None:
    tags = _Page(html).tags
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object", "embed",
                                            "style", "base")]
    assert not [a for _, a in tags if "style" in a or any(k.startswith("on") for k in a)]
    for tag, attrs in tags:
        if tag == "a" and not attrs.get("href", "").startswith("/"):
            assert attrs["href"].startswith(("http://", "https://")), attrs
            assert attrs.get("rel") == "noopener noreferrer nofollow", attrs
        if tag == "link":
            assert attrs["href"].startswith("/static/")


def test_every_page_answers_and_carries_no_markup_from_a_feed(room, settings):
    lead_id = _id(settings, LEAD)
    for path in ("/", "/digest/2024-12-09", f"/story/{lead_id}", f"/item/{lead_id}",
                 "/search?q=Sednaya", "/feeds", "/static/style.css"):
        r = room.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert "style-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        if path != "/static/style.css":
            _inert(r.text)
            assert "<script>alert" not in r.text and 'src="http://evil' not in r.text
    home = room.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home
    assert "javascript:" not in home


def _id(settings, url: str) -> int:
    store = storage.open_store(settings.database_url)
    try:
        return storage.item_by_url(store, url).id
    finally:
        store.close()


def test_briefing_is_the_digest_model_rendered(room, settings):
    """/digest/D shows what write_day writes for D: the same alert groups and items."""
    store = storage.open_store(settings.database_url)
    model = digest.digest_for(settings, store, date(2024, 12, 9), now=NOW)
    store.close()
    page = room.get("/digest/2024-12-09").text
    shown = re.findall(r'<h4 dir="auto">(?:<a href="/item/\d+">)?(.*?)(?:</a>)?'
                       r'(?: <span class="tag">update</span>)?</h4>', page)
    expected = [r.title for s in model.stories for r in s.reports]
    assert [html.unescape(t) for t in shown] == expected
    headlines = re.findall(r'<h3 dir="auto">(?:<a href="/story/\d+">)?(.*?)(?:</a>)?</h3>', page)
    assert [html.unescape(t) for t in headlines] == [s.headline for s in model.stories]
    assert "/story/" in page
    assert "Dead" in page and "secret" not in page           # failing feed, redacted
    # no digest written yet: / shows the day of the newest kept item
    assert "<h1>Briefing: 2024-12-09</h1>" in room.get("/").text
    assert room.get("/digest/2024-13-40").status_code == 404


def test_story_and_item_pages(room, settings):
    ids = {url: _id(settings, url) for url in (LEAD, "https://b.example/follow")}
    story = room.get(f"/story/{ids['https://b.example/follow']}").text
    assert story.index("Sednaya prison opened") < story.index("Families at Sednaya")
    assert "A new sentence that only this report has to say." in story
    assert "1 copy suppressed" in story
    item = room.get(f"/item/{ids[LEAD]}").text
    assert "<mark>Sednaya</mark> prison." in item               # the alert's hit
    assert "Copy of the lead" in item and "Families at Sednaya" in item
    queried = room.get(f"/item/{ids[LEAD]}", params={"q": "detainees"}).text
    assert "<mark>detainees</mark>" in queried
    assert room.get("/item/999999").status_code == 404
    assert room.get("/story/abc").status_code == 404


def test_search_pages_and_filters(room):
    first = room.get("/search", params={"q": "prison"}).text
    assert "27 reports; 1–20 shown." in first and 'rel="next"' in first
    second = room.get("/search", params={"q": "prison", "page": "2"}).text
    assert len(re.findall(r"<li class=\"report\">", second)) == 7 and 'rel="prev"' in second
    assert "No report matches." in room.get("/search", params={"q": "prison",
                                                                "source": "Mirror"}).text
    dated = room.get("/search", params={"q": "prison", "from": "2024-12-10"}).text
    assert "No report matches." in dated
    bad = room.get("/search", params={"q": "prison", "from": "9 Dec"}).text
    assert "is not a date" in bad
    ruled = room.get("/search", params={"rule": "Sednaya prison"}).text
    assert "1 report." in ruled and "Sednaya prison opened" in ruled


def test_feeds_page_and_atom_files(room, settings):
    page = room.get("/feeds").text
    assert "Dead" in page and "secret" not in page and "token=abc" not in page
    assert re.search(r"<td>3</td>", page)
    folder = Path(settings.output_dir) / "feeds"
    folder.mkdir(parents=True)
    (folder / "sednaya-prison.atom").write_text('<?xml version="1.0"?><feed/>')
    (folder / "secret.txt").write_text("no")
    assert "/feeds/sednaya-prison.atom" in room.get("/feeds").text
    r = room.get("/feeds/sednaya-prison.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    for name in ("secret.txt", "..%2Fwatch.yaml", "%2E%2E%2Fx.atom", "missing.atom"):
        assert room.get(f"/feeds/{name}").status_code == 404, name


def test_nothing_writes(room):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = room.request(method, "/search")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_health_is_json(room, locked):
    r = room.get("/health")
    assert r.status_code == 503 and r.json()["status"] == "unhealthy"   # no cycle yet
    assert locked.get("/health").status_code == 503                     # no token needed


def test_token_bearer_cookie_and_refusals(locked):
    assert locked.get("/").status_code == 401
    assert locked.get("/", params={"token": "wrong-" + TOKEN}).status_code == 401
    assert locked.get("/", headers={"Authorization": "Bearer " + TOKEN}).status_code == 200
    first = locked.get("/search", params={"q": "صيدنايا", "token": TOKEN})
    assert first.status_code == 303
    assert first.headers["location"] == "/search?q=%D8%B5%D9%8A%D8%AF%D9%86%D8%A7%D9%8A%D8%A7"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    # the client keeps the cookie: the page now opens without the token
    assert locked.get("/feeds").status_code == 200
    locked.cookies.clear()
    assert locked.get("/feeds").status_code == 401
    # a path that would make "//host" of the redirect stays on this site
    host, port = str(locked.base_url.host), locked.base_url.port
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(f"GET //evil.example/?token={TOKEN} HTTP/1.1\r\nHost: x\r\n"
                    "Connection: close\r\n\r\n".encode())
        answer = b"".join(iter(lambda: raw.recv(4096), b"")).decode()
    assert "\r\nlocation: /evil.example/\r\n" in answer


def test_away_from_loopback_a_token_is_required(tmp_path, env, settings):
    with pytest.raises(ConfigError, match="requires web.token"):
        web_config(settings, host="0.0.0.0")
    cfg = write_config(tmp_path, [{"name": "F", "url": "http://f.example/rss"}],
                       web={"host": "0.0.0.0", "port": 8080})
    with pytest.raises(ConfigError, match="requires web.token"):
        load_settings(cfg, env=env)
    ok = load_settings(cfg, env={**env, "NEWSWATCH_WEB_TOKEN": TOKEN})
    assert ok.web.token == TOKEN and TOKEN not in repr(ok)
    with pytest.raises(ConfigError, match="at least 16"):
        load_settings(cfg, env={**env, "NEWSWATCH_WEB_TOKEN": "short"})
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    assert load_settings(cfg, env={**env, "NEWSWATCH_WEB_TOKEN_FILE": str(secret)}
                         ).web.token == TOKEN
    assert load_settings(cfg, env={**env, "NEWSWATCH_WEB_HOST": "127.0.0.1"}).web.token is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float = 30) -> str:
    found: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            found.append(line)
            if re.search(pattern, line):
                done.set()
                return
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout) and found and re.search(pattern, found[-1]), "".join(found)
    return found[-1]


def test_cli_serve_and_refusal(tmp_path, env, settings):
    store = storage.open_store(settings.database_url)
    _fill(store)
    store.close()
    cfg = settings.config_file
    base = [sys.executable, "-m", "pipeline", "serve", "--config", str(cfg)]
    refused = subprocess.run(base + ["--host", "0.0.0.0"], cwd=ROOT, env={**os.environ, **env},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "requires web.token" in refused.stderr
    port = _free_port()
    proc = subprocess.Popen(base + ["--port", str(port)], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_line(proc, r"reading room is at http://127\.0\.0\.1:\d+/")
        r = httpx.get(f"http://127.0.0.1:{port}/search", params={"q": "Sednaya"}, timeout=10)
        assert r.status_code == 200 and "Sednaya</mark> prison opened" in r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_service_serves_the_reading_room_and_stops_it(tmp_path, env, web):
    port = _free_port()
    cfg = write_config(tmp_path, [{"name": "F", "url": web.url("/feed.xml")}],
                       web={"port": port})
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(cfg)],
                            cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_line(proc, r"web: the reading room is at http://127\.0\.0\.1:%d/" % port)
        r = httpx.get(f"http://127.0.0.1:{port}/feeds", timeout=10)
        assert r.status_code == 200 and "<bdi>F</bdi>" in r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_port_in_use_leaves_the_service_polling(tmp_path, env, web):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = write_config(tmp_path, [{"name": "F", "url": web.url("/feed.xml")}],
                           web={"port": port})
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(cfg)],
                                cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            line = _wait_for_line(proc, r"runs without the reading room")
            assert f"cannot listen on 127.0.0.1:{port}" in line
            _wait_for_line(proc, r"cycle: feeds 1 polled")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
