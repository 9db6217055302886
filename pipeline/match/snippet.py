"""The snippet shown around an item's matched words: a window of its text,
cut at word boundaries, with the matches marked for highlighting."""

from __future__ import annotations

import re
from typing import Sequence

from pipeline.records import TermHit

ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")


def snippet(text: str, hits: Sequence[TermHit], *, width: int = 240,
            field: str = "text") -> list[tuple[str, bool]]:
    """A window of about ``width`` characters of ``text`` around its first hits.

    Returns ``(segment, is_match)`` pairs so the digest can highlight the
    matched words; whitespace is collapsed and "…" marks a cut end. Only hits
    in ``field`` (the field ``text`` comes from) count; with none, the
    window is the start of the text.
    """
    if not text:
        return []
    spans = _merged(sorted((h.start, h.end) for h in hits
                           if h.field == field and 0 <= h.start < h.end <= len(text)))
    start, end = _window(text, spans[0] if spans else (0, 0), width)
    segments: list[tuple[str, bool]] = []
    pos = start
    for s, e in spans:
        if s < start or e > end:
            continue
        segments.append((text[pos:s], False))
        segments.append((text[s:e], True))
        pos = e
    segments.append((text[pos:end], False))
    return _tidy(segments, cut_start=start > 0, cut_end=end < len(text))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching hits become one highlighted span."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _window(text: str, first: tuple[int, int], width: int) -> tuple[int, int]:
    """About ``width`` characters with the first hit a third of the way in,
    widened or narrowed to whole words."""
    s, e = first
    start = max(0, s - max(0, width - (e - s)) // 3)
    end = min(len(text), max(start + width, e))
    if end - start < width:               # near the end of the text: use the room before
        start = max(0, end - width)
    if start > 0:                         # do not start in the middle of a word
        space = text.find(" ", start, s) if s > start else -1
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", max(e, start), end)
        end = space if space != -1 else end
    return start, end


def _tidy(segments: list[tuple[str, bool]], *, cut_start: bool, cut_end: bool
          ) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for seg, is_match in segments:
        seg = _SPACE.sub(" ", seg)
        if out and out[-1][1] is False and not is_match:
            out[-1] = (_SPACE.sub(" ", out[-1][0] + seg), False)
        elif seg:
            out.append((seg, is_match))
    if out and not out[0][1]:
        out[0] = (out[0][0].lstrip(), False)
    if out and not out[-1][1]:
        out[-1] = (out[-1][0].rstrip(), False)
    if cut_start:
        if out and not out[0][1]:
            out[0] = (ELLIPSIS + out[0][0], False)
        else:
            out.insert(0, (ELLIPSIS, False))
    if cut_end:
        if out and not out[-1][1]:
            out[-1] = (out[-1][0] + ELLIPSIS, False)
        else:
            out.append((ELLIPSIS, False))
    return [(seg, m) for seg, m in out if seg]
