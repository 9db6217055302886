"""The digest from the database: the storage query and the write path (three formats
from stored items only, hostile feed text made harmless, files replaced atomically).
The model and the renderers alone, with no database: tests/test_digest_model.py."""

import json
import os
import re
from pathlib import Path
from html.parser import HTMLParser
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

import storage
from storage_helpers import save_feed_state
from conftest import write_config
from pipeline.config import load_settings
from pipeline import digest as digest_mod
from pipeline.errors import DigestError
from pipeline.records import (Article, FeedEntry, FeedState, ItemOutcome, RuleMatch,
                              TermHit)

NOW = datetime(2024, 12, 9, 8, 0, tzinfo=timezone.utc)
UTC = ZoneInfo("UTC")
HOSTILE_TITLE = '<script>alert("x")</script><img src="http://evil.example/t.gif"> [click](javascript:alert(1))'


@pytest.fixture
def store(env):
    s = storage.open_store(env["DATABASE_URL"])
    yield s
    s.close()


def _item(link, title, text, status="new", alerts=(), **kw):
    entry = FeedEntry(feed_name=kw.pop("source", "Feed <b>One</b>"), feed_url="http://f/rss",
                      link=link, title=title, summary="", published=kw.pop("published", NOW))
    return ItemOutcome(entry=entry, canonical_url=link, status=status,
                       fetched_at=kw.pop("fetched_at", NOW), title=title,
                       article=Article(url=link, title=title, text=text), alerts=list(alerts),
                       **kw)


def _fill(store):
    text = "Families gathered outside Sednaya prison as detainees were freed on Sunday."
    start = text.index("Sednaya")
    hit = TermHit("Sednaya", "text", start, start + 7, "Sednaya")
    storage.save_feed_batch(store, FeedState(url="http://f/rss"), [
        _item("https://a.example/1", HOSTILE_TITLE, text, alerts=[RuleMatch("Sednaya", (hit,))]),
        _item("javascript:alert(1)", "Plain new item", "Nothing to see " * 10),
        _item("https://b.example/copy", "Copy", "x", status="duplicate",
              duplicate_of="000_ecf7d2cffda6f16f.txt", source="Mirror"),
        _item("https://c.example/off", "Football", "", status="off_topic"),
    ])
    save_feed_state(store, FeedState(
        url="https://user:secret@feeds.example/rss?token=abc123", name="Locked feed",
        consecutive_failures=2, last_error="fetch: 503 service unavailable "
        "(https://user:secret@feeds.example/rss?token=abc123)", failing_since=NOW))


def _digest(store, feeds=("https://user:secret@feeds.example/rss?token=abc123",), tz=UTC):
    day = date(2024, 12, 9)
    start, end = digest_mod.digest_window(day, time(23, 0), tz)
    inputs = storage.digest_inputs(store, start, end, list(feeds))
    return digest_mod.build_digest(inputs, day=day, tz=tz, alert_order=["Sednaya"], now=NOW)


def test_digest_inputs_hold_the_window_what_its_copies_copied_and_the_failing_feeds(store):
    _fill(store)
    storage.save_feed_batch(store, FeedState(url="http://f/rss"), [
        _item("https://a.example/copy", "Copy of 1", "x", status="duplicate",
              duplicate_of="https://a.example/1", source="Mirror"),
        _item("https://a.example/old", "Yesterday", "y", fetched_at=datetime(
            2024, 12, 8, 22, 59, tzinfo=timezone.utc)),
    ])
    save_feed_state(store, FeedState(url="https://other.example/rss", name="Dropped",
                                             consecutive_failures=1, failing_since=NOW))
    start, end = digest_mod.digest_window(date(2024, 12, 9), time(23, 0), UTC)
    inputs = storage.digest_inputs(store, start, end,
                                   ["https://user:secret@feeds.example/rss?token=abc123"])
    assert (inputs.start, inputs.end) == (start, end)
    assert "https://a.example/old" not in [i.url for i in inputs.items]
    assert [i.url for i in inputs.items][:2] == ["https://a.example/1", "javascript:alert(1)"]
    assert inputs.originals == {"https://a.example/1": (HOSTILE_TITLE, "Feed <b>One</b>")}
    assert [f.name for f in inputs.failing_feeds] == ["Locked feed"]     # configured feeds only


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Adak", "America/New_York"])
def test_a_stored_date_at_the_ends_of_time_reaches_every_file(store, tmp_path, zone):
    """Year 9999 at UTC+14 and year 1 west of UTC are past what a datetime holds: they
    crashed the digest with OverflowError; they are shown in UTC instead."""
    found, _ = digest_mod.digest_window(date(2024, 12, 9), time(23, 0), ZoneInfo(zone))
    storage.save_feed_batch(store, FeedState(url="http://f/rss"), [
        _item("https://a.example/late", "Late", "x", fetched_at=found,
              published=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)),
        _item("https://a.example/early", "Early", "y", fetched_at=found,
              published=datetime(1, 1, 1, tzinfo=timezone.utc))])
    digest_mod.write_digest(_digest(store, tz=ZoneInfo(zone)), tmp_path)
    doc = json.loads((tmp_path / "digests" / "2024-12-09.json").read_text())
    times = [r["time"] for st in doc["stories"] for r in st["reports"]]
    assert [t[:5] for t in times] == ["9999-", "0001-"]
    for suffix in ("md", "html"):
        text = (tmp_path / "digests" / f"2024-12-09.{suffix}").read_text()
        assert all(t in text for t in times)


