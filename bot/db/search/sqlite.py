"""SQLite: the FTS5 table `challenge_search`, kept in step with `challenges` by triggers (migration 0002).

The work per query is bounded, whatever the size of the log: a query is a few alternatives (its words
together; each error signature; in the any-word fallback, each word), and each contributes only its newest
matches in this server, which FTS5 yields in rowid order, stopping at the LIMIT. Those candidates get a
BM25-style score (the IDF of the words a row has, from bounded counts kept a few minutes, raised for words
in the title and for having them all, plus more for each error signature), computed in the same statement
that returns the best rows with their columns, topics and (for the snippet) solutions. A conjunction of
common words that are rarely together is searched over the newest rows a budget allows, beside the
conjunction of its rarest words over the whole log.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.challenges.query import SearchQuery
from bot.challenges.snippets import cut_snippet, snippet_pattern
from bot.db.search.common import (
    CANDIDATES,
    FOUND_COLUMNS,
    FOUND_WIDTH,
    MAX_WORDS,
    SearchHit,
    candidate_share,
    filter_clauses,
    found_row,
)

# A conjunction searched over a window of recent rows (see WALK_BUDGET) walks that window until it has
# found this many rows with every word: the first few are what the ranking needs, and stopping early is
# what keeps a dense conjunction cheap.
WINDOW_CANDIDATES = 20
# Posting-list entries a conjunction may walk. The words of a pasted traceback are each in many rows and
# together in a handful: past this, the conjunction is searched over the newest rows it can afford, and
# unless those are likely to hold enough matches, beside the conjunction of its rarest words over the log.
WALK_BUDGET = 20_000
# A word's document frequency is counted exactly up to this, and extrapolated from how far back its
# newest FREQUENCY_SAMPLE matches reach beyond; frequencies change slowly, so they are kept a while.
FREQUENCY_SAMPLE = 256
FREQUENCY_TTL_SECONDS = 300.0
FREQUENCY_CACHE_SIZE = 4096
# Scores: the summed IDF of the words a row has, times 1 + TITLE_BOOST for the share of them in its title,
# plus that IDF once more for a row with every word (so all words come first); each error signature it
# reports adds its IDF times ERROR_WEIGHT (about the weight BM25 gave title and error-signature columns).
TITLE_BOOST = 1.0
ERROR_WEIGHT = 2.0

Rows = list[tuple[Any, ...]]
Runner = Callable[[str, dict[str, Any]], Awaitable[Rows]]


async def _sqlite_runner(session: AsyncSession) -> Runner:
    """Runs statements on the session's own connection, straight through the driver when it is aiosqlite:
    `execute_fetchall` is one hop to the driver's thread, where SQLAlchemy's adapter makes several."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    execute_fetchall = getattr(raw.driver_connection, "execute_fetchall", None)
    if execute_fetchall is None:

        async def through_session(sql: str, values: dict[str, Any]) -> Rows:
            return [tuple(row) for row in await session.execute(text(sql), values)]

        return through_session

    async def through_driver(sql: str, values: dict[str, Any]) -> Rows:
        try:
            return [tuple(row) for row in await execute_fetchall(sql, values)]
        except sqlite3.Error as error:
            raise DBAPIError.instance(sql, values, error, sqlite3.Error) from error

    return through_driver


