"""The extract stage: an article page's HTML in, its text and metadata out (``Article``).

``article`` wraps trafilatura (and the fallback when the feed's own summary must stand
in); ``pool`` runs CPU work in warm worker processes while the event loop downloads.
May import ``pipeline.config``, ``errors``, ``records``, ``sanitize``; never another
stage.
"""

from pipeline.extract.article import (MIN_TEXT_CHARS, extract_article, extraction_options,
                                      fallback_article)
from pipeline.extract.pool import ExtractionPool

__all__ = ["MIN_TEXT_CHARS", "ExtractionPool", "extract_article", "extraction_options",
           "fallback_article"]
