"""The search-query sanitiser: any text becomes words that FTS5 and to_tsquery can only read as words."""

from __future__ import annotations

import re
import sqlite3
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.challenges.errortext import error_signatures
from bot.challenges.query import MAX_TERM_CHARS, MAX_TERMS, SearchQuery, parse_query

NASTY = [
    "",
    " ",
    "\t\n",
    '"',
    '""',
    '"unbalanced',
    "*",
    "redis*",
    "*redis",
    ":",
    "title:redis",
    "error_terms:cors",
    "NEAR",
    "NEAR(redis cache, 2)",
    "redis NEAR cache",
    "AND",
    "OR",
    "NOT",
    "redis AND",
    "OR redis",
    "NOT redis",
    "redis NOT cache",
    "(",
    ")",
    "(redis",
    "redis)",
    "((()))",
    "-",
    "-redis",
    "redis -cache",
    "^",
    "^redis",
    "+",
    "{title details}: redis",
    "'",
    "don't",
    "\\",
    "\x00",
    "'; DROP TABLE challenges; --",
    "!@#$%^&*()_+-=[]{}|;':\",./<>?`~" * 300,
    "." * 10_000,
    "é" * 100,
    "\uff52\uff45\uff44\uff49\uff53",
    "🚀 deploy 🚀",
]

# Outside double-quoted strings, an FTS5 expression built here holds only these.
FTS5_SYNTAX = re.compile(r"^(?:\s|AND|OR|\*|\(|\)|error_terms|:)*$")
FTS5_STRING = re.compile(r'"(?:[^"]|"")*"')
# Outside single-quoted lexemes, a tsquery built here holds only these (`:A` limits a lexeme to weight A).
TSQUERY_SYNTAX = re.compile(r"^(?:\s|&|\||\(|\)|:\*|:A)*$")
TSQUERY_LEXEME = re.compile(r"'(?:[^'\\]|''|\\.)*'")

ROWS = [
    (
        "Unique email fails on signup",
        'django.db.utils.IntegrityError: duplicate key value violates unique constraint "users_email_key"',
        "Catch the IntegrityError and return 409",
        "django-orm",
    ),
    (
        "Slow list endpoint",
        "N+1 queries on the order list",
        "select_related and prefetch_related",
        "query-optimization",
    ),
    (
        "Nginx returns 502 Bad Gateway",
        "gunicorn was not running",
        "start gunicorn with systemd",
        "cloud-deployment",
    ),
    (
        "Frontend cannot call the API",
        "No 'Access-Control-Allow-Origin' header is present",
        "django-cors-headers",
        "api-contracts",
    ),
]


@cache
def _table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(title, details, solutions, error_terms, topics)")
    for title, details, solutions, topics in ROWS:
        errors = " ".join(error_signatures(f"{title}\n{details}"))
        connection.execute(
            "INSERT INTO t (title, details, solutions, error_terms, topics) VALUES (?, ?, ?, ?, ?)",
            (title, details, solutions, errors, topics),
        )
    return connection


def _search(expression: str) -> list[int]:
    rows = _table().execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank", (expression,)).fetchall()
    return [row[0] for row in rows]


def _fts5_is_only_strings_and_our_operators(expression: str) -> bool:
    return bool(FTS5_SYNTAX.match(FTS5_STRING.sub(" ", expression)))


def _tsquery_is_only_lexemes_and_our_operators(expression: str) -> bool:
    return bool(TSQUERY_SYNTAX.match(TSQUERY_LEXEME.sub(" ", expression)))


# --- parsing --------------------------------------------------------------------------------------------


def test_terms_are_lowercased_words_and_a_word_with_an_apostrophe_is_a_phrase() -> None:
    # FTS5 and PostgreSQL both index "don't" as "don", "t": the term is that phrase.
    query = parse_query("Don't CACHE the Redis-cli output, l\u2019été")
    assert query.terms == ("don t", "cache", "redis", "cli", "output", "l été")
    assert query.fts5_words(prefix=False)[0] == '"don t"'
    assert query.tsquery_words(prefix=False)[0] == "'don t'"


