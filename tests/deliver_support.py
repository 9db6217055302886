"""What the delivery tests share: the receivers as fixtures, settings with a
delivery section, stored items to announce (see test_deliver*.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import TEST_ALERTS, write_config
from receivers import SMTPReceiver, WebhookReceiver

import storage
from pipeline.config import load_settings
from pipeline.records import (Article, FeedEntry, FeedState, ItemOutcome, RuleMatch,
                              TermHit)

FOUND = datetime(2024, 12, 9, 6, 0, tzinfo=timezone.utc)     # the items were found then
AFTER_CYCLE = FOUND + timedelta(minutes=1)
DIGEST_TIME = datetime(2024, 12, 9, 7, 0, tzinfo=timezone.utc)
DAY = DIGEST_TIME.date()
HOUR = timedelta(hours=1)
HOSTILE = '<script>alert(1)</script><img src="http://evil.example/t.gif"> Sednaya [x](javascript:1)'
ARABIC_TITLE = "الإفراج عن معتقلين من سجن صيدنايا"
SECRET = "s3cr3t-p@ss/w:rd"


# --- fixtures ------------------------------------------------------------------

@pytest.fixture
def smtp():
    server = SMTPReceiver()
    yield server
    server.stop()


@pytest.fixture
def hooks():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def settings_for(tmp_path: Path, env: dict, delivery: dict | None = None, *,
                 alerts: list | None = None, **extra):
    cfg = write_config(tmp_path, [{"name": "wire", "url": "http://127.0.0.1:9/feed"}],
                       delivery=delivery or {}, alerts=alerts or TEST_ALERTS,
                       digest_time="07:00", **extra)
    return load_settings(cfg, env=env)


def _hit(text: str, word: str, field: str = "text") -> TermHit:
    start = text.index(word)
    return TermHit(word, field, start, start + len(word), word)


def _outcome(link: str, title: str, text: str, *, status: str = "new", rules=(),
             source: str = "Wire", found: datetime = FOUND, **kw) -> ItemOutcome:
    entry = FeedEntry(feed_name=source, feed_url="http://127.0.0.1:9/feed", link=link,
                      title=title, summary="", published=found - timedelta(hours=1))
    return ItemOutcome(entry=entry, canonical_url=link, status=status, fetched_at=found,
                       title=title, article=Article(url=link, title=title, text=text),
                       alerts=list(rules), **kw)


def fill(store: storage.Store, *, extra_alerts: int = 0, found: datetime = FOUND) -> None:
    """A day: two Sednaya alerts (one Arabic, one with a hostile title), an
    item without alert whose link is javascript:, a copy and an off-topic item;
    ``extra_alerts`` more Torture alerts for floods."""
    en = "Families waited outside Sednaya prison as detainees were freed on Sunday morning."
    ar = "تجمعت العائلات أمام سجن صيدنايا بعد الإفراج عن المعتقلين صباح الأحد."
    outcomes = [
        _outcome("https://news.example/sednaya", HOSTILE, en, found=found,
                 rules=[RuleMatch("Sednaya", (_hit(en, "Sednaya"),))]),
        _outcome("https://arabic.example/saydnaya", ARABIC_TITLE, ar, source="بي بي سي عربي",
                 found=found, rules=[RuleMatch("Sednaya", (_hit(ar, "صيدنايا"),))]),
        _outcome("javascript:alert(1)", "Syria prison files opened", "Prison records " * 20,
                 found=found),
        _outcome("https://copy.example/1", "Copy", "x", status="duplicate", found=found,
                 duplicate_of="https://news.example/sednaya"),
        _outcome("https://off.example/1", "Football", "", status="off_topic", found=found),
    ]
    for i in range(extra_alerts):
        text = f"Report {i}: former detainees describe torture in the prison's cells."
        outcomes.append(_outcome(f"https://flood.example/{i}", f"Torture testimony {i}", text,
                                 found=found, rules=[RuleMatch("Torture",
                                                               (_hit(text, "torture"),))]))
    storage.save_feed_batch(store, FeedState(url="http://127.0.0.1:9/feed", name="wire"),
                            outcomes)


@pytest.fixture
def store(env):
    s = storage.open_store(env["DATABASE_URL"])
    yield s
    s.close()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[tuple[str, str]] = []     # (data, dir of the innermost element)
        self._dirs: list[str] = []
        self._hidden = 0                          # inside <style> or <title>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._hidden += tag in ("style", "title")
        if tag not in ("meta", "br", "img", "link", "input"):
            self._dirs.append(attrs.get("dir") or (self._dirs[-1] if self._dirs else ""))

    def handle_endtag(self, tag):
        self._hidden -= tag in ("style", "title")
        if self._dirs and tag not in ("meta", "br", "img", "link", "input"):
            self._dirs.pop()

    def handle_data(self, data):
        if data.strip() and not self._hidden:
            self.text.append((data, self._dirs[-1] if self._dirs else ""))


def parse_html(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


