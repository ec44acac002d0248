"""`/nexus about`, `/nexus setup`, `/nexus digest preview` and `/nexus forget-me`: what is running, this server's
settings, its weekly digest, and privacy."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

import bot as nexus_package
from bot.challenges.digest import WEEKDAYS, next_slot, render_digest
from bot.client import NexusBot
from bot.core.embeds import EmbedField, EmbedSpec
from bot.core.errors import InvalidInputError, PermissionDeniedError
from bot.interactions import replies
from bot.interactions.error_replies import report_interaction_error
from bot.services.challenges import ANONYMOUS, ERASED_TITLE
from bot.services.digest import DigestService
from bot.services.guild_settings import GuildSettingsService, ServerSettings
from bot.services.privacy import Footprint, Forgotten, PrivacyService
from bot.services.readme import MemberChoiceSettings, ReadmeService
from bot.services.web import WebSetting, WebSettingsService
from cogs._shared import to_embed
from cogs._weblinks import server_page
from cogs.webhub import record_notices

FORGET_TIMEOUT_SECONDS = 120.0
# A message holds 2,000 characters: servers are listed one by one while they fit, the rest are counted.
MESSAGE_LIMIT = 2000
FORGET_EXPLAINED = (
    "**Forget me** deletes your pairing profile, requests, pairs and study sessions (your partners lose those "
    "pairings and sessions too) and removes your name from the challenges and solutions you logged: their text "
    f"stays, shown as by “{ANONYMOUS}”, so others can still learn from it.\n"
    "**Forget me and erase my text** does the same and also replaces the text of your challenges and solutions with "
    f"“{ERASED_TITLE}”, so nothing you wrote stays in the log (answers other members gave to your challenges are "
    "theirs and stay).\n"
    "Either way your entries are no longer linked to your messages: editing or deleting those messages later "
    "changes nothing in the log, and they are not logged again."
)
FORGET_CANCELLED = "Cancelled: nothing was deleted or changed."
FORGET_TIMED_OUT = "Nothing was deleted: the confirmation timed out. Run `/nexus forget-me` again if you still want it."
NOTHING_ANYWHERE = "Nexus holds nothing about you in any server: there is nothing to forget."
AFTERWARDS = "What you post or log from now on is stored as usual; you can run this again at any time."
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


def _pairing_parts(held: Footprint) -> list[str]:
    parts = ["your pairing profile"] if held.profile else []
    for count, noun in ((held.requests, "pairing request"), (held.pairs, "pair"), (held.sessions, "study session")):
        if count:
            parts.append(_plural(count, noun))
    if held.choices:
        parts.append("your profile choices (web hub consent, credit by name)")
    return parts


def _entry_parts(held: Footprint) -> str:
    return " and ".join(
        _plural(count, noun) for count, noun in ((held.challenges, "challenge"), (held.solutions, "solution")) if count
    )


def _within_limit(head: list[str], items: list[str], tail: list[str]) -> str:
    """`head`, as many of `items` as fit in one message with a line counting the others, then `tail`."""
    for shown in range(len(items), -1, -1):
        rest = [f"…and {_plural(len(items) - shown, 'more server')}."] if shown < len(items) else []
        text = "\n".join([*head, *items[:shown], *rest, *tail])
        if len(text) <= MESSAGE_LIMIT:
            return text
    raise ValueError("the fixed parts of the message alone exceed Discord's limit")


def held_line(name: str, held: Footprint) -> str:
    """One server's line of the confirmation: what forgetting does there, given what Nexus holds."""
    parts = [f"deletes {', '.join(_pairing_parts(held))}"] if _pairing_parts(held) else []
    if _entry_parts(held):
        parts.append(f"anonymises {_entry_parts(held)}")
    return f"• **{name}**: " + ("; ".join(parts) if parts else "nothing to forget")


