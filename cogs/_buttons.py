"""The base of every persistent button, and of the modals and views that report their own errors.

A persistent button is a DynamicItem: after a restart discord.py rebuilds it from its custom_id (`from_match`), so
what it needs reaches it through the interaction's client (`cogs._shared.nexus`: the bot's services and the parts
its extensions provided), never a cog looked up by name. Who may press is checked in `interaction_check` (`check`),
the work is done in `pressed`; an error raised by either is answered in one place (`report_interaction_error`):
discord.py would only log it and leave the press unanswered.
"""

from __future__ import annotations

import re
from typing import Any, Self

import discord

from bot.interactions.error_replies import report_interaction_error


class PersistentButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"(?!)"):
    """Subclasses give `template=` (their custom_id pattern), `from_match`, optionally `check`, and `pressed`."""

    def __init_subclass__(cls, *, template: str | re.Pattern[str] | None = None) -> None:
        # discord.py wants a template on every subclass; an intermediate base keeps its parent's (matching nothing).
        super().__init_subclass__(template=cls.__discord_ui_compiled_template__ if template is None else template)

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        raise NotImplementedError

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls.from_match(match)

    async def check(self, interaction: discord.Interaction) -> None:
        """Raise a domain error (PermissionDeniedError) if this person may not press; anyone may by default."""

    async def pressed(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        try:
            await self.check(interaction)
        except Exception as error:
            await report_interaction_error(interaction, error)
            return False
        return True

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.pressed(interaction)
        except Exception as error:
            await report_interaction_error(interaction, error)


class ReportingModal(discord.ui.Modal):
    """A modal whose `on_submit` may raise: the error is answered privately."""

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_interaction_error(interaction, error)


class ReportingView(discord.ui.View):
    """A (non-persistent) view whose checks and callbacks may raise: the error is answered privately."""

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /) -> None:
        await report_interaction_error(interaction, error)
