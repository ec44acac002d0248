"""The challenge service: logging, solutions, acceptance, listing, search, nudges, forgetting (export: exports.py).

Plain types in and out; every write is one transaction; the database enforces what must hold
(one log entry per source message, one accepted solution per challenge). In-channel posts go through the
writer (`ingest.IngestWriter`), which commits them in groups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.errortext import error_signatures
from bot.challenges.inference import TopicMatcher
from bot.challenges.parsing import (
    MAX_DETAILS,
    MAX_SOLUTION,
    MAX_TITLE,
    optional,
    parse_post,
    parse_solution,
    required,
    with_inferred,
)
from bot.challenges.query import parse_query
from bot.core.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TopicNotFoundError,
)
from bot.core.ratelimit import SlidingWindowLimiter
from bot.core.shards import ALL_SHARDS, ShardScope
from bot.db.base import utcnow
from bot.db.models import Challenge, ChallengeTopic, Solution
from bot.db.privacy_repository import Placeholders, PrivacyRepository
from bot.db.repositories import ChallengeRepository
from bot.db.search import ChallengeSearchEngine, FoundChallenge
from bot.services.challenges.exports import ChallengeExports, topic_title
from bot.services.challenges.ingest import IngestWriter, WriterPolicy
from bot.services.challenges.solved import SolvedChallengeLog
from bot.services.challenges.views import (
    ANONYMOUS,
    ERASED_SOLUTION,
    ERASED_TITLE,
    ChallengePage,
    ChallengeStatus,
    ChallengeView,
    IncomingMessage,
    IngestResult,
    LeaderboardEntry,
    Logged,
    Nudge,
    Person,
    SearchResult,
    SimilarChallenge,
    SolutionLogged,
    challenge_view,
    found_view,
    render_snippet,
    solution_view,
)
from bot.services.topics import TopicService

log = logging.getLogger(__name__)

MAX_TRIED = 1000
PAGE_SIZE = 5
SIMILAR = 3
NUDGE_BATCH = 20  # nudges of each kind per round, taken in turn from every server with some due

PLACEHOLDERS = Placeholders(author=ANONYMOUS, title=ERASED_TITLE, body=ERASED_SOLUTION)
FORGOTTEN_SOURCE = (
    "That message cannot be logged again: its entry was unlinked from it. "
    "Log it afresh with `/challenge new` (or `/challenge solve`) if it is still useful."
)
# Challenges one member may log per hour with `/challenge new` and the menu (in-channel posts are not capped).
NEW_CHALLENGES_PER_HOUR = 10
Period = Literal["week", "month", "all"]
Sort = Literal["newest", "oldest"]


class ChallengeService(ChallengeExports):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        search: ChallengeSearchEngine,
        topics: TopicService,
        *,
        solved_log: SolvedChallengeLog | None = None,
        unanswered_after: timedelta = timedelta(hours=24),
        ask_author_after: timedelta = timedelta(hours=48),
        new_challenges: SlidingWindowLimiter | None = None,
        writer_policy: WriterPolicy | None = None,
        nudge_batch: int = NUDGE_BATCH,
        shards: ShardScope = ALL_SHARDS,
    ) -> None:
        self._sessions = sessions
        # The servers whose nudges this process sends (the others belong to other shards' processes).
        self._shards = shards
        self._new_challenges = new_challenges or SlidingWindowLimiter(NEW_CHALLENGES_PER_HOUR, 3600.0)
        self._search = search
        self._topics = topics
        self._solved_log = solved_log
        self._unanswered_after = unanswered_after
        self._ask_author_after = ask_author_after
        self._matcher = TopicMatcher(topics.knowledge_base.cards)
        # In-channel writes, in arrival order, for the one writer task (see `submit`).
        self._writer = IngestWriter(sessions, self._matcher, writer_policy or WriterPolicy())
        self.nudge_batch = nudge_batch
        # Servers with an export being prepared or sent: one at a time each (an export reads the whole log).
        self._exporting: set[int] = set()
        self._status_listeners: list[Callable[[ChallengeView], None]] = []
        # Cursor moves waiting for their write (channel → server, message), all written by one transaction.
        self._cursor_moves: dict[int, tuple[int, int]] = {}
        self._cursor_write: asyncio.Future[None] | None = None

    def _changed(self, guild_id: int) -> None:
        """A write may have changed what is solved in this server: `/topic` cards must not go stale."""
        if self._solved_log is not None:
            self._solved_log.forget(guild_id)

    # ----- for other services (forum posts: bot/services/forum.py) ---------------------------

    def on_status_change(self, listener: Callable[[ChallengeView], None]) -> None:
        """Have `listener` called with the challenge after each accepted solution (a forum post gets its tag)."""
        self._status_listeners.append(listener)

    async def after_queued(self, run: Callable[[], Awaitable[Any]]) -> Any:
        """Run a write after every post queued before it (an edit of a post must find the post logged)."""
        return await self._in_turn(run)

    def solved_changed(self, guild_id: int) -> None:
        self._changed(guild_id)

    def resolve_topics(self, names: Sequence[str], text: str) -> list[str]:
        """The topics `names` name (as `/topic` resolves them), then those inferred from `text`; at most five."""
        slugs: list[str] = []
        for name in names:
            if not name.strip():
                continue
            try:
                slug = self._topics.find(name.strip()).slug
            except TopicNotFoundError:
                continue  # a tag that names no topic ("help", "Solved")
            if slug not in slugs:
                slugs.append(slug)
        return with_inferred(slugs, self._matcher, text)

    # ----- topics ----------------------------------------------------------------------------

    def _resolve_topics(self, named: str | None, text: str) -> list[str]:
        """Explicit topic names (comma-separated) first, then those inferred from the text."""
        slugs: list[str] = []
        for name in (named or "").split(","):
            slug = self._topics.find(name.strip()).slug if name.strip() else None
            if slug is not None and slug not in slugs:
                slugs.append(slug)
        return with_inferred(slugs, self._matcher, text)

    async def topic_choices(self, current: str, guild_id: int | None, user_id: int) -> list[tuple[str, str]]:
        """(name, slug) pairs for a topic option's autocomplete, the member's track first."""
        track = await self._topics.learner_track(guild_id, user_id)
        return [(choice.name, choice.value) for choice in self._topics.autocomplete(current, track)]

    def topic_title(self, slug: str) -> str:
        return topic_title(self._topics, slug)

    # ----- logging ---------------------------------------------------------------------------

    def _new_challenge(
        self,
        *,
        guild_id: int,
        channel_id: int,
        author: Person,
        title: str,
        details: str,
        tried: str | None,
        topics: str | None,
        source_message_id: int | None,
    ) -> Challenge:
        title = required(title, "title", MAX_TITLE)
        details = optional(details, "details", MAX_DETAILS) or ""
        tried = optional(tried, "“what was tried” part", MAX_TRIED)
        text = "\n".join(part for part in (title, details, tried) if part)
        now = utcnow()
        challenge = Challenge(
            guild_id=guild_id,
            channel_id=channel_id,
            author_id=author.id,
            author_name=author.name[:100],
            source_message_id=source_message_id,
            title=title,
            details=details,
            tried=tried,
            error_terms=" ".join(error_signatures(text)),
            status=ChallengeStatus.OPEN,
            created_at=now,
            updated_at=now,
        )
        challenge.topics = [
            ChallengeTopic(slug=slug, position=position)
            for position, slug in enumerate(self._resolve_topics(topics, text))
        ]
        challenge.solutions = []
        return challenge

    async def log_challenge(
        self,
        *,
        guild_id: int,
        channel_id: int,
        author: Person,
        title: str,
        details: str = "",
        tried: str | None = None,
        topics: str | None = None,
        solution: str | None = None,
        source_message_id: int | None = None,
        suggest_similar: bool = True,
        logged_by: Person | None = None,
    ) -> Logged:
        """Log a challenge (and the solution given with it); a source message is logged only once.

        `logged_by` is who logs it when that is not its author (a moderator's "Log as challenge" on someone
        else's message): the hourly cap is theirs, and a source whose entry was deleted is restored only for a
        moderator. `suggest_similar=False` leaves the suggestions to the caller (`similar_solved`), so that a
        writer that serialises logging does not hold others back while it searches.
        """
        actor = logged_by or author
        challenge = self._new_challenge(
            guild_id=guild_id,
            channel_id=channel_id,
            author=author,
            title=title,
            details=details,
            tried=tried,
            topics=topics,
            source_message_id=source_message_id,
        )
        body = optional(solution, "solution", MAX_SOLUTION)
        if body is not None:
            self._new_solution(challenge, author, body, source_message_id)  # joins challenge.solutions
        self._within_hourly_cap(guild_id, actor)
        earlier: Logged | None = None
        try:
            async with self._sessions.begin() as session:
                repository = ChallengeRepository(session)
                existing = await repository.by_source(source_message_id) if source_message_id is not None else None
                if existing is not None:
                    restored = self._restore(existing, actor)
                    earlier = Logged(challenge_view(existing), created=False, restored=restored)
                else:
                    if source_message_id is not None and await PrivacyRepository(session).forgotten(
                        [source_message_id]
                    ):
                        raise InvalidInputError(FORGOTTEN_SOURCE)
                    repository.add(challenge)
                    await repository.flush()
                    view = challenge_view(challenge)
            if earlier is not None:
                if earlier.restored:  # once committed: a card read meanwhile must not keep the old answer
                    self._changed(guild_id)
                return earlier
        except IntegrityError:
            # Another delivery of the same message won the race: report what it logged.
            async with self._sessions() as session:
                existing = await ChallengeRepository(session).by_source(source_message_id or -1)
                if existing is None:
                    raise
                return Logged(challenge_view(existing), created=False)
        similar = await self.similar_solved(view) if suggest_similar else ()
        return Logged(view, created=True, solution=view.solutions[0] if view.solutions else None, similar=similar)

    @staticmethod
    def _restore(challenge: Challenge, actor: Person) -> bool:
        """Bring back a deleted entry whose message a moderator logs again; True if it was restored.

        A message is logged only once, so without this a deleted entry's message could never be logged again.
        """
        if challenge.deleted_at is None:
            return False
        if not actor.is_moderator:
            raise PermissionDeniedError(
                f"That message was logged as challenge #{challenge.id}, which was deleted. "
                "A moderator can restore it with **Log as challenge** on the message."
            )
        challenge.deleted_at, challenge.deleted_by = None, None
        return True

    @staticmethod
    def _new_solution(challenge: Challenge, author: Person, body: str, source_message_id: int | None) -> Solution:
        return Solution(
            challenge=challenge,
            guild_id=challenge.guild_id,
            author_id=author.id,
            author_name=author.name[:100],
            source_message_id=source_message_id,
            body=body,
            accepted=False,
            created_at=utcnow(),
        )

    async def add_solution(
        self,
        *,
        guild_id: int,
        challenge_id: int,
        author: Person,
        body: str,
        source_message_id: int | None = None,
        logged_by: Person | None = None,
    ) -> SolutionLogged:
        """Log `author`'s solution. `logged_by` marks someone else's message as a solution ("Mark as solution"):
        that takes the challenge's author, the message's author or a moderator."""
        text = required(body, "solution", MAX_SOLUTION)
        try:
            async with self._sessions.begin() as session:
                repository = ChallengeRepository(session)
                if source_message_id is not None:
                    existing = await repository.solution_by_source(source_message_id)
                    if existing is not None:
                        challenge = await repository.get(guild_id, existing.challenge_id)
                        if challenge is None:
                            raise InvalidInputError(
                                "That message is already logged as a solution to a challenge that was deleted."
                            )
                        return SolutionLogged(challenge_view(challenge), solution_view(existing), False)
                    if await PrivacyRepository(session).forgotten([source_message_id]):
                        raise InvalidInputError(FORGOTTEN_SOURCE)
                challenge = await repository.get(guild_id, challenge_id)
                if challenge is None:
                    raise NotFoundError(
                        f"Challenge #{challenge_id} does not exist or was deleted. "
                        "Find the right number with `/challenge search` or `/challenge list`."
                    )
                if (
                    logged_by is not None
                    and not logged_by.is_moderator
                    and logged_by.id not in (author.id, challenge.author_id)
                ):
                    raise PermissionDeniedError(
                        "Only the challenge's author, the message's author or a moderator can mark this message "
                        "as a solution."
                    )
                solution = self._new_solution(challenge, author, text, source_message_id)
                session.add(solution)
                await repository.flush()
                return SolutionLogged(challenge_view(challenge), solution_view(solution), True)
        except IntegrityError:
            async with self._sessions() as session:
                repository = ChallengeRepository(session)
                existing = await repository.solution_by_source(source_message_id or -1)
                challenge = await repository.get(guild_id, existing.challenge_id) if existing else None
                if existing is None or challenge is None:
                    raise
                return SolutionLogged(challenge_view(challenge), solution_view(existing), False)

    async def challenge_for_message(self, guild_id: int, message_id: int) -> ChallengeView | None:
        """The challenge logged from `message_id`, or the one a solution posted as it belongs to."""
        async with self._sessions() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.by_source(message_id)
            if challenge is None:
                solution = await repository.solution_by_source(message_id)
                if solution is not None:
                    challenge = await repository.get(guild_id, solution.challenge_id)
            if challenge is None or challenge.guild_id != guild_id or challenge.deleted_at is not None:
                return None
            return challenge_view(challenge)

    # ----- in-channel posts: one writer, group commits ---------------------------------------

    async def ingest(self, message: IncomingMessage, *, suggest_similar: bool = True) -> IngestResult:
        """Log an in-channel post: a challenge, a challenge with its solution, or a solution reply."""
        pending = self.submit(message)
        if pending is None:
            return None
        result = await pending
        if suggest_similar and isinstance(result, Logged) and result.created:
            result = replace(result, similar=await self.similar_solved(result.challenge))
        return result

    def submit(self, message: IncomingMessage) -> asyncio.Future[IngestResult] | None:
        """Queue an in-channel message for the writer; None for a bot's or a webhook's.

        The future resolves once the post is committed (`created`), found already logged (not
        `created`), or found to be no post or to answer nothing (None); for a post that cannot be
        logged it raises `InvalidInputError`, as `log_challenge` does. Messages queued together are
        parsed and written together, one transaction per batch: a burst costs a few commits.
        """
        return self._writer.submit(message)

    async def _in_turn(self, run: Callable[[], Awaitable[Any]]) -> Any:
        """Run a write after every post queued before it: an edit racing its post's creation finds it."""
        return await self._writer.in_turn(run)

    async def idle(self) -> None:
        """Wait until the queue of in-channel writes is empty."""
        await self._writer.idle()

    async def close(self) -> None:
        """Finish the queued in-channel writes (before the engine goes)."""
        await self._writer.idle()

    async def source_edited(self, guild_id: int, message_id: int, content: str) -> ChallengeView | None:
        """Follow an edit of a logged message; a post that no longer parses keeps what was logged."""
        view: ChallengeView | None = await self._in_turn(lambda: self._source_edited(guild_id, message_id, content))
        self._changed(guild_id)
        return view

    async def source_deleted(self, guild_id: int, message_id: int) -> None:
        """Follow a deletion: the challenge (or solution) is soft-deleted, kept for audit."""
        await self.sources_deleted(guild_id, [message_id])

    async def sources_deleted(self, guild_id: int, message_ids: Collection[int]) -> None:
        """Follow deletions of many messages at once (a purge, a ban that deletes the member's messages, or what a
        restart found gone): every entry logged from one of them in this server is soft-deleted, in one transaction."""
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return
        await self._in_turn(lambda: self._sources_deleted(guild_id, ids))
        self._changed(guild_id)

    async def recent_sources(self, guild_id: int, since: datetime, *, limit: int) -> list[tuple[int, int]]:
        """The newest live entries of a server logged from a message since `since`: (channel id, message id), newest
        first, at most `limit`; what a restart re-checks. Solutions logged before their channel was kept are left
        out."""
        async with self._sessions() as session:
            return await ChallengeRepository(session).recent_sources(guild_id, since, limit)

    async def _source_edited(self, guild_id: int, message_id: int, content: str) -> ChallengeView | None:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.by_source(message_id)
            if challenge is not None and challenge.guild_id == guild_id and challenge.deleted_at is None:
                if challenge.channel_id == message_id:
                    return None  # a forum post's starter message (it shares the post's id): see ForumService
                parsed = parse_post(content)
                if parsed is None:
                    return None
                challenge.title = parsed.title
                challenge.details = parsed.details
                challenge.error_terms = " ".join(error_signatures(f"{parsed.title}\n{parsed.details}"))
                challenge.updated_at = utcnow()
                # A post that held its solution too: that solution came from the same message.
                same_post = next((item for item in challenge.solutions if item.source_message_id == message_id), None)
                if same_post is not None and parsed.solution:
                    same_post.body = parsed.solution
                await repository.flush()
                return challenge_view(challenge)
            solution = await repository.solution_by_source(message_id)
            if solution is None or solution.guild_id != guild_id or solution.deleted_at is not None:
                return None
            body = parse_solution(content)
            if body is None:
                return None
            solution.body = body
            await repository.flush()
            owner = await repository.get(guild_id, solution.challenge_id)
            return challenge_view(owner) if owner else None

    async def _sources_deleted(self, guild_id: int, message_ids: list[int]) -> None:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            now = utcnow()
            for message_id in message_ids:
                await self._soft_delete_source(repository, guild_id, message_id, now)

    @staticmethod
    async def _soft_delete_source(
        repository: ChallengeRepository, guild_id: int, message_id: int, now: datetime
    ) -> None:
        challenge = await repository.by_source(message_id)
        if challenge is not None and challenge.guild_id == guild_id and challenge.deleted_at is None:
            challenge.deleted_at = now
            return
        solution = await repository.solution_by_source(message_id)
        if solution is None or solution.guild_id != guild_id or solution.deleted_at is not None:
            return
        solution.deleted_at = now
        if solution.accepted:
            solution.accepted, solution.accepted_at = False, None
            owner = await repository.get(guild_id, solution.challenge_id, with_solutions=False)
            if owner is not None:
                owner.status, owner.solved_at = ChallengeStatus.OPEN, None

    # ----- reading ---------------------------------------------------------------------------

    async def show(self, guild_id: int, challenge_id: int) -> ChallengeView:
        async with self._sessions() as session:
            challenge = await ChallengeRepository(session).get(guild_id, challenge_id)
            if challenge is None:
                raise NotFoundError(
                    f"Challenge #{challenge_id} does not exist or was deleted. "
                    "Find it with `/challenge search` or `/challenge list`."
                )
            return challenge_view(challenge)

    async def list_challenges(
        self,
        guild_id: int,
        *,
        status: str | None = None,
        topic: str | None = None,
        author_id: int | None = None,
        sort: Sort = "newest",
        page: int = 0,
    ) -> ChallengePage:
        slug = self._topics.find(topic).slug if topic else None
        async with self._sessions() as session:
            repository = ChallengeRepository(session)
            total = await repository.count(guild_id, status=status, topic=slug, author_id=author_id)
            pages = max(1, -(-total // PAGE_SIZE))
            page = min(max(page, 0), pages - 1)
            items = await repository.page(
                guild_id,
                status=status,
                topic=slug,
                author_id=author_id,
                oldest_first=sort == "oldest",
                offset=page * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
            return ChallengePage(
                tuple(challenge_view(item, with_solutions=False) for item in items), page, pages, total
            )

    async def search(self, guild_id: int, text: str, *, limit: int = 5) -> list[SearchResult]:
        query = parse_query(text)
        if query.is_empty():
            raise InvalidInputError(
                "Search for a few words or paste an error message, e.g. `IntegrityError` or `slow queries`."
            )
        async with self._sessions() as session:
            hits = await self._search.search(session, guild_id, query, limit=limit)
        return [SearchResult(found_view(hit.challenge), render_snippet(hit.snippet)) for hit in hits]

    async def autocomplete(self, guild_id: int, current: str, *, limit: int = 25) -> list[tuple[int, str]]:
        """(id, "#id title") for a challenge option: by number, by words of the title, else newest open."""
        text = current.strip().lstrip("#")
        query = parse_query(text)
        async with self._sessions() as session:
            repository = ChallengeRepository(session)
            rows: Sequence[Challenge | FoundChallenge]
            if text.isascii() and text.isdigit():  # "¹".isdigit() is true, int("¹") fails
                found = await repository.get(guild_id, int(text), with_solutions=False)
                rows = [found] if found else []
            elif query.is_empty():
                rows = await repository.page(
                    guild_id,
                    status="open",
                    topic=None,
                    author_id=None,
                    oldest_first=False,
                    offset=0,
                    limit=limit,
                )
            else:
                hits = await self._search.search(session, guild_id, query, limit=limit, prefix=True, snippets=False)
                rows = [hit.challenge for hit in hits]
            return [(row.id, f"#{row.id} {row.title}"[:100]) for row in rows]

    async def similar_solved(self, challenge: ChallengeView) -> tuple[SimilarChallenge, ...]:
        """Up to three solved challenges like this one: its title and topics as the query."""
        words = " ".join([challenge.title, *(slug.replace("-", " ") for slug in challenge.topics)])
        query = parse_query(words)
        if query.is_empty():
            return ()
        async with self._sessions() as session:
            hits = await self._search.search(
                session,
                challenge.guild_id,
                query,
                limit=SIMILAR,
                status="solved",
                exclude_id=challenge.id,
                snippets=False,
            )
        return tuple(SimilarChallenge(hit.challenge.id, hit.challenge.title) for hit in hits)

    async def leaderboard(
        self, guild_id: int, period: Period, *, now: datetime | None = None
    ) -> list[LeaderboardEntry]:
        now = now or utcnow()
        since = {"week": now - timedelta(days=7), "month": now - timedelta(days=30), "all": None}[period]
        async with self._sessions() as session:
            rows = await ChallengeRepository(session).leaderboard(guild_id, since, limit=10)
        return [LeaderboardEntry(user_id, name, count) for user_id, name, count in rows]

    # ----- changing --------------------------------------------------------------------------

    @staticmethod
    def _may_change(challenge: Challenge, actor: Person, what: str) -> None:
        if actor.is_moderator or (challenge.author_id is not None and challenge.author_id == actor.id):
            return
        raise PermissionDeniedError(f"Only the challenge's author or a moderator can {what}.")

    async def accept(self, guild_id: int, challenge_id: int, solution_id: int, actor: Person) -> ChallengeView:
        try:
            view = await self._accept(guild_id, challenge_id, solution_id, actor)
        except IntegrityError:
            # Another accept of this challenge committed first; the one-accepted index kept it
            # consistent. Apply this one on top of it.
            view = await self._accept(guild_id, challenge_id, solution_id, actor)
        self._changed(guild_id)
        for listener in self._status_listeners:
            try:
                listener(view)
            except Exception:
                log.exception("a listener of accepted solutions failed (the solution is accepted)")
        return view

    async def _accept(self, guild_id: int, challenge_id: int, solution_id: int, actor: Person) -> ChallengeView:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.get(guild_id, challenge_id)
            if challenge is None:
                raise NotFoundError(f"Challenge #{challenge_id} does not exist or was deleted.")
            self._may_change(challenge, actor, "accept a solution")
            solution = next(
                (item for item in challenge.solutions if item.id == solution_id and item.deleted_at is None),
                None,
            )
            if solution is None:
                raise NotFoundError(
                    f"Solution #{solution_id} is not one of challenge #{challenge_id}'s. "
                    f"See them with `/challenge show id:{challenge_id}`."
                )
            if solution.accepted:
                raise InvalidInputError(f"Solution #{solution_id} is already the accepted one.")
            now = utcnow()
            for other in challenge.solutions:
                if other.accepted:
                    other.accepted, other.accepted_at = False, None
            await repository.flush()  # the one-accepted index must see the old one cleared first
            solution.accepted, solution.accepted_at = True, now
            challenge.status, challenge.solved_at, challenge.updated_at = ChallengeStatus.SOLVED, now, now
            await repository.flush()
            return challenge_view(challenge)

    async def delete(self, guild_id: int, challenge_id: int, actor: Person) -> ChallengeView:
        view = await self._delete(guild_id, challenge_id, actor)
        self._changed(guild_id)
        return view

    async def _delete(self, guild_id: int, challenge_id: int, actor: Person) -> ChallengeView:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.get(guild_id, challenge_id)
            if challenge is None:
                raise NotFoundError(f"Challenge #{challenge_id} does not exist or was already deleted.")
            self._may_change(challenge, actor, "delete this challenge")
            challenge.deleted_at, challenge.deleted_by = utcnow(), actor.id
            return challenge_view(challenge)

    async def edit(
        self, guild_id: int, challenge_id: int, actor: Person, *, title: str, details: str, topics: str | None
    ) -> ChallengeView:
        view = await self._edit(guild_id, challenge_id, actor, title=title, details=details, topics=topics)
        self._changed(guild_id)
        return view

    async def _edit(
        self, guild_id: int, challenge_id: int, actor: Person, *, title: str, details: str, topics: str | None
    ) -> ChallengeView:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.get(guild_id, challenge_id)
            if challenge is None:
                raise NotFoundError(f"Challenge #{challenge_id} does not exist or was deleted.")
            self._may_change(challenge, actor, "edit this challenge")
            challenge.title = required(title, "title", MAX_TITLE)
            challenge.details = optional(details, "details", MAX_DETAILS) or ""
            text = f"{challenge.title}\n{challenge.details}"
            challenge.error_terms = " ".join(error_signatures(text))
            # Named topics replace the inferred ones: this is how an author corrects them.
            slugs = self._resolve_topics(topics, "") if topics and topics.strip() else self._resolve_topics(None, text)
            challenge.topics = [ChallengeTopic(slug=slug, position=index) for index, slug in enumerate(slugs)]
            challenge.updated_at = utcnow()
            await repository.flush()
            return challenge_view(challenge)

    # ----- nudges, cursors, export -----------------------------------------------------------

    async def due_nudges(self, now: datetime) -> list[Nudge]:
        """Open challenges with no solution for a while, and authors with unaccepted solutions."""
        async with self._sessions() as session:
            repository = ChallengeRepository(session)
            unanswered = await repository.due_nudges(now - self._unanswered_after, self.nudge_batch, self._shards)
            questions = await repository.due_author_questions(
                now - self._ask_author_after, self.nudge_batch, self._shards
            )
            nudges = [Nudge("unanswered", challenge_view(item, with_solutions=False)) for item in unanswered]
            nudges += [Nudge("ask_author", challenge_view(item, with_solutions=False)) for item in questions]
            return nudges

    async def claim_nudge(self, nudge: Nudge, now: datetime) -> bool:
        """Mark a nudge as sent before sending it, so a restart never repeats it; False if taken."""
        async with self._sessions.begin() as session:
            challenge = await ChallengeRepository(session).get(nudge.challenge.guild_id, nudge.challenge.id)
            if challenge is None:
                return False
            if nudge.kind == "unanswered":
                if challenge.nudged_at is not None:
                    return False
                challenge.nudged_at = now
            else:
                if challenge.asked_author_at is not None:
                    return False
                challenge.asked_author_at = now
            return True

    async def release_nudge(self, nudge: Nudge) -> None:
        """Undo a claim whose message could not be sent, so the next round tries again."""
        async with self._sessions.begin() as session:
            challenge = await ChallengeRepository(session).get(nudge.challenge.guild_id, nudge.challenge.id)
            if challenge is not None:
                if nudge.kind == "unanswered":
                    challenge.nudged_at = None
                else:
                    challenge.asked_author_at = None

    async def cursor(self, channel_id: int) -> int | None:
        async with self._sessions() as session:
            return await ChallengeRepository(session).cursor(channel_id)

    async def advance_cursor(self, guild_id: int, channel_id: int, message_id: int) -> None:
        """Durable when it returns. Moves that arrive together (the bot's own replies after a burst) share one
        transaction, taken in turn with the writer, rather than one commit each."""
        _, newest = self._cursor_moves.get(channel_id, (guild_id, 0))
        self._cursor_moves[channel_id] = (guild_id, max(newest, message_id))
        if self._cursor_write is None:
            write = self._cursor_write = asyncio.ensure_future(self._in_turn(self._write_cursor_moves))
            write.add_done_callback(self._cursor_write_done)
        await asyncio.shield(self._cursor_write)

    def _cursor_write_done(self, write: asyncio.Future[None]) -> None:
        # A write that never ran (cancelled, or failed before its turn) must not hold later moves.
        if self._cursor_write is write:
            self._cursor_write = None

    async def _write_cursor_moves(self) -> None:
        moves, self._cursor_moves, self._cursor_write = self._cursor_moves, {}, None
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            for channel_id, (guild_id, message_id) in moves.items():
                await repository.advance_cursor(guild_id, channel_id, message_id)

    # ----- limits and forgetting -------------------------------------------------------------

    def _within_hourly_cap(self, guild_id: int, author: Person) -> None:
        """Count a challenge logged by command or menu; past the hourly cap, say how long to wait. Moderators are
        not capped; in-channel posts never come here (their acknowledgements are capped per channel instead)."""
        if author.is_moderator:
            return
        wait = self._new_challenges.acquire((guild_id, author.id))
        if wait:
            raise RateLimitedError(wait, f"log another challenge this way ({NEW_CHALLENGES_PER_HOUR} an hour at most)")

    async def forget_author(self, guild_id: int, user_id: int, *, erase_text: bool = False) -> tuple[int, int]:
        """Anonymise a member's challenges and solutions in this server (`/nexus forget-me`): how many of each.

        The authorship goes (`author_id` NULL, the name "a former member"), and so does every link to the posts
        (message and channel ids), on deleted entries too (kept for audit), with the member's id as the one who
        deleted an entry. The text stays, searchable and useful to others, unless `erase_text` replaces it.
        Idempotent: a second call finds nothing left and returns (0, 0). Runs in turn with in-channel writes, so a
        post of theirs queued before the request is anonymised too.
        """
        counts: tuple[int, int] = await self._in_turn(lambda: self._forget_author(guild_id, user_id, erase_text))
        self._changed(guild_id)
        return counts

    async def _forget_author(self, guild_id: int, user_id: int, erase_text: bool) -> tuple[int, int]:
        async with self._sessions.begin() as session:
            return await PrivacyRepository(session).unlink_author(
                guild_id, user_id, PLACEHOLDERS, erase_text=erase_text, now=utcnow()
            )

    async def purge_deleted_text(self, cutoff: datetime, limit: int) -> tuple[int, int]:
        """Erase the text of challenges and solutions deleted before `cutoff` (the retention period): at most `limit`
        of each per call; how many of each. Deleted entries are shown nowhere, so no cache changes."""
        counts: tuple[int, int] = await self._in_turn(lambda: self._purge_deleted_text(cutoff, limit))
        return counts

    async def _purge_deleted_text(self, cutoff: datetime, limit: int) -> tuple[int, int]:
        async with self._sessions.begin() as session:
            repository = PrivacyRepository(session)
            challenges = await repository.erase_deleted_challenges(cutoff, PLACEHOLDERS, limit)
            solutions = await repository.erase_deleted_solutions(cutoff, PLACEHOLDERS, limit)
            return challenges, solutions

    async def purge_forgotten_messages(self, cutoff: datetime, limit: int) -> int:
        """Let the markers of unlinked messages lapse after the retention period."""
        async with self._sessions.begin() as session:
            return await PrivacyRepository(session).purge_forgotten_messages(cutoff, limit)
