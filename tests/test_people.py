"""The watchlist of people: the config entry, the spellings it finds, the ones it
must not, why each match matched, and a headline naming only the person kept and
alerted through the real verdict path."""

from __future__ import annotations

import pickle

import pytest

from conftest import ROOT
from pipeline import match
from pipeline.config import DedupeConfig, load_settings, settings_from_mapping
from pipeline.errors import ConfigError
from pipeline.extract import fallback_article
from pipeline.match import people
from pipeline.match.rules import analyse, parse_rule_set
from pipeline.records import FeedEntry
from pipeline.verdict import RuleSet, judge_page

DEFAULT = ROOT / "config" / "watch.yaml"


def _watch(*entries) -> tuple[people.Person, ...]:
    return people.parse_people([e if isinstance(e, dict) else {"name": e} for e in entries],
                               file="watch.yaml")


def _found(watched, text: str) -> dict:
    """Person name -> the hits of its match in ``text`` (as an item's body)."""
    doc = analyse({"title": "", "summary": "", "text": text})
    return {name: m.hits for name, m in people.match_people(watched, doc).items()}


HAMADA = _watch({"name": "Mazen al-Hamada", "also": ["مازن الحمادة"]})


# ---------------------------------------------------------------- the config entry

@pytest.mark.parametrize("raw, key, says", [
    ({"people": {"name": "x"}}, "people", "must be a list"),
    ({"people": ["Mazen al-Hamada"]}, "people[0]", "mapping"),
    ({"people": [{"name": "Mazen al-Hamada", "born": 1977}]}, "people[0].born", "unknown key"),
    ({"people": [{"also": ["x y"]}]}, "people[0].name", "needs a name"),
    ({"people": [{"name": "Caesar"}]}, "people[0].name", "one name part"),
    ({"people": [{"name": "Abu Ahmad"}]}, "people[0].name", "one name part"),
    ({"people": [{"name": "Mohammed Ali"}]}, "people[0].name", "generic names only"),
    ({"people": [{"name": "Farid al-Madhan", "also": ["Caesar"]}]}, "people[0].also[0]",
     "one name part"),
    ({"people": [{"name": "Austin Tice", "also": "أوستن تايس"}, {"name": "Austin Tice"}]},
     "people[1].name", "listed twice"),
    ({"people": [{"name": "Austin Tice", "on_topic": "no"}]}, "people[0].on_topic",
     "true or false"),
    ({"people": [{"name": "Austin Tice", "note": 3}]}, "people[0].note", "text"),
])
def test_a_bad_entry_names_its_file_key_and_reason(raw, key, says):
    doc = {"feeds": [{"name": "f", "url": "http://example.org/f"}], "topic": {"any": ["x"]},
           "alerts": [], **raw}
    with pytest.raises(ConfigError) as err:
        settings_from_mapping(doc, file="watch.yaml")
    assert err.value.key == key and says in str(err.value) and "watch.yaml" in str(err.value)


def test_a_person_and_an_alert_may_not_share_a_name():
    doc = {"feeds": [{"name": "f", "url": "http://example.org/f"}], "topic": {"any": ["x"]},
           "alerts": [{"name": "Austin Tice", "any": ["Tice"]}],
           "people": [{"name": "Austin Tice"}]}
    with pytest.raises(ConfigError, match="same name") as err:
        settings_from_mapping(doc, file="watch.yaml")
    assert err.value.key == "alerts[0].name"


def test_people_are_alert_rules_first_and_pickle_for_the_workers():
    settings = load_settings(DEFAULT)
    names = [r.name for r in settings.alerts]
    watched = [p.name for p in settings.people]
    assert names[:len(watched)] == watched and "Sednaya prison" in names[len(watched):]
    assert {"Mazen al-Hamada", "Austin Tice", "Omar Alshogre"} <= set(watched)
    topic, alerts = RuleSet.of(settings.topic, settings.alerts).rules()     # pickled and back
    assert alerts == settings.alerts
    assert pickle.loads(pickle.dumps(settings.people)) == settings.people


# ---------------------------------------------------------------- spellings found

