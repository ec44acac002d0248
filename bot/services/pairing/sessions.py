"""Sessions, invitations, their reminders and ratings, and the "did you meet?" check-ins of pairs."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from bot.db.models import PairCheckin, SessionNotice, SessionRating
from bot.db.models import StudySession as StudySessionRow
from bot.db.pairing_repository import PairingRepository
from bot.pairing.states import NoticeKind, SessionState
from bot.pairing.when import parse_when
from bot.services.pairing._common import BATCH, UNTIL_RESUMED, PairingBase, _session_view
from bot.services.pairing.views import AutoPaused, CheckinView, SessionNoticeView, SessionView

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


class PairingSessions(PairingBase):
    """What pairs do after matching: sessions (booked, or invitations until answered), their reminders and
    ratings, and the check-ins whose unanswered questions pause a learner."""

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
                state=SessionState.SCHEDULED if pair is not None else SessionState.PROPOSED,
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
            if row is not None and row.state == SessionState.PROPOSED:
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
                settled = await repository.settle_invitation(
                    row.id, SessionState.SCHEDULED, pair.id if pair else None, now
                )
            else:
                settled = await repository.settle_invitation(row.id, SessionState.DECLINED, row.pair_id, now)
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
            if row.state == SessionState.PROPOSED:
                # An invitation: the organiser withdraws it, the invitee declines it; it was never booked.
                row.state = SessionState.WITHDRAWN if actor_id == row.organiser_id else SessionState.DECLINED
                row.cancelled_by, row.answered_at = actor_id, now
                return _session_view(row)
            if row.state == SessionState.CANCELLED:
                raise InvalidInputError(f"Session #{session_id} is already cancelled.")
            if row.state != SessionState.SCHEDULED:
                raise InvalidInputError(f"Session #{session_id} was never booked, so there is nothing to cancel.")
            if row.starts_at <= now:
                raise InvalidInputError(f"Session #{session_id} has already started.")
            row.state, row.cancelled_by = SessionState.CANCELLED, actor_id
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
                        NoticeKind(notice.kind),
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
            if row.state != SessionState.SCHEDULED:
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


def _due_kind(row: StudySessionRow, now: datetime) -> NoticeKind | None:
    """Which notice a session is due for now, if any. A reminder whose moment passed before the session was
    scheduled is not sent (a session booked for in an hour gets no "tomorrow" reminder)."""
    starts = row.starts_at
    if row.state != SessionState.SCHEDULED:
        return None
    if starts + timedelta(minutes=row.duration_minutes) <= now:
        return NoticeKind.RATING if row.pair_id is not None else None  # only a pairing's sessions are rated
    if starts - SOON_BEFORE <= now < starts:
        return NoticeKind.SOON if row.created_at <= starts - SOON_BEFORE else None
    if starts - DAY_BEFORE <= now < starts - SOON_BEFORE:
        return NoticeKind.DAY if row.created_at <= starts - DAY_BEFORE else None
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
    if row.state == SessionState.PROPOSED and row.respond_by is not None and now < row.respond_by:
        return
    if row.state in (SessionState.PROPOSED, SessionState.EXPIRED):
        raise InvalidInputError("This invitation has lapsed, so nothing is booked: ask for a new one if you like.")
    if row.state == SessionState.SCHEDULED:
        raise InvalidInputError(f"You already accepted this invitation: session #{row.id} is booked.")
    if row.state == SessionState.DECLINED:
        raise InvalidInputError("You declined this invitation: nothing is booked.")
    if row.state == SessionState.WITHDRAWN:
        raise InvalidInputError("This invitation was withdrawn by the member who sent it: nothing is booked.")
    raise InvalidInputError(f"Session #{row.id} was cancelled.")
