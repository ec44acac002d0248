"""Requests and rounds: the queue, matching (one request at once, the whole queue in a round), pairs and their
announcement, the learner's own view, pauses, expiry and renewal.

The rules that must hold under concurrency (one waiting request per learner, one pair per request) are the
database's; the matching transaction re-checks that both requests are still waiting and rolls back otherwise, so
two requests or a request and a round can never match one learner twice.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from bot.db.models import Challenge, ChallengeTopic, LearnerProfile, Pair, PairRequest
from bot.db.pairing_repository import PairingRepository
from bot.db.privacy_repository import PrivacyRepository
from bot.pairing.availability import describe, overlap_intervals, parse_availability
from bot.pairing.matching import Candidate, LookingFor, Match, Track, assign, best_partner, default_looking_for
from bot.pairing.states import RequestState
from bot.pairing.timezones import resolve_timezone
from bot.services.pairing._common import BATCH, MAX_TOPICS, UNTIL_RESUMED, PairingBase, _learner, _past_pair
from bot.services.pairing.views import (
    ExpiredRequest,
    MatchView,
    PairAsk,
    PairStats,
    PastPair,
    RequestOutcome,
    StatusView,
    WaitingView,
)

log = logging.getLogger(__name__)

TRACKS: tuple[Track, ...] = ("frontend", "backend")
LOOKING_FOR: tuple[LookingFor, ...] = ("frontend", "backend", "any")
MAX_PAUSE_DAYS = 90


class _Raced(Exception):
    """A request of the match was no longer waiting: another transaction matched or closed it first."""


class ProfileTracks:
    """Learners' tracks from their pairing profiles: the topic service's `LearnerTrackSource`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def track_of(self, guild_id: int, user_id: int) -> str | None:
        async with self._sessions() as session:
            profile = await PairingRepository(session).profile(guild_id, user_id)
        return profile.track if profile else None


