"""Pairing's service on a real SQLite file migrated to head: the queue, matching under concurrency, pauses,
expiry, check-ins, sessions, reminders and ratings."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import InvalidInputError, NotFoundError, PermissionDeniedError, TopicNotFoundError
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import LearnerProfile, Pair, PairRequest, SessionNotice, SessionRating, StudySession
from bot.db.pairing_repository import PairingRepository
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import SolvedChallengeLog
from bot.services.pairing import INVITATION_LIFETIME, UNTIL_RESUMED, PairAsk, PairingService
from bot.services.topics import TopicService

GUILD = 1001
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


def _service(engine: AsyncEngine, knowledge_base: KnowledgeBase) -> PairingService:
    sessions = create_session_factory(engine)
    return PairingService(sessions, TopicService(knowledge_base, SolvedChallengeLog(sessions)))


@pytest.fixture
def pairing(engine: AsyncEngine, knowledge_base: KnowledgeBase) -> PairingService:
    return _service(engine, knowledge_base)


def ask(user_id: int, track: str | None, **options: str | None) -> PairAsk:
    return PairAsk(GUILD, user_id, f"learner{user_id}", track, **options)  # type: ignore[arg-type]


async def count(engine: AsyncEngine, model: type[object], *where: object) -> int:
    async with create_session_factory(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


# ----- the queue ------------------------------------------------------------------------------------------------------


async def test_a_lone_request_waits_and_a_fitting_one_is_matched_at_once(pairing: PairingService) -> None:
    first = await pairing.request(
        ask(1, "frontend", topics="GraphQL, REST APIs", timezone="Lagos", availability="Mon-Fri 18-21"), NOW
    )
    assert first.match is None
    assert first.availability == "Monday to Friday 18:00\u201321:00"
    assert first.learner.timezone == "Africa/Lagos"
    assert first.looking_for == "backend"
    second = await pairing.request(
        ask(2, "backend", topics="REST APIs", timezone="Europe/London", availability="weekdays 17-19"),
        NOW + timedelta(minutes=5),
    )
    assert second.match is not None
    assert set(second.match.members()) == {1, 2}
    assert second.match.shared_topics == ("rest-api-design",)
    # 18-21 Lagos (UTC+1) is 17-20 UTC; 17-19 London in November is 17-19 UTC: two hours a weekday.
    assert sum(interval.minutes for interval in second.match.overlap) == 5 * 120
    assert second.match.overlap_for(second.match.partner_of(2)) == "Monday to Friday 18:00\u201320:00"
    assert second.match.overlap_for(second.match.a) == "Monday to Friday 17:00\u201319:00"


async def test_list_columns_store_the_text_they_always_held(pairing: PairingService, engine: AsyncEngine) -> None:
    # Topic slugs and UTC week spans are lists in Python and the same comma-separated text in the tables as before
    # their column types existed: rows written by older versions read back, and no migration was needed.
    await pairing.request(ask(1, "frontend", topics="Docker, REST APIs", timezone="UTC", availability="Mon 18-21"), NOW)
    await pairing.request(ask(2, "backend", topics="REST APIs", timezone="UTC"), NOW + timedelta(minutes=1))
    async with engine.connect() as connection:
        topics = (await connection.execute(text("SELECT topics FROM pair_requests ORDER BY id"))).scalars().all()
        shared = (await connection.execute(text("SELECT shared_topics FROM pairs"))).scalar_one()
        spans = (await connection.execute(text("SELECT availability_utc FROM learner_profiles ORDER BY user_id"))).all()
    assert topics == ["docker,rest-api-design", "rest-api-design"]
    assert shared == "rest-api-design"
    assert [row[0] for row in spans] == [f"{18 * 60}-{21 * 60}", None]
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE learner_profiles SET availability_utc = '' WHERE user_id = 2"))
    async with create_session_factory(engine)() as session:
        repository = PairingRepository(session)
        profile = await repository.profile(GUILD, 2)
        pair = (await session.scalars(select(Pair))).one()
    assert profile is not None
    assert profile.availability_utc == ()  # given, but no hours
    assert pair.shared_topics == ("rest-api-design",)


async def test_same_track_learners_are_not_paired(pairing: PairingService) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    outcome = await pairing.request(ask(2, "frontend"), NOW + timedelta(minutes=1))
    assert outcome.match is None
    assert outcome.ahead == 1


async def test_a_second_request_while_one_waits_is_refused_and_nothing_changes(
    pairing: PairingService, engine: AsyncEngine
) -> None:
    await pairing.request(ask(1, "frontend", topics="GraphQL"), NOW)
    with pytest.raises(InvalidInputError, match="already have a pairing request"):
        await pairing.request(ask(1, "backend"), NOW)
    assert await count(engine, PairRequest) == 1
    status = await pairing.status(GUILD, 1, NOW)
    assert status.learner is not None
    assert status.learner.track == "frontend"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
        ({"availability": "whenever"}, "Try `Mon-Fri"),
        ({"availability": "Mon 25-26"}, "Try"),
        ({"availability": "Mon 18-18"}, "Try"),
        ({"topics": "quantum basket weaving"}, "No topic"),
    ],
)
async def test_bad_input_is_refused_with_an_example_and_nothing_is_stored(
    pairing: PairingService, engine: AsyncEngine, options: dict[str, str], error: str
) -> None:
    with pytest.raises((InvalidInputError, TopicNotFoundError), match=error):
        await pairing.request(ask(1, "frontend", **options), NOW)
    assert await count(engine, PairRequest) == 0
    assert await count(engine, LearnerProfile) == 0


async def test_a_window_that_wraps_midnight_is_accepted(pairing: PairingService) -> None:
    outcome = await pairing.request(ask(1, "frontend", timezone="UTC", availability="Sat 22:00-02:00"), NOW)
    assert outcome.availability is not None
    assert "22:00" in outcome.availability


async def test_a_track_is_needed_the_first_time_and_remembered_after(pairing: PairingService) -> None:
    with pytest.raises(InvalidInputError, match="track"):
        await pairing.request(ask(1, None), NOW)
    await pairing.request(ask(1, "backend", timezone="Asia/Kolkata", availability="daily 20-22"), NOW)
    await pairing.cancel(GUILD, 1, NOW)
    again = await pairing.request(ask(1, None), NOW)
    assert again.learner.track == "backend"
    assert again.learner.timezone == "Asia/Kolkata"
    assert again.availability == "Every day 20:00\u201322:00" or again.availability is not None


async def test_cancel_withdraws_and_cancelling_nothing_says_so(pairing: PairingService) -> None:
    with pytest.raises(NotFoundError, match="nothing to cancel"):
        await pairing.cancel(GUILD, 1, NOW)
    await pairing.request(ask(1, "frontend"), NOW)
    await pairing.cancel(GUILD, 1, NOW)
    assert (await pairing.status(GUILD, 1, NOW)).waiting is None
    assert (await pairing.request(ask(2, "backend"), NOW)).match is None  # 1 is no longer waiting


async def test_nobody_is_paired_with_the_same_partner_while_another_is_waiting(pairing: PairingService) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    first = await pairing.request(ask(2, "backend"), NOW)
    assert first.match is not None
    await pairing.request(ask(1, "frontend"), NOW + timedelta(hours=1))
    await pairing.request(ask(3, "frontend"), NOW + timedelta(hours=2))
    again = await pairing.request(ask(2, "backend"), NOW + timedelta(hours=3))
    assert again.match is not None
    assert set(again.match.members()) == {2, 3}
    history = await pairing.history(GUILD, 2)
    assert [pair.partner_id for pair in history] == [3, 1]


async def test_a_repeat_is_allowed_when_nobody_else_fits(pairing: PairingService) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    await pairing.request(ask(2, "backend"), NOW)
    await pairing.request(ask(1, "frontend"), NOW + timedelta(hours=1))
    again = await pairing.request(ask(2, "backend"), NOW + timedelta(hours=2))
    assert again.match is not None
    assert set(again.match.members()) == {1, 2}


async def test_paused_learners_are_not_matched_until_they_resume(pairing: PairingService) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    until = await pairing.pause(GUILD, 1, 3, NOW)
    assert until == NOW + timedelta(days=3)
    assert (await pairing.request(ask(2, "backend"), NOW)).match is None
    assert await pairing.resume(GUILD, 1, NOW)
    matches = await pairing.run_round(GUILD, NOW)
    assert [set(match.members()) for match in matches] == [{1, 2}]
    with pytest.raises(InvalidInputError, match="1 to 90 days"):
        await pairing.pause(GUILD, 1, 0, NOW)
    with pytest.raises(NotFoundError, match="not in pairing"):
        await pairing.pause(GUILD, 9, None, NOW)


async def test_a_pause_ends_by_itself(pairing: PairingService) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    await pairing.pause(GUILD, 1, 2, NOW)
    await pairing.request(ask(2, "backend"), NOW)
    assert await pairing.run_round(GUILD, NOW + timedelta(days=1)) == []
    assert len(await pairing.run_round(GUILD, NOW + timedelta(days=2, minutes=1))) == 1


async def test_the_round_maximises_the_total_rather_than_serving_arrivals_greedily(pairing: PairingService) -> None:
    # Served in arrival order, frontend 1 would take backend 10 (a REST tie, and 10 waited longer), leaving 2 with
    # 11 on REST alone: 20 points of topics. The round gives 10 (REST and GraphQL) to 2 and 11 to 1: 30.
    learners = [(1, "frontend", "REST APIs"), (2, "frontend", "GraphQL, REST APIs")]
    learners += [(10, "backend", "REST APIs, GraphQL"), (11, "backend", "REST APIs")]
    for minute, (user_id, track, topics) in enumerate(learners):
        await pairing.request(ask(user_id, track, topics=topics), NOW + timedelta(minutes=minute))
        await pairing.pause(GUILD, user_id, 1, NOW)  # keep everyone waiting until the round
    for user_id, *_ in learners:
        await pairing.resume(GUILD, user_id, NOW)
    matches = await pairing.run_round(GUILD, NOW + timedelta(hours=1))
    assert sorted(sorted(match.members()) for match in matches) == [[1, 11], [2, 10]]
    stats = await pairing.stats(GUILD, NOW + timedelta(hours=1))
    assert stats.matches_this_week == 2
    assert stats.waiting_by_track == {"frontend": 0, "backend": 0}


async def test_many_requests_at_once_from_two_processes_never_match_anyone_twice(
    engine: AsyncEngine, knowledge_base: KnowledgeBase, database_url: str
) -> None:
    # Two services over two engines on one database: two bot processes, as far as the database can tell.
    other_engine = create_engine(database_url)
    try:
        services = [_service(engine, knowledge_base), _service(other_engine, knowledge_base)]
        asks = [ask(user_id, "frontend" if user_id % 2 else "backend") for user_id in range(1, 41)]
        outcomes = await asyncio.gather(
            *(services[n % 2].request(item, NOW + timedelta(seconds=n)) for n, item in enumerate(asks))
        )
        rounds = await asyncio.gather(*(service.run_round(GUILD, NOW + timedelta(hours=1)) for service in services))
    finally:
        await other_engine.dispose()
    matches = [outcome.match for outcome in outcomes if outcome.match] + [m for found in rounds for m in found]
    members = [user_id for match in matches for user_id in match.members()]
    assert len(members) == len(set(members)), "a learner was matched twice"
    assert len(matches) == 20
    assert all(match.a.track != match.b.track for match in matches)
    assert await count(engine, Pair) == 20
    assert await count(engine, PairRequest, PairRequest.state == "waiting") == 0


# ----- announcing and leaving -----------------------------------------------------------------------------------------


async def test_a_match_stays_unannounced_until_told_and_a_leaver_puts_the_other_back_in_place(
    pairing: PairingService,
) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    match = (await pairing.request(ask(2, "backend"), NOW + timedelta(hours=1))).match
    assert match is not None
    assert [view.pair_id for view in await pairing.unannounced()] == [match.pair_id]
    assert await pairing.partner_left(match.pair_id, 2) == 1
    assert await pairing.unannounced() == []
    status = await pairing.status(GUILD, 1, NOW)
    assert status.waiting is not None
    assert status.waiting.since == NOW
    assert await pairing.history(GUILD, 1) == []  # not a pairing that happened


async def test_only_the_pair_may_end_it_and_only_once(pairing: PairingService) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    match = (await pairing.request(ask(2, "backend"), NOW)).match
    assert match is not None
    with pytest.raises(PermissionDeniedError):
        await pairing.end_pair(match.pair_id, 3, NOW)
    ended = await pairing.end_pair(match.pair_id, 1, NOW)
    assert ended.partner_id == 2
    assert ended.ended_at == NOW
    with pytest.raises(InvalidInputError, match="already ended"):
        await pairing.end_pair(match.pair_id, 2, NOW)


# ----- expiry and check-ins -------------------------------------------------------------------------------------------


async def test_a_request_expires_once_and_its_notice_is_owed_until_sent(pairing: PairingService) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    assert await pairing.expire_due(NOW + timedelta(days=13)) == []
    later = NOW + timedelta(days=14, minutes=1)
    expired = await pairing.expire_due(later)
    assert [(item.user_id, item.waited >= timedelta(days=14)) for item in expired] == [(1, True)]
    assert [item.request_id for item in await pairing.expire_due(later)] == [expired[0].request_id]  # not sent yet
    await pairing.expiry_notified(expired[0].request_id, later)
    assert await pairing.expire_due(later) == []
    renewed = await pairing.renew(expired[0].request_id, 1, "learner1", later)
    assert renewed.match is None
    assert renewed.learner.track == "frontend"
    with pytest.raises(PermissionDeniedError):
        await pairing.renew(expired[0].request_id, 2, "learner2", later)


async def test_check_ins_are_asked_once_and_two_ignored_ones_pause_the_learner(pairing: PairingService) -> None:
    pair_ids = []
    for round_number, partner in enumerate((2, 3)):
        start = NOW + timedelta(days=10 * round_number)
        await pairing.request(ask(1, "frontend"), start)
        match = (await pairing.request(ask(partner, "backend"), start)).match
        assert match is not None
        await pairing.announced(match.pair_id, None, start)
        pair_ids.append(match.pair_id)
        asked_at = start + timedelta(days=3, minutes=1)
        checkins = await pairing.due_checkins(asked_at)
        assert sorted((c.pair_id, c.user_id) for c in checkins) == [(match.pair_id, 1), (match.pair_id, partner)]
        for checkin in checkins:
            await pairing.checkin_sent(checkin.pair_id, checkin.user_id, asked_at)
        assert await pairing.due_checkins(asked_at) == []
        await pairing.answer_checkin(match.pair_id, partner, True, asked_at)
        paused = await pairing.pause_ignorers(asked_at + timedelta(days=2, minutes=1))
        assert [p.user_id for p in paused] == ([1] if round_number == 1 else [])
    status = await pairing.status(GUILD, 1, NOW + timedelta(days=30))
    assert status.paused_until == UNTIL_RESUMED
    with pytest.raises(PermissionDeniedError):
        await pairing.answer_checkin(pair_ids[0], 3, True, NOW)
    stats = await pairing.stats(GUILD, NOW + timedelta(days=14))
    assert (stats.checkins_asked, stats.met, stats.not_met) == (4, 2, 0)


# ----- sessions -------------------------------------------------------------------------------------------------------


async def _paired(pairing: PairingService, at: datetime = NOW, **frontend: str) -> int:
    """Learners 1 (frontend) and 2 (backend) matched; the pair's id."""
    await pairing.request(ask(1, "frontend", **frontend), at)
    match = (await pairing.request(ask(2, "backend"), at)).match
    assert match is not None
    return match.pair_id


