"""Start-up, command sync, restarts, the gateway's faults, rate limits and the error handler."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.client import NexusBot
from tests.e2e.harness import TOKEN, running_bot, settings_for
from tests.e2e.server import FakeDiscord
from tests.e2e.users import FakeUser

REPO = Path(__file__).resolve().parents[2]


async def test_api_url_points_rest_and_gateway_at_the_server(nexus: NexusBot, discord_server: FakeDiscord) -> None:
    routes = [f"{call.method} {call.path}" for call in discord_server.calls]
    assert "GET /api/v10/users/@me" in routes
    assert "GET /api/v10/gateway/bot" in routes
    assert discord_server.identify_count == 1
    assert nexus.user is not None
    assert nexus.user.id == discord_server.application_id
    # Only the intents the features need: guilds, nothing privileged.
    assert discord_server.current_session is not None
    assert discord_server.current_session.intents == discord.Intents(guilds=True).value


async def test_commands_sync_once_and_not_again_after_a_restart(discord_server: FakeDiscord, database: str) -> None:
    settings = settings_for(discord_server, database)
    async with running_bot(settings):
        pass
    assert [scope for scope, _ in discord_server.command_puts] == [f"guild:{discord_server.guild_id}"]
    synced = {command["name"] for command in discord_server.guild_commands[discord_server.guild_id]}
    assert {"topic", "topics", "nexus"} <= synced
    async with running_bot(settings):
        pass
    assert len(discord_server.command_puts) == 1, "unchanged commands were synced again"


async def test_the_garbage_collector_is_settled_after_set_up_only_when_asked(
    discord_server: FakeDiscord, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled: list[int] = []
    # Recorded, not run: freezing the test process's objects would keep every later test's garbage.
    monkeypatch.setattr("bot.client.settle_startup_heap", lambda: settled.append(len(discord_server.command_puts)))
    settings = settings_for(discord_server, database)
    async with running_bot(settings):
        pass
    assert settled == []
    async with running_bot(settings, settle_heap_after_setup=True):
        pass
    assert settled == [1], "settled once, after the commands were synced"


async def test_without_a_guild_commands_sync_globally(discord_server: FakeDiscord, database: str) -> None:
    settings = settings_for(discord_server, database, NEXUS_GUILD_ID=None)
    async with running_bot(settings):
        pass
    assert [scope for scope, _ in discord_server.command_puts] == ["global"]
    assert {command["name"] for command in discord_server.global_commands} >= {"topic", "topics"}


async def test_delete_button_works_after_a_restart(
    discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    settings = settings_for(discord_server, database)
    async with running_bot(settings):
        card = await learner.slash("topic", name="graphql")
    async with running_bot(settings):
        await learner.click(card.message, "Delete")
    assert card.message.get("deleted")


async def test_events_sent_while_the_socket_is_down_are_replayed_on_resume(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    await discord_server.drop_connection()
    # Sent while the bot is disconnected: the server keeps it for the resumed session.
    answer = await learner.slash("topic", name="indexing", private=True)
    assert answer.embed["title"]
    assert discord_server.resume_count == 1
    assert discord_server.identify_count == 1


async def test_reconnect_request_resumes_the_session(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    await discord_server.send_reconnect()
    await discord_server.wait_connected()
    assert discord_server.resume_count == 1
    assert (await learner.slash("topic", name="redis", private=True)).embed


async def test_invalid_session_makes_the_bot_identify_again(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    await discord_server.send_invalid_session(resumable=False)
    await asyncio.sleep(0)
    # discord.py waits 1-5 s before identifying again, as Discord asks.
    for _ in range(80):
        if discord_server.identify_count == 2 and discord_server.current_session:
            break
        await asyncio.sleep(0.1)
    assert discord_server.identify_count == 2
    await discord_server.wait_connected()
    assert (await learner.slash("topic", name="docker", private=True)).embed


async def test_a_429_is_waited_out_and_the_reply_still_arrives(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    discord_server.force_429(r"^POST /interactions/\d+/[^/]+/callback$", retry_after=0.2)
    answer = await learner.slash("topic", name="docker")
    assert answer.embed["title"] == "Docker"
    callbacks = [call for call in discord_server.calls if call.path.endswith("/callback")]
    assert [call.status for call in callbacks] == [429, 200]


async def test_a_removed_command_gets_a_clear_answer(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    stale = {**discord_server.guild_commands[discord_server.guild_id][0], "name": "retired"}
    discord_server.guild_commands[discord_server.guild_id].append(stale)
    answer = await learner.slash("retired")
    assert answer.ephemeral
    assert "changed a moment ago" in answer.content


async def test_unexpected_errors_are_logged_and_answered_with_a_reference(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    # A real Interaction built from the payload the server would send, answered by the bot's own handler.
    pending = discord_server.new_interaction(
        2,
        {"id": "1", "name": "topic", "type": 1, "options": []},
        learner.id,
        discord_server.general_id,
        dispatch=False,
    )
    interaction: discord.Interaction[NexusBot] = discord.Interaction(data=pending.payload, state=nexus._connection)  # type: ignore[arg-type]
    command = nexus.tree.get_command("topic", guild=discord.Object(discord_server.guild_id))
    assert isinstance(command, app_commands.Command)
    with caplog.at_level(logging.ERROR, logger="bot.interactions.error_replies"):
        await nexus.tree.on_error(interaction, app_commands.CommandInvokeError(command, RuntimeError("boom")))
    await asyncio.wait_for(pending.answered.wait(), 5)
    message = discord_server.messages[pending.original_message_id or 0]
    assert message["flags"] & 64
    reference = re.search(r"reference `([0-9a-f]{8})`", message["content"])
    assert reference, message["content"]
    record = next(record for record in caplog.records if reference.group(1) in record.getMessage())
    assert record.exc_info is not None
    assert "boom" in str(record.exc_info[1])
    assert "boom" not in message["content"]


async def test_sigterm_stops_the_bot_cleanly(discord_server: FakeDiscord, tmp_path: Path) -> None:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DISCORD", "NEXUS", "DATABASE"))},
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_URL": discord_server.api_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nexus.db'}",
        "NEXUS_LOG_LEVEL": "INFO",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await discord_server.wait_connected(within=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "stopped: gateway closed, database engine disposed" in log
    assert TOKEN not in log
    assert "Traceback" not in log
