"""How each engine spells a document and a query for storage/search.py.

Both hold the normalised words of an item (``pipeline.textnorm``) and must let
a query word match as the rule language matches it: an Arabic word also behind
an attached prefix (و ب ل ك ف ال …), a phrase as adjacent words in one field.

PostgreSQL: the tsvector is written here, not by ``to_tsvector``: each word at
its position together with its prefix-less forms (``textnorm.word_forms``) at
the same position, so بصيدنايا is indexed as itself and as صيدنايا, and a query
is just the words (``'a' <-> 'b'`` for a phrase). No text-search dictionary
touches anything: the normaliser has already decided what a word is.

SQLite FTS5 cannot hold two words at one position without a tokenizer written
in C, so the query does the work instead: a word becomes itself OR each prefix
form of it (``forms``) that the index holds (looked up first), and a phrase
every combination of its words' forms, so an Arabic phrase stays a few phrases.
"""

from __future__ import annotations

from itertools import product
from typing import Callable, Iterable, Sequence

from pipeline.textnorm import ARABIC_PREFIXES, word_forms

MAX_PHRASE_SPELLINGS = 256   # beyond this an Arabic phrase is matched as "all its words"
PG_MAX_POSITION = 16383      # PostgreSQL's limit; later words are still found, not as phrases
PG_MAX_POSITIONS = 255       # positions kept per lexeme
PG_MAX_LEXEME = 500          # characters; a longer "word" is junk (a URL, base64)


def _is_arabic(word: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in word)


def forms(word: str) -> list[str]:
    """The index words that hold ``word`` in the rule language: itself and, for an
    Arabic word, itself behind each attached prefix (``word_forms`` reversed)."""
    if len(word) < 2 or not _is_arabic(word):
        return [word]
    return [word] + [p + word for p in ARABIC_PREFIXES]


# --- PostgreSQL ------------------------------------------------------------------

def pg_document(fields: Sequence[tuple[Sequence[str], str]]) -> str:
    """A tsvector literal for [(words, weight)]: every word with its forms at its
    position; a gap between fields keeps a phrase inside one."""
    positions: dict[str, list[str]] = {}
    pos = 0
    for words, weight in fields:
        pos += 1
        for word in words:
            pos += 1
            if pos > PG_MAX_POSITION:
                break
            if len(word) > PG_MAX_LEXEME:
                continue
            for form in word_forms(word):
                kept = positions.setdefault(form, [])
                if len(kept) < PG_MAX_POSITIONS:
                    kept.append(f"{pos}{weight}")
    return " ".join(f"'{lexeme}':{','.join(p)}" for lexeme, p in positions.items())


def pg_query(groups: Iterable[Iterable], exclude: Iterable) -> str | None:
    """A tsquery: all groups (any term of each), none of ``exclude``."""
    positive = " & ".join("(" + pg_terms(g) + ")" for g in groups)
    if not positive:
        return None
    excluded = list(exclude)
    return f"({positive}) & !({pg_terms(excluded)})" if excluded else positive


def pg_terms(terms: Iterable) -> str:
    return " | ".join("(" + " <-> ".join(f"'{w}'" + (":*" if prefix else "")
                                         for w, prefix in t.words) + ")" for t in terms)


# --- SQLite FTS5 -------------------------------------------------------------------

def fts_query(groups: Iterable[Iterable], exclude: Iterable,
              indexed: Callable[[str, bool], bool] | None) -> str | None:
    """An FTS5 MATCH expression; ``indexed(word, prefix)`` says whether the index
    holds a form (None: do not ask, keep every form)."""
    positive = " AND ".join("(" + fts_terms(g, indexed) + ")" for g in groups)
    if not positive:
        return None
    excluded = list(exclude)
    return f"({positive}) NOT ({fts_terms(excluded, indexed)})" if excluded else positive


def fts_terms(terms: Iterable, indexed: Callable[[str, bool], bool] | None) -> str:
    return " OR ".join(_fts_term(t.words, indexed) for t in terms)


def _fts_word(word: str, prefix: bool) -> str:
    return '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")


def _fts_term(words: Sequence[tuple[str, bool]], indexed) -> str:
    choices = []
    for word, prefix in words:
        found = forms(word)
        if len(found) > 1 and indexed is not None:
            # bm25 costs per alternative and matching row: 24 spellings of which 3
            # occur cost 8 times what the 3 do (measured on 100,000 items)
            found = [f for f in found if indexed(f, prefix)] or [word]
        choices.append([(f, prefix) for f in found])
    total = 1
    for c in choices:
        total *= len(c)
    if total > MAX_PHRASE_SPELLINGS:
        return "(" + " AND ".join("(" + " OR ".join(_fts_word(f, p) for f, p in c) + ")"
                                  for c in choices) + ")"
    # FTS5 joins the strings of a phrase with "+": "a" + "b"* is a then a word starting b
    return "(" + " OR ".join(" + ".join(_fts_word(f, p) for f, p in combo)
                             for combo in product(*choices)) + ")"


def fts_probe(word: str, prefix: bool) -> str:
    """The MATCH expression that asks whether the index holds ``word``."""
    return _fts_word(word, prefix)
