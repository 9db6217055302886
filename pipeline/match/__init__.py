"""The match stage: the rule language, and which rules an item's text satisfies.

``rules`` parses the config's topic, alerts and variant sets into ``Rule`` records and
matches them on a normalised document; ``people`` is the watchlist of people (alert
rules too, found through ``watchlist``, ``chains`` and the spelling model in ``names``);
``judge`` applies the topic and alert rules to one item; ``explain`` says why a rule
matched or not; ``snippet`` cuts the highlighted excerpt the outputs show. May import
``pipeline.errors``, ``records``, ``textnorm``; never another stage.
"""

from pipeline.match.explain import explain_rule
from pipeline.match.judge import explain_match, judge, match_alerts
from pipeline.match.rules import Rule, analyse, match_document, match_rule, parse_rule_set
from pipeline.match.snippet import snippet

__all__ = ["Rule", "analyse", "explain_match", "explain_rule", "judge", "match_alerts",
           "match_document", "match_rule", "parse_rule_set", "snippet"]
