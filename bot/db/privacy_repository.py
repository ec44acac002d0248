"""Forgetting a member and the retention purge: the SQL behind `/nexus forget-me` and `NEXUS_RETENTION_DAYS`.

Every purge takes at most `limit` rows per call and selects only rows it has not purged yet, so a run is bounded and
running it again changes nothing. Text is erased with UPDATEs: the search index follows by its triggers (FTS5 on
SQLite, the tsvector column on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, tuple_, union, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Challenge,
    ChallengeTopic,
    ForgottenMessage,
    LearnerProfile,
    MemberChoices,
    Pair,
    PairRequest,
    Solution,
    StudySession,
)

# The channel id of an entry unlinked from its post: no Discord channel has id 0.
NO_CHANNEL = 0


@dataclass(frozen=True, slots=True)
class Placeholders:
    """What stands in for what was removed: the author's name, and erased text (a title and a body are required)."""

    author: str
    title: str
    body: str


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self) -> Any:
        dialect = self._session.get_bind().dialect.name
        return (sqlite_insert if dialect == "sqlite" else postgresql_insert)(ForgottenMessage)

    # ----- one member ---------------------------------------------------------------------------------------------

    async def guilds_of(self, user_id: int) -> list[int]:
        """Every server where anything is held about the member (pairing data, challenges, solutions)."""
        query = union(
            select(LearnerProfile.guild_id).where(LearnerProfile.user_id == user_id),
            select(PairRequest.guild_id).where(PairRequest.user_id == user_id),
            select(Pair.guild_id).where(or_(Pair.user_low == user_id, Pair.user_high == user_id)),
            select(StudySession.guild_id).where(
                or_(StudySession.organiser_id == user_id, StudySession.partner_id == user_id)
            ),
            select(Challenge.guild_id).where(Challenge.author_id == user_id),
            select(Solution.guild_id).where(Solution.author_id == user_id),
            select(MemberChoices.guild_id).where(MemberChoices.user_id == user_id),
        )
        return sorted(int(guild_id) for guild_id in await self._session.scalars(query))

    async def unlink_author(
        self, guild_id: int, user_id: int, placeholders: Placeholders, *, erase_text: bool, now: datetime
    ) -> tuple[int, int]:
        """Anonymise the member's challenges and solutions in this server and unlink them from their posts (message
        and channel ids); with `erase_text`, replace their text too. How many challenges and solutions changed.

        The posts' ids are remembered apart, with no link to the entries, so that they are never logged again.
        """
        mine_c = (Challenge.guild_id == guild_id, Challenge.author_id == user_id)
        mine_s = (Solution.guild_id == guild_id, Solution.author_id == user_id)
        sources = {
            int(source)
            for source in [
                *await self._session.scalars(select(Challenge.source_message_id).where(*mine_c)),
                *await self._session.scalars(select(Solution.source_message_id).where(*mine_s)),
            ]
            if source is not None
        }
        if sources:
            statement = self._insert().values([{"message_id": source, "forgotten_at": now} for source in sources])
            await self._session.execute(statement.on_conflict_do_nothing(index_elements=["message_id"]))
        challenge_values: dict[str, Any] = {
            "author_id": None,
            "author_name": placeholders.author,
            "source_message_id": None,
            "channel_id": NO_CHANNEL,
            # No nudge in a channel the entry no longer names.
            "nudged_at": func.coalesce(Challenge.nudged_at, now),
        }
        solution_values: dict[str, Any] = {
            "author_id": None,
            "author_name": placeholders.author,
            "source_message_id": None,
            "source_channel_id": None,
        }
        if erase_text:
            challenge_values |= {"title": placeholders.title, "details": "", "tried": None, "error_terms": ""}
            solution_values |= {"body": placeholders.body}
            # The topics were inferred from the text (or typed with it): they go with it.
            await self._session.execute(
                delete(ChallengeTopic).where(ChallengeTopic.challenge_id.in_(select(Challenge.id).where(*mine_c)))
            )
        challenges = await self._session.execute(update(Challenge).where(*mine_c).values(challenge_values))
        solutions = await self._session.execute(update(Solution).where(*mine_s).values(solution_values))
        await self._session.execute(
            update(Challenge)
            .where(Challenge.guild_id == guild_id, Challenge.deleted_by == user_id)
            .values(deleted_by=None)
        )
        return int(challenges.rowcount), int(solutions.rowcount)  # type: ignore[attr-defined]

    async def delete_choices(self, guild_id: int, user_id: int) -> bool:
        """Delete the member's `/nexus profile` choices in this server (consent, credit, the credited name)."""
        result = await self._session.execute(
            delete(MemberChoices).where(MemberChoices.guild_id == guild_id, MemberChoices.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def forgotten(self, message_ids: Iterable[int]) -> set[int]:
        """Which of these messages had their entries unlinked by `/nexus forget-me`."""
        wanted = list(message_ids)
        if not wanted:
            return set()
        rows = await self._session.scalars(
            select(ForgottenMessage.message_id).where(ForgottenMessage.message_id.in_(wanted))
        )
        return set(rows)

    # ----- retention ----------------------------------------------------------------------------------------------

    async def erase_deleted_challenges(self, cutoff: datetime, placeholders: Placeholders, limit: int) -> int:
        """Erase the text of challenges deleted before `cutoff` (not yet erased), at most `limit` of them."""
        not_erased = or_(
            Challenge.title != placeholders.title,
            Challenge.details != "",
            Challenge.tried.is_not(None),
            Challenge.error_terms != "",
        )
        ids = list(
            await self._session.scalars(
                select(Challenge.id)
                .where(Challenge.deleted_at < cutoff, not_erased)
                .order_by(Challenge.id)
                .limit(limit)
            )
        )
        if ids:
            await self._session.execute(delete(ChallengeTopic).where(ChallengeTopic.challenge_id.in_(ids)))
            await self._session.execute(
                update(Challenge)
                .where(Challenge.id.in_(ids))
                .values(title=placeholders.title, details="", tried=None, error_terms="")
            )
        return len(ids)

    async def erase_deleted_solutions(self, cutoff: datetime, placeholders: Placeholders, limit: int) -> int:
        """Erase the text of solutions deleted before `cutoff`, or whose challenge was, at most `limit` of them."""
        deleted_challenge = select(Challenge.id).where(Challenge.deleted_at < cutoff)
        ids = list(
            await self._session.scalars(
                select(Solution.id)
                .where(
                    or_(Solution.deleted_at < cutoff, Solution.challenge_id.in_(deleted_challenge)),
                    Solution.body != placeholders.body,
                )
                .order_by(Solution.id)
                .limit(limit)
            )
        )
        if ids:
            await self._session.execute(update(Solution).where(Solution.id.in_(ids)).values(body=placeholders.body))
        return len(ids)

    async def _delete_ids(self, column: Any, ids: Collection[Any]) -> int:
        if not ids:
            return 0
        await self._session.execute(delete(column.table).where(column.in_(list(ids))))
        return len(ids)

    async def purge_sessions(self, cutoff: datetime, limit: int) -> int:
        """Delete study sessions that started before `cutoff` (their notices and ratings go with them)."""
        ids = await self._session.scalars(
            select(StudySession.id).where(StudySession.starts_at < cutoff).order_by(StudySession.id).limit(limit)
        )
        return await self._delete_ids(StudySession.id, list(ids))

    async def purge_pairs(self, cutoff: datetime, limit: int) -> int:
        """Delete pairs that ended before `cutoff` (their check-ins go with them)."""
        ids = await self._session.scalars(select(Pair.id).where(Pair.ended_at < cutoff).order_by(Pair.id).limit(limit))
        return await self._delete_ids(Pair.id, list(ids))

    async def purge_requests(self, cutoff: datetime, limit: int) -> int:
        """Delete requests closed before `cutoff`: cancelled or expired ones, and matched ones no pair names."""
        named = exists().where(or_(Pair.request_low_id == PairRequest.id, Pair.request_high_id == PairRequest.id))
        ids = await self._session.scalars(
            select(PairRequest.id)
            .where(
                PairRequest.closed_at < cutoff,
                or_(PairRequest.state.in_(("cancelled", "expired")), ~named),
            )
            .order_by(PairRequest.id)
            .limit(limit)
        )
        return await self._delete_ids(PairRequest.id, list(ids))

    async def purge_profiles(self, cutoff: datetime, limit: int) -> int:
        """Delete the profiles of members with no pairing activity since `cutoff`: the profile unchanged, no request
        waiting or made or closed since, no pair current or matched or ended since, no session since."""
        guild, user = LearnerProfile.guild_id, LearnerProfile.user_id
        recent_request = exists().where(
            PairRequest.guild_id == guild,
            PairRequest.user_id == user,
            or_(PairRequest.closed_at.is_(None), PairRequest.closed_at >= cutoff, PairRequest.created_at >= cutoff),
        )
        recent_pair = exists().where(
            Pair.guild_id == guild,
            or_(Pair.user_low == user, Pair.user_high == user),
            or_(Pair.ended_at.is_(None), Pair.ended_at >= cutoff, Pair.matched_at >= cutoff),
        )
        recent_session = exists().where(
            StudySession.guild_id == guild,
            or_(StudySession.organiser_id == user, StudySession.partner_id == user),
            StudySession.starts_at >= cutoff,
        )
        keys = list(
            await self._session.execute(
                select(guild, user)
                .where(LearnerProfile.updated_at < cutoff, ~recent_request, ~recent_pair, ~recent_session)
                .order_by(guild, user)
                .limit(limit)
            )
        )
        if keys:
            await self._session.execute(
                delete(LearnerProfile).where(tuple_(guild, user).in_([tuple(key) for key in keys]))
            )
        return len(keys)

    async def purge_forgotten_messages(self, cutoff: datetime, limit: int) -> int:
        """Forget, after the retention period, which messages were unlinked: they could be logged again by hand."""
        ids = await self._session.scalars(
            select(ForgottenMessage.message_id)
            .where(ForgottenMessage.forgotten_at < cutoff)
            .order_by(ForgottenMessage.message_id)
            .limit(limit)
        )
        return await self._delete_ids(ForgottenMessage.message_id, list(ids))
