"""Whether someone is still a member of a server: a button may be pressed, or a match announced, days later."""

from __future__ import annotations

import discord

from bot.core.errors import PermissionDeniedError


async def member_in_server(client: discord.Client, guild_id: int, user_id: int) -> bool:
    guild = client.get_guild(guild_id)
    if guild is None:
        return False
    try:
        await guild.fetch_member(user_id)
    except discord.NotFound:
        return False
    return True


async def require_member(interaction: discord.Interaction, guild_id: int) -> None:
    """Refuse a presser who is no longer in the server the button acts in (left, kicked or banned). Pressed in that
    server, Discord has just said they are a member; from a DM, ask it (a 404 means they are gone)."""
    if interaction.guild_id == guild_id and isinstance(interaction.user, discord.Member):
        return
    if not await member_in_server(interaction.client, guild_id, interaction.user.id):
        raise PermissionDeniedError(
            "You are no longer a member of the server this button belongs to, so it no longer works for you."
        )