class _Frequencies:
    """Document frequencies of FTS5 phrases (and the size of the index), each kept a few minutes."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, float]] = {}

    def get(self, key: str, now: float) -> float | None:
        entry = self._values.get(key)
        if entry is None or entry[0] < now:
            return None
        return entry[1]

    def put(self, key: str, value: float, now: float) -> None:
        if len(self._values) >= FREQUENCY_CACHE_SIZE:
            # Drop the oldest half: simpler than an LRU, and a miss costs one bounded count.
            for stale in sorted(self._values, key=lambda name: self._values[name][0])[: FREQUENCY_CACHE_SIZE // 2]:
                del self._values[stale]
        self._values[key] = (now + FREQUENCY_TTL_SECONDS, value)


_TOTAL_KEY = ""


@dataclass(frozen=True, slots=True)
class _Alternative:
    expression: str  # an FTS5 MATCH expression
    group: int  # the alternatives of one group count once, the best of them; groups add up
    weight: float  # the summed IDF of the words it requires (times ERROR_WEIGHT for an error signature)
    words: tuple[str, ...]  # its words' phrases, for the share of them in the title; none for an error
    candidates: int
    since: int = 0  # the lowest rowid walked
    complete: bool = False  # requires every word of the query


# For the snippet, which may come from a solution.
_SOLUTIONS_TEXT = """coalesce((SELECT group_concat(body, ' ') FROM solutions AS solution
                         WHERE solution.challenge_id = best.id AND solution.deleted_at IS NULL), '')"""
_SQLITE_FOUND = FOUND_COLUMNS.format(
    topics="(SELECT group_concat(slug, ' ') FROM (SELECT slug FROM challenge_topics AS t "
    "WHERE t.challenge_id = c.id ORDER BY t.position))"
)


class SqliteChallengeSearch:
    def __init__(self) -> None:
        self._frequencies = _Frequencies()

    async def search(
        self,
        session: AsyncSession,
        guild_id: int,
        query: SearchQuery,
        *,
        limit: int,
        status: str | None = None,
        exclude_id: int | None = None,
        prefix: bool = False,
        snippets: bool = True,
    ) -> list[SearchHit]:
        if query.is_empty() or limit <= 0:
            return []
        run = await _sqlite_runner(session)
        words = query.fts5_words(prefix=prefix)
        errors = query.fts5_errors()
        prefix_term = query.prefix_term(prefix=prefix)
        # One phrase alone needs no weights: its IDF would multiply every score alike.
        frequencies: dict[str, float] = {}
        if len(words) + len(errors) > 1:
            # Counting a prefix reads the lists of all its completions; it is taken as common instead.
            counted = [*(words[:-1] if prefix_term else words), *errors]
            frequencies = await self._document_frequencies(run, counted)
            if prefix_term:
                frequencies[words[-1]] = frequencies[_TOTAL_KEY]
        values: dict[str, Any] = {"guild_id": guild_id, "status": status, "exclude_id": exclude_id, "limit": limit}
        last = len(words) - 1
        title_globs = {
            word: _title_globs(term, prefix=number == last and prefix_term is not None)
            for number, (word, term) in enumerate(zip(words, query.terms, strict=True))
        }
        # All words first; when no row has them all, any of them. No row has them all if one is nowhere.
        match_all = len(words) < 2 or all(frequencies[word] > 0 for word in words)
        rows: Rows = []
        for all_words in (True, False) if match_all else (False,):
            alternatives = _alternatives(words, errors, frequencies, all_words=all_words)
            if alternatives:
                sql, bound = _ranking_statement(alternatives, filter_clauses(status, exclude_id), title_globs, snippets)
                rows = await run(sql, values | bound)
            if rows or len(words) < 2:
                break
        if not snippets:
            return [SearchHit(found_row(row), "") for row in rows]
        pattern = snippet_pattern(query.terms, prefix_term)
        hits = []
        for row in rows:
            found = found_row(row)
            texts = [found.details, found.tried or "", row[FOUND_WIDTH], found.title]
            hits.append(SearchHit(found, cut_snippet(texts, pattern)))
        return hits

    async def _document_frequencies(self, run: Runner, phrases: Sequence[str]) -> dict[str, float]:
        """How many rows match each phrase, and under `_TOTAL_KEY` the largest rowid (about the rows in the
        index): from the cache, or from one statement of bounded counts.

        Frequencies only weigh words and shape the plan, so a few minutes' drift is harmless; except a zero,
        which drops the word (no row has it), so a zero is never kept: the row logged a moment ago counts.
        """
        now = time.monotonic()
        found = {key: self._frequencies.get(key, now) for key in {_TOTAL_KEY, *phrases}}
        missing = [key for key, value in found.items() if value is None and key != _TOTAL_KEY]
        if missing or found[_TOTAL_KEY] is None:
            parts = ["SELECT -1, coalesce(max(rowid), 0), 0 FROM challenge_search"]
            parts += [
                f"""SELECT {index}, count(*), coalesce(min(id), 0) FROM (SELECT rowid AS id FROM challenge_search
                    WHERE challenge_search MATCH :p{index} ORDER BY rowid DESC LIMIT {FREQUENCY_SAMPLE})"""  # noqa: S608
                for index in range(len(missing))
            ]
            rows = await run(" UNION ALL ".join(parts), {f"p{index}": key for index, key in enumerate(missing)})
            counted = {int(row[0]): (int(row[1]), int(row[2])) for row in rows}
            total = counted[-1][0]
            found[_TOTAL_KEY] = float(total)
            self._frequencies.put(_TOTAL_KEY, float(total), now)
            for index, key in enumerate(missing):
                count, lowest = counted[index]
                # Past the sample, as many matches in the whole log as its newest ones are dense.
                frequency = count * total / max(total - lowest + 1, 1) if count >= FREQUENCY_SAMPLE else count
                found[key] = float(frequency)
                if count:
                    self._frequencies.put(key, float(frequency), now)
        return {key: value or 0.0 for key, value in found.items()}


def _idf(frequencies: dict[str, float], phrase: str) -> float:
    """BM25's inverse document frequency, in the form that stays positive for words in most rows."""
    if not frequencies:
        return 1.0
    total = max(frequencies[_TOTAL_KEY], 1.0)
    frequency = min(frequencies.get(phrase, 0.0), total)
    return math.log(1.0 + (total - frequency + 0.5) / (frequency + 0.5))


