"""The digest model and its renderers, with no database and no files: ``DigestInputs``
built by hand go through the pure ``build_digest`` and every renderer.

Grouping, counts, stories, duplicates, failing feeds and alert order come from the model;
hostile values (dates no zone can show, bidi controls) and right-to-left text are checked
in every format. The storage query and the write path: tests/test_digest.py."""

import json
import re
from dataclasses import replace
from datetime import date, datetime, time, timezone
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from pipeline import digest
from pipeline.records import DigestInputs, FeedState, RuleMatch, StoredItem, TermHit

NOW = datetime(2024, 12, 9, 7, 0, tzinfo=timezone.utc)
DAY = date(2024, 12, 9)
UTC = ZoneInfo("UTC")
START, END = digest.digest_window(DAY, time(7, 0), UTC)
BIDI_CONTROLS = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
SEDNAYA = "Families gathered outside Sednaya prison as detainees were freed."


def _item(n: int, status: str = "new", **kw) -> StoredItem:
    values = dict(id=n, url=f"https://news{n}.example/a", canonical_url=f"https://news{n}.example/a",
                  title=f"Item {n}", source=f"Source {n}", feed_url="https://f.example/rss",
                  status=status, published=None, fetched_at=START.replace(hour=8, minute=n),
                  text=SEDNAYA)
    values.update(kw)
    return StoredItem(**values)


def _alert(rule: str, word: str = "Sednaya", field: str = "text", text: str = SEDNAYA) -> RuleMatch:
    start = text.index(word)
    return RuleMatch(rule, (TermHit(word, field, start, start + len(word), word),))


def _build(items=(), originals=None, failing=(), tz=UTC, order=("Sednaya",)) -> digest.Digest:
    inputs = DigestInputs(start=START, end=END, items=tuple(items), originals=originals or {},
                          failing_feeds=tuple(failing))
    return digest.build_digest(inputs, day=DAY, tz=tz, alert_order=list(order), now=NOW)


# --- what the model says ---------------------------------------------------------

def test_alert_tags_follow_the_config_order_and_each_item_is_shown_once():
    d = _build([_item(1, alerts=(_alert("Zebra"), _alert("Sednaya"))),
                _item(2, alerts=(_alert("Amnesty", "detainees"),)),
                _item(3)], order=["Sednaya"])
    assert [s.headline for s in d.alert_stories] == ["Item 1", "Item 2"]
    assert d.alert_stories[0].alerts == ["Sednaya", "Zebra"]        # config order, then by name
    assert d.alert_stories[1].reports[0].keywords == ["detainees"]
    assert ("detainees", True) in d.alert_stories[1].reports[0].snippet
    assert [s.headline for s in d.other_stories] == ["Item 3"]
    shown = [r.title for s in d.stories for r in s.reports]
    assert sorted(shown) == ["Item 1", "Item 2", "Item 3"]          # once each in the digest


def test_alert_stories_are_ordered_by_most_urgent_rule_then_by_outlets():
    a = _item(1, alerts=(_alert("Amnesty", "detainees"),))
    b = _item(2, alerts=(_alert("Amnesty", "detainees"),))
    b2 = _item(3, story_key=b.url, source="Another outlet")
    c = _item(4, alerts=(_alert("Sednaya"),))
    quiet, loud = _item(5), _item(6)
    loud2 = _item(7, story_key=loud.url, source="Wire")
    d = _build([a, b, b2, c, quiet, loud, loud2], order=["Sednaya", "Amnesty"])
    assert [s.headline for s in d.alert_stories] == ["Item 4", "Item 2", "Item 1"]
    assert [s.headline for s in d.other_stories] == ["Item 6", "Item 5"]


def test_counts_every_status_of_the_window_and_shows_only_new_items_and_updates():
    d = _build([_item(1), _item(2, "duplicate", duplicate_of="seed.txt"), _item(3, "off_topic"),
                _item(4, "off_topic"), _item(5, "failed", error="fetch: 500"),
                _item(6, "update", duplicate_of="seed.txt")])
    assert d.counts == {"new": 1, "update": 1, "duplicate": 1, "off_topic": 2, "failed": 1}
    assert [r.title for s in d.other_stories for r in s.reports] == ["Item 1", "Item 6"]
    assert d.alert_stories == []


