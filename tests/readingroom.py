"""A reading room over real data, for the web and browser tests.

``replay_room`` serves replay entries (tests/fixtures/replay: real entries of
5-11 December 2024) from ``newsweb`` as the feeds they came from (the six
that carry most of the Syria reports: 407 entries, 27 labelled relevant; all
twelve would make the cycle fetch 1,645 pages), plus a small Arabic feed (the
replay has none), a hostile feed and a dead one, and runs ONE real cycle over
them with the default config's rules
(config/watch.yaml: topic, alerts, variant sets). Article links point at the
local news web and answer 404, so every item is judged on its feed summary
(the cycle's real fallback path). Then the reading room is served on an
ephemeral loopback port.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from pathlib import Path

import yaml
from conftest import ROOT
from newsweb import FIXTURES, NewsWeb, rss

import storage
from pipeline.config import Settings, load_settings
from pipeline.cycle import open_pipeline, run_cycle
from pipeline.web import ReadingRoom
from pipeline.config import WebConfig

HOSTILE_TITLE = ('<script>document.title="pwned"</script><img src="http://evil.example/x.png">'
                 ' Sednaya prison guards questioned')
# Arabic reports written for the test (the replay has no Arabic feed): the
# prison's name behind a prefix (بصيدنايا), and أحمد with its hamza
ARABIC = [
    ("الإفراج عن مئات المعتقلين بصيدنايا بعد سقوط النظام",
     "أفرجت فصائل المعارضة عن آلاف المعتقلين من سجن صيدنايا قرب دمشق، وتجمعت العائلات "
     "أمام أبواب السجن بحثاً عن أبنائها المفقودين منذ سنوات."),
    ("عائلة أحمد تبحث عنه في سجلات سجن صيدنايا",
     "قالت عائلة المعتقل احمد إنها لم تجد اسمه في قوائم المفرج عنهم من سجن صيدنايا، "
     "وتواصل البحث عنه في المستشفيات ومراكز الاحتجاز."),
    ("الدفاع المدني يبحث عن زنازين سرية تحت سجن صيدنايا",
     "تواصل فرق الدفاع المدني السوري البحث عن معتقلين محتملين في زنازين تحت الأرض في "
     "سجن صيدنايا، بعد أن تحدثت عائلات عن أصوات من تحت الأرض."),
]


@dataclass
class Room:
    url: str
    settings: Settings
    store: storage.Store
    room: ReadingRoom

    def close(self) -> None:
        self.room.stop()
        self.store.close()


REPLAY_FEEDS = ("feeds.bbci.co.uk/news/world/middle_east", "feeds.nbcnews.com",
                "feeds.washingtonpost.com", "feeds.skynews.com", "feeds.a.dj.com",
                "feeds.abcnews.com")


def replay_entries() -> dict[str, list[dict]]:
    by_feed: dict[str, list[dict]] = defaultdict(list)
    with open(FIXTURES / "replay" / "entries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            e = json.loads(line)
            if any(f in e["feed_url"] for f in REPLAY_FEEDS):
                by_feed[e["feed_url"]].append(e)
    return by_feed


def serve_replay(web: NewsWeb) -> list[dict]:
    """Every replay feed, Arabic, hostile and dead feed on ``web``; returns the config's feeds."""
    feeds = []
    for n, (feed_url, entries) in enumerate(sorted(replay_entries().items())):
        items = [{"title": e["title"] or "", "link": web.url(f"/r{n}/{i}"),
                  "description": e["description"] or "",
                  "pubDate": _rfc2822(e["published"])} for i, e in enumerate(entries)]
        web.add(f"/feed/{n}.xml", rss(feed_url, items), content_type="application/rss+xml")
        feeds.append({"name": feed_url.split("/")[2], "url": web.url(f"/feed/{n}.xml")})
    arabic = [{"title": t, "link": web.url(f"/ar/{i}"), "description": d,
               "pubDate": formatdate(1733740000 + i * 600, usegmt=True)}
              for i, (t, d) in enumerate(ARABIC)]
    web.add("/feed/ar.xml", rss("عنب بلدي", arabic), content_type="application/rss+xml")
    feeds.append({"name": "عنب بلدي", "url": web.url("/feed/ar.xml")})
    # escaped once more than rss() does: the feed's title is the text "<script>…",
    # as a feed that means it literally sends it (a raw tag would be stripped by the parser)
    hostile = [{"title": html.escape(HOSTILE_TITLE, quote=False), "link": web.url("/h/1"),
                "description": "Guards of Sednaya prison were questioned about torture."}]
    web.add("/feed/hostile.xml", rss("Hostile <b>feed</b>", hostile),
            content_type="application/rss+xml")
    feeds.append({"name": "Hostile <b>feed</b>", "url": web.url("/feed/hostile.xml")})
    feeds.append({"name": "Dead feed", "url": web.url("/feed/gone.xml")})   # 404
    return feeds


def _rfc2822(iso: str | None) -> str:
    when = datetime.fromisoformat(iso) if iso else datetime(2024, 12, 8)
    return formatdate(when.timestamp(), usegmt=True)


def replay_settings(folder: Path, feeds: list[dict], env: dict[str, str]) -> Settings:
    """config/watch.yaml's rules, with these feeds and settings fit for a test."""
    doc = yaml.safe_load((ROOT / "config" / "watch.yaml").read_text(encoding="utf-8"))
    doc.pop("web", None)
    doc.update(feeds=feeds, seeds_dir=str(ROOT / "seeds"), extract={"workers": 1},
               network={"allow_private_addresses": True, "deadline": 10,
                        "connect_timeout": 2, "read_timeout": 5, "poll_adaptive": False})
    path = folder / "watch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_settings(path, env=env)


def replay_room(folder: Path, web: NewsWeb) -> Room:
    env = {"DATABASE_URL": f"sqlite:///{folder / 'newswatch.db'}",
           "NEWSWATCH_OUTPUT_DIR": str(folder / "output")}
    settings = replay_settings(folder, serve_replay(web), env)
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    try:
        run_cycle(pipeline)
    finally:
        pipeline.close()
    room = ReadingRoom(lambda: settings, store, WebConfig(port=0)).start()
    return Room(url=f"http://127.0.0.1:{room.port}", settings=settings, store=store, room=room)
