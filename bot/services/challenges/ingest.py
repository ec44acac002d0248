"""The in-channel writer: one task that parses posts as they arrive and writes them in group commits."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.challenges.parsing import (
    ForumPostText,
    ParsedChallenge,
    ParsedMessage,
    ParsedSolution,
    TopicInference,
    parse_message,
)
from bot.db.base import utcnow
from bot.db.forum_repository import ForumRepository
from bot.db.privacy_repository import PrivacyRepository
from bot.db.repositories import ChallengeRepository
from bot.services.challenges.plan import BatchPlan, ChallengePost, Post, SolutionReply
from bot.services.challenges.views import IncomingMessage, IngestResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriterPolicy:
    """How the writer batches, yields and retries."""

    # In-channel posts written in one transaction at most: a burst is committed in a few group commits,
    # and one batch never holds the write lock for long.
    max_batch: int = 500
    # Posts parsed between two chances for the batch in flight to move on (parsing holds the event loop).
    parse_slice: int = 16
    # A batch the database refused (locked past its busy timeout, connection lost) is tried again after these.
    retry_pauses: tuple[float, ...] = (0.5, 2.0)


# Per watched channel: (its server, the newest message a batch handled).
_Cursors = dict[int, tuple[int, int]]


@dataclass(slots=True)
class _Arrived:
    """An in-channel message queued for the writer, not parsed yet."""

    message: IncomingMessage
    at: datetime
    done: asyncio.Future[IngestResult]


@dataclass(slots=True)
class _Change:
    """Another write that must follow the posts queued before it: an edit, a deletion, a cursor."""

    run: Callable[[], Awaitable[Any]]
    done: asyncio.Future[Any]


@dataclass(slots=True)
class _ParsedBatch:
    """Messages parsed, waiting for the writer: their posts, the answers for the others, and the newest
    message per watched channel (its cursor moves past it when they are written)."""

    posts: list[Post]
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


def _parse_or_error(
    content: str, answers: bool, matcher: TopicInference, forum: ForumPostText | None = None
) -> ParsedMessage | Exception:
    try:
        return parse_message(content, answers, matcher, forum)
    except Exception as error:  # the post's own failure, for its caller alone
        return error


class IngestWriter:
    """In-channel writes, in arrival order: posts parsed in this process and written in group commits, and
    other changes (edits, deletions, cursors) run in turn with them."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], matcher: TopicInference, policy: WriterPolicy
    ) -> None:
        self._sessions = sessions
        self._matcher = matcher
        self._policy = policy
        self._queue: deque[_Arrived | _Change] = deque()
        self._writer: asyncio.Task[None] | None = None
        # Batches being parsed, oldest first; `_dispatch` is due once per turn of the event loop.
        self._parsing: deque[_Parsing] = deque()
        self._dispatch_due = False
        self._parsing_here = asyncio.Lock()
        # Channels whose cursor stays before a batch that could not be written (see `_hold_cursors`).
        self._held_cursors: dict[int, int] = {}

    def submit(self, message: IncomingMessage) -> asyncio.Future[IngestResult] | None:
        """Queue an in-channel message; None for a bot's or a webhook's (see `ChallengeService.submit`)."""
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

    async def in_turn(self, run: Callable[[], Awaitable[Any]]) -> Any:
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

        Messages are parsed from the moment they arrive (`_dispatch`); a write takes every batch parsed by the
        time it starts, up to `max_batch` messages, in one transaction, so a burst is committed in a few group
        commits. A change (an edit, a deletion) waits until every message queued before it is written.
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
        """Start parsing every message queued up to the next change, in batches of at most `max_batch`."""
        while self._queue and isinstance(self._queue[0], _Arrived):
            batch: list[_Arrived] = []
            while self._queue and len(batch) < self._policy.max_batch and isinstance(self._queue[0], _Arrived):
                batch.append(cast(_Arrived, self._queue.popleft()))
            task = asyncio.get_running_loop().create_task(self._parsed(batch))
            self._parsing.append(_Parsing(batch, task))

    def _take_parsed(self) -> _ParsedBatch:
        """The oldest parsed batches as one: all parsed so far that fit in `max_batch` messages (at least one)."""
        batch = self._parsing[0].task.result()
        self._parsing.popleft()
        while self._parsing and _parsed_well(self._parsing[0].task):
            following = self._parsing[0].task.result()
            if len(batch) + len(following) > self._policy.max_batch:
                break
            batch.absorb(following)
            self._parsing.popleft()
        return batch

    async def _parsed(self, batch: list[_Arrived]) -> _ParsedBatch:
        """The batch's posts, the answers for its other messages (no post, or one that cannot be logged),
        and how far it moves its channels' cursors."""
        parsed: list[ParsedMessage | Exception] = []
        slice_ = self._policy.parse_slice
        # One batch at a time, oldest first: several at once would all finish late, and the next write needs
        # the oldest.
        async with self._parsing_here:
            for index, item in enumerate(batch):
                message = item.message
                answers = (message.reference_message_id or message.thread_parent_message_id) is not None
                parsed.append(_parse_or_error(message.content, answers, self._matcher, message.forum_post))
                if index % slice_ == slice_ - 1:
                    await asyncio.sleep(0)  # the batch in flight moves on meanwhile
        result = _ParsedBatch([], [], {})
        for item, outcome in zip(batch, parsed, strict=True):
            message = item.message
            if isinstance(outcome, ParsedChallenge):
                result.posts.append(
                    ChallengePost(
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
            elif isinstance(outcome, ParsedSolution):
                target = message.reference_message_id or message.thread_parent_message_id or 0
                result.posts.append(SolutionReply(message, outcome.body, target, item.at, item.done))
            else:
                result.answered.append((item.done, outcome))
            if message.watched_channel_id is not None:
                result.move_cursor(message.watched_channel_id, message.guild_id, message.message_id)
        return result

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
        batch: list[Post],
        answered: list[tuple[asyncio.Future[IngestResult], Exception | None]],
        cursors: _Cursors,
    ) -> None:
        """Write a batch, then answer every message of it: in order, after all queued before it.

        One transaction for the batch and its channels' cursors. A fault of the database (locked, gone) is
        retried for the whole batch; a failure of one of its posts (a clash) makes it write them one by
        one, so that one bad post costs no other. Either way a post is stored whole or not at all.
        """
        try:
            for pause in (*self._policy.retry_pauses, None):
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

    async def _write_alone(self, batch: list[Post], cursors: _Cursors) -> IngestResult | Exception:
        """Write one post (or only cursors): what it became, or why it could not be written."""
        try:
            outcomes = await self._write_batch(batch, cursors)
        except Exception as error:
            return error
        return outcomes[0] if outcomes else None

    def _hold_cursors(self, batch: list[Post]) -> None:
        """Keep the cursors of these posts' channels before them from now on: the next start reads them again."""
        for post in batch:
            channel = post.message.watched_channel_id
            if channel is not None:
                held = self._held_cursors.get(channel, post.message.message_id)
                self._held_cursors[channel] = min(held, post.message.message_id - 1)

    async def _write_batch(self, batch: list[Post], cursors: _Cursors) -> list[IngestResult | Exception]:
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
            targets = {post.target for post in batch if isinstance(post, SolutionReply)}
            logged, answers = await repository.logged_sources(sources | targets)
            owners = await repository.live_guilds(
                {answer.challenge_id for source, answer in answers.items() if source in targets}
            )
            forgotten = await PrivacyRepository(session).forgotten(sources)
            plan = BatchPlan(batch, logged, answers, owners, reserved, forgotten)
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
            for (guild_id, forum_id), threads in plan.forum_posts().items():
                await ForumRepository(session).record(guild_id, forum_id, threads)
            stored = await repository.with_solutions(plan.challenges_to_show())
            return plan.outcomes(stored)
