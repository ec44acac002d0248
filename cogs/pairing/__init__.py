"""Pairing and study sessions: `/pair …`, `/session …`, the match introductions and the periodic work."""

from __future__ import annotations

from discord.ext import commands

from bot.client import NexusBot
from cogs.pairing._announce import Announcer
from cogs.pairing._cog import PairingCog, SessionCog
from cogs.pairing._scheduler import PairingSchedulerCog
from cogs.pairing._views import DYNAMIC_ITEMS, FindPartnerButton, pair_buttons

__all__ = ["FindPartnerButton", "setup"]


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the pairing extension needs a NexusBot")
    pairing = bot.services.pairing
    announcer = Announcer(bot, pairing, bot.services.guild_settings, pair_buttons)
    bot.provide(announcer)  # the buttons' way to it after a restart
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(PairingCog(pairing, announcer, bot.person))
    await bot.add_cog(SessionCog(pairing, announcer))
    await bot.add_cog(PairingSchedulerCog(bot, pairing, announcer))
