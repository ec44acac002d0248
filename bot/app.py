"""Explicit wiring: settings → engine → session factory → services → bot. Nothing is global."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

import discord
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.client import NexusBot, Services
from bot.config import Settings
from bot.db import migrate
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


def build_bot(settings: Settings, engine: AsyncEngine, **options: object) -> NexusBot:
    knowledge_base = load_knowledge_base(settings.topics_dir)
    services = build_services(create_session_factory(engine), knowledge_base)
    api_url = str(settings.discord_api_url) if settings.discord_api_url else None
    return NexusBot(services=services, guild_id=settings.guild_id, api_url=api_url, **options)


async def run_bot(settings: Settings) -> None:
    """Migrate, start, and run until SIGINT/SIGTERM; the gateway is closed and the engine disposed."""
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        bot = build_bot(settings, engine)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, bot.request_shutdown)
        try:
            async with bot:
                await bot.start(settings.discord_token.get_secret_value())
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(signum)
    finally:
        await engine.dispose()
        log.info("stopped: gateway closed, database engine disposed")
