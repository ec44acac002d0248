"""Helpers the cogs share: turning pure `EmbedSpec`s into discord.py objects, and whom a message may ping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import discord

from bot.core.embeds import EmbedSpec
from bot.core.retry import RetryPolicy
from bot.services.challenges import Person

if TYPE_CHECKING:
    from bot.client import NexusBot


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


def readable_by_everyone(channel: object) -> bool:
    """Whether every member of the server can read `channel`: @everyone may view it, and it is not a private
    thread (a thread has its parent's permissions). The challenge log is server-wide, so nothing from a channel
    or thread fewer people can read is copied into it. A channel the bot cannot tell about counts as private."""
    if isinstance(channel, discord.Thread):
        if channel.type is discord.ChannelType.private_thread:
            return False
        channel = channel.parent
    if not isinstance(channel, discord.abc.GuildChannel):
        return False
    return channel.permissions_for(channel.guild.default_role).view_channel


T = TypeVar("T")
DISCORD_WRITES = RetryPolicy(
    pauses=(0.5, 1.0, 2.0), retry_on=lambda error: isinstance(error, discord.DiscordServerError)
)
"""Discord answering 5xx. discord.py retries 500, 502, 504 and 524 itself (and waits out 429s) but gives up on a
503 or after its own tries: a logged post's reply or a reminder must not be dropped for that. Client errors (4xx)
are not retried: they will not change."""


async def with_retries(call: Callable[[], Awaitable[T]]) -> T:
    """Run a Discord write, again on a 5xx (`DISCORD_WRITES`)."""
    return await DISCORD_WRITES.run(call)


def nexus(interaction: discord.Interaction) -> NexusBot:
    """The bot behind an interaction: buttons outlive a restart and reach its services (and the parts its
    extensions provided) only through the interaction."""
    from bot.client import NexusBot  # the bot module imports the cogs: import it when a button is used

    client = interaction.client
    if not isinstance(client, NexusBot):
        raise TypeError("Nexus buttons need a NexusBot")
    return client


async def person_of(interaction: discord.Interaction) -> Person:
    """Who is acting, and whether they moderate here."""
    return await nexus(interaction).person(interaction)
