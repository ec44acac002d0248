"""The challenge log's read models: plain values the service answers with, and how rows become them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from bot.challenges.parsing import ForumPostText
from bot.core.usertext import user_text
from bot.db.models import Challenge, Solution
from bot.db.search import HIGHLIGHT_END, HIGHLIGHT_START, FoundChallenge

ANONYMOUS = "a former member"
# What stands in for text erased at its author's request (`/nexus forget-me`) or by the retention purge.
ERASED_TITLE = "(text erased)"
ERASED_SOLUTION = "(text erased)"


class ChallengeStatus(StrEnum):
    """A challenge's `status` column: open until a solution is accepted."""

    OPEN = "open"
    SOLVED = "solved"


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """An export written to a temporary file, there until the `export_file` block that made it ends."""

    path: Path
    filename: str  # the name to give the file when it is sent
    challenges: int
    size: int  # bytes


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
class ChallengeView(FoundChallenge):
    """A challenge's columns and topics (as search finds them), and its live solutions, accepted first."""

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
    restored: bool = False  # the source was logged before, deleted, and a moderator logged it again


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
    # The watched channel whose backfill cursor moves past this message, in the transaction that logs it.
    watched_channel_id: int | None = None
    # A forum post's starter message: the post's title, and the topics its tags name (no `Challenge:` needed).
    forum_post: ForumPostText | None = None


IngestResult = Logged | SolutionLogged | None


def solution_view(solution: Solution) -> SolutionView:
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
        solutions = tuple(solution_view(solution) for solution in live)
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


def found_view(found: FoundChallenge) -> ChallengeView:
    """A challenge as the search statement returned it (no solutions)."""
    return ChallengeView(*(getattr(found, field.name) for field in fields(FoundChallenge)))


def render_snippet(raw: str) -> str:
    """The engine's snippet with user text shown as written (`user_text`) and the matched words in bold, on one
    line."""
    return user_text(raw, one_line=True).replace(HIGHLIGHT_START, "**").replace(HIGHLIGHT_END, "**")
