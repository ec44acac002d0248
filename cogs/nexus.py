"""`/nexus about`: what is running, for how long, and how it is doing."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

import bot as nexus_package
from bot.client import NexusBot
from bot.embeds import EmbedField, EmbedSpec
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
    def __init__(self, bot: NexusBot) -> None:
        self._bot = bot

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
    await bot.add_cog(NexusCog(bot))
