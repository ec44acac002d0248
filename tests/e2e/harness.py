"""Run the real bot (its normal factory and `setup_hook`) against a `FakeDiscord`, in-process."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.app import MESSAGE_CONTENT_REFUSED, open_bot
from bot.client import NexusBot
from bot.config import Settings, load_settings
from tests.e2e.server import FakeDiscord

TOKEN = "test-token.not-a-real-one.0123456789"


def settings_for(server: FakeDiscord, database: str | Path, **overrides: Any) -> Settings:
    """Settings for a bot against `server`; `database` is a URL, or a SQLite file's path."""
    values: dict[str, Any] = {
        "DISCORD_TOKEN": TOKEN,
        "DATABASE_URL": database if isinstance(database, str) else f"sqlite+aiosqlite:///{database}",
        "DISCORD_API_URL": server.api_url,
        "NEXUS_GUILD_ID": server.guild_id,
        **overrides,
    }
    return load_settings(_env_file=None, **values)


@contextlib.contextmanager
def discord_globals_restored() -> Any:
    """discord.py keeps the API base and gateway in class attributes; put them back after a test."""
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, yarl.URL(str(gateway))


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, **options: Any) -> AsyncIterator[NexusBot]:
    """Start the bot and wait until it is ready; close it (gateway and engine) on the way out.

    Like `run_bot`, a refused Message Content intent (4014) restarts it without in-channel logging.
    """
    options.setdefault("guild_ready_timeout", 0.05)
    reads_messages: bool | None = None
    while True:
        async with open_bot(settings, migrate_in_process=True, reads_messages=reads_messages, **options) as bot:
            task = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
            ready = asyncio.create_task(bot.wait_until_ready())
            done, _ = await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                if task in done and isinstance(task.exception(), discord.PrivilegedIntentsRequired):
                    logging.getLogger("bot.app").error(MESSAGE_CONTENT_REFUSED)
                    reads_messages = False
                    continue
                if task in done:
                    task.result()  # re-raise why start-up failed
                raise TimeoutError("the bot did not become ready")
            try:
                yield bot
            finally:
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 10)
            return


async def until(
    condition: Callable[[], object],
    what: str | Callable[[], Awaitable[str]],
    seconds: float = 5.0,
    every: float = 0.02,
) -> None:
    """Poll `condition` (plain, or async such as a database read) until it is truthy: for what the bot does after
    it answered. Fails after `seconds`, naming `what`: a string, or an async function describing the state it
    gave up in."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"timed out waiting for {what if isinstance(what, str) else await what()}")
        await asyncio.sleep(every)
