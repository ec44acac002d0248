"""The web hub, Discord's side: which watched channels say "posts here are published on the web hub".

A watched channel whose topic (a watched forum's guidelines, which Discord also calls `topic`) says posts are
published on the web hub (the rule is `bot.challenges.notice.says_published`) is recorded as publishing, so that
posting there counts as consent for members who made no choice. It is checked when a server becomes available
(start-up, reconnection, joining), whenever a channel is edited (topic, guidelines or permissions), and by
`/nexus setup`. Only channels @everyone can read ever publish.
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.challenges.notice import says_published
from bot.client import NexusBot
from bot.interactions.error_replies import log_background_failure
from bot.services import web_notices as notices
from bot.services.guild_settings import GuildSettingsService
from bot.services.web import WebSettingsService
from cogs._shared import readable_by_everyone

log = logging.getLogger(__name__)


def publishes(channel: object) -> bool:
    """Whether `channel` says posts there are published, and everyone can read it (a private channel never
    publishes, whatever its topic)."""
    if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
        return False
    return says_published(channel.topic) and readable_by_everyone(channel)


async def record_notices(
    guild: discord.Guild, guild_settings: GuildSettingsService, web: WebSettingsService
) -> frozenset[int]:
    """Read the notice of every text channel and forum of `guild` and record what changed for the watched ones (see
    `bot.services.web_notices`); returns the channels that publish now."""
    seen = {
        channel.id: publishes(channel)
        for channel in guild.channels
        if isinstance(channel, discord.TextChannel | discord.ForumChannel)
    }
    return await notices.record_notices(guild_settings, web, guild.id, seen)


class WebHubCog(commands.Cog):
    def __init__(self, guild_settings: GuildSettingsService, web: WebSettingsService) -> None:
        self._guild_settings = guild_settings
        self._web = web

    async def _record(self, guild: discord.Guild) -> None:
        # An event handler's boundary: the database away for a moment is logged, and the next event reads again.
        try:
            await record_notices(guild, self._guild_settings, self._web)
        except Exception as error:
            log_background_failure(log, error, "reading the channel notices of server %s failed", guild.id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        """At start-up and after a reconnection: a topic edited while Nexus was away is read now."""
        await self._record(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._record(guild)

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        """A topic, guidelines or permission edit: only watched or recorded channels matter."""
        if isinstance(after, discord.TextChannel | discord.ForumChannel):
            await self._record(after.guild)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the web hub extension needs a NexusBot")
    await bot.add_cog(WebHubCog(bot.services.guild_settings, bot.services.web))