def _alternatives(
    words: Sequence[str], errors: Sequence[str], frequencies: dict[str, float], *, all_words: bool
) -> list[_Alternative]:
    def rarest(phrases: Sequence[str]) -> list[str]:
        return sorted(phrases, key=lambda phrase: frequencies.get(phrase, 0.0))[:MAX_WORDS]

    def weight(phrases: Sequence[str]) -> float:
        return sum(_idf(frequencies, phrase) for phrase in phrases)

    alternatives: list[_Alternative] = []
    if words and all_words:
        chosen = rarest(words)
        walk = sum(frequencies.get(word, 0.0) for word in chosen) if len(chosen) > 1 else 0.0
        since = 0
        if walk > WALK_BUDGET:
            total = frequencies[_TOTAL_KEY]
            since = max(0, int(total - WALK_BUDGET * total / walk))
            # Matches expected in that window if the words were independent (they rarely are: more).
            expected = (total - since) * math.prod(frequencies[word] / total for word in chosen)
            if expected < WINDOW_CANDIDATES:
                kept = chosen[:1]
                for word in chosen[1:]:
                    if sum(frequencies[other] for other in kept) + frequencies[word] > WALK_BUDGET:
                        break
                    kept.append(word)
                alternatives.append(_Alternative(" AND ".join(kept), 0, weight(kept), tuple(kept), CANDIDATES))
        candidates = WINDOW_CANDIDATES if since else CANDIDATES
        complete = _Alternative(" AND ".join(chosen), 0, weight(chosen), tuple(chosen), candidates, since, True)
        alternatives.append(complete)
    elif words:
        # A word that is nowhere can only cost its iterator.
        present = rarest([word for word in words if frequencies.get(word, 1.0) > 0])
        for group, word in enumerate(present):
            alternatives.append(_Alternative(word, group, weight([word]), (word,), candidate_share(len(present))))
    chosen_errors = rarest(errors)
    each = candidate_share(len(chosen_errors))
    for group, error in enumerate(chosen_errors, start=len(words) + 1):
        alternatives.append(_Alternative(error, group, ERROR_WEIGHT * weight([error]), (), each))
    return alternatives


