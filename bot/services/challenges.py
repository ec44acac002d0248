"""The challenge log: logging, solutions, acceptance, listing, search, nudges, export.

Plain types in and out; every write is one transaction; the database enforces what must hold
(one log entry per source message, one accepted solution per challenge).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.errortext import error_signatures
from bot.challenges.export import (
    CsvExport,
    ExportChallenge,
    ExportSolution,
    ExportTooLarge,
    MarkdownExport,
    describe_scope,
)
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
from bot.core.errors import (
    ExportBusyError,
    ExportTooLargeError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TopicNotFoundError,
)
from bot.core.ratelimit import SlidingWindowLimiter
from bot.core.usertext import user_text
from bot.db.base import utcnow
from bot.db.models import Challenge, ChallengeTopic, Solution
from bot.db.privacy_repository import Placeholders, PrivacyRepository
from bot.db.repositories import ChallengeRepository, LoggedSource
from bot.db.search import HIGHLIGHT_END, HIGHLIGHT_START, ChallengeSearchEngine, FoundChallenge
from bot.knowledge.render import SolvedChallengeRef, SolvedChallenges
from bot.services.topics import TopicService

log = logging.getLogger(__name__)

MAX_TRIED = 1000
# In-channel posts written in one transaction at most: a burst is committed in a few group commits,
# and one batch never holds the write lock for long.
MAX_BATCH = 500
# Posts parsed between two chances for the batch in flight to move on (parsing holds the event loop).
PARSE_SLICE = 16
# A batch the database refused (locked past its busy timeout, connection lost) is tried again after these.
WRITE_RETRY_PAUSES = (0.5, 2.0)
# Parsing a post (its parts, error signatures, topics) costs far more than writing it. The first time this
# many are being parsed at once (a burst: a flood of posts, or a backfill), worker processes start, kept from
# then on, that parse every batch of at least POOL_BATCH posts: the event loop stays free for the gateway and
# the writes. Until a burst comes, as in the usual trickle of posts, everything is parsed in the bot's process.
POOL_START = 32
POOL_BATCH = 4
PARSE_WORKERS = 2
PAGE_SIZE = 5
SIMILAR = 3
NUDGE_BATCH = 20  # nudges of each kind per round, taken in turn from every server with some due
ANONYMOUS = "a former member"
# What stands in for text erased at its author's request (`/nexus forget-me`) or by the retention purge.
ERASED_TITLE = "(text erased)"
ERASED_SOLUTION = "(text erased)"
PLACEHOLDERS = Placeholders(author=ANONYMOUS, title=ERASED_TITLE, body=ERASED_SOLUTION)
FORGOTTEN_SOURCE = (
    "That message cannot be logged again: its entry was unlinked from it. "
    "Log it afresh with `/challenge new` (or `/challenge solve`) if it is still useful."
)
# Challenges one member may log per hour with `/challenge new` and the menu (in-channel posts are not capped).
NEW_CHALLENGES_PER_HOUR = 10
Period = Literal["week", "month", "all"]
Sort = Literal["newest", "oldest"]
Status = Literal["open", "solved"]
ExportFormat = Literal["markdown", "csv"]
# Challenges read from the database at a time for an export: each batch is rendered in a worker thread, so the
# event loop only ever holds the rows of one batch, and only for as long as the driver takes to hand them over.
EXPORT_BATCH = 500


# The export's worker thread renders this many challenges, then pauses this long. A thread running Python keeps
# the GIL until the event loop has waited a whole switch interval (5 ms) for it, at every turn of the loop; the
# pause hands it over at once instead. It costs the export a few per cent.
RENDER_SLICE = 20
RENDER_PAUSE = 0.0001


def _render(writer: MarkdownExport | CsvExport, items: Iterator[ExportChallenge]) -> None:
    while chunk := list(itertools.islice(items, RENDER_SLICE)):
        writer.add(chunk)
        time.sleep(RENDER_PAUSE)


def parse_since(text: str) -> date:
    """The `since` option of an export: a date as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        shown = text.strip()[:40].replace("`", "'")
        raise InvalidInputError(
            f"`since` takes a date written YYYY-MM-DD, such as 2024-05-01; `{shown}` is not one."
        ) from None


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


@dataclass(frozen=True, slots=True)
class ForumPostText:
    title: str
    topics: tuple[str, ...] = ()


IngestResult = Logged | SolutionLogged | None
# Per watched channel: (its server, the newest message a batch handled).
_Cursors = dict[int, tuple[int, int]]


@dataclass(slots=True)
class _Arrived:
    """An in-channel message queued for the writer, not parsed yet."""

    message: IncomingMessage
    at: datetime
    done: asyncio.Future[IngestResult]


