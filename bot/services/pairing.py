"""Pairing and study sessions: the queue, matching, pairs, check-ins, sessions, reminders and ratings.

Plain types in and out; every state change is one transaction; the matcher itself is the pure
`bot.pairing.matching`. The rules that must hold under concurrency (one waiting request per learner, one pair per
request) are the database's; the matching transaction re-checks that both requests are still waiting and rolls
back otherwise, so two requests or a request and a round can never match one learner twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.embeds import shorten
from bot.core.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from bot.core.shards import ALL_SHARDS, ShardScope
from bot.db.base import utcnow
from bot.db.models import (
    Challenge,
    ChallengeTopic,
    LearnerProfile,
    Pair,
    PairCheckin,
    PairRequest,
    SessionNotice,
    SessionRating,
)
from bot.db.models import StudySession as StudySessionRow
from bot.db.pairing_repository import PairingRepository
from bot.db.privacy_repository import PrivacyRepository
from bot.pairing.availability import WeeklyInterval, describe, overlap_intervals, parse_availability
from bot.pairing.matching import Candidate, LookingFor, Match, Track, assign, best_partner, default_looking_for
from bot.pairing.timezones import resolve_timezone
from bot.pairing.when import parse_when
from bot.services.topics import TopicService

log = logging.getLogger(__name__)

TRACKS: tuple[Track, ...] = ("frontend", "backend")
LOOKING_FOR: tuple[LookingFor, ...] = ("frontend", "backend", "any")
MAX_TOPICS = 5
MAX_PAUSE_DAYS = 90
UNTIL_RESUMED = datetime(9999, 1, 1, tzinfo=UTC)
"""`paused_until` for a pause that lasts until `/pair resume`."""
DAY_BEFORE = timedelta(hours=24)
SOON_BEFORE = timedelta(minutes=15)
INVITATION_LIFETIME = timedelta(hours=48)
"""How long an invitation to a session waits for an answer (never past the session's start)."""
RATING_WINDOW = timedelta(days=7)
"""A session is offered for rating for this long after it ends; the bot being down longer skips the question."""
CHECKIN_ANSWER_WINDOW = timedelta(days=2)
MISSED_CHECKINS_TO_PAUSE = 2
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 15, 480, 60
MAX_OPEN_INVITATIONS = 3
"""Invitations one member may have waiting for an answer at once: nobody can flood others' DMs with them."""
AFTER_DECLINE = timedelta(days=7)
"""How long a member who declined an invitation is not invited again by the same organiser."""
BATCH = 200
"""Most rows one periodic pass handles; the next pass takes the rest."""

NoticeKind = Literal["day", "soon", "rating"]


# ----- what the service hands out -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Learner:
    user_id: int
    name: str
    track: Track
    timezone: str


@dataclass(frozen=True, slots=True)
class MatchView:
    pair_id: int
    guild_id: int
    a: Learner
    b: Learner
    shared_topics: tuple[str, ...]
    overlap: tuple[WeeklyInterval, ...]
    """UTC weekly intervals both learners are free; empty when either gave no availability."""
    matched_at: datetime
    thread_id: int | None = None
    ended_at: datetime | None = None

    def members(self) -> tuple[int, int]:
        return self.a.user_id, self.b.user_id

    def partner_of(self, user_id: int) -> Learner:
        return self.b if user_id == self.a.user_id else self.a

    def overlap_for(self, learner: Learner) -> str | None:
        """The shared hours in the learner's own timezone, in words; None when there is nothing to show."""
        if not self.overlap:
            return None
        return describe(self.overlap, learner.timezone, reference=self.matched_at)


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    request_id: int
    learner: Learner
    looking_for: LookingFor
    topics: tuple[str, ...]
    availability: str | None
    """What was understood of the availability, in the learner's words; None when none is on the profile."""
    resumed: bool
    """The learner was paused, and asking again resumed them."""
    match: MatchView | None
    ahead: int
    """Requests of the server that have waited longer (0 when matched)."""


@dataclass(frozen=True, slots=True)
class WaitingView:
    request_id: int
    track: Track
    looking_for: LookingFor
    topics: tuple[str, ...]
    since: datetime
    ahead: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PastPair:
    pair_id: int
    partner_id: int
    matched_at: datetime
    ended_at: datetime | None
    shared_topics: tuple[str, ...]
    thread_id: int | None


@dataclass(frozen=True, slots=True)
class StatusView:
    learner: Learner | None
    availability: str | None
    waiting: WaitingView | None
    paused_until: datetime | None
    current_pairs: tuple[PastPair, ...]


@dataclass(frozen=True, slots=True)
class PairStats:
    waiting_by_track: dict[Track, int]
    median_wait: timedelta | None
    matches_this_week: int
    checkins_asked: int
    met: int
    not_met: int


@dataclass(frozen=True, slots=True)
class SessionView:
    session_id: int
    guild_id: int
    pair_id: int | None
    organiser_id: int
    partner_id: int
    starts_at: datetime
    duration_minutes: int
    topic: str | None
    state: str = "scheduled"
    """`proposed` (an invitation waiting for an answer), `scheduled` (booked), `declined`, `expired`, `withdrawn`
    (invitations that never became a booking) or `cancelled`."""
    respond_by: datetime | None = None
    """An invitation's deadline; None for a session booked with a current partner."""

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def other(self, user_id: int) -> int:
        return self.partner_id if user_id == self.organiser_id else self.organiser_id


@dataclass(frozen=True, slots=True)
class SessionNoticeView:
    session: SessionView
    user_id: int
    kind: NoticeKind
    timezone: str
    thread_id: int | None
    """The pair's thread, the fallback when the learner's DMs are closed."""

    @property
    def nonce(self) -> int:
        """The same number for every attempt at this notice, so Discord keeps one message if a crash resends it."""
        return notice_nonce("notice", self.session.session_id, self.user_id, self.kind)


@dataclass(frozen=True, slots=True)
class CheckinView:
    pair_id: int
    guild_id: int
    user_id: int
    partner_id: int
    thread_id: int | None

    @property
    def nonce(self) -> int:
        return notice_nonce("checkin", self.pair_id, self.user_id)


@dataclass(frozen=True, slots=True)
class ExpiredRequest:
    request_id: int
    guild_id: int
    user_id: int
    waited: timedelta

    @property
    def nonce(self) -> int:
        return notice_nonce("expired", self.request_id)


@dataclass(frozen=True, slots=True)
class AutoPaused:
    guild_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class PairAsk:
    """What `/pair request` (or a button) asks for; None means "as on the profile", or the default."""

    guild_id: int
    user_id: int
    name: str
    track: str | None
    looking_for: str | None = None
    topics: str | None = None
    timezone: str | None = None
    availability: str | None = None
    challenge_id: int | None = None


class _Raced(Exception):
    """A request of the match was no longer waiting: another transaction matched or closed it first."""


def notice_nonce(*parts: object) -> int:
    """A message nonce from what the message is: every attempt at one notice carries the same one."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=7).digest()
    return int.from_bytes(digest, "big")


def _slugs(value: str) -> tuple[str, ...]:
    return tuple(slug for slug in value.split(",") if slug)


def _intervals_text(intervals: Sequence[WeeklyInterval]) -> str:
    return ",".join(f"{interval.start}-{interval.end}" for interval in intervals)


def _intervals(value: str | None) -> tuple[WeeklyInterval, ...] | None:
    if value is None:
        return None
    spans = (part.split("-") for part in value.split(",") if part)
    return tuple(WeeklyInterval(int(start), int(end)) for start, end in spans)


def _learner(profile: LearnerProfile) -> Learner:
    return Learner(profile.user_id, profile.display_name, cast(Track, profile.track), profile.timezone)


def _session_view(row: StudySessionRow) -> SessionView:
    return SessionView(
        row.id,
        row.guild_id,
        row.pair_id,
        row.organiser_id,
        row.partner_id,
        row.starts_at,
        row.duration_minutes,
        row.topic,
        row.state,
        row.respond_by,
    )


def _past_pair(pair: Pair, user_id: int) -> PastPair:
    partner = pair.user_high if pair.user_low == user_id else pair.user_low
    return PastPair(pair.id, partner, pair.matched_at, pair.ended_at, _slugs(pair.shared_topics), pair.thread_id)


class ProfileTracks:
    """Learners' tracks from their pairing profiles: the topic service's `LearnerTrackSource`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def track_of(self, guild_id: int, user_id: int) -> str | None:
        async with self._sessions() as session:
            profile = await PairingRepository(session).profile(guild_id, user_id)
        return profile.track if profile else None


class PairingService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: TopicService,
        *,
        request_lifetime: timedelta = timedelta(days=14),
        checkin_after: timedelta = timedelta(days=3),
        clock: Callable[[], datetime] = utcnow,
        shards: ShardScope = ALL_SHARDS,
    ) -> None:
        self._sessions = sessions
        # The servers whose periodic work (rounds, notices, expiry, check-ins) this process does.
        self._shards = shards
        # What "now" is for commands and buttons; the end-to-end tests move it to reach reminders and expiry.
        self.clock = clock
        self._topics = topics
        self._request_lifetime = request_lifetime
        self._checkin_after = checkin_after
        # One matcher at a time in this process; across processes the guarded update decides.
        self._matching = asyncio.Lock()

    @property
    def request_lifetime(self) -> timedelta:
        return self._request_lifetime

    def now(self) -> datetime:
        return self.clock()

    async def timezone_of(self, guild_id: int, user_id: int) -> str:
        """The learner's timezone from their profile; UTC for someone who never gave one."""
        async with self._sessions() as session:
            profile = await PairingRepository(session).profile(guild_id, user_id)
        return profile.timezone if profile else "UTC"

    # ----- topics -----------------------------------------------------------------------------------------------------

    def topic_title(self, slug: str) -> str:
        card = self._topics.knowledge_base.by_slug.get(slug)
        return card.title if card else slug

    async def topic_choices(
        self, current: str, guild_id: int | None, user_id: int, track: str | None = None
    ) -> list[tuple[str, str]]:
        """(name, value) pairs for a topics option: the last comma-separated name is the one being typed.
        Cards of `track` (the one being asked for, else the member's own) come first."""
        done, _, typing = current.rpartition(",")
        prefix = f"{done.strip()}, " if done.strip() else ""
        choices = []
        track = track or await self._topics.learner_track(guild_id, user_id)
        for choice in self._topics.autocomplete(typing.strip(), track):
            # The label ("Docker · DevOps & delivery") is for reading; the value is the title, which resolves.
            value = prefix + self.topic_title(choice.value)
            if len(value) <= 100:
                choices.append((shorten(prefix + choice.name, 100), value))
        return choices

    def _resolve_topics(self, named: str | None, track: str | None = None) -> tuple[str, ...]:
        slugs: list[str] = []
        for name in (named or "").split(","):
            if name.strip():
                slug = self._topics.find(name.strip(), track).slug  # an unknown name raises "did you mean"
                if slug not in slugs:
                    slugs.append(slug)
        if len(slugs) > MAX_TOPICS:
            raise InvalidInputError(f"Name at most {MAX_TOPICS} topics: the ones you most want to work on.")
        return tuple(slugs)

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
                await _take_write_lock(session, ask.guild_id)
                repository = PairingRepository(session)
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
                    availability_text, availability_utc = parsed.text, _intervals_text(parsed.intervals)
                elif availability_text is not None and (profile is None or timezone != profile.timezone):
                    # The same hours in a new timezone are other UTC hours.
                    parsed = parse_availability(availability_text, timezone, reference=now)
                    availability_utc = _intervals_text(parsed.intervals)
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
                    topics=",".join(topics),
                    state="waiting",
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
        echo = describe(_intervals(availability_utc) or (), timezone, reference=now) if availability_utc else None
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
                    await _take_write_lock(session, guild_id)
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
            await _take_write_lock(session, guild_id)
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
                topics=frozenset(_slugs(request.topics)),
                intervals=_intervals(profile.availability_utc),
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
        if await repository.close_waiting([request_a.id, request_b.id], "matched", now) != 2:
            raise _Raced
        low, high = sorted(((found.a, request_a), (found.b, request_b)), key=lambda item: item[0])
        shared = tuple(sorted(found.shared_topics))
        pair = Pair(
            guild_id=request_a.guild_id,
            user_low=low[0],
            user_high=high[0],
            request_low_id=low[1].id,
            request_high_id=high[1].id,
            shared_topics=",".join(shared),
            overlap_minutes=found.overlap_minutes,
            score=found.score,
            matched_at=now,
        )
        repository.add(pair)
        await repository.flush()
        return self._match_view(pair, profile_a, profile_b)

    @staticmethod
    def _match_view(pair: Pair, profile_a: LearnerProfile, profile_b: LearnerProfile) -> MatchView:
        both = _intervals(profile_a.availability_utc), _intervals(profile_b.availability_utc)
        overlap = overlap_intervals(both[0], both[1]) if both[0] is not None and both[1] is not None else ()
        return MatchView(
            pair.id,
            pair.guild_id,
            _learner(profile_a),
            _learner(profile_b),
            _slugs(pair.shared_topics),
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
                        state="waiting",
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
            availability = describe(_intervals(profile.availability_utc) or (), profile.timezone, reference=now)
        return StatusView(_learner(profile) if profile else None, availability, waiting, paused, current)

    async def cancel(self, guild_id: int, user_id: int, now: datetime) -> WaitingView:
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            request = await repository.waiting_request(guild_id, user_id)
            if request is None:
                raise NotFoundError("You have no pairing request waiting, so there is nothing to cancel.")
            await repository.close_waiting([request.id], "cancelled", now)
            return self._waiting_view(request, 0)

    def _waiting_view(self, request: PairRequest, ahead: int) -> WaitingView:
        return WaitingView(
            request.id,
            cast(Track, request.track),
            cast(LookingFor, request.looking_for),
            _slugs(request.topics),
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
            await repository.close_waiting([request.id for request in due], "expired", now)
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
            if old.state != "expired":
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
        topics = ", ".join(self.topic_title(slug) for slug in _slugs(old.topics))
        ask = PairAsk(
            old.guild_id, user_id, name, old.track, old.looking_for, topics or None, None, None, old.challenge_id
        )
        return await self.request(ask, now)

    # ----- check-ins --------------------------------------------------------------------------------------------------

    async def due_checkins(self, now: datetime) -> list[CheckinView]:
        """Ask "did you meet?" of both learners of pairs matched long enough ago; returns every unsent question,
        including those a crash interrupted."""
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            for pair in await repository.pairs_due_checkin(now - self._checkin_after, BATCH, self._shards):
                for user_id in (pair.user_low, pair.user_high):
                    if await repository.checkin(pair.id, user_id) is None:
                        repository.add(PairCheckin(pair_id=pair.id, user_id=user_id, asked_at=now))
        async with self._sessions() as session:
            repository = PairingRepository(session)
            views = []
            for checkin in await repository.unsent_checkins(BATCH, self._shards):
                asked = await repository.pair(checkin.pair_id)
                if asked is not None:
                    partner = asked.user_high if asked.user_low == checkin.user_id else asked.user_low
                    views.append(CheckinView(asked.id, asked.guild_id, checkin.user_id, partner, asked.thread_id))
            return views

    async def checkin_sent(self, pair_id: int, user_id: int, now: datetime) -> None:
        async with self._sessions.begin() as session:
            checkin = await PairingRepository(session).checkin(pair_id, user_id)
            if checkin is not None:
                checkin.sent_at = now

    async def answer_checkin(self, pair_id: int, user_id: int, met: bool, now: datetime) -> None:
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            checkin = await repository.checkin(pair_id, user_id)
            if checkin is None:
                pair = await repository.pair(pair_id)
                if pair is None:
                    raise NotFoundError("This pairing no longer exists.")
                raise PermissionDeniedError("This question is for the two learners of the pairing.")
            checkin.met, checkin.answered_at = met, now
            answered = await repository.pair(pair_id)
            profile = await repository.profile(answered.guild_id, user_id) if answered else None
            if profile is not None:
                profile.missed_checkins = 0

    async def pause_ignorers(self, now: datetime) -> list[AutoPaused]:
        """Count check-ins left unanswered past the window; a learner with two in a row is paused."""
        paused: list[AutoPaused] = []
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            for checkin, guild_id in await repository.overdue_checkins(
                now - CHECKIN_ANSWER_WINDOW, BATCH, self._shards
            ):
                checkin.ignored_at = now
                profile = await repository.profile(guild_id, checkin.user_id)
                if profile is None:
                    continue
                profile.missed_checkins += 1
                if profile.missed_checkins >= MISSED_CHECKINS_TO_PAUSE and profile.paused_until is None:
                    profile.paused_until = UNTIL_RESUMED
                    paused.append(AutoPaused(guild_id, checkin.user_id))
        return paused

    # ----- sessions ---------------------------------------------------------------------------------------------------

    async def schedule(
        self,
        *,
        guild_id: int,
        organiser_id: int,
        partner_id: int,
        partner_is_bot: bool,
        partner_in_server: bool,
        when: str,
        topic: str | None,
        duration_minutes: int | None,
        now: datetime,
        pair_id: int | None = None,
    ) -> SessionView:
        """Book a session with a current partner, or invite anyone else (state `proposed`): an invitation is neither
        reminded nor shown as booked until the invitee accepts. `pair_id` (the pairing's own button) insists on that
        pairing: still current, and the two learners its members."""
        if partner_id == organiser_id:
            raise InvalidInputError("A study session needs someone else: pick your partner in `partner`.")
        if partner_is_bot:
            raise InvalidInputError("Bots don't study: pick a learner in `partner`.")
        if not partner_in_server:
            raise InvalidInputError("That member is no longer in this server: pick someone who is.")
        duration = DEFAULT_DURATION if duration_minutes is None else duration_minutes
        if not MIN_DURATION <= duration <= MAX_DURATION:
            raise InvalidInputError(f"A session lasts {MIN_DURATION} to {MAX_DURATION} minutes.")
        slug = self._topics.find(topic).slug if topic and topic.strip() else None
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            if pair_id is not None:
                pair = await repository.pair(pair_id)
                if pair is None or pair.guild_id != guild_id:
                    raise NotFoundError("This pairing no longer exists.")
                if {organiser_id, partner_id} != {pair.user_low, pair.user_high}:
                    raise PermissionDeniedError("Only the two learners of this pairing can schedule its sessions.")
                if pair.ended_at is not None:
                    raise InvalidInputError(
                        "This pairing has ended, so it books no more sessions: `/pair request` finds a new partner."
                    )
            else:
                pair = await repository.current_pair(guild_id, organiser_id, partner_id)
            profile = await repository.profile(guild_id, organiser_id)
            timezone = profile.timezone if profile else "UTC"
            try:
                starts_at = parse_when(when, timezone, now=now)
            except ValueError as error:
                raise InvalidInputError(str(error)) from None
            ends_at = starts_at + timedelta(minutes=duration)
            await _refuse_clash(repository, guild_id, organiser_id, starts_at, ends_at, now, "You already have")
            respond_by = None
            if pair is not None:
                partner_has = "Your partner already has"
                await _refuse_clash(repository, guild_id, partner_id, starts_at, ends_at, now, partner_has)
            else:
                # The invitee's calendar is theirs: it is checked when they accept, never shown to the organiser.
                waiting = await repository.open_invitations(guild_id, organiser_id, now)
                same = next((row for row in waiting if row.partner_id == partner_id), None)
                if same is not None:
                    raise InvalidInputError(
                        f"You already invited that member to session #{same.id}: wait for their answer, or "
                        "`/session cancel` it first."
                    )
                if await repository.declined_since(guild_id, organiser_id, partner_id, now - AFTER_DECLINE):
                    raise InvalidInputError(
                        f"That member declined your last invitation: you can invite them again "
                        f"{AFTER_DECLINE.days} days after their answer, or find a partner with `/pair request`."
                    )
                if len(waiting) >= MAX_OPEN_INVITATIONS:
                    raise InvalidInputError(
                        f"You have {MAX_OPEN_INVITATIONS} invitations waiting for an answer: wait for one, or "
                        "`/session cancel` one first."
                    )
                respond_by = min(now + INVITATION_LIFETIME, starts_at)
            row = StudySessionRow(
                guild_id=guild_id,
                pair_id=pair.id if pair else None,
                organiser_id=organiser_id,
                partner_id=partner_id,
                starts_at=starts_at,
                duration_minutes=duration,
                topic=slug,
                state="scheduled" if pair is not None else "proposed",
                created_at=now,
                respond_by=respond_by,
            )
            repository.add(row)
            await repository.flush()
            return _session_view(row)

    async def session_view(self, session_id: int) -> SessionView:
        async with self._sessions() as session:
            row = await PairingRepository(session).study_session(session_id)
        if row is None:
            raise NotFoundError("This session no longer exists.")
        return _session_view(row)

    async def invitation_undelivered(self, session_id: int) -> None:
        """The invitee could not be asked (DMs closed): the invitation goes, nothing is booked."""
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            row = await repository.study_session(session_id)
            if row is not None and row.state == "proposed":
                await repository.delete_session(row)

    async def answer_invitation(self, session_id: int, user_id: int, accept: bool, now: datetime) -> SessionView:
        """The invitee accepts (the session is booked, after checking both calendars) or declines."""
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            row = await repository.study_session(session_id)
            if row is None:
                raise NotFoundError("This invitation no longer exists: nothing is booked.")
            if user_id != row.partner_id:
                raise PermissionDeniedError("This invitation is for someone else: only they can answer it.")
            _refuse_unless_open(row, now)
            if accept:
                ends_at = _session_view(row).ends_at
                await _refuse_clash(
                    repository, row.guild_id, row.partner_id, row.starts_at, ends_at, now, "You already have"
                )
                await _refuse_clash(
                    repository,
                    row.guild_id,
                    row.organiser_id,
                    row.starts_at,
                    ends_at,
                    now,
                    "The member who invited you now has",
                )
                pair = await repository.current_pair(row.guild_id, row.organiser_id, row.partner_id)
                settled = await repository.settle_invitation(row.id, "scheduled", pair.id if pair else None, now)
            else:
                settled = await repository.settle_invitation(row.id, "declined", row.pair_id, now)
            if not settled:
                raise InvalidInputError("This invitation was answered meanwhile: `/session list` shows your sessions.")
            await session.refresh(row)
            return _session_view(row)

    async def lapse_invitations(self, now: datetime) -> list[SessionView]:
        """Invitations left unanswered past their deadline lapse; returns every lapse whose organiser is still to be
        told (a crash's too)."""
        async with self._sessions.begin() as session:
            await PairingRepository(session).lapse_invitations(now, self._shards)
        async with self._sessions() as session:
            return [_session_view(row) for row in await PairingRepository(session).untold_lapses(BATCH, self._shards)]

    async def lapse_told(self, session_id: int, now: datetime) -> None:
        async with self._sessions.begin() as session:
            row = await PairingRepository(session).study_session(session_id)
            if row is not None:
                row.lapse_told_at = now

    async def upcoming(self, guild_id: int, user_id: int, now: datetime, *, limit: int = 10) -> list[SessionView]:
        async with self._sessions() as session:
            rows = await PairingRepository(session).upcoming_sessions(guild_id, user_id, now, limit)
        return [_session_view(row) for row in rows]

    async def invitations(self, guild_id: int, user_id: int, now: datetime, *, limit: int = 10) -> list[SessionView]:
        """Invitations the learner sent or received that still wait for an answer (not booked)."""
        async with self._sessions() as session:
            rows = await PairingRepository(session).waiting_invitations(guild_id, user_id, now, limit)
        return [_session_view(row) for row in rows]

    async def cancel_session(self, guild_id: int, session_id: int, actor_id: int, now: datetime) -> SessionView:
        async with self._sessions.begin() as session:
            row = await PairingRepository(session).study_session(session_id)
            if row is None or row.guild_id != guild_id:
                raise NotFoundError(f"There is no session #{session_id}: `/session list` shows yours.")
            if actor_id not in (row.organiser_id, row.partner_id):
                raise PermissionDeniedError("Only the two people in a session can cancel it.")
            if row.state == "proposed":
                # An invitation: the organiser withdraws it, the invitee declines it; it was never booked.
                row.state = "withdrawn" if actor_id == row.organiser_id else "declined"
                row.cancelled_by, row.answered_at = actor_id, now
                return _session_view(row)
            if row.state == "cancelled":
                raise InvalidInputError(f"Session #{session_id} is already cancelled.")
            if row.state != "scheduled":
                raise InvalidInputError(f"Session #{session_id} was never booked, so there is nothing to cancel.")
            if row.starts_at <= now:
                raise InvalidInputError(f"Session #{session_id} has already started.")
            row.state, row.cancelled_by = "cancelled", actor_id
            return _session_view(row)

    async def due_notices(self, now: datetime) -> list[SessionNoticeView]:
        """Claim the reminders and rating questions that are due; returns every unsent one (a crash's too)."""
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            upcoming = await repository.sessions_starting(now, now + DAY_BEFORE, self._shards)
            ended = [
                row
                for row in await repository.sessions_starting(now - RATING_WINDOW, now, self._shards)
                if _session_view(row).ends_at <= now
            ]
            rows = [*upcoming, *ended]
            claimed = await repository.notices([row.id for row in rows])
            for row in rows:
                kind = _due_kind(row, now)
                if kind is None:
                    continue
                for user_id in (row.organiser_id, row.partner_id):
                    if (row.id, user_id, kind) not in claimed:
                        repository.add(SessionNotice(session_id=row.id, user_id=user_id, kind=kind, claimed_at=now))
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            views = []
            # Claims that can no longer be sent (the session was cancelled meanwhile, or started while the bot was
            # away) are closed first, so they never fill the batch ahead of notices that are due.
            await repository.close_skipped_notices(now)
            for notice, row in await repository.unsent_notices(BATCH, self._shards):
                view = _session_view(row)
                profile = await repository.profile(row.guild_id, notice.user_id)
                pair = await repository.pair(row.pair_id) if row.pair_id else None
                views.append(
                    SessionNoticeView(
                        view,
                        notice.user_id,
                        cast(NoticeKind, notice.kind),
                        profile.timezone if profile else "UTC",
                        pair.thread_id if pair else None,
                    )
                )
            return views

    async def notice_sent(self, notice: SessionNoticeView, now: datetime) -> None:
        async with self._sessions.begin() as session:
            row = await PairingRepository(session).notice(notice.session.session_id, notice.user_id, notice.kind)
            if row is not None:
                row.sent_at = now

    async def rate(self, session_id: int, rater_id: int, value: int, now: datetime) -> SessionView:
        if value not in (-1, 0, 1):
            raise InvalidInputError("Rate with one of the buttons.")
        async with self._sessions.begin() as session:
            repository = PairingRepository(session)
            row = await repository.study_session(session_id)
            if row is None:
                raise NotFoundError("This session no longer exists.")
            if rater_id not in (row.organiser_id, row.partner_id):
                raise PermissionDeniedError("Only the two people in this session can rate it.")
            if row.state != "scheduled":
                raise InvalidInputError(f"Session #{session_id} did not take place, so there is nothing to rate.")
            if row.pair_id is None:
                # A rating feeds the matcher: only a pairing's own sessions may move a learner's standing.
                raise InvalidInputError("Only sessions between paired learners are rated; thanks all the same.")
            view = _session_view(row)
            if view.ends_at > now:
                raise InvalidInputError("Rate the session once it is over.")
            rating = await repository.rating(session_id, rater_id)
            if rating is None:
                repository.add(
                    SessionRating(
                        session_id=session_id,
                        rater_id=rater_id,
                        ratee_id=view.other(rater_id),
                        value=value,
                        rated_at=now,
                    )
                )
            else:
                rating.value, rating.rated_at = value, now
            return view

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


def _due_kind(row: StudySessionRow, now: datetime) -> NoticeKind | None:
    """Which notice a session is due for now, if any. A reminder whose moment passed before the session was
    scheduled is not sent (a session booked for in an hour gets no "tomorrow" reminder)."""
    starts = row.starts_at
    if row.state != "scheduled":
        return None
    if starts + timedelta(minutes=row.duration_minutes) <= now:
        return "rating" if row.pair_id is not None else None  # only a pairing's sessions are rated
    if starts - SOON_BEFORE <= now < starts:
        return "soon" if row.created_at <= starts - SOON_BEFORE else None
    if starts - DAY_BEFORE <= now < starts - SOON_BEFORE:
        return "day" if row.created_at <= starts - DAY_BEFORE else None
    return None


async def _refuse_clash(
    repository: PairingRepository,
    guild_id: int,
    user_id: int,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    who: str,
) -> None:
    """Refuse a time that overlaps one of the learner's booked sessions (`who` opens the message)."""
    for other in await repository.upcoming_sessions(guild_id, user_id, now - timedelta(days=1), 50):
        if other.starts_at < ends_at and starts_at < _session_view(other).ends_at:
            raise InvalidInputError(
                f"{who} session #{other.id} at <t:{int(other.starts_at.timestamp())}:f>: "
                "pick another time, or `/session cancel` that one."
            )


def _refuse_unless_open(row: StudySessionRow, now: datetime) -> None:
    """An invitation can be answered while it is proposed and before its deadline; otherwise say what became of it."""
    if row.state == "proposed" and row.respond_by is not None and now < row.respond_by:
        return
    if row.state == "proposed" or row.state == "expired":
        raise InvalidInputError("This invitation has lapsed, so nothing is booked: ask for a new one if you like.")
    if row.state == "scheduled":
        raise InvalidInputError(f"You already accepted this invitation: session #{row.id} is booked.")
    if row.state == "declined":
        raise InvalidInputError("You declined this invitation: nothing is booked.")
    if row.state == "withdrawn":
        raise InvalidInputError("This invitation was withdrawn by the member who sent it: nothing is booked.")
    raise InvalidInputError(f"Session #{row.id} was cancelled.")


def _already_waiting(request: PairRequest) -> str:
    return (
        f"You already have a pairing request waiting since <t:{int(request.created_at.timestamp())}:R>. "
        "`/pair status` shows it; `/pair cancel` withdraws it."
    )


async def _take_write_lock(session: AsyncSession, guild_id: int) -> None:
    """Serialise the matchers of one server before the queue is read.

    SQLite: a write that changes nothing still takes the write lock, so the transaction waits for it (busy
    timeout) up front; a read-then-write transaction could not wait and would fail at once under contention.
    PostgreSQL: a transaction-scoped advisory lock on the server. The guarded update in `_pair` stays the proof.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_NAMESPACE ^ guild_id})
    else:
        await session.execute(text("UPDATE pair_requests SET state = state WHERE id = -1"))


_ADVISORY_NAMESPACE = 0x5041_4952  # "PAIR": keeps these keys apart from any other advisory lock user


__all__ = [
    "AutoPaused",
    "CheckinView",
    "ExpiredRequest",
    "Learner",
    "MatchView",
    "PairAsk",
    "PairStats",
    "PairingService",
    "PastPair",
    "RequestOutcome",
    "SessionNoticeView",
    "SessionView",
    "StatusView",
    "WaitingView",
]