def test_a_story_is_shown_once_with_its_outlets_counted_once():
    lead = _item(1, alerts=(_alert("Sednaya"),))
    follower = _item(2, story_key=lead.url, alerts=(_alert("Sednaya"),))
    same_outlet = _item(3, story_key=lead.url, source="Source 1")
    orphan = _item(4, story_key="https://gone.example/earlier-day")   # its lead is on an earlier day
    d = _build([lead, follower, same_outlet, orphan])
    (story,) = d.alert_stories
    assert story.headline == "Item 1" and [r.title for r in story.reports] == ["Item 1", "Item 2", "Item 3"]
    assert story.outlets == ["Source 1", "Source 2"]
    assert story.alerts == ["Sednaya"]
    assert [s.headline for s in d.other_stories] == ["Item 4"]
    assert d.summary == digest.Summary(reports=4, stories=2, alerts=1,
                                       top_headlines=["Item 1", "Item 4"])


def test_the_headline_is_the_best_title_of_the_story():
    lead = _item(1, title="WATCH: prison video")
    better = _item(2, story_key=lead.url, title="Families search Sednaya prison for loved ones")
    (story,) = _build([lead, better]).stories
    assert story.headline == better.title and story.url == better.url


SEED_TEXT = ("Thousands of people have been released from Syria's prisons. At Sednaya, Amnesty "
             "estimates up to 13,000 Syrians were killed between 2011 and 2016.")


def test_new_sentences_are_those_in_no_seed_no_earlier_report_and_no_earlier_report_of_the_day():
    earlier = _item(10, fetched_at=START.replace(day=7),
                    text="The White Helmets began a mission to reach the lower floors of the prison.")
    first = _item(1, story_key=earlier.url, text=(
        "Thousands of people have been released from Syria's prisons. The White Helmets began "
        "a mission to reach the lower floors of the prison. Rescuers found bodies in ovens at "
        "the prison, the head of the White Helmets said."))
    second = _item(2, story_key=earlier.url, source="Wire", text=(
        "Rescuers found bodies in ovens at the prison, the head of the White Helmets said. "
        "At Sednaya, Amnesty estimates up to 30,000 Syrians were killed between 2011 and 2016."))
    inputs = DigestInputs(start=START, end=END, items=(first, second), seeds=(("s.txt", SEED_TEXT),),
                          earlier=(earlier,))
    d = digest.build_digest(inputs, day=DAY, tz=UTC, alert_order=[], now=NOW)
    (story,) = d.stories
    assert [(n.text, n.report) for n in story.new_sentences] == [
        ("Rescuers found bodies in ovens at the prison, the head of the White Helmets said.", 0),
        ("At Sednaya, Amnesty estimates up to 30,000 Syrians were killed between 2011 and 2016.", 1)]
    assert story.new_sentences[1].facts == ["30000"]
    assert story.first_seen.startswith("2024-12-07")              # the story began on an earlier day


def test_an_update_shows_only_its_new_sentences_and_names_its_original():
    added = "Rescuers found bodies in ovens at the prison. The search found no hidden cells."
    update = _item(1, "update", duplicate_of="s.txt", text=SEED_TEXT + " " + added)
    inputs = DigestInputs(start=START, end=END, items=(update,), seeds=(("s.txt", SEED_TEXT),))
    d = digest.build_digest(inputs, day=DAY, tz=UTC, alert_order=[], now=NOW)
    (story,) = d.stories
    (report,) = story.reports
    assert report.status == "update" and report.update_of == "seed report s.txt"
    assert report.snippet == []
    assert [n.text for n in story.new_sentences] == [
        "Rescuers found bodies in ovens at the prison.", "The search found no hidden cells."]
    outputs = digest.render(d)
    assert "update" in outputs["md"] and "New in this report" in outputs["html"]


def test_at_most_the_configured_number_of_new_sentences_is_shown_per_report():
    text = " ".join(f"Witness number {n} described the cell block {n} in detail." for n in range(8))
    inputs = DigestInputs(start=START, end=END, items=(_item(1, text=text),))
    d = digest.build_digest(inputs, day=DAY, tz=UTC, alert_order=[], now=NOW, max_new_sentences=3)
    (story,) = d.stories
    assert len(story.new_sentences) == 3 and story.more_new == 5


