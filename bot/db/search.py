"""Full-text search over the challenge log, one interface over two engines.

SQLite: the FTS5 table `challenge_search`. PostgreSQL: the `search_vector` tsvector column with its GIN
index. Both are kept in step by triggers (migration 0002), so no write path can forget them.

The work per query is bounded, whatever the size of the log. Ranking every row that matches a common word
reads that word's whole posting list: tens of milliseconds at a million rows. FTS5's bm25() does so even
to rank a handful of rows (it counts each word's rows for its IDF), so it is not used. Instead a query is a
few alternatives (its words together; each error signature; in the any-word fallback, each word) and each
contributes only its newest matches in this server, which the index yields in id order, stopping at the
LIMIT. On SQLite those candidates get a BM25-style score: the IDF of the words a row has (document
frequencies from a bounded count, cached a few minutes), raised for words in the title and for having them
all, plus more for each error signature; snippets are cut from the few rows shown. A conjunction of common
words that are rarely together would walk their whole lists, so it is searched over the newest rows a budget
allows, beside the conjunction of its rarest words over the whole log. On PostgreSQL, ts_rank_cd over the
same kind of bounded candidates.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.challenges.query import SearchQuery

# Markers the engines put around matched words: control characters no user text keeps
# (`clean_text` strips them), replaced by Markdown bold once the snippet has been escaped.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"

# Newest matches that each alternative of a query contributes to the ranking: enough that the title and
# error matches among the recent ones come first, few enough to score in a fraction of a millisecond. Many
# alternatives (the signatures of a long paste, the words of the any-word fallback) share SHARED_CANDIDATES.
CANDIDATES = 30
SHARED_CANDIDATES = 120
MIN_CANDIDATES = 15
# A conjunction searched over a window of recent rows (see WALK_BUDGET) walks that window until it has
# found this many rows with every word: the first few are what the ranking needs, and stopping early is
# what keeps a dense conjunction cheap.
WINDOW_CANDIDATES = 20
# FTS5 opens an iterator per word of an expression (about 50 µs each at a million rows, however little it
# then reads), so a conjunction uses at most this many of the rarest words, and at most this many
# alternatives of one kind (words of the fallback, error signatures) are searched, the rarest.
MAX_WORDS = 8
# Posting-list entries a conjunction may walk (from 20 to 60 ns each, newest first). The words of a pasted
# traceback are each in a fifth of the rows and together in a handful: walking all of them would cost
# tens of milliseconds at a million rows. So past this the conjunction is searched over the newest rows it
# can afford, and unless those are likely to hold enough matches, beside the conjunction of its rarest words
# over the whole log.
WALK_BUDGET = 20_000
# A word's document frequency is counted exactly up to this, and extrapolated from how far back its
# newest FREQUENCY_SAMPLE matches reach beyond; frequencies change slowly, so they are kept a while.
FREQUENCY_SAMPLE = 256
FREQUENCY_TTL_SECONDS = 300.0
FREQUENCY_CACHE_SIZE = 4096
# Scores: the summed IDF of the words a row has, times 1 + TITLE_BOOST for the share of them in its title,
# plus that IDF once more for a row with every word (so all words come first); each error signature it
# reports adds its IDF times ERROR_WEIGHT (BM25 with the old column weights gave about 2 to both a title
# and an error-signature match, against 1 for a word in the details).
TITLE_BOOST = 1.0
ERROR_WEIGHT = 2.0
# Snippets: about this many characters of text around the best cluster of matched words.
SNIPPET_CHARS = 160
SNIPPET_LEAD_CHARS = 40


@dataclass(frozen=True, slots=True)
class FoundChallenge:
    """A challenge found, with its columns and topics read by the search statement itself: loading them in a
    second round trip (the row, then its topics) cost more than the search."""

    id: int
    guild_id: int
    channel_id: int
    author_id: int | None
    author_name: str
    title: str
    details: str
    tried: str | None
    status: str
    topics: tuple[str, ...]
    created_at: datetime
    source_message_id: int | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    challenge: FoundChallenge
    snippet: str

    @property
    def challenge_id(self) -> int:
        return self.challenge.id


# The columns every engine's statement returns first, in this order, for `_found`; topic slugs come
# space-separated (slugs have none).
_FOUND_COLUMNS = (
    "c.id, c.guild_id, c.channel_id, c.author_id, c.author_name, c.title, c.details, c.tried, c.status, "
    "{topics}, c.created_at, c.source_message_id"
)
_FOUND_WIDTH = 12


def _utc(value: datetime | str) -> datetime:
    """A stored timestamp as aware UTC: SQLite's driver returns the text SQLAlchemy wrote (UTC, no zone)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _found(row: Sequence[Any]) -> FoundChallenge:
    return FoundChallenge(
        id=int(row[0]),
        guild_id=int(row[1]),
        channel_id=int(row[2]),
        author_id=None if row[3] is None else int(row[3]),
        author_name=row[4],
        title=row[5],
        details=row[6] or "",
        tried=row[7],
        status=row[8],
        topics=tuple((row[9] or "").split()),
        created_at=_utc(row[10]),
        source_message_id=None if row[11] is None else int(row[11]),
    )


