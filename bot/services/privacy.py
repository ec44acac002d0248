"""`/nexus forget-me`: what Nexus holds about a member, per server, and forgetting it on request; and the retention
purge (`NEXUS_RETENTION_DAYS`) that removes what nobody asked to keep.

Each part is forgotten by the service that owns it, in that service's own transaction: the pairing data is deleted
(`PairingService.forget`), the challenges and solutions are anonymised and unlinked from their posts
(`ChallengeService.forget_author`: the text stays useful to others unless the member asks to erase it, the authorship
goes). Every step is idempotent, so a request cut short half-way (the database went away between the two) is
completed by asking again, and asking twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import ColumnElement

from bot.db.base import utcnow
from bot.db.models import Challenge, LearnerProfile, MemberChoices, Pair, PairRequest, Solution, StudySession
from bot.db.privacy_repository import PrivacyRepository
from bot.services.challenges import ChallengeService
from bot.services.pairing import PairingService

log = logging.getLogger(__name__)

# Rows of each kind one purge call removes at most: a long-neglected database is worked through over several runs.
PURGE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Footprint:
    """What Nexus holds about one member in one server (soft-deleted challenges and solutions included)."""

    profile: bool
    requests: int
    pairs: int
    sessions: int
    challenges: int
    solutions: int
    # `/nexus profile` choices (web consent, credit by name).
    choices: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.profile
            or self.requests
            or self.pairs
            or self.sessions
            or self.challenges
            or self.solutions
            or self.choices
        )


@dataclass(frozen=True, slots=True)
class Forgotten(Footprint):
    """What one `/nexus forget-me` did in one server: pairing rows deleted, challenges and solutions anonymised and
    unlinked from their posts (`erased`: their text replaced too)."""

    erased: bool = False

    @property
    def nothing(self) -> bool:
        return self.empty


@dataclass(frozen=True, slots=True)
class Purged:
    """What one retention purge did: texts erased, pairing rows deleted, forgotten-message markers dropped."""

    challenges: int
    solutions: int
    pairs: int
    requests: int
    sessions: int
    profiles: int
    messages: int

    @property
    def total(self) -> int:
        return (
            self.challenges
            + self.solutions
            + self.pairs
            + self.requests
            + self.sessions
            + self.profiles
            + self.messages
        )


async def _count(session: AsyncSession, model: type[object], *where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class PrivacyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        challenges: ChallengeService,
        pairing: PairingService,
        *,
        retention: timedelta | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._challenges = challenges
        self._pairing = pairing
        # None: keep everything (NEXUS_RETENTION_DAYS=0).
        self.retention = retention
        # "Now" for the retention purge; tests move it.
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    async def servers_of(self, user_id: int) -> list[int]:
        """Every server where Nexus holds anything about the member, whether or not they are still in it."""
        async with self._sessions() as session:
            return await PrivacyRepository(session).guilds_of(user_id)

    async def footprints(self, user_id: int, guild_ids: Sequence[int] | None = None) -> dict[int, Footprint]:
        """What is held about the member per server: in `guild_ids`, or in every server that holds anything."""
        chosen = await self.servers_of(user_id) if guild_ids is None else guild_ids
        return {guild_id: await self.footprint(guild_id, user_id) for guild_id in chosen}

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
                choices=await _count(
                    session, MemberChoices, MemberChoices.guild_id == guild_id, MemberChoices.user_id == user_id
                )
                > 0,
            )

    async def forget_me(self, guild_id: int, user_id: int, *, erase_text: bool = False) -> Forgotten:
        """Delete the member's pairing data in this server and anonymise their challenges and solutions there,
        unlinked from their posts; with `erase_text`, their text is replaced too.

        Other servers are untouched. The pairing counts are read just before the deletion (the pairing service
        deletes without counting); the challenge counts are what the anonymisation changed.
        """
        held = await self.footprint(guild_id, user_id)
        await self._pairing.forget(guild_id, user_id)
        challenges, solutions = await self._challenges.forget_author(guild_id, user_id, erase_text=erase_text)
        async with self._sessions.begin() as session:
            choices = await PrivacyRepository(session).delete_choices(guild_id, user_id)
        forgotten = Forgotten(
            held.profile,
            held.requests,
            held.pairs,
            held.sessions,
            challenges,
            solutions,
            choices=choices,
            erased=erase_text,
        )
        # No user id here: the log keeps what was done, not who asked to be forgotten.
        log.info(
            "forget-me in guild %s: profile %s, %d requests, %d pairs, %d sessions deleted; "
            "%d challenges, %d solutions anonymised%s",
            guild_id,
            "deleted" if forgotten.profile else "none",
            forgotten.requests,
            forgotten.pairs,
            forgotten.sessions,
            forgotten.challenges,
            forgotten.solutions,
            ", their text erased" if erase_text else "",
        )
        return forgotten

    async def forget_in(
        self, user_id: int, guild_ids: Sequence[int], *, erase_text: bool = False
    ) -> dict[int, Forgotten]:
        """`forget_me` in each of these servers (those a DM request listed), in order; what it did in each."""
        return {guild_id: await self.forget_me(guild_id, user_id, erase_text=erase_text) for guild_id in guild_ids}

    async def purge_expired(self, now: datetime, *, limit: int = PURGE_BATCH) -> Purged:
        """The retention purge: the text of entries deleted longer than the retention period ago, pairing data that
        has been stale as long, and the markers of forgotten messages. Bounded (`limit` rows of each kind) and
        idempotent: a run removes only what is still there, so the next run carries on where this one stopped."""
        if self.retention is None:
            return Purged(0, 0, 0, 0, 0, 0, 0)
        cutoff = now - self.retention
        challenges, solutions = await self._challenges.purge_deleted_text(cutoff, limit)
        sessions, pairs, requests, profiles = await self._pairing.purge_stale(cutoff, limit)
        messages = await self._challenges.purge_forgotten_messages(cutoff, limit)
        return Purged(challenges, solutions, pairs, requests, sessions, profiles, messages)
