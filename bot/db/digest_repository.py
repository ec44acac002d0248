"""What the weekly digest reads (one server's live entries in a window) and its claims. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Challenge,
    ChallengeTopic,
    DigestPost,
    GuildSettings,
    Pair,
    PairRequest,
    SessionRating,
    Solution,
    StudySession,
)


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ----- schedules and claims ------------------------------------------------------------------------------------

    async def schedules(self) -> Sequence[GuildSettings]:
        """Every server with a digest channel."""
        rows = await self._session.scalars(
            select(GuildSettings).where(GuildSettings.digest_channel_id.is_not(None)).order_by(GuildSettings.guild_id)
        )
        return list(rows)

    async def post(self, guild_id: int, week: str) -> DigestPost | None:
        return await self._session.get(DigestPost, (guild_id, week))

    async def posts(self, guild_ids: Sequence[int], weeks: Sequence[str]) -> dict[tuple[int, str], DigestPost]:
        if not guild_ids:
            return {}
        rows = await self._session.scalars(
            select(DigestPost).where(DigestPost.guild_id.in_(guild_ids), DigestPost.week.in_(set(weeks)))
        )
        return {(row.guild_id, row.week): row for row in rows}

    async def claim(self, guild_id: int, week: str, channel_id: int, now: datetime, stale_before: datetime) -> bool:
        """Take the week for this server: a new row, or a claim whose sender stopped before `stale_before`. The
        database decides between two claimers (the primary key, then a guarded update): exactly one wins."""
        dialect = self._session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        values = {"guild_id": guild_id, "week": week, "channel_id": channel_id, "state": "claimed", "claimed_at": now}
        inserted: Any = await self._session.execute(
            insert(DigestPost).values(**values).on_conflict_do_nothing(index_elements=["guild_id", "week"])
        )
        if inserted.rowcount == 1:
            return True
        taken: Any = await self._session.execute(
            update(DigestPost)
            .where(
                DigestPost.guild_id == guild_id,
                DigestPost.week == week,
                DigestPost.state == "claimed",
                DigestPost.claimed_at < stale_before,
            )
            .values(claimed_at=now, channel_id=channel_id)
        )
        return bool(taken.rowcount == 1)

    async def finish(self, guild_id: int, week: str, state: str, now: datetime, message_id: int | None) -> None:
        await self._session.execute(
            update(DigestPost)
            .where(DigestPost.guild_id == guild_id, DigestPost.week == week)
            .values(state=state, finished_at=now, message_id=message_id)
        )

    # ----- the week's figures --------------------------------------------------------------------------------------

    async def logged(self, guild_id: int, start: datetime, end: datetime) -> int:
        return int(
            await self._session.scalar(
                select(func.count()).where(
                    Challenge.guild_id == guild_id,
                    Challenge.deleted_at.is_(None),
                    Challenge.created_at >= start,
                    Challenge.created_at < end,
                )
            )
            or 0
        )

    async def solved(self, guild_id: int, start: datetime, end: datetime) -> int:
        return int(
            await self._session.scalar(
                select(func.count()).where(
                    Challenge.guild_id == guild_id,
                    Challenge.deleted_at.is_(None),
                    Challenge.status == "solved",
                    Challenge.solved_at >= start,
                    Challenge.solved_at < end,
                )
            )
            or 0
        )

    def _open(self, guild_id: int, end: datetime, hidden_title: str) -> list[Any]:
        return [
            Challenge.guild_id == guild_id,
            Challenge.deleted_at.is_(None),
            Challenge.status == "open",
            Challenge.created_at < end,
            Challenge.title != hidden_title,
        ]

    async def oldest_open(
        self, guild_id: int, end: datetime, hidden_title: str, limit: int
    ) -> tuple[int, list[Challenge]]:
        """Open challenges logged before `end`, oldest first (whose text was not erased), and how many there are."""
        conditions = self._open(guild_id, end, hidden_title)
        total = await self._session.scalar(select(func.count()).select_from(Challenge).where(*conditions)) or 0
        rows = await self._session.scalars(
            select(Challenge).where(*conditions).order_by(Challenge.created_at, Challenge.id).limit(limit)
        )
        return int(total), list(rows)

    async def topics_of(self, challenge_ids: Sequence[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {challenge_id: [] for challenge_id in challenge_ids}
        if not challenge_ids:
            return found
        rows = await self._session.execute(
            select(ChallengeTopic.challenge_id, ChallengeTopic.slug)
            .where(ChallengeTopic.challenge_id.in_(challenge_ids))
            .order_by(ChallengeTopic.challenge_id, ChallengeTopic.position)
        )
        for challenge_id, slug in rows:
            found[challenge_id].append(slug)
        return found

    async def solvers(self, guild_id: int, start: datetime, end: datetime, limit: int) -> tuple[int, list[Any]]:
        """Members (still named: not forgotten) whose solutions were accepted in the window on live challenges, most
        first, and how many such members there are."""
        conditions = [
            Solution.guild_id == guild_id,
            Solution.accepted.is_(True),
            Solution.deleted_at.is_(None),
            Solution.author_id.is_not(None),
            Solution.accepted_at >= start,
            Solution.accepted_at < end,
            Challenge.deleted_at.is_(None),
        ]
        joined = select(Solution.author_id).join(Challenge, Challenge.id == Solution.challenge_id).where(*conditions)
        total = await self._session.scalar(select(func.count(func.distinct(joined.subquery().c.author_id))))
        count = func.count(Solution.id).label("accepted")
        rows = await self._session.execute(
            select(Solution.author_id, func.max(Solution.author_name), count)
            .join(Challenge, Challenge.id == Solution.challenge_id)
            .where(*conditions)
            .group_by(Solution.author_id)
            .order_by(count.desc(), func.min(Solution.accepted_at).asc(), Solution.author_id)
            .limit(limit)
        )
        return int(total or 0), [(name, int(accepted)) for _author, name, accepted in rows]

    async def topic_counts(self, guild_id: int, start: datetime, end: datetime) -> dict[str, int]:
        """Topic slug → live challenges logged in the window with that topic."""
        count = func.count(ChallengeTopic.challenge_id)
        rows = await self._session.execute(
            select(ChallengeTopic.slug, count)
            .join(Challenge, Challenge.id == ChallengeTopic.challenge_id)
            .where(
                Challenge.guild_id == guild_id,
                Challenge.deleted_at.is_(None),
                Challenge.created_at >= start,
                Challenge.created_at < end,
            )
            .group_by(ChallengeTopic.slug)
        )
        return {slug: int(total) for slug, total in rows}

    async def new_pairs(self, guild_id: int, start: datetime, end: datetime) -> int:
        return int(
            await self._session.scalar(
                select(func.count()).where(Pair.guild_id == guild_id, Pair.matched_at >= start, Pair.matched_at < end)
            )
            or 0
        )

    def _held(self, guild_id: int, start: datetime, end: datetime) -> list[Any]:
        return [
            StudySession.guild_id == guild_id,
            StudySession.state == "scheduled",
            StudySession.starts_at >= start,
            StudySession.starts_at < end,
        ]

    async def sessions_held(self, guild_id: int, start: datetime, end: datetime) -> int:
        return int(
            await self._session.scalar(
                select(func.count()).select_from(StudySession).where(*self._held(guild_id, start, end))
            )
            or 0
        )

    async def ratings(self, guild_id: int, start: datetime, end: datetime) -> tuple[int, int, int]:
        """(went well, okay, badly) for the ratings of the sessions held in the window."""
        rows = await self._session.execute(
            select(SessionRating.value, func.count())
            .join(StudySession, StudySession.id == SessionRating.session_id)
            .where(*self._held(guild_id, start, end))
            .group_by(SessionRating.value)
        )
        counts = {int(value): int(total) for value, total in rows}
        return counts.get(1, 0), counts.get(0, 0), counts.get(-1, 0)

    async def waiting_by_track(self, guild_id: int) -> dict[str, int]:
        """Requests waiting for a partner now, by track."""
        rows = await self._session.execute(
            select(PairRequest.track, func.count())
            .where(PairRequest.guild_id == guild_id, PairRequest.state == "waiting")
            .group_by(PairRequest.track)
        )
        return {track: int(total) for track, total in rows}
