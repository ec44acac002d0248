"""Forum channels as a source of challenges, end to end: the real bot against the local Discord server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot.client import NexusBot
from tests.e2e.harness import running_bot, settings_for, until
from tests.e2e.rows import fetch
from tests.e2e.server import JSON, FakeDiscord
from tests.e2e.users import FakeUser, find_component

TAGS = ["Django", "docker", "help", "CORS", "graphql", "celery"]


@pytest.fixture
def forum(discord_server: FakeDiscord) -> int:
    return discord_server.add_forum("help-forum", TAGS, announce=False)


def _watching(server: FakeDiscord, database: str, forum: int, **overrides: Any) -> Any:
    return settings_for(server, database, NEXUS_CHALLENGE_FORUM_IDS=str(forum), **overrides)


@pytest.fixture
async def nexus(discord_server: FakeDiscord, database: str, forum: int) -> AsyncIterator[NexusBot]:
    async with running_bot(_watching(discord_server, database, forum)) as bot:
        yield bot


def _bot_messages_in(server: FakeDiscord, thread: JSON) -> list[JSON]:
    return [
        message
        for message in server.channel_messages(int(thread["id"]))
        if message["author"]["id"] == server.bot_user["id"]
    ]


def _replies_to(server: FakeDiscord, message: JSON) -> list[JSON]:
    return [
        reply
        for reply in server.bot_messages()
        if str(reply.get("message_reference", {}).get("message_id")) == message["id"] and not reply.get("deleted")
    ]


async def _acknowledged(server: FakeDiscord, message: JSON) -> JSON:
    await until(lambda: _replies_to(server, message), f"a reply to message {message['id']}")
    return _replies_to(server, message)[0]


def _notes(server: FakeDiscord, thread: JSON) -> list[str]:
    return [message["content"] for message in _bot_messages_in(server, thread) if "Solved:" in message["content"]]


async def _topics(database: str, thread: JSON) -> list[str]:
    rows = await fetch(
        database,
        "SELECT t.slug FROM challenge_topics t JOIN challenges c ON c.id = t.challenge_id "
        "WHERE c.source_message_id = :thread ORDER BY t.position",
        thread=int(thread["id"]),
    )
    return [row[0] for row in rows]


async def _status(database: str, thread: JSON) -> tuple[str, bool]:
    rows = await fetch(
        database,
        "SELECT status, deleted_at FROM challenges WHERE source_message_id = :thread",
        thread=int(thread["id"]),
    )
    assert len(rows) == 1
    return rows[0][0], rows[0][1] is not None


def _forum_cog(bot: NexusBot) -> Any:
    cog = bot.get_cog("ForumLogCog")
    assert cog is not None
    return cast(Any, cog)


async def test_a_post_is_logged_with_its_title_details_and_tags_as_topics(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, forum: int, learner: FakeUser
) -> None:
    thread, starter = discord_server.create_post(
        forum,
        learner.id,
        "Migrations conflict after a rebase",
        "Two branches both added 0005; `migrate` fails with a conflict.",
        tags=["Django", "help"],
    )
    reply = await _acknowledged(discord_server, starter)
    assert reply["channel_id"] == thread["id"]  # inside the post
    assert "Logged as challenge **#1**" in reply["content"]
    assert (int(thread["id"]), int(starter["id"]), "✅") in discord_server.reactions
    topics = await _topics(database, thread)
    assert topics[0] == "django"  # the tag's topic first; "help" names none
    shown = await learner.slash("challenge show", id=1)
    assert shown.embed["title"] == "#1 · Migrations conflict after a rebase"
    assert "both added 0005" in shown.embed["description"]


async def test_a_solution_reply_accept_tags_solved_with_one_note_and_reopening_removes_it(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    database: str,
    forum: int,
    learner: FakeUser,
    other_learner: FakeUser,
) -> None:
    thread, starter = discord_server.create_post(
        forum, learner.id, "CORS error from React", "The browser blocks my fetch", tags=[*TAGS[:5]]
    )
    await _acknowledged(discord_server, starter)
    answer = other_learner.post(int(thread["id"]), "Solution: add django-cors-headers and list the origin")
    reply = await _acknowledged(discord_server, answer)
    assert "Logged as solution #1 to challenge #1" in reply["content"]

    accepted = await learner.click(reply, "Accept #1")
    assert "challenge #1 is solved" in accepted.content
    thread_id = int(thread["id"])
    await until(lambda: "Solved" in discord_server.tag_names(thread_id), "the Solved tag applied")
    tags = discord_server.tag_names(thread_id)
    assert len(tags) == 5  # Discord's limit: the Solved tag made room
    assert tags[0] == "Solved"
    await until(lambda: _notes(discord_server, thread), "the solved note")
    link = f"https://discord.com/channels/{discord_server.guild_id}/{thread['id']}/{answer['id']}"
    assert link in _notes(discord_server, thread)[0]

    # The author's ✅ on the accepted answer changes nothing; taking it back reopens the post.
    discord_server.react(learner.id, answer, "✅")
    await asyncio.sleep(0.3)
    assert len(_notes(discord_server, thread)) == 1
    discord_server.react(learner.id, answer, "✅", remove=True)
    await until(lambda: "Solved" not in discord_server.tag_names(thread_id), "the Solved tag removed")
    assert await _status(database, thread) == ("open", False)

    # Accepted again (by reaction this time): the tag comes back, the note for that answer is not repeated.
    discord_server.react(other_learner.id, answer, "✅")  # not the post's author: nothing
    await asyncio.sleep(0.3)
    assert await _status(database, thread) == ("open", False)
    discord_server.react(learner.id, answer, "✅")
    await until(lambda: "Solved" in discord_server.tag_names(thread_id), "the Solved tag applied again")
    assert await _status(database, thread) == ("solved", False)
    assert len(_notes(discord_server, thread)) == 1

    # `/challenge accept` of a second answer: a note for it.
    second = other_learner.post(int(thread["id"]), "Solution: or proxy the API through the dev server")
    await _acknowledged(discord_server, second)
    await learner.slash("challenge accept", id=1, solution=2)
    await until(lambda: len(_notes(discord_server, thread)) == 2, "the note for the second answer")

    # The accepted answer deleted: the post is open again, and untagged.
    other_learner.delete(second)
    await until(lambda: "Solved" not in discord_server.tag_names(thread_id), "the tag removed with the answer")
    assert await _status(database, thread) == ("open", False)


async def test_mark_as_solution_inside_a_post(
    nexus: NexusBot, discord_server: FakeDiscord, forum: int, learner: FakeUser, other_learner: FakeUser
) -> None:
    thread, starter = discord_server.create_post(forum, learner.id, "Celery task never runs", "Worker idle")
    await _acknowledged(discord_server, starter)
    answer = other_learner.post(int(thread["id"]), "The worker listens on another queue: pass -Q default")
    marked = await learner.context_menu(answer, "Mark as solution")
    assert "Logged as solution #1 to challenge #1" in marked.content
    accepted = await learner.click(marked.message, "Accept #1")
    assert "challenge #1 is solved" in accepted.content
    await until(lambda: "Solved" in discord_server.tag_names(int(thread["id"])), "the Solved tag")


async def test_tag_title_and_starter_edits_update_the_challenge(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, forum: int, learner: FakeUser
) -> None:
    thread, starter = discord_server.create_post(forum, learner.id, "The app exits", "It stops at once", tags=["help"])
    await _acknowledged(discord_server, starter)
    assert "docker" not in await _topics(database, thread)
    discord_server.edit_post(int(thread["id"]), tags=["docker"], name="Docker container exits")

    async def retagged() -> bool:
        return (await _topics(database, thread))[:1] == ["docker"]

    await until(retagged, "the tags followed")
    learner.edit(starter, "It stops at once with exit code 137 (out of memory)")

    async def edited() -> bool:
        rows = await fetch(
            database, "SELECT title, details FROM challenges WHERE source_message_id = :t", t=int(thread["id"])
        )
        return rows[0][0] == "Docker container exits" and "exit code 137" in rows[0][1]

    await until(edited, "the title and the starter message followed")
    assert (await _topics(database, thread))[0] == "docker"  # the tag's topic stays through an edit


async def test_deleted_posts_and_starters_soft_delete_and_closed_posts_keep_their_entry(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, forum: int, learner: FakeUser
) -> None:
    posts = [discord_server.create_post(forum, learner.id, f"Question {n}", f"details {n}") for n in range(3)]
    for _thread, starter in posts:
        await _acknowledged(discord_server, starter)
    (deleted, _), (_, starter), (closed, _) = posts
    discord_server.delete_post(int(deleted["id"]))
    learner.delete(starter)
    discord_server.edit_post(int(closed["id"]), archived=True, locked=True)

    async def followed() -> bool:
        states = [await _status(database, thread) for thread, _ in posts]
        return states == [("open", True), ("open", True), ("open", False)]

    await until(followed, "the deletions followed, the closed post kept")
    listing = await learner.slash("challenge list")
    assert "1 challenges" in listing.embed["footer"]["text"]


async def test_a_repeated_creation_is_acknowledged_once(
    nexus: NexusBot, discord_server: FakeDiscord, forum: int, learner: FakeUser
) -> None:
    thread, starter = discord_server.create_post(forum, learner.id, "Token refresh loop", "JWT", repeat_creation=3)
    discord_server.dispatch("MESSAGE_CREATE", {**discord_server.public(starter), "member": learner.member})
    await _acknowledged(discord_server, starter)
    await asyncio.sleep(0.5)
    assert len(_bot_messages_in(discord_server, thread)) == 1
    listing = await learner.slash("challenge list")
    assert "1 challenges" in listing.embed["footer"]["text"]


async def test_posts_made_while_the_bot_was_down_are_picked_up_once_from_the_listings(
    discord_server: FakeDiscord, database: str, forum: int, learner: FakeUser, other_learner: FakeUser
) -> None:
    settings = _watching(discord_server, database, forum)
    async with running_bot(settings):
        live, starter = discord_server.create_post(forum, learner.id, "Seen live", "posted while up")
        await _acknowledged(discord_server, starter)
    # While the bot is away: an archived post with its answer, an active one, and an answer in the live post.
    archived, archived_starter = discord_server.create_post(
        forum, learner.id, "Redis cache never expires", "TTL ignored", announce=False
    )
    discord_server._store_message(
        int(archived["id"]), {"content": "Solution: set the timeout in CACHES"}, author=other_learner.member["user"]
    )
    discord_server.edit_post(int(archived["id"]), archived=True)
    _active, active_starter = discord_server.create_post(forum, learner.id, "GraphQL N+1", "slow", announce=False)
    discord_server._store_message(
        int(live["id"]), {"content": "Solution: answered while away"}, author=other_learner.member["user"]
    )
    for start in range(2):  # a second start reads nothing twice
        calls_before = len(discord_server.calls)
        async with running_bot(settings):

            async def logged() -> bool:
                challenges = await fetch(database, "SELECT count(*) FROM challenges")
                solutions = await fetch(database, "SELECT count(*) FROM solutions")
                return challenges[0][0] == 3 and solutions[0][0] == 2

            await until(logged, "the posts made while away logged")
            await _acknowledged(discord_server, archived_starter)
            await _acknowledged(discord_server, active_starter)
            await asyncio.sleep(0.3)
        histories = [
            call
            for call in discord_server.calls[calls_before:]
            if call.method == "GET" and call.path.endswith("/messages")
        ]
        # The first start reads the three posts; the second none: Nexus's own replies moved their cursors.
        assert len(histories) == (3 if start == 0 else 0), [call.path for call in histories]
    rows = await fetch(database, "SELECT title FROM challenges ORDER BY id")
    assert sorted(row[0] for row in rows) == ["GraphQL N+1", "Redis cache never expires", "Seen live"]
    assert len(_replies_to(discord_server, archived_starter)) == 1
    archived_calls = [call for call in discord_server.calls if call.path.endswith("/threads/archived/public")]
    assert archived_calls
    assert all(call.status == 200 for call in archived_calls)


async def test_a_forum_without_manage_threads_logs_solutions_and_says_so_once(
    discord_server: FakeDiscord,
    database: str,
    learner: FakeUser,
    other_learner: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    forum = discord_server.add_forum("unmanaged", ["Solved", "help"], bot_manages=False, announce=False)
    async with running_bot(_watching(discord_server, database, forum)):
        with caplog.at_level(logging.WARNING, logger="cogs.challenges._forum"):
            for number in range(2):
                thread, starter = discord_server.create_post(forum, learner.id, f"Question {number}", "details")
                await _acknowledged(discord_server, starter)
                answer = other_learner.post(int(thread["id"]), f"Solution: answer {number}")
                reply = await _acknowledged(discord_server, answer)
                await learner.click(reply, f"Accept #{number + 1}")
                await until(lambda thread=thread: _notes(discord_server, thread), "the solved note")
                assert discord_server.tag_names(int(thread["id"])) == []
                assert await _status(database, thread) == ("solved", False)
    warnings = [record.getMessage() for record in caplog.records if "Manage Threads" in record.getMessage()]
    assert len(warnings) == 1, warnings
    refused = [call for call in discord_server.calls if call.method == "PATCH" and call.status == 403]
    assert len(refused) == 2  # tried each time (permissions may be granted), said once


async def test_nudged_inside_the_post_and_archived_once_solved(
    discord_server: FakeDiscord, database: str, forum: int, learner: FakeUser, other_learner: FakeUser
) -> None:
    settings = _watching(discord_server, database, forum, NEXUS_FORUM_ARCHIVE_HOURS="1")
    async with running_bot(settings) as bot:
        thread, starter = discord_server.create_post(forum, learner.id, "Slow tests", "pytest takes minutes")
        await _acknowledged(discord_server, starter)
        listener = cast(Any, bot.get_cog("ChallengeLogCog"))
        later = datetime.now(UTC) + timedelta(days=2)
        assert await listener.send_due_nudges(later) == 1
        assert await listener.send_due_nudges(later + timedelta(hours=1)) == 0
        nudges = [m for m in _bot_messages_in(discord_server, thread) if "still open" in m["content"]]
        assert len(nudges) == 1
        answer = other_learner.post(int(thread["id"]), "Solution: run them in parallel with xdist")
        reply = await _acknowledged(discord_server, answer)
        await learner.click(reply, "Accept #1")
        await until(lambda: _notes(discord_server, thread), "the solved note")
        cog = _forum_cog(bot)
        assert await cog.archive_due(datetime.now(UTC)) == 0  # not idle long enough yet
        assert await cog.archive_due(datetime.now(UTC) + timedelta(hours=2)) == 1
        assert discord_server.channels[int(thread["id"])]["thread_metadata"]["archived"]
        assert await cog.archive_due(datetime.now(UTC) + timedelta(hours=3)) == 0
    assert await _status(database, thread) == ("solved", False)


async def test_forum_challenges_are_found_listed_exported_and_ranked_like_others(
    nexus: NexusBot, discord_server: FakeDiscord, forum: int, learner: FakeUser, other_learner: FakeUser
) -> None:
    thread, starter = discord_server.create_post(
        forum, learner.id, "IntegrityError on signup", "duplicate key value violates unique constraint", tags=["Django"]
    )
    await _acknowledged(discord_server, starter)
    open_card = await learner.slash("challenge show", id=1)
    find_component(open_card.message, label="Find a study partner for this")
    answer = other_learner.post(int(thread["id"]), "Solution: check for the user before creating it")
    await _acknowledged(discord_server, answer)
    await learner.slash("challenge accept", id=1, solution=1)
    found = await learner.slash("challenge search", query="IntegrityError")
    assert "#1" in str(found.embeds)
    listing = await learner.slash("challenge list", status="solved")
    assert "IntegrityError on signup" in listing.embed["description"]
    board = await learner.slash("challenge leaderboard")
    assert board.embed["description"] == "**1.** grace · 1 accepted"
    card = await learner.slash("topic", name="django")
    assert "IntegrityError on signup" in str(card.embeds)
    exported = await learner.slash("challenge export")
    files = [
        data
        for (message_id, _name), data in discord_server.uploads.items()
        if message_id == int(exported.message["id"])
    ]
    assert b"IntegrityError on signup" in files[0]


async def test_nexus_setup_chooses_the_forum(
    discord_server: FakeDiscord, database: str, forum: int, learner: FakeUser
) -> None:
    settings = settings_for(
        discord_server, database, NEXUS_CHALLENGE_CHANNEL_IDS=str(discord_server.challenges_channel_id)
    )
    async with running_bot(settings):
        _before, before_starter = discord_server.create_post(forum, learner.id, "Not watched yet", "x")
        owner = FakeUser(discord_server, discord_server.owner_id)
        saved = await owner.slash("nexus setup", challenge_forum=forum)
        assert f"Challenge forums: <#{forum}>" in saved.content
        _thread, starter = discord_server.create_post(forum, learner.id, "Watched now", "y")
        await _acknowledged(discord_server, starter)
        assert not _replies_to(discord_server, before_starter)
