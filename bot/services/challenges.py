"""The challenge log: logging, solutions, acceptance, listing, search, nudges, export.

Plain types in and out; every write is one transaction; the database enforces what must hold
(one log entry per source message, one accepted solution per challenge).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.errortext import error_signatures
from bot.challenges.export import ExportChallenge, ExportSolution
from bot.challenges.inference import TopicMatcher
from bot.challenges.parsing import (
    MAX_DETAILS,
    MAX_SOLUTION,
    MAX_TITLE,
    clean_text,
    parse_post,
    parse_solution,
)
from bot.challenges.query import parse_query
from bot.db.base import utcnow
from bot.db.models import Challenge, ChallengeTopic, Solution
from bot.db.repositories import ChallengeRepository
from bot.db.search import HIGHLIGHT_END, HIGHLIGHT_START, ChallengeSearchEngine
from bot.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from bot.knowledge.render import SolvedChallengeRef, SolvedChallenges
from bot.services.topics import TopicService

MAX_TRIED = 1000
PAGE_SIZE = 5
SIMILAR = 3
ANONYMOUS = "a former member"
Period = Literal["week", "month", "all"]
Sort = Literal["newest", "oldest"]


@dataclass(frozen=True, slots=True)
class Person:
    """Who acts: their id and display name, and whether they moderate this server."""

    id: int
    name: str
    is_moderator: bool = False


@dataclass(frozen=True, slots=True)
class SolutionView:
    id: int
    author_id: int | None
    author_name: str
    body: str
    accepted: bool
    created_at: datetime
    source_message_id: int | None


@dataclass(frozen=True, slots=True)
class ChallengeView:
    id: int
    guild_id: int
    channel_id: int
    author_id: int | None
    author_name: str
    title: str
    details: str
    tried: str | None
    status: str
    topics: tuple[str, ...]
    created_at: datetime
    source_message_id: int | None
    solutions: tuple[SolutionView, ...] = ()

    @property
    def accepted(self) -> SolutionView | None:
        return next((solution for solution in self.solutions if solution.accepted), None)


@dataclass(frozen=True, slots=True)
class SimilarChallenge:
    id: int
    title: str


@dataclass(frozen=True, slots=True)
class Logged:
    challenge: ChallengeView
    created: bool
    solution: SolutionView | None = None
    similar: tuple[SimilarChallenge, ...] = ()


@dataclass(frozen=True, slots=True)
class SolutionLogged:
    challenge: ChallengeView
    solution: SolutionView
    created: bool


@dataclass(frozen=True, slots=True)
class ChallengePage:
    items: tuple[ChallengeView, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    challenge: ChallengeView
    snippet: str  # Markdown: user text escaped, matches in bold


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    user_id: int
    name: str
    accepted: int


@dataclass(frozen=True, slots=True)
class Nudge:
    kind: Literal["unanswered", "ask_author"]
    challenge: ChallengeView


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A message in a watched channel, as the gateway or history delivered it."""

    guild_id: int
    channel_id: int
    message_id: int
    author_id: int
    author_name: str
    content: str
    author_is_bot: bool = False
    is_webhook: bool = False
    reference_message_id: int | None = None
    # The message a thread was started from (its id equals the thread's id), when posted in a thread.
    thread_parent_message_id: int | None = None


def _solution_view(solution: Solution) -> SolutionView:
    return SolutionView(
        id=solution.id,
        author_id=solution.author_id,
        author_name=solution.author_name,
        body=solution.body,
        accepted=solution.accepted,
        created_at=solution.created_at,
        source_message_id=solution.source_message_id,
    )


def challenge_view(challenge: Challenge, *, with_solutions: bool = True) -> ChallengeView:
    solutions: tuple[SolutionView, ...] = ()
    if with_solutions:
        live = [solution for solution in challenge.solutions if solution.deleted_at is None]
        live.sort(key=lambda solution: (not solution.accepted, solution.id))
        solutions = tuple(_solution_view(solution) for solution in live)
    return ChallengeView(
        id=challenge.id,
        guild_id=challenge.guild_id,
        channel_id=challenge.channel_id,
        author_id=challenge.author_id,
        author_name=challenge.author_name,
        title=challenge.title,
        details=challenge.details,
        tried=challenge.tried,
        status=challenge.status,
        topics=tuple(topic.slug for topic in challenge.topics),
        created_at=challenge.created_at,
        source_message_id=challenge.source_message_id,
        solutions=solutions,
    )


def _escape_markdown(text: str) -> str:
    for character in "\\*_~`|>#[]()":
        text = text.replace(character, "\\" + character)
    return text


def render_snippet(raw: str) -> str:
    """The engine's snippet with user text escaped and the matched words in bold, on one line."""
    flat = " ".join(raw.split())
    return _escape_markdown(flat).replace(HIGHLIGHT_START, "**").replace(HIGHLIGHT_END, "**")


