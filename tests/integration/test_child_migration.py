"""The start-up migration runs in a child process that is not handed the bot's token: it needs only the database."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from bot.db import migrate
from bot.db.child_migration import MigrationError, upgrade_in_child_process
from bot.db.engine import create_engine

TOKEN = "child-test-token.not-a-real-one.0123456789"


async def test_the_migration_child_gets_no_discord_token(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("discord_token", TOKEN)  # the settings read names in any case
    environments: list[dict[str, str]] = []
    spawn = asyncio.create_subprocess_exec

    async def recording(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        environments.append(dict(kwargs["env"]))
        return await spawn(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording)
    await upgrade_in_child_process(database_url)

    [environment] = environments
    assert TOKEN not in environment.values()
    assert not [name for name in environment if name.upper() == "DISCORD_TOKEN"]
    assert environment["DATABASE_URL"] == database_url
    engine = create_engine(database_url)
    try:
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_a_failed_migration_says_why_without_the_password() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    url = f"postgresql+asyncpg://nexus:pw-never-shown-1@127.0.0.1:{port}/nexus"
    with pytest.raises(MigrationError) as raised:
        await upgrade_in_child_process(url)
    message = str(raised.value)
    assert "pw-never-shown-1" not in message
    assert "refused" in message.lower() or "connect" in message.lower(), message
