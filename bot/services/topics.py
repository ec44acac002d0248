"""Topic lookup and rendering: the knowledge base, its index, and the solved challenges per topic."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from bot.core.embeds import EmbedSpec
from bot.core.errors import NotFoundError, RateLimitedError, TopicNotFoundError
from bot.core.ratelimit import SlidingWindowLimiter
from bot.knowledge import Category, KnowledgeBase, TopicCard, TopicChoice, TopicIndex, categories_for_track
from bot.knowledge.render import (
    BROWSER_PAGE_SIZE,
    SolvedChallenges,
    page_count,
    render_card,
    render_category,
    render_overview,
)


class SolvedChallengeSource(Protocol):
    """Where a card's "solved challenges" come from (the challenge log, once it exists)."""

    async def solved_for_topic(self, guild_id: int | None, slug: str, limit: int) -> SolvedChallenges: ...


class LearnerTrackSource(Protocol):
    """A member's pairing track ("frontend" or "backend") in a server, if they ever gave one."""

    async def track_of(self, guild_id: int, user_id: int) -> str | None: ...


class TopicService:
    TOP_SOLVED = 3
    # One person may post this many public cards per minute; private cards are never limited.
    PUBLIC_CARDS_PER_MINUTE = 3

    def __init__(
        self,
        knowledge_base: KnowledgeBase,
        solved: SolvedChallengeSource,
        public_cards: SlidingWindowLimiter | None = None,
        tracks: LearnerTrackSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._knowledge_base = knowledge_base
        self._public_cards = public_cards or SlidingWindowLimiter(self.PUBLIC_CARDS_PER_MINUTE, 60.0)
        self._index = TopicIndex(knowledge_base.cards)
        self._titles = {card.slug: card.title for card in knowledge_base.cards}
        self._solved = solved
        self._tracks = tracks
        self._clock = clock
        # Autocomplete asks once per keystroke: a member's track is read once every few minutes.
        self._known_tracks: dict[tuple[int, int], tuple[float, str | None]] = {}

    @property
    def knowledge_base(self) -> KnowledgeBase:
        return self._knowledge_base

    TRACK_TTL = 300.0

    def autocomplete(self, query: str, track: str | None = None) -> list[TopicChoice]:
        """Choices for a typed name; a `track`'s cards (frontend or backend) come first."""
        return self._index.autocomplete(query, prefer=categories_for_track(track))

    def forget_track(self, guild_id: int, user_id: int) -> None:
        """Read the member's track afresh next time (their profile changed)."""
        self._known_tracks.pop((guild_id, user_id), None)

    async def learner_track(self, guild_id: int | None, user_id: int) -> str | None:
        """The member's pairing track in this server (cached for minutes), or None."""
        if self._tracks is None or guild_id is None:
            return None
        key = (guild_id, user_id)
        now = self._clock()
        known = self._known_tracks.get(key)
        if known is not None and now - known[0] < self.TRACK_TTL:
            return known[1]
        if len(self._known_tracks) >= 10_000:
            self._known_tracks.clear()
        track = await self._tracks.track_of(guild_id, user_id)
        self._known_tracks[key] = (now, track)
        return track

    def find(self, name: str, track: str | None = None) -> TopicCard:
        """The card a typed name means (`TopicIndex.lookup`; between several, the `track`'s);
        `TopicNotFoundError` with the close ones otherwise."""
        found = self._index.get(name) or self._index.lookup(name, prefer=categories_for_track(track))
        if isinstance(found, TopicCard):
            return found
        if found.card is not None:
            return found.card
        raise TopicNotFoundError(name, [card.title for card in found.candidates])

    async def card(
        self, name: str, guild_id: int | None, *, public_by: int | None = None, track: str | None = None
    ) -> tuple[TopicCard, EmbedSpec]:
        """The card and its embed; `public_by` is the user posting it publicly, who is rate limited."""
        card = self.find(name, track)
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
