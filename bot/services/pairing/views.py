"""What the pairing service hands out: plain, frozen views of requests, pairs, sessions and their notices."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.pairing.availability import WeeklyInterval, describe
from bot.pairing.matching import LookingFor, Track
from bot.pairing.states import NoticeKind, SessionState


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
    state: SessionState = SessionState.SCHEDULED
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


def notice_nonce(*parts: object) -> int:
    """A message nonce from what the message is: every attempt at one notice carries the same one."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=7).digest()
    return int.from_bytes(digest, "big")
