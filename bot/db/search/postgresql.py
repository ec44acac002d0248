"""PostgreSQL: the `search_vector` tsvector column with its GIN index, kept in step by a trigger (migration 0002)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.challenges.query import SearchQuery
from bot.challenges.snippets import HIGHLIGHT_END, HIGHLIGHT_START
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

Rows = list[tuple[Any, ...]]


class PostgresChallengeSearch:
    """ts_rank_cd over the newest matches of each alternative (a LIMITed subquery each), plus one for a row
    with every word and one for a row reporting an error signature (ts_rank_cd alone favours short rows over
    those); ts_headline for the rows shown.
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
        filters = filter_clauses(status, exclude_id)
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
                    alternatives += [(word, candidate_share(len(words))) for word in words[:MAX_WORDS]]
            share = candidate_share(len(errors))
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
        return [SearchHit(found_row(row), row[FOUND_WIDTH] or "") for row in rows]


_HEADLINE = """ts_headline('simple', c.title || ' · ' || c.details, q.query,
                           'StartSel=' || :start || ', StopSel=' || :end || ', MaxWords=24, MinWords=8')"""
_POSTGRES_FOUND = FOUND_COLUMNS.format(
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
