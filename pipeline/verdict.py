"""One verdict per page: its article, fingerprint, title, topic and alerts.

The per-page half of the recipe (``cycle.py`` is the other half, and the only
other place where stages meet). A fetched page is judged in an extraction
worker (:func:`judge_html`); a page that gave nothing is judged in the event
loop's process on the feed's own title and summary. Both paths end in
:func:`judge_page`, so an item is judged the same way whichever path it took.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass

from pipeline import dedupe, match
from pipeline.config import DedupeConfig, ExtractConfig
from pipeline.errors import ExtractError, StageError
from pipeline.extract import extract_article
from pipeline.extract.visible import parse_page, visible_text
from pipeline.match import Rule
from pipeline.match.relax import maybe_on_topic
from pipeline.match.rules import MAX_HITS_PER_RULE
from pipeline.records import Article, RuleMatch


@dataclass(frozen=True)
class PageVerdict:
    """What one page is: ``article`` None when there is nothing to judge
    (``error`` says why). The fingerprint travels as bytes, decoded once by
    whoever consults the duplicate index."""

    article: Article | None
    title: str = ""
    fingerprint: bytes | None = None
    topic: RuleMatch | None = None
    alerts: tuple[RuleMatch, ...] = ()
    error: StageError | None = None
    # stored off topic without extraction: not even the relaxed rule matched
    # (``page``, the raw page, is put back by the main process, which has it)
    prefiltered: bool = False
    page: bytes | None = None


@dataclass(frozen=True)
class RuleSet:
    """The topic and alert rules, pickled once per cycle: a task carries these
    bytes (cheap), and each worker unpickles a rule set only the first time."""

    key: str
    blob: bytes
    max_hits: int = MAX_HITS_PER_RULE     # hits kept per rule match (limits.max_matches_per_rule)

    @classmethod
    def of(cls, topic: Rule, alerts, max_hits: int = MAX_HITS_PER_RULE) -> "RuleSet":
        blob = pickle.dumps((topic, tuple(alerts)), protocol=pickle.HIGHEST_PROTOCOL)
        return cls(hashlib.sha1(blob).hexdigest(), blob, max_hits)

    def rules(self) -> tuple[Rule, tuple[Rule, ...]]:
        if self.key not in _RULES:
            _RULES.clear()
            _RULES[self.key] = pickle.loads(self.blob)
        return _RULES[self.key]


_RULES: dict[str, tuple] = {}     # in a worker: the last rule set seen


def item_title(article: Article | None, entry_title: str) -> str:
    """The one choice of an item's title: the page's own, else the feed's."""
    return (article.title if article is not None else "") or entry_title


def judge_page(article: Article, entry_title: str, entry_summary: str, rules: RuleSet,
               dedupe_cfg: DedupeConfig) -> PageVerdict:
    """Fingerprint, title, topic and (only on topic) alerts of one article."""
    fp = dedupe.fingerprint(article.text, dedupe_cfg)
    title = item_title(article, entry_title)
    topic_rule, alert_rules = rules.rules()
    topic, hits = match.judge(topic_rule, alert_rules, title, entry_summary, article.text,
                              max_hits=rules.max_hits)
    return PageVerdict(article=article, title=title, fingerprint=fp.to_bytes() if fp else None,
                       topic=topic, alerts=tuple(hits))


def judge_html(html: bytes, url: str, extract_cfg: ExtractConfig, dedupe_cfg: DedupeConfig,
               rules: RuleSet, entry_title: str = "", entry_summary: str = "") -> PageVerdict:
    """The worker's task: extract the page, then judge it. An ExtractError comes
    back typed in the verdict (it pickles unchanged), not raised. With the
    pre-filter, a page that cannot be on topic is not extracted at all."""
    tree = parse_page(html) if extract_cfg.prefilter else None
    topic, alerts = rules.rules()
    # the entry alone first (a few words): when it may be on topic, so may the page
    if tree is not None and not maybe_on_topic(topic, alerts, (entry_title, entry_summary)):
        texts = (*visible_text(tree).fields(), entry_title, entry_summary)
        if not maybe_on_topic(topic, alerts, texts):
            return PageVerdict(article=Article(url=url, title=entry_title), title=entry_title,
                               prefiltered=True)
    try:
        article = extract_article(html, url, extract_cfg, tree=tree)
    except ExtractError as exc:
        return PageVerdict(article=None, error=exc)
    return judge_page(article, entry_title, entry_summary, rules, dedupe_cfg)
