"""Repositories take a session and never commit: the services own the transactions."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, func, insert, literal, select, text, union, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.shards import ALL_SHARDS, ShardScope
from bot.db.base import Base, utcnow
from bot.db.models import (
    Challenge,
    ChallengeTopic,
    ChannelCursor,
    CommandSyncState,
    GuildSettings,
    Solution,
)
from bot.db.shards import owned_by


class CommandSyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def payload_hash(self, scope: str) -> str | None:
        return await self._session.scalar(select(CommandSyncState.payload_hash).where(CommandSyncState.scope == scope))

    async def record(self, scope: str, payload_hash: str) -> None:
        state = await self._session.get(CommandSyncState, scope)
        if state is None:
            self._session.add(CommandSyncState(scope=scope, payload_hash=payload_hash, synced_at=utcnow()))
        else:
            state.payload_hash = payload_hash
            state.synced_at = utcnow()


class GuildSettingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, guild_id: int) -> GuildSettings | None:
        return await self._session.get(GuildSettings, guild_id)

    async def upsert(self, guild_id: int) -> GuildSettings:
        settings = await self._session.get(GuildSettings, guild_id)
        if settings is None:
            settings = GuildSettings(guild_id=guild_id, updated_at=utcnow())
            self._session.add(settings)
        return settings

    async def challenge_channels(self) -> dict[int, int]:
        """Guild → the challenge channel chosen with `/nexus setup`, for every server that chose one."""
        rows = await self._session.execute(
            select(GuildSettings.guild_id, GuildSettings.challenge_channel_id).where(
                GuildSettings.challenge_channel_id.is_not(None)
            )
        )
        return {guild_id: channel_id for guild_id, channel_id in rows if channel_id is not None}


_LIVE = Challenge.deleted_at.is_(None)
# The tables themselves, for inserts of plain rows: Core statements skip the ORM's per-row bookkeeping.
_CHALLENGES = Base.metadata.tables[Challenge.__tablename__]
_TOPICS = Base.metadata.tables[ChallengeTopic.__tablename__]
_SOLUTIONS = Base.metadata.tables[Solution.__tablename__]


class LoggedSource(NamedTuple):
    """A message already logged: the row it became, its challenge, that challenge's server, and whether
    the row is live (not soft-deleted)."""

    id: int
    challenge_id: int
    guild_id: int
    live: bool


def _pairs(rows: Any) -> dict[int, int]:
    """Rows of two integers, such as (source message, id), as a mapping."""
    found: dict[int, int] = {}
    for source, row_id in rows:
        found[source] = row_id
    return found


class ChallengeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def get(self, guild_id: int, challenge_id: int, *, with_solutions: bool = True) -> Challenge | None:
        statement = select(Challenge).where(Challenge.id == challenge_id, Challenge.guild_id == guild_id, _LIVE)
        options = [selectinload(Challenge.topics)]
        if with_solutions:
            options.append(selectinload(Challenge.solutions))
        return await self._session.scalar(statement.options(*options))

    async def by_source(self, message_id: int) -> Challenge | None:
        return await self._session.scalar(
            select(Challenge)
            .where(Challenge.source_message_id == message_id)
            .options(selectinload(Challenge.topics), selectinload(Challenge.solutions))
        )

    async def existing_sources(self, message_ids: Sequence[int]) -> set[int]:
        """Which of these messages are already logged, as a challenge or a solution."""
        if not message_ids:
            return set()
        challenges = await self._session.scalars(
            select(Challenge.source_message_id).where(Challenge.source_message_id.in_(message_ids))
        )
        solutions = await self._session.scalars(
            select(Solution.source_message_id).where(Solution.source_message_id.in_(message_ids))
        )
        return {message_id for message_id in [*challenges, *solutions] if message_id is not None}

    # ----- batches of in-channel posts: plain rows, one statement per table ----------------------

    async def reserve_ids(self) -> tuple[int, int] | None:
        """SQLite: take the write lock now, check foreign keys only at commit, and return the next free
        challenge and solution ids; other databases: None (their sequences give ids on insert).

        With ids known up front, a batch writes each challenge's topics and solutions before the challenge,
        so the search triggers build its row once instead of once per topic and solution.
        """
        if self._dialect() != "sqlite":
            return None
        # A write that changes nothing still takes the write lock (waiting for it up to the busy timeout),
        # so no other writer can take these ids before this transaction ends.
        await self._session.execute(text("UPDATE challenges SET id = id WHERE id = -1"))
        await self._session.execute(text("PRAGMA defer_foreign_keys = ON"))
        newest = select(func.max(Challenge.id)).scalar_subquery()
        newest_solution = select(func.max(Solution.id)).scalar_subquery()
        row = (await self._session.execute(select(newest, newest_solution))).one()
        return (row[0] or 0) + 1, (row[1] or 0) + 1

    async def logged_sources(
        self, message_ids: Collection[int]
    ) -> tuple[dict[int, LoggedSource], dict[int, LoggedSource]]:
        """Of `message_ids`, those logged as challenges and those logged as solutions (one query)."""
        if not message_ids:
            return {}, {}
        as_challenge = select(
            literal(True), Challenge.source_message_id, Challenge.id, Challenge.id, Challenge.guild_id, _LIVE
        ).where(Challenge.source_message_id.in_(message_ids))
        as_solution = select(
            literal(False),
            Solution.source_message_id,
            Solution.id,
            Solution.challenge_id,
            Solution.guild_id,
            Solution.deleted_at.is_(None),
        ).where(Solution.source_message_id.in_(message_ids))
        challenges: dict[int, LoggedSource] = {}
        solutions: dict[int, LoggedSource] = {}
        for is_challenge, source, row_id, challenge_id, guild_id, live in await self._session.execute(
            union_all(as_challenge, as_solution)
        ):
            if source is not None:
                found = challenges if is_challenge else solutions
                found[source] = LoggedSource(row_id, challenge_id, guild_id, bool(live))
        return challenges, solutions

    async def live_guilds(self, challenge_ids: Collection[int]) -> dict[int, int]:
        """Challenge id → its server, for those of `challenge_ids` that exist and are not deleted."""
        if not challenge_ids:
            return {}
        rows = await self._session.execute(
            select(Challenge.id, Challenge.guild_id).where(Challenge.id.in_(challenge_ids), _LIVE)
        )
        return _pairs(rows)

    def _insert(self, table: Any) -> Any:
        return (sqlite_insert if self._dialect() == "sqlite" else postgresql_insert)(table)

    async def insert_challenges(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, int]:
        """Insert challenge rows; source message → id of those inserted.

        Rows with ids (see `reserve_ids`) are inserted as they are: the write lock is held and their
        sources were checked, so a clash is an error. Rows without are inserted unless their source is
        already logged (another writer may have logged it meanwhile), and get their ids back.
        """
        if not rows:
            return {}
        if "id" in rows[0]:
            await self._session.execute(insert(_CHALLENGES), rows)
            return {row["source_message_id"]: row["id"] for row in rows}
        statement = (
            self._insert(_CHALLENGES)
            .on_conflict_do_nothing(index_elements=[_CHALLENGES.c.source_message_id])
            .returning(_CHALLENGES.c.source_message_id, _CHALLENGES.c.id)
        )
        result = await self._session.execute(statement, rows)
        return _pairs(result)

    async def insert_topics(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self._session.execute(insert(_TOPICS), rows)

    async def insert_solutions(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, int]:
        """Insert solution rows; source message → id of those inserted (as `insert_challenges`)."""
        if not rows:
            return {}
        if "id" in rows[0]:
            await self._session.execute(insert(_SOLUTIONS), rows)
            return {row["source_message_id"]: row["id"] for row in rows}
        statement = (
            self._insert(_SOLUTIONS)
            .on_conflict_do_nothing(index_elements=[_SOLUTIONS.c.source_message_id])
            .returning(_SOLUTIONS.c.source_message_id, _SOLUTIONS.c.id)
        )
        result = await self._session.execute(statement, rows)
        return _pairs(result)

    async def with_solutions(self, challenge_ids: Collection[int]) -> dict[int, Challenge]:
        """Challenges by id, deleted or not, with their topics and solutions loaded."""
        if not challenge_ids:
            return {}
        rows = await self._session.scalars(
            select(Challenge)
            .where(Challenge.id.in_(challenge_ids))
            .options(selectinload(Challenge.topics), selectinload(Challenge.solutions))
        )
        return {challenge.id: challenge for challenge in rows}

    def add(self, challenge: Challenge) -> None:
        self._session.add(challenge)

    async def flush(self) -> None:
        await self._session.flush()

    async def solution(self, solution_id: int) -> Solution | None:
        return await self._session.scalar(
            select(Solution).where(Solution.id == solution_id, Solution.deleted_at.is_(None))
        )

    async def solution_by_source(self, message_id: int) -> Solution | None:
        return await self._session.scalar(select(Solution).where(Solution.source_message_id == message_id))

    @staticmethod
    def _page_conditions(
        guild_id: int, status: str | None, topic: str | None, author_id: int | None
    ) -> list[ColumnElement[bool]]:
        conditions = [Challenge.guild_id == guild_id, _LIVE]
        if status is not None:
            conditions.append(Challenge.status == status)
        if author_id is not None:
            conditions.append(Challenge.author_id == author_id)
        if topic is not None:
            conditions.append(Challenge.id.in_(select(ChallengeTopic.challenge_id).where(ChallengeTopic.slug == topic)))
        return conditions

    async def count(self, guild_id: int, *, status: str | None, topic: str | None, author_id: int | None) -> int:
        conditions = self._page_conditions(guild_id, status, topic, author_id)
        return await self._session.scalar(select(func.count()).select_from(Challenge).where(*conditions)) or 0

    async def page(
        self,
        guild_id: int,
        *,
        status: str | None,
        topic: str | None,
        author_id: int | None,
        oldest_first: bool,
        offset: int,
        limit: int,
    ) -> list[Challenge]:
        conditions = self._page_conditions(guild_id, status, topic, author_id)
        order = (
            (Challenge.created_at.asc(), Challenge.id.asc())
            if oldest_first
            else (
                Challenge.created_at.desc(),
                Challenge.id.desc(),
            )
        )
        rows = await self._session.scalars(
            select(Challenge)
            .where(*conditions)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
            .options(selectinload(Challenge.topics))
        )
        return list(rows)

    async def solved_for_topic(self, guild_id: int, slug: str, limit: int) -> tuple[int, list[Challenge]]:
        conditions = [
            Challenge.guild_id == guild_id,
            _LIVE,
            Challenge.status == "solved",
            Challenge.id.in_(select(ChallengeTopic.challenge_id).where(ChallengeTopic.slug == slug)),
        ]
        count = await self._session.scalar(select(func.count()).select_from(Challenge).where(*conditions)) or 0
        rows = await self._session.scalars(
            select(Challenge).where(*conditions).order_by(Challenge.solved_at.desc(), Challenge.id.desc()).limit(limit)
        )
        return count, list(rows)

    async def leaderboard(self, guild_id: int, since: datetime | None, limit: int) -> list[tuple[int, str, int]]:
        conditions = [
            Solution.guild_id == guild_id,
            Solution.accepted.is_(True),
            Solution.deleted_at.is_(None),
            Solution.author_id.is_not(None),
            # Only live challenges, and nobody scores by accepting their own answer to their own challenge.
            _LIVE,
            Solution.author_id.is_distinct_from(Challenge.author_id),
        ]
        if since is not None:
            conditions.append(Solution.accepted_at >= since)
        count = func.count(Solution.id).label("accepted")
        rows = await self._session.execute(
            select(Solution.author_id, func.max(Solution.author_name), count)
            .join(Challenge, Challenge.id == Solution.challenge_id)
            .where(*conditions)
            .group_by(Solution.author_id)
            .order_by(count.desc(), func.min(Solution.accepted_at).asc())
            .limit(limit)
        )
        return [(author_id, name, total) for author_id, name, total in rows if author_id is not None]

    async def due_nudges(self, before: datetime, limit: int, shards: ShardScope = ALL_SHARDS) -> list[Challenge]:
        """Open challenges older than `before` with no solution and no nudge yet, taken in turn per server."""
        has_solution = (
            select(Solution.id).where(Solution.challenge_id == Challenge.id, Solution.deleted_at.is_(None)).exists()
        )
        return await self._in_turn_per_guild(
            (_LIVE, Challenge.status == "open", Challenge.nudged_at.is_(None), Challenge.created_at <= before),
            ~has_solution,
            owned_by(Challenge.guild_id, shards),
            limit=limit,
        )

    async def due_author_questions(
        self, before: datetime, limit: int, shards: ShardScope = ALL_SHARDS
    ) -> list[Challenge]:
        """Open challenges whose first solution is older than `before`, none accepted, author not asked; taken in
        turn per server."""
        first_solution = (
            select(func.min(Solution.created_at))
            .where(Solution.challenge_id == Challenge.id, Solution.deleted_at.is_(None))
            .scalar_subquery()
        )
        return await self._in_turn_per_guild(
            (_LIVE, Challenge.status == "open", Challenge.asked_author_at.is_(None), Challenge.author_id.is_not(None)),
            first_solution <= before,
            owned_by(Challenge.guild_id, shards),
            limit=limit,
        )

    async def _in_turn_per_guild(
        self, conditions: tuple[ColumnElement[bool], ...], *more: ColumnElement[bool], limit: int
    ) -> list[Challenge]:
        """The matching challenges, every server's oldest first, then every server's second, and so on: one
        server's backlog cannot take a whole batch and leave the others waiting."""
        rank = func.row_number().over(partition_by=Challenge.guild_id, order_by=(Challenge.created_at, Challenge.id))
        ranked = (
            select(Challenge.id.label("id"), Challenge.created_at.label("created_at"), rank.label("rank"))
            .where(*conditions, *more)
            .subquery()
        )
        ids = list(
            await self._session.scalars(
                select(ranked.c.id).order_by(ranked.c.rank, ranked.c.created_at, ranked.c.id).limit(limit)
            )
        )
        if not ids:
            return []
        rows = await self._session.scalars(
            select(Challenge).where(Challenge.id.in_(ids)).options(selectinload(Challenge.topics))
        )
        by_id = {row.id: row for row in rows}
        return [by_id[challenge_id] for challenge_id in ids if challenge_id in by_id]

    async def recent_sources(self, guild_id: int, since: datetime, limit: int) -> list[tuple[int, int]]:
        """(channel id, message id) of the newest live entries logged from a message since `since`, newest first."""
        challenges = select(Challenge.channel_id.label("channel_id"), Challenge.source_message_id.label("message_id"))
        challenges = challenges.where(
            Challenge.guild_id == guild_id,
            _LIVE,
            Challenge.source_message_id.is_not(None),
            Challenge.created_at >= since,
        )
        solutions = select(Solution.source_channel_id, Solution.source_message_id).where(
            Solution.guild_id == guild_id,
            Solution.deleted_at.is_(None),
            Solution.source_message_id.is_not(None),
            Solution.source_channel_id.is_not(None),
            Solution.created_at >= since,
        )
        # A post holding a challenge and its solution is one message: UNION, not UNION ALL.
        both = union(challenges, solutions).subquery()
        rows = await self._session.execute(
            select(both.c.channel_id, both.c.message_id).order_by(both.c.message_id.desc()).limit(limit)
        )
        return [(int(channel_id), int(message_id)) for channel_id, message_id in rows]

    async def guilds(self) -> list[int]:
        rows = await self._session.scalars(
            select(Challenge.guild_id).where(_LIVE).distinct().order_by(Challenge.guild_id)
        )
        return list(rows)

    async def export_batch(
        self,
        guild_id: int,
        after_id: int,
        limit: int,
        *,
        status: str | None = None,
        topic: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[Any], dict[int, list[str]], dict[int, list[Any]]]:
        """Plain rows, not ORM objects: an export reads every challenge, and objects cost ten times more."""
        conditions = self._page_conditions(guild_id, status, topic, None)
        if since is not None:
            conditions.append(Challenge.created_at >= since)
        challenges = list(
            await self._session.execute(
                select(
                    Challenge.id,
                    Challenge.title,
                    Challenge.details,
                    Challenge.tried,
                    Challenge.author_id,
                    Challenge.author_name,
                    Challenge.status,
                    Challenge.created_at,
                )
                .where(*conditions, Challenge.id > after_id)
                .order_by(Challenge.id)
                .limit(limit)
            )
        )
        topics: dict[int, list[str]] = {}
        solutions: dict[int, list[Any]] = {}
        if challenges:
            # The batch again as a subquery (its id range and conditions) rather than a list of its ids: a list of
            # a thousand parameters costs more to build and bind, in the event loop, than the query itself.
            ids = select(Challenge.id).where(*conditions, Challenge.id > after_id, Challenge.id <= challenges[-1].id)
            for challenge_id, slug in await self._session.execute(
                select(ChallengeTopic.challenge_id, ChallengeTopic.slug)
                .where(ChallengeTopic.challenge_id.in_(ids))
                .order_by(ChallengeTopic.challenge_id, ChallengeTopic.position)
            ):
                topics.setdefault(challenge_id, []).append(slug)
            for row in await self._session.execute(
                select(
                    Solution.challenge_id, Solution.author_id, Solution.author_name, Solution.body, Solution.accepted
                )
                .where(Solution.challenge_id.in_(ids), Solution.deleted_at.is_(None))
                .order_by(Solution.challenge_id, Solution.accepted.desc(), Solution.id)
            ):
                solutions.setdefault(row.challenge_id, []).append(row)
        return challenges, topics, solutions

    async def cursor(self, channel_id: int) -> int | None:
        return await self._session.scalar(
            select(ChannelCursor.last_message_id).where(ChannelCursor.channel_id == channel_id)
        )

    async def advance_cursor(self, guild_id: int, channel_id: int, message_id: int) -> None:
        """Move the channel's cursor forward (never back), as one upsert: live messages and backfill race."""
        dialect = self._session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        statement = insert(ChannelCursor).values(channel_id=channel_id, guild_id=guild_id, last_message_id=message_id)
        newest = case(
            (statement.excluded.last_message_id > ChannelCursor.last_message_id, statement.excluded.last_message_id),
            else_=ChannelCursor.last_message_id,
        )
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=[ChannelCursor.channel_id], set_={"last_message_id": newest})
        )
