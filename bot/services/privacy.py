"""`/nexus forget-me`: what Nexus holds about a member in one server, and forgetting it on request.

Each part is forgotten by the service that owns it, in that service's own transaction: the pairing data is deleted
(`PairingService.forget`), the challenges and solutions are anonymised (`ChallengeService.forget_author`: the text
stays useful to others, the authorship goes). Every step is idempotent, so a request cut short half-way (the
database went away between the two) is completed by asking again, and asking twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import ColumnElement

from bot.db.models import Challenge, LearnerProfile, Pair, PairRequest, Solution, StudySession
from bot.services.challenges import ChallengeService
from bot.services.pairing import PairingService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Footprint:
    """What Nexus holds about one member in one server (soft-deleted challenges and solutions included)."""

    profile: bool
    requests: int
    pairs: int
    sessions: int
    challenges: int
    solutions: int

    @property
    def empty(self) -> bool:
        return not (self.profile or self.requests or self.pairs or self.sessions or self.challenges or self.solutions)


@dataclass(frozen=True, slots=True)
class Forgotten(Footprint):
    """What one `/nexus forget-me` did: pairing rows deleted, challenges and solutions anonymised."""

    @property
    def nothing(self) -> bool:
        return self.empty


async def _count(session: AsyncSession, model: type[object], *where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class PrivacyService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], challenges: ChallengeService, pairing: PairingService
    ) -> None:
        self._sessions = sessions
        self._challenges = challenges
        self._pairing = pairing

    async def footprint(self, guild_id: int, user_id: int) -> Footprint:
        """Count what is held about the member in this server (read only)."""
        async with self._sessions() as session:
            return Footprint(
                profile=await _count(
                    session, LearnerProfile, LearnerProfile.guild_id == guild_id, LearnerProfile.user_id == user_id
                )
                > 0,
                requests=await _count(
                    session, PairRequest, PairRequest.guild_id == guild_id, PairRequest.user_id == user_id
                ),
                pairs=await _count(
                    session, Pair, Pair.guild_id == guild_id, or_(Pair.user_low == user_id, Pair.user_high == user_id)
                ),
                sessions=await _count(
                    session,
                    StudySession,
                    StudySession.guild_id == guild_id,
                    or_(StudySession.organiser_id == user_id, StudySession.partner_id == user_id),
                ),
                challenges=await _count(
                    session, Challenge, Challenge.guild_id == guild_id, Challenge.author_id == user_id
                ),
                solutions=await _count(session, Solution, Solution.guild_id == guild_id, Solution.author_id == user_id),
            )

    async def forget_me(self, guild_id: int, user_id: int) -> Forgotten:
        """Delete the member's pairing data in this server and anonymise their challenges and solutions there.

        Other servers are untouched. The pairing counts are read just before the deletion (the pairing service
        deletes without counting); the challenge counts are what the anonymisation changed.
        """
        held = await self.footprint(guild_id, user_id)
        await self._pairing.forget(guild_id, user_id)
        challenges, solutions = await self._challenges.forget_author(guild_id, user_id)
        forgotten = Forgotten(held.profile, held.requests, held.pairs, held.sessions, challenges, solutions)
        # No user id here: the log keeps what was done, not who asked to be forgotten.
        log.info(
            "forget-me in guild %s: profile %s, %d requests, %d pairs, %d sessions deleted; "
            "%d challenges, %d solutions anonymised",
            guild_id,
            "deleted" if forgotten.profile else "none",
            forgotten.requests,
            forgotten.pairs,
            forgotten.sessions,
            forgotten.challenges,
            forgotten.solutions,
        )
        return forgotten
