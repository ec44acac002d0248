"""The pairing tables: queue, pairs, check-ins, sessions and their notices. Takes a session, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.core.shards import ALL_SHARDS, ShardScope
from bot.db.models import (
    LearnerProfile,
    Pair,
    PairCheckin,
    PairRequest,
    SessionNotice,
    SessionRating,
    StudySession,
)
from bot.db.shards import owned_by
from bot.pairing.states import NoticeKind, RequestState, SessionState

_ADVISORY_NAMESPACE = 0x5041_4952  # "PAIR": keeps these keys apart from any other advisory lock user


class PairingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def flush(self) -> None:
        await self._session.flush()

    def add(self, row: object) -> None:
        self._session.add(row)

    async def lock_queue(self, guild_id: int) -> None:
        """Serialise the matchers of one server before its queue is read, for the rest of the transaction.

        SQLite: a write that changes nothing still takes the write lock, so the transaction waits for it (busy
        timeout) up front; a read-then-write transaction could not wait and would fail at once under contention.
        PostgreSQL: a transaction-scoped advisory lock on the server. The guarded update in `close_waiting` stays
        the proof that a request is matched once.
        """
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_NAMESPACE ^ guild_id}
            )
        else:
            await self._session.execute(text("UPDATE pair_requests SET state = state WHERE id = -1"))

    # ----- profiles and requests ---------------------------------------------------------------------------------

    async def profile(self, guild_id: int, user_id: int) -> LearnerProfile | None:
        return await self._session.get(LearnerProfile, (guild_id, user_id))

    async def waiting_request(self, guild_id: int, user_id: int) -> PairRequest | None:
        return await self._session.scalar(
            select(PairRequest).where(
                PairRequest.guild_id == guild_id,
                PairRequest.user_id == user_id,
                PairRequest.state == RequestState.WAITING,
            )
        )

    async def request(self, request_id: int) -> PairRequest | None:
        return await self._session.get(PairRequest, request_id)

    async def has_newer_request(self, request: PairRequest) -> bool:
        """Whether the learner asked again in this server after `request` (a renewal, or a new `/pair request`)."""
        newer = await self._session.scalar(
            select(PairRequest.id)
            .where(
                PairRequest.guild_id == request.guild_id,
                PairRequest.user_id == request.user_id,
                PairRequest.id > request.id,
            )
            .limit(1)
        )
        return newer is not None

    async def queue(self, guild_id: int, now: datetime) -> Sequence[tuple[PairRequest, LearnerProfile]]:
        """Waiting requests of learners who are not paused, oldest first, with their profiles."""
        result = await self._session.execute(
            select(PairRequest, LearnerProfile)
            .join(
                LearnerProfile,
                (LearnerProfile.guild_id == PairRequest.guild_id) & (LearnerProfile.user_id == PairRequest.user_id),
            )
            .where(
                PairRequest.guild_id == guild_id,
                PairRequest.state == RequestState.WAITING,
                or_(LearnerProfile.paused_until.is_(None), LearnerProfile.paused_until <= now),
            )
            .order_by(PairRequest.created_at, PairRequest.id)
        )
        return [(request, profile) for request, profile in result]

    async def waiting_ahead(self, request: PairRequest) -> int:
        """How many requests of the server have waited longer than this one."""
        count = await self._session.scalar(
            select(func.count()).where(
                PairRequest.guild_id == request.guild_id,
                PairRequest.state == RequestState.WAITING,
                PairRequest.created_at < request.created_at,
            )
        )
        return int(count or 0)

    async def close_waiting(self, request_ids: Sequence[int], state: RequestState, now: datetime) -> int:
        """Move still-waiting requests to `state`; the number moved. The guard that a concurrent match cannot pass:
        a request that is no longer waiting is not counted, and the caller rolls back."""
        result = await self._session.execute(
            update(PairRequest)
            .where(PairRequest.id.in_(request_ids), PairRequest.state == RequestState.WAITING)
            .values(state=state, closed_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def due_expiries(
        self, before: datetime, limit: int, shards: ShardScope = ALL_SHARDS
    ) -> Sequence[PairRequest]:
        return (
            await self._session.scalars(
                select(PairRequest)
                .where(
                    PairRequest.state == RequestState.WAITING,
                    PairRequest.created_at <= before,
                    owned_by(PairRequest.guild_id, shards),
                )
                .order_by(PairRequest.created_at)
                .limit(limit)
            )
        ).all()

    async def unnotified_expiries(self, limit: int, shards: ShardScope = ALL_SHARDS) -> Sequence[PairRequest]:
        return (
            await self._session.scalars(
                select(PairRequest)
                .where(
                    PairRequest.state == RequestState.EXPIRED,
                    PairRequest.notified_at.is_(None),
                    owned_by(PairRequest.guild_id, shards),
                )
                .order_by(PairRequest.closed_at)
                .limit(limit)
            )
        ).all()

    async def guilds_with_queue(self, shards: ShardScope = ALL_SHARDS) -> list[int]:
        rows = await self._session.scalars(
            select(PairRequest.guild_id)
            .where(PairRequest.state == RequestState.WAITING, owned_by(PairRequest.guild_id, shards))
            .group_by(PairRequest.guild_id)
            .having(func.count() >= 2)
        )
        return list(rows)

    # ----- pairs and history -----------------------------------------------------------------------------------

    async def pair(self, pair_id: int) -> Pair | None:
        return await self._session.get(Pair, pair_id)

    async def past_pairs(self, guild_id: int) -> frozenset[frozenset[int]]:
        rows = await self._session.execute(select(Pair.user_low, Pair.user_high).where(Pair.guild_id == guild_id))
        return frozenset(frozenset(row) for row in rows)

    async def current_pair(self, guild_id: int, user_a: int, user_b: int) -> Pair | None:
        """The two learners' pairing that has not ended, if any."""
        low, high = sorted((user_a, user_b))
        return await self._session.scalar(
            select(Pair)
            .where(Pair.guild_id == guild_id, Pair.user_low == low, Pair.user_high == high, Pair.ended_at.is_(None))
            .order_by(Pair.id.desc())
            .limit(1)
        )

    async def pairs_of(self, guild_id: int, user_id: int, *, limit: int) -> Sequence[Pair]:
        return (
            await self._session.scalars(
                select(Pair)
                .where(Pair.guild_id == guild_id, or_(Pair.user_low == user_id, Pair.user_high == user_id))
                .order_by(Pair.matched_at.desc(), Pair.id.desc())
                .limit(limit)
            )
        ).all()

    async def unannounced(self, limit: int, shards: ShardScope = ALL_SHARDS) -> Sequence[Pair]:
        return (
            await self._session.scalars(
                select(Pair)
                .where(Pair.announced_at.is_(None), Pair.ended_at.is_(None), owned_by(Pair.guild_id, shards))
                .order_by(Pair.id)
                .limit(limit)
            )
        ).all()

    async def ratings(self, guild_id: int, user_ids: Sequence[int]) -> dict[int, float]:
        """Each learner's standing, -1..1: the mean of the session ratings they received and of their partners'
        "did you meet?" answers about them (met counts 1, not met -1). Absent for a learner without any."""
        if not user_ids:
            return {}
        received = (
            select(SessionRating.ratee_id.label("user_id"), SessionRating.value.label("value"))
            .join(StudySession, StudySession.id == SessionRating.session_id)
            .where(
                StudySession.guild_id == guild_id,
                SessionRating.ratee_id.in_(user_ids),
                # Only sessions that took place between paired learners: nobody can rate a stranger down.
                StudySession.pair_id.is_not(None),
                StudySession.state == SessionState.SCHEDULED,
            )
        )
        # The partner of the one who answered is the other member of the pair.
        partner = func.coalesce(
            func.nullif(Pair.user_low, PairCheckin.user_id), func.nullif(Pair.user_high, PairCheckin.user_id)
        )
        checkins = select(partner.label("user_id"), case((PairCheckin.met.is_(True), 1), else_=-1).label("value"))
        checkins = checkins.join(Pair, Pair.id == PairCheckin.pair_id).where(
            Pair.guild_id == guild_id, PairCheckin.met.is_not(None), partner.in_(user_ids)
        )
        both = received.union_all(checkins).subquery()
        rows = await self._session.execute(select(both.c.user_id, func.avg(both.c.value)).group_by(both.c.user_id))
        return {int(user_id): max(-1.0, min(1.0, float(mean))) for user_id, mean in rows}

    # ----- check-ins --------------------------------------------------------------------------------------------

    async def pairs_due_checkin(
        self, matched_before: datetime, limit: int, shards: ShardScope = ALL_SHARDS
    ) -> Sequence[Pair]:
        """Pairs old enough to be asked "did you meet?" where someone has not been asked yet."""
        asked = select(func.count()).where(PairCheckin.pair_id == Pair.id).scalar_subquery()
        return (
            await self._session.scalars(
                select(Pair)
                .where(
                    Pair.matched_at <= matched_before,
                    Pair.announced_at.is_not(None),
                    asked < 2,
                    owned_by(Pair.guild_id, shards),
                )
                .order_by(Pair.id)
                .limit(limit)
            )
        ).all()

    async def checkin(self, pair_id: int, user_id: int) -> PairCheckin | None:
        return await self._session.get(PairCheckin, (pair_id, user_id))

    async def unsent_checkins(self, limit: int, shards: ShardScope = ALL_SHARDS) -> Sequence[PairCheckin]:
        return (
            await self._session.scalars(
                select(PairCheckin)
                .join(Pair, Pair.id == PairCheckin.pair_id)
                .where(PairCheckin.sent_at.is_(None), owned_by(Pair.guild_id, shards))
                .order_by(PairCheckin.asked_at)
                .limit(limit)
            )
        ).all()

    async def overdue_checkins(
        self, sent_before: datetime, limit: int, shards: ShardScope = ALL_SHARDS
    ) -> Sequence[tuple[PairCheckin, int]]:
        """Sent, unanswered, past the answer window and not yet counted: with the guild of their pair."""
        rows = await self._session.execute(
            select(PairCheckin, Pair.guild_id)
            .join(Pair, Pair.id == PairCheckin.pair_id)
            .where(
                PairCheckin.sent_at <= sent_before,
                PairCheckin.answered_at.is_(None),
                PairCheckin.ignored_at.is_(None),
                owned_by(Pair.guild_id, shards),
            )
            .order_by(PairCheckin.sent_at)
            .limit(limit)
        )
        return [(checkin, int(guild_id)) for checkin, guild_id in rows]

    async def checkin_counts(self, guild_id: int, since: datetime) -> tuple[int, int, int]:
        """(asked, answered "met", answered "did not meet") for check-ins of pairs matched since `since`."""
        row = (
            await self._session.execute(
                select(
                    func.count(PairCheckin.sent_at),
                    func.count().filter(PairCheckin.met.is_(True)),
                    func.count().filter(PairCheckin.met.is_(False)),
                )
                .join(Pair, Pair.id == PairCheckin.pair_id)
                .where(Pair.guild_id == guild_id, Pair.matched_at >= since)
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def matches_since(self, guild_id: int, since: datetime) -> int:
        count = await self._session.scalar(
            select(func.count()).where(Pair.guild_id == guild_id, Pair.matched_at >= since)
        )
        return int(count or 0)

    async def waiting_summary(self, guild_id: int) -> Sequence[tuple[str, datetime]]:
        rows = await self._session.execute(
            select(PairRequest.track, PairRequest.created_at).where(
                PairRequest.guild_id == guild_id, PairRequest.state == RequestState.WAITING
            )
        )
        return list(rows)

    # ----- sessions ----------------------------------------------------------------------------------------------

    async def study_session(self, session_id: int) -> StudySession | None:
        return await self._session.get(StudySession, session_id)

    async def upcoming_sessions(
        self, guild_id: int, user_id: int, after: datetime, limit: int
    ) -> Sequence[StudySession]:
        """The member's booked sessions starting after `after`, soonest first."""
        return await self._sessions_of(guild_id, user_id, SessionState.SCHEDULED, StudySession.starts_at, after, limit)

    async def open_invitations(self, guild_id: int, organiser_id: int, now: datetime) -> Sequence[StudySession]:
        """The organiser's invitations still waiting for an answer."""
        return (
            await self._session.scalars(
                select(StudySession)
                .where(
                    StudySession.guild_id == guild_id,
                    StudySession.organiser_id == organiser_id,
                    StudySession.state == SessionState.PROPOSED,
                    StudySession.respond_by > now,
                )
                .order_by(StudySession.id)
            )
        ).all()

    async def declined_since(self, guild_id: int, organiser_id: int, partner_id: int, since: datetime) -> bool:
        """Whether `partner_id` declined an invitation of `organiser_id` since `since`."""
        found = await self._session.scalar(
            select(StudySession.id)
            .where(
                StudySession.guild_id == guild_id,
                StudySession.organiser_id == organiser_id,
                StudySession.partner_id == partner_id,
                StudySession.state == SessionState.DECLINED,
                StudySession.answered_at > since,
            )
            .limit(1)
        )
        return found is not None

    async def waiting_invitations(
        self, guild_id: int, user_id: int, now: datetime, limit: int
    ) -> Sequence[StudySession]:
        """Invitations the learner sent or received that still wait for an answer, soonest deadline first."""
        return await self._sessions_of(guild_id, user_id, SessionState.PROPOSED, StudySession.respond_by, now, limit)

    async def _sessions_of(
        self,
        guild_id: int,
        user_id: int,
        state: SessionState,
        moment: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
        after: datetime,
        limit: int,
    ) -> Sequence[StudySession]:
        """The member's sessions (organiser or partner) in `state` whose `moment` is after `after`, by that moment."""
        return (
            await self._session.scalars(
                select(StudySession)
                .where(
                    StudySession.guild_id == guild_id,
                    StudySession.state == state,
                    or_(StudySession.organiser_id == user_id, StudySession.partner_id == user_id),
                    moment > after,
                )
                .order_by(moment, StudySession.id)
                .limit(limit)
            )
        ).all()

    async def lapse_invitations(self, now: datetime, shards: ShardScope = ALL_SHARDS) -> None:
        """Invitations past their deadline become `expired`."""
        await self._session.execute(
            update(StudySession)
            .where(
                StudySession.state == SessionState.PROPOSED,
                StudySession.respond_by <= now,
                owned_by(StudySession.guild_id, shards),
            )
            .values(state=SessionState.EXPIRED)
            .execution_options(synchronize_session=False)
        )

    async def untold_lapses(self, limit: int, shards: ShardScope = ALL_SHARDS) -> Sequence[StudySession]:
        return (
            await self._session.scalars(
                select(StudySession)
                .where(
                    StudySession.state == SessionState.EXPIRED,
                    StudySession.lapse_told_at.is_(None),
                    owned_by(StudySession.guild_id, shards),
                )
                .order_by(StudySession.respond_by, StudySession.id)
                .limit(limit)
            )
        ).all()

    async def settle_invitation(self, session_id: int, state: SessionState, pair_id: int | None, now: datetime) -> bool:
        """Answer a still-proposed invitation; False when another answer (or a withdrawal) came first."""
        result = await self._session.execute(
            update(StudySession)
            .where(StudySession.id == session_id, StudySession.state == SessionState.PROPOSED)
            .values(state=state, pair_id=pair_id, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def delete_session(self, row: StudySession) -> None:
        await self._session.delete(row)

    async def sessions_starting(
        self, after: datetime, before: datetime, shards: ShardScope = ALL_SHARDS
    ) -> Sequence[StudySession]:
        return (
            await self._session.scalars(
                select(StudySession)
                .where(
                    StudySession.state == SessionState.SCHEDULED,
                    StudySession.starts_at > after,
                    StudySession.starts_at <= before,
                    owned_by(StudySession.guild_id, shards),
                )
                .order_by(StudySession.starts_at, StudySession.id)
            )
        ).all()

    async def notices(self, session_ids: Sequence[int]) -> set[tuple[int, int, str]]:
        if not session_ids:
            return set()
        rows = await self._session.execute(
            select(SessionNotice.session_id, SessionNotice.user_id, SessionNotice.kind).where(
                SessionNotice.session_id.in_(session_ids)
            )
        )
        return {(int(s), int(u), str(k)) for s, u, k in rows}

    async def unsent_notices(
        self, limit: int, shards: ShardScope = ALL_SHARDS
    ) -> Sequence[tuple[SessionNotice, StudySession]]:
        rows = await self._session.execute(
            select(SessionNotice, StudySession)
            .join(StudySession, StudySession.id == SessionNotice.session_id)
            .where(SessionNotice.sent_at.is_(None), owned_by(StudySession.guild_id, shards))
            .order_by(SessionNotice.claimed_at)
            .limit(limit)
        )
        return list(rows)

    async def close_skipped_notices(self, now: datetime) -> int:
        """Remove unsent claims that can never be sent: their session was cancelled, or a reminder's session has
        started. Nothing claims them again (a cancelled or started session is due for no reminder)."""
        cancelled = select(StudySession.id).where(StudySession.state != SessionState.SCHEDULED)
        started = select(StudySession.id).where(StudySession.starts_at <= now)
        result = await self._session.execute(
            delete(SessionNotice)
            .where(
                SessionNotice.sent_at.is_(None),
                or_(
                    SessionNotice.session_id.in_(cancelled),
                    and_(SessionNotice.kind != NoticeKind.RATING, SessionNotice.session_id.in_(started)),
                ),
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def notice(self, session_id: int, user_id: int, kind: NoticeKind) -> SessionNotice | None:
        return await self._session.get(SessionNotice, (session_id, user_id, kind))

    async def rating(self, session_id: int, rater_id: int) -> SessionRating | None:
        return await self._session.get(SessionRating, (session_id, rater_id))

    # ----- forgetting --------------------------------------------------------------------------------------------

    async def forget(self, guild_id: int, user_id: int) -> None:
        """Delete a learner's profile, requests, pairs, check-ins, sessions and ratings in this server."""
        await self._session.execute(
            delete(StudySession).where(
                StudySession.guild_id == guild_id,
                or_(StudySession.organiser_id == user_id, StudySession.partner_id == user_id),
            )
        )
        await self._session.execute(
            delete(Pair).where(Pair.guild_id == guild_id, or_(Pair.user_low == user_id, Pair.user_high == user_id))
        )
        await self._session.execute(
            delete(PairRequest).where(PairRequest.guild_id == guild_id, PairRequest.user_id == user_id)
        )
        await self._session.execute(
            delete(LearnerProfile).where(LearnerProfile.guild_id == guild_id, LearnerProfile.user_id == user_id)
        )
