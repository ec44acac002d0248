"""The web hub's SQL: which servers publish, and the one consent rule that decides what of theirs is on the web.

Everything the hub shows goes through `published_challenge` and `published_solution`: a challenge or a solution is
never read for the web by any other condition. The rule, in words:

- its server turned the hub on (`guild_settings.web_enabled`);
- it is not deleted, and its author is not forgotten (`/nexus forget-me` clears `author_id`);
- its channel is readable by everyone: the log only ever holds entries from such channels (the listener and the menus
  refuse the rest, see README "Security and privacy"), and a channel is marked published only by the bot, which marks
  only channels @everyone can read;
- its author consented: `member_choices.web_consent` is true, or it is unset (no choice made) and the entry was
  posted in a published channel at or after the moment that channel started saying so.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.community_repository import CommunityRepository
from bot.db.models import (
    Challenge,
    ChallengeTopic,
    ForumPost,
    GuildSettings,
    MemberChoices,
    PublishedChannel,
    Solution,
)


def _consented(guild_id: Any, author_id: Any, created_at: Any, *channel_ids: Any) -> ColumnElement[bool]:
    """The author's consent for an entry of theirs posted in one of `channel_ids` at `created_at`."""
    choice = aliased(MemberChoices)
    said = select(choice.web_consent).where(choice.guild_id == guild_id, choice.user_id == author_id)
    said_yes = exists(said.where(choice.web_consent.is_(True)))
    chose = exists(said.where(choice.web_consent.is_not(None)))
    published = aliased(PublishedChannel)
    # A forum post's channel is its own thread: the forum it is in (forum_posts) is where the notice is.
    forum = aliased(ForumPost)
    in_forum = (
        select(forum.forum_id)
        .where(or_(*(forum.thread_id == channel for channel in channel_ids)))
        .correlate_except(forum)  # two levels down: say which table is the subquery's own
    )
    posted_in_published = exists(
        select(published.channel_id).where(
            published.guild_id == guild_id,
            or_(*(published.channel_id == channel for channel in channel_ids), published.channel_id.in_(in_forum)),
            published.since <= created_at,
        )
    )
    return or_(said_yes, and_(~chose, posted_in_published))


def _server_publishes(guild_id: Any) -> ColumnElement[bool]:
    # IN rather than a correlated EXISTS: the planner can then walk the guild-leading indexes of the servers
    # that publish, instead of testing every row of every server.
    settings = aliased(GuildSettings)
    return guild_id.in_(select(settings.guild_id).where(settings.web_enabled.is_(True)))  # type: ignore[no-any-return]


# Built once: constructing the rule (aliases, correlated subqueries) cost more than running its query.
@functools.cache
def published_challenge(*, deleted: bool = False) -> ColumnElement[bool]:
    """The consent rule for `Challenge` rows. `deleted=True` asks instead whether a deleted challenge would be
    published but for its deletion (the hub answers 410 Gone for it, 404 for everything else)."""
    return and_(
        _server_publishes(Challenge.guild_id),
        Challenge.deleted_at.is_not(None) if deleted else Challenge.deleted_at.is_(None),
        Challenge.author_id.is_not(None),
        _consented(Challenge.guild_id, Challenge.author_id, Challenge.created_at, Challenge.channel_id),
    )


@functools.cache
def published_solution() -> ColumnElement[bool]:
    """The consent rule for `Solution` rows (their challenge's own rule is checked apart). A solution posted as a
    message counts as posted in its challenge's channel too, since its thread (or the reply) lives there."""
    challenge = aliased(Challenge)
    challenge_channel = (
        select(challenge.channel_id).where(challenge.id == Solution.challenge_id).correlate(Solution).scalar_subquery()
    )
    # Only a solution posted as a message counts as posted in its challenge's channel; one typed into a form did not.
    posted_with_challenge = case((Solution.source_channel_id.is_not(None), challenge_channel))
    return and_(
        _server_publishes(Solution.guild_id),
        Solution.deleted_at.is_(None),
        Solution.author_id.is_not(None),
        _consented(
            Solution.guild_id,
            Solution.author_id,
            Solution.created_at,
            Solution.source_channel_id,
            posted_with_challenge,
        ),
    )


