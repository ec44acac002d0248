"""The solved challenges per topic that `/topic` cards show, cached per server."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.repositories import ChallengeRepository
from bot.knowledge.render import SolvedChallengeRef, SolvedChallenges


class SolvedChallengeLog:
    """The solved challenges per topic that `/topic` cards show (a `SolvedChallengeSource`).

    Cards are read far more often than challenges are solved: answers are kept in memory per
    server and forgotten whenever the challenge service changes that server's log. A server's log
    is its own: outside a server (a DM) a card shows no solved challenges at all.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: dict[int, dict[tuple[str, int], SolvedChallenges]] = {}

    async def solved_for_topic(self, guild_id: int | None, slug: str, limit: int) -> SolvedChallenges:
        if guild_id is None:
            return SolvedChallenges()
        cached = self._cache.get(guild_id, {}).get((slug, limit))
        if cached is not None:
            return cached
        async with self._sessions() as session:
            count, rows = await ChallengeRepository(session).solved_for_topic(guild_id, slug, limit)
        answer = SolvedChallenges(count, tuple(SolvedChallengeRef(row.id, row.title) for row in rows))
        self._cache.setdefault(guild_id, {})[(slug, limit)] = answer
        return answer

    def forget(self, guild_id: int) -> None:
        """Drop what is cached for a server after its log changed."""
        self._cache.pop(guild_id, None)
