"""Rematch over everything seen: a name added to the config today finds last
month's off-topic report (its text kept, compressed, in the retention store),
which goes into the next digest marked "found by rematch"; alerts removed are
listed; running it twice changes nothing; pruning forgets old texts; the service
does it by itself after a config edit; and the same on PostgreSQL.

Real cycles against tests/newsweb.py, the real command as a subprocess, the real
service as a subprocess, real SQLite files and a throw-away PostgreSQL cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from conftest import ROOT, TEST_ALERTS, TEST_TOPIC, write_config
from cycle_support import export_rows, write_digest_now
from test_postgres import postgres_url  # noqa: F401  (the throw-away cluster fixture)
from test_service import SUMMARY, article, exported, publish, services  # noqa: F401

import storage
from pipeline import maintenance
from pipeline.config import WebConfig, load_settings
from pipeline.cycle import open_pipeline, run_cycle
from pipeline.rematch import rematch
from pipeline.web import ReadingRoom

OLIVES = "Olive harvest festival draws crowds in the hills"
OLIVE_TEXT = [
    "Thousands of visitors came to the hills on Saturday for the yearly olive harvest "
    "festival, where growers sold oil, soap and preserved fruit from long wooden stalls.",
    "Among the speakers was a farmer from Khirbet Ghazaleh who said his brother had not "
    "been heard from since he was taken at a checkpoint eleven years ago, and asked for help.",
    "The organisers said the festival would return next autumn, and thanked the volunteers "
    "who cleaned the square and carried crates of olives up the steep lanes all weekend.",
]
TADAMON = "Detainees' families read the Tadamon lists"
TADAMON_TEXT = [
    "Families of detainees gathered in Damascus on Monday to read lists of names that "
    "activists say were found in the records of the Tadamon neighbourhood branch.",
    "Former prisoners said they had been tortured there for months, and that the guards "
    "kept ledgers of every transfer, which the lists now being read aloud were taken from.",
    "Lawyers who document enforced disappearance said the lists were incomplete and urged "
    "families to register their missing relatives with the independent commission.",
]
# the edit: the village becomes part of the topic and an alert; the torture alert goes
EDITED = dict(topic={"any": [*TEST_TOPIC["any"], "Ghazaleh"]},
              alerts=[*(a for a in TEST_ALERTS if a["name"] != "Torture"),
                      {"name": "Khirbet Ghazaleh", "any": ["Ghazaleh"]}])


def _feed(web) -> str:
    return publish(web, [article(web, "/a/olives", OLIVES, OLIVE_TEXT),
                         article(web, "/a/tadamon", TADAMON, TADAMON_TEXT)])


def _cycle(settings, days_ago: float):
    """One real cycle, as if it ran ``days_ago`` days ago."""
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    try:
        run_cycle(pipeline, now=datetime.now(timezone.utc) - timedelta(days=days_ago))
    finally:
        pipeline.close()
    return store


def _newswatch(cfg, env, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "pipeline", *args, "--config", str(cfg)],
                          cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _by_title(rows) -> dict[str, dict]:
    return {r["title"]: r for r in rows}


def test_a_new_keyword_finds_last_months_off_topic_report(web, env, tmp_path):
    cfg = write_config(tmp_path, [{"name": "wire", "url": _feed(web)}])
    store = _cycle(load_settings(cfg, env=env), days_ago=20)
    before = _by_title(export_rows(store))
    assert before[OLIVES]["status"] == "off_topic" and before[TADAMON]["status"] == "new"
    assert before[TADAMON]["alerts"] == ["Torture"]
    assert storage.count_retained(store) == 1     # the off-topic text, kept compressed

    cfg = write_config(tmp_path, [{"name": "wire", "url": web.url("/feed.xml")}], **EDITED)
    out = _newswatch(cfg, env, "rematch", "--since", "30d").stdout
    assert "2 items since" in out and "1 promoted into the next digest" in out, out
    assert f"found by rematch: {OLIVES}" in out
    # nothing withdrawn silently: the alert the edit removed is listed
    assert f"alert removed: Torture from {TADAMON}" in out and "1 removed" in out

    after = _by_title(export_rows(store))
    olives = after[OLIVES]
    assert olives["status"] == "new" and olives["alerts"] == ["Khirbet Ghazaleh"]
    found = datetime.fromisoformat(olives["fetched_at"])
    assert datetime.now(timezone.utc) - found < timedelta(minutes=5)   # in the next digest
    assert after[TADAMON]["status"] == "new" and after[TADAMON]["alerts"] == []
    assert storage.count_retained(store) == 0    # its text is the item's own now

    settings = load_settings(cfg, env=env)
    digest = write_digest_now(settings, store)
    assert "found by rematch; first seen" in digest["md"] and OLIVES in digest["md"]
    assert "found by rematch</span>" in digest["html"]
    (report,) = [r for s in json.loads(digest["json"])["stories"] for r in s["reports"]
                 if r["title"] == OLIVES]
    first_seen = datetime.now(timezone.utc) - timedelta(days=20)
    assert report["found_by_rematch"].startswith(f"{first_seen:%Y-%m-%d}")

    # idempotent: a second run finds nothing to change
    again = _newswatch(cfg, env, "rematch", "--since", "30d").stdout
    assert "0 promoted into the next digest, 0 alerts added, 0 removed" in again, again
    assert _by_title(export_rows(store)) == after


def test_the_reading_room_marks_what_rematch_found(web, env, tmp_path):
    cfg = write_config(tmp_path, [{"name": "wire", "url": _feed(web)}])
    store = _cycle(load_settings(cfg, env=env), days_ago=3)
    settings = load_settings(write_config(tmp_path, [{"name": "wire", "url": web.url(
        "/feed.xml")}], **EDITED), env=env)
    assert len(rematch(settings, store, timedelta(days=7)).promoted) == 1
    (olives,) = [i for i in storage.all_items(store) if i.title == OLIVES]
    room = ReadingRoom(lambda: settings, store, WebConfig(port=0)).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{room.port}", timeout=10) as client:
            item = client.get(f"/item/{olives.id}").text
            briefing = client.get("/").text
    finally:
        room.stop()
    assert "Found by rematch: first seen" in item and "Ghazaleh" in item
    assert "found by rematch</span>" in briefing


def test_pruning_forgets_old_texts_and_rematch_says_so(web, env, tmp_path):
    cfg = write_config(tmp_path, [{"name": "wire", "url": _feed(web)}], history={"keep": "30d"})
    store = _cycle(load_settings(cfg, env=env), days_ago=40)
    settings = load_settings(write_config(tmp_path, [{"name": "wire", "url": web.url(
        "/feed.xml")}], history={"keep": "30d"}, **EDITED), env=env)
    assert storage.count_retained(store) == 1
    assert maintenance.daily(settings, store) == 1       # older than history.keep
    assert storage.count_retained(store) == 0
    report = rematch(settings, store, timedelta(days=45))
    # only the body named the village, and the body is gone: judged on title and summary
    assert report.promoted == [] and report.without_text == 1
    assert "1 off-topic items judged without their text" in report.lines()[0]
    # a text within the window is kept by the same maintenance
    fresh = _cycle(load_settings(write_config(tmp_path, [{"name": "wire", "url": publish(
        web, [article(web, "/a/o2", OLIVES + " again", OLIVE_TEXT)])}]), env=env), 2)
    assert maintenance.daily(settings, fresh) == 0 and storage.count_retained(fresh) == 1


def test_history_keep_0_keeps_nothing(web, env, tmp_path):
    cfg = write_config(tmp_path, [{"name": "wire", "url": _feed(web)}], history={"keep": "0s"})
    store = _cycle(load_settings(cfg, env=env), days_ago=1)
    assert storage.count_retained(store) == 0


def test_the_service_rematches_by_itself_after_a_rule_edit(web, env, tmp_path, services):
    feed = _feed(web)
    cfg = write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s",
                       digest_time="23:59")
    svc = services(cfg, env)
    svc.wait_for(r"cycle: .*1 off-topic")
    write_config(tmp_path, [{"name": "wire", "url": feed}], poll_interval="1s",
                 digest_time="23:59", **EDITED)
    svc.wait_for(rf"found by rematch: {OLIVES}", timeout=60)
    svc.wait_for(r"alert removed: Torture", timeout=10)
    rows = exported(cfg, env)
    assert rows[web.url("/a/olives")]["status"] == "new"
    assert rows[web.url("/a/olives")]["alerts"] == ["Khirbet Ghazaleh"]
    svc.wait_for(SUMMARY, n=svc.count(SUMMARY) + 1)   # cycles go on after it
    assert svc.terminate()[0] == 0
    assert svc.count("found by rematch") == 1           # once, not at every cycle


def test_rematch_on_postgres(postgres_url, web, tmp_path):  # noqa: F811
    env = {"DATABASE_URL": postgres_url, "NEWSWATCH_OUTPUT_DIR": str(tmp_path / "out")}
    cfg = write_config(tmp_path, [{"name": "wire", "url": _feed(web)}])
    store = _cycle(load_settings(cfg, env=env), days_ago=20)
    assert store.engine.dialect.name == "postgresql" and storage.count_retained(store) == 1
    settings = load_settings(write_config(tmp_path, [{"name": "wire", "url": web.url(
        "/feed.xml")}], **EDITED), env=env)
    report = rematch(settings, store, timedelta(days=30))
    assert [t for t, _ in report.promoted] == [OLIVES]
    assert [r for r, _, _ in report.alerts_removed] == ["Torture"]
    again = rematch(settings, store, timedelta(days=30))
    assert (again.promoted, again.alerts_added, again.alerts_removed) == ([], [], [])
    (olives,) = [i for i in storage.all_items(store) if i.title == OLIVES]
    assert olives.status == "new" and olives.first_seen_at is not None
    assert maintenance.daily(settings, store) == 0


def test_kept_texts_read_back_whichever_codec_wrote_them():
    from pipeline import history
    from pipeline.records import Retained

    text = " ".join(OLIVE_TEXT)
    kept = history.retain_text(text)
    assert kept.kind == "text" and len(kept.data) < len(text.encode())
    assert history.restore(kept).decode() == text
    import zlib
    old = Retained("text", "zlib", zlib.compress(text.encode()))   # written without zstd
    assert history.restore(old).decode() == text
    page = history.retain_page(b"<html><p>" + text.encode() + b"</p></html>")
    assert page.kind == "page" and text.encode() in history.restore(page)
    for bad in (Retained("text", kept.codec, b"not compressed"), Retained("text", "lz4", b"")):
        with pytest.raises(ValueError, match="^history: "):
            history.restore(bad)


def test_the_service_prunes_after_its_daily_digest(web, env, tmp_path):
    from pipeline import service as service_mod

    cfg = write_config(tmp_path, [{"name": "wire", "url": _feed(web)}], digest_time="00:00")
    settings = load_settings(cfg, env=env)
    store = _cycle(settings, days_ago=40)
    assert storage.count_retained(store) == 1
    pipeline = open_pipeline(settings, store)
    try:
        svc = service_mod.Service(service_mod.ConfigWatcher(cfg, env), settings, pipeline)
        svc.write_due_digest()               # today's digest is due: written, then pruned
    finally:
        pipeline.close()
    assert storage.count_retained(store) == 0