def test_digest_groups_and_counts(store, tmp_path):
    _fill(store)
    d = _digest(store)
    assert [s.alerts for s in d.alert_stories] == [["Sednaya"]]
    (item,) = d.alert_stories[0].reports
    assert item.keywords == ["Sednaya"] and ("Sednaya", True) in item.snippet
    assert [s.headline for s in d.other_stories] == ["Plain new item"]
    assert d.other_stories[0].url is None                    # javascript: never a link
    assert d.counts == {"new": 2, "update": 0, "duplicate": 1, "off_topic": 1, "failed": 0}
    assert d.duplicates[0].original == "seed report 000_ecf7d2cffda6f16f.txt"
    paths = digest_mod.write_digest(d, tmp_path)
    assert sorted(p.suffix for p in paths) == [".html", ".json", ".md"]
    assert (tmp_path / "digests" / "latest.json").read_text() == paths[-1].read_text() \
        or (tmp_path / "digests" / "latest.json").exists()
    doc = json.loads((tmp_path / "digests" / "2024-12-09.json").read_text())
    assert doc["counts"]["new"] == 2 and doc["failing_feeds"][0]["name"] == "Locked feed"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def html_tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_html_runs_and_loads_nothing_from_a_feed(store, tmp_path):
    _fill(store)
    html = digest_mod.render(_digest(store))["html"]
    tags = html_tags(html)
    names = {t for t, _ in tags}
    assert not names & {"script", "img", "iframe", "object", "embed", "link", "base", "form"}
    attrs = {a for _, at in tags for a in at}
    assert not {a for a in attrs if a.startswith("on")} and "src" not in attrs
    hrefs = [at["href"] for t, at in tags if t == "a"]
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    assert "&lt;script&gt;" in html and "default-src 'none'" in html
    assert "<mark>Sednaya</mark>" in html


def test_markdown_is_neutralised(store):
    _fill(store)
    md = digest_mod.render(_digest(store))["md"]
    assert not re.search(r"(?<!\\)<[A-Za-z/!]", md)      # no raw HTML: every < is escaped
    assert "](javascript:" not in md
    links = re.findall(r"\]\(([^)\s]*)\)", md)
    assert links and all(l.startswith(("https://", "http://")) for l in links)
    assert "**Sednaya**" in md


def test_secrets_never_reach_the_digest(store):
    _fill(store)
    for text in digest_mod.render(_digest(store)).values():
        assert "secret" not in text and "abc123" not in text


def test_same_content_when_regenerated(store, tmp_path):
    _fill(store)
    first = digest_mod.render(_digest(store))
    second = digest_mod.render(_digest(store))
    assert first == second


def test_failure_to_write_keeps_previous_digest(store, tmp_path):
    _fill(store)
    d = _digest(store)
    digest_mod.write_digest(d, tmp_path)
    before = (tmp_path / "digests" / "2024-12-09.md").read_text()
    folder = tmp_path / "digests"
    os.chmod(folder, 0o555)
    try:
        if os.geteuid() == 0:
            pytest.skip("root ignores folder permissions")
        with pytest.raises(DigestError, match="digest: cannot write"):
            digest_mod.write_digest(d, tmp_path)
    finally:
        os.chmod(folder, 0o755)
    assert (folder / "2024-12-09.md").read_text() == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_digest_window_ends_at_digest_time_and_follows_dst():
    london = ZoneInfo("Europe/London")
    start, end = digest_mod.digest_window(date(2024, 12, 9), time(7, 0), london)
    assert (start.isoformat(), end.isoformat()) == ("2024-12-08T07:00:00+00:00",
                                                    "2024-12-09T07:00:00+00:00")
    start, end = digest_mod.digest_window(date(2024, 3, 31), time(7, 0), london)
    assert (end - start).total_seconds() == 23 * 3600
    start, end = digest_mod.digest_window(date(2024, 10, 27), time(7, 0), london)
    assert (end - start).total_seconds() == 25 * 3600


