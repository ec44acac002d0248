from __future__ import annotations

import contextlib
import re
from typing import Self

import discord

from bot.core.embeds import EmbedSpec
from bot.core.errors import PermissionDeniedError
from bot.core.limits import SELECT_OPTION_DESCRIPTION, SELECT_OPTION_LABEL
from bot.interactions import replies
from bot.knowledge import Category
from bot.services import TopicService
from cogs._buttons import PersistentButton, ReportingView
from cogs._shared import person_of, to_embed

BROWSER_TIMEOUT_SECONDS = 300.0


class DeleteCardButton(
    PersistentButton,
    template=r"nexus:topic:delete:(?P<owner>[0-9]{1,20})",
):
    """Lets the person who asked for a public card (or a moderator) remove it, even after a restart.

    The id in the custom_id only names the button: a client can send any custom_id, so who asked is read from
    the card itself, the message Discord made of their `/topic` interaction.
    """

    def __init__(self, owner_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete",
                style=discord.ButtonStyle.secondary,
                custom_id=f"nexus:topic:delete:{owner_id}",
            )
        )
        self.owner_id = owner_id

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["owner"]))

    async def check(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != _asker(interaction) and not (await person_of(interaction)).is_moderator:
            raise PermissionDeniedError("Only the person who asked for this card, or a moderator, can delete it.")

    async def pressed(self, interaction: discord.Interaction) -> None:
        await replies.delete_message(interaction)


def _asker(interaction: discord.Interaction) -> int | None:
    """Who ran the command that posted the card the button is on (Discord's record, not the custom_id)."""
    metadata = interaction.message.interaction_metadata if interaction.message is not None else None
    return metadata.user.id if metadata is not None else None


def _option_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TopicBrowserView(ReportingView):
    """Ephemeral browser: a category menu, a menu of that category's cards, and page buttons when
    a category holds more cards than one menu can (25)."""

    def __init__(self, topics: TopicService) -> None:
        super().__init__(timeout=BROWSER_TIMEOUT_SECONDS)
        self._topics = topics
        self.message: discord.Message | None = None
        self._category: Category | None = None
        self._page = 0
        self._category_menu: discord.ui.Select[TopicBrowserView] = discord.ui.Select(
            placeholder="Choose a category…",
            options=[
                discord.SelectOption(
                    label=_option_text(category.label, SELECT_OPTION_LABEL),
                    value=category.value,
                    description=f"{len(cards)} topics",
                )
                for category, cards in topics.knowledge_base.by_category.items()
            ],
            custom_id="nexus:topics:category",
            row=0,
        )
        self._category_menu.callback = self._on_category  # type: ignore[method-assign]
        self.add_item(self._category_menu)
        self._topic_menu: discord.ui.Select[TopicBrowserView] | None = None
        self._previous = discord.ui.Button["TopicBrowserView"](
            label="Previous", style=discord.ButtonStyle.secondary, custom_id="nexus:topics:previous", row=2
        )
        self._next = discord.ui.Button["TopicBrowserView"](
            label="Next", style=discord.ButtonStyle.secondary, custom_id="nexus:topics:next", row=2
        )
        self._previous.callback = self._on_previous  # type: ignore[method-assign]
        self._next.callback = self._on_next  # type: ignore[method-assign]

    def show_category(self, category: Category, page: int = 0) -> EmbedSpec:
        """Select `category` at `page` and rebuild the menus below it; returns the page to show."""
        cards, pages, spec = self._topics.category_page(category, page)
        self._category, self._page = category, min(page, pages - 1)
        for option in self._category_menu.options:
            option.default = option.value == category.value
        for item in (self._topic_menu, self._previous, self._next):
            if item is not None and item in self.children:
                self.remove_item(item)
        self._topic_menu = discord.ui.Select(
            placeholder="Open a topic card…",
            options=[
                discord.SelectOption(
                    label=_option_text(card.title, SELECT_OPTION_LABEL),
                    value=card.slug,
                    description=_option_text(", ".join(card.aliases) or card.category.label, SELECT_OPTION_DESCRIPTION),
                )
                for card in cards
            ],
            custom_id="nexus:topics:card",
            row=1,
        )
        self._topic_menu.callback = self._on_topic  # type: ignore[method-assign]
        self.add_item(self._topic_menu)
        if pages > 1:
            self._previous.disabled = self._page == 0
            self._next.disabled = self._page >= pages - 1
            self.add_item(self._previous)
            self.add_item(self._next)
        return spec

    async def _on_category(self, interaction: discord.Interaction) -> None:
        spec = self.show_category(Category(self._category_menu.values[0]))
        await replies.edit(interaction, embed=to_embed(spec), view=self)

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        if self._category is None:
            await replies.send(interaction, "Choose a category first.", ephemeral=True)
            return
        spec = self.show_category(self._category, self._page + step)
        await replies.edit(interaction, embed=to_embed(spec), view=self)

    async def _on_previous(self, interaction: discord.Interaction) -> None:
        await self._turn(interaction, -1)

    async def _on_next(self, interaction: discord.Interaction) -> None:
        await self._turn(interaction, +1)

    async def _on_topic(self, interaction: discord.Interaction) -> None:
        assert self._topic_menu is not None  # noqa: S101 - the menu exists before it can be used
        slug = self._topic_menu.values[0]
        for option in self._topic_menu.options:
            option.default = option.value == slug
        _card, spec = await self._topics.card(slug, interaction.guild_id)
        await replies.edit(interaction, embed=to_embed(spec), view=self)

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Select | discord.ui.Button):
                item.disabled = True
        if self.message is not None:
            # The ephemeral message may have been dismissed already: then there is nothing to tidy.
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)
