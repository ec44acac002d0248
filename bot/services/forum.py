"""Forum channels as a source of challenges: each post is a challenge (title, starter message, tags as topics).

A post is logged by the challenge log's own writer (`ChallengeService.submit`, with the post's title and tag topics
on the starter message), so it costs what an in-channel post costs and is logged exactly once. A forum post's
challenge is the one whose source message is the starter message, which shares the post's (thread's) id: its
`channel_id` equals its `source_message_id`. This service follows what the post does afterwards (its title, starter
message and tags change; its author reacts ✅ to an answer, or takes the reaction back), remembers the accepted
answer its "solved" note was posted for (once each), and says which solved posts are due to be archived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.errortext import error_signatures
from bot.challenges.parsing import MAX_DETAILS, MAX_TITLE, clean_text
from bot.core.errors import InvalidInputError
from bot.db.base import utcnow
from bot.db.forum_repository import ForumRepository
from bot.db.models import ChallengeTopic
from bot.db.repositories import ChallengeRepository
from bot.services.challenges import ChallengeService, ChallengeView, ForumPostText, Person, challenge_view

SOLVED_TAG = "Solved"
ARCHIVE_BATCH = 50
TAG_CACHE = 1024


def is_forum_post(challenge: ChallengeView) -> bool:
    """Whether the challenge was logged from a forum post (its source is the starter message, the post's id)."""
    return challenge.source_message_id is not None and challenge.channel_id == challenge.source_message_id


def is_solved_tag(name: str) -> bool:
    return name.strip().casefold() == SOLVED_TAG.casefold()


@dataclass(frozen=True, slots=True)
class DueArchive:
    guild_id: int
    thread_id: int
    solved_at: datetime


class ForumService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        challenges: ChallengeService,
        *,
        archive_after: timedelta | None = None,
    ) -> None:
        self._sessions = sessions
        self._challenges = challenges
        self.archive_after = archive_after
        self._tag_topics: dict[tuple[str, ...], tuple[str, ...]] = {}

    def post_text(self, title: str, tag_names: Sequence[str], forum_id: int | None = None) -> ForumPostText:
        """What the writer needs to log a starter message: the post's title, the topics its tags name, its forum."""
        return ForumPostText(title, self.tag_topics(tag_names), forum_id)

    def tag_topics(self, tag_names: Sequence[str]) -> tuple[str, ...]:
        """The topics a post's tags name, by `/topic`'s resolution; other tags (the Solved tag among them) name none."""
        key = tuple(name for name in tag_names if not is_solved_tag(name))
        found = self._tag_topics.get(key)
        if found is None:
            # A forum has a few tags, and every post repeats some of them: resolved once each combination.
            if len(self._tag_topics) >= TAG_CACHE:
                self._tag_topics.clear()
            found = self._tag_topics[key] = tuple(self._challenges.resolve_topics(key, ""))
        return found

    # ----- the post changes --------------------------------------------------------------------

    async def post_changed(
        self,
        guild_id: int,
        thread_id: int,
        *,
        title: str | None = None,
        details: str | None = None,
        tag_names: Sequence[str] | None = None,
    ) -> ChallengeView | None:
        """Follow a post's new title, starter message or tags (topics: the tags', then those inferred from the text;
        without `tag_names` they stay). None when the post is not logged (or its entry deleted) or nothing changed;
        a change that would break a limit keeps what was logged."""
        view: ChallengeView | None = await self._challenges.after_queued(
            lambda: self._post_changed(guild_id, thread_id, title, details, tag_names)
        )
        if view is not None:
            self._challenges.solved_changed(guild_id)
        return view

    async def _post_changed(
        self,
        guild_id: int,
        thread_id: int,
        title: str | None,
        details: str | None,
        tag_names: Sequence[str] | None,
    ) -> ChallengeView | None:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.by_source(thread_id)
            if (
                challenge is None
                or challenge.guild_id != guild_id
                or challenge.deleted_at is not None
                or challenge.channel_id != thread_id
            ):
                return None
            changed = False
            if title is not None:
                cleaned = clean_text(title)
                if 1 <= len(cleaned.strip()) <= MAX_TITLE and cleaned != challenge.title:
                    challenge.title, changed = cleaned, True
            if details is not None:
                cleaned = clean_text(details)
                if len(cleaned) <= MAX_DETAILS and cleaned != challenge.details:
                    challenge.details, changed = cleaned, True
            text = f"{challenge.title}\n{challenge.details}"
            if tag_names is not None:
                # The tags' topics first, then those inferred from the text, as when the post was logged.
                slugs = list(self.tag_topics(tag_names))
                slugs += [slug for slug in self._challenges.resolve_topics([], text) if slug not in slugs]
                slugs = slugs[:5]
                if slugs != [item.slug for item in sorted(challenge.topics, key=lambda item: item.position)]:
                    challenge.topics = [ChallengeTopic(slug=slug, position=index) for index, slug in enumerate(slugs)]
                    changed = True
            if not changed:
                return None
            challenge.error_terms = " ".join(error_signatures(text))
            challenge.updated_at = utcnow()
            await repository.flush()
            return challenge_view(challenge)

    # ----- the post's author reacts ✅ ----------------------------------------------------------

    async def accept_by_reaction(self, guild_id: int, thread_id: int, message_id: int, user: Person) -> bool:
        """The post's author reacted ✅ to a logged answer in it: that answer is accepted (the Accept button's
        path, so every follower of accepted solutions hears of it). False when nothing was accepted."""
        challenge = await self._challenges.challenge_for_message(guild_id, thread_id)
        if challenge is None or not is_forum_post(challenge) or challenge.author_id != user.id:
            return False
        solution = next((item for item in challenge.solutions if item.source_message_id == message_id), None)
        if solution is None or solution.accepted:
            return False
        try:
            await self._challenges.accept(guild_id, challenge.id, solution.id, user)
        except InvalidInputError:
            return False  # accepted meanwhile (a click beside the reaction)
        return True

    async def reopen_by_reaction(self, guild_id: int, thread_id: int, message_id: int, user_id: int) -> bool:
        """The post's author took back the ✅ on the accepted answer: the challenge is open again."""
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.by_source(thread_id)
            if (
                challenge is None
                or challenge.guild_id != guild_id
                or challenge.deleted_at is not None
                or challenge.channel_id != thread_id
                or challenge.author_id != user_id
            ):
                return False
            accepted = next(
                (item for item in challenge.solutions if item.accepted and item.source_message_id == message_id), None
            )
            if accepted is None:
                return False
            accepted.accepted, accepted.accepted_at = False, None
            challenge.status, challenge.solved_at, challenge.updated_at = "open", None, utcnow()
        self._challenges.solved_changed(guild_id)
        return True

    # ----- the "solved" note, once per accepted answer -------------------------------------------

    async def claim_note(self, guild_id: int, forum_id: int, thread_id: int, solution_id: int) -> bool:
        """Before posting the note for `solution_id`: True if it was not posted yet (it now counts as posted)."""
        async with self._sessions.begin() as session:
            repository = ForumRepository(session)
            await repository.record(guild_id, forum_id, [thread_id])
            post = await repository.get(thread_id)
            if post is None or post.noted_solution_id == solution_id:
                return False
            post.noted_solution_id = solution_id
            return True

    async def release_note(self, thread_id: int, solution_id: int) -> None:
        """The note could not be posted: the next acceptance may post it."""
        async with self._sessions.begin() as session:
            post = await ForumRepository(session).get(thread_id)
            if post is not None and post.noted_solution_id == solution_id:
                post.noted_solution_id = None

    # ----- archiving solved posts --------------------------------------------------------------

    async def due_archives(self, now: datetime) -> list[DueArchive]:
        """Solved forum posts Nexus has not archived, solved at least `archive_after` ago (none when it is off)."""
        if self.archive_after is None:
            return []
        cutoff = now - self.archive_after
        async with self._sessions() as session:
            due = await ForumRepository(session).due_archives(cutoff, ARCHIVE_BATCH)
        return [DueArchive(guild_id, thread_id, solved_at) for guild_id, thread_id, solved_at in due]

    async def mark_archived(self, guild_id: int, forum_id: int, thread_id: int, now: datetime) -> None:
        async with self._sessions.begin() as session:
            repository = ForumRepository(session)
            await repository.record(guild_id, forum_id, [thread_id])
            post = await repository.get(thread_id)
            if post is not None:
                post.archived_at = now

    # ----- backfill ----------------------------------------------------------------------------

    async def cursors(self, thread_ids: Sequence[int]) -> dict[int, int]:
        """Per post, the newest of its messages the log has read (posts never read are absent)."""
        async with self._sessions() as session:
            return await ForumRepository(session).cursors(thread_ids)
