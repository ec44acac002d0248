"""`/challenge …` and the message menus "Log as challenge" and "Mark as solution"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.challenges.parsing import parse_solution, split_title
from bot.core.embeds import EmbedSpec
from bot.core.errors import InvalidInputError, PermissionDeniedError, size_text
from bot.interactions import replies
from bot.services.challenges import ChallengeService, Logged, Person, SolutionLogged, parse_since
from bot.services.web import WebSettingsService
from cogs._shared import readable_by_everyone, to_embed
from cogs._weblinks import link_button
from cogs.challenges._render import (
    acknowledgement,
    challenge_embed,
    leaderboard_embed,
    page_embed,
    search_embed,
)
from cogs.challenges._views import (
    ChooseChallengeModal,
    NewChallengeModal,
    PagerView,
    SolutionModal,
    accept_button_view,
    challenge_view_buttons,
)

PersonOf = Callable[[discord.Interaction], Awaitable[Person]]
# Exports a member may ask for in a while: enough to narrow one down with filters, not to keep the bot busy.
EXPORTS_PER_MEMBER = 3
EXPORT_COOLDOWN_SECONDS = 300.0
PRIVATE_SOURCE = (
    "This message is in a private channel or thread: the challenge log is server-wide, so nothing that not "
    "every member can read is copied into it. Post it where everyone can read it, or log it with `/challenge new`."
)
NO_VISIBLE_TEXT = (
    "The message has no visible text to log: formatting marks, invisible characters and attachments alone "
    "are not logged. Log the challenge with `/challenge new` instead."
)


class ChallengesCog(commands.GroupCog, group_name="challenge", group_description="The log of challenges and solutions"):
    def __init__(
        self,
        challenges: ChallengeService,
        person_of: PersonOf,
        tree: app_commands.CommandTree,
        *,
        web: WebSettingsService | None = None,
        web_base_url: str | None = None,
    ) -> None:
        self._challenges = challenges
        # "View on the web" on `/challenge show`, for a challenge the hub publishes.
        self._web = web
        self._web_base_url = web_base_url
        self._person_of = person_of
        self._tree = tree
        self._menus = [
            app_commands.ContextMenu(name="Log as challenge", callback=self.log_as_challenge),
            app_commands.ContextMenu(name="Mark as solution", callback=self.mark_as_solution),
        ]
        for menu in self._menus:
            menu.guild_only = True

    async def cog_load(self) -> None:
        for menu in self._menus:
            self._tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self._menus:
            self._tree.remove_command(menu.name, type=menu.type)

    async def _announce(self, interaction: discord.Interaction, logged: Logged) -> None:
        challenge = logged.challenge
        await replies.send(
            interaction,
            acknowledgement(logged, self._challenges.topic_title),
            embed=to_embed(challenge_embed(challenge, self._challenges.topic_title)),
            view=challenge_view_buttons(challenge),
        )

    # ----- commands --------------------------------------------------------------------------

    @app_commands.command(name="new", description="Log a challenge: title, details, topics, what you tried")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(10, 60.0)
    async def new(self, interaction: discord.Interaction) -> None:
        await replies.send_modal(interaction, NewChallengeModal(self._challenges, self._announce))

    @app_commands.command(name="solve", description="Add a solution to a challenge")
    @app_commands.describe(id="The challenge: type its number or words of its title")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def solve(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        challenge = await self._challenges.show(interaction.guild_id or 0, id)
        await replies.send_modal(interaction, SolutionModal(self._challenges, challenge))

    @solve.autocomplete("id")
    async def solve_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        choices = await self._challenges.autocomplete(interaction.guild_id or 0, current)
        return [app_commands.Choice(name=name, value=value) for value, name in choices]

    @app_commands.command(name="accept", description="Accept a solution: the challenge becomes solved")
    @app_commands.describe(id="The challenge's number", solution="The solution's number")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def accept(
        self,
        interaction: discord.Interaction,
        id: app_commands.Range[int, 1],
        solution: app_commands.Range[int, 1],
    ) -> None:
        challenge = await self._challenges.accept(
            interaction.guild_id or 0, id, solution, await self._person_of(interaction)
        )
        await replies.send(
            interaction,
            f"Solution #{solution} is accepted: challenge #{id} is solved.",
            embed=to_embed(challenge_embed(challenge, self._challenges.topic_title)),
        )

    @app_commands.command(name="show", description="A challenge with its solutions, accepted one first")
    @app_commands.describe(id="The challenge's number")
    @app_commands.guild_only()
    async def show(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        challenge = await self._challenges.show(interaction.guild_id or 0, id)
        view = challenge_view_buttons(challenge)
        if self._web is not None:
            page = await self._web.challenge_url(interaction.guild_id or 0, challenge.id, self._web_base_url)
            if page is not None:
                view.add_item(link_button(page))
        await replies.send(
            interaction, embed=to_embed(challenge_embed(challenge, self._challenges.topic_title)), view=view
        )

    @app_commands.command(name="list", description="Challenges, newest first, or the open queue oldest first")
    @app_commands.describe(
        status="Only open or only solved challenges",
        topic="Only challenges about this topic",
        author="Only challenges this member logged",
        sort="newest first, or oldest first (with status:open, the queue that needs helpers)",
    )
    @app_commands.guild_only()
    async def list_(
        self,
        interaction: discord.Interaction,
        status: Literal["open", "solved"] | None = None,
        topic: str | None = None,
        author: discord.User | None = None,
        sort: Literal["newest", "oldest"] = "newest",
    ) -> None:
        guild_id = interaction.guild_id or 0
        title = "Open challenges, oldest first" if (status, sort) == ("open", "oldest") else "Challenges"

        async def render(page: int) -> tuple[EmbedSpec, int]:
            result = await self._challenges.list_challenges(
                guild_id,
                status=status,
                topic=topic,
                author_id=author.id if author else None,
                sort=sort,
                page=page,
            )
            return page_embed(result, title, self._challenges.topic_title), result.pages

        spec, pages = await render(0)
        if pages <= 1:
            await replies.send(interaction, embed=to_embed(spec), ephemeral=True)
            return
        view = PagerView(interaction.user.id, pages, render)
        view.message = await replies.send(interaction, embed=to_embed(spec), view=view, ephemeral=True)

    @list_.autocomplete("topic")
    async def list_topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        choices = await self._challenges.topic_choices(current, interaction.guild_id, interaction.user.id)
        return [app_commands.Choice(name=name, value=slug) for name, slug in choices]

    @app_commands.command(name="leaderboard", description="Members whose solutions were accepted most")
    @app_commands.describe(period="This week, this month or all time")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def leaderboard(
        self, interaction: discord.Interaction, period: Literal["week", "month", "all"] = "all"
    ) -> None:
        entries = await self._challenges.leaderboard(interaction.guild_id or 0, period)
        await replies.send(interaction, embed=to_embed(leaderboard_embed(entries, period)))

    @app_commands.command(name="search", description="Full-text search of challenges and solutions, error text too")
    @app_commands.describe(query="Words, or an error message such as IntegrityError or 502 Bad Gateway")
    @app_commands.guild_only()
    async def search(self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]) -> None:
        results = await self._challenges.search(interaction.guild_id or 0, query)
        await replies.send(interaction, embed=to_embed(search_embed(query, results)), ephemeral=True)

    @app_commands.command(name="export", description="A “Challenges & Solutions” document, grouped by topic")
    @app_commands.describe(
        format="Markdown (default) or CSV",
        topic="Only challenges about this topic",
        status="Only open or only solved challenges",
        since="Only challenges logged on or after this date, written YYYY-MM-DD",
    )
    @app_commands.guild_only()
    @app_commands.checks.cooldown(EXPORTS_PER_MEMBER, EXPORT_COOLDOWN_SECONDS)
    async def export(
        self,
        interaction: discord.Interaction,
        format: Literal["markdown", "csv"] = "markdown",
        topic: str | None = None,
        status: Literal["open", "solved"] | None = None,
        since: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        starts = parse_since(since) if since else None
        await replies.defer(interaction, ephemeral=True, thinking=True)
        guild = interaction.guild
        # What Discord says this interaction may upload, and what discord.py reckons for the server's boost tier.
        limit = min(interaction.filesize_limit, guild.filesize_limit) if guild else interaction.filesize_limit
        async with self._challenges.export_file(
            interaction.guild_id or 0,
            community=guild.name if guild else "this server",
            format=format,
            limit=limit,
            topic=topic,
            status=status,
            since=starts,
        ) as exported:
            count = exported.challenges
            summary = f"{count:,} {'challenge' if count == 1 else 'challenges'} ({size_text(exported.size)})."
            file = discord.File(exported.path, filename=exported.filename)
            await replies.send(interaction, summary, file=file, ephemeral=True)

    @export.autocomplete("topic")
    async def export_topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        choices = await self._challenges.topic_choices(current, interaction.guild_id, interaction.user.id)
        return [app_commands.Choice(name=name, value=slug) for name, slug in choices]

    @app_commands.command(name="delete", description="Delete a challenge (kept for audit); author or moderator")
    @app_commands.describe(id="The challenge's number")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def delete(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        challenge = await self._challenges.delete(interaction.guild_id or 0, id, await self._person_of(interaction))
        await replies.send(interaction, f"Challenge #{challenge.id} is deleted.", ephemeral=True)

    # ----- message menus ---------------------------------------------------------------------

    @app_commands.checks.cooldown(5, 60.0)
    async def log_as_challenge(self, interaction: discord.Interaction, message: discord.Message) -> None:
        person = await self._person_of(interaction)
        if message.author.id != person.id and not person.is_moderator:
            raise PermissionDeniedError("Only the message's author or a moderator can log it as a challenge.")
        if not readable_by_everyone(interaction.channel):  # the menu runs in the message's channel
            raise PermissionDeniedError(PRIVATE_SOURCE)
        if message.author.bot or message.webhook_id is not None:
            raise InvalidInputError("Messages of bots and webhooks are not logged.")
        try:
            title, details = split_title(message.content)
        except ValueError:
            raise InvalidInputError(NO_VISIBLE_TEXT) from None
        logged = await self._challenges.log_challenge(
            guild_id=interaction.guild_id or 0,
            channel_id=message.channel.id,
            author=Person(message.author.id, message.author.display_name),
            logged_by=person,  # the cap is the invoker's (moderators have none), not the message author's
            title=title,
            details=details,
            source_message_id=message.id,
        )
        if logged.restored:
            await replies.send(
                interaction,
                f"Challenge #{logged.challenge.id} had been deleted; it is restored.",
                embed=to_embed(challenge_embed(logged.challenge, self._challenges.topic_title)),
                view=challenge_view_buttons(logged.challenge),
            )
            return
        if not logged.created:
            await replies.send(
                interaction, f"That message is already challenge #{logged.challenge.id}.", ephemeral=True
            )
            return
        await self._announce(interaction, logged)

    @app_commands.checks.cooldown(5, 60.0)
    async def mark_as_solution(self, interaction: discord.Interaction, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None:
            raise InvalidInputError("Messages of bots and webhooks are not logged.")
        if not readable_by_everyone(interaction.channel):  # the menu runs in the message's channel
            raise PermissionDeniedError(PRIVATE_SOURCE)
        body = parse_solution(message.content) or message.content.strip()
        if not body:
            raise InvalidInputError("The message has no text to log as a solution.")
        guild_id = interaction.guild_id or 0
        target = None
        if message.reference and message.reference.message_id:
            target = await self._challenges.challenge_for_message(guild_id, message.reference.message_id)
        if target is None and isinstance(message.channel, discord.Thread):
            target = await self._challenges.challenge_for_message(guild_id, message.channel.id)
        if target is None:
            await replies.send_modal(interaction, ChooseChallengeModal(self._challenges, message, body))
            return
        result: SolutionLogged = await self._challenges.add_solution(
            guild_id=guild_id,
            challenge_id=target.id,
            author=Person(message.author.id, message.author.display_name),
            body=body,
            source_message_id=message.id,
            logged_by=await self._person_of(interaction),
        )
        if not result.created:
            await replies.send(
                interaction,
                f"That message is already solution #{result.solution.id} to challenge #{result.challenge.id}.",
                ephemeral=True,
            )
            return
        await replies.send(
            interaction,
            acknowledgement(result, self._challenges.topic_title),
            view=accept_button_view(result.challenge.id, result.solution.id),
        )
