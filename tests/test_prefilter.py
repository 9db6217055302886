"""The pre-filter (``extract.prefilter``) is sound: it never drops a page the full
judgement keeps, and a page it lets through is judged exactly as without it.

Over real pages (the extraction benchmark's, the committed fixtures and, when
present, the 181 of /work/shared) paired with the replay's real feed entries,
and over a seeded generator of random rules, people and pages.
"""

import dataclasses
import gzip
import json
import random
from pathlib import Path

import pytest

from newsweb import FIXTURES, SHARED_PAGES, article_pages
from pipeline.config import DedupeConfig, ExtractConfig, load_settings
from pipeline.errors import ExtractError
from pipeline.extract import extract_article
from pipeline.extract.visible import parse_page, visible_text
from pipeline.match import analyse, match_document, parse_rule_set
from pipeline.match.people import parse_people, with_people
from pipeline.match.relax import Vocabulary, maybe_on_topic, rule_maybe
from pipeline.verdict import RuleSet, judge_html, judge_page

ROOT = Path(__file__).resolve().parent.parent
ON, OFF = ExtractConfig(prefilter=True), ExtractConfig(prefilter=False)
URL = "https://news.example.org/2024/12/09/page"


def _shipped() -> RuleSet:
    s = load_settings(ROOT / "config" / "watch.yaml")
    return RuleSet.of(s.topic, s.alerts)


def _real_pages() -> list[bytes]:
    pages = list(article_pages().values())
    shared = SHARED_PAGES / "html"
    if shared.is_dir():
        pages += [gzip.decompress(p.read_bytes()) for p in sorted(shared.glob("*.html.gz"))]
    return list(dict.fromkeys(pages))