class ChallengeSearchEngine(Protocol):
    """`snippets=False` when only the challenges are wanted (suggestions, autocomplete): an empty snippet, and
    neither the solutions' text read nor the highlighting done."""

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
    ) -> list[SearchHit]: ...


def _filters(status: str | None, exclude_id: int | None) -> str:
    clauses = []
    if status is not None:
        clauses.append("AND c.status = :status")
    if exclude_id is not None:
        clauses.append("AND c.id != :exclude_id")
    return " ".join(clauses)


def _share(parts: int) -> int:
    return min(CANDIDATES, max(MIN_CANDIDATES, SHARED_CANDIDATES // max(parts, 1)))


# --- snippets -------------------------------------------------------------------------------------------

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


def _fold(value: str) -> str:
    """`value` in lowercase without diacritics, as FTS5's tokenizer compares words; always the same length,
    so that offsets in it are offsets in `value`."""
    lowered = value.lower()
    if len(lowered) != len(value):  # a few letters lowercase to two characters ("İ"): keep those as they are
        lowered = "".join(char.lower() if len(char.lower()) == 1 else char for char in value)
    return lowered if lowered.isascii() else lowered.translate(_fold_table())


def snippet_pattern(words: Sequence[str], prefix: str | None = None) -> re.Pattern[str] | None:
    """Any of the query's words (each word of a phrase alone; the prefix with any ending) as whole words, to
    be searched in `_fold`ed text."""
    tokens = {_fold(token) for word in words for token in word.split()}
    alternatives = [re.escape(token) for token in sorted(tokens, key=len, reverse=True)]
    if prefix is not None:
        alternatives.insert(0, re.escape(_fold(prefix)) + f"{_WORD_CHARACTER}*")
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
        found = list(pattern.finditer(_fold(field))) if pattern is not None else []
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


# --- SQLite ---------------------------------------------------------------------------------------------

Rows = list[tuple[Any, ...]]
Runner = Callable[[str, dict[str, Any]], Awaitable[Rows]]


async def _sqlite_runner(session: AsyncSession) -> Runner:
    """Runs statements on the session's own connection, straight through the driver when it is aiosqlite.

    A statement through SQLAlchemy's aiosqlite adapter costs about half a millisecond in thread hops, a
    quarter of what a whole search may take; the driver's `execute_fetchall` is a single hop.
    """
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
_SQLITE_FOUND = _FOUND_COLUMNS.format(
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
                sql, bound = _ranking_statement(alternatives, _filters(status, exclude_id), title_globs, snippets)
                rows = await run(sql, values | bound)
            if rows or len(words) < 2:
                break
        if not snippets:
            return [SearchHit(_found(row), "") for row in rows]
        pattern = snippet_pattern(query.terms, prefix_term)
        hits = []
        for row in rows:
            found = _found(row)
            texts = [found.details, found.tried or "", row[_FOUND_WIDTH], found.title]
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
            alternatives.append(_Alternative(word, group, weight([word]), (word,), _share(len(present))))
    chosen_errors = rarest(errors)
    for group, error in enumerate(chosen_errors, start=len(words) + 1):
        alternatives.append(_Alternative(error, group, ERROR_WEIGHT * weight([error]), (), _share(len(chosen_errors))))
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
    row's title: FTS5's highlight() would read the whole content row (details, solutions) to mark a title.
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


# --- PostgreSQL -----------------------------------------------------------------------------------------


class PostgresChallengeSearch:
    """ts_rank_cd over the newest matches of each alternative (a LIMITed subquery each), plus one for a row
    with every word and one for a row reporting an error signature (ts_rank_cd alone favours short rows over
    those); ts_headline for the rows shown.

    The planner answers each subquery by walking the primary key backwards while matches are dense, or by a
    bitmap scan of the GIN index when it expects few; it expects a conjunction of words to be rarer than it
    often is (it multiplies their frequencies), and then reads all of its matches.
    """

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
        words = query.tsquery_words(prefix=prefix)
        errors = query.tsquery_errors()
        filters = _filters(status, exclude_id)
        values: dict[str, Any] = {
            "guild_id": guild_id,
            "status": status,
            "exclude_id": exclude_id,
            "limit": limit,
            "start": HIGHLIGHT_START,
            "end": HIGHLIGHT_END,
            "errors": " | ".join(errors) if errors else None,
        }
        rows: Rows = []
        for all_words in (True, False):
            alternatives: list[tuple[str, int]] = []
            if words:
                if all_words:
                    alternatives.append((" & ".join(words), CANDIDATES))
                else:
                    alternatives += [(word, _share(len(words))) for word in words[:MAX_WORDS]]
            share = _share(len(errors))
            alternatives += [(error, share) for error in errors[:MAX_WORDS]]
            values |= {"query": " | ".join(f"({expression})" for expression, _ in alternatives)}
            values |= {"complete": " & ".join(words) if words and all_words else None}
            for index, (expression, candidates) in enumerate(alternatives):
                values |= {f"q{index}": expression, f"k{index}": candidates}
            rows = [
                tuple(row)
                for row in await session.execute(_postgres_statement(len(alternatives), filters, snippets), values)
            ]
            if rows or len(words) < 2:
                break
        return [SearchHit(_found(row), row[_FOUND_WIDTH] or "") for row in rows]


_HEADLINE = """ts_headline('simple', c.title || ' · ' || c.details, q.query,
                           'StartSel=' || :start || ', StopSel=' || :end || ', MaxWords=24, MinWords=8')"""
_POSTGRES_FOUND = _FOUND_COLUMNS.format(
    topics="(SELECT string_agg(t.slug, ' ' ORDER BY t.position) FROM challenge_topics AS t WHERE t.challenge_id = c.id)"
)


def _postgres_statement(alternatives: int, filters: str, snippets: bool) -> TextClause:
    newest = " UNION ".join(
        f"""(SELECT c.id FROM challenges AS c
             WHERE c.search_vector @@ to_tsquery('simple', :q{index})
               AND c.guild_id = :guild_id AND c.deleted_at IS NULL {filters}
             ORDER BY c.id DESC LIMIT GREATEST(CAST(:k{index} AS integer), CAST(:limit AS integer)))"""  # noqa: S608
        for index in range(alternatives)
    )
    return text(
        f"""
        WITH q AS (
            SELECT to_tsquery('simple', :query) AS query,
                   CASE WHEN CAST(:errors AS text) IS NULL THEN NULL
                        ELSE to_tsquery('simple', CAST(:errors AS text)) END AS errors,
                   CASE WHEN CAST(:complete AS text) IS NULL THEN NULL
                        ELSE to_tsquery('simple', CAST(:complete AS text)) END AS complete
        ),
        newest AS ({newest}),
        ranked AS (
            SELECT c.id,
                   ts_rank_cd('{{0.1, 0.2, 0.4, 1.0}}', c.search_vector, q.query)
                   + CASE WHEN q.complete IS NOT NULL AND c.search_vector @@ q.complete THEN 1.0 ELSE 0.0 END
                   + CASE WHEN q.errors IS NOT NULL AND c.search_vector @@ q.errors THEN 1.0 ELSE 0.0 END AS score
            FROM newest JOIN challenges AS c ON c.id = newest.id, q
            ORDER BY score DESC, c.id DESC LIMIT :limit
        )
        SELECT {_POSTGRES_FOUND}, {_HEADLINE if snippets else "''"} AS snippet
        FROM ranked JOIN challenges AS c ON c.id = ranked.id, q
        ORDER BY ranked.score DESC, ranked.id DESC
        """  # noqa: S608 - only fixed SQL fragments are interpolated; values are bound
    )


def search_engine_for(dialect: str) -> ChallengeSearchEngine:
    if dialect == "sqlite":
        return SqliteChallengeSearch()
    if dialect == "postgresql":
        return PostgresChallengeSearch()
    raise NotImplementedError(f"no full-text search for the {dialect} dialect")
