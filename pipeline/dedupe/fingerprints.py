"""Text fingerprints for near-duplicate detection.

A fingerprint is a *bottom-k sketch* of the text's word shingles: the text is
normalised as the rules see it (``pipeline.textnorm.normalise``: compatibility
forms, case, accents and Arabic diacritics, letter variants and invisible joiners
folded), cut into ``\\w+`` tokens (punctuation dropped), every run of
``cfg.shingle_size`` tokens is hashed to 32 bits, and the ``cfg.sketch_size``
smallest distinct hashes are kept, sorted. Texts with fewer shingles than
that are kept whole, so short articles are compared exactly.

Why bottom-k and not k-permutation MinHash: two sketches taken below the same
hash bound are uniform samples of the *same* slice of the shingle space, so
besides resemblance (Jaccard) they estimate containment in either direction
(a copy cut to a third of the original, or embedded in a page three times its
size). k-permutation MinHash only estimates Jaccard, so such copies need a
low Jaccard threshold close to unrelated texts. Measured on the same labelled
set (``bench/dedupe_eval.py --compare``): at precision >= 0.99 both reach
recall 0.998-0.999, but MinHash only at J >= 0.3, 0.08 above the nearest
non-copy (bottom-k keeps 0.18 of margin), and datasketch's containment
ensemble never beats bottom-k. The smallest ``cfg.lsh_keys`` hashes double as
the LSH keys of the index (one-value bands).

Hashing is numpy-vectorised: one CRC-32 per token (stable across processes,
unlike ``hash()``), then shingle hashes by a polynomial over the token hashes
and a 64-bit mixer. About 0.3 ms for a 1,000-word article.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from pipeline import textnorm
from pipeline.config import DedupeConfig

# 2: normalised by pipeline.textnorm (version 1 had a normaliser of its own, which
# folded fewer variants); a sketch of another version is not comparable with these
_FORMAT_VERSION = 2
_HEADER = struct.Struct("<BII")      # version, words, distinct shingles
# Words are \w+ runs, except in scripts written without spaces (Chinese,
# Japanese kana): there each character is a token, or a whole clause would be one "word".
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff"
_WORD = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")
_NO_BOUND = 1 << 32                  # "every shingle kept": above any 32-bit hash

# Odd 64-bit multipliers for the shingle polynomial and the mixer (splitmix64).
_POLY = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                  0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53,
                  0x94D049BB133111EB, 0xBF58476D1CE4E5B9], dtype=np.uint64)


def normalise(text: str) -> str:
    """The text as shingles see it: one space between normalised word tokens."""
    return " ".join(_WORD.findall(textnorm.normalise(text)))


def words(text: str) -> list[str]:
    return _WORD.findall(textnorm.normalise(text))


def body_words(text: str, shingle_size: int) -> list[str]:
    """The words of the text without its lines shorter than a shingle.

    Such lines are page furniture ("Read more:", "Advertisement", captions,
    buttons); dropped, they no longer break the shingles of the text around
    them, which otherwise costs a short article a third of its shingles. If
    every line is short (one word per line), the text is taken whole.
    """
    norm = textnorm.normalise(text)     # once for the whole text: it keeps line breaks
    kept: list[str] = []
    for line in norm.splitlines():
        line_words = _WORD.findall(line)
        if len(line_words) >= shingle_size:
            kept += line_words
    return kept if kept else _WORD.findall(norm)


@dataclass(frozen=True, slots=True)      # slots: 300 bytes less per stored item
class Fingerprint:
    """Bottom-k sketch of a text's shingles; compact, hashable and picklable.

    ``sketch`` holds sorted distinct uint32 shingle hashes (little-endian); when
    the text had more distinct shingles than the sketch holds, only hashes below
    ``bound`` were kept and comparisons restrict the other side to that bound.
    """

    words: int
    shingles: int            # distinct shingles of the whole text
    sketch: bytes

    @property
    def hashes(self) -> np.ndarray:
        return np.frombuffer(self.sketch, dtype="<u4")

    @property
    def bound(self) -> int:
        """Exclusive upper bound of the hashes kept (all of them: 2**32)."""
        n = len(self.sketch) // 4
        if n >= self.shingles or n == 0:
            return _NO_BOUND
        return int(self.hashes[-1]) + 1

    def to_bytes(self) -> bytes:
        return _HEADER.pack(_FORMAT_VERSION, self.words, self.shingles) + self.sketch

    @classmethod
    def from_bytes(cls, b: bytes) -> "Fingerprint | None":
        """The fingerprint these bytes hold; None when they hold none of this
        version (an older format, or corrupt): the caller skips it and says so."""
        if len(b) < _HEADER.size or (len(b) - _HEADER.size) % 4:
            return None
        version, n_words, n_shingles = _HEADER.unpack_from(b)
        sketch = bytes(b[_HEADER.size:])
        if version != _FORMAT_VERSION or len(sketch) // 4 > n_shingles:
            return None
        hashes = np.frombuffer(sketch, dtype="<u4")
        if hashes.size > 1 and not bool((hashes[1:] > hashes[:-1]).all()):
            return None       # not sorted and distinct: not a sketch
        return cls(words=n_words, shingles=n_shingles, sketch=sketch)


def shingle_hashes(tokens: list[str], size: int) -> np.ndarray:
    """Sorted distinct 32-bit hashes of every run of ``size`` tokens."""
    if len(tokens) < size:
        return np.empty(0, dtype=np.uint32)
    tok = np.fromiter((zlib.crc32(t.encode("utf-8")) for t in tokens),
                      dtype=np.uint64, count=len(tokens))
    n = len(tokens) - size + 1
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):      # arithmetic modulo 2**64 is the point
        for j in range(size):
            acc += tok[j:j + n] * _POLY[j % len(_POLY)]
        acc = _mix64(acc)
    return np.unique((acc >> np.uint64(32)).astype(np.uint32))


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the polynomial's bits over the high half."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def fingerprint(text: str, cfg: DedupeConfig) -> Fingerprint | None:
    """The text's fingerprint, or None when it is shorter than ``cfg.min_words``
    words (too short to tell a copy from a shared sentence: judge those by URL)."""
    tokens = body_words(text or "", cfg.shingle_size)
    if len(tokens) < max(cfg.min_words, cfg.shingle_size):
        return None
    hashes = shingle_hashes(tokens, cfg.shingle_size)
    kept = hashes[:cfg.sketch_size]
    return Fingerprint(words=len(tokens), shingles=int(hashes.size),
                       sketch=kept.astype("<u4").tobytes())


@dataclass(frozen=True)
class Overlap:
    """How two texts overlap, estimated on the common slice of both sketches."""

    resemblance: float       # Jaccard of the shingle sets
    new_in_old: float        # share of the first (new) text found in the second
    old_in_new: float        # share of the second text found in the first


def overlap(new: Fingerprint, old: Fingerprint) -> Overlap:
    a, b = new.hashes, old.hashes
    bound = min(new.bound, old.bound)
    if bound < _NO_BOUND:
        # both sides restricted to the same hash range: uniform samples of one slice
        a = a[:np.searchsorted(a, bound)]
        b = b[:np.searchsorted(b, bound)]
    if a.size == 0 or b.size == 0:
        return Overlap(0.0, 0.0, 0.0)
    common = np.intersect1d(a, b, assume_unique=True).size
    return Overlap(resemblance=common / (a.size + b.size - common),
                   new_in_old=common / a.size, old_in_new=common / b.size)


class KeyIndex:
    """uint32 key -> item numbers, as sorted numpy arrays plus the additions
    since the last merge (merged in when they grow by half). About 12
    bytes a posting, against ~100 for a dict of lists; lookups are binary
    searches. Additions are kept as arrays until a lookup needs them, so
    loading a whole archive costs a few sorts, not a dict entry per key."""

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.uint32)
        self._items = np.empty(0, dtype=np.int32)
        self._recent: dict[int, list[int]] = {}   # additions a lookup has seen
        self._pending: list[tuple[np.ndarray, int]] = []   # additions not looked at yet
        self._unmerged = 0

    def add(self, keys: np.ndarray, item: int) -> None:
        self._pending.append((keys, item))
        self._unmerged += len(keys)
        if self._unmerged > max(4096, self._keys.size // 2):
            self._merge()

    def compact(self) -> None:
        """Merge every addition into the sorted arrays (after a bulk load)."""
        if self._pending or self._recent:
            self._merge()

    def _settle(self) -> None:
        if sum(len(k) for k, _ in self._pending) > 4096:
            self._merge()        # a bulk load: one sort beats a dict entry per key
            return
        for keys, item in self._pending:
            for k in keys.tolist():
                self._recent.setdefault(k, []).append(item)
        self._pending = []

    def _merge(self) -> None:
        keys, items = [self._keys], [self._items]
        if self._recent:
            pairs = [(k, i) for k, v in self._recent.items() for i in v]
            keys.append(np.fromiter((k for k, _ in pairs), dtype=np.uint32, count=len(pairs)))
            items.append(np.fromiter((i for _, i in pairs), dtype=np.int32, count=len(pairs)))
        if self._pending:
            keys.append(np.concatenate([k for k, _ in self._pending]).astype(np.uint32))
            items.append(np.concatenate([np.full(len(k), i, dtype=np.int32)
                                         for k, i in self._pending]))
        all_keys, all_items = np.concatenate(keys), np.concatenate(items)
        # lexsort: by key, then item number, so each key's postings run oldest first
        order = np.lexsort((all_items, all_keys))
        self._keys, self._items = all_keys[order], all_items[order]
        self._recent, self._pending, self._unmerged = {}, [], 0

    def lookup(self, keys: np.ndarray, per_key: int) -> Counter[int]:
        """How many of ``keys`` each item shares, reading at most ``per_key``
        (oldest) postings per key: a boilerplate shingle in thousands of texts
        costs no more than a rare one, and the oldest copy is the one to name."""
        self._settle()
        left = np.searchsorted(self._keys, keys, side="left")
        right = np.minimum(np.searchsorted(self._keys, keys, side="right"), left + per_key)
        runs = [self._items[lo:hi] for lo, hi in zip(left.tolist(), right.tolist()) if hi > lo]
        if self._recent:     # postings not merged yet come after the merged ones
            for k, room in zip(keys.tolist(), (per_key - (right - left)).tolist()):
                if room > 0 and k in self._recent:
                    runs.append(np.asarray(self._recent[k][:room], dtype=np.int32))
        hits: Counter[int] = Counter()
        if runs:
            items, counts = np.unique(np.concatenate(runs), return_counts=True)
            hits.update(dict(zip(items.tolist(), counts.tolist())))
        return hits
