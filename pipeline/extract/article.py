"""The extract stage: article HTML in, clean text and metadata out (trafilatura).

``extract_article`` is a plain function so that it can run in a worker
process; it returns an ``Article`` or raises ``ExtractError`` (which pickles
back unchanged). When a page
cannot be fetched or yields nothing, ``fallback_article`` lets the entry's own
title and summary stand in, and the article says so.

What the page gives is made safe here (``pipeline.sanitize``): references to no
character repaired before parsing, control characters and terminal escapes removed
from the title, text, author and site, and each capped, so that one huge page costs
the matcher and the database a bounded amount.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pipeline.config import ExtractConfig
from pipeline.errors import ExtractError
from pipeline.records import Article, FeedEntry
from pipeline.sanitize import (cap_text, clean_external_text, clean_line,
                               repair_character_references)

_LANG = re.compile(rb"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.I)
MIN_TEXT_CHARS = 200   # shorter "articles" are cookie walls, paywalls or error pages
MAX_TEXT_CHARS = 200_000    # a long report is 10-50k; beyond this a page is a dump, not news
MAX_TITLE_CHARS = 1000
_MAX_NAME_CHARS = 300       # author, site name


def extraction_options(cfg: ExtractConfig) -> dict[str, Any]:
    """The trafilatura settings the pipeline uses (benchmarks use the same).
    htmldate's extensive search is off: Newswatch keeps no page date (the feed's
    is the item's), and that search hands text to dateparser, whose first use
    compiles its ~600 locales (seconds of CPU per process, bench/RESULTS.md)."""
    return dict(include_comments=cfg.include_comments, favor_precision=cfg.favor_precision,
                include_tables=True, deduplicate=False, with_metadata=True,
                date_extraction_params={"extensive_search": False, "original_date": True,
                                        "max_date": date.today().isoformat()})


def extract_article(html: bytes, url: str, cfg: ExtractConfig, *,
                    max_text_chars: int = MAX_TEXT_CHARS,
                    max_title_chars: int = MAX_TITLE_CHARS, tree: Any = None) -> Article:
    """Extract the article from one page; ExtractError when there is none.
    ``tree``: the page already parsed by ``visible.parse_page`` (parsed once)."""
    import trafilatura  # imported here: workers pay for it, the CLI's start-up does not

    try:
        # a page's "&#27;" made trafilatura give no text at all: repaired first
        page = tree if tree is not None else repair_character_references(html)
        doc = trafilatura.bare_extraction(page, url=url, **extraction_options(cfg))
    except Exception as exc:  # trafilatura raises anything from lxml to ValueError on bad pages
        raise ExtractError(f"trafilatura failed: {type(exc).__name__}: {exc}", url=url) from exc
    text = clean_external_text(getattr(doc, "text", None) if doc is not None else "").strip()
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractError(f"page gave {len(text)} characters of text", url=url)
    lang = getattr(doc, "language", None)
    if not lang:
        m = _LANG.search(html[:4096])
        lang = m.group(1).decode().lower() if m else None
    return Article(url=url, title=cap_text(clean_line(doc.title), max_title_chars),
                   text=cap_text(text, max_text_chars), author=_name(doc.author),
                   site=_name(doc.sitename), language=_name(lang, 20), source="page")


def _name(value: str | None, limit: int = _MAX_NAME_CHARS) -> str | None:
    """An author's or site's name (or a language code), made safe; None if empty."""
    return cap_text(clean_line(value), limit) or None


def fallback_article(entry: FeedEntry, reason: str) -> Article:
    """The entry's own title and summary, standing in for a page that gave nothing."""
    return Article(url=entry.link, title=entry.title, text=entry.summary, source="entry",
                   fallback_reason=reason)
