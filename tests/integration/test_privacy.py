"""`/nexus forget-me` on a real SQLite file migrated to head: exactly the caller's data, in that server only, is
deleted (pairing) or anonymised (challenges and solutions, whose text stays searchable); asking twice is harmless."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.client import Services
from bot.config import load_settings
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.paths import default_data_dir
from bot.services.challenges import ANONYMOUS, IncomingMessage, Person
from bot.services.pairing import PairAsk
from bot.services.privacy import Footprint, Forgotten

GUILD = 1001
OTHER_GUILD = 2002
CHANNEL = 3003
ANN = Person(11, "Ann")
BOB = Person(12, "Bob")
CAROL = Person(13, "Carol")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}"


@pytest.fixture
def services(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> Services:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=database_url)
    return build_services(settings, engine, knowledge_base)


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Row[Any]]:
    async with engine.connect() as connection:
        return list(await connection.execute(text(sql), params))


def _ask(guild_id: int, person: Person, track: str) -> PairAsk:
    return PairAsk(guild_id, person.id, person.name, track, topics="docker")


async def _populate(services: Services) -> dict[str, int]:
    """Ann, Bob and Carol in GUILD, Ann and Bob in OTHER_GUILD, each with challenges, solutions and pairing data."""
    log, pairing = services.challenges, services.pairing
    ids: dict[str, int] = {}
    ann_new = await log.log_challenge(
        guild_id=GUILD,
        channel_id=CHANNEL,
        author=ANN,
        title="Celery worker loses tasks on restart",
        details="Tasks vanish when the worker container restarts during a deploy.",
    )
    ids["ann_command"] = ann_new.challenge.id
    posted = await log.ingest(
        IncomingMessage(GUILD, CHANNEL, 9001, ANN.id, ANN.name, "Challenge: nginx 502 Bad Gateway behind gunicorn")
    )
    assert posted is not None
    ids["ann_posted"] = posted.challenge.id
    deleted = await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="A mistaken post")
    await log.delete(GUILD, deleted.challenge.id, ANN)
    ids["ann_deleted"] = deleted.challenge.id
    bob_new = await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=BOB, title="Redis keys never expire")
    ids["bob"] = bob_new.challenge.id
    # Ann answers Bob, whose challenge she helped solve; Bob answers Ann.
    ann_answer = await log.add_solution(guild_id=GUILD, challenge_id=ids["bob"], author=ANN, body="Set a TTL on write.")
    await log.accept(GUILD, ids["bob"], ann_answer.solution.id, BOB)
    await log.add_solution(guild_id=GUILD, challenge_id=ids["ann_command"], author=BOB, body="Use acks_late.")
    elsewhere = await log.log_challenge(guild_id=OTHER_GUILD, channel_id=1, author=ANN, title="Docker image too big")
    ids["ann_elsewhere"] = elsewhere.challenge.id

    matched = await pairing.request(_ask(GUILD, ANN, "frontend"), NOW)
    assert matched.match is None
    matched = await pairing.request(_ask(GUILD, BOB, "backend"), NOW)
    assert matched.match is not None
    await pairing.schedule(
        guild_id=GUILD,
        organiser_id=ANN.id,
        partner_id=BOB.id,
        partner_is_bot=False,
        partner_in_server=True,
        when="tomorrow 18:00",
        topic=None,
        duration_minutes=None,
        now=NOW,
    )
    await pairing.request(_ask(GUILD, CAROL, "backend"), NOW)
    await pairing.request(_ask(OTHER_GUILD, ANN, "frontend"), NOW)
    return ids


async def test_forget_me_deletes_and_anonymises_exactly_the_callers_data_in_that_server(
    services: Services, engine: AsyncEngine
) -> None:
    ids = await _populate(services)
    assert await services.privacy.footprint(GUILD, ANN.id) == Footprint(
        profile=True, requests=1, pairs=1, sessions=1, challenges=3, solutions=1
    )

    forgotten = await services.privacy.forget_me(GUILD, ANN.id)

    assert forgotten == Forgotten(profile=True, requests=1, pairs=1, sessions=1, challenges=3, solutions=1)
    assert await services.privacy.footprint(GUILD, ANN.id) == Footprint(False, 0, 0, 0, 0, 0)
    # Her challenges (the deleted one too) and her solution keep their text; the authorship is gone.
    challenges = await _rows(
        engine, "SELECT id, author_id, author_name, title, deleted_by FROM challenges WHERE guild_id = :g", g=GUILD
    )
    by_id = {row.id: row for row in challenges}
    for key in ("ann_command", "ann_posted", "ann_deleted"):
        assert (by_id[ids[key]].author_id, by_id[ids[key]].author_name) == (None, ANONYMOUS)
    assert by_id[ids["ann_command"]].title == "Celery worker loses tasks on restart"
    assert by_id[ids["ann_deleted"]].deleted_by is None
    assert (by_id[ids["bob"]].author_id, by_id[ids["bob"]].author_name) == (BOB.id, "Bob")
    solutions = await _rows(engine, "SELECT author_id, author_name, body, accepted FROM solutions ORDER BY id")
    assert [(row.author_id, row.author_name, row.body, row.accepted) for row in solutions] == [
        (None, ANONYMOUS, "Set a TTL on write.", True),
        (BOB.id, "Bob", "Use acks_late.", False),
    ]
    # Pairing: her profile, requests, pair and session in this server are gone; the others' stay.
    profiles = await _rows(engine, "SELECT guild_id, user_id FROM learner_profiles ORDER BY guild_id, user_id")
    assert [tuple(row) for row in profiles] == [(GUILD, BOB.id), (GUILD, CAROL.id), (OTHER_GUILD, ANN.id)]
    requests = await _rows(engine, "SELECT guild_id, user_id FROM pair_requests ORDER BY guild_id, user_id")
    assert [tuple(row) for row in requests] == [(GUILD, BOB.id), (GUILD, CAROL.id), (OTHER_GUILD, ANN.id)]
    assert await _rows(engine, "SELECT id FROM pairs") == []
    assert await _rows(engine, "SELECT id FROM study_sessions") == []
    # The other server knows her as before.
    assert await services.privacy.footprint(OTHER_GUILD, ANN.id) == Footprint(True, 1, 0, 0, 1, 0)
    shown = await services.challenges.show(OTHER_GUILD, ids["ann_elsewhere"])
    assert (shown.author_id, shown.author_name) == (ANN.id, "Ann")


async def test_the_anonymised_text_is_still_found_shown_and_exported(services: Services) -> None:
    ids = await _populate(services)
    await services.privacy.forget_me(GUILD, ANN.id)

    found = await services.challenges.search(GUILD, "celery worker loses tasks")
    assert [result.challenge.id for result in found] == [ids["ann_command"]]
    assert found[0].challenge.author_name == ANONYMOUS
    assert [result.challenge.id for result in await services.challenges.search(GUILD, "502 Bad Gateway")] == [
        ids["ann_posted"]
    ]
    shown = await services.challenges.show(GUILD, ids["bob"])
    assert shown.status == "solved"
    assert shown.accepted is not None
    assert (shown.accepted.author_id, shown.accepted.author_name) == (None, ANONYMOUS)
    assert await services.challenges.leaderboard(GUILD, "all") == []
    exported = [item async for item in services.challenges.export(GUILD)]
    assert {item.author for item in exported if item.id == ids["ann_command"]} == {ANONYMOUS}
    assert "Ann" not in {item.author for item in exported} | {
        solution.author for item in exported for solution in item.solutions
    }


async def test_forget_me_is_idempotent(services: Services, engine: AsyncEngine) -> None:
    await _populate(services)
    first = await services.privacy.forget_me(GUILD, ANN.id)
    assert not first.nothing
    before = await _rows(engine, "SELECT * FROM challenges ORDER BY id")
    second = await services.privacy.forget_me(GUILD, ANN.id)
    assert second == Forgotten(False, 0, 0, 0, 0, 0)
    assert second.nothing
    assert await _rows(engine, "SELECT * FROM challenges ORDER BY id") == before
    # Someone who never used the bot can ask too.
    assert (await services.privacy.forget_me(GUILD, 424242)).nothing


async def test_a_forgotten_member_can_start_afresh(services: Services) -> None:
    await _populate(services)
    await services.privacy.forget_me(GUILD, ANN.id)
    again = await services.pairing.request(_ask(GUILD, ANN, "frontend"), NOW)
    assert again.match is not None  # Carol is waiting, and Ann's past pair with Bob is forgotten with her
    logged = await services.challenges.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="New one")
    assert (logged.challenge.author_id, logged.challenge.author_name) == (ANN.id, "Ann")
    assert await services.privacy.footprint(GUILD, ANN.id) == Footprint(True, 1, 1, 0, 1, 0)
