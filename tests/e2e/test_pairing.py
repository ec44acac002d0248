"""Pairing and study sessions end to end: `/pair …`, `/session …`, the introduction (thread or DMs), the buttons,
and the periodic work (rounds, reminders, ratings, check-ins, expiry) driven with a fake clock.

The bot's own periodic loop is stopped in these tests; each test calls the pass itself with the time it wants, as
the challenge tests call `send_due_nudges`. "Now" for commands and buttons is the pairing service's `clock`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.client import NexusBot
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import LearnerProfile, PairCheckin, PairRequest, SessionRating, StudySession
from bot.services.pairing import UNTIL_RESUMED, PairingService
from cogs.pairing._scheduler import PassReport
from tests.e2e.harness import until
from tests.e2e.learners import (
    BACKEND,
    BOGOTA,
    FRONTEND,
    LAGOS,
    NOW,
    Clock,
    pairing_scheduler,
    running_with_pairing_by_hand,
)
from tests.e2e.server import EPHEMERAL, JSON, FakeDiscord
from tests.e2e.users import Answer, FakeUser

RATING_LABELS = ["👍 Went well", "😐 Okay", "👎 Didn't happen / went badly"]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def nexus(discord_server: FakeDiscord, database: str, clock: Clock) -> AsyncIterator[NexusBot]:
    async with running_with_pairing_by_hand(discord_server, database, clock) as bot:
        yield bot


@pytest.fixture
def third_learner(discord_server: FakeDiscord) -> FakeUser:
    return FakeUser(discord_server, discord_server.add_member("linus"))


# ----- helpers -----------------------------------------------------------------------------------------------------


async def _pass(bot: NexusBot, now: datetime, *, force_round: bool = False) -> PassReport:
    return await pairing_scheduler(bot).run_due_work(now, force_round=force_round)


def _pairing(bot: NexusBot) -> PairingService:
    return bot.services.pairing


def _dms(server: FakeDiscord, user: FakeUser) -> list[JSON]:
    channel = server.dm_channels.get(user.id)
    return server.channel_messages(channel) if channel is not None else []


def _dms_with(server: FakeDiscord, user: FakeUser, text: str) -> list[JSON]:
    return [message for message in _dms(server, user) if text in message["content"]]


def _thread(server: FakeDiscord) -> JSON:
    assert len(server.threads) == 1, f"expected one pair thread, found {len(server.threads)}"
    return server.threads[0]


def _thread_messages(server: FakeDiscord, thread: JSON) -> list[JSON]:
    """What everyone in the thread sees (not the private replies to someone's click)."""
    return [message for message in server.channel_messages(int(thread["id"])) if not message["flags"] & EPHEMERAL]


def _labels(message: JSON) -> list[str]:
    return [component["label"] for row in message["components"] for component in row["components"]]


def _mentioned(message: JSON) -> set[int]:
    return {int(user["id"]) for user in message["mentions"]}


def _fields(message: JSON) -> dict[str, str]:
    (embed,) = message["embeds"]
    return {field["name"]: field["value"] for field in embed["fields"]}


def _local(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B}, {local:%H:%M} ({zone})"


def _stamp(moment: datetime, style: str = "f") -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"


def _tomorrow_at(hour: int, zone: str, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(zone)) + timedelta(days=1)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0).astimezone(UTC)


def _assert_pings_only(server: FakeDiscord, learners: Iterable[FakeUser]) -> None:
    """Every message the bot posted pings at most the learners it was meant for: never @everyone, a role, or
    anyone else; what it sends on its own in DMs (notes, reminders, questions) pings nobody."""
    meant = {learner.id for learner in learners}
    dm_channels = {str(channel) for channel in server.dm_channels.values()}
    for message in server.bot_messages():
        assert message["mention_everyone"] is False, message["content"]
        assert message["mention_roles"] == [], message["content"]
        assert _mentioned(message) <= meant, (message["content"], message["mentions"])
        if message["channel_id"] in dm_channels and "interaction_metadata" not in message:
            assert message["mentions"] == [], message["content"]


async def _rows(database: str, statement: Any) -> list[Any]:
    engine = create_engine(database)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.scalars(statement)).all())
    finally:
        await engine.dispose()


async def _pair_up(
    server: FakeDiscord, frontend: FakeUser, backend: FakeUser, clock: Clock, **backend_options: str
) -> Answer:
    """The frontend learner waits, the backend one arrives a minute later and is matched at once."""
    waiting = await frontend.slash("pair request", **FRONTEND)
    assert "You are in the queue" in waiting.content, waiting.content
    clock.advance(minutes=1)
    matched = await backend.slash("pair request", **{**BACKEND, **backend_options})
    assert "Matched at once" in matched.content, matched.content
    return matched


def _posted_in_the_server(server: FakeDiscord) -> list[JSON]:
    """What the bot posted where others can see it: not in DMs, not ephemeral."""
    dm_channels = {str(channel) for channel in server.dm_channels.values()}
    return [m for m in server.bot_messages() if not m["flags"] & EPHEMERAL and m["channel_id"] not in dm_channels]


def _intro(server: FakeDiscord) -> JSON:
    return _thread_messages(server, _thread(server))[0]


# ----- the journey -------------------------------------------------------------------------------------------------