def forget_question(names: dict[int, str], held: dict[int, Footprint], *, here: bool) -> str:
    """The confirmation: which servers, what each holds, what each button does."""
    if here:
        heading = "**Forget me in this server?**"
    elif len(names) == 1:
        heading = f"**Forget me in {next(iter(names.values()))}?**"
    else:
        heading = f"**Forget me in {len(names)} servers?**"
    items = [held_line(name, held[guild_id]) for guild_id, name in names.items()]
    others = "Other servers are not affected." if here else "Servers not named here are not affected."
    tail = [
        FORGET_EXPLAINED,
        f"It cannot be undone. {others} Nothing happens unless you press one of the **Forget me** buttons.",
    ]
    return _within_limit([heading, "What it does, per server:"], items, tail)


def _done_parts(forgotten: Forgotten) -> tuple[str, str]:
    deleted = ", ".join(_pairing_parts(forgotten))
    entries = _entry_parts(forgotten)
    if not entries:
        return deleted, ""
    if forgotten.erased:
        return deleted, f"Anonymised and erased: {entries}; their text is now “{ERASED_TITLE}”."
    return deleted, f"Anonymised: {entries}; their text stays, now by “{ANONYMOUS}”."


def forget_summary(results: dict[int, Forgotten], names: dict[int, str], *, here: bool) -> str:
    """What `/nexus forget-me` did, in words: in this server, or per server from a DM."""
    if here:
        forgotten = next(iter(results.values()))
        if forgotten.nothing:
            return "Done: Nexus holds nothing about you in this server (anything it held is already forgotten)."
        deleted, anonymised = _done_parts(forgotten)
        lines = ["Done: you are forgotten in this server."]
        if deleted:
            lines.append(f"Deleted: {deleted}.")
        if anonymised:
            lines.append(anonymised)
    else:
        where = next(iter(names.values())) if len(names) == 1 else f"{len(names)} servers"
        items = []
        for guild_id, forgotten in results.items():
            deleted, anonymised = _done_parts(forgotten)
            said = " ".join(part for part in (f"Deleted: {deleted}." if deleted else "", anonymised) if part)
            items.append(f"• **{names[guild_id]}**: {said or 'nothing was left to forget.'}")
        return _within_limit([f"Done: you are forgotten in {where}."], items, [AFTERWARDS])
    lines.append(AFTERWARDS)
    return "\n".join(lines)


class ForgetMeView(discord.ui.View):
    """Forget me, Forget me and erase my text, or Cancel: only the member who asked may press; it times out."""

    def __init__(self, owner_id: int, forget: Callable[[bool], Awaitable[str]]) -> None:
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

    async def _confirmed(self, interaction: discord.Interaction, erase_text: bool) -> None:
        if self._answered:
            await replies.send(interaction, "This was already answered.", ephemeral=True)
            return
        self._answered = True
        await replies.defer(interaction)  # the deletion may wait for the database: never let the click expire
        try:
            summary = await self._forget(erase_text)
        except BaseException:
            self._answered = False  # the buttons stay: pressing again finishes the job (it is idempotent)
            raise
        self.stop()
        await replies.edit(interaction, content=summary, view=None)

    @discord.ui.button(label="Forget me", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[ForgetMeView]) -> None:
        await self._confirmed(interaction, erase_text=False)

    @discord.ui.button(label="Forget me and erase my text", style=discord.ButtonStyle.danger)
    async def confirm_and_erase(
        self, interaction: discord.Interaction, button: discord.ui.Button[ForgetMeView]
    ) -> None:
        await self._confirmed(interaction, erase_text=True)

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


def choices_text(choices: MemberChoiceSettings, name: str, *, changed: bool) -> str:
    """`/nexus profile`'s answer: the member's choices in this server, in words."""
    if choices.web is None:
        web = "**off** (not chosen yet): your entries are not published on the web hub."
    elif choices.web:
        web = "**on**: your solved challenges and solutions may be published on the web hub when this server is on it."
    else:
        web = "**off**: your entries are never published on the web hub."
    if choices.credit:
        credit = f"**on**: you are named, as “{name}”, on the web hub and in other members' READMEs."
    else:
        credit = "**off**: others' READMEs and the web hub call you “a frontend learner” or “a backend learner”."
    return "\n".join(
        [
            "Saved. Your choices in this server:" if changed else "Your choices in this server:",
            f"• Web hub: {web}",
            f"• Credit by name: {credit}",
            "Change them with `/nexus profile web:` and `credit:`; `/nexus forget-me` deletes them.",
        ]
    )


