"""Two bot processes, shards 0 and 1 of 2, on one PostgreSQL, against one local Discord serving two servers.

Each process gets only its shard's server over the gateway and does the background work of that server only:
every post is logged and acknowledged once, every reminder and introduction is sent once, each server's matching
round runs once. Each process is given its own token, so the local server can tell which one made each call.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import prepared_services
from bot.client import ShardedNexusBot
from bot.services.pairing import PairAsk
from tests.e2e.harness import TOKEN, running_bot, settings_for, until
from tests.e2e.rows import NotMigrated, fetch
from tests.e2e.server import Call, FakeDiscord
from tests.e2e.users import FakeUser

SHARDS = 2
POSTS_PER_SERVER = 5


def _token(shard: int) -> str:
    return f"{TOKEN}.shard{shard}"


async def _rows(database: str, query: str, **params: object) -> list[tuple[object, ...]]:
    try:
        return [tuple(row) for row in await fetch(database, query, **params)]
    except NotMigrated:
        return []


async def _seed(server: FakeDiscord, database: str, guild: int, learners: list[int]) -> None:
    """The server's channels; a pair with a session soon (its "tomorrow" reminders due at once) and two learners
    waiting for a matching round (the frontend one was paused while the backend one asked, then resumed)."""
    past = datetime.now(UTC) - timedelta(days=2)
    starts = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    waiting_frontend, waiting_backend, paired_frontend, paired_backend = learners
    async with prepared_services(settings_for(server, database), migrate_in_process=True) as services:
        await services.guild_settings.update(
            guild,
            challenge_channel_id=server.channel_named(guild, "challenges"),
            pairing_channel_id=server.channel_named(guild, "pairing"),
        )
        pairing = services.pairing
        await pairing.request(PairAsk(guild, paired_frontend, "f", "frontend"), past)
        assert (await pairing.request(PairAsk(guild, paired_backend, "b", "backend"), past)).match is not None
        await pairing.schedule(
            guild_id=guild,
            organiser_id=paired_frontend,
            partner_id=paired_backend,
            partner_is_bot=False,
            partner_in_server=True,
            when=starts,
            topic=None,
            duration_minutes=None,
            now=past,
        )
        await pairing.request(PairAsk(guild, waiting_frontend, "f", "frontend"), past)
        await pairing.pause(guild, waiting_frontend, None, past)
        assert (await pairing.request(PairAsk(guild, waiting_backend, "b", "backend"), past)).match is None
        await pairing.resume(guild, waiting_frontend, past)


async def _start(server: FakeDiscord, database: str, shard: int, log_file: Path) -> asyncio.subprocess.Process:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DISCORD", "NEXUS", "DATABASE"))},
        "DISCORD_TOKEN": _token(shard),
        "DISCORD_API_URL": server.api_url,
        "DATABASE_URL": database,
        "NEXUS_SHARD_COUNT": str(SHARDS),
        "NEXUS_SHARD_IDS": str(shard),
        "NEXUS_LOG_LEVEL": "INFO",
    }
    with log_file.open("wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=log_file.parent, env=env, stdout=log, stderr=log
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


def _ids_in(path: str) -> list[int]:
    return [int(number) for number in re.findall(r"/(\d+)", path)]


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
async def test_two_processes_share_the_work_of_two_servers_once(database: str, tmp_path: Path) -> None:
    async with FakeDiscord(shard_count=SHARDS) as server:
        first = server.guild_id
        # One millisecond later in the snowflake's timestamp: the next shard.
        second = server.add_guild(first + (1 << 22))
        owner = {guild: server.shard_of(guild) for guild in (first, second)}
        assert sorted(owner.values()) == [0, 1]
        learners = {guild: [server.add_member(f"learner{guild % 100}-{n}") for n in range(4)] for guild in owner}
        guild_of_user = {user: guild for guild, users in learners.items() for user in users}
        for guild, users in learners.items():
            await _seed(server, database, guild, users)

        logs = {shard: tmp_path / f"shard{shard}" / "bot.log" for shard in range(SHARDS)}
        for path in logs.values():
            path.parent.mkdir()
        processes = [await _start(server, database, shard, logs[shard]) for shard in range(SHARDS)]
        try:
            await until(lambda: len(server.shard_sessions) == SHARDS, "both shards identified", seconds=180)

            async def progress() -> str:
                logs_text = "\n".join(f"--- shard {s}\n{p.read_text()[-4000:]}" for s, p in logs.items())
                return f"the work of both servers done\n{logs_text}"

            # Both backfills ran (each writes its watched channel's cursor): the channels are watched.
            async def cursors() -> bool:
                return len(await _rows(database, "SELECT channel_id FROM channel_cursors")) == SHARDS

            await until(cursors, progress, seconds=180)
            posts = {
                guild: [
                    FakeUser(server, learners[guild][0]).post(
                        server.channel_named(guild, "challenges"), f"Challenge: shard drill {n} with docker compose"
                    )
                    for n in range(POSTS_PER_SERVER)
                ]
                for guild in owner
            }

            async def settled() -> bool:
                logged = await _rows(database, "SELECT count(*) FROM challenges")
                pairs = await _rows(database, "SELECT count(*) FROM pairs WHERE announced_at IS NOT NULL")
                sent = await _rows(database, "SELECT count(*) FROM session_notices WHERE sent_at IS NOT NULL")
                acknowledged = len(server.reactions) >= 2 * POSTS_PER_SERVER
                return bool(logged == [(2 * POSTS_PER_SERVER,)] and pairs == [(4,)] and sent == [(4,)] and acknowledged)

            await until(settled, progress, seconds=180)
            await asyncio.sleep(2)  # anything the other process would send as well has time to show
        finally:
            for process in processes:
                await _stop(process)

        # Every post logged once, in its own server, and acknowledged once.
        rows = await _rows(database, "SELECT guild_id, source_message_id FROM challenges")
        assert sorted(rows) == sorted((guild, int(post["id"])) for guild in owner for post in posts[guild])
        assert sorted(Counter(server.reactions).values()) == [1] * (2 * POSTS_PER_SERVER)

        # One matching round per server: the two waiting learners of each paired once, and every pair introduced.
        pairs = await _rows(database, "SELECT guild_id, user_low, user_high FROM pairs")
        assert Counter(guild for guild, _low, _high in pairs) == {first: 2, second: 2}
        for guild, users in learners.items():
            assert (guild, *sorted(users[:2])) in pairs
        threads = Counter(server.guild_of(int(thread["id"])) for thread in server.threads)
        assert threads == {first: 2, second: 2}

        # Every reminder sent once: two per server, each a notice row stamped once.
        notices = await _rows(
            database,
            "SELECT s.guild_id, n.user_id, n.kind FROM session_notices n JOIN study_sessions s ON s.id = n.session_id",
        )
        assert sorted(notices) == sorted((guild, user, "day") for guild in owner for user in learners[guild][2:])

        # Each call that did a server's work came from the process of its shard: channel and thread calls by the
        # channel's server, direct messages by the server of the learner they are for.
        dm_recipient = {channel: user for user, channel in server.dm_channels.items()}
        sent_by: dict[tuple[int, int], list[str]] = {}
        messages: Counter[tuple[int, object]] = Counter()
        for call in server.calls:
            guild = _call_guild(server, call, dm_recipient, guild_of_user)
            if guild is not None:
                sent_by.setdefault((guild, owner[guild]), []).append(call.token)
            recipient = _dm_target(call, dm_recipient)
            if recipient is not None:
                messages[(recipient, (call.body or {}).get("nonce"))] += 1
        for (guild, shard), tokens in sent_by.items():
            assert set(tokens) == {f"Bot {_token(shard)}"}, f"server {guild}'s work was done by another process"
        assert {guild for guild, _shard in sent_by} == set(owner)
        # No direct message twice (each has its notice's nonce): the four reminders and the introductions' notes.
        assert messages
        assert set(messages.values()) == {1}
        assert sum(1 for (user, _nonce) in messages if user in guild_of_user) == len(messages)

        assert not server.violations, f"payloads Discord would reject: {server.violations}"
        assert not server.unknown_routes, f"routes the server does not model: {server.unknown_routes}"
        assert not server.ping_violations(), f"messages that could ping: {server.ping_violations()}"


def _dm_target(call: Call, dm_recipient: dict[int, int]) -> int | None:
    """The recipient of a message sent in a direct-message channel, if the call is one."""
    if call.method != "POST" or not call.path.endswith("/messages"):
        return None
    ids = _ids_in(call.path)
    return dm_recipient.get(ids[0]) if ids else None


def _call_guild(
    server: FakeDiscord, call: Call, dm_recipient: dict[int, int], guild_of_user: dict[int, int]
) -> int | None:
    """The server whose work a call did: a channel's or thread's server, a direct message's learner's server."""
    if not call.path.startswith("/api/v10/channels/") and "/users/@me/channels" not in call.path:
        return None
    if "/users/@me/channels" in call.path:
        recipient = int((call.body or {}).get("recipient_id", 0))
        return guild_of_user.get(recipient)
    channel = _ids_in(call.path)[0]
    if channel in dm_recipient:
        return guild_of_user.get(dm_recipient[channel])
    return server.guild_of(channel) if channel in server.channels else None


async def test_one_process_runs_every_shard_with_a_count_alone(tmp_path: Path) -> None:
    """`NEXUS_SHARD_COUNT` without ids: discord.py's AutoShardedBot, both connections in one process, on SQLite."""
    async with FakeDiscord(shard_count=SHARDS) as server:
        first = server.guild_id
        second = server.add_guild(first + (1 << 22))
        channels = [server.channel_named(guild, "challenges") for guild in (first, second)]
        settings = settings_for(
            server,
            tmp_path / "nexus.db",
            NEXUS_SHARD_COUNT=SHARDS,
            NEXUS_CHALLENGE_CHANNEL_IDS=",".join(map(str, channels)),
        )
        async with running_bot(settings) as bot:
            assert isinstance(bot, ShardedNexusBot)
            assert bot.shard_count == SHARDS
            assert sorted(server.shard_sessions) == [0, 1]
            await until(lambda: len(bot.guilds) == SHARDS, "both servers, one per shard")
            assert {guild.id: guild.shard_id for guild in bot.guilds} == {
                first: server.shard_of(first),
                second: server.shard_of(second),
            }
            learner = FakeUser(server, server.add_member("ada"))
            posts = [
                learner.post(channel, "Challenge: one process, two shards, docker compose") for channel in channels
            ]
            database = f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}"

            async def logged() -> bool:
                rows = await _rows(database, "SELECT source_message_id FROM challenges")
                return sorted(row[0] for row in rows) == sorted(int(post["id"]) for post in posts)

            await until(logged, "a post of each server logged", seconds=20)

            # A shard's new session (after an invalid session, say) dispatches only `shard_ready`: what its server
            # received meanwhile is read from the channel's history all the same.
            away = server._store_message(channels[1], {"content": "Challenge: posted while shard 1 was away"})
            away["author"] = learner.member["user"]
            posts.append(away)
            bot.dispatch("shard_ready", server.shard_of(second))
            await until(logged, "the post made while the shard was away logged", seconds=20)
        assert not server.violations, f"payloads Discord would reject: {server.violations}"
        assert not server.unknown_routes, f"routes the server does not model: {server.unknown_routes}"
