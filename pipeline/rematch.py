"""``rematch``: judge again, under the current topic, alert and people rules, every
item seen in a window, kept or off topic.

* An off-topic item is judged on what the retention store kept of it
  (pipeline/history.py): its text, or its page, extracted now. One whose text is
  no longer kept (older than ``history.keep``) is judged on its title and summary.
* One the rules now keep is *promoted*: it becomes a new item found now, so it is in
  the next digest, marked "found by rematch" with the time it was first seen. A
  near-copy of a kept item becomes a duplicate of it, as in a cycle.
* A kept item gets exactly the alerts its rules raise now. Nothing is withdrawn
  silently: removed alerts are listed in the report, and a kept item the topic no
  longer matches stays kept, listed too.

Running it twice changes nothing the second time. It reads and writes in batches
of :data:`BATCH` items, so memory stays flat whatever the window, and a stop
request ends it between two batches (what was written stays written).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import storage
from pipeline import dedupe, history, match
from pipeline.archive import Archive
from pipeline.config import Settings
from pipeline.errors import ExtractError
from pipeline.extract import extract_article
from pipeline.records import Promotion, Retained, RuleMatch, StoredItem
from pipeline.redact import redact_url

log = logging.getLogger("newswatch.rematch")

BATCH = 500
Progress = Callable[[int], None]      # called with the number of items just judged


@dataclass
class RematchReport:
    since: datetime
    checked: int = 0
    promoted: list[tuple[str, str]] = field(default_factory=list)     # (title, url)
    alerts_added: list[tuple[str, str]] = field(default_factory=list)  # (rule, url)
    alerts_removed: list[tuple[str, str, str]] = field(default_factory=list)  # rule,title,url
    off_topic_now: list[tuple[str, str]] = field(default_factory=list)  # kept, kept anyway
    without_text: int = 0           # off topic, judged on title and summary only
    stopped: bool = False

    def lines(self) -> list[str]:
        out = [f"rematch: {self.checked} items since {self.since:%Y-%m-%d %H:%M} UTC; "
               f"{len(self.promoted)} promoted into the next digest, "
               f"{len(self.alerts_added)} alerts added, {len(self.alerts_removed)} removed"
               + (f"; {self.without_text} off-topic items judged without their text "
                  "(older than history.keep)" if self.without_text else "")
               + ("; stopped before the end" if self.stopped else "")]
        out += [f"  found by rematch: {title} <{url}>" for title, url in self.promoted]
        out += [f"  alert removed: {rule} from {title} <{url}>"
                for rule, title, url in self.alerts_removed]
        out += [f"  no longer on topic (kept): {title} <{url}>"
                for title, url in self.off_topic_now]
        return out


def rematch(settings: Settings, store: storage.Store, since: timedelta, *,
            now: datetime | None = None, progress: Progress | None = None,
            stop: threading.Event | None = None,
            total: Callable[[int], None] | None = None) -> RematchReport:
    """Judge again every item found in [now - since, now]; see the module's docstring."""
    now = now or datetime.now(timezone.utc)
    start, end = now - since, now + timedelta(seconds=1)
    if total is not None:
        total(storage.count_to_rematch(store, start, end))
    judge = _Judge(settings, store, now)
    report, last_id = RematchReport(since=start), 0
    while not (stop is not None and stop.is_set()):
        batch = storage.items_to_rematch(store, start, end, last_id, BATCH)
        if not batch:
            return report
        judge.batch(batch, report)
        last_id = batch[-1][0].id
        if progress is not None:
            progress(len(batch))
    report.stopped = True
    return report


