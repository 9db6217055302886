"""The whole cycle against a local news web: real feeds, real article pages,
a real SQLite file, the real extraction pool."""

import io
import json
from datetime import datetime, timezone

import pytest

import storage
from storage_helpers import duplicate_url_count
from conftest import write_config
from cycle_support import run_once
from newsweb import article_pages, page_around, rss, seed_text
from pipeline import digest
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle
from pipeline.maintenance import export_entries

PRISON, TALIBAN, GAMING, SWEDEN = "c58aa507c4de", "a1fca19b884e", "042bb7b5feda", "c7e39ac49fa1"


def _page(prefix: str) -> bytes:
    return next(v for k, v in article_pages().items() if k.startswith(prefix))


def _seed_copy() -> str:
    """The seed report republished elsewhere: its furniture lines gone, other furniture added."""
    furniture = {"Syria latest as Assad flees to Moscow", "Read more:", "From eye doctor to dictator",
                 "Who are the Syrian rebels?"}
    lines = [l for l in seed_text().splitlines() if l.strip() and l.strip() not in furniture]
    return page_around("Thousands freed from Syria's prisons", lines, site="Mirror Daily")


def _syndicated_copy() -> str:
    import json as j
    from newsweb import FIXTURES
    gt = j.loads((FIXTURES / "articles" / "ground-truth.json").read_text())
    body = next(v["articleBody"] for k, v in gt.items() if k.startswith(PRISON))
    paras = [p for p in body.split("\n") if p.strip()]
    return page_around("Federal prison officers charged over Epstein records", paras,
                       site="Syndicate Wire")


@pytest.fixture
def site(web):
    a = web.base + "/a/"
    web.add("/a/prison-guards", _page(PRISON))
    web.add("/a/taliban", _page(TALIBAN))
    web.add("/a/gaming", _page(GAMING))
    web.add("/a/seed-copy", _seed_copy())
    web.add("/feeds/world.xml", rss("World", [
        {"title": "Prison officers charged", "link": a + "prison-guards"},
        {"title": "Taliban frees hostages", "link": a + "taliban"},
        {"title": "So many ways to play", "link": a + "gaming"},
        {"title": "Thousands freed from Syria's prisons", "link": a + "seed-copy"},
        {"title": "Prison officers charged (again)",
         "link": a + "prison-guards?utm_source=rss&utm_medium=feed#top"},
        {"title": "Families of detained men wait for news", "link": a + "gone",
         "description": "Families of men detained in 2013 are still waiting for news of them."},
    ]), content_type="application/rss+xml")
    web.add("/feeds/broken.xml", "oops", status=500, content_type="text/plain")
    web.add("/b/prison-copy", _syndicated_copy())
    web.add("/b/sweden", _page(SWEDEN))
    web.add("/feeds/mirror.xml", rss("Mirror", [
        {"title": "Prison officers charged over records", "link": web.base + "/b/prison-copy"},
        {"title": "Sweden drops investigation", "link": web.base + "/b/sweden"},
    ]), content_type="application/rss+xml", validators=False)
    return web


def _export(store) -> dict[str, dict]:
    out = io.StringIO()
    export_entries(store, out)
    return {json.loads(l)["url"].split("/", 3)[3]: json.loads(l) for l in out.getvalue().splitlines()}


