"""The floor: the smallest discord.py bot that answers `/topic` and its autocomplete with constants.

It reaches the server the way Nexus does (REST base and gateway from `DISCORD_API_URL`), with
discord.py's defaults for everything else, so the round-trip and memory figures compare Nexus with
the cheapest bot that could answer the same interactions.
"""

from __future__ import annotations

import os

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route


class FloorBot(discord.Client):
    def __init__(self, api_url: str, guild_id: int) -> None:
        super().__init__(intents=discord.Intents.default())
        self.api_url = api_url
        self.guild = discord.Object(guild_id)
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="topic", description="A constant answer")
        async def topic(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message("constant")

        @topic.autocomplete("name")
        async def topic_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name="constant", value="constant")]

    async def login(self, token: str) -> None:
        Route.BASE = self.api_url
        await super().login(token)
        _shards, url, _limits = await self.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def setup_hook(self) -> None:
        self.tree.copy_global_to(guild=self.guild)
        await self.tree.sync(guild=self.guild)


if __name__ == "__main__":
    FloorBot(os.environ["DISCORD_API_URL"], int(os.environ["FLOOR_GUILD_ID"])).run(
        os.environ["DISCORD_TOKEN"], log_handler=None
    )
