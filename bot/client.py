"""The bot class: intents, caches, extensions, command sync and the one application-command error handler."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.core.shards import ALL_SHARDS, ShardScope
from bot.interactions.error_replies import report_interaction_error
from bot.interactions.watchdog import DeferralWatchdog
from bot.runtime.memory import settle_startup_heap
from bot.runtime.redaction import redact_url
from bot.services import CommandSyncService, TopicService
from bot.services.challenges import ChallengeService, Person
from bot.services.command_sync import payload_hash, sync_scope
from bot.services.digest import DigestService
from bot.services.forum import ForumService
from bot.services.guild_settings import GuildSettingsService
from bot.services.pairing import PairingService
from bot.services.privacy import PrivacyService
from bot.services.readme import ReadmeService
from bot.services.web import WebSettingsService

log = logging.getLogger(__name__)

COGS_PACKAGE = "cogs"
T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """Everything the cogs may use; each cog's `setup` takes only its own part."""

    topics: TopicService
    command_sync: CommandSyncService
    challenges: ChallengeService
    pairing: PairingService
    guild_settings: GuildSettingsService
    privacy: PrivacyService
    digest: DigestService
    readme: ReadmeService
    forum: ForumService
    web: WebSettingsService


class NexusCommandTree(app_commands.CommandTree["NexusBot"]):
    async def on_error(self, interaction: discord.Interaction[NexusBot], error: app_commands.AppCommandError) -> None:
        await report_interaction_error(interaction, error)


def point_at_api(api_url: str) -> None:
    """Send every REST call to `api_url` (a Discord-compatible server, proxy or the test server).

    discord.py builds each request URL from the class attribute `Route.BASE`.
    """
    Route.BASE = api_url.rstrip("/")


def discover_extensions(package: str = COGS_PACKAGE) -> list[str]:
    """Every cog module or package in `cogs/`, except private helpers (leading underscore)."""
    module = importlib.import_module(package)
    return sorted(
        f"{package}.{info.name}" for info in pkgutil.iter_modules(module.__path__) if not info.name.startswith("_")
    )


def required_intents(*, reads_messages: bool) -> discord.Intents:
    """Slash commands, buttons and menus arrive as interactions and need no intent; `guilds` gives
    the channel and role cache the permission checks read. Only when a channel is watched for
    in-channel posts does the bot ask for messages and the privileged Message Content intent."""
    intents = discord.Intents.none()
    intents.guilds = True
    if reads_messages:
        intents.guild_messages = True
        intents.message_content = True
        # A forum post's author accepts an answer by reacting ✅ to it (not privileged).
        intents.guild_reactions = True
    return intents


class NexusBot(commands.Bot):
    def __init__(
        self,
        *,
        services: Services,
        guild_id: int | None = None,
        api_url: str | None = None,
        reads_messages: bool = False,
        settle_heap_after_setup: bool = False,
        shards: ShardScope = ALL_SHARDS,
        web_base_url: str | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("intents", required_intents(reads_messages=reads_messages))
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            tree_cls=NexusCommandTree,
            allowed_mentions=discord.AllowedMentions.none(),
            # Nothing the features do reads members or old messages from the cache: keep memory flat.
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            max_messages=None,
            **options,
        )
        self.services = services
        self.reads_messages = reads_messages
        # The servers this process works for; background work for any other is another process's.
        self.shard_scope = shards
        # NEXUS_WEB_BASE_URL: where the web hub is, for "View on the web" links (none when unset).
        self.web_base_url = web_base_url
        # Start-up's objects are frozen out of the garbage collector's scans once set-up is done
        # (`settle_startup_heap`): in the bot's own process, not in one that starts many bots (the tests).
        self._settle_heap_after_setup = settle_heap_after_setup
        self.guild_id = guild_id
        self.api_url = api_url
        self.started_at = time.monotonic()
        self._shutdown: asyncio.Task[None] | None = None
        self._watchdog = DeferralWatchdog()
        # What an extension shares with its buttons (rebuilt from a custom_id after a restart), by type.
        self._parts: dict[type[Any], object] = {}

    def provide(self, part: object) -> None:
        """Share `part` with the buttons, found by its type (`part`)."""
        self._parts[type(part)] = part

    def part(self, kind: type[T]) -> T:
        found = self._parts.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"no {kind.__name__} was provided: is its extension loaded?")
        return found

    async def on_message(self, message: discord.Message, /) -> None:
        """Nexus has slash commands only: no message is parsed as a prefix command (`commands.Bot` would build
        a command context for every message a watched channel receives)."""

    async def login(self, token: str) -> None:
        if self.api_url:
            point_at_api(self.api_url)
        await super().login(token)
        if self.api_url:
            # A plain client never asks for /gateway/bot: it connects to DEFAULT_GATEWAY.
            _shards, gateway_url, _limits = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
            log.info(
                "using the Discord-compatible API at %s (gateway %s)", redact_url(self.api_url), redact_url(gateway_url)
            )

    async def setup_hook(self) -> None:
        for extension in discover_extensions():
            await self.load_extension(extension)
        await self.sync_commands()
        if self._settle_heap_after_setup:
            settle_startup_heap()

    async def sync_commands(self) -> bool:
        """Sync the command tree when it differs from the last sync of this scope; True if it synced."""
        guild = discord.Object(id=self.guild_id) if self.guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        scope, digest = sync_scope(self.guild_id), payload_hash(payload)
        if await self.services.command_sync.is_current(scope, digest):
            log.info("application commands unchanged for %s; not syncing", scope)
            return False
        synced = await self.tree.sync(guild=guild)
        await self.services.command_sync.record(scope, digest)
        log.info("synced %d application commands to %s", len(synced), scope)
        return True

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Arm the deferral watchdog for every interaction (bot/interactions/watchdog.py)."""
        self._watchdog.arm(interaction)

    async def close(self) -> None:
        self._watchdog.stop()
        await super().close()

    async def on_ready(self) -> None:
        user = self.user
        log.info("ready as %s (%s) in %d servers", user, user.id if user else "?", len(self.guilds))

    async def person(self, interaction: discord.Interaction) -> Person:
        """Who is acting, and whether they moderate this server: Manage Messages server-wide, or the server's
        moderator role. The interaction's own permissions are the channel's, overwrites applied: an overwrite
        granting Manage Messages in one channel moderates that channel, not the server, so they are not used."""
        user = interaction.user
        moderator = False
        if interaction.guild is not None and isinstance(user, discord.Member):
            moderator = user.guild_permissions.manage_messages
            if not moderator:
                role_id = (await self.services.guild_settings.get(interaction.guild.id)).moderator_role_id
                moderator = role_id is not None and user.get_role(role_id) is not None
        return Person(user.id, user.display_name, moderator)

    def request_shutdown(self) -> None:
        """Close the gateway from a signal handler; `start()` then returns and the caller cleans up."""
        if self._shutdown is None:
            log.info("shutting down")
            self._shutdown = asyncio.get_running_loop().create_task(self.close())

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_at


class ShardedNexusBot(NexusBot, commands.AutoShardedBot):
    """Nexus on several gateway connections (shards) in one process: discord.py's AutoShardedBot, with the shards
    `NEXUS_SHARD_COUNT` and `NEXUS_SHARD_IDS` name. Everything else is NexusBot's."""
