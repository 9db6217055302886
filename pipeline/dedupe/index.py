"""The dedupe stage: is this item a copy of a seed or of a stored item?

Two tests, cheapest first. The orchestrator compares ``canonical_url``\\ s (same
page under tracking parameters, AMP or mobile addresses). Then the text: the
item's :class:`Fingerprint` (a bottom-k sketch of its word shingles, see
``pipeline/fingerprints.py``) is looked up in a :class:`DuplicateIndex`, whose
keys are the smallest shingle hashes of every stored text; candidates that
share keys are verified by the overlap of the two sketches.

What counts as a copy (thresholds in ``DedupeConfig``, measured by
``bench/dedupe_eval.py``):

* most of the new text was already published (``new_in_old >= containment``):
  a republication, a cut copy, an excerpt, a copy with edits or furniture, or a
  copy found inside a longer stored page. The reader has read it.
* the stored text is inside the new page (``old_in_new >= containment``) *and*
  makes up at least ``embedded_share`` of it: the same report with more page
  furniture. A longer page whose old part is less than that is mostly new
  text, and is news.

Different articles on the same event share quotes, not text: they stay far
below these thresholds and are grouped by :class:`StoryIndex` instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.config import DedupeConfig
from pipeline.dedupe.fingerprints import Fingerprint, KeyIndex, fingerprint, overlap
from pipeline.dedupe.stories import StoryIndex

__all__ = ["canonical_url", "Fingerprint", "fingerprint", "DuplicateMatch", "DuplicateIndex",
           "SeedReport", "load_seeds", "seed_files", "check_seeds", "StoryIndex"]

log = logging.getLogger("newswatch.dedupe")

# ---------------------------------------------------------------- URLs

# Query parameters that say who sent the reader, never which page it is.
_TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
                    "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "_ga", "_gl", "igshid",
                    "ncid", "sr_share", "smid", "smtyp", "cid_source", "ito", "rss",
                    "feature", "share", "ref_src", "ref_url", "src", "via", "mbid",
                    "amp", "outputtype", "amp_js_v", "usqp", "__twitter_impression"}
_TRACKING_PREFIXES = ("utm_", "at_", "mc_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "__")
_AMP_PATH = re.compile(r"(?:/amp)+(?=/|$)", re.I)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def canonical_url(url: str) -> str:
    """One spelling per page: tracking parameters, fragment, AMP and default
    port removed, scheme and host lower-cased. Never raises; on something that
    is not an http(s) URL it returns the input stripped."""
    raw = (url or "").strip()
    try:
        return _canonical(raw) or raw
    except Exception:  # courlan and urllib raise ValueError and others on junk
        return raw


def _canonical(raw: str) -> str | None:
    import courlan  # imported late: the CLI imports this module for --help too

    raw = _unwrap_google_amp(raw)
    cleaned = courlan.clean_url(raw)
    if not cleaned:
        return None
    parts = urlsplit(courlan.normalize_url(cleaned))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("amp."):
        host = host[4:]
    port = parts.port
    netloc = host if port is None or str(port) == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _AMP_PATH.sub("", parts.path)
    path = re.sub(r"\.amp(\.html?)$", r"\1", path, flags=re.I)
    path = path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _is_tracking(k)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_PARAMS or low.startswith(_TRACKING_PREFIXES)


def _unwrap_google_amp(url: str) -> str:
    """``https://www.google.com/amp/s/example.com/x`` is Google's cached copy of
    ``https://example.com/x`` (``/amp/`` without ``s`` was http)."""
    m = re.match(r"^https?://(?:www\.)?google\.[a-z.]+/amp/(s/)?(.+)$", url, re.I)
    if not m:
        return url
    return ("https://" if m.group(1) else "http://") + m.group(2)


# ---------------------------------------------------------------- text copies

@dataclass(frozen=True)
class DuplicateMatch:
    key: str               # the seed's file name or the stored item's URL
    resemblance: float     # Jaccard of the two shingle sets (estimated)
    containment: float     # the larger of "new in old" and "old in new"


