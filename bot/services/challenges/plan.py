"""What a batch of in-channel posts becomes: decided post by post, in order, as if each were written alone."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.challenges.parsing import MAX_SOLUTION, required
from bot.core.errors import InvalidInputError
from bot.db.models import Challenge
from bot.db.repositories import LoggedSource
from bot.services.challenges.views import (
    ChallengeStatus,
    ChallengeView,
    IncomingMessage,
    IngestResult,
    Logged,
    SolutionLogged,
    SolutionView,
    challenge_view,
    solution_view,
)


@dataclass(slots=True)
class ChallengePost:
    """An in-channel challenge post, parsed and checked, waiting for the writer."""

    message: IncomingMessage
    title: str
    details: str
    error_terms: str
    topics: tuple[str, ...]
    solution: str | None
    at: datetime
    done: asyncio.Future[IngestResult]


@dataclass(slots=True)
class SolutionReply:
    """A reply (or a message in a thread) starting with `Solution:`, waiting for the writer."""

    message: IncomingMessage
    body: str
    target: int
    at: datetime
    done: asyncio.Future[IngestResult]


Post = ChallengePost | SolutionReply


@dataclass(slots=True)
class _NewSolution:
    """A solution a batch adds: to an existing challenge (`challenge_id`) or to one the same batch
    logs (`challenge_source`, the message it is logged from)."""

    post: Post
    body: str
    challenge_id: int | None
    challenge_source: int | None
    id: int | None = None


# What one post of a batch became, resolved into its answer once the batch's rows are stored.


@dataclass(frozen=True, slots=True)
class Skipped:
    """No post after all: a reply to nothing logged here, or a message unlinked by forget-me."""


@dataclass(frozen=True, slots=True)
class Refused:
    error: InvalidInputError


@dataclass(frozen=True, slots=True)
class ChallengeAdded:
    """Logged by this batch from `source`; `created` is False for a second delivery inside the batch."""

    source: int
    created: bool


@dataclass(frozen=True, slots=True)
class ChallengeFound:
    """Logged before this batch."""

    logged: LoggedSource


@dataclass(frozen=True, slots=True)
class SolutionAdded:
    source: int
    created: bool


@dataclass(frozen=True, slots=True)
class SolutionFound:
    logged: LoggedSource


Decision = Skipped | Refused | ChallengeAdded | ChallengeFound | SolutionAdded | SolutionFound


class BatchPlan:
    """What a batch of posts becomes, decided post by post in order, as if each were written alone.

    Built from what the database already holds for the batch's messages; gives the rows to insert and,
    once they are, what each post became.
    """

    def __init__(
        self,
        batch: list[Post],
        logged: dict[int, LoggedSource],
        answers: dict[int, LoggedSource],
        owners: dict[int, int],
        reserved: tuple[int, int] | None,
        forgotten: Collection[int] = (),
    ) -> None:
        self._batch = batch
        self._forgotten = forgotten
        self._logged = logged
        self._answers = answers
        self._owners = owners
        self.challenges: dict[int, ChallengePost] = {}  # by source message, in order
        self.challenge_ids: dict[int, int] = {}
        self.solutions: dict[int, _NewSolution] = {}  # by source message, in order
        self.decisions: list[Decision] = [self._decide(post) for post in batch]
        if reserved is not None:
            next_challenge, next_solution = reserved
            self.challenges_inserted({source: next_challenge + n for n, source in enumerate(self.challenges)})
            self.solutions_inserted({source: next_solution + n for n, source in enumerate(self.solutions)})

    def _decide(self, post: Post) -> Decision:
        source = post.message.message_id
        if source in self._forgotten:
            return Skipped()  # unlinked by forget-me: a replay or a backfill must not log it again
        if isinstance(post, ChallengePost):
            if source in self._logged:
                return ChallengeFound(self._logged[source])
            if source in self.challenges:
                return ChallengeAdded(source, created=False)
            self.challenges[source] = post
            if post.solution is not None and source not in self._answers and source not in self.solutions:
                self.solutions[source] = _NewSolution(post, post.solution, None, source)
            return ChallengeAdded(source, created=True)
        target = self._target(post.target, post.message.guild_id)
        if target is None:
            return Skipped()
        if source in self._answers:
            return SolutionFound(self._answers[source])
        if source in self.solutions:
            return SolutionAdded(source, created=False)
        try:
            body = required(post.body, "solution", MAX_SOLUTION)
        except InvalidInputError as error:
            return Refused(error)
        self.solutions[source] = _NewSolution(post, body, *target)
        return SolutionAdded(source, created=True)

    def _target(self, message_id: int, guild_id: int) -> tuple[int | None, int | None] | None:
        """The live challenge of this server a reply to `message_id` answers: its id, or its source
        message when this batch logs it. A challenge's own message first, then a solution's."""
        new = self.challenges.get(message_id)
        if new is not None:
            return (None, message_id) if new.message.guild_id == guild_id else None
        logged = self._logged.get(message_id)
        if logged is not None:
            return (logged.id, None) if logged.guild_id == guild_id and logged.live else None
        answer = self.solutions.get(message_id)
        if answer is not None:
            same = answer.post.message.guild_id == guild_id
            return (answer.challenge_id, answer.challenge_source) if same else None
        logged = self._answers.get(message_id)
        if logged is not None and self._owners.get(logged.challenge_id) == guild_id:
            return logged.challenge_id, None
        return None

    def challenges_inserted(self, ids: dict[int, int]) -> None:
        self.challenge_ids = ids

    def solutions_inserted(self, ids: dict[int, int]) -> None:
        for source, solution in self.solutions.items():
            solution.id = ids.get(source)

    def _challenge_id(self, solution: _NewSolution) -> int:
        if solution.challenge_id is not None:
            return solution.challenge_id
        return self.challenge_ids[solution.challenge_source or 0]

    def challenge_rows(self) -> list[dict[str, Any]]:
        rows = []
        for source, post in self.challenges.items():
            message = post.message
            row: dict[str, Any] = {
                "guild_id": message.guild_id,
                "channel_id": message.channel_id,
                "author_id": message.author_id,
                "author_name": message.author_name[:100],
                "source_message_id": source,
                "title": post.title,
                "details": post.details,
                "tried": None,
                "error_terms": post.error_terms,
                "status": ChallengeStatus.OPEN.value,
                "created_at": post.at,
                "updated_at": post.at,
            }
            if source in self.challenge_ids:
                row["id"] = self.challenge_ids[source]
            rows.append(row)
        return rows

    def forum_posts(self) -> dict[tuple[int, int], list[int]]:
        """(server, forum) → the new challenges' posts (thread ids) in that forum."""
        posts: dict[tuple[int, int], list[int]] = {}
        for post in self.challenges.values():
            forum = post.message.forum_post
            if forum is not None and forum.forum_id is not None:
                posts.setdefault((post.message.guild_id, forum.forum_id), []).append(post.message.channel_id)
        return posts

    def topic_rows(self) -> list[dict[str, Any]]:
        return [
            {"challenge_id": self.challenge_ids[source], "slug": slug, "position": position}
            for source, post in self.challenges.items()
            for position, slug in enumerate(post.topics)
        ]

    def solution_rows(self) -> list[dict[str, Any]]:
        rows = []
        for source, solution in self.solutions.items():
            message = solution.post.message
            row: dict[str, Any] = {
                "challenge_id": self._challenge_id(solution),
                "guild_id": message.guild_id,
                "author_id": message.author_id,
                "author_name": message.author_name[:100],
                "source_message_id": source,
                "source_channel_id": message.channel_id,
                "body": solution.body,
                "accepted": False,
                "created_at": solution.post.at,
            }
            if solution.id is not None:
                row["id"] = solution.id
            rows.append(row)
        return rows

    def challenges_to_show(self) -> set[int]:
        """The stored challenges the outcomes show: those replies answered, and those already logged."""
        ids: set[int] = set()
        for decision in self.decisions:
            match decision:
                case SolutionAdded(source, created=True):
                    ids.add(self._challenge_id(self.solutions[source]))
                case ChallengeFound(logged) | SolutionFound(logged):
                    ids.add(logged.challenge_id)
        return ids

    def _new_solution_view(self, solution: _NewSolution) -> SolutionView:
        message = solution.post.message
        return SolutionView(
            id=solution.id or 0,  # set once inserted, before any view is made
            author_id=message.author_id,
            author_name=message.author_name[:100],
            body=solution.body,
            accepted=False,
            created_at=solution.post.at,
            source_message_id=message.message_id,
        )

    def _new_challenge_view(self, source: int) -> ChallengeView:
        post = self.challenges[source]
        message = post.message
        solution = self.solutions.get(source)
        own = solution is not None and solution.challenge_source == source
        return ChallengeView(
            id=self.challenge_ids[source],
            guild_id=message.guild_id,
            channel_id=message.channel_id,
            author_id=message.author_id,
            author_name=message.author_name[:100],
            title=post.title,
            details=post.details,
            tried=None,
            status=ChallengeStatus.OPEN.value,
            topics=post.topics,
            created_at=post.at,
            source_message_id=source,
            solutions=(self._new_solution_view(solution),) if solution is not None and own else (),
        )

    def outcomes(self, stored: dict[int, Challenge]) -> list[IngestResult | Exception]:
        """What each post became, given the challenges `challenges_to_show` asked for."""
        new_challenges = {source: self._new_challenge_view(source) for source in self.challenges}
        return [
            self._outcome(decision, post, new_challenges, stored)
            for decision, post in zip(self.decisions, self._batch, strict=True)
        ]

    def _outcome(
        self, decision: Decision, post: Post, new_challenges: dict[int, ChallengeView], stored: dict[int, Challenge]
    ) -> IngestResult | Exception:
        match decision:
            case Skipped():
                return None
            case Refused(error):
                return error
            case ChallengeAdded(source, created):
                view = new_challenges[source]
                return Logged(view, created, view.solutions[0] if view.solutions else None)
            case ChallengeFound(logged):
                return Logged(challenge_view(stored[logged.id]), created=False)
            case SolutionAdded(source, created):
                solution = self.solutions[source]
                owner = stored[self._challenge_id(solution)]
                return SolutionLogged(challenge_view(owner), self._new_solution_view(solution), created)
            case SolutionFound(logged):
                owner = stored[logged.challenge_id]
                if owner.deleted_at is not None or owner.guild_id != post.message.guild_id:
                    return InvalidInputError(
                        "That message is already logged as a solution to a challenge that was deleted."
                    )
                existing = next(item for item in owner.solutions if item.id == logged.id)
                return SolutionLogged(challenge_view(owner), solution_view(existing), False)