async def test_two_learners_are_matched_introduced_scheduled_reminded_and_rate(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    waiting = await learner.slash("pair request", **FRONTEND)
    assert waiting.ephemeral
    assert "You are in the queue as **frontend**, looking for **backend** (you are first in line)" in waiting.content
    assert "Topics: **GraphQL**, **REST API Design**." in waiting.content
    assert f"Availability understood as: Monday to Friday 18:00\u201321:00 ({LAGOS})." in waiting.content
    assert discord_server.threads == []

    clock.advance(minutes=5)
    matched = await other_learner.slash("pair request", **BACKEND)
    assert matched.ephemeral
    thread = _thread(discord_server)
    thread_id = int(thread["id"])
    assert f"Matched at once with <@{learner.id}> (frontend)! Say hello in <#{thread_id}>." in matched.content
    assert "Shared topics: **REST API Design**." in matched.content

    # A private thread in the pairing channel, with both learners added.
    assert thread["type"] == 12
    assert thread["parent_id"] == str(discord_server.pairing_channel_id)
    assert thread["thread_metadata"]["invitable"] is False
    assert thread["name"] == "Pair #1: grace & ada"  # the newcomer first
    assert discord_server.thread_members[thread_id] == {learner.id, other_learner.id}

    (intro,) = _thread_messages(discord_server, thread)
    assert intro["content"] == f"<@{other_learner.id}> meet <@{learner.id}>: you are paired! 🎉"
    assert _mentioned(intro) == {learner.id, other_learner.id}
    fields = _fields(intro)
    # Tracks, and the shared hours (18:00-20:00 UTC) in each one's own local time.
    assert f"<@{learner.id}>: frontend; free together Monday to Friday 19:00\u201321:00 ({LAGOS})" in fields["Learners"]
    assert (
        f"<@{other_learner.id}>: backend; free together Monday to Friday 13:00\u201315:00 ({BOGOTA})"
        in fields["Learners"]
    )
    assert fields["Shared topics"] == "• **REST API Design**: `/topic name:REST API Design`"
    assert _labels(intro) == ["Schedule a session", "End pairing"]

    # Both get a short DM note pointing to the thread, which pings nobody.
    for user, partner, track in ((learner, other_learner, "backend"), (other_learner, learner, "frontend")):
        (note,) = _dms(discord_server, user)
        assert note["content"] == (
            f"You are paired with <@{partner.id}> ({track}) for study sessions. Say hello in <#{thread_id}>."
        )
    (past,) = await pairing.history(guild, learner.id)
    assert (past.partner_id, past.thread_id, past.ended_at) == (other_learner.id, thread_id, None)
    assert past.shared_topics == ("rest-api-design",)

    # A session booked with the thread's button and modal, in the organiser's own timezone.
    modal = await learner.click(intro, "Schedule a session")
    assert modal.modal["title"] == "Schedule a study session"
    when, topic, minutes = modal.input_ids
    booked = await learner.submit_modal(modal, **{when: "tomorrow 18:00", topic: "REST APIs", minutes: "45"})
    starts = _tomorrow_at(18, LAGOS, clock.now)
    assert not booked.ephemeral
    assert booked.message["channel_id"] == str(thread_id)
    assert booked.content.startswith(
        f"Session **#1** with <@{other_learner.id}> is booked for {_stamp(starts, 'F')} "
        f"({_local(starts, LAGOS)}), 45 min on **REST API Design**."
    )
    assert _mentioned(booked.message) == {other_learner.id}
    (session,) = await pairing.upcoming(guild, other_learner.id, clock.now)
    assert (session.session_id, session.pair_id, session.organiser_id) == (1, 1, learner.id)
    assert (session.starts_at, session.duration_minutes, session.topic) == (starts, 45, "rest-api-design")
    listed = await other_learner.slash("session list")
    assert f"**#1** {_stamp(starts)} with <@{learner.id}>, 45 min, REST API Design" in listed.content

    # The 24 h and 15 min reminders, each once (the pass runs twice), in each learner's own time.
    for moment, kind in ((starts - timedelta(hours=23, minutes=59), "day"), (starts - timedelta(minutes=14), "soon")):
        clock.now = moment
        assert (await _pass(nexus, moment)).notices == {kind: 2}
        assert (await _pass(nexus, moment + timedelta(minutes=1))).notices == {}
    for user, partner, zone in ((learner, other_learner, LAGOS), (other_learner, learner, BOGOTA)):
        (day,) = _dms_with(discord_server, user, "⏰ Reminder")
        assert day["content"] == (
            f"⏰ Reminder: study session **#1** with <@{partner.id}> on **REST API Design** starts tomorrow: "
            f"{_stamp(starts, 'F')}, {_local(starts, zone)}."
        )
        (soon,) = _dms_with(discord_server, user, "starts in 15 minutes")
        assert soon["content"].endswith(f"{_stamp(starts, 'F')}, {_local(starts, zone)}.")

    # After the session, one rating question each; a click stores the rating.
    after = starts + timedelta(minutes=46)
    clock.now = after
    assert (await _pass(nexus, after)).notices == {"rating": 2}
    assert (await _pass(nexus, after + timedelta(minutes=1))).notices == {}
    (question,) = _dms_with(discord_server, other_learner, "How did study session **#1**")
    assert _labels(question) == RATING_LABELS
    assert len(_dms_with(discord_server, learner, "How did study session **#1**")) == 1
    rated = await other_learner.click(question, "👍 Went well")
    assert rated.ephemeral
    assert "Your rating is saved" in rated.content
    (rating,) = await _rows(database, select(SessionRating))
    assert (rating.session_id, rating.rater_id, rating.ratee_id, rating.value) == (1, other_learner.id, learner.id, 1)
    changed = await other_learner.click(question, "😐 Okay")
    assert "Your rating is saved" in changed.content
    assert [row.value for row in await _rows(database, select(SessionRating))] == [0]
    assert await pairing.upcoming(guild, learner.id, clock.now) == []

    _assert_pings_only(discord_server, [learner, other_learner])


# ----- the buttons -------------------------------------------------------------------------------------------------


async def test_buttons_refuse_anyone_outside_the_pair_and_change_nothing(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await _pair_up(discord_server, learner, other_learner, clock)
    intro = _intro(discord_server)
    for label in ("Schedule a session", "End pairing"):
        refused = await third_learner.click(intro, label)
        assert refused.response_type == 4, f"{label}: not a plain reply (a modal was opened?)"
        assert refused.ephemeral
        assert "Only the two learners of this pairing" in refused.content
    (past,) = await pairing.history(guild, learner.id)
    assert past.ended_at is None
    assert _thread_messages(discord_server, _thread(discord_server)) == [intro]

    # Rating and check-in buttons belong to one learner: not even the partner may press them.
    booked = await learner.slash("session schedule", partner=other_learner.id, when="tomorrow 18:00")
    assert "Session **#1**" in booked.content
    starts = _tomorrow_at(18, LAGOS, clock.now)
    assert (await _pass(nexus, starts + timedelta(hours=1, minutes=1))).notices == {"rating": 2}
    clock.now = starts + timedelta(hours=1, minutes=2)
    (question,) = _dms_with(discord_server, learner, "How did study session")
    for someone in (other_learner, third_learner):
        refused = await someone.click(question, "👎 Didn't happen / went badly")
        assert refused.ephemeral
        assert "This rating is someone else's to give." in refused.content
    assert await _rows(database, select(SessionRating)) == []

    checkin_time = NOW + timedelta(days=3, minutes=5)
    clock.now = checkin_time
    assert (await _pass(nexus, checkin_time)).checkins == 2
    (ask,) = _dms_with(discord_server, learner, "Did you meet?")
    for someone in (other_learner, third_learner):
        refused = await someone.click(ask, "Yes, we met")
        assert refused.ephemeral
        assert "This question is for someone else" in refused.content
    assert [row.met for row in await _rows(database, select(PairCheckin))] == [None, None]

    # The learners themselves can: ending the pairing is public in the thread, and only once.
    ended = await other_learner.click(intro, "End pairing")
    assert not ended.ephemeral
    assert ended.content.startswith(f"<@{other_learner.id}> ended this pairing.")
    assert ended.message["mentions"] == []
    (past,) = await pairing.history(guild, learner.id)
    assert past.ended_at == checkin_time
    again = await learner.click(intro, "End pairing")
    assert again.ephemeral
    assert "already ended" in again.content

    _assert_pings_only(discord_server, [learner, other_learner])


async def test_buttons_and_reminders_survive_a_restart(
    discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser, clock: Clock
) -> None:
    discord_server.closed_dms.add(learner.id)
    async with running_with_pairing_by_hand(discord_server, database, clock):
        await _pair_up(discord_server, learner, other_learner, clock)
    intro = _intro(discord_server)
    thread_id = int(_thread(discord_server)["id"])
    starts = _tomorrow_at(18, LAGOS, clock.now)

    # A new process on the same database: the introduction's buttons still answer.
    async with running_with_pairing_by_hand(discord_server, database, clock) as bot:
        modal = await learner.click(intro, "Schedule a session")
        when, _topic, _minutes = modal.input_ids
        booked = await learner.submit_modal(modal, **{when: "tomorrow 18:00"})
        assert f"Session **#1** with <@{other_learner.id}> is booked for {_stamp(starts, 'F')}" in booked.content
        assert [
            session.starts_at
            for session in await _pairing(bot).upcoming(discord_server.guild_id, learner.id, clock.now)
        ] == [starts]

    # Another restart: reminders come from the database, and the one whose DMs are closed is reached in the
    # thread, though this process never saw the thread being created.
    day_before = starts - timedelta(hours=23)
    async with running_with_pairing_by_hand(discord_server, database, clock) as bot:
        assert (await _pass(bot, day_before)).notices == {"day": 2}
    (fallback,) = [
        m for m in _thread_messages(discord_server, _thread(discord_server)) if "⏰ Reminder" in m["content"]
    ]
    assert fallback["content"].startswith(f"<@{learner.id}> ⏰ Reminder: study session **#1**")
    assert _mentioned(fallback) == {learner.id}
    assert len(_dms_with(discord_server, other_learner, "⏰ Reminder")) == 1

    # And once sent, a reminder is not sent again by the next process.
    async with running_with_pairing_by_hand(discord_server, database, clock) as bot:
        assert (await _pass(bot, day_before + timedelta(minutes=1))).notices == {}
        ended = await other_learner.click(intro, "End pairing")
        assert ended.content.startswith(f"<@{other_learner.id}> ended this pairing.")
        (past,) = await _pairing(bot).history(discord_server.guild_id, learner.id)
        assert past.ended_at is not None
        assert past.thread_id == thread_id
    assert len([m for m in _thread_messages(discord_server, _thread(discord_server)) if "⏰" in m["content"]]) == 1
    _assert_pings_only(discord_server, [learner, other_learner])


# ----- where the introduction goes ---------------------------------------------------------------------------------


async def test_closed_dms_still_told_in_the_thread_and_the_failure_is_logged(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    discord_server.closed_dms.add(learner.id)
    with caplog.at_level(logging.INFO, logger="cogs.pairing._announce"):
        matched = await _pair_up(discord_server, learner, other_learner, clock)
    thread_id = int(_thread(discord_server)["id"])
    assert f"Say hello in <#{thread_id}>" in matched.content
    intro = _intro(discord_server)
    assert learner.id in _mentioned(intro)  # told in the thread, where they were added
    assert learner.id in discord_server.thread_members[thread_id]
    assert _dms(discord_server, learner) == []
    assert len(_dms_with(discord_server, other_learner, "You are paired with")) == 1
    assert any(
        "could not DM" in record.getMessage() and str(learner.id) in record.getMessage() for record in caplog.records
    )
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]

    # Reminders take the same way: a DM for one, the thread (pinging only them) for the other.
    booked = await other_learner.slash("session schedule", partner=learner.id, when="tomorrow 12:00")
    assert "Session **#1**" in booked.content
    starts = _tomorrow_at(12, BOGOTA, clock.now)
    assert (await _pass(nexus, starts - timedelta(hours=20))).notices == {"day": 2}
    (fallback,) = [m for m in _thread_messages(discord_server, _thread(discord_server)) if "Reminder" in m["content"]]
    assert fallback["content"] == (
        f"<@{learner.id}> ⏰ Reminder: study session **#1** with <@{other_learner.id}> starts tomorrow: "
        f"{_stamp(starts, 'F')}, {_local(starts, LAGOS)}."
    )
    assert _mentioned(fallback) == {learner.id}
    assert len(_dms_with(discord_server, other_learner, "⏰ Reminder")) == 1
    _assert_pings_only(discord_server, [learner, other_learner])


@pytest.mark.parametrize("why", ["no pairing channel", "threads refused"])
async def test_without_a_thread_the_introduction_comes_by_dm(
    discord_server: FakeDiscord,
    database: str,
    learner: FakeUser,
    other_learner: FakeUser,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    why: str,
) -> None:
    discord_server.threads_allowed = why != "threads refused"
    async with running_with_pairing_by_hand(
        discord_server, database, clock, pairing_channel=why != "no pairing channel"
    ) as bot:
        with caplog.at_level(logging.WARNING, logger="cogs.pairing._announce"):
            matched = await _pair_up(discord_server, learner, other_learner, clock)
        assert "Say hello in your DMs." in matched.content
        assert discord_server.threads == []
        for user in (learner, other_learner):
            (intro,) = _dms(discord_server, user)
            assert intro["content"] == f"<@{other_learner.id}> meet <@{learner.id}>: you are paired! 🎉"
            assert intro["mentions"] == []
            assert "free together Monday to Friday 19:00\u201321:00" in _fields(intro)["Learners"]
            assert _labels(intro) == ["Schedule a session", "End pairing"]
        (past,) = await _pairing(bot).history(discord_server.guild_id, learner.id)
        assert past.thread_id is None
        refused = [record for record in caplog.records if "pair thread" in record.getMessage()]
        assert len(refused) == (1 if why == "threads refused" else 0)

        # The buttons of the DM work as the thread's do.
        (intro,) = _dms(discord_server, other_learner)
        modal = await other_learner.click(intro, "Schedule a session")
        when, _topic, _minutes = modal.input_ids
        booked = await other_learner.submit_modal(modal, **{when: "Fri 20:00"})
        assert f"Session **#1** with <@{learner.id}>" in booked.content
        assert booked.message["channel_id"] == str(discord_server.dm_channels[other_learner.id])
        (session,) = await _pairing(bot).upcoming(discord_server.guild_id, learner.id, clock.now)
        # The partner is not in that conversation: told in their own DMs, in their own time.
        await until(lambda: _dms_with(discord_server, learner, "Session **#1**"), "the partner's booking note")
        (told,) = _dms_with(discord_server, learner, "Session **#1**")
        assert told["content"].startswith(
            f"Session **#1** with <@{other_learner.id}> is booked for {_stamp(session.starts_at, 'F')} "
            f"({_local(session.starts_at, LAGOS)})"
        )
    _assert_pings_only(discord_server, [learner, other_learner])


async def test_a_partner_who_left_before_the_introduction_requeues_the_other(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await learner.slash("pair request", **FRONTEND)
    discord_server.remove_member(learner.id)
    clock.advance(minutes=1)
    answer = await other_learner.slash("pair request", **BACKEND)
    assert answer.ephemeral
    assert "Matched" not in answer.content
    assert "left the server" in answer.content
    assert "back in the queue" in answer.content
    assert discord_server.threads == []
    (told,) = _dms(discord_server, other_learner)
    assert "left the server before I could introduce you" in told["content"]
    assert _dms(discord_server, learner) == []
    status = await pairing.status(guild, other_learner.id, clock.now)
    assert status.waiting is not None
    assert status.waiting.since == NOW + timedelta(minutes=1)
    assert await pairing.history(guild, other_learner.id) == []

    # The one who stayed is matched with the next learner who fits.
    clock.advance(minutes=1)
    matched = await third_learner.slash("pair request", **FRONTEND)
    assert f"Matched at once with <@{other_learner.id}> (backend)!" in matched.content
    assert discord_server.thread_members[int(_thread(discord_server)["id"])] == {other_learner.id, third_learner.id}
    _assert_pings_only(discord_server, [other_learner, third_learner])


# ----- expiry and check-ins ----------------------------------------------------------------------------------------


async def test_an_expired_request_is_told_once_and_renewed_with_the_button(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await learner.slash("pair request", track="frontend", topics="Docker")
    expiry = clock.advance(days=14, minutes=1)
    assert (await _pass(nexus, expiry)).expired == 1
    assert (await _pass(nexus, expiry + timedelta(minutes=1))).expired == 0
    (notice,) = _dms(discord_server, learner)
    assert notice["content"].startswith("Your pairing request waited 14 d 0 h without a partner who fits")
    assert _labels(notice) == ["Renew my request"]
    assert (await pairing.status(guild, learner.id, clock.now)).waiting is None
    assert [row.state for row in await _rows(database, select(PairRequest))] == ["expired"]

    refused = await other_learner.click(notice, "Renew my request")
    assert refused.ephemeral
    assert "renews someone else's request" in refused.content
    assert not await pairing.has_profile(guild, other_learner.id)

    renewed = await learner.click(notice, "Renew my request")
    assert renewed.ephemeral
    assert "You are in the queue as **frontend**, looking for **backend**" in renewed.content
    assert "Topics: **Docker**." in renewed.content
    waiting = (await pairing.status(guild, learner.id, clock.now)).waiting
    assert waiting is not None
    assert waiting.topics == ("docker",)
    twice = await learner.click(notice, "Renew my request")
    assert "This request was already renewed" in twice.content
    assert len(await _rows(database, select(PairRequest).where(PairRequest.state == "waiting"))) == 1

    clock.advance(minutes=1)
    matched = await other_learner.slash("pair request", track="backend", topics="docker")
    assert f"Matched at once with <@{learner.id}> (frontend)!" in matched.content
    assert "Shared topics: **Docker**." in matched.content
    _assert_pings_only(discord_server, [learner, other_learner])


async def test_checkins_are_answered_with_buttons_and_two_ignored_ones_pause(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    mentor: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await _pair_up(discord_server, learner, other_learner, clock)
    thread_id = int(_thread(discord_server)["id"])

    first = clock.advance(days=3, minutes=1)
    report = await _pass(nexus, first)
    assert report.checkins == 2
    assert (await _pass(nexus, first + timedelta(minutes=1))).checkins == 0
    for user, partner in ((learner, other_learner), (other_learner, learner)):
        (ask,) = _dms_with(discord_server, user, "Did you meet?")
        assert ask["content"].startswith(f"A few days ago you were paired with <@{partner.id}>. Did you meet?")
        assert _labels(ask) == ["Yes, we met", "No, not yet"]
    (ask,) = _dms_with(discord_server, other_learner, "Did you meet?")
    answered = await other_learner.click(ask, "No, not yet")
    assert answered.ephemeral
    assert "Thanks" in answered.content
    answered = await other_learner.click(ask, "Yes, we met")  # a change of mind replaces the answer
    assert "Great" in answered.content
    rows = {row.user_id: row for row in await _rows(database, select(PairCheckin))}
    assert (rows[other_learner.id].met, rows[learner.id].met) == (True, None)

    # The learner ignores it: one missed check-in, not yet paused.
    second = clock.advance(days=2, minutes=1)
    assert (await _pass(nexus, second)).paused == 0
    profile = {row.user_id: row for row in await _rows(database, select(LearnerProfile))}
    assert (profile[learner.id].missed_checkins, profile[other_learner.id].missed_checkins) == (1, 0)

    # A second pairing, whose check-in the learner ignores too: paused, with a notice saying how to resume.
    await learner.slash("pair request", **FRONTEND)
    clock.advance(minutes=1)
    matched = await third_learner.slash("pair request", **BACKEND)
    assert f"Matched at once with <@{learner.id}>" in matched.content
    third = clock.advance(days=3, minutes=1)
    assert (await _pass(nexus, third)).checkins == 2
    fourth = clock.advance(days=2, minutes=1)
    assert (await _pass(nexus, fourth)).paused == 1
    assert (await _pass(nexus, fourth + timedelta(minutes=1))).paused == 0
    (notice,) = _dms_with(discord_server, learner, "You did not answer two check-ins in a row")
    assert "`/pair resume`" in notice["content"]
    assert (await pairing.status(guild, learner.id, clock.now)).paused_until == UNTIL_RESUMED
    assert (await pairing.status(guild, third_learner.id, clock.now)).paused_until is None
    status = await learner.slash("pair status")
    assert "⏸️ Paused until you `/pair resume`." in status.content
    assert f"Paired with <@{other_learner.id}>" in status.content
    assert f"in <#{thread_id}>" in status.content
    assert _dms_with(discord_server, third_learner, "You did not answer") == []

    # The answers feed the moderators' stats.
    stats = await mentor.slash("pair stats")
    fields = _fields(stats.message)
    assert fields["Check-ins (30 days)"] == "4 asked; 1 of 1 said they met"
    assert fields["Matches this week"] == "1"

    resumed = await learner.slash("pair resume")
    assert resumed.content == "Welcome back: you are in matching again."
    assert (await pairing.status(guild, learner.id, clock.now)).paused_until is None
    _assert_pings_only(discord_server, [learner, other_learner, third_learner])


# ----- /pair -------------------------------------------------------------------------------------------------------


async def test_pair_status_cancel_history_pause_and_resume(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    clock: Clock,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    assert "You are not in pairing yet" in (await learner.slash("pair status")).content
    nothing = await learner.slash("pair cancel")
    assert nothing.ephemeral
    assert "nothing to cancel" in nothing.content
    assert "You have not been paired yet" in (await learner.slash("pair history")).content
    assert "You are not in pairing yet" in (await learner.slash("pair pause")).content

    joined = await learner.slash("pair request", track="frontend", timezone="Lagos", availability="Fri 22-02")
    assert "looking for **backend**" in joined.content
    assert f"Availability understood as: Friday 22:00\u201302:00 ({LAGOS})." in joined.content  # wraps midnight
    again = await learner.slash("pair request", track="frontend")
    assert again.ephemeral
    assert "You already have a pairing request waiting" in again.content
    status = await learner.slash("pair status")
    assert status.ephemeral
    assert f"Track **frontend**, timezone {LAGOS}." in status.content
    assert "Waiting since" in status.content
    assert "for **backend** (0 ahead of you)" in status.content
    assert f"expires {_stamp(NOW + timedelta(days=14), 'R')}" in status.content

    cancelled = await learner.slash("pair cancel")
    assert "withdrawn" in cancelled.content
    assert "No request waiting." in (await learner.slash("pair status")).content
    assert (await pairing.status(guild, learner.id, clock.now)).waiting is None

    # Paused learners are kept out of matching until they resume; the next round pairs them.
    await learner.slash("pair request", track="frontend")
    paused = await learner.slash("pair pause", days=3)
    assert paused.content.startswith(f"⏸️ Paused until {_stamp(NOW + timedelta(days=3))}.")
    assert (await pairing.status(guild, learner.id, clock.now)).paused_until == NOW + timedelta(days=3)
    clock.advance(minutes=1)
    left_waiting = await other_learner.slash("pair request", track="backend")
    assert "You are in the queue" in left_waiting.content
    assert (await _pass(nexus, clock.now, force_round=True)).matched == 0
    assert "Welcome back" in (await learner.slash("pair resume")).content
    assert "You were not paused: nothing changed." in (await learner.slash("pair resume")).content
    report = await _pass(nexus, clock.now, force_round=True)
    assert (report.matched, report.announced) == (1, 1)
    intro = _intro(discord_server)
    assert _mentioned(intro) == {learner.id, other_learner.id}
    history = await learner.slash("pair history")
    assert f"• <@{other_learner.id}>, {_stamp(clock.now, 'D')}, ongoing" in history.content
    assert [past.partner_id for past in await pairing.history(guild, other_learner.id)] == [learner.id]

    # Asking again while paused resumes.
    await learner.slash("pair pause")
    back = await learner.slash("pair request", track="frontend")
    assert back.content.startswith("You were paused; asking again has resumed you.")
    assert (await pairing.status(guild, learner.id, clock.now)).paused_until is None
    _assert_pings_only(discord_server, [learner, other_learner])


async def test_pair_request_bad_input_is_refused_with_an_example_and_nothing_stored(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, database: str
) -> None:
    pairing = _pairing(nexus)
    for number, (options, expected) in enumerate(
        (
            ({"timezone": "Mars/Olympus"}, "Unknown timezone `Mars/Olympus`. Try `Africa/Lagos`"),
            ({"availability": "whenever"}, "Try `Mon-Fri 18:00-21:00, Sat 10-14`."),
            ({"availability": "Mon-Fri"}, "Try `Mon-Fri 18:00-21:00, Sat 10-14`."),
            ({"availability": "Mon 18-25"}, "hours go from 0 to 24"),
            ({"topics": "qqqzzz"}, "No topic is called `qqqzzz`"),
            ({"topics": "docker, redis, celery, graphql, kubernetes, git"}, "Name at most 5 topics"),
        )
    ):
        # A newcomer for each try: the command allows five a minute per person.
        newcomer = FakeUser(discord_server, discord_server.add_member(f"newcomer{number}"))
        refused = await newcomer.slash("pair request", track="frontend", **options)
        assert refused.ephemeral
        assert expected in refused.content, (options, refused.content)
        assert not await pairing.has_profile(discord_server.guild_id, newcomer.id)
    assert await _rows(database, select(PairRequest)) == []
    assert await _rows(database, select(LearnerProfile)) == []

    # A request while one is open is refused and leaves the first as it was.
    await learner.slash("pair request", track="frontend", topics="docker")
    again = await learner.slash("pair request", track="backend", topics="redis")
    assert again.ephemeral
    assert "You already have a pairing request waiting" in again.content
    (request,) = await _rows(database, select(PairRequest))
    assert (request.track, request.topics, request.state) == ("frontend", ("docker",), "waiting")
    _assert_pings_only(discord_server, [learner])


async def test_pair_stats_is_for_moderators(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    mentor: FakeUser,
    clock: Clock,
) -> None:
    refused = await learner.slash("pair stats")
    assert refused.ephemeral
    assert "`/pair stats` is for moderators" in refused.content
    assert refused.message["embeds"] == []

    await _pair_up(discord_server, learner, other_learner, clock)
    await third_learner.slash("pair request", track="frontend")
    clock.advance(hours=2)
    stats = await mentor.slash("pair stats")
    assert stats.ephemeral
    assert stats.embed["title"] == "Pairing"
    fields = _fields(stats.message)
    assert fields == {
        "Queue": "frontend: 1, backend: 0",
        "Median wait": "2 h 0 min",
        "Matches this week": "1",
        "Check-ins (30 days)": "0 asked; no answers yet",
    }
    _assert_pings_only(discord_server, [learner, other_learner, third_learner])


# ----- /session ----------------------------------------------------------------------------------------------------


async def test_session_schedule_refuses_bad_input_and_stores_nothing(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    robot = discord_server.add_member("robot", bot=True)
    for number, (partner, when, expected) in enumerate(
        (
            (None, "tomorrow 18:00", "A study session needs someone else"),
            (robot, "tomorrow 18:00", "Bots don't study"),
            (other_learner.id, "today 08:00", "That time has already passed"),
            (other_learner.id, f"{NOW.year - 1}-03-05 10:00", "That time has already passed"),
            (other_learner.id, f"{NOW.year + 2}-03-05 10:00", "more than 90 days ahead"),
            (other_learner.id, "whenever suits", "Try `tomorrow 18:00`"),
        )
    ):
        # An organiser for each try: the command allows five a minute per person.
        organiser = FakeUser(discord_server, discord_server.add_member(f"organiser{number}"))
        refused = await organiser.slash("session schedule", partner=partner or organiser.id, when=when)
        assert refused.ephemeral, when
        assert expected in refused.content, (when, refused.content)
    refused = await learner.slash("session schedule", partner=other_learner.id, when="tomorrow 9:00", topic="qqzz")
    assert "No topic is called" in refused.content
    assert await _rows(database, select(StudySession)) == []
    assert "No upcoming sessions" in (await learner.slash("session list")).content

    # A partner who left the server since the pairing: the modal says so, and stores nothing.
    await _pair_up(discord_server, learner, other_learner, clock)
    modal = await learner.click(_intro(discord_server), "Schedule a session")
    discord_server.remove_member(other_learner.id)
    when, _topic, minutes = modal.input_ids
    gone = await learner.submit_modal(modal, **{when: "tomorrow 18:00"})
    assert gone.ephemeral
    assert "no longer in this server" in gone.content
    modal = await learner.click(_intro(discord_server), "Schedule a session")
    bad_minutes = await learner.submit_modal(modal, **{when: "tomorrow 18:00", minutes: "ten"})
    assert "Minutes is a number" in bad_minutes.content
    assert await _rows(database, select(StudySession)) == []
    _assert_pings_only(discord_server, [learner, other_learner])


async def test_session_list_and_cancel(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await _pair_up(discord_server, learner, other_learner, clock)
    booked = await learner.slash(
        "session schedule", partner=other_learner.id, when="tomorrow 18:00", topic="docker", duration=90
    )
    assert not booked.ephemeral  # partners: booked at once, the partner pinged
    assert _mentioned(booked.message) == {other_learner.id}
    starts = _tomorrow_at(18, LAGOS, clock.now)  # in the organiser's time
    assert "90 min on **Docker**" in booked.content
    clash = await other_learner.slash("session schedule", partner=learner.id, when="tomorrow 12:30")  # Bogota
    assert clash.ephemeral
    assert "You already have session #1" in clash.content
    for user, other in ((learner, other_learner), (other_learner, learner)):
        listed = await user.slash("session list")
        assert listed.ephemeral
        assert f"• **#1** {_stamp(starts)} with <@{other.id}>, 90 min, Docker" in listed.content
    assert "No upcoming sessions" in (await third_learner.slash("session list")).content

    refused = await third_learner.slash("session cancel", id=1)
    assert refused.ephemeral
    assert "Only the two people in a session can cancel it." in refused.content
    unknown = await learner.slash("session cancel", id=99)
    assert "There is no session #99" in unknown.content
    cancelled = await other_learner.slash("session cancel", id=1)
    assert not cancelled.ephemeral
    assert cancelled.content.startswith(f"Session **#1** on {_stamp(starts)} is cancelled; <@{learner.id}>")
    assert _mentioned(cancelled.message) == {learner.id}
    again = await learner.slash("session cancel", id=1)
    assert "already cancelled" in again.content
    assert await pairing.upcoming(guild, learner.id, clock.now) == []
    (row,) = await _rows(database, select(StudySession))
    assert (row.state, row.cancelled_by) == ("cancelled", other_learner.id)

    # A cancelled session is neither reminded nor rated.
    for moment in (starts - timedelta(hours=2), starts - timedelta(minutes=5), starts + timedelta(hours=2)):
        assert (await _pass(nexus, moment)).notices == {}
    assert [m["content"] for m in _dms(discord_server, learner)] == [
        f"You are paired with <@{other_learner.id}> (backend) for study sessions. "
        f"Say hello in <#{_thread(discord_server)['id']}>."
    ]

    # An invitation (not partners) is cancelled privately: withdrawn by its organiser, declined by its invitee,
    # pinging nobody; the organiser hears of a decline.
    clock.advance(minutes=1)
    for organiser, invitee, verb in ((third_learner, learner, "withdrawn"), (third_learner, other_learner, "declined")):
        asked = await organiser.slash("session schedule", partner=invitee.id, when="Fri 10:00")
        assert asked.ephemeral, asked.content
        (invitation,) = await _rows(database, select(StudySession).where(StudySession.state == "proposed"))
        canceller = organiser if verb == "withdrawn" else invitee
        answered = await canceller.slash("session cancel", id=invitation.id)
        assert answered.ephemeral
        assert answered.message["mentions"] == []
        assert verb in answered.content
    await until(lambda: _dms_with(discord_server, third_learner, "declined your invitation"), "the organiser's note")
    states = sorted(row.state for row in await _rows(database, select(StudySession)))
    assert states == ["cancelled", "declined", "withdrawn"]
    _assert_pings_only(discord_server, [learner, other_learner])


# ----- autocomplete and the challenge button -----------------------------------------------------------------------


async def test_autocomplete_offers_timezones_and_topics(nexus: NexusBot, learner: FakeUser) -> None:
    for typed in ("", "a", "lagos", "UTC+1", "new york"):
        choices = await learner.autocomplete("pair request", "timezone", typed, track="frontend")
        assert 1 <= len(choices) <= 25, typed
        assert all(1 <= len(choice["name"]) <= 100 for choice in choices)
    assert (await learner.autocomplete("pair request", "timezone", "lagos", track="frontend"))[0]["value"] == LAGOS
    assert (await learner.autocomplete("pair request", "timezone", "new york", track="frontend"))[0][
        "value"
    ] == "America/New_York"

    everything = await learner.autocomplete("pair request", "topics", "", track="frontend")
    assert 1 <= len(everything) <= 25
    docker = await learner.autocomplete("pair request", "topics", "dock", track="frontend")
    assert docker[0] == {"name": "Docker · DevOps & delivery", "value": "Docker"}
    more = await learner.autocomplete("pair request", "topics", "GraphQL, dock", track="frontend")
    assert more
    assert len(more) <= 25
    assert all(choice["value"].startswith("GraphQL, ") for choice in more)
    assert "GraphQL, Docker" in {choice["value"] for choice in more}

    # What autocomplete offers is what the command then accepts.
    picked = await learner.slash("pair request", track="frontend", topics="GraphQL, Docker")
    assert "Topics: **GraphQL**, **Docker**." in picked.content

    session_topics = await learner.autocomplete(
        "session schedule", "topic", "redis", partner=learner.id, when="tomorrow 18:00"
    )
    assert 1 <= len(session_topics) <= 25
    assert session_topics[0]["value"] == "Redis"
    assert all("," not in choice["value"] for choice in session_topics)


async def test_find_a_study_partner_from_an_open_challenge(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await third_learner.slash("pair request", track="frontend")
    await third_learner.slash("pair cancel")
    form = await learner.slash("challenge new")
    ids = form.input_ids
    logged = await learner.submit_modal(
        form, **dict(zip(ids, ["Containers cannot reach the database", "connection refused", "docker"], strict=False))
    )
    assert "Logged as challenge **#1**" in logged.content
    assert "Find a study partner for this" in _labels(logged.message)

    # Without a profile: which track? Then a request with the challenge's topics.
    asked = await other_learner.click(logged.message, "Find a study partner for this")
    assert asked.ephemeral
    assert "Which track are you on?" in asked.content
    queued = await other_learner.click(asked.message, "Backend")
    assert queued.ephemeral
    assert "You are in the queue as **backend**, looking for **frontend**" in queued.content
    assert "Topics: **Docker**." in queued.content
    (request,) = await _rows(database, select(PairRequest).where(PairRequest.user_id == other_learner.id))
    assert (request.user_id, request.topics, request.challenge_id, request.state) == (
        other_learner.id,
        ("docker",),
        1,
        "waiting",
    )

    # With a profile: straight into the queue, and here matched at once.
    clock.advance(minutes=1)
    matched = await third_learner.click(logged.message, "Find a study partner for this")
    assert matched.ephemeral
    assert f"Matched at once with <@{other_learner.id}> (backend)!" in matched.content
    assert "Shared topics: **Docker**." in matched.content
    assert "**Docker**: `/topic name:Docker`" in _fields(_intro(discord_server))["Shared topics"]
    (past,) = await pairing.history(guild, third_learner.id)
    assert past.partner_id == other_learner.id
    _assert_pings_only(discord_server, [learner, other_learner, third_learner])


async def test_a_frontend_learner_names_frontend_topics(nexus: NexusBot, learner: FakeUser) -> None:
    answer = await learner.slash("pair request", track="frontend", topics="react, nextjs, tailwind")
    assert "No topic is called" not in answer.content
    status = await learner.slash("pair status")
    for title in ("React components", "Next.js App Router", "Tailwind CSS"):
        assert title in status.content
    typed = await learner.autocomplete("pair request", "topics", "re", track="frontend")
    assert typed[0]["value"].startswith("React")


# ----- consent: sessions with someone who is not your partner --------------------------------------------------------


async def test_a_session_with_someone_not_your_partner_is_booked_only_once_they_accept_in_private(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    asked = await learner.slash("session schedule", partner=third_learner.id, when="tomorrow 18:00", topic="docker")
    starts = _tomorrow_at(18, "UTC", clock.now)  # no profile: the organiser's time is UTC
    # Only the organiser hears of it, and nobody is pinged; nothing is booked yet.
    assert asked.ephemeral
    assert asked.message["mentions"] == []
    assert f"I have asked <@{third_learner.id}> privately" in asked.content
    assert "nothing is booked until they do" in asked.content
    assert _posted_in_the_server(discord_server) == []
    assert await pairing.upcoming(guild, third_learner.id, clock.now) == []
    listed = (await learner.slash("session list")).content
    assert listed.startswith("No upcoming sessions.")
    assert f"Waiting for an answer:\n• **#1** {_stamp(starts)} with <@{third_learner.id}>, 60 min, Docker" in listed
    assert "you invited them; it lapses" in listed
    invited = (await third_learner.slash("session list")).content
    assert f"• **#1** {_stamp(starts)} with <@{learner.id}>, 60 min, Docker: they invite you, answer in your DMs" in (
        invited
    )
    (row,) = await _rows(database, select(StudySession))
    assert row.state == "proposed"

    # The invitee is asked in their DMs, with Accept and Decline, pinging nobody.
    (invitation,) = _dms(discord_server, third_learner)
    assert invitation["mentions"] == []
    assert _labels(invitation) == ["Accept", "Decline"]
    assert invitation["content"].startswith(f"📅 <@{learner.id}> invites you to a study session in ")
    assert f"{_stamp(starts, 'F')} ({_local(starts, 'UTC')}), 60 min on **Docker**" in invitation["content"]
    before_answer = copy.deepcopy(invitation)

    # Unanswered, it is neither reminded nor shown; and nobody else may answer it.
    assert (await _pass(nexus, starts - timedelta(hours=23))).notices == {}
    for someone in (learner, other_learner):
        refused = await someone.click(invitation, "Accept")
        assert refused.ephemeral
        assert "This invitation is for someone else" in refused.content
    assert [row.state for row in await _rows(database, select(StudySession))] == ["proposed"]

    accepted = await third_learner.click(invitation, "Accept")
    assert accepted.response_type == 7  # the invitation itself now says what was answered, without buttons
    assert accepted.content.startswith(f"✅ Accepted. Session **#1** with <@{learner.id}> is booked for ")
    assert _labels(accepted.message) == []
    await until(lambda: _dms_with(discord_server, learner, "accepted your invitation"), "the organiser's note")
    (told,) = _dms_with(discord_server, learner, "accepted your invitation")
    assert told["content"].startswith(f"✅ <@{third_learner.id}> accepted your invitation. Session **#1**")
    assert told["mentions"] == []
    (session,) = await pairing.upcoming(guild, third_learner.id, clock.now)
    assert (session.session_id, session.organiser_id, session.pair_id) == (1, learner.id, None)
    again = await third_learner.click(before_answer, "Decline")
    assert again.ephemeral
    assert "You already accepted this invitation" in again.content

    # Booked now: both are reminded; but it is not a pairing's session, so nobody is asked to rate the other.
    assert (await _pass(nexus, starts - timedelta(hours=22))).notices == {"day": 2}
    assert (await _pass(nexus, starts + timedelta(hours=1, minutes=1))).notices == {}
    assert _dms_with(discord_server, learner, "How did study session") == []
    _assert_pings_only(discord_server, [learner, third_learner])


async def test_a_declined_lapsed_or_undeliverable_invitation_books_nothing_and_the_organiser_hears(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    # Declined: the organiser is told by DM, nothing is booked.
    await learner.slash("session schedule", partner=other_learner.id, when="tomorrow 18:00")
    (invitation,) = _dms(discord_server, other_learner)
    declined = await other_learner.click(invitation, "Decline")
    assert declined.response_type == 7
    assert declined.content.startswith(f"You declined the study session with <@{learner.id}>")
    await until(lambda: _dms_with(discord_server, learner, "declined your invitation"), "the organiser's note")

    # Unanswered until its deadline: it lapses, the organiser is told once, and a late Accept books nothing.
    await learner.slash("session schedule", partner=third_learner.id, when="Fri 18:00")
    (invitation,) = _dms(discord_server, third_learner)
    late = clock.advance(days=2, minutes=1)
    assert (await _pass(nexus, late)).lapsed == 1
    assert (await _pass(nexus, late + timedelta(minutes=1))).lapsed == 0
    (lapsed,) = _dms_with(discord_server, learner, "did not answer your invitation")
    assert lapsed["content"].startswith(f"<@{third_learner.id}> did not answer your invitation")
    too_late = await third_learner.click(invitation, "Accept")
    assert too_late.ephemeral
    assert "This invitation has lapsed" in too_late.content

    # DMs closed: the invitee cannot be asked in private, so nothing is stored and the organiser is told why.
    discord_server.closed_dms.add(third_learner.id)
    refused = await learner.slash("session schedule", partner=third_learner.id, when="Sat 10:00")
    assert refused.ephemeral
    assert refused.message["mentions"] == []
    assert f"I could not ask <@{third_learner.id}>: their DMs are closed to me, so nothing is booked" in refused.content
    states = sorted(row.state for row in await _rows(database, select(StudySession)))
    assert states == ["declined", "expired"]
    assert await _pairing(nexus).upcoming(discord_server.guild_id, third_learner.id, clock.now) == []
    assert _posted_in_the_server(discord_server) == []
    _assert_pings_only(discord_server, [learner, other_learner, third_learner])


# ----- every button re-checks what it acts on and who presses it ----------------------------------------------------


async def test_renew_refuses_once_the_renewed_request_was_matched_and_for_members_who_left(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await learner.slash("pair request", track="frontend")
    await third_learner.slash("pair request", track="frontend")
    expiry = clock.advance(days=14, minutes=1)
    assert (await _pass(nexus, expiry)).expired == 2
    (notice,) = _dms(discord_server, learner)
    renewed = await learner.click(notice, "Renew my request")
    assert "You are in the queue" in renewed.content
    matched = await other_learner.slash("pair request", track="backend")
    assert f"Matched at once with <@{learner.id}>" in matched.content

    # The renewed request was matched: the old notice's button must not queue the learner again.
    again = await learner.click(notice, "Renew my request")
    assert again.ephemeral
    assert "This request was already renewed" in again.content
    assert (await pairing.status(guild, learner.id, clock.now)).waiting is None

    # A member who left (or was banned) cannot rejoin the queue of a server they are no longer in.
    (gone_notice,) = _dms(discord_server, third_learner)
    discord_server.remove_member(third_learner.id)
    gone = await third_learner.click(gone_notice, "Renew my request")
    assert gone.ephemeral
    assert "You are no longer a member of the server this button belongs to" in gone.content
    assert (await pairing.status(guild, third_learner.id, clock.now)).waiting is None
    waiting = await _rows(database, select(PairRequest).where(PairRequest.state == "waiting"))
    assert waiting == []


async def test_an_old_introductions_schedule_button_rechecks_the_pairing_and_the_members(
    discord_server: FakeDiscord,
    database: str,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
) -> None:
    # Introduced by DM (no pairing channel): the buttons are pressed from outside the server.
    async with running_with_pairing_by_hand(discord_server, database, clock, pairing_channel=False) as bot:
        await _pair_up(discord_server, learner, other_learner, clock)
        (intro,) = _dms(discord_server, learner)
        (partner_intro,) = _dms(discord_server, other_learner)

        # A form opened while paired, sent after the pairing ended: refused, nothing booked.
        form = await learner.click(intro, "Schedule a session")
        ended = await other_learner.click(partner_intro, "End pairing")
        assert "ended this pairing" in ended.content
        when, _topic, _minutes = form.input_ids
        late = await learner.submit_modal(form, **{when: "tomorrow 18:00"})
        assert late.ephemeral
        assert "This pairing has ended" in late.content
        refused = await learner.click(intro, "Schedule a session")
        assert refused.response_type == 4, "a form was opened for an ended pairing"
        assert "This pairing has ended" in refused.content
        assert await _rows(database, select(StudySession)) == []

        # A new pairing; one of the two leaves the server: neither their button nor their open form books anything.
        await third_learner.slash("pair request", **BACKEND)
        clock.advance(minutes=1)
        assert "Matched at once" in (await learner.slash("pair request", **FRONTEND)).content
        (intro,) = [m for m in _dms(discord_server, learner) if "meet" in m["content"] and m["id"] != intro["id"]]
        form = await learner.click(intro, "Schedule a session")
        discord_server.remove_member(learner.id)
        gone = await learner.submit_modal(form, **{when: "tomorrow 18:00"})
        assert gone.ephemeral
        assert "You are no longer a member of the server this button belongs to" in gone.content
        gone = await learner.click(intro, "Schedule a session")
        assert gone.response_type == 4
        assert "You are no longer a member" in gone.content
        assert (await learner.click(intro, "End pairing")).ephemeral
        assert await _rows(database, select(StudySession)) == []
        assert [past.ended_at for past in await _pairing(bot).history(discord_server.guild_id, third_learner.id)] == [
            None
        ]


async def test_dm_buttons_refuse_a_member_who_left_and_a_deleted_challenges_button_stops(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    third_learner: FakeUser,
    clock: Clock,
    database: str,
) -> None:
    guild, pairing = discord_server.guild_id, _pairing(nexus)
    await _pair_up(discord_server, learner, other_learner, clock)
    booked = await learner.slash("session schedule", partner=other_learner.id, when="tomorrow 19:00")
    assert "Session **#1**" in booked.content
    starts = _tomorrow_at(19, LAGOS, clock.now)
    assert (await _pass(nexus, starts + timedelta(hours=1, minutes=1))).notices == {"rating": 2}
    clock.now = NOW + timedelta(days=3, minutes=5)
    assert (await _pass(nexus, clock.now)).checkins == 2
    asked = await third_learner.slash("session schedule", partner=other_learner.id, when="Fri 10:00")
    assert asked.ephemeral

    # The partner leaves (or is banned): what they still hold in their DMs no longer acts in the server.
    discord_server.remove_member(other_learner.id)
    (checkin,) = _dms_with(discord_server, other_learner, "Did you meet?")
    (rating,) = _dms_with(discord_server, other_learner, "How did study session")
    (invitation,) = _dms_with(discord_server, other_learner, "invites you to a study session")
    for message, label in ((checkin, "Yes, we met"), (rating, "👎 Didn't happen / went badly"), (invitation, "Accept")):
        refused = await other_learner.click(message, label)
        assert refused.ephemeral, label
        assert "You are no longer a member of the server this button belongs to" in refused.content, label
    assert await _rows(database, select(SessionRating)) == []
    assert [row.met for row in await _rows(database, select(PairCheckin))] == [None, None]
    assert [row.state for row in await _rows(database, select(StudySession).order_by(StudySession.id))] == [
        "scheduled",
        "proposed",
    ]
    assert await pairing.upcoming(guild, third_learner.id, clock.now) == []

    # "Find a study partner for this" on a challenge deleted since: refused, nothing queued.
    form = await learner.slash("challenge new")
    logged = await learner.submit_modal(
        form, **dict(zip(form.input_ids, ["Containers cannot reach the database", "refused", "docker"], strict=False))
    )
    assert "Logged as challenge **#1**" in logged.content
    assert "deleted" in (await learner.slash("challenge delete", id=1)).content
    refused = await third_learner.click(logged.message, "Find a study partner for this")
    assert refused.ephemeral
    assert "That challenge was deleted" in refused.content
    assert not await pairing.has_profile(guild, third_learner.id)
