"""What the pipeline remembers of everything before: the seed reports and every
stored item, in the duplicate and story indexes the cycle's ``decide`` consults.
Part of the recipe (it loads dedupe's indexes from storage); used by ``cycle.py``."""

from __future__ import annotations

import logging

import storage
from pipeline import dedupe
from pipeline.config import Settings

log = logging.getLogger("newswatch.cycle")


class Archive:
    """What the pipeline remembers of everything before: the seeds and every
    stored item in the duplicate and story indexes. Loaded at the first
    decision, not at start-up, so a quiet cycle (nothing new) never pays for
    it however large the archive has grown."""

    def __init__(self, settings: Settings, store: storage.Store):
        self.cfg, self.seeds_dir, self.store = settings.dedupe, settings.seeds_dir, store
        self._indexes: tuple[dedupe.DuplicateIndex, dedupe.StoryIndex] | None = None
        self.seed_texts: dict[str, str] = {}
        self._updates: dict[str, list[str]] = {}   # original -> updates decided, not yet read back

    @property
    def duplicates(self) -> dedupe.DuplicateIndex:
        return self.load()[0]

    @property
    def stories(self) -> dedupe.StoryIndex:
        return self.load()[1]

    def load(self) -> tuple[dedupe.DuplicateIndex, dedupe.StoryIndex]:
        if self._indexes is None:
            duplicates, stories = dedupe.DuplicateIndex(self.cfg), dedupe.StoryIndex(self.cfg)
            for seed in dedupe.load_seeds(self.seeds_dir):
                self.seed_texts[seed.name] = seed.text
                fp = dedupe.fingerprint(seed.text, self.cfg)
                if fp is not None:
                    duplicates.add(seed.name, fp)
            unreadable = 0       # fingerprints of an older format (or corrupt)
            for url, fp_bytes, title, published, story in storage.fingerprints(self.store):
                fp = dedupe.Fingerprint.from_bytes(fp_bytes) if fp_bytes else None
                unreadable += bool(fp_bytes) and fp is None
                if fp is not None:
                    duplicates.add(url, fp)
                stories.add(url, title, fp, published, story=story or url)
            if unreadable:
                log.warning("dedupe: %d stored fingerprints are of an older format or "
                            "unreadable; those items are compared by URL and title only",
                            unreadable)
            duplicates.compact()
            self._indexes = (duplicates, stories)
        return self._indexes

    def original_texts(self, key: str) -> list[str]:
        """What a near-copy of ``key`` is compared with: the original (a seed or a stored
        item) and the updates of it already decided, so a copy of an update is a copy."""
        seed = [self.seed_texts[key]] if key in self.seed_texts else []
        return seed + storage.original_texts(self.store, key) + self._updates.get(key, [])

    def remember_update(self, key: str, text: str) -> None:
        self._updates.setdefault(key, []).append(text)
