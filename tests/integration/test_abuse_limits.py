"""The hourly cap on challenges logged by command or menu, on a real SQLite file: past it a clear wait, nothing
stored; moderators, other members, other servers and in-channel posts are not held back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import InvalidInputError, RateLimitedError
from bot.core.ratelimit import SlidingWindowLimiter
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.search import search_engine_for
from bot.knowledge import load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import (
    NEW_CHALLENGES_PER_HOUR,
    ChallengeService,
    IncomingMessage,
    Person,
    SolvedChallengeLog,
)
from bot.services.topics import TopicService

GUILD = 1001
OTHER_GUILD = 2002
ANN = Person(11, "Ann")
BOB = Person(12, "Bob")
MODERATOR = Person(99, "Mod", is_moderator=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}")
    try:
        await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(engine: AsyncEngine, clock: Clock) -> ChallengeService:
    sessions = create_session_factory(engine)
    topics = TopicService(load_knowledge_base(default_data_dir() / "topics"), SolvedChallengeLog(sessions))
    return ChallengeService(
        sessions,
        search_engine_for("sqlite"),
        topics,
        new_challenges=SlidingWindowLimiter(NEW_CHALLENGES_PER_HOUR, 3600.0, clock),
    )


async def _log(log: ChallengeService, author: Person, number: int, guild_id: int = GUILD) -> int:
    logged = await log.log_challenge(guild_id=guild_id, channel_id=1, author=author, title=f"Problem {number}")
    return logged.challenge.id


async def test_the_eleventh_challenge_in_an_hour_waits(log: ChallengeService, clock: Clock) -> None:
    for number in range(NEW_CHALLENGES_PER_HOUR):
        clock.now += 60
        await _log(log, ANN, number)
    with pytest.raises(RateLimitedError) as refused:
        await _log(log, ANN, 99)
    # The first of the ten was logged nine minutes before the last: it leaves the window in 51 minutes.
    assert refused.value.retry_after == pytest.approx(3060.0)
    assert refused.value.user_message == (
        "Slow down a little: you can log another challenge this way (10 an hour at most) again in 51 min."
    )
    assert (await log.list_challenges(GUILD)).total == NEW_CHALLENGES_PER_HOUR
    clock.now += 3060.0
    await _log(log, ANN, 100)
    assert (await log.list_challenges(GUILD)).total == NEW_CHALLENGES_PER_HOUR + 1


async def test_others_moderators_other_servers_and_channel_posts_are_not_held_back(
    log: ChallengeService, clock: Clock
) -> None:
    for number in range(NEW_CHALLENGES_PER_HOUR):
        await _log(log, ANN, number)
    with pytest.raises(RateLimitedError):
        await _log(log, ANN, 10)
    await _log(log, BOB, 11)
    await _log(log, ANN, 12, guild_id=OTHER_GUILD)
    for number in range(NEW_CHALLENGES_PER_HOUR + 1):
        await _log(log, MODERATOR, 20 + number)
    posted = await log.ingest(IncomingMessage(GUILD, 1, 5000, ANN.id, "Ann", "Challenge: posted in the channel"))
    assert posted is not None
    assert posted.created


async def test_a_refused_entry_does_not_use_up_the_cap(log: ChallengeService) -> None:
    for _ in range(3):
        with pytest.raises(InvalidInputError):
            await log.log_challenge(guild_id=GUILD, channel_id=1, author=ANN, title="   ")
    for number in range(NEW_CHALLENGES_PER_HOUR):
        await _log(log, ANN, number)