def test_a_word_with_an_apostrophe_finds_the_text_that_has_it() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')")
    connection.execute("INSERT INTO t (body) VALUES ('I don''t know why l''été breaks the build')")
    for text in ("don't", "don\u2019t know", "L'été", "l'ete"):
        expression = parse_query(text).fts5(prefix=False)
        assert connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone() == (1,), text


def test_stop_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert parse_query("why is the api slow").terms == ("api", "slow")
    assert parse_query("the").terms == ("the",)


def test_terms_are_distinct_and_capped() -> None:
    words = [f"word{index}" for index in range(40)]
    query = parse_query(" ".join(["word0", *words]))
    assert query.terms == tuple(words[:MAX_TERMS])
    long_word = "a" * 200
    assert parse_query(long_word).terms == ("a" * MAX_TERM_CHARS,)


def test_errors_are_the_error_signatures() -> None:
    text = "django.db.utils.IntegrityError and 502 Bad Gateway"
    assert parse_query(text).errors == error_signatures(text) == ("integrityerror", "http502")


def test_compatibility_forms_become_plain_words() -> None:
    assert parse_query("\uff52\uff45\uff44\uff49\uff53").terms == ("redis",)
    assert parse_query("cafe\u0301").terms == ("café",)


@pytest.mark.parametrize("text", ["", "   ", "!!!", "-", "^", "*", '""', "()", "::", "_"])
def test_text_without_words_is_an_empty_query(text: str) -> None:
    query = parse_query(text)
    assert query.is_empty()
    assert query.fts5() is None
    assert query.tsquery() is None


# --- the FTS5 expression --------------------------------------------------------------------------------


def test_fts5_quotes_every_term_and_makes_the_last_a_prefix() -> None:
    query = parse_query("redis cache")
    assert query.fts5() == '("redis" AND "cache" *)'
    assert query.fts5(match_all=False) == '("redis" OR "cache" *)'


def test_fts5_last_term_under_three_characters_is_no_prefix() -> None:
    assert parse_query("docker db").fts5() == '("docker" AND "db")'


def test_fts5_adds_error_signatures_as_column_alternatives() -> None:
    query = parse_query("IntegrityError 502 Bad Gateway")
    assert query.fts5() == (
        '("integrityerror" AND "502" AND "bad" AND "gateway" *)'
        ' OR error_terms : "integrityerror" OR error_terms : "http502"'
    )


def test_phrases_one_by_one_for_the_search_engine() -> None:
    query = parse_query("Redis cache IntegrityError")
    assert query.fts5_words(prefix=False) == ('"redis"', '"cache"', '"integrityerror"')
    assert query.fts5_words(prefix=True) == ('"redis"', '"cache"', '"integrityerror" *')
    assert query.fts5_errors() == ('error_terms : "integrityerror"',)
    assert query.tsquery_words(prefix=True) == ("'redis'", "'cache'", "'integrityerror':*")
    assert query.tsquery_errors() == ("'integrityerror':A",)


def test_the_last_term_is_a_prefix_only_when_asked_and_long_enough() -> None:
    assert parse_query("redis cac").prefix_term(prefix=True) == "cac"
    assert parse_query("redis cac").prefix_term(prefix=False) is None
    assert parse_query("redis ca").prefix_term(prefix=True) is None
    assert parse_query("IntegrityError").prefix_term(prefix=True) == "integrityerror"
    assert parse_query("502 Bad Gateway").errors == ("http502",)
    assert parse_query("...").prefix_term(prefix=True) is None


def test_a_double_quote_inside_a_term_is_doubled() -> None:
    query = SearchQuery(terms=('say "hi"',), errors=())
    assert query.fts5() == '("say ""hi""" *)'
    assert _search(query.fts5() or "") == []


@pytest.mark.parametrize("text", NASTY)
def test_nasty_input_is_never_fts5_syntax(text: str) -> None:
    expression = parse_query(text).fts5()
    if expression is not None:
        assert _fts5_is_only_strings_and_our_operators(expression)
        assert isinstance(_search(expression), list)


@pytest.mark.parametrize("text", NASTY)
def test_nasty_input_is_never_tsquery_syntax(text: str) -> None:
    query = parse_query(text)
    for expression in (query.tsquery(), query.tsquery(match_all=False)):
        assert expression is None or _tsquery_is_only_lexemes_and_our_operators(expression)


