"""Writing the digest: the one place that reads storage for it and writes its files.

:func:`write_day` is what the CLI and the service call: one storage query
(``storage.digest_inputs``, with the seed reports' texts), the pure :func:`build_digest`, every renderer, atomic files,
and the record that the day's digest is written.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

import storage
from pipeline.config import Settings
from pipeline.dedupe import load_seeds
from pipeline.digest.build import build_digest
from pipeline.digest.model import Digest, digest_window
from pipeline.digest.render import render
from pipeline.errors import DigestError


def digest_for(settings: Settings, store: storage.Store, day: date, *,
               now: datetime | None = None) -> Digest:
    """The digest dated ``day`` of what is stored, as ``settings`` shows it."""
    start, end = digest_window(day, settings.digest_time, settings.tz)
    seeds = [(s.name, s.text) for s in load_seeds(settings.seeds_dir)]
    inputs = storage.digest_inputs(store, start, end, [f.url for f in settings.feeds],
                                   seeds=seeds)
    return build_digest(inputs, day=day, tz=settings.tz,
                        alert_order=[r.name for r in settings.alerts],
                        now=now or datetime.now(timezone.utc),
                        max_new_sentences=settings.briefing.max_new_sentences)


def write_day(settings: Settings, store: storage.Store, day: date, *,
              now: datetime | None = None) -> list[Path]:
    """Build, write and record the digest of one local day (used by the CLI and
    the scheduler alike)."""
    now = now or datetime.now(timezone.utc)
    digest = digest_for(settings, store, day, now=now)
    paths = write_digest(digest, settings.output_dir)
    storage.record_digest(store, digest.day, now)
    return paths


def write_digest(digest: Digest, out_dir: Path) -> list[Path]:
    """Write ``<day>.md/.html/.json`` and ``latest.*`` atomically (temporary file,
    fsync, rename): a crash, a full disk or a read-only folder leaves the
    previous files intact and raises DigestError."""
    folder = Path(out_dir) / "digests"
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        newest = max([digest.day] + [p.stem for p in folder.glob("????-??-??.json")])
        for suffix, text in render(digest).items():
            path = folder / f"{digest.day}.{suffix}"
            atomic_write(path, text)
            written.append(path)
            if digest.day == newest:
                atomic_write(folder / f"latest.{suffix}", text)
    except OSError as exc:
        raise DigestError(f"cannot write: {exc.strerror or exc}", path=str(folder)) from exc
    return written


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None,
                 check: Callable[[Path], None] | None = None) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it), so
    a reader never sees half a file; ``mode`` for files others must read (mkstemp
    makes 0600). ``check`` is given the complete temporary file before it
    replaces ``path``: when it raises, ``path`` is left as it was."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
