"""Explicit wiring: settings → engine → session factory → services → bot. Nothing is global."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.client import NexusBot, Services
from bot.config import Settings
from bot.db.child_migration import upgrade_in_child_process
from bot.db.engine import create_engine, create_session_factory
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.services import CommandSyncService, NoSolvedChallenges, TopicService

log = logging.getLogger(__name__)


def configure_logging(settings: Settings) -> None:
    discord.utils.setup_logging(level=settings.log_level_number, root=True)


def build_services(sessions: async_sessionmaker[AsyncSession], knowledge_base: KnowledgeBase) -> Services:
    return Services(
        topics=TopicService(knowledge_base, NoSolvedChallenges()),
        command_sync=CommandSyncService(sessions),
    )


@asynccontextmanager
async def open_bot(
    settings: Settings, *, migrate_in_process: bool = False, **options: Any
) -> AsyncIterator[NexusBot]:
    """The bot, wired and migrated, not yet connected; the engine is disposed on the way out.

    Migrations run in a child process unless `migrate_in_process` (tests that start many bots).
    """
    engine = create_engine(settings.database_url)
    try:
        if migrate_in_process:
            from bot.db import migrate

            await migrate.upgrade(engine)
        else:
            await upgrade_in_child_process(settings.database_url)
        knowledge_base = load_knowledge_base(settings.topics_dir)
        services = build_services(create_session_factory(engine), knowledge_base)
        api_url = str(settings.discord_api_url) if settings.discord_api_url else None
        bot = NexusBot(services=services, guild_id=settings.guild_id, api_url=api_url, **options)
        async with bot:
            yield bot
    finally:
        await engine.dispose()
        log.info("stopped: gateway closed, database engine disposed")


async def run_bot(settings: Settings) -> None:
    """Migrate, start, and run until SIGINT/SIGTERM; the gateway is closed and the engine disposed."""
    loop = asyncio.get_running_loop()
    async with open_bot(settings) as bot:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, bot.request_shutdown)
        try:
            await bot.start(settings.discord_token.get_secret_value())
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(signum)
