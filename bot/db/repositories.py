"""Repositories take a session and never commit: the services own the transactions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import CommandSyncState


class CommandSyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def payload_hash(self, scope: str) -> str | None:
        return await self._session.scalar(
            select(CommandSyncState.payload_hash).where(CommandSyncState.scope == scope)
        )

    async def record(self, scope: str, payload_hash: str) -> None:
        state = await self._session.get(CommandSyncState, scope)
        if state is None:
            self._session.add(CommandSyncState(scope=scope, payload_hash=payload_hash, synced_at=utcnow()))
        else:
            state.payload_hash = payload_hash
            state.synced_at = utcnow()
