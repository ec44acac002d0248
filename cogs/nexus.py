"""`/nexus about`: what is running, for how long, and how it is doing."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

import bot as nexus_package
from bot.client import NexusBot
from bot.embeds import EmbedField, EmbedSpec
from bot.services.guild_settings import GuildSettingsService
from cogs._shared import to_embed


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d"] if days else []
    if days or hours:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min" if days or hours or minutes else f"{secs} s")
    return " ".join(parts)


class NexusCog(commands.GroupCog, group_name="nexus", group_description="About Nexus and its settings"):
    def __init__(self, bot: NexusBot, guild_settings: GuildSettingsService) -> None:
        self._bot = bot
        self._guild_settings = guild_settings

    @app_commands.command(
        name="setup", description="This server's settings: challenge and pairing channels, moderators"
    )
    @app_commands.describe(
        challenge_channel="The channel whose “Challenge:” posts are logged",
        pairing_channel="Where pair threads are opened",
        moderator_role="Members with this role may edit, accept and delete for others",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup(
        self,
        interaction: discord.Interaction,
        challenge_channel: discord.TextChannel | None = None,
        pairing_channel: discord.TextChannel | None = None,
        moderator_role: discord.Role | None = None,
    ) -> None:
        guild_id = interaction.guild_id or 0
        changes: dict[str, int] = {}
        if challenge_channel is not None:
            changes["challenge_channel_id"] = challenge_channel.id
        if pairing_channel is not None:
            changes["pairing_channel_id"] = pairing_channel.id
        if moderator_role is not None:
            changes["moderator_role_id"] = moderator_role.id
        settings = (
            await self._guild_settings.update(guild_id, **changes)
            if changes
            else await self._guild_settings.get(guild_id)
        )
        watched = ", ".join(f"<#{channel}>" for channel in sorted(settings.challenge_channel_ids)) or "none"
        lines = [
            "Saved." if changes else "Nothing changed; these are the current settings.",
            f"Challenge channels: {watched}",
            f"Pairing channel: {f'<#{settings.pairing_channel_id}>' if settings.pairing_channel_id else 'none'}",
            f"Moderator role: {f'<@&{settings.moderator_role_id}>' if settings.moderator_role_id else 'none'}",
        ]
        if settings.challenge_channel_ids and not self._bot.reads_messages:
            lines.append(
                "In-channel posts are not read yet: restart Nexus (with the Message Content intent on) to start."
            )
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    @app_commands.command(name="about", description="Version, uptime, gateway latency and counts")
    async def about(self, interaction: discord.Interaction) -> None:
        latency = self._bot.latency  # NaN until the first heartbeat is acknowledged
        shown_latency = "n/a" if latency != latency else f"{latency * 1000:.0f} ms"
        spec = EmbedSpec(
            title="Nexus",
            description=("Topics, a searchable challenge log and frontend/backend pairing for #ProDevProjectNexus."),
            fields=(
                EmbedField("Version", nexus_package.__version__, inline=True),
                EmbedField("Uptime", _duration(self._bot.uptime_seconds()), inline=True),
                EmbedField("Gateway latency", shown_latency, inline=True),
                EmbedField("Servers", str(len(self._bot.guilds)), inline=True),
                EmbedField("Topics", str(len(self._bot.services.topics.knowledge_base)), inline=True),
            ),
        )
        await interaction.response.send_message(embed=to_embed(spec), ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the nexus extension needs a NexusBot")
    await bot.add_cog(NexusCog(bot, bot.services.guild_settings))
