"""The rule language (pipeline/rules.py), its normalisation (pipeline/textnorm.py)
and the matching stage (pipeline/alerts.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from pipeline.match import explain, rules
from pipeline.match import judge, match_alerts, snippet
from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.records import RuleMatch, TermHit

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"Sednaya": ["Saydnaya", "Saidnaya", "Sednaya", "Sidnaya", "صيدنايا", "صدنايا"]}


def on_topic(topic, title, summary, text):
    """The topic verdict as the cycle gets it (judge with no alert rules)."""
    return judge(topic, (), title, summary, text)[0]


def rule(raw: dict, name: str = "r") -> rules.Rule:
    variants = rules.parse_variants(VARIANTS)
    return rules.parse_rule(name, raw, variants, key="alerts[0]", file="watch.yaml")


def match(raw: dict, title: str = "", summary: str = "", text: str = "") -> RuleMatch | None:
    return rules.match_rule(rule(raw), {"title": title, "summary": summary, "text": text})


def matched(raw: dict, text: str) -> list[str]:
    m = match(raw, text=text)
    return [h.matched for h in m.hits] if m else []


# ---------------------------------------------------------------- whole words

def test_whole_words_only():
    assert match({"any": ["ISIS"]}, text="a humanitarian crisis deepens") is None
    assert matched({"any": ["ISIS"]}, "ISIS fighters held in camps") == ["ISIS"]
    assert match({"any": ["Sednaya"]}, text="the XSednayaY and Sednayan sites") is None
    assert matched({"any": ["Sednaya"]}, "at Sednaya, near Damascus") == ["Sednaya"]


def test_prefix_terms():
    assert matched({"any": ["detain*"]}, "Detainees were detained.") == ["Detainees", "detained"]
    assert match({"any": ["detain*"]}, text="a retained fee") is None


def test_phrases_quoted_or_multiword():
    text = "a facility dubbed the “human slaughterhouse” by Amnesty"
    assert matched({"any": ['"human slaughterhouse"']}, text) == ["human slaughterhouse"]
    assert matched({"any": ["human slaughterhouse"]}, text) == ["human slaughterhouse"]
    assert match({"any": ["human slaughterhouse"]}, text="human rights; a slaughterhouse") is None
    # a phrase may end in a prefix, and hyphens are word breaks
    assert matched({"any": ["mass grave*"]}, "two mass-graves found") == ["mass-graves"]


def test_phrase_does_not_cross_fields():
    assert match({"any": ["Sednaya prison"]}, title="Inside Sednaya", summary="Prison gates") \
        is None


def test_case_accents_and_width():
    assert matched({"any": ["Saidnaya"]}, "SAÏDNAYA prison") == ["SAÏDNAYA"]
    assert matched({"any": ["Sednaya"]}, "ＳＥＤＮＡＹＡ ｐｒｉｓｏｎ") == ["ＳＥＤＮＡＹＡ"]
    assert matched({"any": ["école"]}, "ECOLE") == ["ECOLE"]
    # decomposed accent: the match keeps its combining mark
    assert matched({"any": ["ecole"]}, "e\u0301cole ouverte") == ["e\u0301cole"]


def test_apostrophes_and_possessives():
    assert matched({"any": ["Syria"]}, "Syria’s prisons") == ["Syria"]
    assert matched({"any": ["Syria's prisons"]}, "Syria’s prisons") == ["Syria’s prisons"]
    assert matched({"any": ["Assad"]}, "the Assads' jails") == []   # Assads is another word
    assert matched({"any": ["Assad*"]}, "the Assads' jails") == ["Assads"]


# ---------------------------------------------------------------- Arabic

def test_arabic_prefixes_and_article():
    assert matched({"any": ["معتقل*"]}, "الإفراج عن والمعتقلين") == ["والمعتقلين"]
    assert matched({"any": ["سجن"]}, "في السجن ثم بالسجن وللسجن") == ["السجن", "بالسجن", "وللسجن"]
    assert match({"any": ["سجن"]}, text="سجناء") is None        # whole words: no prefix *
    # a rule written with the article also finds the bare word
    assert matched({"any": ["المعتقلين"]}, "معتقلين سابقين") == ["معتقلين"]


def test_arabic_letter_forms_tashkeel_tatweel():
    assert matched({"any": ["اعدام"]}, "إعدام") == ["إعدام"]
    assert matched({"any": ["مقبرة جماعية"]}, "مقبره جماعيه") == ["مقبره جماعيه"]
    assert matched({"any": ["مستشفى"]}, "مستشفي") == ["مستشفي"]
    assert matched({"any": ["سجن"]}, "السِّجْنُ") == ["السِّجْنُ"]
    assert matched({"any": ["سجن"]}, "ســجــن") == ["ســجــن"]


def test_arabic_indic_digits():
    assert matched({"any": ["2011"]}, "منذ ٢٠١١") == ["٢٠١١"]
    assert matched({"any": ["٢٠١١"]}, "since 2011") == ["2011"]
    assert matched({"any": ["215"]}, "الفرع ۲۱۵") == ["۲۱۵"]


# ---------------------------------------------------------------- variants, any/all/none/within

def test_variant_sets():
    raw = {"any": ["{Sednaya}"]}
    assert matched(raw, "Saydnaya prison") == ["Saydnaya"]
    assert matched(raw, "سجن صيدنايا") == ["صيدنايا"]
    hit = match(raw, text="Saidnaya").hits[0]
    assert hit.term == "Saidnaya"
    # usable as an alternative inside all
    assert match({"all": [["{Sednaya}", "Tadmor"], "prison*"]}, text="Sidnaya prisoners")


def test_all_any_none():
    raw = {"all": [["Syria", "Syrian", "سوريا"], ["detain*", "prison*", "معتقل*"]]}
    assert match(raw, title="Syrian detainees freed")
    assert match(raw, title="Syrian rebels advance") is None
    assert match(raw, title="معتقلين في سوريا")
    assert match({"any": ["prison*"], "none": ["Rayner"]}, text="Rayner's prison plans") is None
    both = {"any": ["Tice"], "all": ["journalist"]}
    assert match(both, text="Tice, a journalist") and match(both, text="Tice") is None


def test_within_counts_words_across_title_and_summary():
    raw = {"all": ["Syria", "prison*"], "within": 3}
    assert match(raw, text="Syria and its prisons")
    assert match(raw, text="Syria is a country with many prisons") is None
    assert match(raw, title="Inside Syria", summary="Prisons emptied")
    assert match({"all": ["Syria", "prison*"]}, text="Syria ... " + "x " * 50 + "prisons")


def test_any_of_clauses_and_rule_level_none():
    raw = {"any_of": [{"any": ["{Sednaya}"]},
                      {"all": ["Syria", "missing"], "within": 5, "none": ["weapons"]}],
           "none": ["Julius Caesar"]}
    assert match(raw, text="Saydnaya")
    assert match(raw, text="Syria's missing people")
    assert match(raw, text="Syria's missing weapons") is None
    assert match(raw, text="Saydnaya and Julius Caesar") is None


def test_offsets_point_into_the_original_text():
    title = "Prisoners freed from Syria’s ‘human slaughterhouse’ … in Saïdnaya"
    text = "وأُفرج عن المعتقلين من سجن صيدنايا"
    m = match({"any": ["{Sednaya}", "human slaughterhouse", "معتقل*", "Syria"]},
              title=title, text=text)
    for h in m.hits:
        source = title if h.field == "title" else text
        assert source[h.start:h.end] == h.matched
    assert [h.matched for h in m.hits] == ["Syria", "human slaughterhouse", "Saïdnaya",
                                            "المعتقلين", "صيدنايا"]


def test_rule_is_hashable_and_picklable():
    r = rule({"any_of": [{"any": ["{Sednaya}"]}, {"all": ["a", ["b", "c"]], "within": 2}]})
    assert pickle.loads(pickle.dumps(r)) == r
    assert hash(r) == hash(pickle.loads(pickle.dumps(r)))
    assert r.name == "r"


# ---------------------------------------------------------------- config errors

@pytest.mark.parametrize("raw, key, words", [
    ({}, "alerts[2]", "empty rule"),
    ({"none": ["x"]}, "alerts[2]", "empty rule"),
    ({"any": [""]}, "alerts[2].any[0]", "empty term"),
    ({"any": ["  "]}, "alerts[2].any[0]", "empty term"),
    ({"any": ['"human slaughterhouse']}, "alerts[2].any[0]", "unbalanced quote"),
    ({"any": ["{Tadmur}"]}, "alerts[2].any[0]", "unknown variant set"),
    ({"all": ["a", "b"], "within": 0}, "alerts[2].within", "within"),
    ({"all": ["a", "b"], "within": "near"}, "alerts[2].within", "within"),
    ({"all": ["a", "b"], "within": True}, "alerts[2].within", "within"),
    ({"any": ["a"], "within": 3}, "alerts[2].within", "within"),
    ({"any": ["a"], "anywhere": ["b"]}, "alerts[2].anywhere", "unknown key"),
    ({"all": ["a", 3]}, "alerts[2].all[1]", "all"),
    ({"all": ["a", {"b": 1}]}, "alerts[2].all[1]", "all"),
    ({"any": ["de*tain"]}, "alerts[2].any[0]", "*"),
    ({"any_of": []}, "alerts[2].any_of", "any_of"),
    ({"any_of": [{"any": ["a"]}], "within": 3}, "alerts[2].within", "unknown key"),
    ({"any_of": [{"all": ["a", "b"], "within": -1}]}, "alerts[2].any_of[0].within", "within"),
])
def test_bad_rules_name_the_rule_and_key(raw, key, words):
    alerts = [{"name": "ok1", "any": ["a"]}, {"name": "ok2", "any": ["b"]},
              {"name": "Sednaya watch", **raw}]
    with pytest.raises(ConfigError) as err:
        rules.parse_rule_set({"any": ["x"]}, alerts, VARIANTS, file="watch.yaml")
    assert err.value.key == key and err.value.file == "watch.yaml"
    assert "Sednaya watch" in str(err.value) and words in str(err.value)


def test_alert_names_unique_and_required():
    with pytest.raises(ConfigError, match="unique") as err:
        rules.parse_rule_set({"any": ["x"]}, [{"name": "A", "any": ["a"]},
                                              {"name": "A", "any": ["b"]}], {})
    assert err.value.key == "alerts[1].name"
    with pytest.raises(ConfigError, match="name"):
        rules.parse_rule_set({"any": ["x"]}, [{"any": ["a"]}], {})


def test_bad_topic_and_variants():
    with pytest.raises(ConfigError, match="'topic'") as err:
        rules.parse_rule_set({"all": ["a"], "within": 2}, [], {}, file="f.yaml")
    assert err.value.key == "topic.within"
    with pytest.raises(ConfigError) as err:
        rules.parse_rule_set({"any": ["x"]}, [], {"S": []})
    assert err.value.key == "variants.S"
    with pytest.raises(ConfigError, match="another"):
        rules.parse_rule_set({"any": ["x"]}, [], {"S": ["{T}"], "T": ["t"]})


# ---------------------------------------------------------------- explain, stage, snippet

def test_explain_rule_says_what_matched_and_failed():
    r = rule({"any_of": [{"all": ["Syria*", "prison*"], "within": 3},
                         {"any": ["{Sednaya}"]}]}, name="topic")
    lines = explain.explain_rule(r, {"title": "Syria's new leaders", "summary": "", "text":
                                   "far away from here, some prisons"})
    text = "\n".join(lines)
    assert lines[0] == "rule 'topic': does not match"
    assert "within 3: no" in text
    assert "any: none of {Sednaya} found" in text
    lines = explain.explain_rule(r, {"title": "Saydnaya", "summary": "", "text": ""})
    assert lines[0] == "rule 'topic': MATCHES"
    assert "{Sednaya}=Saydnaya → 'Saydnaya' (title 0-8)" in "\n".join(lines)


def test_stage_functions():
    topic = rule({"any": ["{Sednaya}"]}, name="topic")
    alerts = (rule({"any": ["tortur*"]}, "Torture"), rule({"any": ["Tice"]}, "Tice"),
              rule({"any": ["executed"]}, "Executions"))
    assert on_topic(topic, "Inside Saydnaya", "", "").rule == "topic"
    assert on_topic(topic, "Hama falls", "", "") is None
    found = match_alerts(alerts, "Saydnaya", "tortured and executed", "")
    assert [m.rule for m in found] == ["Torture", "Executions"]
    assert found[1].keywords == ["executed"]


def test_snippet_segments_highlight_hits():
    text = ("Intro words here. " * 30) + "At  Sednaya\nprison near Damascus women screamed. " \
        + ("More words follow. " * 30)
    m = match({"any": ["Sednaya", "prison"]}, text=text)
    segs = snippet(text, m.hits, width=120)
    joined = "".join(s for s, _ in segs)
    assert joined.startswith("…") and joined.endswith("…")
    assert ("Sednaya", True) in segs and ("prison", True) in segs
    assert "  " not in joined and "\n" not in joined
    assert len(joined) <= 125
    assert snippet("Sednaya prison", m.hits[:0]) == [("Sednaya prison", False)]
    assert snippet("", m.hits) == []


def test_snippet_ignores_hits_of_other_fields():
    hit = TermHit("x", "title", 0, 4, "Bomb")
    assert snippet("Bomb in the text", [hit]) == [("Bomb in the text", False)]
    assert snippet("Bomb in the text", [hit], field="title") == [("Bomb", True),
                                                                 (" in the text", False)]


# ---------------------------------------------------------------- the shipped config

def test_default_config_loads_and_is_useful():
    settings = load_settings(ROOT / "config" / "watch.yaml")
    assert len(settings.feeds) >= 10 and settings.topic.name == "topic"
    names = [a.name for a in settings.alerts]
    assert len(names) == len(set(names)) >= 8
    seed = (ROOT / "seeds" / "000_ecf7d2cffda6f16f.txt").read_text(encoding="utf-8")
    title = "Prisoners freed from Syria's 'human slaughterhouse'"
    assert on_topic(settings.topic, title, "", seed)
    raised = {m.rule for m in match_alerts(settings.alerts, title, "", seed)}
    assert {"Sednaya prison", "Released detainees", "Torture", "Omar Alshogre",
            "Bashar Barhoum", "Caesar files"} <= raised
    assert on_topic(settings.topic, "الإفراج عن المعتقلين من سجن صيدنايا", "", "")
    assert on_topic(settings.topic, "Syrian rebels take Hama", "Army withdraws", "") is None
