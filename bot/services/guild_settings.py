"""Per-server settings: stored by `/nexus setup`, the environment's values as defaults."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.forum_repository import ForumRepository
from bot.db.repositories import GuildSettingsRepository

UNCHANGED: object = object()


@dataclass(frozen=True, slots=True)
class ServerSettings:
    challenge_channel_ids: frozenset[int]
    pairing_channel_id: int | None
    moderator_role_id: int | None
    # The weekly digest: the channel (none: no digest), weekday (0 = Monday) and hour, None where left unset.
    digest_channel_id: int | None = None
    digest_day: int | None = None
    digest_hour: int | None = None
    # Forum channels whose posts are challenges (`/nexus setup challenge_forum:`, else NEXUS_CHALLENGE_FORUM_IDS).
    challenge_forum_ids: frozenset[int] = frozenset()


class GuildSettingsService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        challenge_channel_ids: tuple[int, ...] = (),
        pairing_channel_id: int | None = None,
        challenge_forum_ids: tuple[int, ...] = (),
    ) -> None:
        self._sessions = sessions
        self._default_forums = frozenset(challenge_forum_ids)
        self._default_channels = frozenset(challenge_channel_ids)
        self._default_pairing = pairing_channel_id
        # Read on every message in a watched channel; changed only through `update`, in this process.
        self._cache: dict[int, ServerSettings] = {}
        self._loading: dict[int, asyncio.Future[ServerSettings]] = {}

    async def get(self, guild_id: int) -> ServerSettings:
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        # One read per server however many ask at once, and they resume in the order they asked: the posts
        # of a watched channel wait here on a cold cache and must reach the writer in the order they came.
        loading = self._loading.get(guild_id)
        if loading is None:
            loading = self._loading[guild_id] = asyncio.ensure_future(self._read(guild_id))
            loading.add_done_callback(lambda _: self._loading.pop(guild_id, None))
        return await asyncio.shield(loading)

    async def _read(self, guild_id: int) -> ServerSettings:
        async with self._sessions() as session:
            row = await GuildSettingsRepository(session).get(guild_id)
        settings = ServerSettings(
            challenge_channel_ids=(
                frozenset({row.challenge_channel_id}) if row and row.challenge_channel_id else self._default_channels
            ),
            pairing_channel_id=(row.pairing_channel_id if row and row.pairing_channel_id else self._default_pairing),
            moderator_role_id=row.moderator_role_id if row else None,
            digest_channel_id=row.digest_channel_id if row else None,
            digest_day=row.digest_day if row else None,
            digest_hour=row.digest_hour if row else None,
            challenge_forum_ids=(
                frozenset({row.challenge_forum_id}) if row and row.challenge_forum_id else self._default_forums
            ),
        )
        self._cache[guild_id] = settings
        return settings

    async def any_challenge_channel(self) -> bool:
        """Whether any server watches a channel, so the bot must ask for the Message Content intent."""
        if self._default_channels or self._default_forums:
            return True
        async with self._sessions() as session:
            repository = GuildSettingsRepository(session)
            return bool(await repository.challenge_channels()) or await ForumRepository(session).any_forum_chosen()

    async def update(
        self,
        guild_id: int,
        *,
        challenge_channel_id: int | object | None = UNCHANGED,
        challenge_forum_id: int | object | None = UNCHANGED,
        pairing_channel_id: int | object | None = UNCHANGED,
        moderator_role_id: int | object | None = UNCHANGED,
        digest_channel_id: int | object | None = UNCHANGED,
        digest_day: int | object | None = UNCHANGED,
        digest_hour: int | object | None = UNCHANGED,
        now: datetime | None = None,
    ) -> ServerSettings:
        """Change what is given; a change to the digest's schedule takes effect from `now` (so setting it up never
        posts at once a digest whose moment already passed this week)."""
        async with self._sessions.begin() as session:
            row = await GuildSettingsRepository(session).upsert(guild_id)
            if isinstance(challenge_channel_id, int) or challenge_channel_id is None:
                row.challenge_channel_id = challenge_channel_id
            if isinstance(challenge_forum_id, int) or challenge_forum_id is None:
                row.challenge_forum_id = challenge_forum_id
            if isinstance(pairing_channel_id, int) or pairing_channel_id is None:
                row.pairing_channel_id = pairing_channel_id
            if isinstance(moderator_role_id, int) or moderator_role_id is None:
                row.moderator_role_id = moderator_role_id
            digest = {"digest_channel_id": digest_channel_id, "digest_day": digest_day, "digest_hour": digest_hour}
            changed = False
            for name, value in digest.items():
                if (isinstance(value, int) or value is None) and getattr(row, name) != value:
                    setattr(row, name, value)
                    changed = True
            if changed:
                row.digest_since = now or utcnow()
            row.updated_at = utcnow()
        self._cache.pop(guild_id, None)
        return await self.get(guild_id)
