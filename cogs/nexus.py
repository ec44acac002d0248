"""`/nexus about`, `/nexus setup` and `/nexus forget-me`: what is running, this server's settings, and privacy."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

import bot as nexus_package
from bot import replies
from bot.client import NexusBot
from bot.embeds import EmbedField, EmbedSpec
from bot.interaction_errors import report_interaction_error
from bot.services.challenges import ANONYMOUS
from bot.services.guild_settings import GuildSettingsService
from bot.services.privacy import Forgotten, PrivacyService
from cogs._shared import to_embed

FORGET_TIMEOUT_SECONDS = 120.0
FORGET_QUESTION = (
    "**Forget me in this server?**\n"
    "This deletes your pairing profile, your pairing requests, your pairs and your study sessions here (your "
    "partners lose those pairings and sessions too), and removes your name from the challenges and solutions you "
    f"logged: their text stays, shown as by “{ANONYMOUS}”, so others can still learn from it.\n"
    "It cannot be undone. Other servers are not affected. Nothing happens unless you press **Confirm**."
)
FORGET_CANCELLED = "Cancelled: nothing was deleted or changed."
FORGET_TIMED_OUT = "Nothing was deleted: the confirmation timed out. Run `/nexus forget-me` again if you still want it."
NOT_YOURS = "This confirmation is someone else's. To forget your own data, run `/nexus forget-me` yourself."


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d"] if days else []
    if days or hours:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min" if days or hours or minutes else f"{secs} s")
    return " ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def forget_summary(forgotten: Forgotten) -> str:
    """What `/nexus forget-me` did, in words."""
    if forgotten.nothing:
        return "Done: Nexus holds nothing about you in this server (anything it held is already forgotten)."
    deleted = ["your pairing profile"] if forgotten.profile else []
    for count, noun in (
        (forgotten.requests, "pairing request"),
        (forgotten.pairs, "pair"),
        (forgotten.sessions, "study session"),
    ):
        if count:
            deleted.append(_plural(count, noun))
    anonymised = [
        _plural(count, noun)
        for count, noun in ((forgotten.challenges, "challenge"), (forgotten.solutions, "solution"))
        if count
    ]
    lines = ["Done: you are forgotten in this server."]
    if deleted:
        lines.append("Deleted: " + ", ".join(deleted) + ".")
    if anonymised:
        lines.append(f"Anonymised: {' and '.join(anonymised)}; their text stays, now by “{ANONYMOUS}”.")
    lines.append("What you post or log from now on is stored as usual; you can run this again at any time.")
    return "\n".join(lines)


class ForgetMeView(discord.ui.View):
    """Confirm or Cancel for `/nexus forget-me`: only the member who asked may press; it times out."""

    def __init__(self, owner_id: int, forget: Callable[[], Awaitable[Forgotten]]) -> None:
        super().__init__(timeout=FORGET_TIMEOUT_SECONDS)
        self._owner_id = owner_id
        self._forget = forget
        self._answered = False
        self.message: discord.Message | None = None

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id == self._owner_id:
            return True
        await replies.send(interaction, NOT_YOURS, ephemeral=True)
        return False

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[ForgetMeView]) -> None:
        if self._answered:
            await replies.send(interaction, "This was already answered.", ephemeral=True)
            return
        self._answered = True
        await replies.defer(interaction)  # the deletion may wait for the database: never let the click expire
        try:
            forgotten = await self._forget()
        except BaseException:
            self._answered = False  # the buttons stay: pressing Confirm again finishes the job (it is idempotent)
            raise
        self.stop()
        await replies.edit(interaction, content=forget_summary(forgotten), view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[ForgetMeView]) -> None:
        if self._answered:
            await replies.send(interaction, "This was already answered.", ephemeral=True)
            return
        self._answered = True
        self.stop()
        await replies.edit(interaction, content=FORGET_CANCELLED, view=None)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /) -> None:
        await report_interaction_error(interaction, error)

    async def on_timeout(self) -> None:
        if self._answered or self.message is None:
            return
        with contextlib.suppress(discord.HTTPException):
            await self.message.edit(content=FORGET_TIMED_OUT, view=None)


class NexusCog(commands.GroupCog, group_name="nexus", group_description="About Nexus and its settings"):
    def __init__(self, bot: NexusBot, guild_settings: GuildSettingsService, privacy: PrivacyService) -> None:
        self._bot = bot
        self._guild_settings = guild_settings
        self._privacy = privacy

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
        await replies.send(interaction, "\n".join(lines), ephemeral=True)

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
        await replies.send(interaction, embed=to_embed(spec), ephemeral=True)

    @app_commands.command(
        name="forget-me",
        description="Delete your pairing data here and remove your name from your challenges and solutions",
    )
    @app_commands.guild_only()
    @app_commands.checks.cooldown(2, 60.0)
    async def forget_me(self, interaction: discord.Interaction) -> None:
        guild_id, user_id = interaction.guild_id or 0, interaction.user.id

        async def forget() -> Forgotten:
            return await self._privacy.forget_me(guild_id, user_id)

        view = ForgetMeView(user_id, forget)
        view.message = await replies.send(interaction, FORGET_QUESTION, view=view, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the nexus extension needs a NexusBot")
    await bot.add_cog(NexusCog(bot, bot.services.guild_settings, bot.services.privacy))
