"""A member's choices (`/nexus profile`) and their own "Project Nexus" README (`/nexus readme`, `nexus-bot readme`).

The service gathers the member's data in one read transaction and hands it, as plain types, to the pure renderer
(`bot.community.readme`). Partners and helpers are named only when they chose to be credited in that server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.errortext import error_signatures
from bot.community.readme import (
    MAX_CHALLENGES,
    MAX_PAIRS,
    MAX_SESSIONS,
    MAX_SOLUTIONS,
    NOTHING_LOGGED,
    LearnerHistory,
    Partner,
    ReadmeChallenge,
    ReadmePair,
    ReadmeSession,
    ReadmeSolution,
    ReadmeTopic,
    error_label,
    readme_preview,
    render_readme,
)
from bot.core.embeds import EmbedSpec
from bot.core.errors import NotFoundError
from bot.db.base import utcnow
from bot.db.community_repository import CommunityRepository
from bot.db.models import Challenge, MemberChoices, Solution
from bot.knowledge import KnowledgeBase
from bot.services.challenges import ERASED_SOLUTION


@dataclass(frozen=True, slots=True)
class MemberChoiceSettings:
    """What `/nexus profile` shows: web consent (None: not chosen yet, so off) and credit by name."""

    web: bool | None
    credit: bool


@dataclass(frozen=True, slots=True)
class Readme:
    document: str
    preview: EmbedSpec
    filename: str


class ReadmeService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        knowledge_base: KnowledgeBase,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._knowledge_base = knowledge_base
        self.clock = clock

    # ----- choices ----------------------------------------------------------------------------------------------

    async def choices(self, guild_id: int, user_id: int) -> MemberChoiceSettings:
        async with self._sessions() as session:
            row = await CommunityRepository(session).choices(guild_id, user_id)
            return _settings(row)

    async def set_choices(
        self, guild_id: int, user_id: int, name: str, *, web: bool | None = None, credit: bool | None = None
    ) -> MemberChoiceSettings:
        """Store the choices given (the others keep their value) with the name a credit shows; the result."""
        async with self._sessions.begin() as session:
            repository = CommunityRepository(session)
            await repository.save_choices(guild_id, user_id, name[:100], web=web, credit=credit, now=self.clock())
            return _settings(await repository.choices(guild_id, user_id))

    # ----- the README -------------------------------------------------------------------------------------------

    def _title(self, slug: str) -> str:
        card = self._knowledge_base.by_slug.get(slug)
        return card.title if card else slug

    def _titles(self, slugs: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self._title(slug) for slug in slugs if slug)

    async def history(self, guild_id: int, user_id: int, name: str | None = None) -> LearnerHistory:
        """Everything the member's README shows, from one consistent read of this server's data."""
        now = self.clock()
        async with self._sessions.begin() as session:
            repository = CommunityRepository(session)
            challenges, challenges_total, solved = await repository.challenges(guild_id, user_id, MAX_CHALLENGES)
            given, given_total, given_accepted = await repository.solutions_given(guild_id, user_id, MAX_SOLUTIONS)
            given_topics = await repository.topics_of([solution.challenge_id for solution, _ in given])
            uses = await repository.topic_uses(guild_id, user_id)
            pairs, pairs_total, request_tracks = await repository.pairs(guild_id, user_id, MAX_PAIRS)
            sessions, sessions_total, minutes = await repository.sessions_held(guild_id, user_id, now, MAX_SESSIONS)
            helpers = {
                accepted.author_id
                for challenge in challenges
                if (accepted := _accepted(challenge)) is not None and accepted.author_id not in (None, user_id)
            }
            partners = {pair.user_high if pair.user_low == user_id else pair.user_low for pair in pairs} | {
                item.partner_id if item.organiser_id == user_id else item.organiser_id for item in sessions
            }
            others = {person for person in helpers | partners if person is not None}
            credited = await repository.credited_names(guild_id, others)
            tracks = await repository.tracks(guild_id, others | {user_id})
            shown_name = name or await repository.known_name(guild_id, user_id) or f"member {user_id}"

        def partner(person: int | None, track: str | None = None) -> Partner:
            if person is None:
                return Partner(None, None)
            return Partner(credited.get(person), track or tracks.get(person))

        readme_challenges = []
        for challenge in challenges:
            accepted = _accepted(challenge)
            text = f"{challenge.title}\n{challenge.details}"
            readme_challenges.append(
                ReadmeChallenge(
                    id=challenge.id,
                    title=challenge.title,
                    details=challenge.details,
                    created_at=challenge.created_at,
                    solved_at=challenge.solved_at if challenge.status == "solved" else None,
                    topics=self._titles([topic.slug for topic in challenge.topics]),
                    errors=_errors(challenge.error_terms, text),
                    solution=accepted.body if accepted else None,
                    solved_by=(
                        None if accepted is None or accepted.author_id == user_id else partner(accepted.author_id)
                    ),
                )
            )
        readme_pairs = []
        for pair in pairs:
            other = pair.user_high if pair.user_low == user_id else pair.user_low
            their_request = pair.request_high_id if pair.user_low == user_id else pair.request_low_id
            readme_pairs.append(
                ReadmePair(
                    partner=partner(other, request_tracks.get(their_request) if their_request else None),
                    matched_at=pair.matched_at,
                    topics=self._titles(list(pair.shared_topics)),
                )
            )
        topics = [
            ReadmeTopic(card.slug, card.title, card.category.value, card.summary, card.key_points, count)
            for slug, count in uses.items()
            if (card := self._knowledge_base.by_slug.get(slug)) is not None
        ]
        topics.sort(key=lambda topic: (-topic.uses, topic.title.casefold()))
        return LearnerHistory(
            name=shown_name,
            track=tracks.get(user_id),
            challenges=tuple(readme_challenges),
            challenges_total=challenges_total,
            challenges_solved=solved,
            solutions=tuple(
                ReadmeSolution(
                    challenge_id=solution.challenge_id,
                    challenge_title=title,
                    accepted=solution.accepted,
                    created_at=solution.created_at,
                    topics=self._titles(given_topics.get(solution.challenge_id, [])),
                )
                for solution, title in given
            ),
            solutions_total=given_total,
            solutions_accepted=given_accepted,
            topics=tuple(topics),
            pairs=tuple(readme_pairs),
            pairs_total=pairs_total,
            sessions=tuple(
                ReadmeSession(
                    partner=partner(item.partner_id if item.organiser_id == user_id else item.organiser_id),
                    starts_at=item.starts_at,
                    minutes=item.duration_minutes,
                    topic=self._title(item.topic) if item.topic else None,
                )
                for item in sessions
            ),
            sessions_total=sessions_total,
            session_minutes=minutes,
        )

    async def readme(self, guild_id: int, user_id: int, *, name: str | None = None, community: str) -> Readme:
        """The member's README with its preview; `NotFoundError` saying how to start when nothing is logged."""
        history = await self.history(guild_id, user_id, name)
        if history.empty:
            raise NotFoundError(NOTHING_LOGGED)
        now = self.clock()
        return Readme(
            document=render_readme(history, community=community, generated_at=now),
            preview=readme_preview(history),
            filename=f"README-{now:%Y%m%d}.md",
        )


def _settings(row: MemberChoices | None) -> MemberChoiceSettings:
    return MemberChoiceSettings(None, False) if row is None else MemberChoiceSettings(row.web_consent, row.credit)


def _accepted(challenge: Challenge) -> Solution | None:
    """The challenge's live accepted solution, unless its author had it erased (`/nexus forget-me`): the README then
    says the challenge was solved, without the erased placeholder as its solution."""
    for item in challenge.solutions:
        erased = item.author_id is None and item.body == ERASED_SOLUTION
        if item.accepted and item.deleted_at is None and not erased:
            return item
    return None


def _errors(stored: str, text: str) -> tuple[str, ...]:
    """The errors stored with the challenge as its text spells them, in the order it names them."""
    stored_terms = stored.split()
    if not stored_terms:
        return ()
    ordered = [token for token in error_signatures(text) if token in stored_terms]
    labels = (error_label(token, text) for token in dict.fromkeys([*ordered, *stored_terms]))
    return tuple(dict.fromkeys(label for label in labels if label is not None))
