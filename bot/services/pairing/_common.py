"""What both halves of the pairing service share: the database, the clock, the topics, and rows turned into views."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.embeds import shorten
from bot.core.errors import InvalidInputError
from bot.core.shards import ALL_SHARDS, ShardScope
from bot.db.base import utcnow
from bot.db.models import LearnerProfile, Pair
from bot.db.models import StudySession as StudySessionRow
from bot.db.pairing_repository import PairingRepository
from bot.pairing.matching import Track
from bot.pairing.states import SessionState
from bot.services.pairing.views import Learner, PastPair, SessionView
from bot.services.topics import TopicService

MAX_TOPICS = 5
UNTIL_RESUMED = datetime(9999, 1, 1, tzinfo=UTC)
"""`paused_until` for a pause that lasts until `/pair resume`."""
BATCH = 200
"""Most rows one periodic pass handles; the next pass takes the rest."""


def _learner(profile: LearnerProfile) -> Learner:
    return Learner(profile.user_id, profile.display_name, cast(Track, profile.track), profile.timezone)


def _session_view(row: StudySessionRow) -> SessionView:
    return SessionView(
        row.id,
        row.guild_id,
        row.pair_id,
        row.organiser_id,
        row.partner_id,
        row.starts_at,
        row.duration_minutes,
        row.topic,
        SessionState(row.state),
        row.respond_by,
    )


def _past_pair(pair: Pair, user_id: int) -> PastPair:
    partner = pair.user_high if pair.user_low == user_id else pair.user_low
    return PastPair(pair.id, partner, pair.matched_at, pair.ended_at, pair.shared_topics, pair.thread_id)


class PairingBase:
    """The database, the clock, the topics and the settings that both halves of the service read."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: TopicService,
        *,
        request_lifetime: timedelta = timedelta(days=14),
        checkin_after: timedelta = timedelta(days=3),
        clock: Callable[[], datetime] = utcnow,
        shards: ShardScope = ALL_SHARDS,
    ) -> None:
        self._sessions = sessions
        # The servers whose periodic work (rounds, notices, expiry, check-ins) this process does.
        self._shards = shards
        # What "now" is for commands and buttons; the end-to-end tests move it to reach reminders and expiry.
        self.clock = clock
        self._topics = topics
        self._request_lifetime = request_lifetime
        self._checkin_after = checkin_after
        # One matcher at a time in this process; across processes the guarded update decides.
        self._matching = asyncio.Lock()

    @property
    def request_lifetime(self) -> timedelta:
        return self._request_lifetime

    def now(self) -> datetime:
        return self.clock()

    async def timezone_of(self, guild_id: int, user_id: int) -> str:
        """The learner's timezone from their profile; UTC for someone who never gave one."""
        async with self._sessions() as session:
            profile = await PairingRepository(session).profile(guild_id, user_id)
        return profile.timezone if profile else "UTC"

    # ----- topics -----------------------------------------------------------------------------------------------------

    def topic_title(self, slug: str) -> str:
        card = self._topics.knowledge_base.by_slug.get(slug)
        return card.title if card else slug

    async def topic_choices(
        self, current: str, guild_id: int | None, user_id: int, track: str | None = None
    ) -> list[tuple[str, str]]:
        """(name, value) pairs for a topics option: the last comma-separated name is the one being typed.
        Cards of `track` (the one being asked for, else the member's own) come first."""
        done, _, typing = current.rpartition(",")
        prefix = f"{done.strip()}, " if done.strip() else ""
        choices = []
        track = track or await self._topics.learner_track(guild_id, user_id)
        for choice in self._topics.autocomplete(typing.strip(), track):
            # The label ("Docker · DevOps & delivery") is for reading; the value is the title, which resolves.
            value = prefix + self.topic_title(choice.value)
            if len(value) <= 100:
                choices.append((shorten(prefix + choice.name, 100), value))
        return choices

    def _resolve_topics(self, named: str | None, track: str | None = None) -> tuple[str, ...]:
        slugs: list[str] = []
        for name in (named or "").split(","):
            if name.strip():
                slug = self._topics.find(name.strip(), track).slug  # an unknown name raises "did you mean"
                if slug not in slugs:
                    slugs.append(slug)
        if len(slugs) > MAX_TOPICS:
            raise InvalidInputError(f"Name at most {MAX_TOPICS} topics: the ones you most want to work on.")
        return tuple(slugs)
