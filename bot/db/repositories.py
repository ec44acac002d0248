"""Repositories take a session and never commit: the services own the transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.db.base import utcnow
from bot.db.models import (
    Challenge,
    ChallengeTopic,
    ChannelCursor,
    CommandSyncState,
    GuildSettings,
    Solution,
)


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


class ChallengeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, guild_id: int, challenge_id: int, *, with_solutions: bool = True) -> Challenge | None:
        statement = select(Challenge).where(Challenge.id == challenge_id, Challenge.guild_id == guild_id, _LIVE)
        options = [selectinload(Challenge.topics)]
        if with_solutions:
            options.append(selectinload(Challenge.solutions))
        return await self._session.scalar(statement.options(*options))

    async def by_ids(self, guild_id: int, ids: Sequence[int]) -> dict[int, Challenge]:
        if not ids:
            return {}
        # Only the primary key in SQL: with the server's id there too, SQLite may walk the server's
        # index over a million rows instead of fetching these few. The rest is checked here.
        rows = await self._session.scalars(
            select(Challenge).where(Challenge.id.in_(ids)).options(selectinload(Challenge.topics))
        )
        return {
            challenge.id: challenge
            for challenge in rows
            if challenge.guild_id == guild_id and challenge.deleted_at is None
        }

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

    async def solved_for_topic(self, guild_id: int | None, slug: str, limit: int) -> tuple[int, list[Challenge]]:
        conditions = [
            _LIVE,
            Challenge.status == "solved",
            Challenge.id.in_(select(ChallengeTopic.challenge_id).where(ChallengeTopic.slug == slug)),
        ]
        if guild_id is not None:
            conditions.append(Challenge.guild_id == guild_id)
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
        ]
        if since is not None:
            conditions.append(Solution.accepted_at >= since)
        count = func.count(Solution.id).label("accepted")
        rows = await self._session.execute(
            select(Solution.author_id, func.max(Solution.author_name), count)
            .where(*conditions)
            .group_by(Solution.author_id)
            .order_by(count.desc(), func.min(Solution.accepted_at).asc())
            .limit(limit)
        )
        return [(author_id, name, total) for author_id, name, total in rows if author_id is not None]

    async def due_nudges(self, before: datetime, limit: int) -> list[Challenge]:
        """Open challenges older than `before` with no solution and no nudge yet."""
        has_solution = (
            select(Solution.id).where(Solution.challenge_id == Challenge.id, Solution.deleted_at.is_(None)).exists()
        )
        rows = await self._session.scalars(
            select(Challenge)
            .where(
                _LIVE,
                Challenge.status == "open",
                Challenge.nudged_at.is_(None),
                Challenge.created_at <= before,
            )
            .where(~has_solution)
            .order_by(Challenge.created_at)
            .limit(limit)
            .options(selectinload(Challenge.topics))
        )
        return list(rows)

    async def due_author_questions(self, before: datetime, limit: int) -> list[Challenge]:
        """Open challenges whose first solution is older than `before`, none accepted, author not asked."""
        first_solution = (
            select(func.min(Solution.created_at))
            .where(Solution.challenge_id == Challenge.id, Solution.deleted_at.is_(None))
            .scalar_subquery()
        )
        rows = await self._session.scalars(
            select(Challenge)
            .where(
                _LIVE,
                Challenge.status == "open",
                Challenge.asked_author_at.is_(None),
                Challenge.author_id.is_not(None),
                first_solution <= before,
            )
            .order_by(Challenge.created_at)
            .limit(limit)
            .options(selectinload(Challenge.topics))
        )
        return list(rows)

    async def guilds(self) -> list[int]:
        rows = await self._session.scalars(
            select(Challenge.guild_id).where(_LIVE).distinct().order_by(Challenge.guild_id)
        )
        return list(rows)

    async def export_batch(
        self, guild_id: int, after_id: int, limit: int
    ) -> tuple[list[Any], dict[int, list[str]], dict[int, list[Any]]]:
        """Plain rows, not ORM objects: an export reads every challenge, and objects cost ten times more."""
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
                .where(Challenge.guild_id == guild_id, _LIVE, Challenge.id > after_id)
                .order_by(Challenge.id)
                .limit(limit)
            )
        )
        ids = [row.id for row in challenges]
        topics: dict[int, list[str]] = {}
        solutions: dict[int, list[Any]] = {}
        if ids:
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
