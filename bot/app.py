"""Explicit wiring: settings → engine → session factory → services → bot. Nothing is global."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

import discord
from discord.http import Route
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from bot.client import NexusBot, Services, ShardedNexusBot
from bot.config import Settings
from bot.db.child_migration import upgrade_in_child_process
from bot.db.engine import create_engine, create_session_factory
from bot.db.search import search_engine_for
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.memory import heap_trimmer, trim_heap_periodically
from bot.runtime.reachability import RECONNECT_WAIT, api_host, unreachable_reason
from bot.runtime.redaction import RedactingFormatter, url_secrets
from bot.services import CommandSyncService, TopicService
from bot.services.challenges import ChallengeService, SolvedChallengeLog
from bot.services.digest import DigestService
from bot.services.forum import ForumService
from bot.services.guild_settings import GuildSettingsService
from bot.services.pairing import PairingService, ProfileTracks
from bot.services.privacy import PrivacyService
from bot.services.readme import ReadmeService
from bot.services.web import WebSettingsService

log = logging.getLogger(__name__)


def configure_logging(settings: Settings) -> None:
    """discord.py's handler and format on the root logger, with every line passed through the redaction of
    credentials (URLs' passwords and tokens, the bot token)."""
    handler = logging.StreamHandler()
    discord.utils.setup_logging(level=settings.log_level_number, root=True, handler=handler)
    secrets = [settings.discord_token.get_secret_value(), *url_secrets(settings.database_url)]
    if settings.discord_api_url:
        secrets += url_secrets(str(settings.discord_api_url))
    handler.setFormatter(RedactingFormatter(handler.formatter or logging.Formatter(), secrets))
    # aiosqlite logs every call with its arguments (the statements' bound parameters) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(max(settings.log_level_number, logging.INFO))


def build_services(settings: Settings, engine: AsyncEngine, knowledge_base: KnowledgeBase) -> Services:
    sessions = create_session_factory(engine)
    solved_log = SolvedChallengeLog(sessions)
    topics = TopicService(knowledge_base, solved_log, tracks=ProfileTracks(sessions))
    challenges = ChallengeService(
        sessions,
        search_engine_for(engine.dialect.name),
        topics,
        solved_log=solved_log,
        unanswered_after=timedelta(hours=settings.challenge_nudge_hours),
        ask_author_after=timedelta(hours=settings.challenge_ask_hours),
        shards=settings.shard_scope,
    )
    pairing = PairingService(
        sessions,
        topics,
        request_lifetime=timedelta(days=settings.pair_expiry_days),
        checkin_after=timedelta(days=settings.pair_checkin_days),
        shards=settings.shard_scope,
    )
    return Services(
        topics=topics,
        command_sync=CommandSyncService(sessions),
        challenges=challenges,
        pairing=pairing,
        guild_settings=GuildSettingsService(
            sessions,
            challenge_channel_ids=settings.challenge_channel_ids,
            pairing_channel_id=settings.pairing_channel_id,
            challenge_forum_ids=settings.challenge_forum_ids,
        ),
        privacy=PrivacyService(
            sessions,
            challenges,
            pairing,
            retention=timedelta(days=settings.retention_days) if settings.retention_days else None,
        ),
        digest=DigestService(sessions, topics, shards=settings.shard_scope),
        readme=ReadmeService(sessions, knowledge_base),
        forum=ForumService(
            sessions,
            challenges,
            archive_after=timedelta(hours=settings.forum_archive_hours) if settings.forum_archive_hours else None,
        ),
        web=WebSettingsService(sessions),
    )


@asynccontextmanager
async def prepared_services(settings: Settings, *, migrate_in_process: bool = False) -> AsyncIterator[Services]:
    """The services, on a migrated database; the engine is disposed on the way out.

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
        yield build_services(settings, engine, knowledge_base)
    finally:
        await engine.dispose()
        log.info("stopped: gateway closed, database engine disposed")


def new_bot(settings: Settings, services: Services, *, reads_messages: bool, **options: Any) -> NexusBot:
    api_url = str(settings.discord_api_url) if settings.discord_api_url else None
    kind = NexusBot
    if settings.shard_count is not None:
        # Sharded: these shards of the count, on as many gateway connections in this process.
        kind = ShardedNexusBot
        options.setdefault("shard_count", settings.shard_count)
        if settings.shard_ids is not None:
            options.setdefault("shard_ids", list(settings.shard_ids))
    return kind(
        services=services,
        guild_id=settings.guild_id,
        api_url=api_url,
        reads_messages=reads_messages,
        shards=settings.shard_scope,
        web_base_url=settings.web_base_url,
        **options,
    )


@asynccontextmanager
async def open_bot(
    settings: Settings,
    *,
    migrate_in_process: bool = False,
    reads_messages: bool | None = None,
    **options: Any,
) -> AsyncIterator[NexusBot]:
    """The bot, wired and migrated, not yet connected; the engine is disposed on the way out.

    The bot reads channel messages when a channel is watched, unless `reads_messages` says no.
    """
    async with prepared_services(settings, migrate_in_process=migrate_in_process) as services:
        if reads_messages is None:
            reads_messages = await services.guild_settings.any_challenge_channel()
        async with new_bot(settings, services, reads_messages=reads_messages, **options) as bot:
            yield bot


MESSAGE_CONTENT_REFUSED = (
    "Discord refused the Message Content intent (close code 4014): in-channel logging is off, "
    "menus and commands still work. To log posts in watched channels, switch on Developer Portal → "
    "your application → Bot → Privileged Gateway Intents → Message Content Intent, then restart."
)


async def run_bot(settings: Settings) -> None:
    """Migrate, start, and run until SIGINT/SIGTERM; the gateway is closed and the engine disposed."""
    loop = asyncio.get_running_loop()
    trim = heap_trimmer()
    trimming = loop.create_task(trim_heap_periodically(trim), name="nexus-heap-trim") if trim else None
    try:
        await _run_until_stopped(settings, loop)
    finally:
        if trimming is not None:
            trimming.cancel()


async def _run_until_stopped(settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
    """Connect; while Discord cannot be reached, say so in one line and try again later (capped backoff).

    Each attempt is a new bot on the same services: a client whose login failed half-way is not reused.
    """
    async with prepared_services(settings) as services:
        reads_messages = await services.guild_settings.any_challenge_channel()
        stopping = asyncio.Event()
        current: list[NexusBot] = []

        def request_stop() -> None:
            stopping.set()
            for bot in current:
                bot.request_shutdown()

        api_base = str(settings.discord_api_url) if settings.discord_api_url else Route.BASE
        where = api_host(api_base)

        def retrying_is_worth_it(error: BaseException) -> bool:
            return not stopping.is_set() and unreachable_reason(error) is not None

        def say_why(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            reason = unreachable_reason(error) if error else None
            log.warning("cannot reach Discord at %s: %s; retrying in %.0f s", where, reason, delay)

        async def sleep_unless_stopped(seconds: float) -> None:
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), seconds)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, request_stop)
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(retrying_is_worth_it),
                wait=RECONNECT_WAIT,
                sleep=sleep_unless_stopped,
                before_sleep=say_why,
                reraise=True,
            ):
                with attempt:
                    while not stopping.is_set():
                        bot = new_bot(settings, services, reads_messages=reads_messages, settle_heap_after_setup=True)
                        current[:] = [bot]
                        try:
                            async with bot:
                                await bot.start(settings.discord_token.get_secret_value())
                            return
                        except discord.PrivilegedIntentsRequired:
                            if not bot.reads_messages:
                                raise
                            log.error(MESSAGE_CONTENT_REFUSED)
                            reads_messages = False
                        except Exception:
                            # A stop during login closes the HTTP session under the request: not a fault.
                            if not stopping.is_set():
                                raise
                            log.debug("login interrupted by the stop", exc_info=True)
                            return
                        finally:
                            current.clear()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(signum)
