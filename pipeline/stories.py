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
the other. Without a publication time an item is placed at the time it is added.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pipeline.config import DedupeConfig
from pipeline.fingerprints import Fingerprint, overlap, words

_STOP = frozenset("""the and for with from that this after over into about amid says said will
would could has have had are was were its their his her they them than then who what when
where why how new news live latest update updates video watch more not but our your you all
out off via per les des une pour dans sur avec من في على إلى الى عن مع بعد هذا التي الذي""".split())
_STEM = 6      # crude stemming for titles: "prisoners", "prison" -> "prison"


def title_words(title: str) -> frozenset[str]:
    """Content words of a title, cut to a common stem."""
    return frozenset(w[:_STEM] for w in words(title or "")
                     if len(w) >= 3 and w not in _STOP and not w.isdigit())


@dataclass(order=True)
class _Item:
    when: datetime
    seq: int
    key: str = field(compare=False)
    story: str = field(compare=False)
    title: frozenset[str] = field(compare=False)
    fp: Fingerprint | None = field(compare=False)


class StoryIndex:
    """New items by publication time, for finding the story a new item joins."""

    def __init__(self, cfg: DedupeConfig):
        self.cfg = cfg
        self._items: list[_Item] = []            # sorted by (when, seq)
        self._title_df: dict[str, int] = {}      # titles containing each word

    def __len__(self) -> int:
        return len(self._items)

    def add(self, key: str, title: str, fp: Fingerprint | None,
            published: datetime | None) -> None:
        when = _utc(published)
        story = self.find_story(title, fp, when) or key
        item = _Item(when, len(self._items), key, story, title_words(title), fp)
        bisect.insort(self._items, item)
        for w in item.title:
            self._title_df[w] = self._title_df.get(w, 0) + 1

    def find_story(self, title: str, fp: Fingerprint | None,
                   published: datetime | None) -> str | None:
        """Key of the first item of the story this one belongs to, or None."""
        when = _utc(published)
        window = timedelta(hours=self.cfg.story_window_hours)
        lo = bisect.bisect_left(self._items, _Item(when - window, -1, "", "", frozenset(), None))
        hi = bisect.bisect_right(self._items,
                                 _Item(when + window, len(self._items) + 1, "", "",
                                       frozenset(), None))
        words_ = title_words(title)
        best: tuple[float, int, str] | None = None
        for item in self._items[lo:hi]:
            score = self._similarity(words_, fp, item)
            if score is not None and (best is None or (score, -item.seq) > best[:2]):
                best = (score, -item.seq, item.story)
        return best[2] if best else None

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
        n = len(self._items) + 1
        weight = {w: math.log((n + 1) / (self._title_df.get(w, 0) + 1)) + 0.1 for w in a | b}
        smaller = min(sum(weight[w] for w in a), sum(weight[w] for w in b))
        return sum(weight[w] for w in shared) / smaller if smaller else 0.0


def _utc(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
