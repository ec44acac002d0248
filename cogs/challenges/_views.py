"""Modals, buttons and the pager of the challenge commands."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any, Self

import discord

from bot.challenges.parsing import MAX_DETAILS, MAX_SOLUTION, MAX_TITLE
from bot.core.embeds import EmbedSpec
from bot.core.errors import InvalidInputError, PermissionDeniedError
from bot.interactions import replies
from bot.services.challenges import MAX_TRIED, ChallengeService, ChallengeView, Person
from cogs._buttons import PersistentButton, ReportingModal, ReportingView
from cogs._shared import nexus, person_of, to_embed
from cogs.challenges._render import challenge_embed
from cogs.pairing import FindPartnerButton

PAGER_TIMEOUT_SECONDS = 180.0
MAX_ACCEPT_BUTTONS = 20  # four rows of five; the fifth row keeps Edit


def service_of(interaction: discord.Interaction) -> ChallengeService:
    return nexus(interaction).services.challenges


class AcceptButton(
    PersistentButton,
    template=r"nexus:challenge:accept:(?P<challenge>[0-9]{1,18}):(?P<solution>[0-9]{1,18})",
):
    """Accept one solution; works after restarts. Only the challenge's author or a moderator may."""

    def __init__(self, challenge_id: int, solution_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Accept #{solution_id}",
                style=discord.ButtonStyle.success,
                custom_id=f"nexus:challenge:accept:{challenge_id}:{solution_id}",
            )
        )
        self.challenge_id = challenge_id
        self.solution_id = solution_id

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["challenge"]), int(match["solution"]))

    async def pressed(self, interaction: discord.Interaction) -> None:
        service = service_of(interaction)
        challenge = await service.accept(
            interaction.guild_id or 0, self.challenge_id, self.solution_id, await person_of(interaction)
        )
        await replies.send(
            interaction,
            f"Solution #{self.solution_id} is accepted: challenge #{challenge.id} is solved. Thank you!",
            embed=to_embed(challenge_embed(challenge, service.topic_title)),
        )


class EditButton(
    PersistentButton,
    template=r"nexus:challenge:edit:(?P<challenge>[0-9]{1,18})",
):
    """Opens the edit modal: title, details and topics (how an author corrects inferred topics)."""

    def __init__(self, challenge_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Edit",
                style=discord.ButtonStyle.secondary,
                custom_id=f"nexus:challenge:edit:{challenge_id}",
            )
        )
        self.challenge_id = challenge_id

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["challenge"]))

    async def check(self, interaction: discord.Interaction) -> None:
        self._challenge = await service_of(interaction).show(interaction.guild_id or 0, self.challenge_id)
        person = await person_of(interaction)
        if not person.is_moderator and self._challenge.author_id != person.id:
            raise PermissionDeniedError("Only the challenge's author or a moderator can edit it.")

    async def pressed(self, interaction: discord.Interaction) -> None:
        await replies.send_modal(interaction, EditChallengeModal(service_of(interaction), self._challenge))


def challenge_view_buttons(challenge: ChallengeView) -> discord.ui.View:
    """Accept buttons for the solutions not yet accepted, Edit, and, while it is open, a study partner for it."""
    view = discord.ui.View(timeout=None)
    for solution in [item for item in challenge.solutions if not item.accepted][:MAX_ACCEPT_BUTTONS]:
        view.add_item(AcceptButton(challenge.id, solution.id))
    view.add_item(EditButton(challenge.id))
    if challenge.status == "open":
        view.add_item(FindPartnerButton(challenge.id))
    return view


def accept_button_view(challenge_id: int, solution_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AcceptButton(challenge_id, solution_id))
    return view


class NewChallengeModal(ReportingModal, title="Log a challenge"):
    def __init__(self, service: ChallengeService, on_logged: Callable[[discord.Interaction, Any], Awaitable[None]]):
        super().__init__(timeout=900)
        self._service = service
        self._on_logged = on_logged
        self.challenge_title: discord.ui.TextInput[NewChallengeModal] = discord.ui.TextInput(
            label="Title", placeholder="Slow queries on large tables", max_length=MAX_TITLE
        )
        self.details: discord.ui.TextInput[NewChallengeModal] = discord.ui.TextInput(
            label="Details",
            style=discord.TextStyle.paragraph,
            placeholder="What happens, what you expected, the error text",
            max_length=MAX_DETAILS,
        )
        self.topic: discord.ui.TextInput[NewChallengeModal] = discord.ui.TextInput(
            label="Topics (optional, comma-separated)",
            placeholder="django orm, indexing",
            required=False,
            max_length=200,
        )
        self.tried: discord.ui.TextInput[NewChallengeModal] = discord.ui.TextInput(
            label="What you tried (optional)",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=MAX_TRIED,
        )
        for item in (self.challenge_title, self.details, self.topic, self.tried):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        person = await person_of(interaction)
        logged = await self._service.log_challenge(
            guild_id=interaction.guild_id or 0,
            channel_id=interaction.channel_id or 0,
            author=person,
            title=self.challenge_title.value,
            details=self.details.value,
            tried=self.tried.value or None,
            topics=self.topic.value or None,
        )
        await self._on_logged(interaction, logged)


