"""Topic lookup and rendering: the knowledge base, its index, and the solved challenges per topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.embeds import EmbedSpec
from bot.errors import NotFoundError, RateLimitedError, TopicNotFoundError
from bot.knowledge import Category, KnowledgeBase, TopicCard, TopicChoice, TopicIndex
from bot.knowledge.render import (
    BROWSER_PAGE_SIZE,
    SolvedChallenges,
    page_count,
    render_card,
    render_category,
    render_overview,
)
from bot.ratelimit import SlidingWindowLimiter


class SolvedChallengeSource(Protocol):
    """Where a card's "solved challenges" come from (the challenge log, once it exists)."""

    async def solved_for_topic(self, guild_id: int | None, slug: str, limit: int) -> SolvedChallenges: ...


class TopicService:
    TOP_SOLVED = 3
    # One person may post this many public cards per minute; private cards are never limited.
    PUBLIC_CARDS_PER_MINUTE = 3

    def __init__(
        self,
        knowledge_base: KnowledgeBase,
        solved: SolvedChallengeSource,
        public_cards: SlidingWindowLimiter | None = None,
    ) -> None:
        self._knowledge_base = knowledge_base
        self._public_cards = public_cards or SlidingWindowLimiter(self.PUBLIC_CARDS_PER_MINUTE, 60.0)
        self._index = TopicIndex(knowledge_base.cards)
        self._titles = {card.slug: card.title for card in knowledge_base.cards}
        self._solved = solved

    @property
    def knowledge_base(self) -> KnowledgeBase:
        return self._knowledge_base

    def autocomplete(self, query: str) -> list[TopicChoice]:
        return self._index.autocomplete(query)

    def find(self, name: str) -> TopicCard:
        """The card for a slug, title, alias or close misspelling; `TopicNotFoundError` otherwise."""
        card = self._index.get(name) or self._index.resolve(name) or self._index.closest(name)
        if card is not None:
            return card
        suggestions = self._index.suggestions(name)
        # A single candidate is the answer, not a question.
        if len(suggestions) == 1:
            return suggestions[0]
        raise TopicNotFoundError(name, [card.title for card in suggestions])

    async def card(
        self, name: str, guild_id: int | None, *, public_by: int | None = None
    ) -> tuple[TopicCard, EmbedSpec]:
        """The card and its embed; `public_by` is the user posting it publicly, who is rate limited."""
        card = self.find(name)
        if public_by is not None:
            wait = self._public_cards.acquire(public_by)
            if wait:
                raise RateLimitedError(wait, "post a public card (private ones are not limited)")
        # A server's log is its own: outside a server (a DM) the card shows no community part at all.
        solved = (
            SolvedChallenges()
            if guild_id is None
            else await self._solved.solved_for_topic(guild_id, card.slug, self.TOP_SOLVED)
        )
        return card, render_card(card, self._titles, solved)

    def overview(self) -> EmbedSpec:
        return render_overview({category: len(cards) for category, cards in self._knowledge_base.by_category.items()})

    def category_page(self, category: Category, page: int) -> tuple[Sequence[TopicCard], int, EmbedSpec]:
        """The cards on `page` of `category` (clamped to the pages there are), the page count, the embed."""
        cards = self._knowledge_base.by_category.get(category)
        if not cards:
            raise NotFoundError(f"No topics in **{category.label}** yet. Browse the others with `/topics`.")
        pages = page_count(len(cards))
        page = min(max(page, 0), pages - 1)
        shown = cards[page * BROWSER_PAGE_SIZE : (page + 1) * BROWSER_PAGE_SIZE]
        return shown, pages, render_category(category, cards, page)