class _Judge:
    def __init__(self, settings: Settings, store: storage.Store, now: datetime):
        self.cfg, self.store, self.now = settings, store, now
        self.archive = Archive(settings, store)     # loaded only when a promotion needs it
        self.max_hits = settings.limits.max_matches_per_rule

    def batch(self, batch: list[tuple[StoredItem, Retained | None]],
              report: RematchReport) -> None:
        changes: dict[int, list[RuleMatch]] = {}
        promotions: list[Promotion] = []
        for item, retained in batch:
            report.checked += 1
            if item.status == "off_topic":
                promoted = self.off_topic(item, retained, report)
                if promoted is not None:
                    promotions.append(promoted)
                    report.promoted.append((item.title, item.url))
            else:
                self.kept(item, changes, report)
        storage.set_alerts(self.store, changes)
        storage.promote(self.store, promotions, self.now)

    def kept(self, item: StoredItem, changes: dict[int, list[RuleMatch]],
             report: RematchReport) -> None:
        topic, alerts = match.judge(self.cfg.topic, self.cfg.alerts, item.title, item.summary,
                                    item.text, max_hits=self.max_hits)
        if topic is None:
            report.off_topic_now.append((item.title, item.url))
            alerts = match.match_alerts(self.cfg.alerts, item.title, item.summary, item.text)
        if _same(item.alerts, alerts):
            return
        changes[item.id] = alerts
        old, new = {m.rule for m in item.alerts}, {m.rule for m in alerts}
        report.alerts_added += [(rule, item.url) for rule in sorted(new - old)]
        report.alerts_removed += [(rule, item.title, item.url) for rule in sorted(old - new)]

    def off_topic(self, item: StoredItem, retained: Retained | None,
                  report: RematchReport) -> Promotion | None:
        text = self.text_of(item, retained)
        if retained is None:
            report.without_text += 1
        topic, alerts = match.judge(self.cfg.topic, self.cfg.alerts, item.title, item.summary,
                                    text, max_hits=self.max_hits)
        if topic is None:
            return None
        report.alerts_added += [(m.rule, item.url) for m in alerts]
        return self.promotion(item, text, alerts)

    def text_of(self, item: StoredItem, retained: Retained | None) -> str:
        if retained is None:
            return ""
        try:
            kept = history.restore(retained)
        except ValueError as exc:      # judged on title and summary, like an old item
            log.warning("%s (item %s)", exc, redact_url(item.url))
            return ""
        if retained.kind == "text":
            return kept.decode("utf-8")
        try:          # a page the pre-filter ruled out: extracted only now
            return extract_article(kept, item.url, self.cfg.extract).text
        except ExtractError:
            return ""

    def promotion(self, item: StoredItem, text: str, alerts: list[RuleMatch]) -> Promotion:
        """What a cycle would have stored had these rules been in force: a copy of a
        kept item is its duplicate; anything else a new item in its story."""
        fp = dedupe.fingerprint(text, self.cfg.dedupe)
        copy = self.archive.duplicates.find_duplicate(fp) if fp is not None else None
        if copy is not None:
            return Promotion(item.id, "duplicate", text, None, copy.key, None, [])
        published = item.published or item.fetched_at
        story = self.archive.stories.find_story(item.title, fp, published)
        self.archive.stories.add(item.url, item.title, fp, published, story=story or item.url)
        if fp is not None:
            self.archive.duplicates.add(item.url, fp)
        return Promotion(item.id, "new", text, fp.to_bytes() if fp else None, None, story,
                         alerts)


def _same(old: tuple[RuleMatch, ...], new: list[RuleMatch]) -> bool:
    return sorted((m.rule, m.hits) for m in old) == sorted((m.rule, m.hits) for m in new)


def run_command(settings: Settings, store: storage.Store, since: timedelta) -> int:
    """``newswatch rematch``: the report on stdout, a progress bar on a terminal."""
    import sys

    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit=" items", desc="rematch", file=sys.stderr, leave=False)

    def total(n: int) -> None:
        if bar is not None:
            bar.total = n
            bar.refresh()

    try:
        report = rematch(settings, store, since, progress=bar.update if bar else None,
                         total=total)
    finally:
        if bar is not None:
            bar.close()
    for line in report.lines():
        print(line)
    return 0


class InBackground:
    """The service's rematch after a config edit changed the rules: in a thread of
    its own, so cycles go on meanwhile (both write in short transactions). An edit
    arriving during a run is rematched after it, with the newest settings."""

    def __init__(self, store: storage.Store, stop: threading.Event,
                 log: Callable[[str], None]):
        self.store, self.stop, self.log = store, stop, log
        self.wanted: Settings | None = None
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.promoted = threading.Event()   # the service's duplicate index must reload
        self.finished = threading.Event()   # set after each run (tests wait for it)

    def request(self, settings: Settings) -> None:
        if settings.history.rematch_on_edit.total_seconds() <= 0:
            return
        with self.lock:
            self.wanted = settings
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="rematch", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                settings, self.wanted = self.wanted, None
                if settings is None:
                    self.thread = None
                    return
            try:
                report = rematch(settings, self.store, settings.history.rematch_on_edit,
                                 stop=self.stop)
            except Exception as exc:  # noqa: BLE001  a failed rematch must not stop the service
                self.log(f"rematch: failed after the config edit: {exc!r}; run "
                         "`newswatch rematch` by hand")
            else:
                if report.promoted:
                    self.promoted.set()
                for line in report.lines():
                    self.log(line)
            self.finished.set()

    def join(self, timeout: float) -> None:
        thread = self.thread
        if thread is not None:
            thread.join(timeout)
