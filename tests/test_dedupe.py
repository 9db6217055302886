"""Unit tests of the dedupe stage: canonical URLs, fingerprints, copies, stories."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.config import DedupeConfig
from pipeline.dedupe import (DuplicateIndex, Fingerprint, StoryIndex, canonical_url,
                             fingerprint, load_seeds)
from pipeline.dedupe.fingerprints import words

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_ecf7d2cffda6f16f.txt"
CFG = DedupeConfig()
SEED_FURNITURE = ["Syria latest as Assad flees to Moscow", "Read more:",
                  "From eye doctor to dictator", "Who are the Syrian rebels?"]

# A different article on the same event, written from scratch but quoting the
# same people (as wire rewrites do): it shares quotes, not text.
REWRITE = """Rebels threw open the gates of Sednaya military prison north of Damascus on Monday,
and crowds of relatives searched its corridors for missing sons and brothers.
Amnesty International has called the jail a "human slaughterhouse". The White Helmets
rescue group said it had sent search and rescue units, wall-breaching specialists, iron
door-opening crews, trained dog units, and medical responders to look for hidden cells.
Rights monitors estimate that more than 100,000 people disappeared into the Assad
government's detention system since 2011. Families gathered outside with photographs,
asking every freed detainee whether they had seen their relatives. "I haven't seen the
sun until today," said writer Bashar Barhoum, 63, freed from another prison in the capital.
Many of those released were too weak to walk and were carried out by volunteers, while
others could not remember their own names after years in solitary confinement. Lawyers
urged the new authorities to protect the prison archives, which may hold the records
needed to trace the fate of the disappeared and to prosecute those responsible."""


@pytest.fixture(scope="module")
def seed_text() -> str:
    return next(s.text for s in load_seeds(ROOT / "seeds") if s.name == SEED)


@pytest.fixture(scope="module")
def seed_index(seed_text) -> DuplicateIndex:
    index = DuplicateIndex(CFG)
    index.add(SEED, fingerprint(seed_text, CFG))
    return index


# ---------------------------------------------------------------- canonical_url

@pytest.mark.parametrize("url, expected", [
    ("https://news.sky.com/story/a-13270197?utm_source=rss&utm_medium=x&fbclid=1#comments",
     "https://news.sky.com/story/a-13270197"),
    ("HTTPS://News.Sky.COM:443/story/a-13270197/", "https://news.sky.com/story/a-13270197"),
    ("http://example.com:80/a?gclid=1&mc_cid=2&mc_eid=3&ocid=4&cmpid=5&at_medium=RSS",
     "http://example.com/a"),
    ("https://www.bbc.co.uk/news/world-middle-east-123?at_campaign=64&at_medium=custom7",
     "https://www.bbc.co.uk/news/world-middle-east-123"),
    ("https://example.com/news/amp/syria-prisons", "https://example.com/news/syria-prisons"),
    ("https://example.com/news/syria-prisons/amp", "https://example.com/news/syria-prisons"),
    ("https://example.com/news/syria-prisons?amp", "https://example.com/news/syria-prisons"),
    ("https://example.com/news/syria-prisons?amp=1", "https://example.com/news/syria-prisons"),
    ("https://example.com/a?outputType=amp", "https://example.com/a"),
    ("https://example.com/news/syria-prisons.amp.html", "https://example.com/news/syria-prisons.html"),
    ("https://amp.example.com/news/syria-prisons", "https://example.com/news/syria-prisons"),
    ("https://www.google.com/amp/s/www.example.com/news/syria-prisons",
     "https://www.example.com/news/syria-prisons"),
    ("https://www.abc.net.au/news/story?id=116475505&utm_campaign=x",
     "https://www.abc.net.au/news/story?id=116475505"),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_keeps_meaningful_params_and_never_raises():
    assert canonical_url("https://x.org/view?page=2&id=7") == "https://x.org/view?id=7&page=2"
    assert canonical_url("https://x.org/a?id=1") != canonical_url("https://x.org/a?id=2")
    for junk in ("  not a url  ", "", "http://", "ftp://x.org/a", "http://[::1", "\x00\ud800"):
        assert canonical_url(junk) == junk.strip()


# ---------------------------------------------------------------- fingerprints

def test_fingerprint_round_trip_bytes_and_pickle(seed_text):
    fp = fingerprint(seed_text, CFG)
    assert isinstance(fp, Fingerprint)
    assert Fingerprint.from_bytes(fp.to_bytes()) == fp
    assert pickle.loads(pickle.dumps(fp)) == fp
    assert len(fp.to_bytes()) <= 9 + 4 * CFG.sketch_size
    assert Fingerprint.from_bytes(b"\x02junk") is None     # not a fingerprint: skipped


def test_fingerprint_is_none_for_short_text():
    assert fingerprint("Assad has fallen, rebels say.", CFG) is None
    assert fingerprint("", CFG) is None


def test_normalisation_folds_typography_case_and_arabic():
    assert words("“Don’t be afraid…” — SYRIA’s") == words('"Don\'t be afraid..." - syria\'s')
    assert words("سجن صيدنايا") == words("سِجْنُ صَيْدْنـايا")
    assert words("أحمد إلى") == words("احمد الي")


def test_fingerprint_of_arabic_text_finds_its_copy():
    text = " ".join(["أفرجت فصائل المعارضة عن آلاف المعتقلين من سجن صيدنايا قرب دمشق"] * 2 +
                    ["وقالت منظمة الخوذ البيضاء إن فرقها تبحث عن زنازين سرية تحت الأرض",
                     "ووصفت منظمة العفو الدولية السجن بأنه مسلخ بشري"] * 2)
    index = DuplicateIndex(CFG)
    index.add("ar", fingerprint(text, CFG))
    copy = "اقرأ أيضا\n" + text.replace("ال", "ال").replace("سجن", "سِجْن")
    assert index.find_duplicate(fingerprint(copy, CFG)).key == "ar"


# ---------------------------------------------------------------- copies

def test_seed_recognised_without_or_with_other_furniture(seed_text, seed_index):
    lines = seed_text.splitlines()
    clean = "\n".join(ln for ln in lines if ln.strip() not in SEED_FURNITURE)
    other = "\n".join("Advertisement" if ln.strip() in SEED_FURNITURE else ln for ln in lines)
    framed = ("Skip to content\nWorld | Middle East\n" + other +
              "\nFollow us on Facebook and Twitter\nMost read\nComments are closed.")
    for text in (clean, other, framed):
        match = seed_index.find_duplicate(fingerprint(text, CFG))
        assert match is not None and match.key == SEED


def test_cut_and_edited_copies_of_seed_are_duplicates(seed_text, seed_index):
    lines = [ln for ln in seed_text.splitlines() if ln.strip() not in SEED_FURNITURE]
    cut_start = "\n".join(lines[4:])
    cut_end = "\n".join(lines[:-6])
    edited = ("Syria: freed prisoners tell of torture\n" +
              "\n".join(lines[:9] + lines[10:]).replace("’", "'").replace("“", '"')
              .replace("”", '"') + "\nThe UN called for access to all detention sites.")
    for text in (cut_start, cut_end, edited):
        assert seed_index.find_duplicate(fingerprint(text, CFG)).key == SEED


def test_copy_embedded_in_longer_page_and_excerpt(seed_text, seed_index):
    page = ("Live: the fall of Assad. Follow our coverage of the rebel advance across Syria, "
            "with reports from Damascus, Homs and the coast as they come in.\n" + seed_text +
            "\nIn other news, ministers met in Brussels to discuss the budget for next year "
            "and agreed to meet again in the spring after talks ran late into the night.")
    assert seed_index.find_duplicate(fingerprint(page, CFG)).key == SEED
    # the stored text is the longer page; the new item is the article alone
    index = DuplicateIndex(CFG)
    index.add("page", fingerprint(page, CFG))
    excerpt = "\n".join(seed_text.splitlines()[:8])
    match = index.find_duplicate(fingerprint(excerpt, CFG))
    assert match is not None and match.key == "page" and match.containment > 0.9


def test_new_page_mostly_new_text_is_not_a_copy(seed_text, seed_index):
    """The old report inside a much longer new page: the page is news."""
    new_text = " ".join(f"Paragraph {i} of a long new investigation into detention sites "
                        f"across northern Syria, with testimony number {i} from survivors "
                        f"held in {['Idlib', 'Aleppo', 'Homs', 'Hama'][i % 4]}." for i in range(60))
    page = new_text + "\n" + seed_text
    assert seed_index.find_duplicate(fingerprint(page, CFG)) is None


def test_different_article_with_shared_quotes_is_not_a_duplicate(seed_index):
    assert seed_index.find_duplicate(fingerprint(REWRITE, CFG)) is None


def test_oldest_copy_is_named(seed_text):
    index = DuplicateIndex(CFG)
    fp = fingerprint(seed_text, CFG)
    for key in ("first", "second", "third"):
        index.add(key, fp)
    assert len(index) == 3
    assert index.find_duplicate(fp).key == "first"


def test_load_seeds(tmp_path):
    assert load_seeds(tmp_path / "missing") == []
    (tmp_path / "README.txt").write_text("about", encoding="utf-8")
    (tmp_path / "b.txt").write_text("two", encoding="utf-8")
    (tmp_path / "a.txt").write_text("one", encoding="utf-8")
    (tmp_path / "notes.md").write_text("no", encoding="utf-8")
    assert [s.name for s in load_seeds(tmp_path)] == ["a.txt", "b.txt"]
    assert [s.name for s in load_seeds(ROOT / "seeds")] == [SEED]


# ---------------------------------------------------------------- stories

def test_story_grouping_within_and_outside_window(seed_text):
    stories = StoryIndex(CFG)
    t0 = datetime(2024, 12, 9, 6, 46, tzinfo=timezone.utc)
    title = "Prisoners freed from Syria's 'human slaughterhouse' as teams investigate hidden cells"
    stories.add("sky", title, fingerprint(seed_text, CFG), t0)
    stories.add("other", "Turkey and Iraq hold talks on water sharing", None, t0)
    rewrite_title = "Rebels free thousands of prisoners from Sednaya 'slaughterhouse'"
    rewrite_fp = fingerprint(REWRITE, CFG)
    assert stories.find_story(rewrite_title, rewrite_fp, t0 + timedelta(hours=5)) == "sky"
    # by text alone (shared quotes) when the titles differ
    assert stories.find_story("Families search Damascus jail", rewrite_fp,
                              t0 + timedelta(hours=5)) == "sky"
    # outside the window: a new story
    assert stories.find_story(rewrite_title, rewrite_fp, t0 + timedelta(days=10)) is None
    # unrelated title and text: a new story
    assert stories.find_story("Syria's new leaders meet Turkish officials", None,
                              t0 + timedelta(hours=1)) is None


def test_story_key_is_the_first_item_of_the_story(seed_text):
    stories = StoryIndex(CFG)
    t0 = datetime(2024, 12, 9, tzinfo=timezone.utc)
    stories.add("a", "Sednaya prison survivors describe torture", None, t0)
    stories.add("b", "Sednaya prison survivors describe years of torture", None,
                t0 + timedelta(hours=2))
    assert stories.find_story("Survivors of Sednaya prison describe torture cells", None,
                              t0 + timedelta(hours=3)) == "a"
    assert stories.find_story("Sednaya prison torture", None, None) is None   # undated: now