def _required(text: str, what: str, limit: int) -> str:
    cleaned = clean_text(text).strip()
    if not cleaned:
        raise InvalidInputError(f"The {what} is empty. Write a few words, then try again.")
    if len(cleaned) > limit:
        raise InvalidInputError(
            f"The {what} is {len(cleaned):,} characters; the limit is {limit:,}. Shorten it and try again."
        )
    return cleaned


def _optional(text: str | None, what: str, limit: int) -> str | None:
    if text is None or not clean_text(text):
        return None
    return _required(text, what, limit)


class SolvedChallengeLog:
    """The solved challenges per topic that `/topic` cards show (a `SolvedChallengeSource`).

    Cards are read far more often than challenges are solved: answers are kept in memory per
    server and forgotten whenever the challenge service changes that server's log.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: dict[tuple[int | None, str, int], SolvedChallenges] = {}

    async def solved_for_topic(self, guild_id: int | None, slug: str, limit: int) -> SolvedChallenges:
        key = (guild_id, slug, limit)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        async with self._sessions() as session:
            count, rows = await ChallengeRepository(session).solved_for_topic(guild_id, slug, limit)
        answer = SolvedChallenges(count, tuple(SolvedChallengeRef(row.id, row.title) for row in rows))
        self._cache[key] = answer
        return answer

    def forget(self, guild_id: int) -> None:
        """Drop what is cached for a server (and the all-servers answers) after its log changed."""
        for key in [key for key in self._cache if key[0] in (guild_id, None)]:
            del self._cache[key]


class ChallengeService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        search: ChallengeSearchEngine,
        topics: TopicService,
        *,
        solved_log: SolvedChallengeLog | None = None,
        unanswered_after: timedelta = timedelta(hours=24),
        ask_author_after: timedelta = timedelta(hours=48),
    ) -> None:
        self._sessions = sessions
        self._search = search
        self._topics = topics
        self._solved_log = solved_log
        self._unanswered_after = unanswered_after
        self._ask_author_after = ask_author_after
        self._matcher = TopicMatcher(topics.knowledge_base.cards)

    def _changed(self, guild_id: int) -> None:
        """A write may have changed what is solved in this server: `/topic` cards must not go stale."""
        if self._solved_log is not None:
            self._solved_log.forget(guild_id)

    # ----- topics ----------------------------------------------------------------------------

    def _resolve_topics(self, named: str | None, text: str) -> list[str]:
        """Explicit topic names (comma-separated) first, then those inferred from the text."""
        slugs: list[str] = []
        for name in (named or "").split(","):
            slug = self._topics.find(name.strip()).slug if name.strip() else None
            if slug is not None and slug not in slugs:
                slugs.append(slug)
        for slug in self._matcher.infer(text):
            if slug not in slugs:
                slugs.append(slug)
        return slugs[:5]

    def topic_choices(self, current: str) -> list[tuple[str, str]]:
        """(name, slug) pairs for a topic option's autocomplete."""
        return [(choice.name, choice.value) for choice in self._topics.autocomplete(current)]

    def topic_title(self, slug: str) -> str:
        card = self._topics.knowledge_base.by_slug.get(slug)
        return card.title if card else slug

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
        title = _required(title, "title", MAX_TITLE)
        details = _optional(details, "details", MAX_DETAILS) or ""
        tried = _optional(tried, "“what was tried” part", MAX_TRIED)
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
            status="open",
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
    ) -> Logged:
        """Log a challenge (and the solution given with it); a source message is logged only once.

        `suggest_similar=False` leaves the suggestions to the caller (`similar_solved`), so that a
        writer that serialises logging does not hold others back while it searches.
        """
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
        body = _optional(solution, "solution", MAX_SOLUTION)
        if body is not None:
            self._new_solution(challenge, author, body, source_message_id)  # joins challenge.solutions
        try:
            async with self._sessions.begin() as session:
                repository = ChallengeRepository(session)
                if source_message_id is not None:
                    existing = await repository.by_source(source_message_id)
                    if existing is not None:
                        return Logged(challenge_view(existing), created=False)
                repository.add(challenge)
                await repository.flush()
                view = challenge_view(challenge)
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
    ) -> SolutionLogged:
        text = _required(body, "solution", MAX_SOLUTION)
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
                        return SolutionLogged(challenge_view(challenge), _solution_view(existing), False)
                challenge = await repository.get(guild_id, challenge_id)
                if challenge is None:
                    raise NotFoundError(
                        f"Challenge #{challenge_id} does not exist or was deleted. "
                        "Find the right number with `/challenge search` or `/challenge list`."
                    )
                solution = self._new_solution(challenge, author, text, source_message_id)
                session.add(solution)
                await repository.flush()
                return SolutionLogged(challenge_view(challenge), _solution_view(solution), True)
        except IntegrityError:
            async with self._sessions() as session:
                repository = ChallengeRepository(session)
                existing = await repository.solution_by_source(source_message_id or -1)
                challenge = await repository.get(guild_id, existing.challenge_id) if existing else None
                if existing is None or challenge is None:
                    raise
                return SolutionLogged(challenge_view(challenge), _solution_view(existing), False)

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

    async def ingest(self, message: IncomingMessage, *, suggest_similar: bool = True) -> Logged | SolutionLogged | None:
        """Log an in-channel post: a challenge, a challenge with its solution, or a solution reply."""
        if message.author_is_bot or message.is_webhook:
            return None
        parsed = parse_post(message.content)
        author = Person(message.author_id, message.author_name)
        if parsed is not None:
            return await self.log_challenge(
                guild_id=message.guild_id,
                channel_id=message.channel_id,
                author=author,
                title=parsed.title,
                details=parsed.details,
                solution=parsed.solution,
                source_message_id=message.message_id,
                suggest_similar=suggest_similar,
            )
        body = parse_solution(message.content)
        target = message.reference_message_id or message.thread_parent_message_id
        if body is None or target is None:
            return None
        challenge = await self.challenge_for_message(message.guild_id, target)
        if challenge is None:
            return None
        return await self.add_solution(
            guild_id=message.guild_id,
            challenge_id=challenge.id,
            author=author,
            body=body,
            source_message_id=message.message_id,
        )

    async def source_edited(self, guild_id: int, message_id: int, content: str) -> ChallengeView | None:
        """Follow an edit of a logged message; a post that no longer parses keeps what was logged."""
        view = await self._source_edited(guild_id, message_id, content)
        self._changed(guild_id)
        return view

    async def source_deleted(self, guild_id: int, message_id: int) -> None:
        """Follow a deletion: the challenge (or solution) is soft-deleted, kept for audit."""
        await self._source_deleted(guild_id, message_id)
        self._changed(guild_id)

    async def _source_edited(self, guild_id: int, message_id: int, content: str) -> ChallengeView | None:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.by_source(message_id)
            if challenge is not None and challenge.guild_id == guild_id and challenge.deleted_at is None:
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

    async def _source_deleted(self, guild_id: int, message_id: int) -> None:
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            challenge = await repository.by_source(message_id)
            now = utcnow()
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
                    owner.status, owner.solved_at = "open", None

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
            found = await ChallengeRepository(session).by_ids(guild_id, [hit.challenge_id for hit in hits])
            return [
                SearchResult(challenge_view(found[hit.challenge_id], with_solutions=False), render_snippet(hit.snippet))
                for hit in hits
                if hit.challenge_id in found
            ]

    async def autocomplete(self, guild_id: int, current: str, *, limit: int = 25) -> list[tuple[int, str]]:
        """(id, "#id title") for a challenge option: by number, by words of the title, else newest open."""
        text = current.strip().lstrip("#")
        query = parse_query(text)
        async with self._sessions() as session:
            repository = ChallengeRepository(session)
            if text.isdigit():
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
                hits = await self._search.search(session, guild_id, query, limit=limit, prefix=True)
                by_id = await repository.by_ids(guild_id, [hit.challenge_id for hit in hits])
                rows = [by_id[hit.challenge_id] for hit in hits if hit.challenge_id in by_id]
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
            )
            found = await ChallengeRepository(session).by_ids(challenge.guild_id, [hit.challenge_id for hit in hits])
        return tuple(
            SimilarChallenge(hit.challenge_id, found[hit.challenge_id].title)
            for hit in hits
            if hit.challenge_id in found
        )

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
            challenge.status, challenge.solved_at, challenge.updated_at = "solved", now, now
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
            challenge.title = _required(title, "title", MAX_TITLE)
            challenge.details = _optional(details, "details", MAX_DETAILS) or ""
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
            unanswered = await repository.due_nudges(now - self._unanswered_after, limit=20)
            questions = await repository.due_author_questions(now - self._ask_author_after, limit=20)
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
        async with self._sessions.begin() as session:
            await ChallengeRepository(session).advance_cursor(guild_id, channel_id, message_id)

    async def guilds(self) -> list[int]:
        """Every server with a logged challenge (for the offline export)."""
        async with self._sessions() as session:
            return await ChallengeRepository(session).guilds()

    async def export(self, guild_id: int, *, batch: int = 2000) -> AsyncIterator[ExportChallenge]:
        """Every live challenge of a server with its solutions (accepted first), streamed in id order."""
        after = 0
        while True:
            async with self._sessions() as session:
                rows, topics, solutions = await ChallengeRepository(session).export_batch(guild_id, after, batch)
            for row in rows:
                yield ExportChallenge(
                    id=row.id,
                    title=row.title,
                    details=row.details,
                    tried=row.tried,
                    author=row.author_name if row.author_id is not None else ANONYMOUS,
                    status=row.status,
                    created_at=row.created_at,
                    topics=tuple(self.topic_title(slug) for slug in topics.get(row.id, ())),
                    solutions=tuple(
                        ExportSolution(
                            author=solution.author_name if solution.author_id is not None else ANONYMOUS,
                            body=solution.body,
                            accepted=solution.accepted,
                        )
                        for solution in solutions.get(row.id, ())
                    ),
                )
            if len(rows) < batch:
                return
            after = rows[-1].id
