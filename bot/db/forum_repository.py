"""Forum posts logged as challenges: which forum each came from, its "solved" note, its archiving; backfill cursors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import Challenge, ChannelCursor, ForumPost, GuildSettings


class ForumRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def any_forum_chosen(self) -> bool:
        """Whether any server chose a forum with `/nexus setup`."""
        found = await self._session.scalar(
            select(GuildSettings.guild_id).where(GuildSettings.challenge_forum_id.is_not(None)).limit(1)
        )
        return found is not None

    async def record(self, guild_id: int, forum_id: int, thread_ids: Sequence[int]) -> None:
        """Note posts of `forum_id` as logged (those noted already are left as they are), in one statement."""
        if not thread_ids:
            return
        dialect = self._session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        now = utcnow()
        rows = [
            {"thread_id": thread_id, "guild_id": guild_id, "forum_id": forum_id, "created_at": now}
            for thread_id in dict.fromkeys(thread_ids)
        ]
        await self._session.execute(insert(ForumPost).values(rows).on_conflict_do_nothing(index_elements=["thread_id"]))

    async def get(self, thread_id: int) -> ForumPost | None:
        return await self._session.get(ForumPost, thread_id)

    async def due_archives(self, cutoff: datetime, limit: int) -> list[tuple[int, int, datetime]]:
        """(guild, post, solved at) of forum posts solved before `cutoff`, not deleted, that Nexus has not archived
        yet, oldest solved first. A forum post's challenge is logged from its starter message, which shares the post's
        id: its channel is its source message."""
        rows = await self._session.execute(
            select(Challenge.guild_id, Challenge.source_message_id, Challenge.solved_at)
            .outerjoin(ForumPost, ForumPost.thread_id == Challenge.source_message_id)
            .where(
                Challenge.channel_id == Challenge.source_message_id,
                Challenge.status == "solved",
                Challenge.solved_at < cutoff,
                Challenge.deleted_at.is_(None),
                or_(ForumPost.thread_id.is_(None), ForumPost.archived_at.is_(None)),
            )
            .order_by(Challenge.solved_at)
            .limit(limit)
        )
        return [
            (guild_id, thread_id, solved_at)
            for guild_id, thread_id, solved_at in rows
            if thread_id is not None and solved_at is not None
        ]

    async def cursors(self, channel_ids: Sequence[int]) -> dict[int, int]:
        """The backfill cursors of many posts at once (a post's cursor is its newest message read)."""
        found: dict[int, int] = {}
        ids = list(dict.fromkeys(channel_ids))
        for start in range(0, len(ids), 500):  # bounded IN lists
            rows = await self._session.execute(
                select(ChannelCursor.channel_id, ChannelCursor.last_message_id).where(
                    ChannelCursor.channel_id.in_(ids[start : start + 500])
                )
            )
            for channel_id, last in rows:
                found[channel_id] = last
        return found