@pytest.mark.parametrize(
    ("text", "row"),
    [
        ("IntegrityError", 1),
        ("django.db.utils.IntegrityError: something else entirely", 1),
        ("duplicate key value violates unique constraint", 1),
        ("select_rel", 2),
        ("N+1", 2),
        ("502 Bad Gateway", 3),
        ("why is my request blocked by CORS?", 4),
        ("cors-headers", 4),
        ('"nginx" (gunicorn*', 3),
    ],
)
def test_fts5_expressions_find_the_row_they_should(text: str, row: int) -> None:
    expression = parse_query(text).fts5()
    assert expression is not None
    assert _search(expression)[:1] == [row]


def test_an_error_finds_its_row_even_when_the_words_do_not() -> None:
    # The words are nowhere in row 1; only its error_terms column holds "integrityerror".
    expression = parse_query("unrelated words IntegrityError").fts5()
    assert expression is not None
    assert _search(expression) == [1]
    assert _search(parse_query("unrelated words").fts5() or "") == []


def test_match_any_finds_rows_with_some_of_the_words() -> None:
    query = parse_query("gunicorn signup")
    assert _search(query.fts5() or "") == []
    assert set(_search(query.fts5(match_all=False) or "")) == {1, 3}


# --- the tsquery ----------------------------------------------------------------------------------------


def test_tsquery_quotes_every_term_and_makes_the_last_a_prefix() -> None:
    query = parse_query("Redis cache")
    assert query.tsquery() == "('redis' & 'cache':*)"
    assert query.tsquery(match_all=False) == "('redis' | 'cache':*)"
    assert parse_query("docker db").tsquery() == "('docker' & 'db')"


def test_tsquery_adds_error_signatures_as_alternatives() -> None:
    # A signature is indexed with weight A (migration 0002), so it only counts there.
    assert parse_query("CORS error").tsquery() == "('cors' & 'error':*) | 'cors':A"


def test_tsquery_escapes_quotes_and_backslashes() -> None:
    query = SearchQuery(terms=("it's", "a\\b"), errors=())
    assert query.tsquery() == r"('it''s' & 'a\\b':*)"


# --- any text -------------------------------------------------------------------------------------------

_OPERATORISH = st.text(alphabet="\"*:()-^+{}[]' \\_.,ANDORNEARnotéx1", max_size=60)


@given(st.one_of(st.text(), _OPERATORISH), st.booleans())
def test_any_text_is_none_or_a_valid_fts5_expression(text: str, match_all: bool) -> None:
    query = parse_query(text)
    assert len(query.terms) <= MAX_TERMS
    assert all(0 < len(term) <= MAX_TERM_CHARS for term in query.terms)
    expression = query.fts5(match_all=match_all)
    assert (expression is None) == query.is_empty()
    if expression is not None:
        assert _fts5_is_only_strings_and_our_operators(expression)
        # Executes without sqlite3.OperationalError (a syntax error would raise it here).
        assert isinstance(_search(expression), list)


@given(st.one_of(st.text(), _OPERATORISH), st.booleans())
def test_any_text_gives_phrases_that_fts5_reads_one_by_one(text: str, prefix: bool) -> None:
    # The search engine builds its own expressions from these: each must be one valid phrase on its own.
    query = parse_query(text)
    words, errors = query.fts5_words(prefix=prefix), query.fts5_errors()
    assert len(words) == len(query.terms)
    assert len(errors) == len(query.errors)
    for phrase in (*words, *errors):
        assert _fts5_is_only_strings_and_our_operators(phrase)
        assert isinstance(_search(phrase), list)
    if words:
        assert isinstance(_search(" AND ".join(words)), list)


@given(st.one_of(st.text(), _OPERATORISH), st.booleans())
def test_any_text_is_none_or_a_tsquery_of_lexemes(text: str, match_all: bool) -> None:
    query = parse_query(text)
    expression = query.tsquery(match_all=match_all)
    assert (expression is None) == query.is_empty()
    if expression is not None:
        assert _tsquery_is_only_lexemes_and_our_operators(expression)