@dataclass(frozen=True, slots=True)
class _ParsedChallenge:
    title: str
    details: str
    solution: str | None
    error_terms: str
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _ParsedSolution:
    body: str


_Parsed = _ParsedChallenge | _ParsedSolution | None
# What a message's parsing needs: its text, whether it answers a message, and its forum post's title and tags.
_Work = tuple[str, bool, "ForumPostText | None"]


@dataclass(slots=True)
class _ChallengePost:
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
class _SolutionReply:
    """A reply (or a message in a thread) starting with `Solution:`, waiting for the writer."""

    message: IncomingMessage
    body: str
    target: int
    at: datetime
    done: asyncio.Future[IngestResult]


@dataclass(slots=True)
class _Change:
    """Another write that must follow the posts queued before it: an edit, a deletion, a cursor."""

    run: Callable[[], Awaitable[Any]]
    done: asyncio.Future[Any]


_Post = _ChallengePost | _SolutionReply


@dataclass(slots=True)
class _ParsedBatch:
    """Messages parsed, waiting for the writer: their posts, the answers for the others, and the newest
    message per watched channel (its cursor moves past it when they are written)."""

    posts: list[_Post]
    answered: list[tuple[asyncio.Future[IngestResult], Exception | None]]
    cursors: _Cursors

    def __len__(self) -> int:
        return len(self.posts) + len(self.answered)

    def move_cursor(self, channel_id: int, guild_id: int, message_id: int) -> None:
        newest = self.cursors.get(channel_id, (guild_id, 0))[1]
        self.cursors[channel_id] = (guild_id, max(newest, message_id))

    def absorb(self, later: _ParsedBatch) -> None:
        """Add the batch parsed after this one: written together, as one batch."""
        self.posts += later.posts
        self.answered += later.answered
        for channel_id, (guild_id, newest) in later.cursors.items():
            self.move_cursor(channel_id, guild_id, newest)

    def cancel(self) -> None:
        for post in self.posts:
            post.done.cancel()  # no-op for those already answered
        for done, _ in self.answered:
            done.cancel()


@dataclass(slots=True)
class _Parsing:
    """A batch of messages being parsed."""

    batch: list[_Arrived]
    task: asyncio.Task[_ParsedBatch]

    def cancel(self) -> None:
        self.task.cancel()
        for item in self.batch:
            item.done.cancel()  # no-op for those already resolved

    def failed(self) -> None:
        """Parsing failed (its messages get the error) or was cancelled (so are they)."""
        error = None if self.task.cancelled() else self.task.exception()
        if error is not None:
            log.error("could not parse %d messages", len(self.batch), exc_info=error)
        for item in self.batch:
            if error is None:
                item.done.cancel()
            else:
                _settle(item.done, error=error)


