"""The web hub, the bot's side: turning it on and off per server, published channels, and links to the hub.

What is published is decided in one place, `bot.db.web_repository` (the consent rule); this module only asks it.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.query import parse_query
from bot.core.errors import GoneError, InvalidInputError, NotFoundError
from bot.core.usertext import user_text
from bot.db.base import utcnow
from bot.db.repositories import GuildSettingsRepository
from bot.db.search import HIGHLIGHT_END, HIGHLIGHT_START, ChallengeSearchEngine, SearchHit
from bot.db.web_repository import WebChallengeRow, WebRepository, WebServer
from bot.knowledge import KnowledgeBase, TopicCard, TopicIndex

SLUG_LENGTH = 50
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class WebSetting:
    """Whether a server publishes on the hub, and its address there (kept when it is turned off)."""

    enabled: bool
    slug: str | None


def slugify(name: str) -> str:
    """A server's name as an address: ASCII letters and digits joined by `-` ("Café Devs!" -> "cafe-devs");
    "server" when nothing is left."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_SLUG.sub("-", folded).strip("-")[:SLUG_LENGTH].strip("-")
    return slug or "server"


def _free_slug(stem: str, taken: set[str]) -> str:
    if stem not in taken:
        return stem
    number = 2
    while f"{stem}-{number}" in taken:
        number += 1
    return f"{stem}-{number}"


def _base(base_url: str | None) -> str | None:
    return base_url.rstrip("/") if base_url and base_url.strip() else None