def _title_globs(term: str, *, prefix: bool) -> tuple[str, ...]:
    """GLOB patterns that together find `term` (each of its words, the last maybe a prefix) in a title given
    as ' ' || lower(title) || ' ': whole words between non-alphanumerics, ASCII case folded."""
    escaped = ["".join(f"[{char}]" if char in "*?[]" else char for char in token) for token in term.split()]
    patterns = [f"*[^a-z0-9]{token}[^a-z0-9]*" for token in escaped]
    if prefix and patterns:
        patterns[-1] = f"*[^a-z0-9]{escaped[-1]}*"
    return tuple(patterns)


def _ranking_statement(
    alternatives: Sequence[_Alternative], filters: str, title_globs: dict[str, tuple[str, ...]], snippets: bool
) -> tuple[str, dict[str, Any]]:
    """One statement: each alternative's newest matches in this server (the FTS5 cursor walks its doclists
    from the newest rowid and stops at the LIMIT), scored, summed per row, the best `:limit` with their text.

    The join to `challenges` is a CROSS JOIN so that SQLite keeps the FTS5 scan outside: it must never walk
    the server's rows and probe the index for each. Words in the title are found with GLOB in the joined
    row's title, which reads nothing but the title.
    """
    parts: list[str] = []
    values: dict[str, Any] = {}
    for index, alternative in enumerate(alternatives):
        values |= {f"q{index}": alternative.expression, f"since{index}": alternative.since}
        values |= {f"k{index}": alternative.candidates, f"w{index}": alternative.weight}
        matches = (
            f"FROM challenge_search AS s CROSS JOIN challenges AS c ON c.id = s.rowid "
            f"WHERE challenge_search MATCH :q{index} AND s.rowid >= :since{index} "
            f"AND c.guild_id = :guild_id AND c.deleted_at IS NULL {filters} "
            f"ORDER BY s.rowid DESC LIMIT max(:k{index}, :limit)"
        )
        if alternative.words:
            in_title = []
            for number, word in enumerate(alternative.words):
                names = [f"t{index}_{number}_{part}" for part in range(len(title_globs[word]))]
                values |= dict(zip(names, title_globs[word], strict=True))
                in_title.append("(" + " AND ".join(f"title GLOB :{name}" for name in names) + ")")
            # (Floats: SQLite divides integers as integers.)
            values |= {f"n{index}": float(len(alternative.words)), f"b{index}": 2.0 if alternative.complete else 1.0}
            parts.append(
                f"""SELECT {alternative.group} AS grp, id,
                           :w{index} * (:b{index} + {TITLE_BOOST} * ({" + ".join(in_title)}) / :n{index}) AS score
                    FROM (SELECT s.rowid AS id, ' ' || lower(c.title) || ' ' AS title {matches})"""  # noqa: S608
            )
        else:
            parts.append(
                f"""SELECT {alternative.group} AS grp, id, :w{index} AS score
                    FROM (SELECT s.rowid AS id {matches})"""  # noqa: S608
            )
    sql = f"""
        WITH hits(grp, id, score) AS ({" UNION ALL ".join(parts)}),
        best AS (
            SELECT id, sum(score) AS score
            FROM (SELECT id, grp, max(score) AS score FROM hits GROUP BY id, grp)
            GROUP BY id ORDER BY score DESC, id DESC LIMIT :limit
        )
        SELECT {_SQLITE_FOUND}, {_SOLUTIONS_TEXT if snippets else "''"}
        FROM best JOIN challenges AS c ON c.id = best.id
        ORDER BY best.score DESC, best.id DESC
        """  # noqa: S608 - only fixed SQL fragments are interpolated; values are bound
    return sql, values
