"""Updates through a whole cycle: a near-copy of the seed that adds new paragraphs is
stored as an ``update`` of it (not suppressed), a pure copy stays a duplicate, a copy of
the update is a duplicate too; the summary counts them, ``export`` carries the status and
the digest shows the update with only its new sentences."""

import io
import json

from conftest import write_config
from cycle_support import run_once
from newsweb import page_around, rss, seed_text
from pipeline import digest
from pipeline.config import load_settings
from pipeline.maintenance import export_entries

FURNITURE = {"Syria latest as Assad flees to Moscow", "Read more:", "From eye doctor to dictator",
             "Who are the Syrian rebels?"}
ADDED = ["Raed al-Saleh, the head of the White Helmets, told Al Jazeera rescuers found bodies "
         "in ovens and that executions took place daily at the prison.",
         "The White Helmets later said the search had not found any unopened or hidden areas "
         "after the prison was captured by rebels."]


def _seed_lines() -> list[str]:
    return [line for line in seed_text().splitlines() if line.strip() and line not in FURNITURE]


def test_a_near_copy_adding_sentences_is_an_update_and_a_pure_copy_a_duplicate(web, tmp_path, env):
    lines = _seed_lines()
    web.add("/a/copy", page_around("Prisoners freed from Syria's prisons", lines, site="Mirror"))
    web.add("/a/update", page_around("Prisoners freed: bodies found", lines[:12] + ADDED + lines[12:],
                                     site="Wire"))
    web.add("/b/update-copy", page_around("Bodies found at Sednaya",
                                          lines[:12] + ADDED + lines[12:], site="Reprint"))
    web.add("/feeds/a.xml", rss("A", [
        {"title": "Prisoners freed from Syria's prisons", "link": web.base + "/a/copy"},
        {"title": "Prisoners freed: bodies found", "link": web.base + "/a/update"},
    ]), content_type="application/rss+xml")
    web.add("/feeds/b.xml", rss("B", [
        {"title": "Bodies found at Sednaya", "link": web.base + "/b/update-copy"},
    ]), content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "A", "url": web.base + "/feeds/a.xml"}])
    summary, store = run_once(load_settings(cfg, env=env))
    assert (summary.updates, summary.duplicates, summary.new) == (1, 1, 0)
    assert "1 updates" in summary.line()

    cfg = write_config(tmp_path, [{"name": "A", "url": web.base + "/feeds/a.xml"},
                                  {"name": "B", "url": web.base + "/feeds/b.xml"}])
    settings = load_settings(cfg, env=env)
    summary, store = run_once(settings)          # a new process: the archive is read back
    assert (summary.updates, summary.duplicates) == (0, 1)

    out = io.StringIO()
    export_entries(store, out)
    rows = {json.loads(line)["url"].rsplit("/", 1)[-1]: json.loads(line)
            for line in out.getvalue().splitlines()}
    assert rows["update"]["status"] == "update"
    assert rows["update"]["duplicate_of"] == "000_ecf7d2cffda6f16f.txt"
    assert rows["copy"]["status"] == rows["update-copy"]["status"] == "duplicate"

    from datetime import datetime, timezone
    day = digest.digest_day_of(datetime.now(timezone.utc), settings.digest_time, settings.tz)
    d = digest.digest_for(settings, store, day)
    (story,) = d.stories
    (report,) = story.reports
    assert report.status == "update" and report.update_of == "seed report 000_ecf7d2cffda6f16f.txt"
    assert [n.text for n in story.new_sentences] == ADDED
    store.close()


def test_the_update_thresholds_are_read_from_config_and_checked(tmp_path, env):
    import pytest
    from pipeline.errors import ConfigError

    feeds = [{"name": "A", "url": "http://127.0.0.1:9/feed.xml"}]
    settings = load_settings(write_config(tmp_path, feeds, briefing={
        "update_min_new_sentences": 3, "update_min_new_share": 0.3}), env=env)
    assert (settings.briefing.update_min_new_sentences, settings.briefing.update_min_new_share,
            settings.briefing.max_new_sentences) == (3, 0.3, 5)
    with pytest.raises(ConfigError, match="briefing.update_min_new_share"):
        load_settings(write_config(tmp_path, feeds, briefing={"update_min_new_share": "lots"}),
                      env=env)
    with pytest.raises(ConfigError, match="briefing.typo"):
        load_settings(write_config(tmp_path, feeds, briefing={"typo": 1}), env=env)
