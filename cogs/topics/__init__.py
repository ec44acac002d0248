"""`/topic` and `/topics`: the knowledge base, answered by slash command."""

from __future__ import annotations

from discord.ext import commands

from bot.client import NexusBot
from cogs.topics._cog import TopicsCog
from cogs.topics._views import DeleteCardButton


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the topics extension needs a NexusBot")
    bot.add_dynamic_items(DeleteCardButton)
    await bot.add_cog(TopicsCog(bot.services.topics, bot.services.web, bot.web_base_url))
