"""`/nexus forget-me` on both engines, migrated to head: exactly the caller's data, in the chosen servers only, is
deleted (pairing) or anonymised and unlinked from its messages (challenges and solutions, whose text stays searchable
unless the member asks to erase it); asking twice is harmless. And the retention purge, driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.client import Services
from bot.config import load_settings
from bot.core.errors import InvalidInputError
from bot.db.base import utcnow
from bot.db.privacy_repository import NO_CHANNEL
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import ANONYMOUS, ERASED_SOLUTION, ERASED_TITLE, IncomingMessage, Person
from bot.services.pairing import PairAsk
from bot.services.privacy import Footprint, Forgotten, Purged

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


async def _ingest(
    services: Services, message_id: int, person: Person, content: str, reply_to: int | None = None
) -> Any:
    return await services.challenges.ingest(
        IncomingMessage(GUILD, CHANNEL, message_id, person.id, person.name, content, reference_message_id=reply_to)
    )


async def test_forgetting_unlinks_entries_from_their_messages_and_they_are_never_logged_again(
    services: Services, engine: AsyncEngine
) -> None:
    ids = await _populate(services)
    bob_post = await _ingest(services, 9100, BOB, "Challenge: Postgres says too many connections")
    ann_reply = await _ingest(services, 9101, ANN, "Solution: put pgbouncer in front of it", reply_to=9100)
    assert ann_reply is not None
    assert ann_reply.created

    await services.privacy.forget_me(GUILD, ANN.id)

    rows = await _rows(engine, "SELECT id, channel_id, source_message_id FROM challenges WHERE guild_id = :g", g=GUILD)
    by_id = {row.id: row for row in rows}
    for key in ("ann_command", "ann_posted", "ann_deleted"):
        assert (by_id[ids[key]].channel_id, by_id[ids[key]].source_message_id) == (NO_CHANNEL, None)
    assert (by_id[bob_post.challenge.id].channel_id, by_id[bob_post.challenge.id].source_message_id) == (CHANNEL, 9100)
    solutions = await _rows(engine, "SELECT author_id, source_message_id FROM solutions ORDER BY id")
    assert (None, None) in [tuple(row) for row in solutions]
    assert 9101 not in [row.source_message_id for row in solutions]
    # Nothing ties the original posts to the entries any more: an edit or a deletion of them changes nothing...
    assert await services.challenges.source_edited(GUILD, 9001, "Challenge: something else entirely") is None
    assert await services.challenges.source_edited(GUILD, 9101, "Solution: something else") is None
    await services.challenges.source_deleted(GUILD, 9001)
    await services.challenges.source_deleted(GUILD, 9101)
    shown = await services.challenges.show(GUILD, ids["ann_posted"])
    assert shown.title == "nginx 502 Bad Gateway behind gunicorn"
    assert [s.body for s in (await services.challenges.show(GUILD, bob_post.challenge.id)).solutions] == [
        "put pgbouncer in front of it"
    ]
    # ...and a replay or a backfill of them logs nothing new: a message is still logged at most once.
    before = await _rows(engine, "SELECT count(*) AS n FROM challenges")
    assert await _ingest(services, 9001, ANN, "Challenge: nginx 502 Bad Gateway behind gunicorn") is None
    assert await _ingest(services, 9101, ANN, "Solution: put pgbouncer in front of it", reply_to=9100) is None
    assert await _rows(engine, "SELECT count(*) AS n FROM challenges") == before
    assert len(await _rows(engine, "SELECT id FROM solutions")) == len(solutions)
    with pytest.raises(InvalidInputError, match="cannot be logged again"):
        await services.challenges.log_challenge(
            guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="nginx 502", source_message_id=9001
        )
    with pytest.raises(InvalidInputError, match="cannot be logged again"):
        await services.challenges.add_solution(
            guild_id=GUILD, challenge_id=bob_post.challenge.id, author=ANN, body="again", source_message_id=9101
        )
    # Bob's own post still follows its message.
    edited = await services.challenges.source_edited(GUILD, 9100, "Challenge: Postgres refuses connections")
    assert edited is not None
    assert edited.title == "Postgres refuses connections"


async def test_erasing_the_text_too_leaves_nothing_of_it_in_the_log_or_the_index(
    services: Services, engine: AsyncEngine
) -> None:
    ids = await _populate(services)

    forgotten = await services.privacy.forget_me(GUILD, ANN.id, erase_text=True)

    assert forgotten == Forgotten(True, 1, 1, 1, 3, 1, erased=True)
    rows = await _rows(engine, "SELECT id, title, details, tried, error_terms, author_name FROM challenges")
    by_id = {row.id: row for row in rows}
    for key in ("ann_command", "ann_posted", "ann_deleted"):
        row = by_id[ids[key]]
        assert (row.title, row.details, row.tried, row.error_terms, row.author_name) == (
            ERASED_TITLE,
            "",
            None,
            "",
            ANONYMOUS,
        )
    assert by_id[ids["bob"]].title == "Redis keys never expire"
    assert by_id[ids["ann_elsewhere"]].title == "Docker image too big", "other servers are untouched"
    bodies = await _rows(engine, "SELECT body FROM solutions ORDER BY id")
    assert [row.body for row in bodies] == [ERASED_SOLUTION, "Use acks_late."], "Bob's answer to her stays"
    assert await services.challenges.search(GUILD, "celery worker loses tasks") == []
    assert await services.challenges.search(GUILD, "502 Bad Gateway") == []
    assert await services.challenges.search(GUILD, "TTL on write") == []
    assert [hit.challenge.id for hit in await services.challenges.search(GUILD, "acks_late")] == [ids["ann_command"]]
    assert (await services.challenges.show(GUILD, ids["bob"])).status == "solved", "Bob's challenge stays solved"
    exported = [item async for item in services.challenges.export(GUILD)]
    assert "Celery" not in repr(exported)
    # Idempotent: a second request finds nothing of hers left.
    assert (await services.privacy.forget_me(GUILD, ANN.id, erase_text=True)).nothing


async def test_from_a_dm_every_server_with_data_or_a_chosen_one(services: Services, engine: AsyncEngine) -> None:
    ids = await _populate(services)
    assert await services.privacy.servers_of(ANN.id) == [GUILD, OTHER_GUILD]
    assert await services.privacy.servers_of(CAROL.id) == [GUILD]
    assert await services.privacy.servers_of(424242) == []
    assert await services.privacy.footprints(ANN.id) == {
        GUILD: Footprint(True, 1, 1, 1, 3, 1),
        OTHER_GUILD: Footprint(True, 1, 0, 0, 1, 0),
    }

    chosen = await services.privacy.forget_in(ANN.id, [OTHER_GUILD])
    assert chosen == {OTHER_GUILD: Forgotten(True, 1, 0, 0, 1, 0)}
    assert await services.privacy.servers_of(ANN.id) == [GUILD], "only the chosen server"

    everywhere = await services.privacy.forget_in(ANN.id, await services.privacy.servers_of(ANN.id))
    assert everywhere == {GUILD: Forgotten(True, 1, 1, 1, 3, 1)}
    assert await services.privacy.servers_of(ANN.id) == []
    assert (await services.challenges.show(GUILD, ids["bob"])).author_name == "Bob"
    assert await services.privacy.footprint(GUILD, CAROL.id) == Footprint(True, 1, 0, 0, 0, 0)


async def test_the_retention_purge_erases_old_deleted_text_and_stale_pairing_data(
    services: Services, engine: AsyncEngine
) -> None:
    log, pairing, privacy = services.challenges, services.pairing, services.privacy
    real_now = utcnow()
    kept = await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Live and well")
    old = await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Deleted long ago")
    await log.add_solution(guild_id=GUILD, challenge_id=old.challenge.id, author=BOB, body="An answer to it")
    await log.delete(GUILD, old.challenge.id, ANN)
    dropped = await log.add_solution(guild_id=GUILD, challenge_id=kept.challenge.id, author=BOB, body="Wrong answer")
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE solutions SET deleted_at = :at WHERE id = :id"), {"at": real_now, "id": dropped.solution.id}
        )

    # A year and more ago: Ann and Bob paired, met once, and the pair ended; Carol's request expired.
    long_ago = real_now - timedelta(days=500)
    await pairing.request(_ask(GUILD, ANN, "frontend"), long_ago)
    paired = await pairing.request(_ask(GUILD, BOB, "backend"), long_ago)
    assert paired.match is not None
    await pairing.schedule(
        guild_id=GUILD,
        organiser_id=ANN.id,
        partner_id=BOB.id,
        partner_is_bot=False,
        partner_in_server=True,
        when="tomorrow 18:00",
        topic=None,
        duration_minutes=None,
        now=long_ago,
    )
    await pairing.end_pair(paired.match.pair_id, ANN.id, long_ago + timedelta(days=3))
    await pairing.request(_ask(GUILD, CAROL, "backend"), long_ago)
    await pairing.cancel(GUILD, CAROL.id, long_ago + timedelta(days=1))
    # Recently: Dan asked for a partner and waits.
    dan = Person(14, "Dan")
    await pairing.request(_ask(GUILD, dan, "backend"), real_now)

    # Within the retention period nothing old enough to purge exists but the pairing data of a year ago.
    first = await privacy.purge_expired(real_now)
    assert first == Purged(challenges=0, solutions=0, pairs=1, requests=3, sessions=1, profiles=3, messages=0)
    assert await _rows(engine, "SELECT id FROM pairs") == []
    assert [row.user_id for row in await _rows(engine, "SELECT user_id FROM pair_requests")] == [dan.id]
    assert [row.user_id for row in await _rows(engine, "SELECT user_id FROM learner_profiles")] == [dan.id]
    assert await _rows(engine, "SELECT session_id FROM session_notices") == []
    titles = {row.id: row.title for row in await _rows(engine, "SELECT id, title FROM challenges")}
    assert titles[old.challenge.id] == "Deleted long ago", "deleted today: not yet"

    # A year and a day later (the fake clock), the deleted challenge's text and the deleted solution go, in
    # bounded steps; live entries stay.
    later = real_now + timedelta(days=366)
    step = await privacy.purge_expired(later, limit=1)
    assert (step.challenges, step.solutions) == (1, 1)
    rest = await privacy.purge_expired(later, limit=1)
    assert rest.solutions == 1  # the deleted challenge's own solution, in a second bounded step
    assert await privacy.purge_expired(later) == Purged(0, 0, 0, 0, 0, 0, 0), "idempotent"
    rows = {row.id: row for row in await _rows(engine, "SELECT id, title, details FROM challenges")}
    assert (rows[old.challenge.id].title, rows[old.challenge.id].details) == (ERASED_TITLE, "")
    assert rows[kept.challenge.id].title == "Live and well"
    bodies = [row.body for row in await _rows(engine, "SELECT body FROM solutions ORDER BY id")]
    assert bodies == [ERASED_SOLUTION, ERASED_SOLUTION]
    assert await log.search(GUILD, "deleted long ago") == []
    assert [hit.challenge.id for hit in await log.search(GUILD, "live and well")] == [kept.challenge.id]
    # Dan, waiting, keeps everything.
    assert await privacy.footprint(GUILD, dan.id) == Footprint(True, 1, 0, 0, 0, 0)


async def test_forgotten_message_markers_lapse_with_the_retention_period(
    services: Services, engine: AsyncEngine
) -> None:
    await _populate(services)
    await services.privacy.forget_me(GUILD, ANN.id)
    assert len(await _rows(engine, "SELECT message_id FROM forgotten_messages")) == 1
    purged = await services.privacy.purge_expired(utcnow() + timedelta(days=366))
    assert purged.messages == 1
    assert await _rows(engine, "SELECT message_id FROM forgotten_messages") == []


async def test_no_retention_keeps_everything(
    engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase
) -> None:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=database_url, NEXUS_RETENTION_DAYS="0")
    services = build_services(settings, engine, knowledge_base)
    await _populate(services)
    assert await services.privacy.purge_expired(utcnow() + timedelta(days=10_000)) == Purged(0, 0, 0, 0, 0, 0, 0)
