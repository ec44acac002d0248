"""The challenge log's services on a real SQLite file migrated to head: what is stored, found and refused."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, event, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.app import build_services
from bot.client import Services
from bot.config import load_settings
from bot.core.errors import (
    ExportBusyError,
    ExportTooLargeError,
    InvalidInputError,
    NexusError,
    NotFoundError,
    PermissionDeniedError,
    TopicNotFoundError,
)
from bot.db.base import utcnow
from bot.db.engine import create_session_factory
from bot.db.models import Challenge, Solution
from bot.db.repositories import ChallengeRepository
from bot.db.search import search_engine_for
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import (
    ANONYMOUS,
    PAGE_SIZE,
    ChallengeService,
    ChallengeView,
    IncomingMessage,
    Logged,
    Person,
    SolutionLogged,
    SolvedChallengeLog,
    WriterPolicy,
    parse_since,
)
from bot.services.challenges.ingest import IngestWriter
from bot.services.guild_settings import GuildSettingsService

GUILD = 1001
# What each engine says when a constraint refuses a row (SQLite names the columns, PostgreSQL the constraint).
ONE_ACCEPTED = r"UNIQUE constraint failed: solutions\.challenge_id|uq_solutions_one_accepted"
UNIQUE_CHALLENGE_SOURCE = r"UNIQUE constraint failed: challenges\.source_message_id|uq_challenges_source_message_id"
UNIQUE_SOLUTION_SOURCE = r"UNIQUE constraint failed: solutions\.source_message_id|uq_solutions_source_message_id"
OTHER_GUILD = 2002
CHANNEL = 3003
ANN = Person(11, "Ann")
BOB = Person(12, "Bob")
CAROL = Person(13, "Carol")
MODERATOR = Person(99, "Mod", is_moderator=True)


# --- fixtures and helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
def services(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> Services:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=database_url)
    return build_services(settings, engine, knowledge_base)


@pytest.fixture
async def log(services: Services) -> AsyncIterator[ChallengeService]:
    yield services.challenges
    await services.challenges.close()  # queued writes finished


@pytest.fixture
def nudging(engine: AsyncEngine, services: Services) -> ChallengeService:
    """A service with short nudge thresholds; tests pass `now` in the future instead of waiting."""
    return ChallengeService(
        create_session_factory(engine),
        search_engine_for(engine.dialect.name),
        services.topics,
        unanswered_after=timedelta(minutes=5),
        ask_author_after=timedelta(minutes=10),
    )


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Row[Any]]:
    async with engine.connect() as connection:
        return list(await connection.execute(text(sql), params))


async def _count(engine: AsyncEngine, table: str) -> int:
    if table == "challenge_search" and engine.dialect.name == "postgresql":
        # PostgreSQL keeps the search document on the row itself.
        rows = await _rows(engine, "SELECT count(*) FROM challenges WHERE search_vector IS NOT NULL")
    else:
        rows = await _rows(engine, f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names only
    return int(rows[0][0])


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    tables = ("challenges", "solutions", "challenge_topics", "challenge_search")
    return {table: await _count(engine, table) for table in tables}


async def _new(
    service: ChallengeService,
    title: str,
    *,
    details: str = "",
    author: Person = ANN,
    guild_id: int = GUILD,
    topics: str | None = None,
    source_message_id: int | None = None,
) -> ChallengeView:
    logged = await service.log_challenge(
        guild_id=guild_id,
        channel_id=CHANNEL,
        author=author,
        title=title,
        details=details,
        topics=topics,
        source_message_id=source_message_id,
    )
    assert logged.created
    return logged.challenge


async def _answer(
    service: ChallengeService, challenge: ChallengeView, body: str = "Add an index.", *, author: Person = BOB
) -> int:
    logged = await service.add_solution(
        guild_id=challenge.guild_id, challenge_id=challenge.id, author=author, body=body
    )
    return logged.solution.id


async def _solved(
    service: ChallengeService,
    title: str,
    *,
    details: str = "",
    helper: Person = BOB,
    guild_id: int = GUILD,
) -> ChallengeView:
    challenge = await _new(service, title, details=details, guild_id=guild_id)
    solution_id = await _answer(service, challenge, author=helper)
    return await service.accept(guild_id, challenge.id, solution_id, ANN)


def _message(message_id: int, content: str, **fields: Any) -> IncomingMessage:
    values: dict[str, Any] = {
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "message_id": message_id,
        "author_id": ANN.id,
        "author_name": ANN.name,
        "content": content,
    }
    values.update(fields)
    return IncomingMessage(**values)


# --- log_challenge ------------------------------------------------------------------------------------------


async def test_log_challenge_stores_every_field(log: ChallengeService, engine: AsyncEngine) -> None:
    before = utcnow()
    logged = await log.log_challenge(
        guild_id=GUILD,
        channel_id=CHANNEL,
        author=ANN,
        title="Migrations fail on CI",
        details="The pipeline cannot reach the database.",
        tried="Restarted the runner.",
        source_message_id=555,
    )
    assert logged.created
    assert logged.solution is None
    view = logged.challenge
    assert (view.guild_id, view.channel_id, view.author_id, view.author_name) == (GUILD, CHANNEL, ANN.id, "Ann")
    assert (view.title, view.details, view.tried) == (
        "Migrations fail on CI",
        "The pipeline cannot reach the database.",
        "Restarted the runner.",
    )
    assert view.status == "open"
    assert view.source_message_id == 555
    assert before <= view.created_at <= utcnow()

    rows = await _rows(
        engine,
        "SELECT guild_id, channel_id, author_id, author_name, source_message_id, title, details, tried, status, "
        "solved_at, deleted_at FROM challenges",
    )
    assert [tuple(row) for row in rows] == [
        (
            GUILD,
            CHANNEL,
            ANN.id,
            "Ann",
            555,
            "Migrations fail on CI",
            "The pipeline cannot reach the database.",
            "Restarted the runner.",
            "open",
            None,
            None,
        )
    ]
    shown = await log.show(GUILD, view.id)
    assert shown == view


async def test_topics_are_inferred_from_the_text(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(
        log,
        "Orders endpoint is slow",
        details="Django fires an N+1 query per row; select_related should help.",
    )
    assert "query-optimization" in challenge.topics
    rows = await _rows(engine, "SELECT slug, position FROM challenge_topics ORDER BY position")
    assert [row.slug for row in rows] == list(challenge.topics)
    assert [row.position for row in rows] == list(range(len(rows)))


async def test_named_topics_resolve_names_and_aliases_first(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "Rolling out the new image", topics="docker, k8s")
    assert challenge.topics[:2] == ("docker", "kubernetes")
    slugs = await _rows(engine, "SELECT slug FROM challenge_topics WHERE position < 2 ORDER BY position")
    assert [row.slug for row in slugs] == ["docker", "kubernetes"]


async def test_an_unknown_topic_name_is_refused_and_nothing_is_stored(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    with pytest.raises(TopicNotFoundError, match="basketweaving"):
        await _new(log, "Weaving baskets", topics="docker, basketweaving")
    assert set((await _counts(engine)).values()) == {0}


async def test_naming_the_same_topic_twice_logs_it_once(log: ChallengeService) -> None:
    challenge = await _new(log, "Image too large", topics="docker, Dockerfile")
    assert challenge.topics.count("docker") == 1


async def test_error_terms_are_stored_for_a_pasted_traceback(log: ChallengeService, engine: AsyncEngine) -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "shop/views.py", line 42, in create_order\n'
        "    order.save()\n"
        'django.db.utils.IntegrityError: duplicate key value violates unique constraint "orders_pkey"'
    )
    challenge = await _new(log, "Saving an order crashes", details=traceback)
    rows = await _rows(engine, "SELECT error_terms FROM challenges WHERE id = :id", id=challenge.id)
    terms = rows[0].error_terms.split()
    assert "integrityerror" in terms
    assert "uniqueviolation" in terms
    plain = await _new(log, "How do I name my branches?")
    rows = await _rows(engine, "SELECT error_terms FROM challenges WHERE id = :id", id=plain.id)
    assert rows[0].error_terms == ""


@pytest.mark.parametrize("title", ["", "   ", "\n\t \n", "\u200b\u200e\u2060"])
async def test_an_empty_title_is_refused(log: ChallengeService, engine: AsyncEngine, title: str) -> None:
    with pytest.raises(InvalidInputError, match="title is empty"):
        await _new(log, title, details="Some details that are fine.")
    assert set((await _counts(engine)).values()) == {0}


async def test_a_title_over_100_characters_is_refused_with_the_limit(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        await _new(log, "x" * 101)
    assert "101" in refused.value.user_message
    assert "limit is 100" in refused.value.user_message
    assert await _count(engine, "challenges") == 0
    exactly = await _new(log, "y" * 100)
    assert len(exactly.title) == 100


async def test_details_over_4000_characters_are_refused_with_the_limit(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        await _new(log, "Long post", details="d" * 4001)
    assert "4,001" in refused.value.user_message
    assert "limit is 4,000" in refused.value.user_message
    assert await _count(engine, "challenges") == 0
    exactly = await _new(log, "Long post", details="d" * 4000)
    assert len(exactly.details) == 4000


async def test_tried_and_solution_limits_are_checked_before_anything_is_stored(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    with pytest.raises(InvalidInputError, match="limit is 1,000"):
        await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Fine", tried="t" * 1001)
    with pytest.raises(InvalidInputError, match="limit is 4,000"):
        await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Fine", solution="s" * 4001)
    assert set((await _counts(engine)).values()) == {0}


async def test_zero_width_and_bidi_characters_are_removed(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(
        log,
        "Slow\u200b queries\u202e on \u2066orders\u2069",
        details="\ufeffCheck the\u200d index\u200f.",
    )
    assert challenge.title == "Slow queries on orders"
    assert challenge.details == "Check the index."
    rows = await _rows(engine, "SELECT title, details FROM challenges")
    assert tuple(rows[0]) == ("Slow queries on orders", "Check the index.")


async def test_failed_writes_leave_nothing_half_stored(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "Redis cache misses", source_message_id=1)
    before = await _counts(engine)
    with pytest.raises(InvalidInputError):
        await log.log_challenge(
            guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="t" * 101, solution="A fix", source_message_id=2
        )
    with pytest.raises(InvalidInputError):
        await log.add_solution(guild_id=GUILD, challenge_id=challenge.id, author=BOB, body=" \n ")
    with pytest.raises(NotFoundError):
        await log.add_solution(guild_id=GUILD, challenge_id=challenge.id + 100, author=BOB, body="An answer")
    with pytest.raises(NotFoundError):
        await log.add_solution(guild_id=OTHER_GUILD, challenge_id=challenge.id, author=BOB, body="An answer")
    assert await _counts(engine) == before
    assert await log.cursor(CHANNEL) is None


# --- idempotency --------------------------------------------------------------------------------------------


async def test_the_same_source_message_is_logged_once(log: ChallengeService, engine: AsyncEngine) -> None:
    first = await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Flaky test", source_message_id=77
    )
    second = await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Flaky test (replayed)", source_message_id=77
    )
    assert first.created
    assert not second.created
    assert second.challenge.id == first.challenge.id
    assert second.challenge.title == "Flaky test"
    assert await _count(engine, "challenges") == 1


async def test_concurrent_deliveries_of_one_message_log_it_once(log: ChallengeService, engine: AsyncEngine) -> None:
    results = await asyncio.gather(
        *(
            log.log_challenge(
                guild_id=GUILD,
                channel_id=CHANNEL,
                author=ANN,
                title="Celery tasks stuck",
                solution="Restart the worker.",
                source_message_id=88,
            )
            for _ in range(10)
        )
    )
    assert [result.created for result in results].count(True) == 1
    assert {result.challenge.id for result in results} == {results[0].challenge.id}
    assert await _count(engine, "challenges") == 1
    assert await _count(engine, "solutions") == 1
    assert await _count(engine, "challenge_search") == 1


async def test_the_same_solution_message_is_logged_once(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "CORS error from the frontend")
    first = await log.add_solution(
        guild_id=GUILD, challenge_id=challenge.id, author=BOB, body="Add the origin.", source_message_id=90
    )
    again = await log.add_solution(
        guild_id=GUILD, challenge_id=challenge.id, author=BOB, body="Add the origin!", source_message_id=90
    )
    assert first.created
    assert not again.created
    assert again.solution.id == first.solution.id
    assert again.solution.body == "Add the origin."
    concurrent = await asyncio.gather(
        *(
            log.add_solution(
                guild_id=GUILD, challenge_id=challenge.id, author=CAROL, body="Use a proxy.", source_message_id=91
            )
            for _ in range(10)
        )
    )
    assert [result.created for result in concurrent].count(True) == 1
    assert len({result.solution.id for result in concurrent}) == 1
    rows = await _rows(engine, "SELECT source_message_id FROM solutions ORDER BY id")
    assert [row.source_message_id for row in rows] == [90, 91]


# --- ingest ---------------------------------------------------------------------------------------------------


async def test_a_post_with_challenge_and_solution_logs_both(log: ChallengeService, engine: AsyncEngine) -> None:
    result = await log.ingest(
        _message(
            500,
            "Challenge: slow queries on large tables. Solution: indexes, select_related, pagination.",
        )
    )
    assert isinstance(result, Logged)
    assert result.created
    assert result.challenge.title == "slow queries on large tables"
    assert result.challenge.source_message_id == 500
    assert result.solution is not None
    assert result.solution.body == "indexes, select_related, pagination."
    assert (result.solution.author_id, result.solution.source_message_id) == (ANN.id, 500)
    rows = await _rows(engine, "SELECT challenge_id, body, accepted FROM solutions")
    assert [tuple(row) for row in rows] == [(result.challenge.id, "indexes, select_related, pagination.", 0)]


async def test_the_logged_view_lists_the_posted_solution_once(log: ChallengeService) -> None:
    result = await log.ingest(_message(501, "Challenge: slow queries on large tables. Solution: indexes."))
    assert isinstance(result, Logged)
    assert len(result.challenge.solutions) == 1


async def test_a_reply_starting_with_solution_logs_a_solution(log: ChallengeService, engine: AsyncEngine) -> None:
    await log.ingest(_message(600, "Challenge: Docker image is 2 GB"))
    result = await log.ingest(
        _message(
            601,
            "Solution: use a multi-stage build",
            author_id=BOB.id,
            author_name=BOB.name,
            reference_message_id=600,
        )
    )
    assert isinstance(result, SolutionLogged)
    assert result.created
    assert result.solution.body == "use a multi-stage build"
    assert result.solution.author_id == BOB.id
    assert [solution.id for solution in result.challenge.solutions] == [result.solution.id]
    rows = await _rows(engine, "SELECT author_id, source_message_id FROM solutions")
    assert [tuple(row) for row in rows] == [(BOB.id, 601)]
    # A reply to that solution answers the same challenge.
    chained = await log.ingest(
        _message(602, "Fix: and a .dockerignore", author_id=CAROL.id, author_name="Carol", reference_message_id=601)
    )
    assert isinstance(chained, SolutionLogged)
    assert chained.challenge.id == result.challenge.id


async def test_a_solution_in_the_challenge_thread_is_logged(log: ChallengeService, engine: AsyncEngine) -> None:
    logged = await log.ingest(_message(700, "Challenge: JWT expires too early"))
    assert isinstance(logged, Logged)
    result = await log.ingest(
        _message(701, "Solution: the server clock was off", author_id=BOB.id, thread_parent_message_id=700)
    )
    assert isinstance(result, SolutionLogged)
    assert result.challenge.id == logged.challenge.id
    rows = await _rows(engine, "SELECT challenge_id, body FROM solutions")
    assert [tuple(row) for row in rows] == [(logged.challenge.id, "the server clock was off")]


@pytest.mark.parametrize(
    "fields",
    [{"author_is_bot": True}, {"is_webhook": True}],
    ids=["bot", "webhook"],
)
async def test_bots_and_webhooks_are_ignored(
    log: ChallengeService, engine: AsyncEngine, fields: dict[str, Any]
) -> None:
    await log.ingest(_message(800, "Challenge: a real one"))
    assert await log.ingest(_message(801, "Challenge: posted by a bot", **fields)) is None
    assert await log.ingest(_message(802, "Solution: from a bot", reference_message_id=800, **fields)) is None
    assert await _count(engine, "challenges") == 1
    assert await _count(engine, "solutions") == 0


async def test_plain_messages_and_replies_to_unknown_messages_are_ignored(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    await log.ingest(_message(900, "Challenge: Redis keys never expire"))
    assert await log.ingest(_message(901, "good morning everyone")) is None
    assert await log.ingest(_message(902, "thanks, that fixed it", reference_message_id=900)) is None
    assert await log.ingest(_message(903, "Solution: set a TTL", reference_message_id=123456)) is None
    assert await log.ingest(_message(904, "Solution: set a TTL")) is None
    # The same reply delivered from another server does not reach this one's challenge.
    assert (
        await log.ingest(_message(905, "Solution: set a TTL", guild_id=OTHER_GUILD, reference_message_id=900)) is None
    )
    assert await _count(engine, "challenges") == 1
    assert await _count(engine, "solutions") == 0


# --- edits and deletions of the source ----------------------------------------------------------------------


async def test_an_edit_updates_the_entry_and_its_search(log: ChallengeService, engine: AsyncEngine) -> None:
    logged = await log.ingest(_message(1000, "Challenge: webpack build fails on alpine"))
    assert isinstance(logged, Logged)
    assert [result.challenge.id for result in await log.search(GUILD, "webpack")] == [logged.challenge.id]

    edited = await log.source_edited(GUILD, 1000, "Challenge: vite build fails on debian\nIt cannot find esbuild.")
    assert edited is not None
    assert edited.title == "vite build fails on debian"
    shown = await log.show(GUILD, logged.challenge.id)
    assert (shown.title, shown.details) == (
        "vite build fails on debian",
        "vite build fails on debian\nIt cannot find esbuild.",
    )
    assert [result.challenge.id for result in await log.search(GUILD, "esbuild")] == [logged.challenge.id]
    assert await log.search(GUILD, "webpack") == []
    assert await log.search(GUILD, "alpine") == []
    assert await _count(engine, "challenges") == 1


async def test_an_edit_that_no_longer_parses_keeps_the_entry(log: ChallengeService) -> None:
    logged = await log.ingest(_message(1100, "Challenge: pytest fixtures leak state"))
    assert isinstance(logged, Logged)
    assert await log.source_edited(GUILD, 1100, "never mind, sorted it") is None
    shown = await log.show(GUILD, logged.challenge.id)
    assert shown.title == "pytest fixtures leak state"
    # Edits of unknown messages, or from another server, change nothing.
    assert await log.source_edited(GUILD, 4242, "Challenge: something else") is None
    assert await log.source_edited(OTHER_GUILD, 1100, "Challenge: hijacked") is None
    assert (await log.show(GUILD, logged.challenge.id)).title == "pytest fixtures leak state"


async def test_an_edited_solution_reply_updates_the_solution(log: ChallengeService, engine: AsyncEngine) -> None:
    await log.ingest(_message(1150, "Challenge: celery beat runs tasks twice"))
    await log.ingest(_message(1151, "Solution: run one beat", author_id=BOB.id, reference_message_id=1150))
    view = await log.source_edited(GUILD, 1151, "Solution: run exactly one beat process")
    assert view is not None
    assert [solution.body for solution in view.solutions] == ["run exactly one beat process"]
    rows = await _rows(engine, "SELECT body FROM solutions")
    assert [row.body for row in rows] == ["run exactly one beat process"]


async def test_an_edit_of_a_combined_post_updates_its_solution(log: ChallengeService, engine: AsyncEngine) -> None:
    await log.ingest(_message(1160, "Challenge: slow queries on large tables. Solution: indexes"))
    await log.source_edited(GUILD, 1160, "Challenge: slow queries on large tables. Solution: select_related")
    rows = await _rows(engine, "SELECT body FROM solutions")
    assert [row.body for row in rows] == ["select_related"]


async def test_deleting_the_source_soft_deletes_the_challenge(log: ChallengeService, engine: AsyncEngine) -> None:
    logged = await log.ingest(_message(1200, "Challenge: nginx returns 502 Bad Gateway"))
    assert isinstance(logged, Logged)
    assert len(await log.search(GUILD, "nginx")) == 1

    await log.source_deleted(GUILD, 1200)
    with pytest.raises(NotFoundError, match=f"#{logged.challenge.id}"):
        await log.show(GUILD, logged.challenge.id)
    assert await log.search(GUILD, "nginx") == []
    assert await log.search(GUILD, "502 Bad Gateway") == []
    assert (await log.list_challenges(GUILD)).total == 0
    rows = await _rows(engine, "SELECT id, deleted_at FROM challenges")
    assert len(rows) == 1
    assert rows[0].id == logged.challenge.id
    assert rows[0].deleted_at is not None
    # Replies to the deleted challenge no longer attach to it.
    assert await log.ingest(_message(1201, "Solution: restart upstream", reference_message_id=1200)) is None


async def test_deleting_an_accepted_solutions_source_reopens_the_challenge(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    logged = await log.ingest(_message(1300, "Challenge: migrations conflict after merge"))
    assert isinstance(logged, Logged)
    answer = await log.ingest(_message(1301, "Solution: makemigrations --merge", reference_message_id=1300))
    assert isinstance(answer, SolutionLogged)
    solved = await log.accept(GUILD, logged.challenge.id, answer.solution.id, ANN)
    assert solved.status == "solved"

    await log.source_deleted(GUILD, 1301)
    reopened = await log.show(GUILD, logged.challenge.id)
    assert reopened.status == "open"
    assert reopened.solutions == ()
    rows = await _rows(engine, "SELECT status, solved_at FROM challenges")
    assert tuple(rows[0]) == ("open", None)
    rows = await _rows(engine, "SELECT accepted, deleted_at FROM solutions")
    assert rows[0].accepted == 0
    assert rows[0].deleted_at is not None


async def test_a_bulk_deletion_soft_deletes_every_entry_it_names_in_its_server(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    purged = await log.ingest(_message(1500, "Challenge: spam in the channel"))
    await log.ingest(_message(1501, "Solution: spam reply", reference_message_id=1500))
    kept = await log.ingest(_message(1502, "Challenge: a real question"))
    answer = await log.ingest(_message(1503, "Solution: a real answer", reference_message_id=1502))
    elsewhere = await log.ingest(_message(1504, "Challenge: another server's post", guild_id=OTHER_GUILD))
    assert isinstance(kept, Logged)
    assert isinstance(answer, SolutionLogged)
    assert isinstance(elsewhere, Logged)
    # One event for a purge: ids of logged posts, of other messages, and of another server's post.
    await log.sources_deleted(GUILD, [1500, 1501, 1503, 1504, 9999])
    rows = await _rows(engine, "SELECT source_message_id FROM challenges WHERE deleted_at IS NULL")
    assert sorted(row[0] for row in rows) == [1502, 1504]
    assert await _rows(engine, "SELECT id FROM solutions WHERE deleted_at IS NULL") == []
    assert isinstance(purged, Logged)
    with pytest.raises(NotFoundError):
        await log.show(GUILD, purged.challenge.id)


async def test_recent_sources_are_the_newest_logged_messages_with_their_channels(log: ChallengeService) -> None:
    await log.ingest(_message(1600, "Challenge: first"))
    await log.ingest(_message(1601, "Solution: in the thread", reference_message_id=1600, channel_id=7007))
    await log.ingest(_message(1602, "Challenge: second"))
    await log.ingest(_message(1603, "Challenge: gone already"))
    await log.source_deleted(GUILD, 1603)
    await log.ingest(_message(1604, "Challenge: another server", guild_id=OTHER_GUILD))
    await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="No message", details="")
    since = utcnow() - timedelta(days=1)
    assert await log.recent_sources(GUILD, since, limit=10) == [(CHANNEL, 1602), (7007, 1601), (CHANNEL, 1600)]
    assert await log.recent_sources(GUILD, since, limit=2) == [(CHANNEL, 1602), (7007, 1601)]
    assert await log.recent_sources(GUILD, utcnow() + timedelta(seconds=1), limit=10) == []


# --- bursts of in-channel posts: batches, duplicates, races, failures ---------------------------------------


def _burst(first_id: int, count: int) -> list[IncomingMessage]:
    return [
        _message(
            first_id + number,
            f"Challenge: flaky test number {number} on CI\n"
            f"It fails with IntegrityError inside docker compose.\n\nSolution: pin the image {number}",
            author_id=ANN.id + number % 3,
        )
        for number in range(count)
    ]


async def _posted(log: ChallengeService, messages: list[IncomingMessage]) -> list[Any]:
    """Deliver messages as a burst does: all queued before the writer runs."""
    return await asyncio.gather(*(log.ingest(message, suggest_similar=False) for message in messages))


async def _stored(engine: AsyncEngine) -> dict[str, int]:
    """Rows per table, and how many challenges the search index holds (FTS5 rows, or tsvector columns)."""
    counts = {table: await _count(engine, table) for table in ("challenges", "solutions", "challenge_topics")}
    counts["indexed"] = await _count(engine, "challenge_search")
    return counts


async def _indexed_with(engine: AsyncEngine, topic: str, solution_word: str) -> int:
    """Challenges whose search index holds this topic and this word of a solution."""
    if engine.dialect.name == "sqlite":
        sql = "SELECT count(*) FROM challenge_search WHERE challenge_search MATCH :query"
        rows = await _rows(engine, sql, query=f"topics:{topic} AND solutions:{solution_word}")
    else:
        sql = "SELECT count(*) FROM challenges WHERE search_vector @@ to_tsquery('simple', :query)"
        rows = await _rows(engine, sql, query=f"{topic} & {solution_word}")
    return int(rows[0][0])


async def test_a_burst_is_logged_once_each_in_a_few_transactions(log: ChallengeService, engine: AsyncEngine) -> None:
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _connection: commits.append(1))
    messages = _burst(10_000, 150)
    # Replays and double deliveries inside the burst.
    results = await _posted(log, [*messages, *messages[::10], messages[0]])
    created = [result for result in results[:150] if isinstance(result, Logged) and result.created]
    assert len(created) == 150
    by_message = {result.challenge.source_message_id: result.challenge.id for result in created}
    assert len(set(by_message.values())) == 150
    for again in results[150:]:
        assert isinstance(again, Logged)
        assert not again.created
        assert again.challenge.id == by_message[again.challenge.source_message_id]
    assert all(result.solution is not None and result.solution.body.startswith("pin the image") for result in created)
    assert len(commits) < 15
    assert multiprocessing.active_children() == [], "posts are parsed in this process, by no worker"
    topics = sum(len(result.challenge.topics) for result in created)
    assert await _stored(engine) == {"challenges": 150, "solutions": 150, "challenge_topics": topics, "indexed": 150}
    assert topics >= 150
    # The search index was built with every topic and solution in it.
    assert await _indexed_with(engine, "docker", "pin") == 150
    # Delivered again later, in another batch: still logged once.
    replayed = await _posted(log, messages[:20])
    assert [result.created for result in replayed] == [False] * 20
    assert await _count(engine, "challenges") == 150


async def test_replies_in_the_burst_of_their_challenge_are_its_solutions(log: ChallengeService) -> None:
    logged, answer, chained, stranger = await _posted(
        log,
        [
            _message(30_000, "Challenge: gunicorn workers time out"),
            _message(30_001, "Solution: raise the timeout", author_id=BOB.id, reference_message_id=30_000),
            _message(30_002, "Fix: and use async workers", author_id=CAROL.id, reference_message_id=30_001),
            _message(30_003, "Solution: wrong server", guild_id=OTHER_GUILD, reference_message_id=30_000),
        ],
    )
    assert isinstance(logged, Logged)
    assert isinstance(answer, SolutionLogged)
    assert isinstance(chained, SolutionLogged)
    assert answer.created
    assert chained.created
    assert answer.challenge.id == chained.challenge.id == logged.challenge.id
    assert stranger is None
    shown = await log.show(GUILD, logged.challenge.id)
    assert [(solution.body, solution.author_id) for solution in shown.solutions] == [
        ("raise the timeout", BOB.id),
        ("and use async workers", CAROL.id),
    ]


async def test_an_edit_or_deletion_racing_its_post_is_applied_after_it(log: ChallengeService) -> None:
    # The gateway delivers the edit while the post is still queued, not yet committed.
    posted = log.submit(_message(40_000, "Challenge: docker build is slow"))
    assert posted is not None
    edited = await log.source_edited(GUILD, 40_000, "Challenge: docker build is slow on macOS")
    logged = await posted
    assert isinstance(logged, Logged)
    assert logged.created
    assert edited is not None
    assert edited.id == logged.challenge.id
    assert (await log.show(GUILD, logged.challenge.id)).title == "docker build is slow on macOS"

    doomed = log.submit(_message(40_001, "Challenge: posted and deleted at once"))
    assert doomed is not None
    await log.source_deleted(GUILD, 40_001)
    gone = await doomed
    assert isinstance(gone, Logged)
    with pytest.raises(NotFoundError):
        await log.show(GUILD, gone.challenge.id)


async def test_a_failed_batch_loses_no_post_and_half_stores_none(
    log: ChallengeService, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    poisoned = 20_013
    insert_challenges = ChallengeRepository.insert_challenges

    async def failing(self: ChallengeRepository, rows: Any) -> dict[int, int]:
        if any(row["source_message_id"] == poisoned for row in rows):
            raise IntegrityError("INSERT INTO challenges", {}, Exception("CHECK constraint failed (injected)"))
        return await insert_challenges(self, rows)

    monkeypatch.setattr(ChallengeRepository, "insert_challenges", failing)
    messages = _burst(20_000, 30)
    results = await asyncio.gather(
        *(log.ingest(message, suggest_similar=False) for message in messages), return_exceptions=True
    )
    assert isinstance(results[13], IntegrityError)
    logged = [result for index, result in enumerate(results) if index != 13]
    assert all(isinstance(result, Logged) and result.created for result in logged)
    # The failing post left nothing behind (on SQLite its topics and solution were written before it).
    topics = sum(len(result.challenge.topics) for result in logged if isinstance(result, Logged))
    assert await _stored(engine) == {"challenges": 29, "solutions": 29, "challenge_topics": topics, "indexed": 29}
    rows = await _rows(engine, "SELECT count(*) FROM solutions WHERE source_message_id = :id", id=poisoned)
    assert rows[0][0] == 0
    orphans = await _rows(
        engine, "SELECT count(*) FROM challenge_topics WHERE challenge_id NOT IN (SELECT id FROM challenges)"
    )
    assert orphans[0][0] == 0
    # The writer goes on; delivered again once the fault is gone, the post is logged.
    monkeypatch.setattr(ChallengeRepository, "insert_challenges", insert_challenges)
    again = await log.ingest(messages[13], suggest_similar=False)
    assert isinstance(again, Logged)
    assert again.created
    assert (await _stored(engine))["indexed"] == 30


async def test_a_batch_the_database_refused_is_written_again_whole(
    engine: AsyncEngine, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = ChallengeService(
        create_session_factory(engine),
        search_engine_for(engine.dialect.name),
        services.topics,
        writer_policy=WriterPolicy(retry_pauses=(0.01, 0.01)),
    )
    insert_topics = ChallengeRepository.insert_topics
    faults = [OperationalError("INSERT INTO challenge_topics", {}, Exception("database is locked (injected)"))]

    async def locked_once(self: ChallengeRepository, rows: Any) -> None:
        if faults:
            raise faults.pop()
        await insert_topics(self, rows)

    monkeypatch.setattr(ChallengeRepository, "insert_topics", locked_once)
    results = await _posted(log, _burst(70_000, 40))
    assert all(isinstance(result, Logged) and result.created for result in results)
    assert not faults
    counts = await _stored(engine)
    assert (counts["challenges"], counts["solutions"], counts["indexed"]) == (40, 40, 40)
    # A fault that lasts: every post of the batch gets the error, none is half-stored.
    lasting = OperationalError("INSERT INTO challenge_topics", {}, Exception("disk I/O error (injected)"))
    monkeypatch.setattr(ChallengeRepository, "insert_topics", lambda *_: _raise(lasting))
    failed = await asyncio.gather(
        *(log.ingest(message, suggest_similar=False) for message in _burst(71_000, 5)), return_exceptions=True
    )
    assert all(isinstance(result, OperationalError) for result in failed)
    assert await _stored(engine) == counts


async def _raise(error: Exception) -> None:
    raise error


async def test_a_post_another_writer_logged_meanwhile_is_logged_once(
    log: ChallengeService, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await log.ingest(_message(80_000, "Challenge: celery beat runs twice"), suggest_similar=False)
    assert isinstance(first, Logged)
    # The batch's look-up misses it, as if another writer (a menu, another process) logged it just after.
    logged_sources = ChallengeRepository.logged_sources
    misses = [True]

    async def stale(self: ChallengeRepository, message_ids: Any) -> Any:
        if misses:
            misses.pop()
            return {}, {}
        return await logged_sources(self, message_ids)

    monkeypatch.setattr(ChallengeRepository, "logged_sources", stale)
    results = await _posted(log, [_message(80_000, "Challenge: celery beat runs twice"), *_burst(80_001, 10)])
    assert isinstance(results[0], Logged)
    assert not results[0].created
    assert results[0].challenge.id == first.challenge.id
    assert all(isinstance(result, Logged) and result.created for result in results[1:])
    assert (await _stored(engine))["challenges"] == 11


async def test_a_batch_that_cannot_be_parsed_fails_alone(
    log: ChallengeService, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse = IngestWriter._parsed

    async def failing(self: IngestWriter, batch: list[Any]) -> Any:
        if any(item.message.message_id == 65_000 for item in batch):
            raise RuntimeError("the parser broke")
        return await parse(self, batch)

    monkeypatch.setattr(IngestWriter, "_parsed", failing)
    broken = asyncio.ensure_future(log.ingest(_burst(65_000, 1)[0], suggest_similar=False))
    await asyncio.sleep(0)  # its own turn of the loop, so its own batch
    after = await _posted(log, _burst(65_001, 3))
    with pytest.raises(RuntimeError, match="the parser broke"):
        await broken
    assert all(isinstance(result, Logged) and result.created for result in after)
    assert (await _stored(engine))["challenges"] == 3


# --- accept ---------------------------------------------------------------------------------------------------


async def test_the_author_accepts_a_solution(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "Tests pass locally, fail on CI")
    solution_id = await _answer(log, challenge, "Pin the timezone.")
    solved = await log.accept(GUILD, challenge.id, solution_id, ANN)
    assert solved.status == "solved"
    assert solved.accepted is not None
    assert solved.accepted.id == solution_id
    rows = await _rows(engine, "SELECT status, solved_at FROM challenges")
    assert rows[0].status == "solved"
    assert rows[0].solved_at is not None
    rows = await _rows(engine, "SELECT id, accepted, accepted_at FROM solutions")
    assert (rows[0].id, rows[0].accepted) == (solution_id, 1)
    assert rows[0].accepted_at is not None


async def test_another_member_may_not_accept(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "Tests pass locally, fail on CI")
    solution_id = await _answer(log, challenge)
    with pytest.raises(PermissionDeniedError, match="author or a moderator"):
        await log.accept(GUILD, challenge.id, solution_id, BOB)
    assert [tuple(row) for row in await _rows(engine, "SELECT status FROM challenges")] == [("open",)]
    assert [tuple(row) for row in await _rows(engine, "SELECT accepted FROM solutions")] == [(0,)]


async def test_a_moderator_may_accept(log: ChallengeService) -> None:
    challenge = await _new(log, "Tests pass locally, fail on CI")
    solution_id = await _answer(log, challenge)
    solved = await log.accept(GUILD, challenge.id, solution_id, MODERATOR)
    assert solved.status == "solved"


async def test_accepting_the_same_solution_twice_is_refused(log: ChallengeService) -> None:
    challenge = await _new(log, "Tests pass locally, fail on CI")
    solution_id = await _answer(log, challenge)
    await log.accept(GUILD, challenge.id, solution_id, ANN)
    with pytest.raises(InvalidInputError, match="already the accepted one"):
        await log.accept(GUILD, challenge.id, solution_id, ANN)


async def test_accepting_another_solution_switches(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "Tests pass locally, fail on CI")
    first = await _answer(log, challenge, "Pin the timezone.")
    second = await _answer(log, challenge, "Freeze time in the test.", author=CAROL)
    await log.accept(GUILD, challenge.id, first, ANN)
    switched = await log.accept(GUILD, challenge.id, second, ANN)
    assert switched.accepted is not None
    assert switched.accepted.id == second
    assert [solution.id for solution in switched.solutions] == [second, first]  # accepted first
    rows = await _rows(engine, "SELECT id, accepted_at FROM solutions WHERE accepted")
    assert [row.id for row in rows] == [second]
    assert rows[0].accepted_at is not None
    rows = await _rows(engine, "SELECT accepted_at FROM solutions WHERE id = :id", id=first)
    assert rows[0].accepted_at is None


async def test_accept_refuses_a_solution_of_another_challenge(log: ChallengeService) -> None:
    challenge = await _new(log, "First")
    other = await _new(log, "Second")
    foreign = await _answer(log, other)
    with pytest.raises(NotFoundError, match=f"not one of challenge #{challenge.id}"):
        await log.accept(GUILD, challenge.id, foreign, ANN)
    assert (await log.show(GUILD, challenge.id)).status == "open"


async def test_accept_refuses_unknown_and_deleted_challenges(log: ChallengeService) -> None:
    with pytest.raises(NotFoundError):
        await log.accept(GUILD, 12345, 1, ANN)
    challenge = await _new(log, "Soon deleted")
    solution_id = await _answer(log, challenge)
    with pytest.raises(NotFoundError):
        await log.accept(OTHER_GUILD, challenge.id, solution_id, MODERATOR)
    await log.delete(GUILD, challenge.id, ANN)
    with pytest.raises(NotFoundError):
        await log.accept(GUILD, challenge.id, solution_id, ANN)


async def test_accept_refuses_a_deleted_solution(log: ChallengeService) -> None:
    challenge = await _new(log, "Flaky selenium test")
    answer = await log.add_solution(
        guild_id=GUILD, challenge_id=challenge.id, author=BOB, body="Wait for the element.", source_message_id=1400
    )
    await log.source_deleted(GUILD, 1400)
    with pytest.raises(NotFoundError):
        await log.accept(GUILD, challenge.id, answer.solution.id, ANN)


async def _accept_both_at_once(log: ChallengeService, title: str) -> tuple[ChallengeView, list[object]]:
    """Two accepts of two different solutions racing (two moderators, or a double click on two buttons)."""
    challenge = await _new(log, title)
    first = await _answer(log, challenge, "One way.")
    second = await _answer(log, challenge, "Another way.", author=CAROL)
    outcomes = await asyncio.gather(
        log.accept(GUILD, challenge.id, first, ANN),
        log.accept(GUILD, challenge.id, second, MODERATOR),
        return_exceptions=True,
    )
    return challenge, list(outcomes)


async def test_racing_accepts_leave_exactly_one_accepted_solution(log: ChallengeService, engine: AsyncEngine) -> None:
    for round_ in range(10):
        challenge, _ = await _accept_both_at_once(log, f"Race {round_}")
        rows = await _rows(
            engine, "SELECT count(*) FROM solutions WHERE accepted AND challenge_id = :id", id=challenge.id
        )
        assert rows[0][0] == 1
        assert (await log.show(GUILD, challenge.id)).status == "solved"


async def test_racing_accepts_raise_no_database_error(log: ChallengeService) -> None:
    # Ten rounds: the interleaving is the event loop's, and most rounds lose the race.
    for round_ in range(10):
        _, outcomes = await _accept_both_at_once(log, f"Race {round_}")
        assert not [outcome for outcome in outcomes if isinstance(outcome, IntegrityError)]


async def test_a_message_of_a_deleted_challenges_solution_gets_a_clear_answer(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    await log.ingest(_message(1500, "Challenge: first attempt"))
    await log.ingest(_message(1501, "Solution: a reply", author_id=BOB.id, reference_message_id=1500))
    deleted = await log.challenge_for_message(GUILD, 1500)
    assert deleted is not None
    await log.delete(GUILD, deleted.id, ANN)
    target = await _new(log, "Second attempt")
    # "Mark as solution" on that reply, for another challenge: attached or refused, never a database error.
    with contextlib.suppress(NexusError):
        await log.add_solution(
            guild_id=GUILD, challenge_id=target.id, author=BOB, body="a reply", source_message_id=1501
        )
    rows = await _rows(engine, "SELECT count(*) FROM solutions WHERE source_message_id = 1501")
    assert rows[0][0] == 1


# --- what the database itself enforces ----------------------------------------------------------------------

_INSERT_SOLUTION = (
    "INSERT INTO solutions (challenge_id, guild_id, author_id, author_name, source_message_id, body, accepted, "
    "created_at) VALUES (:challenge_id, :guild_id, 1, 'x', :source, 'a body', :accepted, '2026-01-01 00:00:00')"
)


async def test_the_database_allows_one_accepted_solution_per_challenge(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    challenge = await _solved(log, "Already solved")
    params = {"challenge_id": challenge.id, "guild_id": GUILD, "source": None}
    with pytest.raises(IntegrityError, match=ONE_ACCEPTED):
        async with engine.begin() as connection:
            await connection.execute(text(_INSERT_SOLUTION), {**params, "accepted": True})
    # Unaccepted ones are unlimited.
    async with engine.begin() as connection:
        await connection.execute(text(_INSERT_SOLUTION), {**params, "accepted": False})
        await connection.execute(text(_INSERT_SOLUTION), {**params, "accepted": False})
    rows = await _rows(engine, "SELECT count(*) FROM solutions WHERE accepted")
    assert rows[0][0] == 1
    assert await _count(engine, "solutions") == 3


async def test_the_database_refuses_a_duplicate_source_message(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "Logged from a message", source_message_id=4711)
    with pytest.raises(IntegrityError, match=UNIQUE_CHALLENGE_SOURCE):
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO challenges (guild_id, channel_id, author_name, source_message_id, title, details, "
                    "error_terms, status, created_at, updated_at) VALUES (1, 1, 'x', 4711, 't', '', '', 'open', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
    params = {"challenge_id": challenge.id, "guild_id": GUILD, "accepted": False, "source": 4712}
    async with engine.begin() as connection:
        await connection.execute(text(_INSERT_SOLUTION), params)
    with pytest.raises(IntegrityError, match=UNIQUE_SOLUTION_SOURCE):
        async with engine.begin() as connection:
            await connection.execute(text(_INSERT_SOLUTION), params)
    assert await _count(engine, "challenges") == 1
    assert await _count(engine, "solutions") == 1


async def test_the_status_check_refuses_unknown_values(log: ChallengeService, engine: AsyncEngine) -> None:
    challenge = await _new(log, "Status check")
    with pytest.raises(IntegrityError, match="ck_challenges_status_is_known"):
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE challenges SET status = 'maybe' WHERE id = :id"), {"id": challenge.id}
            )
    assert (await log.show(GUILD, challenge.id)).status == "open"


# --- list -----------------------------------------------------------------------------------------------------


async def test_list_is_newest_first_and_filters(log: ChallengeService) -> None:
    docker = await _new(log, "Container keeps restarting", topics="docker")
    by_bob = await _new(log, "Celery retries forever", author=BOB)
    solved = await _solved(log, "Redis connection refused")
    deleted = await _new(log, "Posted by mistake")
    await log.delete(GUILD, deleted.id, ANN)
    await _new(log, "Elsewhere", guild_id=OTHER_GUILD)

    newest = await log.list_challenges(GUILD)
    assert [item.id for item in newest.items] == [solved.id, by_bob.id, docker.id]
    assert (newest.page, newest.pages, newest.total) == (0, 1, 3)

    oldest = await log.list_challenges(GUILD, sort="oldest")
    assert [item.id for item in oldest.items] == [docker.id, by_bob.id, solved.id]
    queue = await log.list_challenges(GUILD, status="open", sort="oldest")
    assert [item.id for item in queue.items] == [docker.id, by_bob.id]
    assert [item.id for item in (await log.list_challenges(GUILD, status="solved")).items] == [solved.id]
    assert [item.id for item in (await log.list_challenges(GUILD, topic="docker")).items] == [docker.id]
    assert [item.id for item in (await log.list_challenges(GUILD, topic="Docker")).items] == [docker.id]
    assert [item.id for item in (await log.list_challenges(GUILD, author_id=BOB.id)).items] == [by_bob.id]
    mine_open = await log.list_challenges(GUILD, author_id=ANN.id, status="open")
    assert [item.id for item in mine_open.items] == [docker.id]
    with pytest.raises(TopicNotFoundError):
        await log.list_challenges(GUILD, topic="basketweaving")


async def test_list_pages(log: ChallengeService) -> None:
    # A moderator: a member may log only 10 an hour by command (`NEW_CHALLENGES_PER_HOUR`).
    ids = [(await _new(log, f"Challenge number {n}", author=MODERATOR)).id for n in range(12)]
    assert PAGE_SIZE == 5
    first = await log.list_challenges(GUILD)
    assert (first.pages, first.total) == (3, 12)
    assert [item.id for item in first.items] == ids[::-1][:5]
    second = await log.list_challenges(GUILD, page=1)
    assert [item.id for item in second.items] == ids[::-1][5:10]
    last = await log.list_challenges(GUILD, page=2)
    assert [item.id for item in last.items] == ids[::-1][10:]
    assert last.page == 2
    oldest = await log.list_challenges(GUILD, sort="oldest", page=2)
    assert [item.id for item in oldest.items] == ids[10:]
    empty = await log.list_challenges(OTHER_GUILD)
    assert (empty.items, empty.pages, empty.total) == ((), 1, 0)


# --- search ---------------------------------------------------------------------------------------------------


async def test_a_title_match_ranks_above_a_details_match(log: ChallengeService) -> None:
    # The title match is the older one, so the order is the ranking's, not recency's.
    in_title = await _new(log, "Redis cache stampede", details="Every key expires at once.")
    in_details = await _new(
        log,
        "Dashboard loads slowly",
        details="The page renders many widgets and each one asks the API; we might put redis in front of it.",
    )
    results = await log.search(GUILD, "redis")
    assert [result.challenge.id for result in results] == [in_title.id, in_details.id]
    assert "**redis**" in results[0].snippet.lower()
    assert "**redis**" in results[1].snippet.lower()
    for result in results:
        assert "\x02" not in result.snippet
        assert "\x03" not in result.snippet


async def test_a_search_result_is_the_challenge_as_show_gives_it(log: ChallengeService) -> None:
    # The search statement reads the rows itself (topics in order, the time as aware UTC) on both engines.
    logged = await _new(
        log, "Celery beat runs twice", details="Two schedulers in production.", topics="celery, docker, redis"
    )
    [result] = await log.search(GUILD, "celery beat")
    shown = await log.show(GUILD, logged.id)
    assert result.challenge == dataclasses.replace(shown, solutions=())
    assert result.challenge.topics == logged.topics
    assert len(logged.topics) == 3
    assert result.challenge.created_at.tzinfo is not None
    assert await log.autocomplete(GUILD, "celery be") == [(logged.id, f"#{logged.id} Celery beat runs twice")]


async def test_snippets_escape_user_markdown(log: ChallengeService) -> None:
    await _new(log, "Workers die under load", details="Set *timeout* to 120 with `--timeout` in gunicorn's __main__.")
    [result] = await log.search(GUILD, "gunicorn")
    assert "**gunicorn**" in result.snippet
    # Escaped wherever the snippet cuts the text (PostgreSQL's may start at "timeout", after its first `*`).
    assert "timeout\\*" in result.snippet
    assert "\\`" in result.snippet


async def test_pasted_error_text_finds_the_challenge_that_reported_it(log: ChallengeService) -> None:
    reported = await _new(
        log,
        "Checkout crashes",
        details='django.db.utils.IntegrityError: duplicate key value violates unique constraint "orders_pkey"',
    )
    loose = await _new(
        log,
        "Thinking about data integrity",
        details="How do I keep a duplicate value out? Is a unique key the right constraint here?",
    )
    results = await log.search(GUILD, "django.db.utils.IntegrityError: duplicate key value violates unique constraint")
    ids = [result.challenge.id for result in results]
    assert ids[0] == reported.id
    assert loose.id not in ids or ids.index(loose.id) > 0
    # The exception name alone finds it too, and so does the PostgreSQL error code.
    assert [result.challenge.id for result in await log.search(GUILD, "IntegrityError")][:1] == [reported.id]
    assert [result.challenge.id for result in await log.search(GUILD, "SQLSTATE 23505")] == [reported.id]


async def test_error_signatures_outrank_a_loose_mention(log: ChallengeService) -> None:
    # Both hold the token "integrityerror"; only the first reports it as an exception.
    loose = await _new(log, "Naming question", details="is integrityerror a good name for my own class or not")
    reported = await _new(log, "Saving fails", details="raise IntegrityError from the save() call")
    results = await log.search(GUILD, "IntegrityError")
    assert [result.challenge.id for result in results] == [reported.id, loose.id]


HOSTILE_EMPTY = ['"', "*", "-", ":", "()", "", "   ", '""', "^", "***", "\u200b"]
HOSTILE_WORDS = [
    "NEAR(",
    "AND OR NOT",
    "NEAR(redis cache, 2)",
    'redis"',
    "title:redis",
    "error_terms:redis",
    "redis*",
    "-redis",
    "(redis OR",
    "'; DROP TABLE challenges; --",
    "{redis}",
    "re\\dis",
]


@pytest.mark.parametrize("query", HOSTILE_EMPTY)
async def test_queries_without_words_get_a_helpful_message(log: ChallengeService, query: str) -> None:
    await _new(log, "Redis cache stampede")
    with pytest.raises(InvalidInputError) as refused:
        await log.search(GUILD, query)
    assert "Search for a few words" in refused.value.user_message


@pytest.mark.parametrize("query", HOSTILE_WORDS)
async def test_hostile_queries_are_read_as_words(log: ChallengeService, engine: AsyncEngine, query: str) -> None:
    redis = await _new(log, "Redis cache stampede")
    results = await log.search(GUILD, query)
    assert all(result.challenge.id == redis.id for result in results)
    if "redis" in query:
        assert [result.challenge.id for result in results] == [redis.id]
    assert await _count(engine, "challenges") == 1


async def test_all_words_first_then_any_word(log: ChallengeService) -> None:
    redis = await _new(log, "Redis cache misses")
    celery = await _new(log, "Celery worker hangs")
    both = await log.search(GUILD, "redis cache")
    assert [result.challenge.id for result in both] == [redis.id]
    either = await log.search(GUILD, "redis celery")
    assert {result.challenge.id for result in either} == {redis.id, celery.id}
    assert await log.search(GUILD, "kubernetes") == []


async def test_search_never_returns_other_servers_challenges(log: ChallengeService) -> None:
    mine = await _new(log, "Redis cache misses")
    theirs = await _new(log, "Redis cache misses", guild_id=OTHER_GUILD)
    assert [result.challenge.id for result in await log.search(GUILD, "redis cache")] == [mine.id]
    assert [result.challenge.id for result in await log.search(OTHER_GUILD, "redis")] == [theirs.id]
    assert await log.search(3003, "redis") == []


async def test_another_servers_volume_does_not_hide_this_servers_matches(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    mine = await _new(log, "Redis cache misses")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO challenges (guild_id, channel_id, author_name, title, details, error_terms, status, "
                "created_at, updated_at) VALUES (:guild, 1, 'x', :title, '', '', 'open', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            [{"guild": OTHER_GUILD, "title": f"redis question {n}"} for n in range(2001)],
        )
    assert [result.challenge.id for result in await log.search(GUILD, "redis")] == [mine.id]


# --- similar solved -------------------------------------------------------------------------------------------


async def test_a_new_challenge_suggests_similar_solved_ones(log: ChallengeService) -> None:
    solved = await _solved(log, "Slow queries on the orders list")
    open_one = await _new(log, "Slow queries on the products list")
    unrelated = await _solved(log, "Git rebase lost my commits")
    logged = await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=CAROL, title="Slow queries on the users list"
    )
    ids = [similar.id for similar in logged.similar]
    assert solved.id in ids
    assert open_one.id not in ids
    assert logged.challenge.id not in ids
    assert unrelated.id not in ids
    assert [similar.title for similar in logged.similar if similar.id == solved.id] == [solved.title]


async def test_at_most_three_similar_challenges_from_this_server(log: ChallengeService) -> None:
    solved = [await _solved(log, f"Slow queries on list {n}") for n in range(5)]
    elsewhere = await _solved(log, "Slow queries on list 9", guild_id=OTHER_GUILD)
    logged = await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=CAROL, title="Slow queries on a list")
    assert len(logged.similar) == 3
    assert {similar.id for similar in logged.similar} <= {challenge.id for challenge in solved}
    assert elsewhere.id not in {similar.id for similar in logged.similar}
    # A solved challenge does not suggest itself.
    again = await log.similar_solved(solved[0])
    assert solved[0].id not in {similar.id for similar in again}
    assert len(again) == 3


# --- leaderboard ----------------------------------------------------------------------------------------------


async def _move_accepted_at(engine: AsyncEngine, solution_id: int, when: datetime) -> None:
    async with create_session_factory(engine).begin() as session:
        solution = await session.get(Solution, solution_id)
        assert solution is not None
        solution.accepted_at = when


async def test_leaderboard_counts_accepted_solutions_per_period(log: ChallengeService, engine: AsyncEngine) -> None:
    now = utcnow()
    for n in range(2):
        await _solved(log, f"Bob's recent answer {n}", helper=BOB)
    carol_old = await _solved(log, "Carol's answer of last month", helper=CAROL)
    carol_older = await _solved(log, "Carol's answer of last year", helper=CAROL)
    unaccepted = await _new(log, "Only an unaccepted answer")
    await _answer(log, unaccepted, author=CAROL)
    elsewhere = await _solved(log, "Another server", helper=CAROL, guild_id=OTHER_GUILD)
    assert elsewhere.accepted is not None
    assert carol_old.accepted is not None
    assert carol_older.accepted is not None
    await _move_accepted_at(engine, carol_old.accepted.id, now - timedelta(days=20))
    await _move_accepted_at(engine, carol_older.accepted.id, now - timedelta(days=200))

    week = await log.leaderboard(GUILD, "week", now=now)
    assert [(entry.user_id, entry.name, entry.accepted) for entry in week] == [(BOB.id, "Bob", 2)]
    month = await log.leaderboard(GUILD, "month", now=now)
    assert [(entry.user_id, entry.accepted) for entry in month] == [(BOB.id, 2), (CAROL.id, 1)]
    ever = await log.leaderboard(GUILD, "all", now=now)
    # A tie goes to whoever got there first: Carol's first accepted answer is the older one.
    assert [(entry.user_id, entry.accepted) for entry in ever] == [(CAROL.id, 2), (BOB.id, 2)]
    # Seen from later on, this week's answers are last month's.
    later = await log.leaderboard(GUILD, "week", now=now + timedelta(days=8))
    assert later == []
    assert [(entry.user_id, entry.accepted) for entry in await log.leaderboard(OTHER_GUILD, "all")] == [(CAROL.id, 1)]


async def test_leaderboard_leaves_out_anonymised_authors(log: ChallengeService, engine: AsyncEngine) -> None:
    await _solved(log, "Answered by Bob", helper=BOB)
    await _solved(log, "Answered by Carol", helper=CAROL)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE solutions SET author_id = NULL WHERE author_id = :id"), {"id": BOB.id})
    board = await log.leaderboard(GUILD, "all")
    assert [(entry.user_id, entry.accepted) for entry in board] == [(CAROL.id, 1)]


async def test_leaderboard_leaves_out_deleted_challenges_and_self_accepted_solutions(log: ChallengeService) -> None:
    await _solved(log, "Answered by Bob", helper=BOB)
    gone = await _solved(log, "Answered by Bob, then deleted", helper=BOB)
    await log.delete(GUILD, gone.id, ANN)
    # Carol accepts her own answer to her own challenge: that scores nothing.
    own = await _new(log, "Carol answers herself", author=CAROL)
    await log.accept(GUILD, own.id, await _answer(log, own, author=CAROL), CAROL)
    board = await log.leaderboard(GUILD, "all")
    assert [(entry.user_id, entry.accepted) for entry in board] == [(BOB.id, 1)]


# --- nudges ---------------------------------------------------------------------------------------------------


async def test_an_unanswered_challenge_is_nudged_once(nudging: ChallengeService) -> None:
    challenge = await _new(nudging, "Nobody answered yet")
    assert await nudging.due_nudges(utcnow()) == []
    later = utcnow() + timedelta(hours=1)
    [nudge] = await nudging.due_nudges(later)
    assert (nudge.kind, nudge.challenge.id) == ("unanswered", challenge.id)

    assert await nudging.claim_nudge(nudge, later)
    assert await nudging.due_nudges(later) == []
    assert not await nudging.claim_nudge(nudge, later)

    await nudging.release_nudge(nudge)
    [again] = await nudging.due_nudges(later)
    assert (again.kind, again.challenge.id) == ("unanswered", challenge.id)
    assert await nudging.claim_nudge(again, later)
    assert await nudging.due_nudges(later + timedelta(days=30)) == []


async def test_the_author_is_asked_once_when_no_solution_is_accepted(
    nudging: ChallengeService, engine: AsyncEngine
) -> None:
    challenge = await _new(nudging, "Answered but not accepted")
    await _answer(nudging, challenge)
    # Past the unanswered threshold but not the ask one: it has a solution, so no nudge of either kind.
    assert await nudging.due_nudges(utcnow() + timedelta(minutes=7)) == []
    later = utcnow() + timedelta(hours=1)
    [nudge] = await nudging.due_nudges(later)
    assert (nudge.kind, nudge.challenge.id) == ("ask_author", challenge.id)
    assert await nudging.claim_nudge(nudge, later)
    assert not await nudging.claim_nudge(nudge, later)
    assert await nudging.due_nudges(later) == []
    rows = await _rows(engine, "SELECT nudged_at, asked_author_at FROM challenges")
    assert rows[0].nudged_at is None
    assert rows[0].asked_author_at is not None
    await nudging.release_nudge(nudge)
    assert [item.kind for item in await nudging.due_nudges(later)] == ["ask_author"]


async def test_solved_deleted_and_anonymised_challenges_are_not_nudged(
    nudging: ChallengeService, engine: AsyncEngine
) -> None:
    await _solved(nudging, "Solved at once")
    deleted = await _new(nudging, "Deleted")
    await nudging.delete(GUILD, deleted.id, ANN)
    anonymous = await _new(nudging, "Author left")
    await _answer(nudging, anonymous)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE challenges SET author_id = NULL WHERE id = :id"), {"id": anonymous.id})
    assert await nudging.due_nudges(utcnow() + timedelta(days=3)) == []


async def test_due_nudges_are_taken_fairly_per_server(nudging: ChallengeService) -> None:
    # A batch of 2 stands for the 20 of production: one server's backlog must not take all of it.
    nudging.nudge_batch = 2
    crowded = [await _new(nudging, f"Crowded {number}") for number in range(3)]
    quiet = await _new(nudging, "The only one over here", guild_id=OTHER_GUILD)
    answered = [await _new(nudging, f"Answered {number}") for number in range(3)]
    for challenge in answered:
        await _answer(nudging, challenge)
    asked = await _new(nudging, "Answered over here", guild_id=OTHER_GUILD)
    await _answer(nudging, asked)
    due = await nudging.due_nudges(utcnow() + timedelta(hours=1))
    assert [(n.kind, n.challenge.guild_id, n.challenge.id) for n in due] == [
        ("unanswered", GUILD, crowded[0].id),  # each server's oldest first, then each one's next
        ("unanswered", OTHER_GUILD, quiet.id),
        ("ask_author", GUILD, answered[0].id),
        ("ask_author", OTHER_GUILD, asked.id),
    ]


async def test_nudges_follow_the_configured_hours(
    engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase
) -> None:
    settings = load_settings(
        _env_file=None,
        DISCORD_TOKEN="x",
        DATABASE_URL=database_url,
        NEXUS_CHALLENGE_NUDGE_HOURS="2",
        NEXUS_CHALLENGE_ASK_HOURS="3",
    )
    service = build_services(settings, engine, knowledge_base).challenges
    challenge = await _new(service, "Waiting for help")
    assert await service.due_nudges(utcnow() + timedelta(hours=1)) == []
    assert [nudge.challenge.id for nudge in await service.due_nudges(utcnow() + timedelta(hours=2, minutes=1))] == [
        challenge.id
    ]


# --- cursors --------------------------------------------------------------------------------------------------


async def test_cursors_only_move_forward(log: ChallengeService, engine: AsyncEngine) -> None:
    assert await log.cursor(CHANNEL) is None
    await log.advance_cursor(GUILD, CHANNEL, 100)
    assert await log.cursor(CHANNEL) == 100
    await log.advance_cursor(GUILD, CHANNEL, 50)
    assert await log.cursor(CHANNEL) == 100
    await log.advance_cursor(GUILD, CHANNEL, 250)
    assert await log.cursor(CHANNEL) == 250
    assert await log.cursor(CHANNEL + 1) is None
    rows = await _rows(engine, "SELECT channel_id, guild_id, last_message_id FROM channel_cursors")
    assert [tuple(row) for row in rows] == [(CHANNEL, GUILD, 250)]


# --- export ---------------------------------------------------------------------------------------------------


async def test_export_streams_every_live_challenge(
    log: ChallengeService, engine: AsyncEngine, knowledge_base: KnowledgeBase
) -> None:
    first = await _new(log, "Image too large", topics="docker")
    second = await _new(log, "Two answers")
    await _answer(log, second, "The first idea.", author=BOB)
    chosen = await _answer(log, second, "The better idea.", author=CAROL)
    await log.accept(GUILD, second.id, chosen, ANN)
    deleted = await _new(log, "Deleted")
    await log.delete(GUILD, deleted.id, ANN)
    third = await _new(log, "Left by a former member", author=BOB)
    await _answer(log, third, "Answer by a former member.", author=BOB)
    fourth = await _new(log, "Fourth")
    fifth = await _new(log, "Fifth")
    await _new(log, "Another server", guild_id=OTHER_GUILD)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE challenges SET author_id = NULL WHERE id = :id"), {"id": third.id})
        await connection.execute(
            text("UPDATE solutions SET author_id = NULL WHERE challenge_id = :id"), {"id": third.id}
        )

    exported = [item async for item in log.export(GUILD, batch=2)]
    assert [item.id for item in exported] == [first.id, second.id, third.id, fourth.id, fifth.id]
    by_id = {item.id: item for item in exported}
    assert by_id[first.id].topics[0] == knowledge_base.by_slug["docker"].title
    assert by_id[first.id].author == "Ann"
    assert by_id[second.id].status == "solved"
    assert [(s.author, s.body, s.accepted) for s in by_id[second.id].solutions] == [
        ("Carol", "The better idea.", True),
        ("Bob", "The first idea.", False),
    ]
    assert by_id[third.id].author == ANONYMOUS == "a former member"
    assert [s.author for s in by_id[third.id].solutions] == [ANONYMOUS]
    # The same with a batch size that divides the count exactly, and with one batch.
    assert [item.id for item in exported] == [item.id async for item in log.export(GUILD, batch=5)]
    assert [item.id for item in exported] == [item.id async for item in log.export(GUILD)]
    assert [item async for item in log.export(12345, batch=2)] == []


async def test_export_file_lists_each_challenge_once_with_its_topics(
    log: ChallengeService, knowledge_base: KnowledgeBase
) -> None:
    both = await _new(log, "Celery worker cannot reach Redis", topics="celery, redis")
    only_redis = await _new(log, "Redis keys never expire", topics="redis")
    async with log.export_file(GUILD, community="ALX ProDev") as exported:
        document = exported.path.read_text(encoding="utf-8")
        assert exported.challenges == 2
        assert exported.size == exported.path.stat().st_size
        assert exported.filename.endswith(".md")
    celery, redis = (knowledge_base.by_slug[slug].title for slug in ("celery", "redis"))
    assert document.count(f"### #{both.id} Celery worker cannot reach Redis") == 1
    assert document.count(f"### #{only_redis.id} Redis keys never expire") == 1
    assert f"## {celery}" in document
    assert f"## {redis}" in document
    assert f"- #{both.id} Celery worker cannot reach Redis (under {celery})" in document
    assert f"**Also about:** {redis}" in document


async def test_export_file_filters_by_topic_status_and_since(
    log: ChallengeService, engine: AsyncEngine, knowledge_base: KnowledgeBase
) -> None:
    old_docker = await _new(log, "Old docker question", topics="docker")
    new_docker = await _new(log, "New docker question", topics="docker")
    solved = await _solved(log, "Solved redis question")
    await _new(log, "Other server docker", guild_id=OTHER_GUILD, topics="docker")
    async with engine.begin() as connection:
        await connection.execute(
            update(Challenge)
            .where(Challenge.id == old_docker.id)
            .values(created_at=datetime(2024, 1, 10, 12, tzinfo=UTC))
        )

    async def ids(**filters: Any) -> list[int]:
        async with log.export_file(GUILD, community="X", format="csv", **filters) as exported:
            rows = exported.path.read_text(encoding="utf-8").splitlines()[1:]
        return [int(row.split(",", 1)[0]) for row in rows]

    assert await ids(topic="docker") == [old_docker.id, new_docker.id]
    assert await ids(status="solved") == [solved.id]
    assert await ids(status="open", topic="docker") == [old_docker.id, new_docker.id]
    assert await ids(since=date(2024, 1, 11)) == [new_docker.id, solved.id]
    assert await ids(topic="docker", since=date(2024, 1, 10)) == [old_docker.id, new_docker.id]
    with pytest.raises(TopicNotFoundError):
        await ids(topic="basketweaving")
    async with log.export_file(GUILD, community="X", topic="docker", status="open") as exported:
        document = exported.path.read_text(encoding="utf-8")
        assert f"challenges-{knowledge_base.by_slug['docker'].slug}-" in exported.filename
    assert f"Only open challenges about {knowledge_base.by_slug['docker'].title}." in document
    async with log.export_file(GUILD, community="X", status="solved", since=date(2030, 1, 1)) as exported:
        assert exported.challenges == 0
        assert "No challenge matches" in exported.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("written", ["2024-13-01", "yesterday", "01/05/2024", ""])
def test_since_must_be_a_date(written: str) -> None:
    with pytest.raises(InvalidInputError, match="YYYY-MM-DD"):
        parse_since(written)
    assert parse_since(" 2024-05-01 ") == date(2024, 5, 1)


@pytest.mark.parametrize("output_format", ["markdown", "csv"])
async def test_export_file_stops_at_the_upload_limit_and_offers_filters(
    log: ChallengeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output_format: str
) -> None:
    scratch = tmp_path / "temporary"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for number in range(6):
        await _new(log, f"Long challenge {number}", details="A long story. " * 100)
    with pytest.raises(ExportTooLargeError) as raised:
        async with log.export_file(GUILD, community="X", format=output_format, limit=3000):
            pytest.fail("an export over the limit was handed out")
    message = raised.value.user_message
    assert "upload limit" in message
    assert "2.9 KB" in message
    assert all(f"`{option}`" in message for option in ("topic", "status", "since"))
    assert list(scratch.iterdir()) == []  # nothing left behind
    # Under a limit it fits, and the file is removed once the caller is done with it.
    async with log.export_file(GUILD, community="X", format=output_format, limit=1_000_000) as exported:
        assert exported.size <= 1_000_000
        path = exported.path
        assert path.exists()
    assert not path.exists()
    assert list(scratch.iterdir()) == []


async def test_one_export_at_a_time_per_server(log: ChallengeService) -> None:
    await _new(log, "Something to export")
    async with log.export_file(GUILD, community="X"):
        with pytest.raises(ExportBusyError, match="already being prepared"):
            async with log.export_file(GUILD, community="X"):
                pytest.fail("a second export ran beside the first")
        async with log.export_file(OTHER_GUILD, community="Y") as other:  # another server is not held up
            assert other.challenges == 0
    async with log.export_file(GUILD, community="X") as again:
        assert again.challenges == 1

    async def attempt() -> str:
        try:
            async with log.export_file(GUILD, community="X"):
                await asyncio.sleep(0.05)
        except ExportBusyError:
            return "busy"
        return "exported"

    assert sorted(await asyncio.gather(attempt(), attempt(), attempt())) == ["busy", "busy", "exported"]
    # A failed export releases the server too.
    with pytest.raises(ExportTooLargeError):
        async with log.export_file(GUILD, community="X", limit=10):
            pass
    async with log.export_file(GUILD, community="X") as after:
        assert after.challenges == 1


async def test_marking_someone_elses_message_as_a_solution_takes_the_challenges_author_or_a_moderator(
    log: ChallengeService,
) -> None:
    challenge = await _new(log, "Celery worker loses tasks", author=ANN)
    with pytest.raises(PermissionDeniedError, match="the message's author or a moderator"):
        await log.add_solution(
            guild_id=GUILD,
            challenge_id=challenge.id,
            author=BOB,
            body="acks_late",
            source_message_id=501,
            logged_by=CAROL,
        )
    assert (await log.show(GUILD, challenge.id)).solutions == ()
    for source, actor in ((502, ANN), (503, BOB), (504, MODERATOR)):
        logged = await log.add_solution(
            guild_id=GUILD,
            challenge_id=challenge.id,
            author=BOB,
            body=f"acks_late {source}",
            source_message_id=source,
            logged_by=actor,
        )
        assert logged.created
        assert logged.solution.author_id == BOB.id
    assert len((await log.show(GUILD, challenge.id)).solutions) == 3


async def test_a_deleted_entrys_message_is_restored_only_by_a_moderator(log: ChallengeService) -> None:
    first = await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Slow ORM", source_message_id=601
    )
    await log.delete(GUILD, first.challenge.id, ANN)
    with pytest.raises(PermissionDeniedError, match="which was deleted"):
        await log.log_challenge(guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Slow ORM", source_message_id=601)
    again = await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=ANN, title="Slow ORM", source_message_id=601, logged_by=MODERATOR
    )
    assert (again.created, again.restored, again.challenge.id) == (False, True, first.challenge.id)
    assert (await log.show(GUILD, first.challenge.id)).author_id == ANN.id


# --- solved challenges per topic ----------------------------------------------------------------------------


async def test_solved_for_topic_counts_this_servers_solved_challenges(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    solved_log = SolvedChallengeLog(create_session_factory(engine))
    first = await _new(log, "Image too large", topics="docker")
    await log.accept(GUILD, first.id, await _answer(log, first), ANN)
    second = await _new(log, "Container cannot reach the host", topics="docker")
    await log.accept(GUILD, second.id, await _answer(log, second), ANN)
    await _new(log, "Still open", topics="docker")
    gone = await _new(log, "Deleted", topics="docker")
    await log.accept(GUILD, gone.id, await _answer(log, gone), ANN)
    await log.delete(GUILD, gone.id, ANN)
    await _new(log, "Not about containers", topics="git-branching")
    theirs = await _new(log, "Other server's container", topics="docker", guild_id=OTHER_GUILD)
    await log.accept(OTHER_GUILD, theirs.id, await _answer(log, theirs), ANN)

    result = await solved_log.solved_for_topic(GUILD, "docker", 3)
    assert result.count == 2
    assert [(ref.id, ref.title) for ref in result.top] == [
        (second.id, "Container cannot reach the host"),
        (first.id, "Image too large"),
    ]
    limited = await solved_log.solved_for_topic(GUILD, "docker", 1)
    assert limited.count == 2
    assert [ref.id for ref in limited.top] == [second.id]
    assert (await solved_log.solved_for_topic(OTHER_GUILD, "docker", 3)).count == 1
    assert (await solved_log.solved_for_topic(GUILD, "kubernetes", 3)).count == 0


async def test_solved_for_topic_outside_a_server_is_empty_and_each_server_is_cached_apart(
    log: ChallengeService, engine: AsyncEngine
) -> None:
    solved_log = SolvedChallengeLog(create_session_factory(engine))
    theirs = await _new(log, "Other server's container", topics="docker", guild_id=OTHER_GUILD)
    await log.accept(OTHER_GUILD, theirs.id, await _answer(log, theirs), ANN)
    # A DM (no server) sees no server's log, whatever was asked before.
    assert (await solved_log.solved_for_topic(None, "docker", 3)).count == 0
    assert (await solved_log.solved_for_topic(OTHER_GUILD, "docker", 3)).count == 1
    assert (await solved_log.solved_for_topic(None, "docker", 3)).top == ()
    assert (await solved_log.solved_for_topic(GUILD, "docker", 3)).count == 0
    ours = await _new(log, "Our container", topics="docker")
    await log.accept(GUILD, ours.id, await _answer(log, ours), ANN)
    solved_log.forget(GUILD)
    assert [ref.title for ref in (await solved_log.solved_for_topic(GUILD, "docker", 3)).top] == ["Our container"]
    assert [ref.title for ref in (await solved_log.solved_for_topic(OTHER_GUILD, "docker", 3)).top] == [
        "Other server's container"
    ]


# --- guild settings -------------------------------------------------------------------------------------------


async def test_guild_settings_default_to_the_environment(engine: AsyncEngine) -> None:
    service = GuildSettingsService(
        create_session_factory(engine), challenge_channel_ids=(10, 11), pairing_channel_id=20
    )
    settings = await service.get(GUILD)
    assert settings.challenge_channel_ids == frozenset({10, 11})
    assert settings.pairing_channel_id == 20
    assert settings.moderator_role_id is None
    assert await service.any_challenge_channel()
    assert await _count(engine, "guild_settings") == 0


async def test_guild_settings_updates_override_and_refresh_the_cache(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    service = GuildSettingsService(sessions, challenge_channel_ids=(10,), pairing_channel_id=20)
    assert (await service.get(GUILD)).challenge_channel_ids == frozenset({10})  # now cached

    updated = await service.update(GUILD, challenge_channel_id=30)
    assert updated.challenge_channel_ids == frozenset({30})
    assert updated.pairing_channel_id == 20
    assert (await service.get(GUILD)).challenge_channel_ids == frozenset({30})

    with_role = await service.update(GUILD, moderator_role_id=40, pairing_channel_id=50)
    assert (with_role.challenge_channel_ids, with_role.pairing_channel_id, with_role.moderator_role_id) == (
        frozenset({30}),
        50,
        40,
    )
    cleared = await service.update(GUILD, challenge_channel_id=None)
    assert cleared.challenge_channel_ids == frozenset({10})
    assert cleared.moderator_role_id == 40
    # Other servers keep the defaults; a fresh service (another start) reads what was stored.
    assert (await service.get(OTHER_GUILD)).challenge_channel_ids == frozenset({10})
    fresh = await GuildSettingsService(sessions).get(GUILD)
    assert (fresh.challenge_channel_ids, fresh.pairing_channel_id, fresh.moderator_role_id) == (frozenset(), 50, 40)
    rows = await _rows(
        engine, "SELECT guild_id, challenge_channel_id, pairing_channel_id, moderator_role_id FROM guild_settings"
    )
    assert [tuple(row) for row in rows] == [(GUILD, None, 50, 40)]


async def test_any_challenge_channel_looks_at_stored_settings(engine: AsyncEngine) -> None:
    service = GuildSettingsService(create_session_factory(engine))
    assert not await service.any_challenge_channel()
    await service.update(GUILD, moderator_role_id=5)
    assert not await service.any_challenge_channel()
    await service.update(OTHER_GUILD, challenge_channel_id=77)
    assert await service.any_challenge_channel()
    await service.update(OTHER_GUILD, challenge_channel_id=None)
    assert not await service.any_challenge_channel()


async def test_build_services_wires_the_channel_settings(
    engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase
) -> None:
    settings = load_settings(
        _env_file=None,
        DISCORD_TOKEN="x",
        DATABASE_URL=database_url,
        NEXUS_CHALLENGE_CHANNEL_IDS="10,11",
        NEXUS_PAIRING_CHANNEL_ID="20",
    )
    guild_settings = build_services(settings, engine, knowledge_base).guild_settings
    stored = await guild_settings.get(GUILD)
    assert stored.challenge_channel_ids == frozenset({10, 11})
    assert stored.pairing_channel_id == 20
    assert await guild_settings.any_challenge_channel()


async def test_nexus_bot_export_writes_the_document_offline(
    log: ChallengeService, database_url: str, tmp_path: Path
) -> None:
    solved = await _solved(log, "Offline export of a solved one")
    await _new(log, "Another one still open")
    await _new(log, "Elsewhere", guild_id=OTHER_GUILD)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DISCORD", "NEXUS"))}
    env["DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "bot", "export"]
    ambiguous = await asyncio.to_thread(subprocess.run, command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert ambiguous.returncode == 2
    assert str(GUILD) in ambiguous.stderr
    output = tmp_path / "challenges.md"
    done = await asyncio.to_thread(
        subprocess.run,
        [*command, "--guild", str(GUILD), "--output", str(output)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    document = output.read_text(encoding="utf-8")
    assert document.startswith("# Challenges & Solutions")
    assert f"#{solved.id} Offline export of a solved one" in document
    assert "Elsewhere" not in document
    as_csv = await asyncio.to_thread(
        subprocess.run, [*command, "--guild", str(GUILD), "--format", "csv"], env=env, capture_output=True, text=True
    )
    assert as_csv.stdout.splitlines()[0].startswith("id,title,status")
    # The filters of `/challenge export`, and their mistakes, each with a clear line.
    only_solved = await asyncio.to_thread(
        subprocess.run,
        [*command, "--guild", str(GUILD), "--status", "solved", "--since", "2000-01-01"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert only_solved.returncode == 0, only_solved.stderr
    assert "Only solved challenges logged since 2000-01-01." in only_solved.stdout
    assert f"#{solved.id} Offline export of a solved one" in only_solved.stdout
    assert "Another one still open" not in only_solved.stdout
    for wrong, says in ((["--since", "yesterday"], "YYYY-MM-DD"), (["--topic", "basketweaving"], "No topic")):
        refused = await asyncio.to_thread(
            subprocess.run, [*command, "--guild", str(GUILD), *wrong], env=env, capture_output=True, text=True
        )
        assert refused.returncode == 2
        assert says in refused.stderr
        assert refused.stdout == ""


async def test_concurrent_reads_of_cold_settings_resume_in_the_order_they_asked(engine: AsyncEngine) -> None:
    # Posts of a watched channel ask for the server's settings in the order they arrive; with a cold cache
    # each used to read the database itself and resume in whichever order the reads ended, so a later post
    # could be logged (and numbered) before an earlier one.
    reads = 0
    sessions = create_session_factory(engine)

    def counting() -> AsyncSession:
        nonlocal reads
        reads += 1
        return sessions()

    service = GuildSettingsService(counting, challenge_channel_ids=(10,))  # type: ignore[arg-type]
    resumed: list[int] = []

    async def ask(position: int) -> None:
        await service.get(GUILD)
        resumed.append(position)

    await asyncio.gather(*(ask(position) for position in range(20)))
    assert resumed == list(range(20))
    assert reads == 1