class PairingRequests(PairingBase):
    """The queue and what becomes of a request: matched at once or in a round, announced, ended, expired."""

    # ----- asking -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _track(value: str | None, profile: LearnerProfile | None) -> Track:
        if value is None and profile is not None:
            return cast(Track, profile.track)
        if value not in TRACKS:
            raise InvalidInputError("Say which track you are on: `frontend` or `backend`.")
        return value

    @staticmethod
    def _looking_for(value: str | None, track: Track) -> LookingFor:
        if value is None:
            return default_looking_for(track)
        if value not in LOOKING_FOR:
            raise InvalidInputError("`looking_for` is `frontend`, `backend` or `any`.")
        return value

    async def request(self, ask: PairAsk, now: datetime) -> RequestOutcome:
        """Join the queue and, when a compatible partner is waiting, match at once.

        Everything is checked before anything is stored; the request and the profile are stored together.
        """
        topics = self._resolve_topics(ask.topics, ask.track)
        timezone = None
        if ask.timezone is not None:
            try:
                timezone = resolve_timezone(ask.timezone)
            except ValueError as error:
                raise InvalidInputError(str(error)) from None
        try:
            async with self._sessions.begin() as session:
                # A writer from the start: a read-then-write transaction cannot wait for another process's writer
                # (SQLite answers "database is locked" at once), one that begins by writing waits its turn.
                repository = PairingRepository(session)
                await repository.lock_queue(ask.guild_id)
                profile = await repository.profile(ask.guild_id, ask.user_id)
                track = self._track(ask.track, profile)
                looking_for = self._looking_for(ask.looking_for, track)
                timezone = timezone or (profile.timezone if profile else "UTC")
                availability_text = profile.availability_text if profile else None
                availability_utc = profile.availability_utc if profile else None
                if ask.availability is not None:
                    try:
                        parsed = parse_availability(ask.availability, timezone, reference=now)
                    except ValueError as error:
                        raise InvalidInputError(str(error)) from None
                    availability_text, availability_utc = parsed.text, parsed.intervals
                elif availability_text is not None and (profile is None or timezone != profile.timezone):
                    # The same hours in a new timezone are other UTC hours.
                    parsed = parse_availability(availability_text, timezone, reference=now)
                    availability_utc = parsed.intervals
                waiting = await repository.waiting_request(ask.guild_id, ask.user_id)
                if waiting is not None:
                    raise InvalidInputError(_already_waiting(waiting))
                resumed = profile is not None and profile.paused_until is not None and profile.paused_until > now
                if profile is None:
                    profile = LearnerProfile(guild_id=ask.guild_id, user_id=ask.user_id, missed_checkins=0)
                    repository.add(profile)
                profile.display_name = ask.name[:100]
                profile.track = track
                profile.timezone = timezone
                profile.availability_text = availability_text
                profile.availability_utc = availability_utc
                profile.paused_until = None
                profile.updated_at = now
                request = PairRequest(
                    guild_id=ask.guild_id,
                    user_id=ask.user_id,
                    track=track,
                    looking_for=looking_for,
                    topics=topics,
                    state=RequestState.WAITING,
                    challenge_id=ask.challenge_id,
                    created_at=now,
                )
                repository.add(request)
                await repository.flush()
                request_id = request.id
                learner = _learner(profile)
        except IntegrityError:
            # Two clicks at once: the other one's request is the open one.
            raise InvalidInputError("You already have a pairing request waiting: `/pair status` shows it.") from None
        echo = describe(availability_utc, timezone, reference=now) if availability_utc else None
        match = await self._match_new(ask.guild_id, request_id, now)
        ahead = 0
        if match is None:
            async with self._sessions() as session:
                row = await PairingRepository(session).request(request_id)
                ahead = await PairingRepository(session).waiting_ahead(row) if row else 0
        self._topics.forget_track(ask.guild_id, ask.user_id)  # the profile's track may have changed
        return RequestOutcome(request_id, learner, looking_for, topics, echo, resumed, match, ahead)

    async def _match_new(self, guild_id: int, request_id: int, now: datetime) -> MatchView | None:
        """Match a request that just joined against the best waiting partner; None leaves it waiting."""
        for _attempt in range(3):
            try:
                async with self._matching, self._sessions.begin() as session:
                    repository = PairingRepository(session)
                    await repository.lock_queue(guild_id)
                    queue = await repository.queue(guild_id, now)
                    candidates = await self._candidates(repository, guild_id, queue)
                    by_request = {request.user_id: (request, profile) for request, profile in queue}
                    new = next((c for c in candidates if by_request[c.user_id][0].id == request_id), None)
                    if new is None:
                        return None  # matched by a round already, or paused
                    others = [c for c in candidates if c.user_id != new.user_id]
                    found = best_partner(new, others, past_pairs=await repository.past_pairs(guild_id))
                    if found is None:
                        return None
                    return await self._pair(repository, found, by_request, now)
            except _Raced:
                continue
        return None  # still waiting; the next round will see it

    async def run_round(self, guild_id: int, now: datetime) -> list[MatchView]:
        """The periodic round: the whole queue matched for the best total score (see `matching.assign`)."""
        matches: list[MatchView] = []
        async with self._matching, self._sessions.begin() as session:
            repository = PairingRepository(session)
            await repository.lock_queue(guild_id)
            queue = await repository.queue(guild_id, now)
            if len(queue) < 2:
                return []
            candidates = await self._candidates(repository, guild_id, queue)
            by_request = {request.user_id: (request, profile) for request, profile in queue}
            for found in assign(candidates, past_pairs=await repository.past_pairs(guild_id)):
                try:
                    async with session.begin_nested():
                        matches.append(await self._pair(repository, found, by_request, now))
                except _Raced:
                    log.info("round in %s: %s and %s were taken meanwhile", guild_id, found.a, found.b)
        return matches

    async def guilds_with_queue(self) -> list[int]:
        async with self._sessions() as session:
            return await PairingRepository(session).guilds_with_queue(self._shards)

    async def _candidates(
        self,
        repository: PairingRepository,
        guild_id: int,
        queue: Sequence[tuple[PairRequest, LearnerProfile]],
    ) -> list[Candidate]:
        ratings = await repository.ratings(guild_id, [request.user_id for request, _ in queue])
        return [
            Candidate(
                user_id=request.user_id,
                track=cast(Track, request.track),
                looking_for=cast(LookingFor, request.looking_for),
                topics=frozenset(request.topics),
                intervals=profile.availability_utc,
                waiting_since=request.created_at,
                rating=ratings.get(request.user_id, 0.0),
            )
            for request, profile in queue
        ]

    async def _pair(
        self,
        repository: PairingRepository,
        found: Match,
        by_user: dict[int, tuple[PairRequest, LearnerProfile]],
        now: datetime,
    ) -> MatchView:
        (request_a, profile_a), (request_b, profile_b) = by_user[found.a], by_user[found.b]
        if await repository.close_waiting([request_a.id, request_b.id], RequestState.MATCHED, now) != 2:
            raise _Raced
        low, high = sorted(((found.a, request_a), (found.b, request_b)), key=lambda item: item[0])
        shared = tuple(sorted(found.shared_topics))
        pair = Pair(
            guild_id=request_a.guild_id,
            user_low=low[0],
            user_high=high[0],
            request_low_id=low[1].id,
            request_high_id=high[1].id,
            shared_topics=shared,
            overlap_minutes=found.overlap_minutes,
            score=found.score,
            matched_at=now,
        )
        repository.add(pair)
        await repository.flush()
        return self._match_view(pair, profile_a, profile_b)

    @staticmethod
    def _match_view(pair: Pair, profile_a: LearnerProfile, profile_b: LearnerProfile) -> MatchView:
        both = profile_a.availability_utc, profile_b.availability_utc
        overlap = overlap_intervals(both[0], both[1]) if both[0] is not None and both[1] is not None else ()
        return MatchView(
            pair.id,
            pair.guild_id,
            _learner(profile_a),
            _learner(profile_b),
            pair.shared_topics,
            tuple(overlap),
            pair.matched_at,
            pair.thread_id,
            pair.ended_at,
        )

    # ----- announcing -------------------------------------------------------------------------------------------------

    async def unannounced(self) -> list[MatchView]:
        """Pairs whose learners have not been told yet: new ones, and any a crash interrupted."""
        async with self._sessions() as session:
            repository = PairingRepository(session)
            views = []
            for pair in await repository.unannounced(BATCH, self._shards):
                low = await repository.profile(pair.guild_id, pair.user_low)
                high = await repository.profile(pair.guild_id, pair.user_high)
                if low is not None and high is not None:
                    views.append(self._match_view(pair, low, high))
            return views

    async def announcement(self, pair_id: int) -> tuple[bool, int | None]:
        """Whether the pair was announced (or no longer needs to be), and its thread."""
        async with self._sessions() as session:
            pair = await PairingRepository(session).pair(pair_id)
        if pair is None:
            return True, None
        return pair.announced_at is not None, pair.thread_id

    async def thread_opened(self, pair_id: int, thread_id: int) -> None:
        async with self._sessions.begin() as session:
            pair = await PairingRepository(session).pair(pair_id)
            if pair is not None:
                pair.thread_id = thread_id

    async def announced(self, pair_id: int, thread_id: int | None, now: datetime) -> None:
        async with self._sessions.begin() as session:
            pair = await PairingRepository(session).pair(pair_id)
            if pair is not None:
                pair.thread_id = thread_id
                pair.announced_at = now

    async def partner_left(self, pair_id: int, left_user_id: int) -> int | None:
        """A matched learner is no longer in the server: end the pair and put the other back in the queue, keeping
        their place. The other learner's id, or None when there was nothing to undo."""
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            pair = await repository.pair(pair_id)
            if pair is None or pair.ended_at is not None:
                return None
            stayed = pair.user_high if pair.user_low == left_user_id else pair.user_low
            old_id = pair.request_low_id if pair.user_low == stayed else pair.request_high_id
            old = await repository.request(old_id) if old_id is not None else None
            if old is not None and await repository.waiting_request(pair.guild_id, stayed) is None:
                repository.add(
                    PairRequest(
                        guild_id=old.guild_id,
                        user_id=stayed,
                        track=old.track,
                        looking_for=old.looking_for,
                        topics=old.topics,
                        state=RequestState.WAITING,
                        challenge_id=old.challenge_id,
                        created_at=old.created_at,
                    )
                )
            # Not a pairing that happened: it must not count as history that keeps the two apart.
            await session.delete(pair)
            return stayed

    async def end_pair(self, pair_id: int, actor_id: int, now: datetime) -> PastPair:
        async with self._sessions.begin() as session:
            pair = await PairingRepository(session).pair(pair_id)
            if pair is None:
                raise NotFoundError("This pairing no longer exists.")
            if actor_id not in (pair.user_low, pair.user_high):
                raise PermissionDeniedError("Only the two learners of this pairing can end it.")
            if pair.ended_at is not None:
                raise InvalidInputError("This pairing has already ended. `/pair request` finds a new partner.")
            pair.ended_at, pair.ended_by = now, actor_id
            return _past_pair(pair, actor_id)

    async def pair_guild(self, pair_id: int) -> int:
        async with self._sessions() as session:
            pair = await PairingRepository(session).pair(pair_id)
        if pair is None:
            raise NotFoundError("This pairing no longer exists.")
        return pair.guild_id

    async def pair_view(self, pair_id: int) -> MatchView:
        async with self._sessions() as session:
            repository = PairingRepository(session)
            pair = await repository.pair(pair_id)
            if pair is None:
                raise NotFoundError("This pairing no longer exists.")
            low = await repository.profile(pair.guild_id, pair.user_low)
            high = await repository.profile(pair.guild_id, pair.user_high)
            if low is None or high is None:
                raise NotFoundError("One of the learners of this pairing asked to be forgotten.")
            return self._match_view(pair, low, high)

    # ----- the learner's own view -------------------------------------------------------------------------------------

    async def status(self, guild_id: int, user_id: int, now: datetime) -> StatusView:
        async with self._sessions() as session:
            repository = PairingRepository(session)
            profile = await repository.profile(guild_id, user_id)
            request = await repository.waiting_request(guild_id, user_id)
            waiting = None
            if request is not None:
                waiting = self._waiting_view(request, await repository.waiting_ahead(request))
            pairs = await repository.pairs_of(guild_id, user_id, limit=10)
        current = tuple(_past_pair(pair, user_id) for pair in pairs if pair.ended_at is None)
        paused = profile.paused_until if profile and profile.paused_until and profile.paused_until > now else None
        availability = None
        if profile is not None and profile.availability_utc:
            availability = describe(profile.availability_utc, profile.timezone, reference=now)
        return StatusView(_learner(profile) if profile else None, availability, waiting, paused, current)

    async def cancel(self, guild_id: int, user_id: int, now: datetime) -> WaitingView:
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            request = await repository.waiting_request(guild_id, user_id)
            if request is None:
                raise NotFoundError("You have no pairing request waiting, so there is nothing to cancel.")
            await repository.close_waiting([request.id], RequestState.CANCELLED, now)
            return self._waiting_view(request, 0)

    def _waiting_view(self, request: PairRequest, ahead: int) -> WaitingView:
        return WaitingView(
            request.id,
            cast(Track, request.track),
            cast(LookingFor, request.looking_for),
            request.topics,
            request.created_at,
            ahead,
            request.created_at + self._request_lifetime,
        )

    async def history(self, guild_id: int, user_id: int, *, limit: int = 10) -> list[PastPair]:
        async with self._sessions() as session:
            pairs = await PairingRepository(session).pairs_of(guild_id, user_id, limit=limit)
        return [_past_pair(pair, user_id) for pair in pairs]

    async def pause(self, guild_id: int, user_id: int, days: int | None, now: datetime) -> datetime:
        """Keep the learner out of matching until the returned time (UNTIL_RESUMED without `days`)."""
        if days is not None and not 1 <= days <= MAX_PAUSE_DAYS:
            raise InvalidInputError(
                f"Pause for 1 to {MAX_PAUSE_DAYS} days, or leave `days` out to pause until you resume."
            )
        until = now + timedelta(days=days) if days is not None else UNTIL_RESUMED
        async with self._sessions.begin() as session:
            profile = await PairingRepository(session).profile(guild_id, user_id)
            if profile is None:
                raise NotFoundError("You are not in pairing yet: `/pair request` joins the queue.")
            profile.paused_until = until
            profile.updated_at = now
        return until

    async def resume(self, guild_id: int, user_id: int, now: datetime) -> bool:
        """Back into matching; False when the learner was not paused."""
        async with self._sessions.begin() as session:
            profile = await PairingRepository(session).profile(guild_id, user_id)
            if profile is None:
                raise NotFoundError("You are not in pairing yet: `/pair request` joins the queue.")
            was_paused = profile.paused_until is not None and profile.paused_until > now
            profile.paused_until = None
            profile.missed_checkins = 0
            profile.updated_at = now
        return was_paused

    async def stats(self, guild_id: int, now: datetime) -> PairStats:
        week_ago = now - timedelta(days=7)
        async with self._sessions() as session:
            repository = PairingRepository(session)
            waiting = await repository.waiting_summary(guild_id)
            matches = await repository.matches_since(guild_id, week_ago)
            asked, met, not_met = await repository.checkin_counts(guild_id, now - timedelta(days=30))
        by_track = {track: sum(1 for t, _ in waiting if t == track) for track in TRACKS}
        waits = [now - since for _, since in waiting]
        median = timedelta(seconds=statistics.median(w.total_seconds() for w in waits)) if waits else None
        return PairStats(by_track, median, matches, asked, met, not_met)

    # ----- from a challenge -------------------------------------------------------------------------------------------

    async def challenge_topics(self, challenge_id: int, guild_id: int) -> tuple[str, ...]:
        """The topics of a challenge of this server that is still there (its button may be older than a deletion)."""
        async with self._sessions() as session:
            challenge = await session.get(Challenge, challenge_id)
            if challenge is None or challenge.guild_id != guild_id or challenge.deleted_at is not None:
                raise NotFoundError(
                    "That challenge was deleted, so this button no longer works: `/pair request` asks for a partner."
                )
            rows = await session.scalars(
                select(ChallengeTopic.slug)
                .where(ChallengeTopic.challenge_id == challenge_id)
                .order_by(ChallengeTopic.position)
            )
            return tuple(rows)[:MAX_TOPICS]

    async def has_profile(self, guild_id: int, user_id: int) -> bool:
        async with self._sessions() as session:
            return await PairingRepository(session).profile(guild_id, user_id) is not None

    # ----- expiry -----------------------------------------------------------------------------------------------------

    async def expire_due(self, now: datetime) -> list[ExpiredRequest]:
        """Expire requests that waited too long; returns every expiry whose notice is still to be sent."""
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            due = await repository.due_expiries(now - self._request_lifetime, BATCH, self._shards)
            await repository.close_waiting([request.id for request in due], RequestState.EXPIRED, now)
        async with self._sessions() as session:
            pending = await PairingRepository(session).unnotified_expiries(BATCH, self._shards)
            return [ExpiredRequest(r.id, r.guild_id, r.user_id, (r.closed_at or now) - r.created_at) for r in pending]

    async def expiry_notified(self, request_id: int, now: datetime) -> None:
        async with self._sessions.begin() as session:
            request = await PairingRepository(session).request(request_id)
            if request is not None:
                request.notified_at = now

    async def renewable(self, request_id: int, user_id: int) -> int:
        """The server of an expired request its learner may still renew; raises when the button no longer applies
        (someone else's, not expired, or renewed or replaced since)."""
        async with self._sessions() as session:
            repository = PairingRepository(session)
            old = await repository.request(request_id)
            if old is None:
                raise NotFoundError("That request no longer exists: `/pair request` starts a new one.")
            if old.user_id != user_id:
                raise PermissionDeniedError("This button renews someone else's request: `/pair request` starts yours.")
            if old.state != RequestState.EXPIRED:
                raise InvalidInputError("This request has not expired, so there is nothing to renew: `/pair status`.")
            if await repository.has_newer_request(old):
                raise InvalidInputError(
                    "This request was already renewed (or replaced by a newer one): `/pair status` shows where you "
                    "are, `/pair request` asks again."
                )
            return old.guild_id

    async def renew(self, request_id: int, user_id: int, name: str, now: datetime) -> RequestOutcome:
        await self.renewable(request_id, user_id)
        async with self._sessions() as session:
            old = await PairingRepository(session).request(request_id)
        if old is None:
            raise NotFoundError("That request no longer exists: `/pair request` starts a new one.")
        topics = ", ".join(self.topic_title(slug) for slug in old.topics)
        ask = PairAsk(
            old.guild_id, user_id, name, old.track, old.looking_for, topics or None, None, None, old.challenge_id
        )
        return await self.request(ask, now)

    # ----- forgetting -------------------------------------------------------------------------------------------------

    async def forget(self, guild_id: int, user_id: int) -> None:
        async with self._sessions.begin() as session:
            await PairingRepository(session).forget(guild_id, user_id)

    async def purge_stale(self, cutoff: datetime, limit: int) -> tuple[int, int, int, int]:
        """The retention purge: sessions that started, pairs that ended and requests that closed before `cutoff`,
        then the profiles of members with no pairing activity since; at most `limit` of each per call.
        How many sessions, pairs, requests and profiles went. Running it again removes only what is newly stale."""
        async with self._sessions.begin() as session:
            repository = PrivacyRepository(session)
            sessions = await repository.purge_sessions(cutoff, limit)
            pairs = await repository.purge_pairs(cutoff, limit)
            requests = await repository.purge_requests(cutoff, limit)
            profiles = await repository.purge_profiles(cutoff, limit)
            return sessions, pairs, requests, profiles


def _already_waiting(request: PairRequest) -> str:
    return (
        f"You already have a pairing request waiting since <t:{int(request.created_at.timestamp())}:R>. "
        "`/pair status` shows it; `/pair cancel` withdraws it."
    )
