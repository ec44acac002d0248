from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.usertext import user_text
from bot.interactions import replies
from bot.knowledge import Category
from bot.services import TopicService
from bot.services.web import WebSettingsService
from cogs._shared import to_embed
from cogs._weblinks import link_button, link_view
from cogs.topics._views import DeleteCardButton, TopicBrowserView

CATEGORY_CHOICES = [app_commands.Choice(name=category.label, value=category.value) for category in Category]


class TopicsCog(commands.Cog):
    def __init__(self, topics: TopicService, web: WebSettingsService, web_base_url: str | None = None) -> None:
        self._topics = topics
        self._web = web
        self._web_base_url = web_base_url

    @app_commands.command(name="topic", description="A programme topic's card: summary, key points, pitfalls, docs")
    @app_commands.describe(
        name="The topic: type a name, an alias (k8s, drf, jwt…) or part of one",
        user="Address the card to this member (they are the only one pinged)",
        private="Show the card only to you",
    )
    async def topic(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        user: discord.User | None = None,
        private: bool = False,
    ) -> None:
        public_by = None if private else interaction.user.id
        track = await self._topics.learner_track(interaction.guild_id, interaction.user.id)
        card, spec = await self._topics.card(name, interaction.guild_id, public_by=public_by, track=track)
        embed = to_embed(spec)
        page = await self._web.topic_url(interaction.guild_id, card.slug, self._web_base_url)
        content = ""
        mentions = discord.AllowedMentions.none()
        if user is not None:
            asker = user_text(interaction.user.display_name, one_line=True)
            content = f"{user.mention}, {asker} thinks this card will help you."
            mentions = discord.AllowedMentions(everyone=False, roles=False, users=[user])
        if private:
            links = link_view(page) if page is not None else discord.utils.MISSING
            await replies.send(interaction, content, embed=embed, view=links, ephemeral=True, allowed_mentions=mentions)
            return
        view = discord.ui.View(timeout=None)
        view.add_item(DeleteCardButton(owner_id=interaction.user.id))
        if page is not None:
            view.add_item(link_button(page))
        await replies.send(interaction, content, embed=embed, view=view, allowed_mentions=mentions)

    @topic.autocomplete("name")
    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        track = await self._topics.learner_track(interaction.guild_id, interaction.user.id)
        return [
            app_commands.Choice(name=choice.name, value=choice.value)
            for choice in self._topics.autocomplete(current, track)
        ]

    @app_commands.command(name="topics", description="Browse every programme topic by category")
    @app_commands.describe(category="Start in this category")
    @app_commands.choices(category=CATEGORY_CHOICES)
    async def topics(self, interaction: discord.Interaction, category: app_commands.Choice[str] | None = None) -> None:
        view = TopicBrowserView(self._topics)
        spec = self._topics.overview() if category is None else view.show_category(Category(category.value))
        view.message = await replies.send(interaction, embed=to_embed(spec), view=view, ephemeral=True)