async def schedule(pairing: PairingService, when: str, *, now: datetime = NOW, **options: object) -> object:
    values: dict[str, object] = {
        "guild_id": GUILD,
        "organiser_id": 1,
        "partner_id": 2,
        "partner_is_bot": False,
        "partner_in_server": True,
        "when": when,
        "topic": None,
        "duration_minutes": None,
        "now": now,
        **options,
    }
    return await pairing.schedule(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"partner_id": 1}, "someone else"),
        ({"partner_is_bot": True}, "Bots don't study"),
        ({"partner_in_server": False}, "no longer in this server"),
        ({"when": "2026-11-20 10:00"}, "already passed"),
        ({"when": "yesterday 10:00"}, "Try `tomorrow 18:00`"),
        ({"when": "2029-01-01 10:00"}, "90 days"),
        ({"duration_minutes": 5}, "15 to 480"),
        ({"topic": "basket weaving"}, "No topic"),
    ],
)
async def test_bad_sessions_are_refused(pairing: PairingService, options: dict[str, object], error: str) -> None:
    with pytest.raises((InvalidInputError, TopicNotFoundError), match=error):
        await schedule(pairing, **{"when": "tomorrow 18:00", **options})  # type: ignore[arg-type]
    assert await pairing.upcoming(GUILD, 1, NOW) == []