@pytest.mark.parametrize("text, found", [
    ("Hundreds march at the funeral of Mazen al-Hamada in Damascus", "Mazen al-Hamada"),
    ("Mazin Hamadeh was seen in Sednaya", "Mazin Hamadeh"),          # romanisation
    ("Friends of Mazen el-Hamada gathered", "Mazen el-Hamada"),     # article form
    ("Mazen Hamada's body was identified", "Mazen Hamada"),         # no article
    ("MAZEN AL-HAMADA FOUND DEAD", "MAZEN AL-HAMADA"),              # all capitals
    ("شيّع المئات جثمان مازن الحمادة في دمشق", "مازن الحمادة"),     # tashkeel
    ("تحدث أصدقاء ومازن حمادة", "ومازن حمادة"),                     # attached و, no article
    ("عُثر على جثة مـازن الحمـادة", "مـازن الحمـادة"),               # tatweel
    ("Hamada, Mazen (1977-2024)", "Hamada, Mazen"),                 # family name first
    ("HAMADA Mazen, militant syrien", "HAMADA Mazen"),              # French style
])
def test_spellings_of_one_name_are_found_with_what_was_written(text, found):
    hits = _found(HAMADA, text)["Mazen al-Hamada"]
    assert [h.matched for h in hits] == [found]


def test_arabic_is_found_from_a_latin_name_and_latin_from_an_arabic_one():
    latin = _watch("Razan Zaitouneh")
    arabic = _watch("رزان زيتونة")
    assert _found(latin, "ما زال مصير رزان زيتونة مجهولاً")
    assert _found(arabic, "Razan Zeitouneh documented the attack")
    assert not _found(latin, "رزان غزاوي مدونة")


@pytest.mark.parametrize("text", [
    "Rami Abdurrahman said", "Rami Abdel Rahman said", "Rami Abdulrahman said",
    "Rami Abdul Rahman said", "Rami Abd al-Rahman said", "رامي عبد الرحمن قال",
    "رامي عبدالرحمن قال"])
def test_abd_compounds_joined_or_split(text):
    assert _found(_watch("Rami Abdurrahman"), text)


def test_an_apostrophe_inside_a_name_and_a_joined_article():
    assert _found(_watch("Paolo Dall'Oglio"), "Father Paolo Dall’Oglio vanished in Raqqa")
    assert _found(_watch("Paolo Dall'Oglio"), "Paolo Dalloglio vanished in Raqqa")
    assert _found(_watch("Omar Alshogre"), "Omar al-Shogre said")
    assert _found(_watch("Rania al-Abbasi"), "Rania Alabbasi and her children")


def test_middle_names_and_initials_may_stand_between_the_parts():
    assert _found(_watch("Ahmed al-Sharaa"), "Ahmed Hussein al-Sharaa was born in 1982")
    assert _found(_watch("Austin Tice"), "Austin B. Tice, a former Marine")
    assert _found(_watch("Hamza al-Khatib"), "حمزة علي الخطيب")


def test_a_long_part_may_be_one_letter_off_a_short_one_may_not():
    assert _found(_watch("Bassel Khartabil"), "Bassel Khartbil was moved")
    assert not _found(HAMADA, "Mazen Hamda was moved")


# ---------------------------------------------------------------- what must not match

@pytest.mark.parametrize("text", [
    "Mazen Darwish was released in 2015",        # a namesake sharing the given name
    "Wael Hamada and Marwan Hamadeh",            # sharing the family name
    "Al-Hamada's body was identified",           # one part alone
    "Mazen, a shopkeeper, said",
    "Mazen said Hamada had been moved",          # a word between
    "We asked Mazen. Hamada did not answer",     # a sentence break
    "Mazen And Hamada: Two Brothers",            # a title-case word is not a middle name
    "Mazen,\nHamada",                            # a line break
    "Hamada Mazen, a Cairo taxi driver",         # family name first without a comma
    "ثلاثة إخوة، مازن وحمادة وسمير",             # Mazen *and* Hamada
    "قال مازن إن حمادة نقل",
])
def test_namesakes_single_parts_and_split_parts_do_not_match(text):
    assert _found(HAMADA, text) == {}


@pytest.mark.parametrize("text", ["Mohammed, 34, spent six years there",
                                  "Abu Mohammed, a driver, said", "Abu Ahmad said",
                                  "قال أبو محمد إن الحاجز اختفى", "Jolani told CNN"])
