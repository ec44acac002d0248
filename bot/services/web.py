"""The web hub, the bot's side: turning it on and off per server, published channels, and links to the hub.

What is published is decided in one place, `bot.db.web_repository` (the consent rule); this module only asks it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.repositories import GuildSettingsRepository
from bot.db.web_repository import WebRepository

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
