"""Turn whatever a user types into a search into a query that the engine can only read as words.

Nothing the user wrote reaches SQLite FTS5 or PostgreSQL `to_tsquery` as syntax: the text is cut into
word tokens, and each token goes in quoted (FTS5 strings, tsquery lexemes). The only operators in the
result are the ones written here. Quotes, `*`, `:`, `NEAR`, `AND`/`OR`/`NOT`, parentheses, a lone
`-`, `^` and an empty string are therefore all ordinary input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.challenges.errortext import error_signatures

MAX_TERMS = 16
MAX_TERM_CHARS = 64
# The last term is searched as a prefix (the user may still be typing it) once it is this long;
# a shorter prefix would match a large share of the vocabulary.
PREFIX_MIN_CHARS = 3
# The FTS5 column that holds `error_signatures` of each challenge.
ERROR_COLUMN = "error_terms"

# Letters and digits in any script. FTS5's unicode61 tokenizer and PostgreSQL's parser both split a word
# at an apostrophe ("don't" is indexed as "don", "t"), so such a word is searched as that phrase.
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_APOSTROPHES = re.compile(r"['\u2019]")


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _tsquery_lexeme(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    terms: tuple[str, ...]
    errors: tuple[str, ...]

    def is_empty(self) -> bool:
        return not self.terms and not self.errors

    def prefix_term(self, *, prefix: bool) -> str | None:
        """The last term when it is searched as a prefix: asked for, and long enough to be selective."""
        if prefix and self.terms and len(self.terms[-1]) >= PREFIX_MIN_CHARS:
            return self.terms[-1]
        return None

    def fts5_words(self, *, prefix: bool = True) -> tuple[str, ...]:
        """One FTS5 phrase per term, each a quoted string; the last one a prefix if `prefix_term` says so."""
        words = [_fts5_string(term) for term in self.terms]
        if self.prefix_term(prefix=prefix) is not None:
            words[-1] += " *"
        return tuple(words)

    def fts5_errors(self) -> tuple[str, ...]:
        """One FTS5 phrase per error signature, limited to the column that holds them."""
        return tuple(f"{ERROR_COLUMN} : {_fts5_string(token)}" for token in self.errors)

    def fts5(self, *, match_all: bool = True, prefix: bool = True) -> str | None:
        """An FTS5 MATCH expression: the terms (AND or OR), or any error signature in its column.

        `prefix` searches the last term as a prefix, for typing-as-you-search; a submitted search
        asks for whole words, which the index answers far faster for common ones.
        """
        if self.is_empty():
            return None
        alternatives = list(self.fts5_errors())
        if self.terms:
            words = self.fts5_words(prefix=prefix)
            alternatives.insert(0, "(" + (" AND " if match_all else " OR ").join(words) + ")")
        return " OR ".join(alternatives)

    def tsquery_words(self, *, prefix: bool = True) -> tuple[str, ...]:
        """One `to_tsquery` lexeme per term (a term with a space becomes a phrase); the last maybe a prefix."""
        words = [_tsquery_lexeme(term) for term in self.terms]
        if self.prefix_term(prefix=prefix) is not None:
            words[-1] += ":*"
        return tuple(words)

    def tsquery_errors(self) -> tuple[str, ...]:
        """One lexeme per error signature, limited to weight A (where the signatures are indexed)."""
        return tuple(_tsquery_lexeme(token) + ":A" for token in self.errors)

    def tsquery(self, *, match_all: bool = True, prefix: bool = True) -> str | None:
        """A string for `to_tsquery('simple', ...)`: quoted lexemes, the last a prefix, errors OR'ed in."""
        if self.is_empty():
            return None
        alternatives = list(self.tsquery_errors())
        if self.terms:
            words = self.tsquery_words(prefix=prefix)
            alternatives.insert(0, "(" + (" & " if match_all else " | ").join(words) + ")")
        return " | ".join(alternatives)


def _terms(text: str) -> tuple[str, ...]:
    terms: dict[str, None] = {}
    for match in _WORD.finditer(text):
        term = _APOSTROPHES.sub(" ", match.group()).lower()[:MAX_TERM_CHARS].strip()
        terms.setdefault(term)
        if len(terms) == MAX_TERMS:
            break
    return tuple(terms)


# Words in nearly every post: they rank nothing and make the index read its longest lists. They
# are dropped from a query that has other words.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "why",
        "with",
        "you",
        "your",
    ]
)


def parse_query(text: str) -> SearchQuery:
    """The words and error signatures of `text`; never raises, whatever the text."""
    # NFKC first, so that full-width and decomposed forms are the words they look like.
    normalised = unicodedata.normalize("NFKC", text)
    terms = _terms(normalised)
    meaningful = tuple(term for term in terms if term not in STOP_WORDS)
    return SearchQuery(terms=meaningful or terms, errors=error_signatures(normalised))