def _parsed_well(task: asyncio.Task[_ParsedBatch]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


class _Retry(Exception):
    """Another writer logged one of the batch's messages meanwhile: write the batch again post by post."""


def _settle(future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Resolve a caller's future unless the caller stopped waiting (what was written stays written)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


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


def found_view(found: FoundChallenge) -> ChallengeView:
    """A challenge as the search statement returned it (no solutions)."""
    return ChallengeView(*(getattr(found, field.name) for field in fields(FoundChallenge)))


def render_snippet(raw: str) -> str:
    """The engine's snippet with user text shown as written (`user_text`) and the matched words in bold, on one
    line."""
    return user_text(raw, one_line=True).replace(HIGHLIGHT_START, "**").replace(HIGHLIGHT_END, "**")


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


def _with_inferred(slugs: list[str], matcher: TopicMatcher, text: str) -> list[str]:
    """`slugs`, then the topics inferred from `text`, each once, at most five."""
    for slug in matcher.infer(text):
        if slug not in slugs:
            slugs.append(slug)
    return slugs[:5]


def _parse_message(content: str, answers: bool, matcher: TopicMatcher, forum: ForumPostText | None = None) -> _Parsed:
    """What an in-channel message is: a challenge post, a solution (when it answers a message), or neither.

    Pure, and most of the work of logging a post. Raises `InvalidInputError` for a post that cannot be
    logged, as `log_challenge` does. A forum post's starter message is a challenge as it stands.
    """
    if forum is not None:
        title = _required(clean_text(forum.title), "title", MAX_TITLE)
        details = _optional(clean_text(content), "details", MAX_DETAILS) or ""
        text = "\n".join(part for part in (title, details) if part)
        topics = tuple(_with_inferred(list(forum.topics), matcher, text))
        return _ParsedChallenge(title, details, None, " ".join(error_signatures(text)), topics)
    parsed = parse_post(content)
    if parsed is not None:
        title = _required(parsed.title, "title", MAX_TITLE)
        details = _optional(parsed.details, "details", MAX_DETAILS) or ""
        solution = _optional(parsed.solution, "solution", MAX_SOLUTION)
        text = "\n".join(part for part in (title, details) if part)
        topics = tuple(_with_inferred([], matcher, text))
        return _ParsedChallenge(title, details, solution, " ".join(error_signatures(text)), topics)
    body = parse_solution(content) if answers else None
    return _ParsedSolution(body) if body is not None else None


def _parse_or_error(
    content: str, answers: bool, matcher: TopicMatcher, forum: ForumPostText | None = None
) -> _Parsed | Exception:
    try:
        return _parse_message(content, answers, matcher, forum)
    except Exception as error:  # the post's own failure, for its caller alone
        return error


_worker_matcher: TopicMatcher | None = None


def _start_worker(matcher: TopicMatcher, bot: int) -> None:
    """In a parsing worker process: keep the topic matcher the bot built, and end with the bot."""
    global _worker_matcher
    _worker_matcher = matcher
    threading.Thread(target=_exit_with_bot, args=(bot,), daemon=True).start()


def _exit_with_bot(bot: int) -> None:
    # A bot killed outright (SIGKILL, OOM) cannot stop its workers: once it is gone (this process is
    # adopted by another, maybe before it even started), they go too.
    while os.getppid() == bot:
        time.sleep(1.0)
    os._exit(0)


def _parse_in_worker(work: list[_Work]) -> list[_Parsed | Exception]:
    matcher = _worker_matcher
    if matcher is None:
        raise RuntimeError("the parsing worker was started without its topic matcher")
    return [_parse_or_error(content, answers, matcher, forum) for content, answers, forum in work]


@dataclass(slots=True)
class _NewSolution:
    """A solution a batch adds: to an existing challenge (`challenge_id`) or to one the same batch
    logs (`challenge_source`, the message it is logged from)."""

    post: _Post
    body: str
    challenge_id: int | None
    challenge_source: int | None
    id: int | None = None


class _BatchPlan:
    """What a batch of posts becomes, decided post by post in order, as if each were written alone.

    Built from what the database already holds for the batch's messages; gives the rows to insert and,
    once they are, what each post became.
    """

    def __init__(
        self,
        batch: list[_Post],
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
        self.challenges: dict[int, _ChallengePost] = {}  # by source message, in order
        self.challenge_ids: dict[int, int] = {}
        self.solutions: dict[int, _NewSolution] = {}  # by source message, in order
        # Per post: what it became, in a form resolved once the rows are stored (see `outcomes`).
        self._decisions: list[tuple[str, Any]] = [self._decide(post) for post in batch]
        if reserved is not None:
            next_challenge, next_solution = reserved
            self.challenges_inserted({source: next_challenge + n for n, source in enumerate(self.challenges)})
            self.solutions_inserted({source: next_solution + n for n, source in enumerate(self.solutions)})

    def _decide(self, post: _Post) -> tuple[str, Any]:
        source = post.message.message_id
        if source in self._forgotten:
            return "nothing", None  # unlinked by forget-me: a replay or a backfill must not log it again
        if isinstance(post, _ChallengePost):
            if source in self._logged:
                return "logged challenge", self._logged[source]
            if source in self.challenges:
                return "repeated challenge", source
            self.challenges[source] = post
            if post.solution is not None and source not in self._answers and source not in self.solutions:
                self.solutions[source] = _NewSolution(post, post.solution, None, source)
            return "new challenge", source
        target = self._target(post.target, post.message.guild_id)
        if target is None:
            return "nothing", None
        if source in self._answers:
            return "logged solution", self._answers[source]
        if source in self.solutions:
            return "repeated solution", source
        try:
            body = _required(post.body, "solution", MAX_SOLUTION)
        except InvalidInputError as error:
            return "error", error
        self.solutions[source] = _NewSolution(post, body, *target)
        return "new solution", source

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
                "status": "open",
                "created_at": post.at,
                "updated_at": post.at,
            }
            if source in self.challenge_ids:
                row["id"] = self.challenge_ids[source]
            rows.append(row)
        return rows

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
        ids = {self._challenge_id(self.solutions[value]) for kind, value in self._decisions if kind == "new solution"}
        logged = ("logged challenge", "logged solution")
        return ids | {value.challenge_id for kind, value in self._decisions if kind in logged}

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
            status="open",
            topics=post.topics,
            created_at=post.at,
            source_message_id=source,
            solutions=(self._new_solution_view(solution),) if solution is not None and own else (),
        )

    def outcomes(self, stored: dict[int, Challenge]) -> list[IngestResult | Exception]:
        """What each post became, given the challenges `challenges_to_show` asked for."""
        new_challenges = {source: self._new_challenge_view(source) for source in self.challenges}
        results: list[IngestResult | Exception] = []
        for (kind, value), post in zip(self._decisions, self._batch, strict=True):
            if kind == "nothing":
                results.append(None)
            elif kind == "error":
                results.append(value)
            elif kind == "new challenge" or kind == "repeated challenge":
                view = new_challenges[value]
                results.append(Logged(view, kind == "new challenge", view.solutions[0] if view.solutions else None))
            elif kind == "logged challenge":
                results.append(Logged(challenge_view(stored[value.id]), created=False))
            elif kind == "new solution" or kind == "repeated solution":
                solution = self.solutions[value]
                owner = stored[self._challenge_id(solution)]
                results.append(
                    SolutionLogged(challenge_view(owner), self._new_solution_view(solution), kind == "new solution")
                )
            else:  # "logged solution"
                owner = stored[value.challenge_id]
                if owner.deleted_at is not None or owner.guild_id != post.message.guild_id:
                    results.append(
                        InvalidInputError(
                            "That message is already logged as a solution to a challenge that was deleted."
                        )
                    )
                    continue
                existing = next(item for item in owner.solutions if item.id == value.id)
                results.append(SolutionLogged(challenge_view(owner), _solution_view(existing), False))
        return results


class SolvedChallengeLog:
    """The solved challenges per topic that `/topic` cards show (a `SolvedChallengeSource`).

    Cards are read far more often than challenges are solved: answers are kept in memory per
    server and forgotten whenever the challenge service changes that server's log. A server's log
    is its own: outside a server (a DM) a card shows no solved challenges at all.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: dict[int, dict[tuple[str, int], SolvedChallenges]] = {}

    async def solved_for_topic(self, guild_id: int | None, slug: str, limit: int) -> SolvedChallenges:
        if guild_id is None:
            return SolvedChallenges()
        cached = self._cache.get(guild_id, {}).get((slug, limit))
        if cached is not None:
            return cached
        async with self._sessions() as session:
            count, rows = await ChallengeRepository(session).solved_for_topic(guild_id, slug, limit)
        answer = SolvedChallenges(count, tuple(SolvedChallengeRef(row.id, row.title) for row in rows))
        self._cache.setdefault(guild_id, {})[(slug, limit)] = answer
        return answer

    def forget(self, guild_id: int) -> None:
        """Drop what is cached for a server after its log changed."""
        self._cache.pop(guild_id, None)


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
        new_challenges: SlidingWindowLimiter | None = None,
    ) -> None:
        self._sessions = sessions
        self._new_challenges = new_challenges or SlidingWindowLimiter(NEW_CHALLENGES_PER_HOUR, 3600.0)
        self._search = search
        self._topics = topics
        self._solved_log = solved_log
        self._unanswered_after = unanswered_after
        self._ask_author_after = ask_author_after
        self._matcher = TopicMatcher(topics.knowledge_base.cards)
        # In-channel writes, in arrival order, for the one writer task (see `submit`).
        self._queue: deque[_Arrived | _Change] = deque()
        self._writer: asyncio.Task[None] | None = None
        # Batches being parsed, oldest first; `_dispatch` is due once per turn of the event loop.
        self._parsing: deque[_Parsing] = deque()
        self._dispatch_due = False
        self._parsing_here = asyncio.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_ready: asyncio.Future[Any] | None = None
        self._pool_broken = False
        # Channels whose cursor stays before a batch that could not be written (see `_hold_cursors`).
        self._held_cursors: dict[int, int] = {}
        # Servers with an export being prepared or sent: one at a time each (an export reads the whole log).
        self._exporting: set[int] = set()
        self._status_listeners: list[Callable[[ChallengeView], None]] = []

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
        return _with_inferred(slugs, self._matcher, text)

    # ----- topics ----------------------------------------------------------------------------

    def _resolve_topics(self, named: str | None, text: str) -> list[str]:
        """Explicit topic names (comma-separated) first, then those inferred from the text."""
        slugs: list[str] = []
        for name in (named or "").split(","):
            slug = self._topics.find(name.strip()).slug if name.strip() else None
            if slug is not None and slug not in slugs:
                slugs.append(slug)
        return _with_inferred(slugs, self._matcher, text)

    async def topic_choices(self, current: str, guild_id: int | None, user_id: int) -> list[tuple[str, str]]:
        """(name, slug) pairs for a topic option's autocomplete, the member's track first."""
        track = await self._topics.learner_track(guild_id, user_id)
        return [(choice.name, choice.value) for choice in self._topics.autocomplete(current, track)]

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
        body = _optional(solution, "solution", MAX_SOLUTION)
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
        if message.author_is_bot or message.is_webhook:
            return None
        arrived = _Arrived(message, utcnow(), asyncio.get_running_loop().create_future())
        self._enqueue(arrived)
        return arrived.done

    def _enqueue(self, item: _Arrived | _Change) -> None:
        self._queue.append(item)
        loop = asyncio.get_running_loop()
        if not self._dispatch_due:
            # Once per turn of the event loop: the messages a turn of gateway events brought are parsed together.
            self._dispatch_due = True
            loop.call_soon(self._dispatch_turn)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_queue(), name="challenge-writer")

    async def _in_turn(self, run: Callable[[], Awaitable[Any]]) -> Any:
        """Run a write after every post queued before it: an edit racing its post's creation finds it."""
        change = _Change(run, asyncio.get_running_loop().create_future())
        self._enqueue(change)
        return await change.done

    async def idle(self) -> None:
        """Wait until the queue of in-channel writes is empty."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    async def _write_queue(self) -> None:
        """The writer: writes what was parsed, in order, while what arrived since is being parsed.

        Messages are parsed from the moment they arrive (`_dispatch`), several batches at once; a write
        takes every batch parsed by the time it starts, up to `MAX_BATCH` messages, in one transaction. So
        the parsing workers are busy while a burst is still arriving, and the burst is committed in a few
        group commits. A change (an edit, a deletion) waits until every message queued before it is written.
        """
        loop = asyncio.get_running_loop()
        writing: asyncio.Task[None] | None = None
        written: _ParsedBatch | None = None  # what `writing` writes
        try:
            while True:
                self._dispatch()
                parsing = self._parsing[0].task if self._parsing else None
                if parsing is not None and parsing.done() and not _parsed_well(parsing):
                    self._parsing.popleft().failed()  # its messages get the error; the others go on
                    continue
                if writing is None and parsing is not None and parsing.done():
                    written = self._take_parsed()
                    writing = loop.create_task(self._write_posts(written.posts, written.answered, written.cursors))
                if writing is None and parsing is None:
                    if not self._queue:
                        return  # `_enqueue` starts a new writer
                    # A change heads the queue (`_dispatch` would have taken a message), and every message
                    # before it is written: its turn.
                    await self._run_change(cast(_Change, self._queue.popleft()))
                    continue
                # The next write waits for the write in flight, then for the oldest batch being parsed.
                if writing is not None:
                    await writing  # it answers its posts, failed or not: it raises only if cancelled
                    writing, written = None, None
                elif parsing is not None:
                    await asyncio.wait([parsing])
        finally:
            # Only when cancelled (the loop is closing) is anything left: nothing will write it.
            if writing is not None:
                writing.cancel()
            if written is not None:
                written.cancel()  # a write cancelled before it started cannot answer its posts itself
            while self._parsing:
                self._parsing.popleft().cancel()
            while self._queue:
                self._queue.popleft().done.cancel()

    def _dispatch_turn(self) -> None:
        self._dispatch_due = False
        self._dispatch()

    def _dispatch(self) -> None:
        """Start parsing every message queued up to the next change, in batches of at most `MAX_BATCH`."""
        while self._queue and isinstance(self._queue[0], _Arrived):
            batch: list[_Arrived] = []
            while self._queue and len(batch) < MAX_BATCH and isinstance(self._queue[0], _Arrived):
                batch.append(cast(_Arrived, self._queue.popleft()))
            self._parsing.append(_Parsing(batch, self._start_parse(batch)))

    def _take_parsed(self) -> _ParsedBatch:
        """The oldest parsed batches as one: all parsed so far that fit in `MAX_BATCH` messages (at least one)."""
        batch = self._parsing[0].task.result()
        self._parsing.popleft()
        while self._parsing and _parsed_well(self._parsing[0].task):
            following = self._parsing[0].task.result()
            if len(batch) + len(following) > MAX_BATCH:
                break
            batch.absorb(following)
            self._parsing.popleft()
        return batch

    def _start_parse(self, batch: list[_Arrived]) -> asyncio.Task[_ParsedBatch]:
        """Parse a batch: a big one in the parsing workers, if they run, which get it now (not on the
        event loop's next turns, which may be busy reading a burst of gateway events)."""
        work = [
            (
                item.message.content,
                (item.message.reference_message_id or item.message.thread_parent_message_id) is not None,
                item.message.forum_post,
            )
            for item in batch
        ]
        loop = asyncio.get_running_loop()
        sent: list[asyncio.Future[list[_Parsed | Exception]]] = []
        try:
            pool = self._pool_for(len(work))
            if pool is not None:
                size = -(-len(work) // PARSE_WORKERS)
                for start in range(0, len(work), size):
                    sent.append(loop.run_in_executor(pool, _parse_in_worker, work[start : start + size]))
        except Exception as error:  # the workers are gone (BrokenProcessPool), stopped, or could not start
            for future in sent:
                future.cancel()
            sent = []
            self._workers_failed(error)
        return loop.create_task(self._parsed(batch, work, sent))

    async def _parsed(
        self, batch: list[_Arrived], work: list[_Work], sent: list[asyncio.Future[list[_Parsed | Exception]]]
    ) -> _ParsedBatch:
        """The batch's posts, the answers for its other messages (no post, or one that cannot be logged),
        and how far it moves its channels' cursors."""
        parsed: list[_Parsed | Exception] | None = None
        if sent:
            # A failed part is an exception here, a stopped pool's a cancellation: either way, parse it here.
            parts = await asyncio.gather(*sent, return_exceptions=True)
            if any(isinstance(part, BaseException) for part in parts):
                self._workers_failed(next(part for part in parts if isinstance(part, BaseException)))
            else:
                parsed = [result for part in parts for result in cast(list[_Parsed | Exception], part)]
        if parsed is None:
            parsed = []
            # One batch at a time, oldest first: several at once would all finish late, and the next write
            # needs the oldest.
            async with self._parsing_here:
                for index, (content, answers, forum) in enumerate(work):
                    parsed.append(_parse_or_error(content, answers, self._matcher, forum))
                    if index % PARSE_SLICE == PARSE_SLICE - 1:
                        await asyncio.sleep(0)  # the batch in flight moves on meanwhile
        result = _ParsedBatch([], [], {})
        for item, outcome in zip(batch, parsed, strict=True):
            message = item.message
            if isinstance(outcome, _ParsedChallenge):
                result.posts.append(
                    _ChallengePost(
                        message,
                        outcome.title,
                        outcome.details,
                        outcome.error_terms,
                        outcome.topics,
                        outcome.solution,
                        item.at,
                        item.done,
                    )
                )
            elif isinstance(outcome, _ParsedSolution):
                target = message.reference_message_id or message.thread_parent_message_id or 0
                result.posts.append(_SolutionReply(message, outcome.body, target, item.at, item.done))
            else:
                result.answered.append((item.done, outcome))
            if message.watched_channel_id is not None:
                result.move_cursor(message.watched_channel_id, message.guild_id, message.message_id)
        return result

    def _workers_failed(self, error: BaseException | None = None) -> None:
        """A worker died, or could not be reached: the bot's process parses from now on."""
        if not self._pool_broken:
            log.warning(
                "the parsing workers failed; parsing in the bot's process from now on",
                exc_info=error or True,
            )
            self._pool_broken = True
        self._stop_pool()

    def _pool_for(self, count: int) -> ProcessPoolExecutor | None:
        """The parsing workers for a batch of `count` messages, or None to parse in this process."""
        if self._pool_broken:
            return None
        if self._pool is None:
            # A burst: this batch and those still being parsed (a burst comes in over several turns of the loop).
            parsing = sum(len(item.batch) for item in self._parsing if not item.task.done())
            if count + parsing >= POOL_START:
                self._start_pool()
            return None  # this batch is parsed here (while the workers start)
        if count < POOL_BATCH:
            return None
        if self._pool_ready is None or not self._pool_ready.done():
            return None
        return self._pool

    def _start_pool(self) -> None:
        pool: ProcessPoolExecutor | None = None
        try:
            # Spawned, not forked: the bot's process has threads (the database driver's) a fork would copy.
            pool = ProcessPoolExecutor(
                PARSE_WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._matcher, os.getpid()),
            )
            started: list[Future[list[_Parsed | Exception]]] = [
                pool.submit(_parse_in_worker, []) for _ in range(PARSE_WORKERS)
            ]
        except Exception:  # no processes here (OSError), or the matcher could not be sent to them
            log.warning("cannot start parsing workers; parsing in the bot's process", exc_info=True)
            self._pool_broken = True
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            return
        self._pool = pool
        self._pool_ready = asyncio.gather(*(asyncio.wrap_future(future) for future in started))
        self._pool_ready.add_done_callback(self._pool_started)

    def _pool_started(self, ready: asyncio.Future[Any]) -> None:
        if ready.cancelled() or ready.exception() is None:
            return
        log.warning("parsing workers did not start; parsing in the bot's process", exc_info=ready.exception())
        self._pool_broken = True
        self._stop_pool()

    def _stop_pool(self) -> ProcessPoolExecutor | None:
        pool, self._pool, self._pool_ready = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        return pool

    async def parsing_workers_started(self) -> bool:
        """Wait for the parsing workers a big batch started; False if none were started or they failed."""
        ready = self._pool_ready
        if ready is None:
            return False
        with contextlib.suppress(Exception):
            await asyncio.shield(ready)
        return self._pool is not None and not self._pool_broken

    async def close(self) -> None:
        """Finish the queued in-channel writes and stop the parsing workers (before the engine goes)."""
        await self.idle()
        pool = self._stop_pool()
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True)  # the workers exit; no process is left behind

    @staticmethod
    async def _run_change(change: _Change) -> None:
        try:
            result = await change.run()
        except Exception as error:
            if not change.done.done():
                change.done.set_exception(error)
        else:
            if not change.done.done():
                change.done.set_result(result)

    async def _write_posts(
        self,
        batch: list[_Post],
        answered: list[tuple[asyncio.Future[IngestResult], Exception | None]],
        cursors: _Cursors,
    ) -> None:
        """Write a batch, then answer every message of it: in order, after all queued before it.

        One transaction for the batch and its channels' cursors. A fault of the database (locked, gone) is
        retried for the whole batch; a failure of one of its posts (a clash) makes it write them one by
        one, so that one bad post costs no other. Either way a post is stored whole or not at all.
        """
        try:
            for pause in (*WRITE_RETRY_PAUSES, None):
                try:
                    outcomes = await self._write_batch(batch, cursors)
                    break
                except OperationalError as error:
                    if pause is None:
                        log.error("could not write %d posts: %s", len(batch), error)
                        outcomes = [error] * len(batch)
                        self._hold_cursors(batch)
                        break
                    log.warning("writing %d posts failed (%s); trying again in %.1f s", len(batch), error, pause)
                    await asyncio.sleep(pause)
                except Exception as error:
                    if len(batch) == 1 and not isinstance(error, _Retry):
                        outcomes = [error]
                        await self._write_alone([], cursors)
                        break
                    if not isinstance(error, _Retry):
                        log.warning("a batch of %d posts failed; writing them one by one", len(batch), exc_info=True)
                    outcomes = [await self._write_alone([post], {}) for post in batch]
                    await self._write_alone([], cursors)
                    break
            for post, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    _settle(post.done, error=outcome)
                else:
                    _settle(post.done, outcome)
            for done, result in answered:
                if isinstance(result, Exception):
                    _settle(done, error=result)
                else:
                    _settle(done, result)
        finally:
            for post in batch:
                post.done.cancel()  # only those left unresolved: the writer was cancelled
            for done, _ in answered:
                done.cancel()

    async def _write_alone(self, batch: list[_Post], cursors: _Cursors) -> IngestResult | Exception:
        """Write one post (or only cursors): what it became, or why it could not be written."""
        try:
            outcomes = await self._write_batch(batch, cursors)
        except Exception as error:
            return error
        return outcomes[0] if outcomes else None

    def _hold_cursors(self, batch: list[_Post]) -> None:
        """Keep the cursors of these posts' channels before them from now on: the next start reads them again."""
        for post in batch:
            channel = post.message.watched_channel_id
            if channel is not None:
                held = self._held_cursors.get(channel, post.message.message_id)
                self._held_cursors[channel] = min(held, post.message.message_id - 1)

    async def _write_batch(self, batch: list[_Post], cursors: _Cursors) -> list[IngestResult | Exception]:
        """Write a batch of posts and move their channels' cursors, in one transaction; what each post became."""
        if not batch and not cursors:
            return []
        async with self._sessions.begin() as session:
            repository = ChallengeRepository(session)
            for channel_id, (guild_id, newest) in cursors.items():
                held = self._held_cursors.get(channel_id, newest)
                await repository.advance_cursor(guild_id, channel_id, min(newest, held))
            if not batch:
                return []
            reserved = await repository.reserve_ids()
            sources = {post.message.message_id for post in batch}
            targets = {post.target for post in batch if isinstance(post, _SolutionReply)}
            logged, answers = await repository.logged_sources(sources | targets)
            owners = await repository.live_guilds(
                {answer.challenge_id for source, answer in answers.items() if source in targets}
            )
            forgotten = await PrivacyRepository(session).forgotten(sources)
            plan = _BatchPlan(batch, logged, answers, owners, reserved, forgotten)
            if reserved is not None:
                # Children first: each challenge's search row is then built once, when it is inserted.
                await repository.insert_topics(plan.topic_rows())
                await repository.insert_solutions(plan.solution_rows())
                await repository.insert_challenges(plan.challenge_rows())
            else:
                ids = await repository.insert_challenges(plan.challenge_rows())
                if len(ids) < len(plan.challenges):
                    raise _Retry
                plan.challenges_inserted(ids)
                await repository.insert_topics(plan.topic_rows())
                solution_ids = await repository.insert_solutions(plan.solution_rows())
                if len(solution_ids) < len(plan.solutions):
                    raise _Retry
                plan.solutions_inserted(solution_ids)
            stored = await repository.with_solutions(plan.challenges_to_show())
            return plan.outcomes(stored)

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
            unanswered = await repository.due_nudges(now - self._unanswered_after, limit=NUDGE_BATCH)
            questions = await repository.due_author_questions(now - self._ask_author_after, limit=NUDGE_BATCH)
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
        await self._in_turn(lambda: self._advance_cursor(guild_id, channel_id, message_id))

    async def _advance_cursor(self, guild_id: int, channel_id: int, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await ChallengeRepository(session).advance_cursor(guild_id, channel_id, message_id)

    async def guilds(self) -> list[int]:
        """Every server with a logged challenge (for the offline export)."""
        async with self._sessions() as session:
            return await ChallengeRepository(session).guilds()

    async def export(self, guild_id: int, *, batch: int = 2000) -> AsyncIterator[ExportChallenge]:
        """Every live challenge of a server with its solutions (accepted first), streamed in id order."""
        async for raw in self._export_batches(guild_id, batch=batch):
            for item in self._export_items(raw):
                yield item

    async def _export_batches(
        self,
        guild_id: int,
        *,
        batch: int,
        status: Status | None = None,
        topic: str | None = None,
        since: datetime | None = None,
    ) -> AsyncGenerator[tuple[list[Any], dict[int, list[str]], dict[int, list[Any]]]]:
        """The rows of the export, `batch` challenges at a time, in id order (keyset: no batch rereads another)."""
        after = 0
        while True:
            async with self._sessions() as session:
                raw = await ChallengeRepository(session).export_batch(
                    guild_id, after, batch, status=status, topic=topic, since=since
                )
            rows = raw[0]
            if rows:
                yield raw
            if len(rows) < batch:
                return
            after = rows[-1].id

    def _export_items(
        self, raw: tuple[list[Any], dict[int, list[str]], dict[int, list[Any]]]
    ) -> Iterator[ExportChallenge]:
        rows, topics, solutions = raw
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

    @contextlib.asynccontextmanager
    async def export_file(
        self,
        guild_id: int,
        *,
        community: str,
        format: ExportFormat = "markdown",
        limit: int | None = None,
        topic: str | None = None,
        status: Status | None = None,
        since: date | None = None,
    ) -> AsyncIterator[ExportedFile]:
        """The "Challenges & Solutions" document of a server in a temporary file, removed when the block ends.

        Rows come from the database in batches and are rendered in a worker thread, so the event loop is never
        held for long and memory stays bounded whatever the size of the log. Past `limit` bytes (the server's
        upload limit) it stops and raises `ExportTooLargeError`, which offers the filters. One export at a time
        per server, from the start of rendering to the end of the block (its upload): a second gets
        `ExportBusyError`.
        """
        card = self._topics.find(topic) if topic else None
        if guild_id in self._exporting:
            raise ExportBusyError()
        self._exporting.add(guild_id)
        folder: Path | None = None
        try:
            folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="nexus-export-"))
            yield await self._write_export(
                folder,
                guild_id,
                community=community,
                format=format,
                limit=limit,
                topic=(card.slug, card.title) if card else None,
                status=status,
                since=since,
            )
        finally:
            # The server is free as soon as the file is sent; removing it needs no guard.
            self._exporting.discard(guild_id)
            if folder is not None:
                await asyncio.to_thread(shutil.rmtree, folder, True)

    def exporting(self, guild_id: int) -> bool:
        """Whether an export of this server is being prepared or sent."""
        return guild_id in self._exporting

    async def _write_export(
        self,
        folder: Path,
        guild_id: int,
        *,
        community: str,
        format: ExportFormat,
        limit: int | None,
        topic: tuple[str, str] | None,
        status: Status | None,
        since: date | None,
    ) -> ExportedFile:
        now = utcnow()
        slug, title = topic if topic else (None, None)
        filename = f"challenges-{slug + '-' if slug else ''}{now:%Y%m%d}.{'csv' if format == 'csv' else 'md'}"
        path = folder / filename
        count = 0
        with contextlib.ExitStack() as files:
            out = files.enter_context(path.open("wb"))
            writer: MarkdownExport | CsvExport
            if format == "csv":
                writer = CsvExport(out, limit=limit)
            else:
                writer = MarkdownExport(
                    out,
                    community=community,
                    generated_at=now,
                    limit=limit,
                    lead_topic=title,
                    scope=describe_scope(topic=title, status=status, since=since),
                    # The rendered entries wait on disk for their section, not in memory.
                    scratch=lambda: files.enter_context(tempfile.TemporaryFile(dir=folder)),
                )
            starts = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
            batches = self._export_batches(guild_id, batch=EXPORT_BATCH, status=status, topic=slug, since=starts)
            # One batch at a time: reading the next while the thread renders was no faster here (two cores) and
            # held the event loop up to three times as long.
            try:
                async with contextlib.aclosing(batches):
                    async for raw in batches:
                        await asyncio.to_thread(_render, writer, self._export_items(raw))
                        count += len(raw[0])
                size = await asyncio.to_thread(writer.finish)
            except ExportTooLarge as error:
                raise ExportTooLargeError(error.limit, error.exported) from None
        return ExportedFile(path, filename, count, size)

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