def _entries() -> list[dict]:
    lines = (FIXTURES / "replay" / "entries.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _kept(verdict) -> bool:
    return verdict.article is not None and verdict.topic is not None


def test_kept_set_is_identical_on_real_pages_and_the_replay():
    """Every replay entry with a real page (round robin): the items kept with the
    pre-filter are those kept without it, with the same verdicts."""
    rules, dedupe = _shipped(), DedupeConfig()
    pages = _real_pages()
    full: dict[int, object] = {}            # page -> its article (extracted once)
    for k, html in enumerate(pages):
        try:
            full[k] = extract_article(html, URL, OFF)
        except ExtractError:
            full[k] = None
    kept_full, kept_pre, filtered = set(), set(), 0
    for i, e in enumerate(_entries()):
        k, title, summary = i % len(pages), e["title"], e["description"] or ""
        if full[k] is not None:
            verdict = judge_page(full[k], title, summary, rules, dedupe)
            if _kept(verdict):
                kept_full.add(i)
        pre = judge_html(pages[k], URL, ON, dedupe, rules, title, summary)
        filtered += pre.prefiltered
        if _kept(pre):
            kept_pre.add(i)
            assert pre == verdict, e["link"]
    assert kept_full == kept_pre
    assert len(kept_full) >= 30                  # the replay's on-topic entries are there
    assert filtered >= 0.7 * len(_entries())     # and most pages are not extracted


def test_pages_given_as_a_tree_extract_the_same():
    """The pre-filter hands trafilatura the tree it parsed: same article as from bytes."""
    for html in _real_pages()[:60]:
        try:
            want = extract_article(html, URL, OFF)
        except ExtractError:
            with pytest.raises(ExtractError):
                extract_article(html, URL, OFF, tree=parse_page(html))
            continue
        assert extract_article(html, URL, OFF, tree=parse_page(html)) == want


def test_a_prefiltered_page_is_marked_and_keeps_its_raw_page():
    rules, dedupe = _shipped(), DedupeConfig()
    html = next(iter(article_pages().values()))
    verdict = judge_html(html, URL, ON, dedupe, rules, "Polar bear attack", "In Canada")
    assert verdict.prefiltered and verdict.topic is None and verdict.article is not None
    assert verdict.title == "Polar bear attack"
    off = judge_html(html, URL, OFF, dedupe, rules, "Polar bear attack", "In Canada")
    assert not off.prefiltered and off.topic is None


def _page(paragraphs: list[str], rnd: random.Random) -> bytes:
    """A news page whose article is ``paragraphs``, words split over inline tags."""
    body = []
    for para in paragraphs:
        words = para.split(" ")
        out = []
        for w in words:
            r = rnd.random()
            if r < 0.1:
                out.append(f"<b>{w}</b>")
            elif r < 0.15 and len(w) > 3:
                out.append(f"{w[:2]}<span>{w[2:]}</span>")      # a word across a tag
            elif r < 0.18:
                out.append(f'<a href="/x">{w}</a>')
            else:
                out.append(w)
        body.append("<p>" + " ".join(out) + "</p>")
    return (f"<html><head><title>{paragraphs[0][:60]}</title>"
            "<script>var detained = 'Sednaya prison Syria';</script></head><body>"
            "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>"
            f"{paragraphs[0][:60]}</h1>{''.join(body)}</article>"
            "<footer>Copyright</footer></body></html>").encode()


WORDS = ["Syria", "Syria's", "Syrian", "prison", "prisoners", "detained", "detainee",
         "Sednaya", "Saydnaya", "missing", "bodies", "found", "released", "mass", "grave",
         "the", "families", "Damascus", "court", "police", "bear", "election", "Assad",
         "صيدنايا", "بالسجن", "سجن", "المعتقلين", "معتقلين", "دمشق", "سوريا", "Islamic",
         "State", "shelling", "Caesar", "files", "executed", "Mazen", "al-Hamada", "Hamada,",
         "Raed", "al-Saleh", "Austin", "Tice", "Dall'Oglio", "Paolo", "مازن", "الحمادة",
         "Zaitouneh", "Razan", "Zaitouna", "Khatib", "Hamza", "Omar", "Alshogre", "read",
         "sale", "Rami", "Abdurrahman", "Abdul", "Ghany", "Fadel", "Sed\u00adnaya", "ISIS"]
TERMS = ["Syria*", "prison*", "detain*", "Sednaya", "{S}", "\"mass grave\"", "missing",
         "found", "bodies", "سجن*", "المعتقلين", "معتقل*", "صيدنايا", "Damascus", "court*",
         "\"the missing\"", "executed", "Caesar", "files", "Assad*", "released", "police"]
PEOPLE = [{"name": "Mazen al-Hamada", "also": ["مازن الحمادة"]}, {"name": "Austin Tice"},
          {"name": "Raed al-Saleh"}, {"name": "Paolo Dall'Oglio"},
          {"name": "Razan Zaitouneh"}, {"name": "Hamza al-Khatib"},
          {"name": "Omar Alshogre"}, {"name": "Fadel Abdul Ghany"},
          {"name": "Rami Abdurrahman", "on_topic": False}]


def _random_rules(rnd: random.Random):
    def clause():
        c = {}
        if rnd.random() < 0.5:
            c["any"] = rnd.sample(TERMS, rnd.randint(1, 3))
        if rnd.random() < 0.6 or not c:
            c["all"] = [rnd.choice(TERMS) if rnd.random() < 0.6 else rnd.sample(TERMS, 2)
                        for _ in range(rnd.randint(2, 3))]
            if rnd.random() < 0.5:
                c["within"] = rnd.randint(1, 12)
        if rnd.random() < 0.3:
            c["none"] = rnd.sample(TERMS, 1)
        return c
    if rnd.random() < 0.5:
        topic = clause()
    else:
        topic = {"any_of": [clause() for _ in range(rnd.randint(1, 3))]}
        if rnd.random() < 0.3:
            topic["none"] = rnd.sample(TERMS, 1)
    variants = {"S": ["Sednaya", "Saydnaya", "صيدنايا"]}
    topic_rule, alerts = parse_rule_set(topic, [{"name": "a", "any": ["found"]}], variants)
    people = parse_people(rnd.sample(PEOPLE, rnd.randint(0, 4)))
    return topic_rule, with_people(people, alerts)


def _random_text(rnd: random.Random, n: int) -> str:
    return " ".join(rnd.choice(WORDS) if rnd.random() < 0.5 else rnd.choice(
        ["a", "on", "of", "and", "said", "in", ",", "."]) for _ in range(n))


def test_random_rules_never_filter_a_document_they_match():
    """Relaxed rule on the words of a document, against the rule on the document."""
    rnd = random.Random(19)
    matched = 0
    for _ in range(2000):
        topic, alerts = _random_rules(rnd)
        fields = {"title": _random_text(rnd, 8), "summary": _random_text(rnd, 15),
                  "text": _random_text(rnd, 60)}
        doc = analyse(fields)
        if match_document(topic, doc) is not None:
            matched += 1
            assert rule_maybe(topic, Vocabulary(fields.values())), (topic, fields)
    assert matched > 300


def test_random_rules_and_pages_never_filter_a_kept_page():
    """Random rules and people, random pages through trafilatura: a page the full
    judgement keeps always passes the pre-filter, and is judged the same."""
    rnd = random.Random(7)
    kept = 0
    for case in range(300):
        topic, alerts = _random_rules(rnd)
        rules = RuleSet.of(topic, alerts)
        paragraphs = [_random_text(rnd, rnd.randint(25, 45)) for _ in range(rnd.randint(3, 6))]
        html = _page(paragraphs, rnd)
        title, summary = _random_text(rnd, 6), _random_text(rnd, 10)
        full = judge_html(html, URL, OFF, DedupeConfig(), rules, title, summary)
        if not _kept(full):
            continue
        kept += 1
        assert maybe_on_topic(topic, alerts, (*visible_text(parse_page(html)).fields(),
                                              title, summary)), (case, html)
        pre = judge_html(html, URL, ON, DedupeConfig(), rules, title, summary)
        assert dataclasses.replace(pre, page=None) == full, case
    assert kept > 60


def test_people_relaxation_needs_two_parts_of_one_name_close_together():
    """A lone common part, or two parts far apart, is no reason to extract."""
    rules = _shipped()
    topic, alerts = rules.rules()
    filler = " ".join(["the weather was fine and the market was calm"] * 5)

    def maybe(text):
        return maybe_on_topic(topic, alerts, (text, "", ""))
    assert maybe("Activist Mazen al-Hamada was found.")
    assert maybe("Hamada, Mazen")
    assert maybe("وفاة الناشط مازن الحمادة")
    assert not maybe("A man from Austin, Texas, won.")
    assert not maybe(f"Please read this. {filler} The sale ends today.")
    assert not maybe("Paolo Maldini scored below the bar.")