def test_generic_names_and_a_kunya_never_match_alone(text):
    jolani = _watch({"name": "Ahmed al-Sharaa", "also": ["Abu Mohammed al-Jolani"]})
    assert _found(jolani, text) == {}
    assert _found(jolani, "Abu Mohammad al-Julani spoke")


def test_a_given_name_with_the_article_is_a_word_not_a_name():
    raed = _watch({"name": "Raed al-Saleh", "also": ["رائد الصالح"]})
    assert _found(raed, "قال الرائد صالح العلي إن القوات انسحبت") == {}   # Major Saleh
    assert _found(raed, "قال رائد الصالح إن البحث انتهى")


def test_each_match_says_through_which_form_and_why():
    (hit,) = _found(HAMADA, "Mazin Hamadeh, 47, was found")["Mazen al-Hamada"]
    assert hit.matched == "Mazin Hamadeh" and hit.field == "text" and hit.start == 0
    assert hit.term == "Mazen al-Hamada: Mazin ≈ Mazen, Hamadeh ≈ Hamada; in order"
    (hit,) = _found(HAMADA, "مازن الحمادة")["Mazen al-Hamada"]
    assert hit.term.startswith("مازن الحمادة: مازن = مازن")
    ok, lines = match.explain_match(HAMADA[0], {"title": "Hamadeh", "summary": "", "text": ""})
    assert not ok and "only single parts" in lines[1] and "Hamadeh" in lines[1]


# ---------------------------------------------------------------- judged as items

def _rules(people_raw, topic=None):
    topic, alerts = parse_rule_set(topic or {"any": ["prison*"]}, [
        {"name": "Torture", "any": ["tortur*"]}], {})
    return topic, people.with_people(people.parse_people(people_raw), alerts)


def test_a_watched_person_puts_an_item_on_topic_unless_on_topic_is_false():
    topic, alerts = _rules([{"name": "Mazen al-Hamada"},
                            {"name": "Jamil Hassan", "on_topic": False}])
    on, hits = match.judge(topic, alerts, "The funeral of Mazen al-Hamada", "", "")
    assert on is not None and [m.rule for m in hits] == ["Mazen al-Hamada"]
    assert on.hits[0].matched == "Mazen al-Hamada"
    assert match.judge(topic, alerts, "Jamil Hassan spoke", "", "") == (None, [])
    on, hits = match.judge(topic, alerts, "Jamil Hassan ran the prison and its torture", "", "")
    assert [m.rule for m in hits] == ["Jamil Hassan", "Torture"]


def test_rematch_finds_people_too():
    topic, alerts = _rules([{"name": "Austin Tice"}])
    found = match.match_alerts(alerts, "Austin Tice's parents", "", "tortured")
    assert [m.rule for m in found] == ["Austin Tice", "Torture"]


def _default_headlines(arabic: bool):
    settings = load_settings(DEFAULT)
    for person in settings.people:
        spelling = next((a for a in person.also if _is_arabic(a)), None) if arabic \
            else person.name
        if spelling:
            yield person, (f"شيّع المئات جثمان {spelling} في دمشق" if arabic
                           else f"Hundreds march at the funeral of {spelling} in Damascus")


def _is_arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


@pytest.mark.parametrize("arabic", [False, True], ids=["latin", "arabic"])
def test_a_headline_naming_only_a_watched_person_is_kept_and_alerted(arabic):
    settings = load_settings(DEFAULT)
    rules = RuleSet.of(settings.topic, settings.alerts)
    checked = dropped_without_people = 0
    for person, headline in _default_headlines(arabic):
        entry = FeedEntry("Example", "https://example.org/feed", "https://example.org/a",
                          title=headline)
        article = fallback_article(entry, "no page in this test")
        verdict = judge_page(article, headline, "", rules, DedupeConfig())
        # no prison, no detention word: the topic rule alone drops all but Austin Tice
        # (whom it names)
        dropped_without_people += match.judge(settings.topic, (), headline, "", "")[0] is None
        alerts = {m.rule: m for m in verdict.alerts}
        if person.on_topic:
            assert verdict.topic is not None, headline
            assert person.name in alerts, headline
            assert alerts[person.name].hits[0].matched in headline
        else:
            assert verdict.topic is None, headline          # an official: alert only
        checked += 1
    assert checked >= (14 if arabic else 17) and dropped_without_people == checked - 1
