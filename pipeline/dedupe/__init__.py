"""The dedupe stage: is this text a copy of a seed report or of something stored, and
which story does it belong to.

``fingerprints`` (bottom-k shingle sketches), ``index`` (canonical URLs, seeds, the
near-duplicate index), ``stories`` (reports of the same event grouped). May import
``pipeline.config``, ``records``, ``textnorm``; never another stage.
"""

from pipeline.dedupe.fingerprints import Fingerprint, fingerprint, overlap
from pipeline.dedupe.index import (DuplicateIndex, DuplicateMatch, SeedReport, canonical_url,
                                   check_seeds, load_seeds)
from pipeline.dedupe.stories import StoryIndex

__all__ = ["DuplicateIndex", "DuplicateMatch", "Fingerprint", "SeedReport", "StoryIndex",
           "canonical_url", "check_seeds", "fingerprint", "load_seeds", "overlap"]
