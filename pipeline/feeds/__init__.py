"""The feeds stage: a feed's bytes in, its entries out (``FeedEntry`` records).

``parse`` reads RSS, Atom and RDF with feedparser (the broken ones too) and finds
the feed links an HTML page advertises; ``jsonfeed`` reads JSON Feed 1.0/1.1 with the
standard library into the same entries; ``charsets`` fixes a declared charset that
does not fit the bytes (``ParsedFeed.notes`` says what was done); ``googlenews`` reads
Google News article ids (the publisher's URL inside old ones) and the batchexecute
exchange that resolves new ones, with no I/O of its own (``pipeline.links`` does the
requests). May import ``pipeline.errors``, ``records``,
``redact``, ``sanitize``, ``textnorm``; never another stage.
"""

from pipeline.feeds.parse import ACCEPT, FEED_TYPES, ParsedFeed, discover_feed_links, parse_feed

__all__ = ["ACCEPT", "FEED_TYPES", "ParsedFeed", "discover_feed_links", "parse_feed"]