def test_the_json_digest_carries_stories_and_summary():
    lead = _item(1, alerts=(_alert("Sednaya"),), text="A new sentence about the prison search.")
    doc = json.loads(digest.render_json(_build([lead, _item(2, story_key=lead.url)])))
    (story,) = doc["stories"]
    assert set(story) >= {"headline", "outlets", "first_seen", "alerts", "reports",
                          "new_sentences"}
    assert story["outlets"] == ["Source 1", "Source 2"] and story["alerts"] == ["Sednaya"]
    assert story["new_sentences"][0] == {"text": "A new sentence about the prison search.",
                                         "report": 0, "facts": []}
    assert doc["summary"] == {"reports": 2, "stories": 1, "alerts": 1, "top_headlines": ["Item 1"]}


def test_duplicates_name_what_they_copied_most_copied_first():
    stored = "https://orig.example/story"
    d = _build([_item(1, "duplicate", duplicate_of="000_seed.txt"),
                _item(2, "duplicate", duplicate_of=stored), _item(3, "duplicate", duplicate_of=stored),
                _item(4, "duplicate", duplicate_of="https://unknown.example/x")],
               originals={stored: ("The original", "Wire")})
    assert [(x.original, x.count) for x in d.duplicates] == [
        ("The original (Wire)", 2), ("seed report 000_seed.txt", 1),
        ("https://unknown.example/x", 1)]
    assert d.duplicates[0].url == stored and d.duplicates[1].url is None
    assert [c.source for c in d.duplicates[0].copies] == ["Source 2", "Source 3"]


def test_failing_feeds_are_redacted_and_dated_in_the_digest_zone():
    url = "https://user:secret@feeds.example/rss?token=abc123"
    d = _build(failing=[FeedState(url=url, consecutive_failures=3, failing_since=NOW,
                                  last_error=f"fetch: 503 ({url})")],
               tz=ZoneInfo("Asia/Damascus"))
    (f,) = d.failing_feeds
    assert f.failures == 3 and f.since == "2024-12-09 10:00 +03"
    assert "secret" not in f.name + f.url + f.error and "abc123" not in f.name + f.url + f.error


def test_links_are_http_only_and_the_title_falls_back_to_the_url():
    d = _build([_item(1, url="javascript:alert(1)", title="")])
    (item,) = d.other_stories[0].reports
    assert item.url is None and item.title == "javascript:alert(1)"


def test_building_is_pure():
    items = [_item(1, alerts=(_alert("Sednaya"),)), _item(2)]
    assert _build(items) == _build(items)
    assert digest.render(_build(items)) == digest.render(_build(items))
    assert _build(items).generated_at == "2024-12-09T07:00:00+00:00"   # the moment given


def test_the_day_is_the_one_asked_for_even_where_the_window_ends_the_next_morning():
    """In Nuuk the clocks jump past 23:30 on 30 March 2024, so the window of that
    day's 23:30 digest ends at 00:30 on the 31st; the digest is still the 30th's."""
    nuuk = ZoneInfo("America/Nuuk")
    start, end = digest.digest_window(date(2024, 3, 30), time(23, 30), nuuk)
    assert end.astimezone(nuuk).date() == date(2024, 3, 31)
    d = digest.build_digest(DigestInputs(start=start, end=end), day=date(2024, 3, 30), tz=nuuk,
                            alert_order=[], now=NOW)
    assert d.day == "2024-03-30"


# --- hostile values in every renderer ----------------------------------------------

ZONES = ["Pacific/Kiritimati", "America/Adak"]
EXTREMES = [datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc),
            datetime(1, 1, 1, 0, 0, tzinfo=timezone.utc)]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("moment", EXTREMES, ids=["year-9999", "year-1"])
def test_a_date_at_the_ends_of_time_never_crashes_a_renderer(zone, moment):
    tz = ZoneInfo(zone)
    d = _build([_item(1, published=moment, alerts=(_alert("Sednaya"),)),
                _item(2, fetched_at=moment)],
               failing=[FeedState(url="https://f.example/rss", name="F", consecutive_failures=1,
                                  last_error="fetch: timeout", failing_since=moment)], tz=tz)
    shown = [d.alert_stories[0].reports[0].time, d.other_stories[0].reports[0].time,
             d.failing_feeds[0].since]
    for text in shown:     # the year the feed claimed, as a full local (or UTC) time
        assert re.fullmatch(rf"{moment.year:04d}-\d\d-\d\d \d\d:\d\d \S+", text), text
    outputs = digest.render(d)
    for suffix, text in outputs.items():
        assert all(t in text for t in shown), suffix
    assert json.loads(outputs["json"])["stories"][1]["reports"][0]["time"] == shown[1]


