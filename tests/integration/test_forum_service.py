"""Forum posts as challenges, at the service level, on both engines: logging by the writer, following the post,
acceptance by reaction, the note claimed once, archiving due, backfill cursors, the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.client import Services
from bot.config import load_settings
from bot.core.errors import InvalidInputError
from bot.db.base import utcnow
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import ChallengeView, IncomingMessage, Logged, Person, SolutionLogged
from bot.services.forum import is_forum_post

GUILD = 1001
FORUM = 5005
ANN = Person(11, "Ann")
BOB = Person(12, "Bob")


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
async def services(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> AsyncIterator[Services]:
    settings = load_settings(
        _env_file=None,
        DISCORD_TOKEN="x",
        DATABASE_URL=database_url,
        NEXUS_CHALLENGE_FORUM_IDS=str(FORUM),
        NEXUS_FORUM_ARCHIVE_HOURS="2",
    )
    built = build_services(settings, engine, knowledge_base)
    yield built
    await built.challenges.close()


async def _post(
    services: Services, thread: int, title: str, content: str, tags: list[str], author: Person = ANN
) -> ChallengeView:
    result = await services.challenges.ingest(
        IncomingMessage(
            GUILD,
            thread,
            thread,
            author.id,
            author.name,
            content,
            watched_channel_id=thread,
            forum_post=services.forum.post_text(title, tags),
        )
    )
    assert isinstance(result, Logged)
    return result.challenge


async def _answer(services: Services, thread: int, message: int, content: str, author: Person = BOB) -> Any:
    return await services.challenges.ingest(
        IncomingMessage(
            GUILD,
            thread,
            message,
            author.id,
            author.name,
            content,
            thread_parent_message_id=thread,
            watched_channel_id=thread,
        )
    )


async def test_a_starter_message_is_a_challenge_with_its_tags_topics_first(services: Services) -> None:
    challenge = await _post(
        services,
        7001,
        "Migrations conflict",
        "Two branches added 0005 and migrate fails.",
        ["docker", "help", "Solved"],
    )
    assert challenge.title == "Migrations conflict"
    assert challenge.details == "Two branches added 0005 and migrate fails."
    assert challenge.topics[0] == "docker"  # the tag's topic first, "help" and "Solved" name none
    assert "django-migrations" in challenge.topics or "django" in challenge.topics  # inferred from the text
    assert is_forum_post(challenge)
    again = await services.challenges.ingest(
        IncomingMessage(GUILD, 7001, 7001, ANN.id, ANN.name, "x", forum_post=services.forum.post_text("x", []))
    )
    assert isinstance(again, Logged)
    assert not again.created
    assert again.challenge.id == challenge.id


async def test_a_starter_message_needs_no_prefix_and_a_title_over_the_limit_is_refused(services: Services) -> None:
    with pytest.raises(InvalidInputError, match="100"):
        await _post(services, 7002, "t" * 101, "details", [])


async def test_replies_in_a_post_are_solutions_only_with_the_prefix(services: Services) -> None:
    challenge = await _post(services, 7003, "Celery never runs", "idle worker", [])
    assert await _answer(services, 7003, 7004, "Did you start the beat?") is None
    logged = await _answer(services, 7003, 7005, "Solution: start the worker with -Q default")
    assert isinstance(logged, SolutionLogged)
    assert logged.challenge.id == challenge.id
    assert await services.forum.cursors([7003, 9999]) == {7003: 7005}


async def test_the_post_is_followed_and_a_starter_edit_is_left_to_the_forum_service(
    services: Services, engine: AsyncEngine
) -> None:
    challenge = await _post(services, 7010, "The app exits", "It stops at once", ["help"])
    assert "docker" not in challenge.topics
    changed = await services.forum.post_changed(GUILD, 7010, title="Docker container exits", tag_names=["docker"])
    assert changed is not None
    assert changed.title == "Docker container exits"
    assert changed.topics[0] == "docker"
    # The challenge log's own edit path leaves a starter alone (a forum post's title is the post's, not a line).
    assert await services.challenges.source_edited(GUILD, 7010, "Challenge: something else") is None
    edited = await services.forum.post_changed(
        GUILD, 7010, details="Exit code 137: out of memory", tag_names=["docker"]
    )
    assert edited is not None
    assert edited.details == "Exit code 137: out of memory"
    assert edited.topics[0] == "docker"
    assert await services.forum.post_changed(GUILD, 7010, tag_names=["docker"]) is None  # nothing changed
    assert await services.forum.post_changed(GUILD, 424242, title="not logged") is None
    rows = await engine.connect()
    try:
        found = (await rows.execute(text("SELECT title FROM challenges WHERE source_message_id = 7010"))).all()
    finally:
        await rows.close()
    assert found[0][0] == "Docker container exits"


async def test_the_posts_author_accepts_and_reopens_by_reaction_and_listeners_hear_of_it(services: Services) -> None:
    heard: list[ChallengeView] = []
    services.challenges.on_status_change(heard.append)
    challenge = await _post(services, 7020, "JWT refresh loops", "401 forever", [])
    answer = await _answer(services, 7020, 7021, "Solution: refresh once, then log out")
    assert isinstance(answer, SolutionLogged)
    assert not await services.forum.accept_by_reaction(GUILD, 7020, 7021, BOB)  # not the post's author
    assert await services.forum.accept_by_reaction(GUILD, 7020, 7021, ANN)
    assert [view.status for view in heard] == ["solved"]
    assert not await services.forum.accept_by_reaction(GUILD, 7020, 7021, ANN)  # accepted already
    assert not await services.forum.reopen_by_reaction(GUILD, 7020, 7021, BOB.id)
    assert await services.forum.reopen_by_reaction(GUILD, 7020, 7021, ANN.id)
    shown = await services.challenges.show(GUILD, challenge.id)
    assert shown.status == "open"
    assert shown.accepted is None


async def test_the_note_is_claimed_once_per_accepted_answer(services: Services) -> None:
    assert await services.forum.claim_note(GUILD, FORUM, 7030, 1)
    assert not await services.forum.claim_note(GUILD, FORUM, 7030, 1)
    await services.forum.release_note(7030, 1)
    assert await services.forum.claim_note(GUILD, FORUM, 7030, 1)
    assert await services.forum.claim_note(GUILD, FORUM, 7030, 2)


async def test_solved_posts_are_due_for_archiving_once(services: Services) -> None:
    await _post(services, 7040, "Solved post", "x", [])
    answer = await _answer(services, 7040, 7041, "Solution: y")
    assert isinstance(answer, SolutionLogged)
    await services.challenges.accept(GUILD, answer.challenge.id, answer.solution.id, ANN)
    await _post(services, 7050, "Open post", "x", [])
    text_challenge = await services.challenges.log_challenge(guild_id=GUILD, channel_id=3003, author=ANN, title="t")
    solution = await services.challenges.add_solution(
        guild_id=GUILD, challenge_id=text_challenge.challenge.id, author=BOB, body="b"
    )
    await services.challenges.accept(GUILD, text_challenge.challenge.id, solution.solution.id, ANN)
    now = utcnow()
    assert await services.forum.due_archives(now) == []  # solved less than 2 hours ago
    due = await services.forum.due_archives(now + timedelta(hours=3))
    assert [item.thread_id for item in due] == [7040]  # forum posts only, solved ones only
    await services.forum.mark_archived(GUILD, FORUM, 7040, now)
    assert await services.forum.due_archives(now + timedelta(hours=3)) == []


async def test_settings_watch_forums_from_the_environment_or_setup(services: Services) -> None:
    settings = await services.guild_settings.get(GUILD)
    assert settings.challenge_forum_ids == frozenset({FORUM})
    changed = await services.guild_settings.update(GUILD, challenge_forum_id=6006)
    assert changed.challenge_forum_ids == frozenset({6006})
    assert changed.challenge_channel_ids == frozenset()
    assert await services.guild_settings.any_challenge_channel()