# How many of a topic's challenges are read per step of a tagged listing. Kept small: with a longer list of ids
# SQLite's planner prefers walking the server's index over reading the ids by primary key (500: 220 ms, 100: 0.4 ms).
TAG_BATCH = 100


@dataclass(frozen=True, slots=True)
class WebServer:
    guild_id: int
    slug: str


@dataclass(frozen=True, slots=True)
class WebChallengeRow:
    id: int
    guild_id: int
    slug: str
    author_id: int
    title: str
    details: str
    tried: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WebSolutionRow:
    id: int
    author_id: int
    body: str
    accepted: bool
    accepted_at: datetime | None
    created_at: datetime


class WebRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self, model: type[object]) -> Any:
        dialect = self._session.get_bind().dialect.name
        return (sqlite_insert if dialect == "sqlite" else postgresql_insert)(model)

    # ----- settings (the bot's side) ---------------------------------------------------------------------------

    async def slug_taken(self, slug: str) -> bool:
        return bool(await self._session.scalar(select(exists().where(GuildSettings.web_slug == slug))))

    async def taken_slugs(self, stem: str) -> set[str]:
        """The slugs in use that are `stem` or `stem-N`, to pick the next free one in one read."""
        rows = await self._session.scalars(
            select(GuildSettings.web_slug).where(
                or_(
                    GuildSettings.web_slug == stem,
                    GuildSettings.web_slug.like(stem.replace("_", r"\_") + "-%", escape="\\"),
                )
            )
        )
        return {row for row in rows if row is not None}

    async def set_channel_publishes(self, guild_id: int, channel_id: int, publishes: bool, now: datetime) -> None:
        """Mark (since `now`, unless already marked: the first moment stays) or unmark a published channel."""
        if publishes:
            statement = (
                self._insert(PublishedChannel)
                .values(guild_id=guild_id, channel_id=channel_id, since=now)
                .on_conflict_do_nothing(index_elements=["guild_id", "channel_id"])
            )
            await self._session.execute(statement)
        else:
            await self._session.execute(
                delete(PublishedChannel).where(
                    PublishedChannel.guild_id == guild_id, PublishedChannel.channel_id == channel_id
                )
            )

    async def published_channels(self, guild_id: int) -> dict[int, datetime]:
        rows = await self._session.execute(
            select(PublishedChannel.channel_id, PublishedChannel.since).where(PublishedChannel.guild_id == guild_id)
        )
        return {int(channel_id): since for channel_id, since in rows}

    # ----- servers -----------------------------------------------------------------------------------------------

    async def server_by_slug(self, slug: str) -> WebServer | None:
        row = await self._session.execute(
            select(GuildSettings.guild_id, GuildSettings.web_slug).where(
                GuildSettings.web_slug == slug, GuildSettings.web_enabled.is_(True)
            )
        )
        found = row.first()
        return WebServer(int(found[0]), str(found[1])) if found else None

    async def server_slug(self, guild_id: int) -> str | None:
        """The slug of a server that publishes; None when it does not."""
        return await self._session.scalar(
            select(GuildSettings.web_slug).where(
                GuildSettings.guild_id == guild_id, GuildSettings.web_enabled.is_(True)
            )
        )

    async def servers(self) -> list[WebServer]:
        rows = await self._session.execute(
            select(GuildSettings.guild_id, GuildSettings.web_slug)
            .where(GuildSettings.web_enabled.is_(True), GuildSettings.web_slug.is_not(None))
            .order_by(GuildSettings.web_slug)
        )
        return [WebServer(int(guild_id), str(slug)) for guild_id, slug in rows]

    # ----- challenges --------------------------------------------------------------------------------------------

    def _challenges(self) -> Any:
        return select(
            Challenge.id,
            Challenge.guild_id,
            GuildSettings.web_slug,
            Challenge.author_id,
            Challenge.title,
            Challenge.details,
            Challenge.tried,
            Challenge.status,
            Challenge.created_at,
            Challenge.updated_at,
            Challenge.solved_at,
        ).join(GuildSettings, GuildSettings.guild_id == Challenge.guild_id)

    async def _rows(self, statement: Any) -> list[WebChallengeRow]:
        rows = (await self._session.execute(statement)).all()
        topics = await self._topics([int(row[0]) for row in rows])
        return [
            WebChallengeRow(
                id=int(row[0]),
                guild_id=int(row[1]),
                slug=str(row[2]),
                author_id=int(row[3]),
                title=row[4],
                details=row[5],
                tried=row[6],
                status=row[7],
                created_at=row[8],
                updated_at=row[9],
                solved_at=row[10],
                topics=topics.get(int(row[0]), ()),
            )
            for row in rows
        ]

    async def _topics(self, challenge_ids: Collection[int]) -> dict[int, tuple[str, ...]]:
        if not challenge_ids:
            return {}
        rows = await self._session.execute(
            select(ChallengeTopic.challenge_id, ChallengeTopic.slug)
            .where(ChallengeTopic.challenge_id.in_(list(challenge_ids)))
            .order_by(ChallengeTopic.challenge_id, ChallengeTopic.position, ChallengeTopic.slug)
        )
        found: dict[int, list[str]] = {}
        for challenge_id, slug in rows:
            found.setdefault(int(challenge_id), []).append(slug)
        return {key: tuple(value) for key, value in found.items()}

    async def challenge(self, guild_id: int, challenge_id: int) -> WebChallengeRow | None:
        rows = await self._rows(
            self._challenges().where(
                Challenge.id == challenge_id, Challenge.guild_id == guild_id, published_challenge()
            )
        )
        return rows[0] if rows else None

    async def gone(self, guild_id: int, challenge_id: int) -> bool:
        """Whether this challenge was deleted but would be published otherwise (410 Gone rather than 404)."""
        return bool(
            await self._session.scalar(
                select(
                    exists().where(
                        Challenge.id == challenge_id, Challenge.guild_id == guild_id, published_challenge(deleted=True)
                    )
                )
            )
        )

    async def published_ids(self, challenge_ids: Collection[int], *, topic: str | None = None) -> set[int]:
        """Which of these challenges are published, tagged with `topic` if given (for filtering search hits)."""
        if not challenge_ids:
            return set()
        conditions = self._listing(guild_id=None, status=None, topic=topic)
        rows = await self._session.scalars(
            select(Challenge.id).where(Challenge.id.in_(list(challenge_ids)), *conditions)
        )
        return {int(row) for row in rows}

    async def by_ids(self, challenge_ids: Sequence[int]) -> list[WebChallengeRow]:
        """These challenges, those published only, in the order given."""
        if not challenge_ids:
            return []
        rows = await self._rows(self._challenges().where(Challenge.id.in_(list(challenge_ids)), published_challenge()))
        order = {challenge_id: index for index, challenge_id in enumerate(challenge_ids)}
        return sorted(rows, key=lambda row: order[row.id])

    def _listing(self, *, guild_id: int | None, status: str | None, topic: str | None) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [published_challenge()]
        if guild_id is not None:
            conditions.append(Challenge.guild_id == guild_id)
        if status is not None:
            conditions.append(Challenge.status == status)
        if topic is not None:
            conditions.append(
                exists(
                    select(ChallengeTopic.slug).where(
                        ChallengeTopic.challenge_id == Challenge.id, ChallengeTopic.slug == topic
                    )
                )
            )
        return conditions

    async def count(
        self, *, guild_id: int | None = None, status: str | None = None, topic: str | None = None, cap: int
    ) -> int:
        """How many are published, counted up to `cap`: the walk stops there, however large the log. Across
        servers, server by server (see `page`)."""
        if guild_id is None:
            total = 0
            for server in await self.servers():
                total += await self.count(guild_id=server.guild_id, status=status, topic=topic, cap=cap - total)
                if total >= cap:
                    break
            return total
        if topic is not None:
            return len(await self._tagged(guild_id=guild_id, status=status, topic=topic, want=cap))
        conditions = self._listing(guild_id=guild_id, status=status, topic=topic)
        capped = select(Challenge.id).where(*conditions).limit(cap).subquery()
        return int(await self._session.scalar(select(func.count()).select_from(capped)) or 0)

    async def page(
        self,
        *,
        guild_id: int | None = None,
        status: str | None = None,
        topic: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> list[WebChallengeRow]:
        """Published challenges, newest first. One server's walk follows its (guild, id) index backwards and stops
        after `offset + limit` published rows; across servers, each publishing server is walked so and the
        results merged, since no index orders several servers' rows by id without sorting them all."""
        if guild_id is None:
            merged: list[WebChallengeRow] = []
            for server in await self.servers():
                merged += await self.page(guild_id=server.guild_id, status=status, topic=topic, limit=offset + limit)
            merged.sort(key=lambda row: row.id, reverse=True)
            return merged[offset : offset + limit]
        if topic is not None:
            wanted = (await self._tagged(guild_id=guild_id, status=status, topic=topic, want=offset + limit))[offset:]
            return await self.by_ids(wanted)
        conditions = self._listing(guild_id=guild_id, status=status, topic=topic)
        return await self._rows(
            self._challenges().where(*conditions).order_by(Challenge.id.desc()).offset(offset).limit(limit)
        )

    async def _tagged(self, *, guild_id: int, status: str | None, topic: str, want: int) -> list[int]:
        """The newest `want` published challenges of a server tagged `topic`, walked from the topic's own index
        (slug, challenge_id) a batch at a time: a rare topic costs its few rows, not a walk of the server's whole
        log testing each row for the tag (25 s at 1,000,000 challenges)."""
        found: list[int] = []
        before: int | None = None
        while len(found) < want:
            tagged = select(ChallengeTopic.challenge_id).where(ChallengeTopic.slug == topic)
            if before is not None:
                tagged = tagged.where(ChallengeTopic.challenge_id < before)
            batch = list(
                await self._session.scalars(tagged.order_by(ChallengeTopic.challenge_id.desc()).limit(TAG_BATCH))
            )
            if not batch:
                break
            before = batch[-1]
            # `+ 0` and `|| ''` keep the server and status columns out of index choice: the batch's ids are the
            # few rows to read, by primary key; SQLite would otherwise walk the (guild, status) index instead.
            conditions = [published_challenge(), Challenge.id.in_(batch), (Challenge.guild_id + 0) == guild_id]
            if status is not None:
                conditions.append(Challenge.status.concat("") == status)
            found += await self._session.scalars(select(Challenge.id).where(*conditions).order_by(Challenge.id.desc()))
            if len(batch) < TAG_BATCH:
                break
        return found[:want]

    async def last_changed(self) -> datetime | None:
        """When anything published last changed, for Last-Modified on the listing pages."""
        return await self._session.scalar(select(func.max(Challenge.updated_at)).where(published_challenge()))

    async def sitemap(self, limit: int) -> list[tuple[str, int, datetime]]:
        rows = await self._session.execute(
            select(GuildSettings.web_slug, Challenge.id, Challenge.updated_at)
            .join(GuildSettings, GuildSettings.guild_id == Challenge.guild_id)
            .where(published_challenge())
            .order_by(Challenge.id.desc())
            .limit(limit)
        )
        return [(str(slug), int(challenge_id), updated) for slug, challenge_id, updated in rows]

    # ----- solutions and names -----------------------------------------------------------------------------------

    async def solutions(self, challenge_id: int) -> list[WebSolutionRow]:
        """The published solutions of a challenge, the accepted one first, then oldest first."""
        rows = await self._session.execute(
            select(
                Solution.id,
                Solution.author_id,
                Solution.body,
                Solution.accepted,
                Solution.accepted_at,
                Solution.created_at,
            )
            .where(Solution.challenge_id == challenge_id, published_solution())
            .order_by(Solution.accepted.desc(), Solution.id)
        )
        return [
            WebSolutionRow(int(row[0]), int(row[1] or 0), row[2], bool(row[3]), row[4], row[5]) for row in rows.all()
        ]

    async def credited_names(self, guild_id: int, user_ids: Collection[int]) -> dict[int, str]:
        """The names of those of these members who chose to be credited in this server (the README's rule)."""
        return await CommunityRepository(self._session).credited_names(guild_id, user_ids)

    async def reachable(self) -> bool:
        """The database answers and holds the hub's tables (migrated): a read of one of them succeeds."""
        await self._session.execute(select(GuildSettings.guild_id).limit(1))
        return True