def test_a_time_the_zone_cannot_hold_is_shown_in_utc():
    kiritimati = ZoneInfo("Pacific/Kiritimati")          # UTC+14 now, UTC-10:29 in year 1
    assert digest.shown_time(EXTREMES[0], kiritimati) == "9999-12-31 23:59 UTC"
    assert digest.shown_time(EXTREMES[1], kiritimati) == "0001-01-01 00:00 UTC"
    assert digest.shown_time(NOW, kiritimati) == "2024-12-09 21:00 +14"


def _hostile(text: str) -> str:
    """``text`` wrapped in every override and isolate control."""
    return ("\u202eevil\u202c \u202d\u202a\u202b" + text + "\u202c\u202c\u202c"
            " \u2066a\u2069 \u2067b\u2069 \u2068c\u2069")


def _everywhere(make) -> digest.Digest:
    """A digest with ``make(field name)`` in every field that holds feed text."""
    text = make("text") + " Sednaya " + make("more")
    lead = _item(1, title=make("title"), source=make("source"), text=text,
                 alerts=(_alert("Sednaya", text=text),))
    other = _item(2, title=make("other"), source=make("other source"), text=make("snippet"))
    also = _item(3, story_key=lead.url, source=make("also"))
    copy = _item(4, "duplicate", duplicate_of="https://orig.example/", source=make("copy"))
    return _build([lead, other, also, copy],
                  originals={"https://orig.example/": (make("original"), make("wire"))},
                  failing=[FeedState(url="https://f.example/rss", name=make("feed"),
                                     consecutive_failures=1, last_error=make("error"))])


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_bidi_controls_are_removed_from_feed_text_in_every_renderer():
    outputs = digest.render(_everywhere(_hostile))
    for suffix, text in outputs.items():
        assert not [c for c in BIDI_CONTROLS if c in text], suffix
        for word in ("evil", "title", "source", "snippet", "also", "original", "feed", "error"):
            assert word in text, (suffix, word)                 # the text itself is kept
    shown = list(_strings(json.loads(outputs["json"])))          # as a JSON reader displays it
    assert not [s for s in shown if any(c in s for c in BIDI_CONTROLS)]


ARABIC = {"title": "الإفراج عن معتقلين من سجن صيدنايا", "source": "عنب بلدي",
          "text": "تجمعت العائلات أمام السجن", "more": "بانتظار أخبار", "other": "ملف المفقودين",
          "other source": "الجزيرة", "snippet": "شهادات ناجين", "also": "سوريا الآن",
          "copy": "نسخة", "original": "الخبر الأصلي", "wire": "وكالة", "feed": "تلفزيون سوريا",
          "error": "خطأ في الجلب"}


class _TextDirections(HTMLParser):
    """Each text node with the ``dir`` of its nearest ancestor that has one."""

    VOID = {"meta", "br", "hr", "img", "link", "input", "wbr"}

    def __init__(self):
        super().__init__()
        self.open: list[str | None] = []
        self.texts: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append((tag, dict(attrs).get("dir")))

    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        dirs = [d for _, d in self.open if d]
        self.texts.append((data, dirs[-1] if dirs else None))


def test_arabic_feed_text_keeps_its_direction_in_html_and_stays_plain_in_markdown():
    d = _everywhere(lambda name: ARABIC[name])
    assert d.alert_stories[0].headline == ARABIC["title"]            # legitimate RTL untouched
    parser = _TextDirections()
    parser.feed(digest.render_html(d))
    arabic = [(t, where) for t, where in parser.texts if re.search("[\u0600-\u06ff]", t)]
    for name, value in ARABIC.items():
        assert any(value in t for t, _ in arabic), name
    assert [t for t, where in arabic if where != "auto"] == []
    md = digest.render_markdown(d)
    assert ARABIC["title"] in md and "dir=" not in md and "<" not in md.replace("\\<", "")
    assert json.loads(digest.render_json(d))["stories"][0]["headline"] == ARABIC["title"]


def test_an_empty_day_renders_in_every_format():
    outputs = digest.render(_build())
    assert "No new on-topic items" in outputs["md"] and "All feeds answered" in outputs["html"]
    assert json.loads(outputs["json"])["counts"] == {"new": 0, "update": 0, "duplicate": 0,
                                                     "off_topic": 0, "failed": 0}


def test_the_model_is_frozen_so_one_renderer_cannot_change_what_the_next_shows():
    d = _build([_item(1)])
    with pytest.raises(AttributeError):
        d.stories[0].reports[0].title = "changed"
    assert replace(d.stories[0].reports[0], title="copy").title == "copy"