class WebSettingsService:
    """What the bot needs of the hub: `/nexus setup web:`, channels that say posts are published, and "View on the
    web" links (None whenever the page would not be there)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, guild_id: int) -> WebSetting:
        async with self._sessions() as session:
            row = await GuildSettingsRepository(session).get(guild_id)
        return WebSetting(bool(row and row.web_enabled), row.web_slug if row else None)

    async def set_web(self, guild_id: int, guild_name: str, enabled: bool) -> WebSetting:
        """Turn the hub on or off for a server. The first time it is turned on the server gets its slug, from its
        name, made unique with -2, -3…; it keeps it afterwards (renames and off/on included) so links stay valid."""
        stem = slugify(guild_name)
        for _ in range(5):  # another server may take the same slug between the read and the write
            try:
                async with self._sessions.begin() as session:
                    row = await GuildSettingsRepository(session).upsert(guild_id)
                    row.web_enabled = enabled
                    if enabled and row.web_slug is None:
                        row.web_slug = _free_slug(stem, await WebRepository(session).taken_slugs(stem))
                    row.updated_at = utcnow()
                    return WebSetting(row.web_enabled, row.web_slug)
            except IntegrityError:
                continue
        raise RuntimeError("could not assign a unique web slug after 5 attempts")

    async def set_channel_publishes(
        self, guild_id: int, channel_id: int, publishes: bool, now: datetime | None = None
    ) -> None:
        """Record that a channel's topic or forum guidelines say posts there are published (from `now`; a channel
        already marked keeps its first moment), or no longer say so. Call it only for channels @everyone can read:
        posting in a marked channel counts as consent for members who made no choice."""
        async with self._sessions.begin() as session:
            await WebRepository(session).set_channel_publishes(guild_id, channel_id, publishes, now or utcnow())

    async def published_channels(self, guild_id: int) -> dict[int, datetime]:
        async with self._sessions() as session:
            return await WebRepository(session).published_channels(guild_id)

    async def challenge_url(self, guild_id: int, number: int, base_url: str | None) -> str | None:
        """The challenge's page on the hub, or None: no base URL, the server does not publish, or this challenge is
        not published (deleted, its author forgotten or not consenting, another server's)."""
        base = _base(base_url)
        if base is None:
            return None
        async with self._sessions() as session:
            repository = WebRepository(session)
            slug = await repository.server_slug(guild_id)
            if slug is None or await repository.challenge(guild_id, number) is None:
                return None
        return f"{base}/challenges/{quote(slug)}/{number}"

    async def topic_url(self, guild_id: int | None, slug: str, base_url: str | None) -> str | None:
        """A topic card's page on the hub, or None: no base URL, or asked outside a server that publishes."""
        base = _base(base_url)
        if base is None or guild_id is None:
            return None
        async with self._sessions() as session:
            if await WebRepository(session).server_slug(guild_id) is None:
                return None
        return f"{base}/topics/{quote(slug)}"


# ----- the hub's read side (`nexus-bot web`) -------------------------------------------------------------------

ANONYMOUS = "a learner"
PAGE_SIZE = 20
# Listings count and page through at most this many (50 pages): beyond, search or filter by topic.
MAX_LISTED = 1000
SEARCH_PAGE_SIZE = 10
# How many hits the engine is asked for per server; the hub shows at most this many results of a search.
SEARCH_DEPTH = 50
MAX_QUERY = 500
MAX_PAGE = 10_000
RECENT = 10
TOPIC_CHALLENGES = 20
SITEMAP_LIMIT = 45_000


def _snippet(raw: str) -> str:
    """The engine's snippet as `/challenge search` shows it (`bot.services.challenges.render_snippet`, not imported:
    that module weighs some 4 MB the hub's process does without): user text inert, matched words in bold."""
    return user_text(raw, one_line=True).replace(HIGHLIGHT_START, "**").replace(HIGHLIGHT_END, "**")


@dataclass(frozen=True, slots=True)
class TopicRef:
    slug: str
    title: str


@dataclass(frozen=True, slots=True)
class HubSolution:
    id: int
    author: str
    body: str
    accepted: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HubChallenge:
    number: int
    server: str
    title: str
    details: str
    tried: str | None
    status: str
    topics: tuple[TopicRef, ...]
    author: str
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    solutions: tuple[HubSolution, ...] = ()
    # A search's snippet: Markdown, user text escaped, matched words in bold.
    snippet: str | None = None

    @property
    def path(self) -> str:
        return f"/challenges/{quote(self.server)}/{self.number}"


@dataclass(frozen=True, slots=True)
class HubPage:
    items: tuple[HubChallenge, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, slots=True)
class HubSearch:
    query: str
    cards: tuple[TopicCard, ...]
    challenges: HubPage


class PageOutOfRange(NotFoundError):
    """A page number past the last page."""


class WebHubService:
    """The read models of the hub. Every challenge and solution comes through `WebRepository`, hence through the
    consent rule; names are shown only for members who chose to be credited, everyone else is "a learner"."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        knowledge_base: KnowledgeBase,
        search: ChallengeSearchEngine,
    ) -> None:
        self._sessions = sessions
        self._knowledge_base = knowledge_base
        self._index = TopicIndex(knowledge_base.cards)
        self._search = search

    @property
    def knowledge_base(self) -> KnowledgeBase:
        return self._knowledge_base

    def _topic(self, slug: str) -> TopicRef:
        card = self._knowledge_base.by_slug.get(slug)
        return TopicRef(slug, card.title if card else slug.replace("-", " "))

    async def _views(
        self, repository: WebRepository, rows: Sequence[WebChallengeRow], snippets: dict[int, str] | None = None
    ) -> tuple[HubChallenge, ...]:
        credited: dict[tuple[int, int], str] = {}
        for guild_id in {row.guild_id for row in rows}:
            authors = {row.author_id for row in rows if row.guild_id == guild_id}
            for user, name in (await repository.credited_names(guild_id, authors)).items():
                credited[(guild_id, user)] = name
        return tuple(
            HubChallenge(
                number=row.id,
                server=row.slug,
                title=row.title,
                details=row.details,
                tried=row.tried,
                status=row.status,
                topics=tuple(self._topic(slug) for slug in row.topics),
                author=credited.get((row.guild_id, row.author_id), ANONYMOUS),
                created_at=row.created_at,
                updated_at=row.updated_at,
                solved_at=row.solved_at,
                snippet=(snippets or {}).get(row.id),
            )
            for row in rows
        )

    async def healthy(self) -> bool:
        async with self._sessions() as session:
            return await WebRepository(session).reachable()

    async def servers(self) -> list[WebServer]:
        async with self._sessions() as session:
            return await WebRepository(session).servers()

    async def recent_solved(self, limit: int = RECENT) -> tuple[HubChallenge, ...]:
        async with self._sessions() as session:
            repository = WebRepository(session)
            return await self._views(repository, await repository.page(status="solved", limit=limit))

    async def solved_for_topic(self, slug: str, limit: int = TOPIC_CHALLENGES) -> tuple[HubChallenge, ...]:
        async with self._sessions() as session:
            repository = WebRepository(session)
            return await self._views(repository, await repository.page(status="solved", topic=slug, limit=limit))

    async def challenge(self, server: str, number: int) -> HubChallenge:
        """The challenge with its published solutions, accepted first. `GoneError` for a deleted one that would be
        published otherwise; `NotFoundError` for everything else (unknown, not published, another server's)."""
        async with self._sessions() as session:
            repository = WebRepository(session)
            found = await repository.server_by_slug(server)
            if found is None:
                raise NotFoundError("No such server on the hub.")
            row = await repository.challenge(found.guild_id, number)
            if row is None:
                if await repository.gone(found.guild_id, number):
                    raise GoneError("This challenge was deleted.")
                raise NotFoundError("No such challenge on the hub.")
            (view,) = await self._views(repository, [row])
            solutions = await repository.solutions(row.id)
            credited = await repository.credited_names(found.guild_id, {solution.author_id for solution in solutions})
        return replace(
            view,
            solutions=tuple(
                HubSolution(s.id, credited.get(s.author_id, ANONYMOUS), s.body, s.accepted, s.created_at)
                for s in solutions
            ),
        )

    async def listing(
        self, *, server: str | None = None, status: str | None = None, topic: str | None = None, page: int = 1
    ) -> HubPage:
        """Published challenges, newest first, a page of `PAGE_SIZE`, the newest `MAX_LISTED` only (`total` is
        counted up to that); `PageOutOfRange` past the last page."""
        async with self._sessions() as session:
            repository = WebRepository(session)
            guild_id = None
            if server is not None:
                found = await repository.server_by_slug(server)
                if found is None:
                    raise NotFoundError("No such server on the hub.")
                guild_id = found.guild_id
            total = await repository.count(guild_id=guild_id, status=status, topic=topic, cap=MAX_LISTED)
            pages = max(1, -(-total // PAGE_SIZE))
            if page > pages:
                raise PageOutOfRange(f"There are {pages} pages.")
            rows = await repository.page(
                guild_id=guild_id, status=status, topic=topic, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
            )
            return HubPage(await self._views(repository, rows), page, pages, total)

    async def search(
        self, text: str, *, page: int = 1, status: str | None = "solved", topic: str | None = None
    ) -> HubSearch:
        """Cards by name and published challenges by the engine of `/challenge search` (error text ranked first),
        across the servers that publish; the engine's order within each server, servers interleaved."""
        text = text.strip()
        if len(text) > MAX_QUERY:
            raise InvalidInputError(f"The search is {len(text):,} characters; the limit is {MAX_QUERY}.")
        cards = tuple(self._index.search(text, limit=5)) if text and page == 1 else ()
        query = parse_query(text)
        async with self._sessions() as session:
            repository = WebRepository(session)
            hits: list[list[SearchHit]] = []
            if not query.is_empty():  # only punctuation, say: no challenge can match
                for server in await repository.servers():
                    hits.append(
                        await self._search.search(session, server.guild_id, query, limit=SEARCH_DEPTH, status=status)
                    )
            merged = [hit for row in itertools.zip_longest(*hits) for hit in row if hit is not None]
            # Which hits are published is one light query over their ids; only the page shown is read in full and
            # rendered (a search asks for SEARCH_DEPTH hits and shows SEARCH_PAGE_SIZE).
            published = await repository.published_ids([hit.challenge.id for hit in merged], topic=topic)
            ordered = [hit for hit in merged if hit.challenge.id in published]
            total = len(ordered)
            pages = max(1, -(-total // SEARCH_PAGE_SIZE))
            if page > pages:
                raise PageOutOfRange(f"There are {pages} pages.")
            shown = ordered[(page - 1) * SEARCH_PAGE_SIZE : page * SEARCH_PAGE_SIZE]
            rows = await repository.by_ids([hit.challenge.id for hit in shown])
            snippets = {hit.challenge.id: _snippet(hit.snippet) for hit in shown}
            views = await self._views(repository, rows, snippets)
        return HubSearch(text, cards, HubPage(views, page, pages, total))

    async def last_changed(self) -> datetime | None:
        async with self._sessions() as session:
            return await WebRepository(session).last_changed()

    async def sitemap(self) -> list[tuple[str, int, datetime]]:
        async with self._sessions() as session:
            return await WebRepository(session).sitemap(SITEMAP_LIMIT)