class ForumOption(app_commands.Transformer[NexusBot]):
    """A channel option offering forum channels only, given as the forum's id. (discord.py's `ForumChannel` option
    offers media channels too, type 16, which Discord's published spec does not list for options.)"""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.forum]

    async def transform(self, interaction: discord.Interaction[NexusBot], value: Any, /) -> int:
        return int(value.id)


class NexusCog(commands.GroupCog, group_name="nexus", group_description="About Nexus and its settings"):
    def __init__(
        self,
        bot: NexusBot,
        guild_settings: GuildSettingsService,
        privacy: PrivacyService,
        digest: DigestService,
        readme: ReadmeService,
        web: WebSettingsService,
    ) -> None:
        self._bot = bot
        self._web = web
        self._guild_settings = guild_settings
        self._privacy = privacy
        self._digest = digest
        self._readme = readme

    digest = app_commands.Group(name="digest", description="The weekly digest of this server")

    @app_commands.command(name="profile", description="Your choices: publishing on the web hub, credit by name")
    @app_commands.describe(
        web="May your entries be published on the web hub? (off until you say so)",
        credit="Be named on the web hub and in others' READMEs? (off by default)",
    )
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def profile(
        self, interaction: discord.Interaction, web: bool | None = None, credit: bool | None = None
    ) -> None:
        guild_id, user = interaction.guild_id or 0, interaction.user
        changed = web is not None or credit is not None
        if changed:
            choices = await self._readme.set_choices(guild_id, user.id, user.display_name, web=web, credit=credit)
        else:
            choices = await self._readme.choices(guild_id, user.id)
        name = discord.utils.escape_mentions(discord.utils.escape_markdown(user.display_name))
        await replies.send(interaction, choices_text(choices, name, changed=changed), ephemeral=True)

    @app_commands.command(name="readme", description="Your own Project Nexus README, from what you logged")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(3, 60.0)
    async def readme(self, interaction: discord.Interaction) -> None:
        await replies.defer(interaction, ephemeral=True, thinking=True)
        guild = interaction.guild
        written = await self._readme.readme(
            interaction.guild_id or 0,
            interaction.user.id,
            name=interaction.user.display_name,
            community=guild.name if guild else "this server",
        )
        file = discord.File(io.BytesIO(written.document.encode("utf-8")), filename=written.filename)
        await replies.send(interaction, embed=to_embed(written.preview), file=file, ephemeral=True)

    @app_commands.command(
        name="setup", description="This server's settings: channels, moderators and the weekly digest"
    )
    @app_commands.describe(
        challenge_channel="The channel whose “Challenge:” posts are logged",
        challenge_forum="A forum channel whose posts are challenges (title, starter message, tags as topics)",
        pairing_channel="Where pair threads are opened",
        moderator_role="Members with this role may edit, accept and delete for others",
        digest_channel="Where the weekly digest is posted",
        digest_day="The weekday the digest is posted (default Monday)",
        digest_hour="The hour the digest is posted, 0-23 UTC (default 9)",
        web="Publish on the web hub the solved challenges of members who consent (off by default)",
    )
    @app_commands.choices(
        digest_day=[app_commands.Choice(name=name, value=number) for number, name in enumerate(WEEKDAYS)]
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup(
        self,
        interaction: discord.Interaction,
        challenge_channel: discord.TextChannel | None = None,
        challenge_forum: app_commands.Transform[int, ForumOption] | None = None,
        pairing_channel: discord.TextChannel | None = None,
        moderator_role: discord.Role | None = None,
        digest_channel: discord.TextChannel | None = None,
        digest_day: int | None = None,
        digest_hour: app_commands.Range[int, 0, 23] | None = None,
        web: bool | None = None,
    ) -> None:
        guild_id = interaction.guild_id or 0
        changes: dict[str, int] = {}
        if challenge_channel is not None:
            changes["challenge_channel_id"] = challenge_channel.id
        if challenge_forum is not None:
            changes["challenge_forum_id"] = challenge_forum
        if pairing_channel is not None:
            changes["pairing_channel_id"] = pairing_channel.id
        if moderator_role is not None:
            changes["moderator_role_id"] = moderator_role.id
        if digest_channel is not None:
            changes["digest_channel_id"] = digest_channel.id
        if digest_day is not None:
            changes["digest_day"] = digest_day
        if digest_hour is not None:
            changes["digest_hour"] = digest_hour
        settings = (
            await self._guild_settings.update(guild_id, **changes, now=self._digest.now())
            if changes
            else await self._guild_settings.get(guild_id)
        )
        guild = interaction.guild
        if web is not None:
            hub = await self._web.set_web(guild_id, guild.name if guild else str(guild_id), web)
        else:
            hub = await self._web.get(guild_id)
        # A newly watched channel's topic may already say its posts are published.
        publishing = await record_notices(guild, self._guild_settings, self._web) if guild else frozenset()
        watched = ", ".join(f"<#{channel}>" for channel in sorted(settings.challenge_channel_ids)) or "none"
        lines = [
            "Saved." if changes or web is not None else "Nothing changed; these are the current settings.",
            f"Challenge channels: {watched}",
            f"Challenge forums: {', '.join(f'<#{forum}>' for forum in sorted(settings.challenge_forum_ids)) or 'none'}",
            f"Pairing channel: {f'<#{settings.pairing_channel_id}>' if settings.pairing_channel_id else 'none'}",
            f"Moderator role: {f'<@&{settings.moderator_role_id}>' if settings.moderator_role_id else 'none'}",
        ]
        lines.append(self._digest_line(settings))
        lines.extend(self._web_lines(hub, publishing))
        if (settings.challenge_channel_ids or settings.challenge_forum_ids) and not self._bot.reads_messages:
            lines.append(
                "In-channel posts are not read yet: restart Nexus (with the Message Content intent on) to start."
            )
        await replies.send(interaction, "\n".join(lines), ephemeral=True)

    def _web_lines(self, hub: WebSetting, publishing: frozenset[int]) -> list[str]:
        if not hub.enabled:
            lines = [
                "Web hub: off; nothing of this server is on the web. `web:True` publishes the solved challenges of "
                "members who consent (`/nexus profile web:True`)."
            ]
        elif (address := server_page(self._bot.web_base_url, hub.slug)) is not None:
            lines = [f"Web hub: on, at {address} (only entries of members who consent)."]
        else:
            lines = [
                "Web hub: on (only entries of members who consent); its address shows once NEXUS_WEB_BASE_URL is set."
            ]
        if publishing:
            channels = ", ".join(f"<#{channel}>" for channel in sorted(publishing))
            lines.append(
                f"Posting in {channels} counts as consent: the topic says posts there are published on the web hub "
                "(members who chose `/nexus profile web:False` are never published)."
            )
        return lines

    def _digest_line(self, settings: ServerSettings) -> str:
        schedule = self._digest.schedule(settings.digest_day, settings.digest_hour)
        if settings.digest_channel_id is None:
            return (
                f"Weekly digest: off (it would go out {schedule.describe()}); choose a `digest_channel` to turn it on."
            )
        first = int(next_slot(schedule, self._digest.now()).timestamp())
        return (
            f"Weekly digest: in <#{settings.digest_channel_id}> {schedule.describe()} "
            f"(Nexus has no server timezone setting, so the hour is UTC); next one <t:{first}:F>."
        )

    @digest.command(name="preview", description="Moderators: this week's digest so far, shown only to you")
    @app_commands.guild_only()
    async def digest_preview(self, interaction: discord.Interaction) -> None:
        person = await self._bot.person(interaction)
        if not person.is_moderator:
            raise PermissionDeniedError(
                "Only moderators (Manage Messages, or the server's moderator role) can preview the digest. "
                "It is posted every week in the digest channel for everyone."
            )
        guild_id = interaction.guild_id or 0
        settings = await self._guild_settings.get(guild_id)
        schedule = self._digest.schedule(settings.digest_day, settings.digest_hour)
        data = await self._digest.preview(guild_id, self._digest.now())
        note = self._digest_line(settings)
        embed = to_embed(render_digest(data, schedule, preview=True))
        await replies.send(interaction, note, embed=embed, ephemeral=True)

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

    def _server_label(self, guild_id: int) -> str:
        """The server's name while Nexus is still in it, else its id: plain text, as autocomplete shows it."""
        guild = self._bot.get_guild(guild_id)
        return f"server {guild_id}" if guild is None else guild.name[:100]

    def _server_name(self, guild_id: int) -> str:
        """The label neutralised for a message, where it is shown in bold."""
        return discord.utils.escape_mentions(discord.utils.escape_markdown(self._server_label(guild_id)))

    async def _servers_of(self, user_id: int) -> list[int]:
        """The member's servers with data: those Nexus is still in first, by name, then the others by id."""
        guild_ids = await self._privacy.servers_of(user_id)
        known = {guild_id: guild.name.casefold() for guild_id in guild_ids if (guild := self._bot.get_guild(guild_id))}
        return sorted(guild_ids, key=lambda guild_id: (guild_id not in known, known.get(guild_id, ""), guild_id))

    async def _chosen_server(self, user_id: int, chosen: str) -> int:
        """The server the `server` option names: an id (what autocomplete fills in) or one of their servers' names."""
        text = chosen.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        for guild_id in await self._servers_of(user_id):
            if self._server_label(guild_id).casefold() == text.casefold():
                return guild_id
        raise InvalidInputError(
            "Pick one of the servers the `server` option suggests (the servers where Nexus holds data about you), "
            "or leave it out to be forgotten in every one of them."
        )

    @app_commands.command(
        name="forget-me",
        description="Delete your pairing data and remove your name (or your text too) from your challenges",
    )
    @app_commands.describe(
        server="From a DM: the one server to forget you in (default: every server holding data about you)"
    )
    @app_commands.checks.cooldown(2, 60.0)
    async def forget_me(self, interaction: discord.Interaction, server: str | None = None) -> None:
        user_id = interaction.user.id
        here = server is None and interaction.guild_id is not None
        if server is not None:
            guild_ids = [await self._chosen_server(user_id, server)]
        elif interaction.guild_id is not None:
            guild_ids = [interaction.guild_id]
        else:
            guild_ids = await self._servers_of(user_id)
            if not guild_ids:
                await replies.send(interaction, NOTHING_ANYWHERE, ephemeral=True)
                return
        held = await self._privacy.footprints(user_id, guild_ids)
        names = {guild_id: self._server_name(guild_id) for guild_id in guild_ids}

        async def forget(erase_text: bool) -> str:
            # Exactly the servers the confirmation listed, whatever was logged since.
            results = await self._privacy.forget_in(user_id, guild_ids, erase_text=erase_text)
            return forget_summary(results, names, here=here)

        view = ForgetMeView(user_id, forget)
        question = forget_question(names, held, here=here)
        view.message = await replies.send(interaction, question, view=view, ephemeral=True)

    @forget_me.autocomplete("server")
    async def _server_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().casefold()
        choices = []
        for guild_id in await self._servers_of(interaction.user.id):
            name = self._server_label(guild_id)
            if typed in name.casefold() or typed in str(guild_id):
                choices.append(app_commands.Choice(name=name, value=str(guild_id)))
        return choices[:25]


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the nexus extension needs a NexusBot")
    await bot.add_cog(
        NexusCog(
            bot,
            bot.services.guild_settings,
            bot.services.privacy,
            bot.services.digest,
            bot.services.readme,
            bot.services.web,
        )
    )
