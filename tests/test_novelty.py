"""The novelty stage, one behaviour at a time: sentences cut in English and Arabic,
what makes a sentence new (a new number, a new name, another statement) or not (another
spelling, another number format, a light rewording), and the update decision."""

from pathlib import Path

from pipeline import novelty

SEED = (Path(__file__).resolve().parent.parent / "seeds/000_ecf7d2cffda6f16f.txt").read_text(
    encoding="utf-8")


def _texts(text):
    return [s.text for s in novelty.split_sentences(text)]


def test_english_sentences_keep_abbreviations_initials_decimals_and_quotes_whole():
    assert _texts("Two U.S. officers were charged. Mr. Smith said 3.5 percent rose on Oct. 25 "
                  "with P.J. Fleck. “Don’t be afraid… Assad has fallen,” a rebel said. Why?") == [
        "Two U.S. officers were charged.",
        "Mr. Smith said 3.5 percent rose on Oct. 25 with P.J. Fleck.",
        "“Don’t be afraid… Assad has fallen,” a rebel said.", "Why?"]


def test_arabic_sentences_end_at_the_full_stop_question_mark_and_semicolon():
    assert _texts("أفرج عن آلاف المعتقلين. هل انتهى البحث؟ قال المدير إن الفرق لم تعثر على شيء؛ "
                  "لكن البحث مستمر.") == [
        "أفرج عن آلاف المعتقلين.", "هل انتهى البحث؟", "قال المدير إن الفرق لم تعثر على شيء؛",
        "لكن البحث مستمر."]


def test_an_arabic_comma_ends_a_sentence_only_between_two_long_clauses():
    short = "أفرج عن آلاف الأشخاص، بينهم نساء وأطفال، من السجون."
    assert _texts(short) == [short]
    long_ = ("وقالت الرابطة إن عدد المعتقلين المحررين بلغ أكثر من أربعة آلاف شخص، وإن عائلات كثيرة "
             "ما زالت تبحث عن أبنائها في السجون والمستشفيات.")
    assert len(_texts(long_)) == 2


def test_a_quote_in_guillemets_is_not_cut_and_offsets_point_into_the_text():
    text = "قال: «لا تخافوا. بشار سقط». ثم خرجت النساء."
    sentences = novelty.split_sentences(text)
    assert [s.text for s in sentences] == ["قال: «لا تخافوا. بشار سقط».", "ثم خرجت النساء."]
    assert all(text[s.start:s.end] == s.text for s in sentences)


def _new(report, known=(SEED,)):
    return [(s.text, s.facts) for s in novelty.new_sentences(report, list(known))]


def test_other_spellings_and_number_formats_are_not_new():
    assert _new("At Saydnaya, Amnesty and other groups claim dozens of people were secretly "
                "executed every week, estimating up to 13000 Syrians were killed between 2011 "
                "and 2016. Tens of thousands of detainees have so far been freed from Syria's "
                "prisons, according to Rami Abdel Rahman of the Syrian Observatory.") == []


def test_a_new_number_of_victims_is_new_and_named_as_the_new_fact():
    (found,) = _new("At Sednaya, Amnesty and other groups claim dozens of people were secretly "
                    "executed every week, estimating up to 30,000 Syrians were killed between "
                    "2011 and 2016.")
    assert found[1] == ("30000",)


def test_a_new_name_in_a_known_sentence_is_new():
    (found,) = _new("The civil defence force, known as the White Helmets and led by Raed al-Saleh, "
                    "said their teams have begun a mission to access the lower layers.")
    assert "Raed al Saleh" in found[1]


def test_a_light_rewording_is_not_new_and_another_statement_is():
    assert _new("A toddler could be seen walking down the corridor as they left their cells, "
                "apparently having been held with his mother.") == []
    assert len(_new("The White Helmets say it did not find any unopened or hidden areas.")) == 1


def test_arabic_other_spellings_and_digits_are_not_new_but_a_new_figure_is():
    known = ["وتقول منظمة العفو الدولية إن ما يصل إلى 13 ألف سوري قُتلوا في صيدنايا بين عامي 2011 و2016."]
    assert _new("وتقول منظمه العفو الدوليه ان ما يصل الى ١٣ ألف سوري قتلوا في صدنايا بين عامي "
                "٢٠١١ و٢٠١٦.", known) == []
    (found,) = _new("وتقول منظمة العفو الدولية إن ما يصل إلى 30 ألف سوري قُتلوا في صيدنايا بين "
                    "عامي 2011 و2016.", known)
    assert found[1] == ("30000",)


def test_page_furniture_is_never_new():
    assert _new("Read more:\nAdvertisement\nShare this article", known=()) == []


def test_knowledge_grows_as_reports_are_read():
    knowledge = novelty.Knowledge([SEED])
    report = "Mazen al-Hamada's body was found with about 40 others at a military hospital."
    assert len(knowledge.new_in(report)) == 1
    knowledge.learn(report)
    assert knowledge.new_in(report) == []


def test_an_update_adds_enough_new_sentences_and_a_copy_does_not():
    added = ("Raed al-Saleh told Al Jazeera rescuers found bodies in ovens at the prison. "
             "The White Helmets say it did not find any unopened or hidden areas.")
    update = novelty.update_sentences(SEED + "\n" + added, [SEED], min_new_sentences=2,
                                      min_new_share=0.15)
    assert update is not None and len(update) == 2
    one = SEED.replace("up to 13,000", "up to 30,000")
    assert novelty.update_sentences(one, [SEED], min_new_sentences=2, min_new_share=0.15) is None
    assert novelty.update_sentences(SEED, [SEED], min_new_sentences=2, min_new_share=0.15) is None
