"""Full-text search over the challenge log, one interface over two engines.

SQLite: the FTS5 table `challenge_search`, ranked with BM25 (column weights favour titles and error
signatures). PostgreSQL: the `search_vector` tsvector column with its GIN index, ranked with
ts_rank_cd. Both are kept in step by triggers (migration 0002), so no write path can forget them.

Ranking every row that matches a very common word costs seconds at a million rows; both engines
rank only the newest `CANDIDATES` matches, which an index walks in id order without scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.challenges.query import SearchQuery

# Markers the engines put around matched words: control characters no user text keeps
# (`clean_text` strips them), replaced by Markdown bold once the snippet has been escaped.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"
CANDIDATES = 2000


@dataclass(frozen=True, slots=True)
class SearchHit:
    challenge_id: int
    snippet: str


class ChallengeSearchEngine(Protocol):
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
    ) -> list[SearchHit]: ...


def _filters(status: str | None, exclude_id: int | None) -> str:
    clauses = []
    if status is not None:
        clauses.append("AND c.status = :status")
    if exclude_id is not None:
        clauses.append("AND c.id != :exclude_id")
    return " ".join(clauses)


class _Engine:
    """All words first; when nothing has them all, any of them."""

    @staticmethod
    def _expression(query: SearchQuery, *, match_all: bool, prefix: bool) -> str | None:
        raise NotImplementedError

    @staticmethod
    async def _run(session: AsyncSession, values: dict[str, object], filters: str) -> list[SearchHit]:
        raise NotImplementedError

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
    ) -> list[SearchHit]:
        for match_all in (True, False):
            expression = self._expression(query, match_all=match_all, prefix=prefix)
            if expression is None:
                return []
            values = {
                "query": expression,
                "candidates": CANDIDATES,
                "start": HIGHLIGHT_START,
                "end": HIGHLIGHT_END,
                "guild_id": guild_id,
                "status": status,
                "exclude_id": exclude_id,
                "limit": limit,
            }
            hits = await self._run(session, values, _filters(status, exclude_id))
            if hits or len(query.terms) < 2:
                return hits
        return []


class SqliteChallengeSearch(_Engine):
    @staticmethod
    def _expression(query: SearchQuery, *, match_all: bool, prefix: bool) -> str | None:
        return query.fts5(match_all=match_all, prefix=prefix)

    @staticmethod
    async def _run(session: AsyncSession, values: dict[str, object], filters: str) -> list[SearchHit]:
        # 1. The newest matching candidates of this server: the index yields them in id order.
        # 2. BM25 over the id range they span (one pass over each term's list), filtered again.
        # 3. Snippets only for the few rows shown.
        ranked = text(
            f"""
            WITH newest AS (
                SELECT s.rowid AS id FROM challenge_search AS s
                JOIN challenges AS c ON c.id = s.rowid
                WHERE challenge_search MATCH :query
                  AND c.guild_id = :guild_id AND c.deleted_at IS NULL {filters}
                ORDER BY s.rowid DESC LIMIT :candidates
            ),
            scored AS (
                SELECT s.rowid AS id, bm25(challenge_search, 10.0, 1.0, 2.0, 20.0, 5.0) AS score
                FROM challenge_search AS s
                WHERE challenge_search MATCH :query AND s.rowid >= (SELECT coalesce(min(id), 0) FROM newest)
            )
            SELECT scored.id FROM scored JOIN challenges AS c ON c.id = scored.id
            WHERE c.guild_id = :guild_id AND c.deleted_at IS NULL {filters}
            ORDER BY scored.score LIMIT :limit
            """  # noqa: S608 - only fixed SQL fragments are interpolated; values are bound
        )
        ids = [row.id for row in await session.execute(ranked, values)]
        if not ids:
            return []
        snippets = text(
            "SELECT rowid AS id, snippet(challenge_search, -1, :start, :end, '…', 20) AS snippet "
            "FROM challenge_search WHERE challenge_search MATCH :query AND rowid IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        rows = await session.execute(snippets, {**values, "ids": ids})
        found = {row.id: row.snippet or "" for row in rows}
        return [SearchHit(challenge_id, found.get(challenge_id, "")) for challenge_id in ids]


class PostgresChallengeSearch(_Engine):
    @staticmethod
    def _expression(query: SearchQuery, *, match_all: bool, prefix: bool) -> str | None:
        return query.tsquery(match_all=match_all, prefix=prefix)

    @staticmethod
    async def _run(session: AsyncSession, values: dict[str, object], filters: str) -> list[SearchHit]:
        statement = text(
            f"""
            WITH q AS (SELECT to_tsquery('simple', :query) AS query),
            newest AS (
                SELECT c.id, c.search_vector FROM challenges AS c, q
                WHERE c.search_vector @@ q.query AND c.guild_id = :guild_id AND c.deleted_at IS NULL
                      {filters}
                ORDER BY c.id DESC LIMIT :candidates
            ),
            ranked AS (
                SELECT newest.id, ts_rank_cd('{{0.1, 0.2, 0.4, 1.0}}', newest.search_vector, q.query) AS score
                FROM newest, q ORDER BY score DESC, newest.id DESC LIMIT :limit
            )
            SELECT ranked.id,
                   ts_headline('simple', c.title || ' · ' || c.details, q.query,
                               'StartSel=' || :start || ', StopSel=' || :end || ', MaxWords=24, MinWords=8')
                   AS snippet
            FROM ranked JOIN challenges AS c ON c.id = ranked.id, q
            ORDER BY ranked.score DESC, ranked.id DESC
            """  # noqa: S608 - only fixed SQL fragments are interpolated; values are bound
        )
        rows = await session.execute(statement, values)
        return [SearchHit(row.id, row.snippet or "") for row in rows]


def search_engine_for(dialect: str) -> ChallengeSearchEngine:
    if dialect == "sqlite":
        return SqliteChallengeSearch()
    if dialect == "postgresql":
        return PostgresChallengeSearch()
    raise NotImplementedError(f"no full-text search for the {dialect} dialect")
