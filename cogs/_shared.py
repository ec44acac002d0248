"""Helpers the cogs share: turning pure `EmbedSpec`s into discord.py objects, and whom a message may ping."""

from __future__ import annotations

import discord

from bot.embeds import EmbedSpec


def to_embed(spec: EmbedSpec) -> discord.Embed:
    embed = discord.Embed(title=spec.title, description=spec.description or None, url=spec.url)
    if spec.colour is not None:
        embed.colour = discord.Colour(spec.colour)
    for item in spec.fields:
        embed.add_field(name=item.name, value=item.value, inline=item.inline)
    if spec.footer:
        embed.set_footer(text=spec.footer)
    return embed


def only_pinging(*user_ids: int) -> discord.AllowedMentions:
    """Mentions that notify exactly these members, never @everyone or a role: for messages meant to reach them."""
    return discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(id) for id in user_ids])
