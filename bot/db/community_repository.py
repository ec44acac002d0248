"""Member choices (`/nexus profile`) and what a learner's README is made of: the SQL behind both.

Every read is scoped to one server and one member, and skips deleted entries: a README never shows another server's
entries, a deleted one, or one whose authorship `/nexus forget-me` removed (its author id is gone).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.db.models import (
    Challenge,
    ChallengeTopic,
    LearnerProfile,
    MemberChoices,
    Pair,
    PairRequest,
    Solution,
    StudySession,
)


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ----- member choices ---------------------------------------------------------------------------------------

    async def choices(self, guild_id: int, user_id: int) -> MemberChoices | None:
        return await self._session.get(MemberChoices, (guild_id, user_id))

    async def save_choices(
        self, guild_id: int, user_id: int, name: str, *, web: bool | None, credit: bool | None, now: datetime
    ) -> None:
        """Create or update the member's choices: only those given change (and the credited name, always)."""
        dialect = self._session.get_bind().dialect.name
        insert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(MemberChoices)
        changed: dict[str, Any] = {"display_name": name, "updated_at": now}
        if web is not None:
            changed["web_consent"] = web
        if credit is not None:
            changed["credit"] = credit
        statement = insert.values(
            guild_id=guild_id,
            user_id=user_id,
            display_name=name,
            web_consent=web,
            credit=bool(credit),
            updated_at=now,
        ).on_conflict_do_update(index_elements=["guild_id", "user_id"], set_=changed)
        await self._session.execute(statement)
        # The row as stored now, not a stale copy from the identity map.
        self._session.expire_all()

    async def credited_names(self, guild_id: int, user_ids: Collection[int]) -> dict[int, str]:
        """The names of those of these members who chose to be credited (`credit:on`) in this server."""
        if not user_ids:
            return {}
        rows = await self._session.execute(
            select(MemberChoices.user_id, MemberChoices.display_name).where(
                MemberChoices.guild_id == guild_id,
                MemberChoices.user_id.in_(list(user_ids)),
                MemberChoices.credit.is_(True),
            )
        )
        return {int(user_id): name for user_id, name in rows}

    async def tracks(self, guild_id: int, user_ids: Collection[int]) -> dict[int, str]:
        """The pairing track of these members in this server, from their profiles."""
        if not user_ids:
            return {}
        rows = await self._session.execute(
            select(LearnerProfile.user_id, LearnerProfile.track).where(
                LearnerProfile.guild_id == guild_id, LearnerProfile.user_id.in_(list(user_ids))
            )
        )
        return {int(user_id): track for user_id, track in rows}

    async def known_name(self, guild_id: int, user_id: int) -> str | None:
        """The member's name as Nexus last stored it in this server (choices, pairing profile, newest entry)."""
        for query in (
            select(MemberChoices.display_name).where(
                MemberChoices.guild_id == guild_id, MemberChoices.user_id == user_id
            ),
            select(LearnerProfile.display_name).where(
                LearnerProfile.guild_id == guild_id, LearnerProfile.user_id == user_id
            ),
            select(Challenge.author_name)
            .where(Challenge.guild_id == guild_id, Challenge.author_id == user_id)
            .order_by(Challenge.id.desc())
            .limit(1),
            select(Solution.author_name)
            .where(Solution.guild_id == guild_id, Solution.author_id == user_id)
            .order_by(Solution.id.desc())
            .limit(1),
        ):
            name = await self._session.scalar(query)
            if name:
                return str(name)
        return None

    # ----- the README's data ------------------------------------------------------------------------------------

    @staticmethod
    def _mine(guild_id: int, user_id: int) -> tuple[Any, ...]:
        return (Challenge.guild_id == guild_id, Challenge.author_id == user_id, Challenge.deleted_at.is_(None))

    @staticmethod
    def _given(guild_id: int, user_id: int) -> tuple[Any, ...]:
        """Live solutions of the member to others' live challenges (anonymised authors count as others)."""
        return (
            Solution.guild_id == guild_id,
            Solution.author_id == user_id,
            Solution.deleted_at.is_(None),
            Challenge.deleted_at.is_(None),
            or_(Challenge.author_id.is_(None), Challenge.author_id != user_id),
        )

    async def challenges(self, guild_id: int, user_id: int, limit: int) -> tuple[list[Challenge], int, int]:
        """The member's newest live challenges (topics and solutions loaded), how many they have, how many solved."""
        rows = await self._session.scalars(
            select(Challenge)
            .where(*self._mine(guild_id, user_id))
            .options(selectinload(Challenge.topics), selectinload(Challenge.solutions))
            .order_by(Challenge.created_at.desc(), Challenge.id.desc())
            .limit(limit)
        )
        counts = (
            await self._session.execute(
                select(func.count(), func.count(Challenge.solved_at)).where(*self._mine(guild_id, user_id))
            )
        ).one()
        return list(rows), int(counts[0]), int(counts[1])

    async def solutions_given(
        self, guild_id: int, user_id: int, limit: int
    ) -> tuple[list[tuple[Solution, str]], int, int]:
        """The member's newest live solutions to others' challenges with those challenges' titles; how many in all,
        how many accepted."""
        rows = await self._session.execute(
            select(Solution, Challenge.title)
            .join(Challenge, Challenge.id == Solution.challenge_id)
            .where(*self._given(guild_id, user_id))
            .order_by(Solution.created_at.desc(), Solution.id.desc())
            .limit(limit)
        )
        counts = (
            await self._session.execute(
                select(func.count(), func.count().filter(Solution.accepted.is_(True)))
                .select_from(Solution)
                .join(Challenge, Challenge.id == Solution.challenge_id)
                .where(*self._given(guild_id, user_id))
            )
        ).one()
        return [(solution, str(title)) for solution, title in rows], int(counts[0]), int(counts[1] or 0)

    async def topics_of(self, challenge_ids: Sequence[int]) -> dict[int, list[str]]:
        """The topic slugs of these challenges, in their order."""
        if not challenge_ids:
            return {}
        rows = await self._session.execute(
            select(ChallengeTopic.challenge_id, ChallengeTopic.slug)
            .where(ChallengeTopic.challenge_id.in_(list(challenge_ids)))
            .order_by(ChallengeTopic.challenge_id, ChallengeTopic.position)
        )
        found: dict[int, list[str]] = {}
        for challenge_id, slug in rows:
            found.setdefault(int(challenge_id), []).append(str(slug))
        return found

    async def topic_uses(self, guild_id: int, user_id: int) -> dict[str, int]:
        """Per topic slug, how many of the member's live challenges, and of the live challenges they answered, carry
        it (a challenge they both asked and answered counts once)."""
        touched = union(
            select(Challenge.id).where(*self._mine(guild_id, user_id)),
            select(Solution.challenge_id)
            .join(Challenge, Challenge.id == Solution.challenge_id)
            .where(*self._given(guild_id, user_id)),
        ).subquery()
        rows = await self._session.execute(
            select(ChallengeTopic.slug, func.count())
            .where(ChallengeTopic.challenge_id.in_(select(touched.c[0])))
            .group_by(ChallengeTopic.slug)
        )
        return {str(slug): int(count) for slug, count in rows}

    async def pairs(self, guild_id: int, user_id: int, limit: int) -> tuple[list[Pair], int, dict[int, str]]:
        """The member's newest pairs, how many in all, and the track each pair's requests gave (by request id)."""
        mine = (Pair.guild_id == guild_id, or_(Pair.user_low == user_id, Pair.user_high == user_id))
        pairs = list(
            await self._session.scalars(
                select(Pair).where(*mine).order_by(Pair.matched_at.desc(), Pair.id.desc()).limit(limit)
            )
        )
        total = int(await self._session.scalar(select(func.count()).select_from(Pair).where(*mine)) or 0)
        request_ids = [
            request_id for pair in pairs for request_id in (pair.request_low_id, pair.request_high_id) if request_id
        ]
        tracks: dict[int, str] = {}
        if request_ids:
            rows = await self._session.execute(
                select(PairRequest.id, PairRequest.track).where(PairRequest.id.in_(request_ids))
            )
            tracks = {int(request_id): track for request_id, track in rows}
        return pairs, total, tracks

    async def sessions_held(
        self, guild_id: int, user_id: int, now: datetime, limit: int
    ) -> tuple[list[StudySession], int, int]:
        """The member's newest booked study sessions that have started, how many in all and their minutes."""
        held = (
            StudySession.guild_id == guild_id,
            or_(StudySession.organiser_id == user_id, StudySession.partner_id == user_id),
            and_(StudySession.state == "scheduled", StudySession.starts_at <= now),
        )
        sessions = list(
            await self._session.scalars(
                select(StudySession)
                .where(*held)
                .order_by(StudySession.starts_at.desc(), StudySession.id.desc())
                .limit(limit)
            )
        )
        counts = (
            await self._session.execute(
                select(func.count(), func.coalesce(func.sum(StudySession.duration_minutes), 0)).where(*held)
            )
        ).one()
        return sessions, int(counts[0]), int(counts[1])
