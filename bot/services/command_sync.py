"""Decide whether the application commands changed since the last sync, per scope."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.repositories import CommandSyncRepository


def payload_hash(payload: Sequence[dict[str, Any]]) -> str:
    """A stable digest of the command payload: order of commands and keys does not matter."""
    canonical = sorted(json.dumps(command, sort_keys=True, separators=(",", ":")) for command in payload)
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()


def sync_scope(guild_id: int | None) -> str:
    return f"guild:{guild_id}" if guild_id else "global"


class CommandSyncService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def is_current(self, scope: str, digest: str) -> bool:
        async with self._sessions() as session:
            return await CommandSyncRepository(session).payload_hash(scope) == digest

    async def record(self, scope: str, digest: str) -> None:
        async with self._sessions.begin() as session:
            await CommandSyncRepository(session).record(scope, digest)