class SolutionModal(ReportingModal, title="Add a solution"):
    def __init__(self, service: ChallengeService, challenge: ChallengeView) -> None:
        super().__init__(timeout=900)
        self._service = service
        self._challenge = challenge
        self.body: discord.ui.TextInput[SolutionModal] = discord.ui.TextInput(
            label=f"Solution to #{challenge.id}"[:45],
            style=discord.TextStyle.paragraph,
            placeholder="What worked, step by step",
            max_length=MAX_SOLUTION,
        )
        self.add_item(self.body)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        logged = await self._service.add_solution(
            guild_id=interaction.guild_id or 0,
            challenge_id=self._challenge.id,
            author=await person_of(interaction),
            body=self.body.value,
        )
        await replies.send(
            interaction,
            f"Solution #{logged.solution.id} logged for challenge #{logged.challenge.id}. "
            "Its author can accept it with the button below.",
            embed=to_embed(challenge_embed(logged.challenge, self._service.topic_title)),
            view=accept_button_view(logged.challenge.id, logged.solution.id),
        )


class ChooseChallengeModal(ReportingModal, title="Mark as solution"):
    """For "Mark as solution" on a message that is neither a reply to nor in a thread of a challenge."""

    def __init__(self, service: ChallengeService, message: discord.Message, body: str) -> None:
        super().__init__(timeout=600)
        self._service = service
        self._message = message
        self._body = body
        self.number: discord.ui.TextInput[ChooseChallengeModal] = discord.ui.TextInput(
            label="Challenge number", placeholder="12", max_length=18
        )
        self.add_item(self.number)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        text = self.number.value.strip().lstrip("#")
        if not (text.isascii() and text.isdigit()):
            raise InvalidInputError("Type the challenge's number, e.g. `12`. Find it with `/challenge search`.")
        author = self._message.author
        logged = await self._service.add_solution(
            guild_id=interaction.guild_id or 0,
            challenge_id=int(text),
            author=Person(author.id, author.display_name),
            body=self._body,
            source_message_id=self._message.id,
            logged_by=await person_of(interaction),
        )
        await replies.send(
            interaction,
            f"Logged as solution #{logged.solution.id} to challenge #{logged.challenge.id}.",
            view=accept_button_view(logged.challenge.id, logged.solution.id),
        )


class EditChallengeModal(ReportingModal, title="Edit the challenge"):
    def __init__(self, service: ChallengeService, challenge: ChallengeView) -> None:
        super().__init__(timeout=900)
        self._service = service
        self._challenge = challenge
        self.challenge_title: discord.ui.TextInput[EditChallengeModal] = discord.ui.TextInput(
            label="Title", default=challenge.title, max_length=MAX_TITLE
        )
        self.details: discord.ui.TextInput[EditChallengeModal] = discord.ui.TextInput(
            label="Details",
            style=discord.TextStyle.paragraph,
            default=challenge.details[:MAX_DETAILS] or None,
            required=False,
            max_length=MAX_DETAILS,
        )
        self.topics: discord.ui.TextInput[EditChallengeModal] = discord.ui.TextInput(
            label="Topics (comma-separated; empty: inferred)",
            default=", ".join(service.topic_title(slug) for slug in challenge.topics)[:200] or None,
            required=False,
            max_length=200,
        )
        for item in (self.challenge_title, self.details, self.topics):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        updated = await self._service.edit(
            interaction.guild_id or 0,
            self._challenge.id,
            await person_of(interaction),
            title=self.challenge_title.value,
            details=self.details.value,
            topics=self.topics.value or None,
        )
        await replies.send(
            interaction,
            f"Challenge #{updated.id} updated.",
            embed=to_embed(challenge_embed(updated, self._service.topic_title)),
            ephemeral=True,
        )


class PagerView(ReportingView):
    """Previous / Next for a paginated reply: only the person who asked can turn pages."""

    def __init__(self, owner_id: int, pages: int, render: Callable[[int], Awaitable[tuple[EmbedSpec, int]]]) -> None:
        super().__init__(timeout=PAGER_TIMEOUT_SECONDS)
        self._owner_id = owner_id
        self._render = render
        self.page = 0
        self.pages = pages
        self.message: discord.Message | None = None
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self._owner_id:
            raise PermissionDeniedError("Only the person who asked can turn these pages; run the command yourself.")
        return True

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        spec, self.pages = await self._render(self.page + step)
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self._sync_buttons()
        await replies.edit(interaction, embed=to_embed(spec), view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="nexus:pager:previous")
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button[PagerView]) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="nexus:pager:next")
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[PagerView]) -> None:
        await self._turn(interaction, +1)

    async def on_timeout(self) -> None:
        self.previous.disabled = self.next.disabled = True
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)
