"""Search snippets: a short extract of a found challenge around the query's words, the words marked.

Pure text: the search engines call it on the rows they return, the service renders the marks as Markdown.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

# Markers around matched words: control characters no user text keeps (`clean_text` strips them), replaced by
# Markdown bold once the snippet has been escaped.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"

# About this many characters of text around the best cluster of matched words, starting a little before it.
SNIPPET_CHARS = 160
SNIPPET_LEAD_CHARS = 40

_WORD_CHARACTER = r"[^\W_]"


@cache
def _fold_table() -> dict[int, str]:
    """Latin letters with diacritics to their base letter, one character for one (offsets stay valid)."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(code))
        if len(base) > 1 and all(unicodedata.combining(mark) for mark in base[1:]):
            table[code] = base[0]
    return table


def fold(value: str) -> str:
    """`value` in lowercase without diacritics, as FTS5's tokenizer compares words; always the same length,
    so that offsets in it are offsets in `value`."""
    lowered = value.lower()
    if len(lowered) != len(value):  # a few letters lowercase to two characters ("İ"): keep those as they are
        lowered = "".join(char.lower() if len(char.lower()) == 1 else char for char in value)
    return lowered if lowered.isascii() else lowered.translate(_fold_table())


def snippet_pattern(words: Sequence[str], prefix: str | None = None) -> re.Pattern[str] | None:
    """Any of the query's words (each word of a phrase alone; the prefix with any ending) as whole words, to
    be searched in `fold`ed text."""
    tokens = {fold(token) for word in words for token in word.split()}
    alternatives = [re.escape(token) for token in sorted(tokens, key=len, reverse=True)]
    if prefix is not None:
        alternatives.insert(0, re.escape(fold(prefix)) + f"{_WORD_CHARACTER}*")
    if not alternatives:
        return None
    return re.compile(f"(?<!{_WORD_CHARACTER})(?:{'|'.join(alternatives)})(?!{_WORD_CHARACTER})")


def _window(value: str, anchor: int) -> tuple[int, int]:
    """About SNIPPET_CHARS from a little before `anchor`, cut at spaces."""
    start = 0
    if anchor > SNIPPET_LEAD_CHARS:
        space = value.find(" ", anchor - SNIPPET_LEAD_CHARS, anchor)
        start = space + 1 if space >= 0 else anchor
    end = start + SNIPPET_CHARS
    if end < len(value):
        space = value.rfind(" ", start + SNIPPET_CHARS // 2, end)
        end = space if space > 0 else end
    return start, min(end, len(value))


def cut_snippet(fields: Sequence[str], pattern: re.Pattern[str] | None) -> str:
    """A short extract around the densest cluster of `pattern`'s words in `fields` (the first field wins
    ties), with HIGHLIGHT_START/END around each word; the start of the first field with text if none has one.
    """
    best = (0, 0)
    chosen: tuple[str, int, list[re.Match[str]]] | None = None
    for field in fields:
        if not field or field.isspace():
            continue
        if HIGHLIGHT_START in field or HIGHLIGHT_END in field:
            field = field.replace(HIGHLIGHT_START, " ").replace(HIGHLIGHT_END, " ")
        if chosen is None:
            chosen = (field, 0, [])
        found = list(pattern.finditer(fold(field))) if pattern is not None else []
        words = [match.group() for match in found]
        last = 0
        for first, match in enumerate(found):
            # The matches that fit in a snippet starting here: how many different words, how many in all.
            last = max(last, first)
            while last + 1 < len(found) and found[last + 1].end() <= match.start() + SNIPPET_CHARS:
                last += 1
            score = (len(set(words[first : last + 1])), last + 1 - first)
            if score > best:
                best, chosen = score, (field, match.start(), found)
    if chosen is None:
        return ""
    value, anchor, found = chosen
    start, end = _window(value, anchor)
    pieces = ["…"] if start > 0 else []
    position = start
    for match in found:
        if match.start() >= start and match.end() <= end:
            pieces += [value[position : match.start()], HIGHLIGHT_START, value[match.start() : match.end()]]
            pieces.append(HIGHLIGHT_END)
            position = match.end()
    pieces.append(value[position:end])
    if end < len(value):
        pieces.append("…")
    return "".join(pieces)
