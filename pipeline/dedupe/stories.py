"""Grouping of new items that report the same event (not copies of each other).

Two items belong to one story when they were published within
``cfg.story_window_hours`` of each other and either

* their titles share at least two content words and the shared words weigh at
  least ``cfg.story_similarity`` of the shorter title, each word weighted by
  its rarity among the titles seen (so "Syria", in every title of a Syria
  watch, counts for little and "Sednaya" for much), or
* their texts share at least ``cfg.story_text_overlap`` of their shingles
  (the same quotes or wire paragraphs; copies never get here, dedupe caught
  them first).

A wrong grouping costs little: both items are still shown as new, one under
the other. Without a publication time an item is placed at the time it is added;
so is an item whose time is before 1990 or more than a day ahead of the clock: the
index forgets what is a window behind its newest item, so one item dated 9999
would end grouping for good (and one dated year 1 overflows the arithmetic).
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pipeline.config import DedupeConfig
from pipeline.dedupe.fingerprints import Fingerprint, KeyIndex, overlap, words

_STOP_WORDS = """the and for with from that this after over into about amid says said will
would could has have had are was were its their his her they them than then who what when
where why how new news live latest update updates video watch more not but our your you all
out off via per les des une pour dans sur avec من في على إلى الى عن مع بعد هذا التي الذي"""
_STOP = frozenset(words(_STOP_WORDS))    # normalised as titles are ("على" is "علي" there)
_STEM = 6      # crude stemming for titles: "prisoners", "prison" -> "prison"
_STORY_KEYS = 128   # of a sketch's smallest hashes, how many index it for stories


def title_words(title: str) -> frozenset[str]:
    """Content words of a title, cut to a common stem."""
    return frozenset(w[:_STEM] for w in words(title or "")
                     if len(w) >= 3 and w not in _STOP and not w.isdigit())


@dataclass
class _Item:
    when: datetime
    seq: int
    key: str
    story: str
    title: frozenset[str]
    fp: Fingerprint | None


class StoryIndex:
    """Recent new items, for finding the story a new item joins.

    Candidates come from inverted indexes (title words, sketch hashes), never
    from a scan, so a decision costs the same with 100 or 100,000 items stored;
    items older than the window behind the newest one are dropped, so memory is
    bounded by a few days of news, not by the archive.
    """

    _PER_POSTING = 200    # most recent postings read per word or hash

    def __init__(self, cfg: DedupeConfig):
        self.cfg = cfg
        self._window = timedelta(hours=cfg.story_window_hours)
        self._live: dict[int, _Item] = {}
        self._by_time: list[tuple[datetime, int]] = []        # heap: oldest first
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._by_hash = KeyIndex()                 # sketch hash -> items (compact)
        self._dead = 0                             # forgotten items still in postings
        self._title_df: dict[str, int] = {}      # titles ever seen containing each word
        self._titles_seen = 0
        self._newest: datetime | None = None
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def add(self, key: str, title: str, fp: Fingerprint | None,
            published: datetime | None, story: str | None = None) -> None:
        """Remember a new item; ``story`` is its stored story when loading the
        archive at start-up (found here otherwise)."""
        when = _utc(published)
        story = story or self.find_story(title, fp, when) or key
        item = _Item(when, self._seq, key, story, title_words(title), fp)
        self._seq += 1
        self._titles_seen += 1
        for w in item.title:
            self._title_df[w] = self._title_df.get(w, 0) + 1
        if self._newest is not None and when < self._newest - self._window:
            return      # too old to join any story still open
        self._live[item.seq] = item
        heapq.heappush(self._by_time, (when, item.seq))
        self._post(item)
        self._newest = max(self._newest or when, when)
        self._forget_old()

    def find_story(self, title: str, fp: Fingerprint | None,
                   published: datetime | None) -> str | None:
        """Key of the first item of the story this one belongs to, or None."""
        when = _utc(published)
        words_ = title_words(title)
        best: tuple[float, int, str] | None = None
        for item, texts_meet in self._candidates(words_, fp):
            if abs(item.when - when) > self._window:
                continue
            score = self._similarity(words_, fp if texts_meet else None, item)
            if score is not None and (best is None or (score, -item.seq) > best[:2]):
                best = (score, -item.seq, item.story)
        return best[2] if best else None

    def _candidates(self, words_: frozenset[str], fp: Fingerprint | None
                    ) -> list[tuple[_Item, bool]]:
        """Items sharing a title word or sketch hashes, each with whether their
        texts share enough hashes to be worth comparing."""
        by_text = (self._by_hash.lookup(fp.hashes[:_STORY_KEYS], self._PER_POSTING)
                   if fp is not None else {})
        seqs = set(by_text)
        for w in words_:
            seqs.update(self._by_word.get(w, ())[-self._PER_POSTING:])
        return [(self._live[s], by_text.get(s, 0) >= 2) for s in seqs if s in self._live]

    def _forget_old(self) -> None:
        horizon = self._newest - self._window
        dropped = 0
        while self._by_time and self._by_time[0][0] < horizon:
            _, seq = heapq.heappop(self._by_time)
            self._live.pop(seq, None)
            dropped += 1
        self._dead += dropped
        if self._dead > max(64, len(self._live)):
            self._rebuild_postings()

    def _rebuild_postings(self) -> None:
        """Drop postings of forgotten items once they outnumber the live ones."""
        self._by_word = defaultdict(list)
        self._by_hash = KeyIndex()
        self._dead = 0
        for seq in sorted(self._live):
            self._post(self._live[seq])

    def _post(self, item: _Item) -> None:
        """Index a live item by its title words and its smallest sketch hashes."""
        for w in item.title:
            self._by_word[w].append(item.seq)
        if item.fp is not None:
            self._by_hash.add(item.fp.hashes[:_STORY_KEYS], item.seq)

    def _similarity(self, words_: frozenset[str], fp: Fingerprint | None,
                    item: _Item) -> float | None:
        """A score when the two items are one story, else None."""
        title = self._title_score(words_, item.title)
        if title >= self.cfg.story_similarity:
            return title
        if fp is not None and item.fp is not None:
            ov = overlap(fp, item.fp)
            shared = max(ov.new_in_old, ov.old_in_new)
            if shared >= self.cfg.story_text_overlap:
                return shared
        return None

    def _title_score(self, a: frozenset[str], b: frozenset[str]) -> float:
        shared = a & b
        if len(shared) < 2:
            return 0.0
        n = self._titles_seen + 1
        weight = {w: math.log((n + 1) / (self._title_df.get(w, 0) + 1)) + 0.1 for w in a | b}
        smaller = min(sum(weight[w] for w in a), sum(weight[w] for w in b))
        return sum(weight[w] for w in shared) / smaller if smaller else 0.0


_EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)


def _utc(when: datetime | None) -> datetime:
    """Where an item is placed in time: its publication time, if it is one."""
    now = datetime.now(timezone.utc)
    if when is None:
        return now
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when if _EARLIEST <= when <= now + timedelta(days=1) else now
