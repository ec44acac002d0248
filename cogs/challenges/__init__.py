"""The challenge log: `/challenge …`, the message menus, and in-channel logging."""

from __future__ import annotations

from discord.ext import commands

from bot.client import NexusBot
from cogs.challenges._cog import ChallengesCog
from cogs.challenges._forum import ForumLogCog
from cogs.challenges._listener import ChallengeLogCog
from cogs.challenges._views import AcceptButton, EditButton


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the challenges extension needs a NexusBot")
    bot.add_dynamic_items(AcceptButton, EditButton)
    await bot.add_cog(
        ChallengesCog(
            bot.services.challenges, bot.person, bot.tree, web=bot.services.web, web_base_url=bot.web_base_url
        )
    )
    log_cog = ChallengeLogCog(
        bot,
        bot.services.challenges,
        bot.services.guild_settings,
        reads_messages=bot.reads_messages,
    )
    await bot.add_cog(log_cog)
    await bot.add_cog(
        ForumLogCog(
            bot,
            bot.services.challenges,
            bot.services.forum,
            bot.services.guild_settings,
            log_cog,
            reads_messages=bot.reads_messages,
        )
    )
