"""A real week as a briefing: the replay entries of 5-11 December 2024 through the whole
pipeline, one cycle a day, then each day's digest, checked, and one day screenshotted.

    .venv/bin/python bench/briefing_week.py [--day 2024-12-10] [--out DIR] [--no-screenshot]

What is served (all from a news web on 127.0.0.1, nothing leaves the machine):

* the 12 replay feeds, each day exactly the entries the archive captured that day
  (``tests/fixtures/replay/entries.jsonl``), their titles and descriptions as published;
* article pages where the fixtures have text for an entry: the Sky News entry of the seed
  report serves the seed's own text; three entries serve pages built from the novelty
  set's hand-edited seed variants (``tests/fixtures/novelty/english.py``): NBC's video
  entry a copy with other spellings (must be suppressed), Al Jazeera's "bodies in ovens"
  entry the seed plus sentences of later real descriptions, BBC's "rescuers end search"
  entry the seed with two sentences adding a name and a figure (both updates). Every other page answers 404, so its feed description
  stands in, as it does when a site is down;
* one Arabic feed, written for this bench from the hand-written Arabic of the novelty set
  (``tests/fixtures/novelty/arabic.py``): no Arabic feed is in the replay.

Configuration: ``config/watch.yaml`` (topic, alerts, variants, Europe/London, digest at
07:00) with the feeds pointed at the local web. It prints, per digest: reports, stories,
alert stories, new sentences, updates, suppressed copies, and the checks (every new item
and update of the window exactly once, each outlet once per story, every Arabic text in
the HTML in an element with ``dir="auto"``); then writes a PNG of one day's HTML with
headless Chromium (Debian ``chromium``) to ``bench/screenshots/``.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests/fixtures/novelty"))

import yaml  # noqa: E402

import storage  # noqa: E402
from newsweb import page_around, start_newsweb  # noqa: E402
from pipeline import digest  # noqa: E402
from pipeline.config import DEFAULTS_FILE, _overlay, settings_from_mapping  # noqa: E402
from pipeline.cycle import open_pipeline, run_cycle  # noqa: E402

import arabic  # noqa: E402  (the novelty set's hand-written Arabic)
import english  # noqa: E402  (the novelty set's seed variants)

DAYS = [date(2024, 12, d) for d in range(5, 12)]
SCREENSHOTS = ROOT / "bench/screenshots"
FEED_NAMES = {
    "feeds.bbci.co.uk/news/rss.xml": "BBC News", "bbci.co.uk/news/world/middle_east": "BBC Middle East",
    "aljazeera.com": "Al Jazeera", "japantoday.com": "Japan Today", "nytimes.com": "New York Times",
    "npr.org": "NPR", "abcnews.com": "ABC News", "skynews.com": "Sky News", "nbcnews.com": "NBC News",
    "elpais.com": "El País English", "washingtonpost.com": "Washington Post", "dj.com": "WSJ World"}
ARABIC_FEED = "Arabic desk (hand-written test feed)"


def _feed_name(url: str) -> str:
    return next(name for key, name in FEED_NAMES.items() if key in url)


def _rss(title: str, items: list[dict]) -> str:
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>{escape(title)}</title><link>http://127.0.0.1/</link><description>replay"
             "</description>"]
    for it in items:
        parts.append(f"<item><title>{escape(it['title'])}</title><link>{escape(it['link'])}"
                     f"</link><guid>{escape(it['link'])}</guid><description>"
                     f"{escape(it['description'])}</description><pubDate>{it['pubDate']}"
                     "</pubDate></item>")
    return "".join(parts) + "</channel></rss>"


def _pub(value: str | None, fallback: datetime) -> str:
    moment = datetime.fromisoformat(value) if value else fallback
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


class Week:
    """The news web of the week: feeds by day, the pages the fixtures have text for."""

    def __init__(self) -> None:
        self.web = start_newsweb()
        self.web.server.handle_error = lambda request, address: None   # clients hanging up
        rows = [json.loads(line) for line in (ROOT / "tests/fixtures/replay/entries.jsonl")
                .read_text(encoding="utf-8").splitlines()]
        self.entries = rows
        self.feed_urls = list(dict.fromkeys(r["feed_url"] for r in rows))
        self.feed_path = {u: f"/feeds/{n}.xml" for n, u in enumerate(self.feed_urls)}
        self.local = {u: self.web.url(p) for u, p in self.feed_path.items()}
        self.page_path = {r["link"]: f"/p/{n}" for n, r in enumerate(rows)}
        self.link_of = {link: self.web.url(p) for link, p in self.page_path.items()}
        self._pages()

    def _pages(self) -> None:
        lines = [t for t, _ in english._seed()]
        pages = {english.L1006: ("Prisoners freed from Syria's 'human slaughterhouse'",
                                 english._SEED_LINES, "Sky News")}
        variants = {name: [t for t, _ in lines_] for name, _, lines_ in english.SEED_VARIANTS}
        pages[english.L971] = ("Videos show prisoners being released", variants["respelled"],
                               "NBC News")
        pages[english.L1118] = ("Bodies in ovens: rescuers free prisoners from Sednaya",
                                variants["wire-update"], "Al Jazeera")
        pages[english.L1210] = ("Syria rescuers end search for secret cells",
                                variants["names-added"], "BBC News")
        for link, (title, paras, site) in pages.items():
            self.web.add(self.page_path[link], page_around(title, paras, site=site))
        assert lines                     # the seed variants read the real seed file

    def serve_day(self, day: date) -> None:
        noon = datetime(day.year, day.month, day.day, 6, tzinfo=timezone.utc)
        for url in self.feed_urls:
            items = [{"title": html.unescape(r["title"] or "").strip(),
                      "link": self.link_of[r["link"]],
                      "description": html.unescape(r["description"] or "").strip(),
                      "pubDate": _pub(r["published"], noon)}
                     for r in self.entries if r["feed_url"] == url and r["day"] == day.isoformat()]
            self.web.add(self.feed_path[url], _rss(_feed_name(url), items),
                         content_type="application/rss+xml")
        self.web.add("/feeds/arabic.xml", _rss(ARABIC_FEED, _arabic_items(self.web, day)),
                     content_type="application/rss+xml")

    def close(self) -> None:
        self.web.server.shutdown()
        self.web.server.server_close()


ARABIC_REPORTS = {   # capture day -> (path, title, sentences)
    date(2024, 12, 8): [("a0", "الإفراج عن آلاف المعتقلين من سجن صيدنايا", arabic.A0)],
    date(2024, 12, 9): [("a0-update", "رائد الصالح: جثث في أفران سجن صيدنايا",
                         [t for t, _ in arabic._a0(added={10: [arabic.NEW_SALEH,
                                                               arabic.NEW_SEARCH_ENDED,
                                                               arabic.NEW_HAMADA]})]),
                        ("tice-0", "عائلة أوستن تايس: نعتقد أنه على قيد الحياة", arabic.C0)],
    date(2024, 12, 10): [("hamada-0", "عائلة مازن الحمادة تبحث عنه في السجون", arabic.B0),
                         ("tice-1", "واشنطن تتواصل مع فصائل المعارضة بحثاً عن أوستن تايس",
                          [t for t, _ in arabic.C1])],
    date(2024, 12, 11): [("hamada-1", "العثور على جثة الناشط مازن الحمادة قرب دمشق",
                          [t for t, _ in arabic.B1])],
}


def _arabic_items(web, day: date) -> list[dict]:
    items = []
    for path, title, sentences in ARABIC_REPORTS.get(day, []):
        web.add(f"/ar/{path}", page_around(title, sentences, site="عنب").replace(
            'lang="en"', 'lang="ar" dir="rtl"'))
        items.append({"title": title, "link": web.url(f"/ar/{path}"),
                      "description": sentences[0],
                      "pubDate": _pub(None, datetime(day.year, day.month, day.day, 5,
                                                     tzinfo=timezone.utc))})
    return items


def settings_for(week: Week, folder: Path):
    raw = _overlay(yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")),
                   yaml.safe_load((ROOT / "config/watch.yaml").read_text(encoding="utf-8")))
    raw["feeds"] = [{"name": _feed_name(u), "url": week.local[u]} for u in week.feed_urls]
    raw["feeds"].append({"name": ARABIC_FEED, "url": week.web.url("/feeds/arabic.xml")})
    raw["network"] = {**raw.get("network", {}), "allow_private_addresses": True}
    raw["extract"] = {**raw.get("extract", {}), "workers": 1}
    raw["seeds_dir"] = str(ROOT / "seeds")
    return settings_from_mapping(raw, env={"DATABASE_URL": f"sqlite:///{folder / 'week.db'}",
                                           "NEWSWATCH_OUTPUT_DIR": str(folder / "output")})


class _Directions(HTMLParser):
    """Text nodes with the ``dir`` of their nearest ancestor that has one."""

    VOID = {"meta", "br", "hr", "img", "link", "input", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str | None]] = []
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


def check(d: digest.Digest, inputs, html_text: str) -> dict[str, int | bool]:
    """The figures of one digest and whether its promises hold."""
    shown = [r.url or r.title for s in d.stories for r in s.reports]
    expected = [i for i in inputs.items if i.status in ("new", "update")]
    parser = _Directions()
    parser.feed(html_text)
    arabic_texts = [(t, w) for t, w in parser.texts if re.search("[\u0600-\u06ff]", t)]
    return {
        "reports": len(shown), "stories": len(d.stories), "alert stories": len(d.alert_stories),
        "new sentences": sum(len(s.new_sentences) for s in d.stories),
        "updates": sum(r.status == "update" for s in d.stories for r in s.reports),
        "copies suppressed": d.counts["duplicate"],
        "multi-outlet stories": sum(len(s.outlets) > 1 for s in d.stories),
        "each item once": len(shown) == len(set(shown)) == len(expected),
        "outlets once": all(len(s.outlets) == len(set(s.outlets)) for s in d.stories),
        "arabic texts": len(arabic_texts),
        "arabic dir=auto": all(w == "auto" for _, w in arabic_texts),
    }


def screenshot(html_file: Path, png: Path) -> bool:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("no chromium on PATH: apt-get install -y chromium (screenshot skipped)")
        return False
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        f"--screenshot={png}", "--window-size=1200,3000",
                        html_file.as_uri()], check=True, capture_output=True, timeout=120)
    return png.exists()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--day", action="append", help="a digest to screenshot "
                    "(default: 2024-12-09)")
    ap.add_argument("--out", type=Path, help="keep the database and digests here")
    ap.add_argument("--no-screenshot", action="store_true")
    args = ap.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="briefing-week-"))
    folder.mkdir(parents=True, exist_ok=True)
    week = Week()
    try:
        settings = settings_for(week, folder)
        store = storage.open_store(settings.database_url)
        pipeline = open_pipeline(settings, store)
        statuses: Counter[str] = Counter()
        for day in DAYS:
            week.serve_day(day)
            summary = run_cycle(pipeline, now=datetime(day.year, day.month, day.day, 6,
                                                       tzinfo=timezone.utc))
            print(f"{day} cycle: {summary.line()}")
        pipeline.close()
        for item in storage.all_items(store):
            statuses[item.status] += 1
        print("stored:", dict(statuses))
        for day in DAYS:
            paths = digest.write_day(settings, store, day)
            start, end = digest.digest_window(day, settings.digest_time, settings.tz)
            inputs = storage.digest_inputs(store, start, end, [])
            began = time.perf_counter()
            d = digest.digest_for(settings, store, day)
            built_ms = (time.perf_counter() - began) * 1000
            html_file = next(p for p in paths if p.suffix == ".html")
            figures = check(d, inputs, html_file.read_text(encoding="utf-8"))
            print(f"digest {day}: " + ", ".join(f"{k} {v}" for k, v in figures.items())
                  + f"; built in {built_ms:.0f} ms")
        store.close()
        print(f"digests in {folder / 'output/digests'}")
        for day in ([] if args.no_screenshot else args.day or ["2024-12-09"]):
            png = SCREENSHOTS / f"briefing-{day}.png"
            if screenshot(folder / "output/digests" / f"{day}.html", png):
                print(f"screenshot: {png.relative_to(ROOT)}")
    finally:
        week.close()


if __name__ == "__main__":
    main()
