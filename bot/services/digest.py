"""The weekly digest's data and claims: which servers' digests are due, what their week holds, and the row per
server and ISO week that makes each go out once.

Exactly once: a sender claims the week in the database before sending (a new row, or a claim whose sender stopped
longer ago than the lease), sends with a nonce derived from server and week (Discord drops a resend it already
took), then marks it sent; a channel that refuses the bot marks it skipped. Everything is read from the database at
send time, from one server's live entries only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.digest import (
    SHOWN_OPEN,
    SHOWN_SOLVERS,
    DigestData,
    DigestSchedule,
    OpenChallenge,
    Solver,
    latest_slot,
    previous_slot,
    week_key,
)
from bot.core.shards import ALL_SHARDS, ShardScope
from bot.db.base import utcnow
from bot.db.digest_repository import DigestRepository
from bot.services.challenges import ERASED_TITLE
from bot.services.topics import TopicService

# A claim not marked sent or skipped after this long is taken to be a sender that died; another takes it over. Long
# enough for a send with Discord's retries, short enough that a restart resends within Discord's nonce window.
CLAIM_LEASE = timedelta(minutes=3)
DIGEST_ZONE = "UTC"  # Nexus has no per-server timezone setting: the digest's hour is UTC


def digest_nonce(guild_id: int, week: str) -> int:
    """The message nonce of a server's digest for a week: every attempt at it carries the same one."""
    digest = hashlib.blake2b(f"digest:{guild_id}:{week}".encode(), digest_size=7).digest()
    return int.from_bytes(digest, "big")


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


@dataclass(frozen=True, slots=True)
class DueDigest:
    guild_id: int
    channel_id: int
    week: str
    schedule: DigestSchedule
    slot: datetime

    @property
    def nonce(self) -> int:
        return digest_nonce(self.guild_id, self.week)


class DigestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: TopicService,
        *,
        clock: Callable[[], datetime] = utcnow,
        shards: ShardScope = ALL_SHARDS,
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        # The servers whose digests this process sends (the others belong to other shards' processes).
        self._shards = shards
        # What "now" is for the periodic pass and the preview; the end-to-end tests move it.
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    @staticmethod
    def schedule(day: int | None, hour: int | None) -> DigestSchedule:
        defaults = DigestSchedule()
        return DigestSchedule(
            defaults.day if day is None else day, defaults.hour if hour is None else hour, DIGEST_ZONE
        )

    def _title(self, slug: str) -> str:
        card = self._topics.knowledge_base.by_slug.get(slug)
        return card.title if card else slug

    async def due(self, now: datetime) -> list[DueDigest]:
        """Servers whose digest for the current week is not yet sent, skipped, or being sent by a live claim."""
        async with self._sessions() as session:
            repository = DigestRepository(session)
            candidates: list[DueDigest] = []
            for row in await repository.schedules():
                if not self._shards.owns(row.guild_id):
                    continue
                schedule = self.schedule(row.digest_day, row.digest_hour)
                slot = latest_slot(schedule, now)
                if row.digest_channel_id is None or (row.digest_since is not None and slot < row.digest_since):
                    continue  # set up after this week's moment: the first digest is next week's
                candidates.append(
                    DueDigest(row.guild_id, row.digest_channel_id, week_key(schedule, slot), schedule, slot)
                )
            posts = await repository.posts([due.guild_id for due in candidates], [due.week for due in candidates])
        due_now = []
        for candidate in candidates:
            post = posts.get((candidate.guild_id, candidate.week))
            if post is None or (post.state == "claimed" and post.claimed_at < now - CLAIM_LEASE):
                due_now.append(candidate)
        return due_now

    async def claim(self, due: DueDigest, now: datetime) -> bool:
        """Take this server's week; False if another sender holds it or it is already done."""
        async with self._sessions.begin() as session:
            return await DigestRepository(session).claim(due.guild_id, due.week, due.channel_id, now, now - CLAIM_LEASE)

    async def sent(self, due: DueDigest, message_id: int, now: datetime) -> None:
        async with self._sessions.begin() as session:
            await DigestRepository(session).finish(due.guild_id, due.week, "sent", now, message_id)

    async def skipped(self, due: DueDigest, now: datetime) -> None:
        """The channel refused the bot: this week's digest is given up, not retried on every pass."""
        async with self._sessions.begin() as session:
            await DigestRepository(session).finish(due.guild_id, due.week, "skipped", now, None)

    async def state(self, guild_id: int, week: str) -> str | None:
        async with self._sessions() as session:
            post = await DigestRepository(session).post(guild_id, week)
        return post.state if post else None

    async def digest_for(self, due: DueDigest, now: datetime) -> DigestData:
        """The week a due digest covers: from the previous digest moment to its own."""
        return await self._week(due.guild_id, previous_slot(due.schedule, due.slot), due.slot, now)

    async def preview(self, guild_id: int, now: datetime) -> DigestData:
        """The seven days up to now, as a digest posted now would show them."""
        return await self._week(guild_id, now - timedelta(days=7), now, now)

    async def _week(self, guild_id: int, start: datetime, end: datetime, now: datetime) -> DigestData:
        """The server's week [start, end), its topics compared with the week before."""
        before = start - (end - start)
        async with self._sessions() as session:
            repository = DigestRepository(session)
            open_total, oldest = await repository.oldest_open(guild_id, end, ERASED_TITLE, SHOWN_OPEN)
            topics = await repository.topics_of([challenge.id for challenge in oldest])
            solvers_total, solvers = await repository.solvers(guild_id, start, end, SHOWN_SOLVERS)
            this_week = await repository.topic_counts(guild_id, start, end)
            last_week = await repository.topic_counts(guild_id, before, start)
            data = DigestData(
                start=start,
                end=end,
                logged=await repository.logged(guild_id, start, end),
                solved=await repository.solved(guild_id, start, end),
                needing_help=tuple(
                    OpenChallenge(
                        challenge.id,
                        challenge.title,
                        tuple(self._title(slug) for slug in topics[challenge.id]),
                        challenge.created_at,
                        jump_url(guild_id, challenge.channel_id, challenge.source_message_id)
                        if challenge.source_message_id and challenge.channel_id
                        else None,
                    )
                    for challenge in oldest
                ),
                open_total=open_total,
                solvers=tuple(Solver(name, accepted) for name, accepted in solvers),
                solvers_total=solvers_total,
                topics_this_week={self._title(slug): count for slug, count in this_week.items()},
                topics_last_week={self._title(slug): count for slug, count in last_week.items()},
                new_pairs=await repository.new_pairs(guild_id, start, end),
                sessions_held=await repository.sessions_held(guild_id, start, min(end, now)),
                ratings=await repository.ratings(guild_id, start, min(end, now)),
                waiting_by_track=await repository.waiting_by_track(guild_id),
            )
        return data
