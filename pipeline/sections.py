"""The plain sections of the config (``network:``, ``dedupe:``, ``extract:`` ...):
frozen dataclasses whose fields are declared with :func:`~pipeline.configkeys.key`.
``pipeline.config`` finds them on :class:`~pipeline.config.Settings`, checks the
user's YAML against them and generates ``pipeline/defaults.yaml`` from them. A new
section is a class here (or in its stage's ``options.py``) and one field on Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pipeline.configkeys import DAY, GIB, HOUR, KIB, MINUTE, YEAR, key  # noqa: F401


@dataclass(frozen=True)
class NetworkConfig:
    """What the fetch stage needs."""

    allow_private_addresses: bool = key(
        False, "fetch loopback, link-local and private addresses (feeds on your own network)")
    connect_timeout: float = key(10.0, "time to open a connection", kind="seconds",
                                 above=0, high=HOUR)
    read_timeout: float = key(20.0, "time allowed between two reads", kind="seconds",
                              above=0, high=HOUR)
    deadline: float = key(60.0, "time for a whole request, every byte included",
                          kind="seconds", above=0, high=HOUR)
    max_bytes: int = key(5_000_000, "cap on a body in bytes, counted after decompression",
                         low=KIB, high=GIB)
    max_redirects: int = key(5, "redirects followed per request", low=0, high=30)
    user_agent: str = key("Newswatch/0.1 (+https://github.com/newswatch/newswatch; "
                          "news monitoring)", "the User-Agent header sent with every request",
                          kind="header")
    max_connections: int = key(24, "requests in flight, all hosts together", low=1, high=256)
    max_per_host: int = key(4, "requests in flight to one host", low=1, high=64,
                            not_above="max_connections")
    backoff_base: float = key(300.0, "wait after a feed's first failure; doubled per "
                              "consecutive failure", kind="seconds", low=1, high=YEAR,
                              not_above="backoff_max")
    backoff_max: float = key(86400.0, "longest wait between two tries of a failing feed",
                             kind="seconds", low=1, high=YEAR)
    dead_after_404s: int = key(5, "404s in a row after which a feed is shown as probably "
                               "dead (still polled, with backoff)", low=1, high=1000)
    dead_after: float = key(3 * DAY, "or a feed answering 404 for this long", kind="seconds",
                            low=MINUTE, high=YEAR)
    max_new_articles_per_feed: int = key(
        200, "new article downloads per feed per cycle, newest first", low=1, high=10_000)
    retry_attempts: int = key(4, "how many later cycles retry an article page that failed "
                              "transiently (5xx, 429, timeout)", low=0, high=20)
    retry_base: float = key(600.0, "first retry delay of such a page, doubling",
                            kind="seconds", low=MINUTE, high=YEAR)
    # adaptive polling (pipeline/feedstate.py): each feed at its own pace
    poll_adaptive: bool = key(True, "poll each feed at the pace it publishes (within "
                              "poll_min..poll_max); false: every feed every poll_interval")
    poll_min: float = key(300.0, "shortest wait between two polls of one feed",
                          kind="seconds", low=1, high=YEAR, not_above="poll_max")
    poll_max: float = key(7200.0, "longest wait between two polls of a feed that works",
                          kind="seconds", low=1, high=YEAR)
    feed_lease: float = key(900.0, "replicas on one PostgreSQL: how long a replica's claim on "
                            "the feeds it polls lasts; longer than a cycle (a replica that "
                            "dies loses its claims after this)", kind="seconds", low=1,
                            high=DAY)


@dataclass(frozen=True)
class DedupeConfig:
    """What the dedupe stage needs. Figures from bench/dedupe_eval.py (181 real
    articles: 1,267 copies, 540 non-copies) and bench/dedupe_scale.py; see pipeline/dedupe/."""

    # 5 keeps shared stock phrases rare
    shingle_size: int = key(5, "words per shingle", low=1, high=50)
    # ~1 KB stored per text
    sketch_size: int = key(256, "smallest shingle hashes kept per text", low=1, high=4096)
    # 32 finds copies cut to 1/10 of the text
    lsh_keys: int = key(32, "of those, how many are index keys", low=1, high=4096,
                        not_above="sketch_size")
    # boilerplate costs no more than this
    max_postings: int = key(64, "oldest items read per index key", low=1, high=100_000)
    # keeps a decision flat in the archive's size
    max_candidates: int = key(32, "candidates verified per decision", low=1, high=10_000)
    # copies share ~10-30 of 32; 3 loses no recall and keeps 100k within 1.5x of 1k
    min_shared_keys: int = key(3, "index keys a candidate must share", low=1, high=4096,
                               not_above="lsh_keys")
    # Measured: different articles sharing 2-4 quoted sentences reach 0.40; all but 6
    # of 1,267 copies are >= 0.6. Sweep: 0.5 -> 1 false match; 0.6 -> precision 1.000,
    # recall 0.995; 0.7 -> recall 0.989 (bench/dedupe_eval.py --sweep).
    containment: float = key(0.6, "share of a new text found in a stored one at or above "
                             "which it is a copy", above=0, high=1)
    embedded_share: float = key(0.5, "a stored text inside a longer new page is a copy only "
                                "if it is this share of the page", above=0, high=1)
    min_words: int = key(30, "shorter texts are only compared by URL (too few shingles)",
                         low=1, high=100_000)
    story_window_hours: float = key(72.0, "hours within which reports can be one story",
                                    above=0, high=YEAR / HOUR)
    story_similarity: float = key(0.4, "rarity-weighted share of the shorter title's words "
                                  "that makes one story", above=0, high=1)
    story_text_overlap: float = key(0.05, "share of shared shingles (quotes, wire lines) that "
                                    "makes one story", above=0, high=1)


@dataclass(frozen=True)
class ExtractConfig:
    workers: int = key(0, "article extraction processes; 0: one per core", low=0, high=64)
    # recycle workers now and then: lxml can leak under long runs. Measured here a
    # worker grows 108 -> 128 MB over its first 200 pages, then stays at 129 MB to
    # 1,200; a fresh worker is ~15% slower for its first pages, so recycle rarely
    max_tasks_per_child: int = key(1000, "pages a worker extracts before it is replaced",
                                   low=1, high=1_000_000)
    favor_precision: bool = key(False, "trafilatura: drop doubtful parts of a page")
    include_comments: bool = key(False, "trafilatura: keep readers' comments")
    # most pages of broad feeds are off topic: a page whose every word misses the
    # topic rule (relaxed: pipeline/match/relax.py) is stored off topic unextracted
    prefilter: bool = key(True, "skip extracting pages that cannot be on topic")


@dataclass(frozen=True)
class LimitsConfig:
    """Caps on what one item may bring, whatever a feed sends."""

    max_title_chars: int = key(1000, "characters of a title kept", low=50, high=100_000)
    max_summary_chars: int = key(20_000, "characters of a feed summary kept", low=100,
                                 high=10_000_000)
    max_matches_per_rule: int = key(50, "matched terms recorded per rule and item", low=1,
                                    high=10_000)


@dataclass(frozen=True)
class BriefingConfig:
    """What the digest's briefing and the update decision need (bench/novelty_eval.py).

    A near-copy of a seed or stored item is an *update*, stored and shown with only its
    new sentences, when it adds at least ``update_min_new_sentences`` new sentences or
    new sentences making at least ``update_min_new_share`` of its words; else it is a
    copy and suppressed."""

    update_min_new_sentences: int = key(2, "new sentences that make a near-copy an update",
                                        low=1, high=1000)
    update_min_new_share: float = key(0.15, "or the share of its words in new sentences",
                                      above=0, high=1)
    max_new_sentences: int = key(5, "'New in this report' lines shown per report", low=0,
                                 high=100)


@dataclass(frozen=True)
class GoogleNewsConfig:
    """How Google News article links (``news.google.com/rss/articles/<id>``) are
    turned into the publisher's URL (pipeline.links). Old-style ids are read with
    no request; new ones cost two requests each (the article page, then
    batchexecute), so they are capped per cycle and remembered for good."""

    max_resolutions_per_cycle: int = key(30, "new-style Google News links resolved per "
                                         "cycle (two requests each); the rest wait",
                                         low=0, high=10_000)
    base_url: str = key("https://news.google.com", "where those requests go (a test "
                        "server, or a mirror)", kind="url")
    max_attempts: int = key(3, "cycles that try a link before its feed's source link "
                            "stands in for it", low=1, high=100)


@dataclass(frozen=True)
class HistoryConfig:
    """What is kept of items judged off topic, so that ``rematch`` can judge them
    again under edited rules (pipeline/rematch.py)."""

    keep: timedelta = key(timedelta(days=30), "how long the text (or page) of an off-topic item is kept "
                      "for rematch; 0s keeps none", low=0, high=YEAR)
    rematch_on_edit: timedelta = key(timedelta(days=7), "how far back the service rematches by itself "
                                 "when an edit changes the topic, alert or people rules; 0s: "
                                 "never", low=0, high=YEAR)
