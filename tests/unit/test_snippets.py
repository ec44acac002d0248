"""Search snippets, cut in Python from the rows a search returns: an extract of the text, whole words marked."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.challenges.snippets import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    SNIPPET_CHARS,
    cut_snippet,
    fold,
    snippet_pattern,
)

# Text like members write: words of a small vocabulary (so that queries hit), accents, punctuation, the
# markers themselves (which a snippet must never take for its own), and now and then any character.
VOCABULARY = ["redis", "cache", "Cache", "CAFÉ", "café", "don't", "pagination", "İstanbul", "error_code", "a"]
WORD = st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=12))
SEPARATOR = st.sampled_from([" ", "  ", ", ", ". ", "\n", "-", "_", HIGHLIGHT_START, HIGHLIGHT_END, "'"])
FIELD = st.lists(st.tuples(WORD, SEPARATOR), max_size=60).map(lambda pairs: "".join(a + b for a, b in pairs))
QUERY_WORDS = st.lists(st.sampled_from(["redis", "cache", "cafe", "don t", "istanbul", "error", "a"]), max_size=4)
PREFIX = st.one_of(st.none(), st.sampled_from(["pagin", "red", "caf"]))
MARKED = re.compile(f"{HIGHLIGHT_START}(.*?){HIGHLIGHT_END}", re.DOTALL)


def _plain(snippet: str) -> str:
    """The snippet's text: no marks, no ellipses added around it."""
    text = snippet.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
    text = text.removeprefix("…")
    return text.removesuffix("…") if snippet.endswith("…") and not snippet.endswith(f"…{HIGHLIGHT_END}") else text


@given(st.text(max_size=200))
def test_folding_keeps_every_offset(value: str) -> None:
    folded = fold(value)
    assert len(folded) == len(value)
    assert folded == fold(folded)


@given(st.lists(FIELD, max_size=4), QUERY_WORDS, PREFIX)
def test_a_snippet_is_a_marked_extract_of_one_field(fields: list[str], words: list[str], prefix: str | None) -> None:
    pattern = snippet_pattern(words, prefix)
    snippet = cut_snippet(fields, pattern)
    cleaned = [field.replace(HIGHLIGHT_START, " ").replace(HIGHLIGHT_END, " ") for field in fields]
    if all(not field or field.isspace() for field in fields):
        assert snippet == ""
        return
    # Marks come in pairs and never nest; what they mark is one of the query's words, whole.
    assert snippet.count(HIGHLIGHT_START) == snippet.count(HIGHLIGHT_END)
    outside = MARKED.sub("", snippet)
    assert HIGHLIGHT_START not in outside
    assert HIGHLIGHT_END not in outside
    for marked in MARKED.findall(snippet):
        assert pattern is not None
        assert pattern.fullmatch(fold(marked)), marked
    # The text around the marks is a piece of one field, as written, of about a snippet's length.
    text = _plain(snippet)
    assert any(text in field for field in cleaned)
    assert len(text) <= SNIPPET_CHARS


@given(st.lists(FIELD, min_size=1, max_size=3), st.sampled_from(["redis", "cache", "cafe"]))
def test_a_word_in_the_text_is_marked_in_the_snippet(fields: list[str], word: str) -> None:
    pattern = snippet_pattern([word])
    assert pattern is not None
    has_word = any(pattern.search(fold(field.replace(HIGHLIGHT_START, " "))) for field in fields)
    snippet = cut_snippet(fields, pattern)
    assert (HIGHLIGHT_START in snippet) == has_word


def test_a_query_of_no_words_has_no_pattern_and_a_snippet_from_the_first_text() -> None:
    assert snippet_pattern([]) is None
    assert cut_snippet(["", "first text", "second"], None) == "first text"
    long = "word " * 100
    snippet = cut_snippet([long], None)
    assert snippet.endswith("…")
    assert not snippet.startswith("…")