async def test_a_session_is_stored_in_utc_from_the_organisers_timezone(pairing: PairingService) -> None:
    await _paired(pairing, timezone="Africa/Nairobi")
    session = await schedule(pairing, "tomorrow 18:00", topic="Django")
    upcoming = await pairing.upcoming(GUILD, 2, NOW)
    assert upcoming == [session]
    assert upcoming[0].starts_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert upcoming[0].topic == "django"
    with pytest.raises(InvalidInputError, match="already have session"):
        await schedule(pairing, "tomorrow 18:30")


async def test_reminders_fire_once_each_at_their_time_and_a_crash_resends(pairing: PairingService) -> None:
    await _paired(pairing)
    session = await schedule(pairing, "2026-11-26 18:00")  # UTC: no timezone given
    assert await pairing.due_notices(NOW) == []
    day = await pairing.due_notices(datetime(2026, 11, 25, 18, 0, tzinfo=UTC))
    assert sorted((n.user_id, n.kind) for n in day) == [(1, "day"), (2, "day")]
    # Crash before stamping: the same notices (same nonces) come back; after stamping, never again.
    again = await pairing.due_notices(datetime(2026, 11, 25, 18, 5, tzinfo=UTC))
    assert [n.nonce for n in again] == [n.nonce for n in day]
    for notice in again:
        await pairing.notice_sent(notice, NOW)
    assert await pairing.due_notices(datetime(2026, 11, 25, 19, 0, tzinfo=UTC)) == []
    soon = await pairing.due_notices(datetime(2026, 11, 26, 17, 46, tzinfo=UTC))
    assert sorted(n.kind for n in soon) == ["soon", "soon"]
    for notice in soon:
        await pairing.notice_sent(notice, NOW)
    with pytest.raises(InvalidInputError, match="once it is over"):
        await pairing.rate(session.session_id, 1, 1, datetime(2026, 11, 26, 18, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    rating = await pairing.due_notices(datetime(2026, 11, 26, 19, 1, tzinfo=UTC))
    assert sorted((n.user_id, n.kind) for n in rating) == [(1, "rating"), (2, "rating")]
    await pairing.rate(session.session_id, 1, 1, datetime(2026, 11, 26, 19, 5, tzinfo=UTC))  # type: ignore[attr-defined]
    with pytest.raises(PermissionDeniedError):
        await pairing.rate(session.session_id, 3, 1, datetime(2026, 11, 26, 19, 5, tzinfo=UTC))  # type: ignore[attr-defined]


async def test_a_session_booked_at_short_notice_gets_no_day_reminder_and_a_cancelled_one_none(
    pairing: PairingService, engine: AsyncEngine
) -> None:
    await _paired(pairing)
    await schedule(pairing, "in 2 hours")
    cancelled = await schedule(pairing, "2026-11-27 18:00")
    await pairing.cancel_session(GUILD, cancelled.session_id, 2, NOW)  # type: ignore[attr-defined]
    assert await pairing.due_notices(NOW + timedelta(minutes=30)) == []
    soon = await pairing.due_notices(NOW + timedelta(hours=1, minutes=50))
    assert {n.kind for n in soon} == {"soon"}
    assert await pairing.due_notices(NOW + timedelta(hours=1, minutes=55)) == soon  # still unsent: owed
    assert await pairing.due_notices(NOW + timedelta(hours=2)) == []  # too late to remind
    assert await count(engine, SessionNotice, SessionNotice.kind == "day") == 0
    with pytest.raises(InvalidInputError, match="already cancelled"):
        await pairing.cancel_session(GUILD, cancelled.session_id, 1, NOW)  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError):
        await pairing.cancel_session(GUILD, 999, 1, NOW)


async def test_the_day_reminder_across_a_clock_change_is_24_real_hours_before(pairing: PairingService) -> None:
    # London moves to summer time at 01:00 UTC on 29 March 2026; a session at 10:00 local that Sunday is 09:00 UTC.
    march = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)
    await _paired(pairing, march, timezone="Europe/London")
    session = await schedule(pairing, "2026-03-29 10:00", now=march)
    assert session.starts_at == datetime(2026, 3, 29, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert await pairing.due_notices(datetime(2026, 3, 28, 8, 59, tzinfo=UTC)) == []
    due = await pairing.due_notices(datetime(2026, 3, 28, 9, 0, tzinfo=UTC))
    assert {n.kind for n in due} == {"day"}
    organiser = next(n for n in due if n.user_id == 1)
    assert organiser.timezone == "Europe/London"


async def test_forget_me_removes_profile_requests_pairs_and_sessions(
    pairing: PairingService, engine: AsyncEngine
) -> None:
    await pairing.request(ask(1, "frontend"), NOW)
    await pairing.request(ask(2, "backend"), NOW)
    await schedule(pairing, "tomorrow 10:00")
    await pairing.forget(GUILD, 1)
    assert await count(engine, LearnerProfile, LearnerProfile.user_id == 1) == 0
    assert await count(engine, PairRequest, PairRequest.user_id == 1) == 0
    assert await count(engine, Pair) == 0
    assert await pairing.upcoming(GUILD, 2, NOW) == []


# ----- the periodic pass: skipped notices and error boundaries --------------------------------------------------------


async def test_skipped_notices_are_closed_and_never_block_later_reminders(
    pairing: PairingService, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch of 4 stands for the 200 of production: claimed notices that are then skipped must not fill it.
    monkeypatch.setattr("bot.services.pairing.sessions.BATCH", 4)
    await _paired(pairing)  # partners' sessions are booked at once (anyone else's is only an invitation)
    cancelled = await schedule(pairing, "2026-11-25 18:00")
    crashed = await schedule(pairing, "2026-11-25 20:00")
    claimed = await pairing.due_notices(datetime(2026, 11, 24, 20, 0, tzinfo=UTC))  # both "day" notices claimed
    assert {(n.session.session_id, n.kind) for n in claimed} >= {(cancelled.session_id, "day")}  # type: ignore[attr-defined]
    await pairing.cancel_session(GUILD, cancelled.session_id, 1, datetime(2026, 11, 24, 21, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    # The bot was away until after the second one started: its claimed "day" reminders are too late now.
    later = await schedule(pairing, "2026-11-28 18:00")
    due = await pairing.due_notices(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))
    assert sorted((n.session.session_id, n.user_id, n.kind) for n in due) == [
        (crashed.session_id, 1, "rating"),  # type: ignore[attr-defined]
        (crashed.session_id, 2, "rating"),  # type: ignore[attr-defined]
        (later.session_id, 1, "day"),  # type: ignore[attr-defined]
        (later.session_id, 2, "day"),  # type: ignore[attr-defined]
    ]
    # The skipped ones are closed: no notice of the cancelled or the started session is left unsent.
    stale = (SessionNotice.session_id.in_([cancelled.session_id, crashed.session_id]), SessionNotice.kind == "day")  # type: ignore[attr-defined]
    assert await count(engine, SessionNotice, *stale, SessionNotice.sent_at.is_(None)) == 0


class _FlakyAnnouncer:
    """The scheduler's view of Discord: introducing a pair fails as a 5xx fetching a member would; DMs arrive."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.announce_attempts = 0

    async def announce(self, match: object) -> object:
        self.announce_attempts += 1
        raise RuntimeError("503 Service Unavailable fetching a member")

    async def direct_message(self, user_id: int, content: str, **options: object) -> bool:
        self.sent.append(user_id)
        return True


async def test_one_failing_piece_of_due_work_skips_only_itself_and_is_logged_once(
    pairing: PairingService, caplog: pytest.LogCaptureFixture
) -> None:
    from typing import Any, cast

    from cogs.pairing._scheduler import PairingSchedulerCog

    announcer = _FlakyAnnouncer()
    scheduler = PairingSchedulerCog(cast(Any, None), pairing, cast(Any, announcer))
    await pairing.request(ask(1, "frontend"), NOW)
    await pairing.request(ask(2, "backend"), NOW)  # matched at once; its introduction is the periodic pass's
    await pairing.request(ask(3, "frontend", availability="Sat 10-12"), NOW + timedelta(hours=1))
    later = NOW + timedelta(days=15)
    with caplog.at_level(logging.WARNING, logger="cogs.pairing._scheduler"):
        report = await scheduler.run_due_work(later)
        again = await scheduler.run_due_work(later + timedelta(minutes=1))
    assert announcer.announce_attempts == 2  # tried on each pass
    assert report.announced == 0
    assert report.expired == 1  # the expiry notice went out all the same
    assert announcer.sent == [3]
    assert again.expired == 0
    failures = [record for record in caplog.records if "introduction of pair" in record.getMessage()]
    assert len(failures) == 1, [record.getMessage() for record in failures]


# ----- consent: sessions with someone who is not your partner ---------------------------------------------------------


async def test_a_session_with_someone_not_your_partner_is_only_proposed_until_they_accept(
    pairing: PairingService, engine: AsyncEngine
) -> None:
    proposed = await schedule(pairing, "2026-11-26 18:00", partner_id=3)
    assert proposed.state == "proposed"  # type: ignore[attr-defined]
    assert proposed.respond_by == NOW + INVITATION_LIFETIME  # type: ignore[attr-defined]
    # Nothing is booked: neither sees it as upcoming, nobody is reminded, and it blocks nobody's calendar.
    assert await pairing.upcoming(GUILD, 3, NOW) == []
    assert await pairing.upcoming(GUILD, 1, NOW) == []
    assert await pairing.due_notices(datetime(2026, 11, 25, 18, 0, tzinfo=UTC)) == []
    assert await pairing.due_notices(datetime(2026, 11, 26, 17, 50, tzinfo=UTC)) == []
    assert await count(engine, SessionNotice) == 0
    # Only the invitee answers, once.
    with pytest.raises(PermissionDeniedError, match="invitation is for someone else"):
        await pairing.answer_invitation(proposed.session_id, 1, True, NOW)  # type: ignore[attr-defined]
    accepted = await pairing.answer_invitation(proposed.session_id, 3, True, NOW)  # type: ignore[attr-defined]
    assert accepted.state == "scheduled"
    assert [s.session_id for s in await pairing.upcoming(GUILD, 3, NOW)] == [accepted.session_id]
    with pytest.raises(InvalidInputError, match="already accepted"):
        await pairing.answer_invitation(proposed.session_id, 3, False, NOW)  # type: ignore[attr-defined]
    day = await pairing.due_notices(datetime(2026, 11, 25, 18, 0, tzinfo=UTC))
    assert sorted((n.user_id, n.kind) for n in day) == [(1, "day"), (3, "day")]


async def test_a_declined_lapsed_or_undelivered_invitation_books_nothing(
    pairing: PairingService, engine: AsyncEngine
) -> None:
    declined = await schedule(pairing, "2026-11-26 18:00", partner_id=3)
    answered = await pairing.answer_invitation(declined.session_id, 3, False, NOW)  # type: ignore[attr-defined]
    assert answered.state == "declined"
    with pytest.raises(InvalidInputError, match="declined"):
        await pairing.answer_invitation(declined.session_id, 3, True, NOW)  # type: ignore[attr-defined]

    lapsing = await schedule(pairing, "2026-11-27 18:00", partner_id=4)
    assert await pairing.lapse_invitations(NOW + INVITATION_LIFETIME - timedelta(minutes=1)) == []
    later = NOW + INVITATION_LIFETIME
    lapsed = await pairing.lapse_invitations(later)
    assert [(s.session_id, s.state) for s in lapsed] == [(lapsing.session_id, "expired")]  # type: ignore[attr-defined]
    assert [s.session_id for s in await pairing.lapse_invitations(later)] == [lapsing.session_id]  # owed until told
    await pairing.lapse_told(lapsing.session_id, later)  # type: ignore[attr-defined]
    assert await pairing.lapse_invitations(later) == []
    with pytest.raises(InvalidInputError, match="lapsed"):
        await pairing.answer_invitation(lapsing.session_id, 4, True, later)  # type: ignore[attr-defined]

    # An invitation for in two hours lapses when the session would start.
    soon = await schedule(pairing, "in 2 hours", partner_id=5)
    assert soon.respond_by == soon.starts_at  # type: ignore[attr-defined]

    # DMs closed: the invitation could not be delivered, so it is gone.
    undelivered = await schedule(pairing, "2026-11-28 18:00", partner_id=6)
    await pairing.invitation_undelivered(undelivered.session_id)  # type: ignore[attr-defined]
    assert await count(engine, StudySession, StudySession.partner_id == 6) == 0
    assert await pairing.upcoming(GUILD, 1, later) == []
    assert await pairing.upcoming(GUILD, 3, NOW) == []


async def test_invitations_are_bounded_and_never_reveal_the_invitees_calendar(pairing: PairingService) -> None:
    await schedule(pairing, "2026-11-26 18:00", organiser_id=3, partner_id=4)
    answered = await pairing.answer_invitation(1, 4, True, NOW)
    assert answered.state == "scheduled"
    # 1 invites 4 at a time 4 is busy: proposed all the same (1 must not learn 4's plans); 4's accepting is refused.
    clash = await schedule(pairing, "2026-11-26 18:30", partner_id=4)
    assert clash.state == "proposed"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="You already have session #1"):
        await pairing.answer_invitation(clash.session_id, 4, True, NOW)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="already invited"):
        await schedule(pairing, "2026-11-29 18:00", partner_id=4)
    await schedule(pairing, "2026-11-29 18:00", partner_id=5)
    await schedule(pairing, "2026-11-30 18:00", partner_id=6)
    with pytest.raises(InvalidInputError, match="3 invitations waiting"):
        await schedule(pairing, "2026-12-01 18:00", partner_id=7)


async def test_a_declined_organiser_cannot_invite_the_same_member_again_for_a_week(pairing: PairingService) -> None:
    first = await schedule(pairing, "2026-11-26 18:00", partner_id=3)
    await pairing.answer_invitation(first.session_id, 3, False, NOW)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="declined your last invitation"):
        await schedule(pairing, "2026-12-01 18:00", partner_id=3, now=NOW + timedelta(days=6))
    await schedule(pairing, "2026-11-26 19:00", organiser_id=4, partner_id=3)  # others may still ask
    again = await schedule(pairing, "2026-12-02 18:00", partner_id=3, now=NOW + timedelta(days=7))
    assert again.state == "proposed"  # type: ignore[attr-defined]


async def test_the_organiser_withdraws_an_invitation_and_the_invitee_may_decline_with_cancel(
    pairing: PairingService,
) -> None:
    first = await schedule(pairing, "2026-11-26 18:00", partner_id=3)
    withdrawn = await pairing.cancel_session(GUILD, first.session_id, 1, NOW)  # type: ignore[attr-defined]
    assert withdrawn.state == "withdrawn"
    with pytest.raises(InvalidInputError, match="withdrawn"):
        await pairing.answer_invitation(first.session_id, 3, True, NOW)  # type: ignore[attr-defined]
    second = await schedule(pairing, "2026-11-27 18:00", partner_id=3)
    declined = await pairing.cancel_session(GUILD, second.session_id, 3, NOW)  # type: ignore[attr-defined]
    assert declined.state == "declined"


async def test_a_current_partner_is_booked_at_once_an_ended_pairing_is_not(pairing: PairingService) -> None:
    pair_id = await _paired(pairing)
    booked = await schedule(pairing, "2026-11-26 18:00")
    assert (booked.state, booked.pair_id) == ("scheduled", pair_id)  # type: ignore[attr-defined]
    await pairing.end_pair(pair_id, 2, NOW)
    proposed = await schedule(pairing, "2026-11-27 18:00")
    assert (proposed.state, proposed.pair_id) == ("proposed", None)  # type: ignore[attr-defined]
    # From the pairing's own button: the pairing must be current and the organiser one of its two.
    with pytest.raises(InvalidInputError, match="pairing has ended"):
        await schedule(pairing, "2026-11-28 18:00", pair_id=pair_id)
    with pytest.raises(PermissionDeniedError, match="Only the two learners"):
        await schedule(pairing, "2026-11-28 18:00", organiser_id=3, partner_id=2, pair_id=pair_id)


# ----- ratings -----------------------------------------------------------------------------------------------------


async def test_ratings_count_only_for_sessions_that_took_place_between_paired_learners(
    pairing: PairingService, engine: AsyncEngine
) -> None:
    # An accepted invitation from a stranger: reminded, but neither asked to rate nor able to.
    stranger = await schedule(pairing, "2026-11-24 18:00", organiser_id=5, partner_id=6)
    await pairing.answer_invitation(stranger.session_id, 6, True, NOW)  # type: ignore[attr-defined]
    after = datetime(2026, 11, 24, 19, 1, tzinfo=UTC)
    assert [n for n in await pairing.due_notices(after) if n.kind == "rating"] == []
    with pytest.raises(InvalidInputError, match="paired learners"):
        await pairing.rate(stranger.session_id, 5, -1, after)  # type: ignore[attr-defined]

    # A cancelled session did not take place.
    pair_id = await _paired(pairing)
    cancelled = await schedule(pairing, "2026-11-25 18:00")
    await pairing.cancel_session(GUILD, cancelled.session_id, 1, NOW)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="did not take place"):
        await pairing.rate(cancelled.session_id, 1, -1, datetime(2026, 11, 25, 20, 0, tzinfo=UTC))  # type: ignore[attr-defined]

    # A session of the pair: rated, once per rater (a change of mind replaces the rating), and it counts.
    held = await schedule(pairing, "2026-11-26 18:00")
    assert held.pair_id == pair_id  # type: ignore[attr-defined]
    done = datetime(2026, 11, 26, 19, 1, tzinfo=UTC)
    assert sorted(n.user_id for n in await pairing.due_notices(done) if n.kind == "rating") == [1, 2]
    await pairing.rate(held.session_id, 1, -1, done)  # type: ignore[attr-defined]
    await pairing.rate(held.session_id, 1, 1, done)  # type: ignore[attr-defined]
    assert await count(engine, SessionRating) == 1
    async with create_session_factory(engine)() as session:
        assert await PairingRepository(session).ratings(GUILD, [2, 6]) == {2: 1.0}
    # A rating stored for the stranger's session before this rule (or by hand) does not count either.
    async with create_session_factory(engine).begin() as session:
        session.add(SessionRating(session_id=stranger.session_id, rater_id=5, ratee_id=6, value=-1, rated_at=after))  # type: ignore[attr-defined]
    async with create_session_factory(engine)() as session:
        assert await PairingRepository(session).ratings(GUILD, [2, 6]) == {2: 1.0}
    # The database itself refuses a second rating by the same rater of the same session.
    async with create_session_factory(engine).begin() as session:
        session.add(SessionRating(session_id=held.session_id, rater_id=1, ratee_id=2, value=-1, rated_at=done))  # type: ignore[attr-defined]
        with pytest.raises(IntegrityError):
            await session.flush()


# ----- buttons re-check what they act on ----------------------------------------------------------------------------


async def test_renew_works_once_and_only_for_an_expired_request(pairing: PairingService) -> None:
    waiting = await pairing.request(ask(1, "frontend"), NOW)
    with pytest.raises(InvalidInputError, match="has not expired"):
        await pairing.renew(waiting.request_id, 1, "learner1", NOW)
    later = NOW + timedelta(days=14, minutes=1)
    (expired,) = await pairing.expire_due(later)
    assert await pairing.renewable(expired.request_id, 1) == GUILD
    with pytest.raises(PermissionDeniedError):
        await pairing.renewable(expired.request_id, 2)
    renewed = await pairing.renew(expired.request_id, 1, "learner1", later)
    matched = await pairing.request(ask(2, "backend"), later)
    assert matched.match is not None
    assert set(matched.match.members()) == {1, 2}
    # The renewed request was matched: the old button must not put the learner in the queue again.
    with pytest.raises(InvalidInputError, match="already renewed"):
        await pairing.renewable(expired.request_id, 1)
    with pytest.raises(InvalidInputError, match="already renewed"):
        await pairing.renew(expired.request_id, 1, "learner1", later)
    assert (await pairing.status(GUILD, 1, later)).waiting is None
    assert renewed.request_id != expired.request_id
