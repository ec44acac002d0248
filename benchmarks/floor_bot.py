"""The floor: the smallest discord.py bot that answers `/topic` and its autocomplete with constants.

It reaches the server the way Nexus does (REST base and gateway from `DISCORD_API_URL`), with
discord.py's defaults for everything else, so the round-trip and memory figures compare Nexus with
the cheapest bot that could answer the same interactions.

With `FLOOR_DATABASE` set it is the ingestion floor instead: every message it receives is inserted, as
it came, into the `challenges` table of that SQLite file (one committed insert per message, the bot's own
pragmas: durable when the commit returns), then gets a ✅ reaction. No parsing, no batching.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.db.engine import SQLITE_PRAGMAS

_TABLE = (
    "CREATE TABLE IF NOT EXISTS challenges (id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, "
    "channel_id INTEGER NOT NULL, author_id INTEGER, author_name TEXT NOT NULL, source_message_id INTEGER UNIQUE, "
    "content TEXT NOT NULL, created_at TEXT NOT NULL)"
)
_INSERT = (
    "INSERT INTO challenges (guild_id, channel_id, author_id, author_name, source_message_id, content, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


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


class IngestFloorBot(discord.Client):
    """One committed insert and one reaction per message, in the order they arrive."""

    def __init__(self, api_url: str, database: str) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents)
        self.api_url = api_url
        self.database = sqlite3.connect(database, isolation_level=None)  # autocommit: one transaction per insert
        for pragma in SQLITE_PRAGMAS:
            self.database.execute(f"PRAGMA {pragma}")
        self.database.execute(_TABLE)

    async def login(self, token: str) -> None:
        Route.BASE = self.api_url
        await super().login(token)
        _shards, url, _limits = await self.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None:
            return
        self.database.execute(
            _INSERT,
            (
                message.guild.id,
                message.channel.id,
                message.author.id,
                message.author.display_name,
                message.id,
                message.content,
                datetime.now(UTC).isoformat(),
            ),
        )
        await message.add_reaction("✅")


if __name__ == "__main__":
    if "FLOOR_DATABASE" in os.environ:
        IngestFloorBot(os.environ["DISCORD_API_URL"], os.environ["FLOOR_DATABASE"]).run(
            os.environ["DISCORD_TOKEN"], log_handler=None
        )
    else:
        FloorBot(os.environ["DISCORD_API_URL"], int(os.environ["FLOOR_GUILD_ID"])).run(
            os.environ["DISCORD_TOKEN"], log_handler=None
        )
