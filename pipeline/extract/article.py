"""The extract stage: article HTML in, clean text and metadata out (trafilatura).

``extract_article`` is a plain function so that it can run in a worker
process; it returns an ``Article`` or raises ``ExtractError`` (which pickles
back unchanged). When a page
cannot be fetched or yields nothing, ``fallback_article`` lets the entry's own
title and summary stand in, and the article says so.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.config import ExtractConfig
from pipeline.errors import ExtractError
from pipeline.records import Article, FeedEntry

_LANG = re.compile(rb"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.I)
MIN_TEXT_CHARS = 200   # shorter "articles" are cookie walls, paywalls or error pages


def extraction_options(cfg: ExtractConfig) -> dict[str, Any]:
    """The trafilatura settings the pipeline uses (benchmarks use the same)."""
    return dict(include_comments=cfg.include_comments, favor_precision=cfg.favor_precision,
                include_tables=True, deduplicate=False, with_metadata=True)


def extract_article(html: bytes, url: str, cfg: ExtractConfig) -> Article:
    """Extract the article from one page; ExtractError when there is none."""
    import trafilatura  # imported here: workers pay for it, the CLI's start-up does not

    try:
        doc = trafilatura.bare_extraction(html, url=url, **extraction_options(cfg))
    except Exception as exc:  # trafilatura raises anything from lxml to ValueError on bad pages
        raise ExtractError(f"trafilatura failed: {type(exc).__name__}: {exc}", url=url) from exc
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractError(f"page gave {len(text)} characters of text", url=url)
    lang = getattr(doc, "language", None)
    if not lang:
        m = _LANG.search(html[:4096])
        lang = m.group(1).decode().lower() if m else None
    return Article(url=url, title=(doc.title or "").strip(), text=text,
                   author=doc.author, site=doc.sitename, language=lang, source="page")


def fallback_article(entry: FeedEntry, reason: str) -> Article:
    """The entry's own title and summary, standing in for a page that gave nothing."""
    return Article(url=entry.link, title=entry.title, text=entry.summary, source="entry",
                   fallback_reason=reason)