def test_every_moment_belongs_to_exactly_one_digest():
    london = ZoneInfo("Europe/London")
    for moment in [datetime(2024, 12, 9, 6, 59, tzinfo=timezone.utc),
                   datetime(2024, 12, 9, 7, 0, tzinfo=timezone.utc),
                   datetime(2024, 3, 31, 5, 59, tzinfo=timezone.utc)]:
        day = digest_mod.digest_day_of(moment, time(7, 0), london)
        start, end = digest_mod.digest_window(day, time(7, 0), london)
        assert start <= moment < end


def test_disk_full_keeps_previous_digest(store, env, tmp_path):
    """A write that runs out of space (RLIMIT_FSIZE stands for a full disk, even
    for root) is a clear error and leaves the previous files as they were."""
    import subprocess
    import sys
    import textwrap

    _fill(store)
    digest_mod.write_digest(_digest(store), tmp_path)
    folder = tmp_path / "digests"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from datetime import date, datetime, time, timezone
        from zoneinfo import ZoneInfo
        import storage
        from pipeline import digest
        from pipeline.errors import DigestError
        store = storage.open_store({env["DATABASE_URL"]!r})
        start, end = digest.digest_window(date(2024, 12, 9), time(23, 0), ZoneInfo("UTC"))
        d = digest.build_digest(storage.digest_inputs(store, start, end, []),
                                day=date(2024, 12, 9), tz=ZoneInfo("UTC"), alert_order=[],
                                now=datetime(2024, 12, 10, tzinfo=timezone.utc))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))
        try:
            digest.write_digest(d, {str(tmp_path)!r})
        except DigestError as exc:
            print(exc)
            sys.exit(1)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=str(tmp_path), env={**__import__("os").environ,
                                                  "PYTHONPATH": str(Path(
                                                      digest_mod.__file__).parents[2])})
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("digest: cannot write")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_digest_inputs_hold_the_earlier_reports_of_the_window_stories_and_the_seeds(store):
    before = datetime(2024, 12, 8, 12, 0, tzinfo=timezone.utc)
    storage.save_feed_batch(store, FeedState(url="http://f/rss"), [
        _item("https://a.example/first", "First report", "Earlier text.", fetched_at=before),
        _item("https://a.example/second", "Second", "More text.", fetched_at=before,
              story_key="https://a.example/first"),
        _item("https://z.example/other", "Another story", "Unrelated.", fetched_at=before),
        _item("https://a.example/today", "Today", "Today's text.",
              story_key="https://a.example/first"),
    ])
    start, end = digest_mod.digest_window(date(2024, 12, 10), time(7, 0), UTC)
    inputs = storage.digest_inputs(store, start, end, [], seeds=[("s.txt", "Seed text.")])
    assert [i.url for i in inputs.earlier] == ["https://a.example/first", "https://a.example/second"]
    assert inputs.seeds == (("s.txt", "Seed text."),)


def test_a_written_digest_shows_new_sentences_against_the_seed_and_earlier_days(env, tmp_path):
    """digest_for reads the configured seed reports and the story's earlier reports."""
    store = storage.open_store(env["DATABASE_URL"])
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "000_seed.txt").write_text("Thousands of detainees were freed from Sednaya prison.")
    cfg = write_config(tmp_path, [{"name": "F", "url": "http://f/rss"}], seeds_dir=str(seeds),
                       digest_time="07:00")
    settings = load_settings(cfg, env=env)
    earlier = datetime(2024, 12, 8, 6, 0, tzinfo=timezone.utc)
    storage.save_feed_batch(store, FeedState(url="http://f/rss"), [
        _item("https://a.example/1", "Sednaya freed", "The search for hidden cells began.",
              fetched_at=earlier),
        _item("https://a.example/2", "Sednaya search", "Thousands of detainees were freed from "
              "Sednaya prison. The search for hidden cells began. The search found no hidden "
              "cells, the White Helmets said.", story_key="https://a.example/1"),
    ])
    d = digest_mod.digest_for(settings, store, date(2024, 12, 10), now=NOW)
    (story,) = d.stories
    assert [n.text for n in story.new_sentences] == [
        "The search found no hidden cells, the White Helmets said."]
    assert story.first_seen.startswith("2024-12-08")
    store.close()
