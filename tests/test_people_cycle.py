"""A watched person through a real cycle over the local news web: a report naming
only the person is kept and alerted (through the extraction workers), a namesake
and an official (on_topic: false) are not kept, the digest shows the person's
alert first with the spelling found, and ``newswatch people`` counts the report."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import storage
from conftest import write_config
from cycle_support import run_in_process
from newsweb import page_around, rss
from pipeline import digest
from pipeline.cli import main
from pipeline.maintenance import export_entries, watchlist_reports

WATCHED = [{"name": "Mazen al-Hamada", "also": ["مازن الحمادة"],
            "note": "activist; found dead in December 2024"},
           {"name": "Jamil Hassan", "on_topic": False, "note": "an official"}]

# none of the test topic's words (prison*, Syria*, Sednaya, detain*, Taliban)
FUNERAL = ["Thousands of mourners walked behind the coffin of Mazen Hamadeh through "
           "the old city of Damascus on Friday, chanting his name.",
           "He had told audiences in Washington and across Europe how he was tortured, "
           "and went home in 2020 against the advice of his friends.",
           "His nephew identified the body this week."]
POET = ["Poems by Mahmoud Darwish were read aloud at the ceremony in Ramallah.",
        "The audience, several hundred people, stood for the last one."]
OFFICIAL = ["Jamil Hassan was seen in a Beirut hotel, according to a newspaper there.",
            "He did not answer questions from reporters."]


def _site(web) -> str:
    web.add("/p/funeral", page_around("Hundreds march at the funeral of Mazen Hamadeh",
                                      FUNERAL))
    web.add("/p/poet", page_around("An evening of Darwish in Ramallah", POET))
    web.add("/p/official", page_around("A former general in Beirut", OFFICIAL))
    return web.add("/feeds/news.xml", rss("News", [
        {"title": "Hundreds march at the funeral of Mazen Hamadeh", "link": web.url("/p/funeral")},
        {"title": "An evening of Darwish in Ramallah", "link": web.url("/p/poet")},
        {"title": "A former general in Beirut", "link": web.url("/p/official")},
    ]), content_type="application/rss+xml")


def _export(store) -> dict[str, dict]:
    out = io.StringIO()
    export_entries(store, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return {r["url"].rsplit("/", 1)[1]: r for r in rows}


def test_a_report_naming_only_a_watched_person_is_kept_alerted_and_counted(web, env, tmp_path,
                                                                            capsys):
    feed = _site(web)
    config = write_config(tmp_path, [{"name": "News", "url": feed}], people=WATCHED)
    settings, store, summary = run_in_process(config, env)

    rows = _export(store)
    assert rows["funeral"]["status"] == "new" and rows["funeral"]["extraction"] == "page"
    assert rows["funeral"]["alerts"][0] == "Mazen al-Hamada"      # people first
    assert "Torture" in rows["funeral"]["alerts"]
    assert rows["poet"]["status"] == "off_topic"
    assert rows["official"]["status"] == "off_topic"           # on_topic: false
    assert summary.new == 1 and summary.off_topic == 2

    now = datetime.now(timezone.utc)
    (item,) = storage.items_between(store, now - timedelta(hours=1), now + timedelta(hours=1),
                                    statuses=["new"])
    person = next(m for m in item.alerts if m.rule == "Mazen al-Hamada")
    assert {h.matched for h in person.hits} == {"Mazen Hamadeh"}
    assert all("Hamadeh ≈ Hamada" in h.term for h in person.hits)

    day = digest.digest_day_of(now, settings.digest_time, settings.tz)
    md = next(p for p in digest.write_day(settings, store, day) if p.suffix == ".md").read_text()
    assert md.index("Mazen al-Hamada") < md.index("Torture") and "Mazen Hamadeh" in md

    assert main(["people", "--config", str(config)], env=env) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "Mazen al-Hamada" in l)
    assert f"      1  latest {now:%Y-%m-%d}" in line and "found dead" in line
    assert "none yet" in next(l for l in out.splitlines() if "Jamil Hassan" in l)
    later = watchlist_reports(settings, store, days=30, now=now + timedelta(days=40))
    assert later[0][0] == "Mazen al-Hamada" and later[0][1] == 0 and later[0][2] is not None


def test_test_rules_shows_the_person_found_and_why(tmp_path, env, capsys):
    config = write_config(tmp_path, [{"name": "News", "url": "http://127.0.0.1:9/f"}],
                          people=WATCHED)
    assert main(["test-rules", "Funeral of Mazin al-Hamadeh in Damascus",
                 "--config", str(config)], env=env) == 0
    out = capsys.readouterr().out
    assert "MATCH Mazen al-Hamada" in out
    assert "found 'Mazin al-Hamadeh'" in out and "Mazin ≈ Mazen, Hamadeh ≈ Hamada" in out
    assert "kept: a watched person is named" in out
