"""Shards on one database: each process's background work covers only its servers, on both engines.

Two services per kind, one per shard of two, share a migrated database holding two servers whose ids land on
different shards; every piece of periodic work (rounds, introductions, expiry, check-ins, invitation lapses,
reminders, nudges, digests) is found by the owner of its server only, and by a service that owns every shard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.shards import ALL_SHARDS, ShardScope, shard_of
from bot.db.engine import create_session_factory
from bot.db.search import search_engine_for
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import ChallengeService, Person, SolvedChallengeLog
from bot.services.digest import DigestService
from bot.services.guild_settings import GuildSettingsService
from bot.services.pairing import PairAsk, PairingService
from bot.services.topics import TopicService

# Snowflakes whose timestamps (the bits above 22) are even and odd: shard 0 and shard 1 of two.
GUILD_A = (1_200_000_000_000 << 22) | 17
GUILD_B = (1_200_000_000_001 << 22) | 17
SCOPES = {0: ShardScope(2, frozenset({0})), 1: ShardScope(2, frozenset({1}))}
OWNER = {GUILD_A: 0, GUILD_B: 1}
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_the_two_servers_land_on_different_shards() -> None:
    assert shard_of(GUILD_A, 2) == 0
    assert shard_of(GUILD_B, 2) == 1


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


def _topics(engine: AsyncEngine, knowledge_base: KnowledgeBase) -> TopicService:
    return TopicService(knowledge_base, SolvedChallengeLog(create_session_factory(engine)))


def _pairing(engine: AsyncEngine, knowledge_base: KnowledgeBase, shards: ShardScope) -> PairingService:
    return PairingService(create_session_factory(engine), _topics(engine, knowledge_base), shards=shards)


def _ask(guild_id: int, user_id: int, track: str) -> PairAsk:
    return PairAsk(guild_id, user_id, f"learner{user_id}", track)  # type: ignore[arg-type]


def _split(found: list[int]) -> dict[int, list[int]]:
    return {shard: sorted(guild for guild in found if OWNER[guild] == shard) for shard in (0, 1)}


async def test_each_pairing_job_sees_only_the_servers_of_its_shards(
    engine: AsyncEngine, knowledge_base: KnowledgeBase
) -> None:
    everyone = _pairing(engine, knowledge_base, ALL_SHARDS)
    shard = {number: _pairing(engine, knowledge_base, scope) for number, scope in SCOPES.items()}
    partner_of_3: dict[int, int] = {}
    for guild in (GUILD_A, GUILD_B):
        # A frontend and a backend learner are paired; then two frontend learners wait (a round to run).
        await everyone.request(_ask(guild, 1, "frontend"), NOW)
        match = (await everyone.request(_ask(guild, 3, "backend"), NOW)).match
        assert match is not None
        partner_of_3[guild] = match.partner_of(3).user_id
        await everyone.request(_ask(guild, 2, "frontend"), NOW)
        await everyone.request(_ask(guild, 5, "frontend"), NOW)

    assert sorted(await everyone.guilds_with_queue()) == [GUILD_A, GUILD_B]
    for number in (0, 1):
        assert await shard[number].guilds_with_queue() == _split([GUILD_A, GUILD_B])[number]

    pairs = {match.guild_id: match.pair_id for match in await everyone.unannounced()}
    assert sorted(pairs) == [GUILD_A, GUILD_B]
    for number in (0, 1):
        assert [match.guild_id for match in await shard[number].unannounced()] == _split(list(pairs))[number]
    for pair_id in pairs.values():
        await everyone.announced(pair_id, None, NOW)

    checkin_time = NOW + timedelta(days=3, minutes=1)
    for number in (0, 1):
        # Each shard claims its own server's check-ins only; the other's are still there for its owner.
        asked = await shard[number].due_checkins(checkin_time)
        assert {item.guild_id for item in asked} == set(_split(list(pairs))[number])
    assert {item.guild_id for item in await everyone.due_checkins(checkin_time)} == {GUILD_A, GUILD_B}

    for guild in (GUILD_A, GUILD_B):
        await everyone.schedule(
            guild_id=guild,
            organiser_id=partner_of_3[guild],
            partner_id=3,
            partner_is_bot=False,
            partner_in_server=True,
            when="2026-11-24 18:00",
            topic=None,
            duration_minutes=None,
            now=NOW,
        )
        await everyone.schedule(
            guild_id=guild,
            organiser_id=3,
            partner_id=4,
            partner_is_bot=False,
            partner_in_server=True,
            when="2026-11-25 18:00",
            topic=None,
            duration_minutes=None,
            now=NOW,
        )
    # Invitations to a non-partner lapse per shard, and their organisers are told by the owner.
    lapse_time = NOW + timedelta(days=2)
    for number in (0, 1):
        lapsed = await shard[number].lapse_invitations(lapse_time)
        assert {item.guild_id for item in lapsed} == set(_split([GUILD_A, GUILD_B])[number])

    reminder_time = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    for number in (0, 1):
        notices = await shard[number].due_notices(reminder_time)
        assert notices, "each shard has its server's day-before reminders"
        assert {notice.session.guild_id for notice in notices} == set(_split([GUILD_A, GUILD_B])[number])

    expiry_time = NOW + timedelta(days=15)
    for number in (0, 1):
        expired = await shard[number].expire_due(expiry_time)
        assert {item.guild_id for item in expired} == set(_split([GUILD_A, GUILD_B])[number])


async def test_nudges_are_found_by_the_owner_of_their_server_only(
    engine: AsyncEngine, knowledge_base: KnowledgeBase
) -> None:
    topics = _topics(engine, knowledge_base)

    def service(shards: ShardScope) -> ChallengeService:
        return ChallengeService(
            create_session_factory(engine),
            search_engine_for(engine.dialect.name),
            topics,
            unanswered_after=timedelta(minutes=5),
            ask_author_after=timedelta(minutes=10),
            shards=shards,
        )

    everyone = service(ALL_SHARDS)
    for guild in (GUILD_A, GUILD_B):
        for number in range(3):
            await everyone.log_challenge(
                guild_id=guild,
                channel_id=3003,
                author=Person(11, "Ann"),
                title=f"Open question {number} of server {guild}",
                details="",
                topics=None,
                source_message_id=None,
            )
    later = datetime.now(UTC) + timedelta(hours=1)
    assert {nudge.challenge.guild_id for nudge in await everyone.due_nudges(later)} == {GUILD_A, GUILD_B}
    for number, scope in SCOPES.items():
        nudges = await service(scope).due_nudges(later)
        assert len(nudges) == 3
        assert {nudge.challenge.guild_id for nudge in nudges} == set(_split([GUILD_A, GUILD_B])[number])
    await everyone.close()


async def test_digests_are_due_for_the_owner_of_their_server_only(
    engine: AsyncEngine, knowledge_base: KnowledgeBase
) -> None:
    sessions = create_session_factory(engine)
    settings = GuildSettingsService(sessions, challenge_channel_ids=(), pairing_channel_id=None)
    for guild in (GUILD_A, GUILD_B):
        await settings.update(guild, digest_channel_id=4004, now=NOW - timedelta(days=30))
    topics = _topics(engine, knowledge_base)
    assert {due.guild_id for due in await DigestService(sessions, topics).due(NOW)} == {GUILD_A, GUILD_B}
    for number, scope in SCOPES.items():
        due = await DigestService(sessions, topics, shards=scope).due(NOW)
        assert [item.guild_id for item in due] == _split([GUILD_A, GUILD_B])[number]