def test_cycles_store_dedupe_alert_and_digest(site, env, tmp_path):
    feeds = [{"name": "World Desk", "url": site.url("/feeds/world.xml")},
             {"name": "Broken Feed", "url": site.url("/feeds/broken.xml")}]
    settings = load_settings(write_config(tmp_path, feeds), env=env)
    summary, store = run_once(settings)

    rows = _export(store)
    assert rows["a/prison-guards"]["status"] == "new"
    assert rows["a/taliban"]["status"] == "new"
    assert rows["a/gaming"]["status"] == "off_topic"
    assert rows["a/seed-copy"]["status"] == "duplicate"
    assert rows["a/seed-copy"]["duplicate_of"] == "000_ecf7d2cffda6f16f.txt"
    tracked = rows["a/prison-guards?utm_source=rss&utm_medium=feed#top"]
    assert tracked["status"] == "duplicate" and tracked["duplicate_of"].endswith("/a/prison-guards")
    assert tracked["canonical_url"] == rows["a/prison-guards"]["canonical_url"]
    gone = rows["a/gone"]
    assert gone["status"] == "new" and gone["extraction"] == "entry" and "404" in gone["error"]
    assert "Prisoners released" in rows["a/taliban"]["alerts"]
    assert summary.feeds_failed == 1 and summary.new == 3 and summary.duplicates == 2
    assert summary.off_topic == 1 and summary.alerts >= 1
    assert len(site.requests_to("/a/prison-guards")) == 1     # the tracked copy was not fetched

    # the digest of that day, in three formats
    day = digest.digest_day_of(datetime.now(timezone.utc), settings.digest_time, settings.tz)
    paths = digest.write_day(settings, store, day)
    assert {p.suffix for p in paths} == {".md", ".html", ".json"}
    doc = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    assert doc["counts"] == {"new": 3, "update": 0, "duplicate": 2, "off_topic": 1, "failed": 0}
    assert doc["failing_feeds"][0]["name"] == "Broken Feed"
    assert "500" in doc["failing_feeds"][0]["error"]
    assert any(d["original"] == "seed report 000_ecf7d2cffda6f16f.txt" for d in doc["duplicates"])
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert "## Alerts" in md and "`Prisoners released`" in md and "Broken Feed" in md

    # second cycle, a syndicating feed added: 304 for the unchanged feed, no
    # article downloaded again, the syndicated copy is a duplicate of the stored item
    site.clear_log()
    feeds.append({"name": "Mirror", "url": site.url("/feeds/mirror.xml")})
    settings = load_settings(write_config(tmp_path, feeds), env=env)
    summary2, store = run_once(settings)
    world = site.requests_to("/feeds/world.xml")
    assert [(r.status, r.conditional) for r in world] == [(304, True)]
    assert site.requests_to("/a/") == []
    rows = _export(store)
    assert rows["b/prison-copy"]["status"] == "duplicate"
    assert rows["b/prison-copy"]["duplicate_of"].endswith("/a/prison-guards")
    assert rows["b/sweden"]["status"] == "new"
    assert summary2.feeds_not_modified == 1 and summary2.new == 1

    # third cycle: nothing new anywhere, nothing downloaded, nothing stored twice
    site.clear_log()
    summary3, store = run_once(settings)
    assert site.requests_to("/a/") == [] and site.requests_to("/b/") == []
    assert summary3.new == summary3.duplicates == 0
    assert duplicate_url_count(store) == 0
    assert storage.integrity_check(store) == "ok"


def test_failing_feed_backs_off_and_recovers(site, env, tmp_path):
    feeds = [{"name": "Broken Feed", "url": site.url("/feeds/broken.xml")}]
    settings = load_settings(write_config(tmp_path, feeds), env=env)
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    t0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
    try:
        run_cycle(pipeline, now=t0)
        run_cycle(pipeline, now=t0)          # second failure: backoff starts
        state = storage.feed_states(store)[site.url("/feeds/broken.xml")]
        assert state.consecutive_failures == 2 and state.failing_since == t0
        assert state.next_poll_at > t0
        skipped = run_cycle(pipeline, now=t0)
        assert skipped.feeds_skipped == 1 and skipped.feeds_polled == 0
        site.add("/feeds/broken.xml", rss("Back", []), content_type="application/rss+xml")
        run_cycle(pipeline, now=state.next_poll_at)
        state = storage.feed_states(store)[site.url("/feeds/broken.xml")]
        assert state.consecutive_failures == 0 and state.last_error is None
    finally:
        pipeline.close()


def test_stop_abandons_a_hung_article_after_the_grace_period(env, tmp_path):
    """A server that never answers must not hold a shutdown for a whole request
    deadline: after STOP_GRACE the cycle gives up on it, commits what finished,
    and leaves the feed's validators alone so the next cycle does the rest."""
    import threading
    import time

    from faultserver import FaultServer
    from pipeline.cycle import STOP_GRACE

    with FaultServer() as srv:
        srv.static("/a/fast", _page(TALIBAN), "text/html")
        srv.stall("/a/hung")
        srv.static("/feed.xml", rss("F", [
            {"title": "Taliban frees hostages", "link": srv.url("/a/fast")},
            {"title": "Prison that never answers", "link": srv.url("/a/hung")}]).encode(),
            "application/rss+xml", etag='"v1"')
        settings = load_settings(write_config(tmp_path, [{"name": "F", "url": srv.url("/feed.xml")}],
                                              network={"deadline": 60, "read_timeout": 60}),
                                 env=env)
        store = storage.open_store(settings.database_url)
        pipeline = open_pipeline(settings, store)
        stop = threading.Event()
        try:
            threading.Timer(1.5, stop.set).start()
            began = time.monotonic()
            summary = run_cycle(pipeline, stop=stop)
            took = time.monotonic() - began
        finally:
            pipeline.close()
        assert took < 1.5 + STOP_GRACE + 3, took
        rows = _export(store)
        assert rows["a/fast"]["status"] == "new" and "a/hung" not in rows
        assert storage.feed_states(store)[srv.url("/feed.xml")].etag is None
        assert summary.new == 1