class DuplicateIndex:
    """Every fingerprint seen so far, for finding copies of a new one."""

    def __init__(self, cfg: DedupeConfig):
        self.cfg = cfg
        self._names: list[str] = []
        self._prints: list[Fingerprint] = []
        self._index = KeyIndex()

    def __len__(self) -> int:
        return len(self._names)

    def add(self, key: str, fp: Fingerprint) -> None:
        self._index.add(fp.hashes[:self.cfg.lsh_keys], len(self._names))
        self._names.append(key)
        self._prints.append(fp)

    def compact(self) -> None:
        """Fold recent additions into the sorted index (after loading an archive)."""
        self._index.compact()

    def find_duplicate(self, fp: Fingerprint) -> DuplicateMatch | None:
        """The stored text this one copies (the oldest if several do), or None."""
        hits = self._index.lookup(fp.hashes[:self.cfg.lsh_keys], self.cfg.max_postings)
        # most shared keys first; verify a bounded number so the cost stays flat.
        # One shared key is usually a stock phrase; every copy in the eval shares more.
        shared = [i for i, n in hits.items() if n >= self.cfg.min_shared_keys]
        candidates = sorted(shared, key=lambda i: (-hits[i], i))[:self.cfg.max_candidates]
        best: tuple[int, DuplicateMatch] | None = None
        for item in candidates:
            match = self._verify(fp, item)
            if match is not None and (best is None or item < best[0]):
                best = (item, match)
        return best[1] if best else None

    def _verify(self, fp: Fingerprint, item: int) -> DuplicateMatch | None:
        ov = overlap(fp, self._prints[item])
        copied = ov.new_in_old >= self.cfg.containment or (
            ov.old_in_new >= self.cfg.containment and ov.new_in_old >= self.cfg.embedded_share)
        if not copied:
            return None
        return DuplicateMatch(key=self._names[item], resemblance=round(ov.resemblance, 4),
                              containment=round(max(ov.new_in_old, ov.old_in_new), 4))


# ---------------------------------------------------------------- seeds

@dataclass(frozen=True)
class SeedReport:
    name: str     # file name, e.g. "000_ecf7d2cffda6f16f.txt"
    text: str


def load_seeds(seeds_dir: Path) -> list[SeedReport]:
    """Every ``*.txt`` in the folder except READMEs, by name; [] if it is missing.
    A file that cannot be read (not UTF-8, not a file, no permission) is logged
    with its path and skipped: a seed must not stop the pipeline."""
    seeds = []
    for path in seed_files(seeds_dir) or []:
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as exc:
            log.warning("seeds: cannot read %s (%s); skipped", path, exc.strerror or exc)
            continue
        except UnicodeDecodeError as exc:
            log.warning("seeds: %s is not UTF-8 text (byte %d); skipped: save it as UTF-8",
                        path, exc.start)
            continue
        seeds.append(SeedReport(name=path.name, text=text))
    return seeds


def seed_files(seeds_dir: Path) -> list[Path] | None:
    """The files :func:`load_seeds` reads, by name; None when the folder is missing."""
    folder = Path(seeds_dir)
    try:
        if not folder.is_dir():
            return None
        return [p for p in sorted(folder.glob("*.txt")) if p.stem.lower() != "readme"]
    except (OSError, ValueError):   # a name the file system refuses: too long, a NUL
        return None


def check_seeds(seeds_dir: Path) -> int:
    """How many seed files the folder holds; a warning when none (at start-up, so a
    mistyped seeds_dir is not silence: without seeds their copies count as news)."""
    files = seed_files(seeds_dir)
    if files is None:
        log.warning("seeds: the folder %s does not exist; copies of the seed reports will "
                    "not be recognised as duplicates (seeds_dir in the config)", seeds_dir)
    elif not files:
        log.warning("seeds: no seed report (*.txt) in %s; copies of the seed reports will "
                    "not be recognised as duplicates", seeds_dir)
    return len(files or ())
