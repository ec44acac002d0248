"""Faults the bot survives: gateway drops, RECONNECT, INVALID_SESSION, REST 429 and 5xx, and SIGKILL in the middle
of a burst of posts. In every case each post the server delivered is logged exactly once and answered once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.client import NexusBot
from bot.core.ratelimit import AcknowledgementLimiter
from bot.interactions.error_replies import DATABASE_BUSY
from bot.services.challenges import Person
from tests.e2e.harness import TOKEN, running_bot, settings_for, until
from tests.e2e.learners import FRONTEND
from tests.e2e.rows import NotMigrated, fetch
from tests.e2e.server import JSON, FakeDiscord
from tests.e2e.users import FakeUser
from tests.postgres import PostgresCluster


def _watching(server: FakeDiscord, database: str) -> Any:
    return settings_for(server, database, NEXUS_CHALLENGE_CHANNEL_IDS=str(server.challenges_channel_id))


@pytest.fixture
async def nexus(discord_server: FakeDiscord, database: str) -> AsyncIterator[NexusBot]:
    async with running_bot(_watching(discord_server, database)) as bot:
        yield bot


async def _logged(database: str) -> list[int]:
    """Source message ids of the logged challenges, straight from the database (a second reader, as an auditor)."""
    rows = await fetch(database, "SELECT source_message_id FROM challenges WHERE source_message_id IS NOT NULL")
    return sorted(int(row.source_message_id) for row in rows)


async def _cursor(database: str) -> list[tuple[int, int, int]]:
    """The backfill cursors as (channel_id, guild_id, last_message_id); none before the bot has migrated."""
    try:
        rows = await fetch(database, "SELECT channel_id, guild_id, last_message_id FROM channel_cursors")
    except NotMigrated:
        return []
    return [(int(row.channel_id), int(row.guild_id), int(row.last_message_id)) for row in rows]


def _replies(server: FakeDiscord, post: JSON) -> int:
    return sum(
        1
        for message in server.bot_messages()
        if str(message.get("message_reference", {}).get("message_id")) == post["id"]
    )


def _reactions(server: FakeDiscord, post: JSON) -> int:
    return sum(1 for _channel, message, _emoji in server.reactions if message == int(post["id"]))


async def _exactly_once(server: FakeDiscord, database: str, posts: list[JSON]) -> None:
    """Every post logged once and acknowledged once (its ✅; replies are capped per channel, never doubled)."""
    ids = sorted(int(post["id"]) for post in posts)

    async def all_logged() -> bool:
        return await _logged(database) == ids

    await until(all_logged, f"{len(ids)} posts logged", seconds=20)
    await until(lambda: all(_reactions(server, post) >= 1 for post in posts), "every post acknowledged", seconds=20)
    await asyncio.sleep(0.5)  # anything that would double up has had time to
    assert await _logged(database) == ids
    assert [_reactions(server, post) for post in posts] == [1] * len(posts)
    assert all(_replies(server, post) <= 1 for post in posts)
    assert sum(_replies(server, post) for post in posts) >= min(len(posts), AcknowledgementLimiter.PER_MINUTE)


def _burst(user: FakeUser, server: FakeDiscord, first: int, count: int) -> list[JSON]:
    return [
        user.post(server.challenges_channel_id, f"Challenge: fault drill number {number} with docker compose")
        for number in range(first, first + count)
    ]


async def _fault_in_the_middle(
    server: FakeDiscord, database: str, learner: FakeUser, fault: Callable[[], Awaitable[None]]
) -> None:
    posts = _burst(learner, server, 0, 10)
    await fault()
    posts += _burst(learner, server, 10, 10)  # sent while the bot is away or reconnecting
    await server.wait_connected(within=30)
    posts += _burst(learner, server, 20, 10)
    await _exactly_once(server, database, posts)


async def test_a_dropped_connection_resumes_without_losing_or_repeating_a_post(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    await _fault_in_the_middle(discord_server, database, learner, discord_server.drop_connection)
    assert discord_server.resume_count >= 1


async def test_reconnect_resumes_without_losing_or_repeating_a_post(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    await _fault_in_the_middle(discord_server, database, learner, discord_server.send_reconnect)
    assert discord_server.resume_count >= 1


async def test_an_invalid_session_re_identifies_and_backfill_fills_the_gap(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    identified = discord_server.identify_count
    # Events sent between the invalid session and the new IDENTIFY are never delivered, as on Discord: only the
    # channel's history can bring them back.
    await _fault_in_the_middle(discord_server, database, learner, discord_server.send_invalid_session)
    assert discord_server.identify_count > identified


async def test_server_errors_and_rate_limits_on_the_acknowledgement_are_retried_not_dropped(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    discord_server.force_5xx(r"^POST /channels/\d+/messages$", times=2)
    discord_server.force_429(r"^PUT /channels/\d+/messages/\d+/reactions", times=2, retry_after=0.2)
    posts = _burst(learner, discord_server, 0, 3)
    await _exactly_once(discord_server, database, posts)
    reacted = {(channel, message) for channel, message, _emoji in discord_server.reactions}
    assert all((int(post["channel_id"]), int(post["id"])) in reacted for post in posts)


async def test_sigkill_in_a_burst_then_restart_logs_every_delivered_post_exactly_once(
    discord_server: FakeDiscord, database: str, learner: FakeUser, tmp_path: Path
) -> None:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DISCORD", "NEXUS", "DATABASE"))},
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_URL": discord_server.api_url,
        "NEXUS_GUILD_ID": str(discord_server.guild_id),
        "DATABASE_URL": database,
        "NEXUS_CHALLENGE_CHANNEL_IDS": str(discord_server.challenges_channel_id),
        "NEXUS_LOG_LEVEL": "WARNING",
    }

    async def start() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        await discord_server.wait_connected(within=60)
        return process

    first = await start()
    posts: list[JSON] = []
    try:
        # A bot that has been watching the channel: its backfill cursor exists before the burst.
        await until(lambda: _cursor(database), "the channel's cursor", seconds=60)
        # Large enough to span several of the writer's batches; within the 1,000 messages backfill reads.
        posts += _burst(learner, discord_server, 0, 900)
        # Kill it as soon as it has committed something: some posts are logged, the rest only delivered.
        await until(lambda: _logged(database), "the first posts logged", seconds=20)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert len(await _logged(database)) < len(posts), "the burst finished before the kill; make it larger"
        discord_server.current_session = None  # the dead process's session is gone, as Discord drops it
        posts += _burst(learner, discord_server, 150, 20)  # posted while no bot runs
    finally:
        if first.returncode is None:
            first.kill()
    second = await start()
    try:
        ids = sorted(int(post["id"]) for post in posts)

        async def all_logged() -> bool:
            return await _logged(database) == ids

        async def progress() -> str:
            logged, cursor = await _logged(database), await _cursor(database)
            return f"every post logged after the restart ({len(logged)} of {len(ids)}; {cursor})"

        await until(all_logged, progress, seconds=60)
        await asyncio.sleep(0.5)
        assert await _logged(database) == ids
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(second.wait(), 30)
        except TimeoutError:
            second.kill()


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
async def test_while_postgresql_restarts_commands_say_try_again_and_nothing_is_half_stored(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    database: str,
    postgres_cluster: PostgresCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged = await nexus.services.challenges.log_challenge(
        guild_id=discord_server.guild_id,
        channel_id=discord_server.general_id,
        author=Person(learner.id, "ada"),
        title="Migrations hang on deploy",
        details="alembic upgrade head never finishes",
    )
    challenge_id = logged.challenge.id
    assert (await learner.slash("challenge show", id=challenge_id)).embed["title"].endswith("Migrations hang on deploy")

    with postgres_cluster.server_down():
        # The pooled connections are dead now: a read and a write each get the clear, private "try again".
        for answer in (
            await learner.slash("challenge show", id=challenge_id),
            await learner.slash("pair request", **FRONTEND),
        ):
            assert answer.ephemeral
            assert answer.content == DATABASE_BUSY
            assert not answer.interaction.expired
        # So does the background work, and its loops live on to run again (a task loop would stop for good on an
        # error it does not expect): one round of each, by hand, during the outage.
        for cog, loop in (("ChallengeLogCog", "nudge"), ("PairingSchedulerCog", "periodic")):
            await getattr(nexus.get_cog(cog), loop)()
        assert nexus.is_ready()
        assert not nexus.is_closed()

    # Back up on the same address: the pool replaces its dead connections (pre-ping), nothing to restart.
    assert (await learner.slash("challenge show", id=challenge_id)).embed["title"].endswith("Migrations hang on deploy")
    assert "You are in the queue" in (await learner.slash("pair request", **FRONTEND)).content
    # The request refused during the outage left nothing behind: one request, one profile.
    requests = await fetch(database, "SELECT state FROM pair_requests WHERE user_id = :user", user=learner.id)
    assert [row.state for row in requests] == ["waiting"]
    assert len(await fetch(database, "SELECT track FROM learner_profiles WHERE user_id = :user", user=learner.id)) == 1
    # Each failure was one warning line naming the outage; nothing was logged as a fault of the bot.
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    unavailable = [record.getMessage() for record in caplog.records if "database" in record.getMessage()]
    assert any(message.startswith("database unavailable answering challenge show") for message in unavailable)
    assert any(message.startswith("nudge round failed; the next one retries: the database") for message in unavailable)
    # The pairing pass runs each kind of work on its own: each says once that it was skipped for the outage.
    assert any("failed; skipped, tried again on the next pass: the database" in message for message in unavailable)


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
async def test_a_backfill_that_finds_the_database_down_is_tried_again_until_it_succeeds(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    database: str,
    learner: FakeUser,
    postgres_cluster: PostgresCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = nexus.get_cog("ChallengeLogCog")
    assert listener is not None
    listener.backfill_retry_seconds = 0.5  # type: ignore[attr-defined]  # the cog's class is re-imported per start
    posts = _burst(learner, discord_server, 0, 3)
    await _exactly_once(discord_server, database, posts)

    with postgres_cluster.server_down():
        identified = discord_server.identify_count
        await discord_server.send_invalid_session()
        posts += _burst(learner, discord_server, 3, 5)  # never delivered: only the channel's history has them
        await discord_server.wait_connected(within=30)
        assert discord_server.identify_count > identified

        def backfill_failed() -> bool:
            return any(
                record.getMessage().startswith("backfill of channel")
                and "the database is unavailable" in record.getMessage()
                for record in caplog.records
            )

        await until(backfill_failed, "the backfill on the new session, failing")
        await asyncio.sleep(1.0)  # a retry fails too: the database is still down

    # Back up: a later retry reads the history, and each post is logged and acknowledged once.
    await _exactly_once(discord_server, database, posts)
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
