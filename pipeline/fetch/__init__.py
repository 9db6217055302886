"""The fetch stage: one URL in, a bounded body out (``FetchResult``) or a ``FetchError``.

``client`` (httpx: conditional GETs, size caps, deadlines, redirects checked hop by hop),
``netguard`` (which addresses may be reached, checked at connect time), ``decoding``
(bounded gzip/deflate). May import ``pipeline.config``, ``errors``, ``records``,
``redact``; never another stage.
"""

from pipeline.fetch.client import Fetcher, FetchStats, parse_content_type, parse_retry_after

__all__ = ["Fetcher", "FetchStats", "parse_content_type", "parse_retry_after"]
