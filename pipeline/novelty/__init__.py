"""The novelty stage: which sentences of a report are new to a reader who has read the
seed reports and the earlier reports.

``sentences`` cuts English and Arabic text into sentences; ``facts`` reduces each to
its content words and key facts (numbers, names); ``compare`` finds the sentences no
known text says (:func:`new_sentences`, :class:`Knowledge` for many reports against one growing
body of known text), and whether a near-copy is an *update* (:func:`update_sentences`).
Pure functions over texts: no storage, no clock. May import ``pipeline.textnorm`` and
rapidfuzz; never another stage.
"""

from pipeline.novelty.compare import (Knowledge, Meaning, NewSentence, meaning,
                                      new_sentences, news_words, update_sentences)
from pipeline.novelty.sentences import Sentence, split_sentences

__all__ = ["Knowledge", "Meaning", "NewSentence", "Sentence", "meaning", "new_sentences",
           "news_words", "split_sentences", "update_sentences"]
