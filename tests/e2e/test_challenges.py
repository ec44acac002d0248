"""The challenge log end to end: in-channel posts, menus, every /challenge command, backfill, nudges."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot.client import NexusBot
from bot.core.ratelimit import AcknowledgementLimiter
from cogs.challenges._listener import ChallengeLogCog
from tests.e2e.harness import running_bot, settings_for, until
from tests.e2e.rows import fetch
from tests.e2e.server import JSON, FakeDiscord
from tests.e2e.users import FakeUser

SEED_POST = "Challenge: slow queries on large tables. Solution: indexes, select_related, pagination, Redis caching."


def _watching(server: FakeDiscord, database: str, **overrides: Any) -> Any:
    return settings_for(server, database, NEXUS_CHALLENGE_CHANNEL_IDS=str(server.challenges_channel_id), **overrides)


@pytest.fixture
async def nexus(discord_server: FakeDiscord, database: str) -> AsyncIterator[NexusBot]:
    async with running_bot(_watching(discord_server, database)) as bot:
        yield bot


def _replies_to(server: FakeDiscord, message: JSON) -> list[JSON]:
    return [
        reply
        for reply in server.bot_messages()
        if str(reply.get("message_reference", {}).get("message_id")) == message["id"] and not reply.get("deleted")
    ]


async def _soft_deleted(database: str, post: JSON) -> None:
    """Wait until the challenge logged from `post` is soft-deleted: its row is kept, with `deleted_at` set."""

    async def deleted() -> bool:
        query = "SELECT deleted_at FROM challenges WHERE source_message_id = :message"
        rows = await fetch(database, query, message=int(post["id"]))
        return [row.deleted_at is not None for row in rows] == [True]

    await until(deleted, f"the deletion of message {post['id']} followed")


async def _acknowledged(server: FakeDiscord, message: JSON) -> JSON:
    await until(lambda: _replies_to(server, message), f"a reply to message {message['id']}")
    assert (int(message["channel_id"]), int(message["id"]), "✅") in server.reactions
    return _replies_to(server, message)[0]


# ----- in-channel posts --------------------------------------------------------------------------


async def test_a_post_with_challenge_and_solution_logs_both(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    post = learner.post(discord_server.challenges_channel_id, SEED_POST)
    reply = await _acknowledged(discord_server, post)
    assert "Logged as challenge **#1**" in reply["content"]
    assert "Its solution is #1" in reply["content"]
    assert "Query optimization" in reply["content"] or "query" in reply["content"].lower()
    assert reply["mentions"] == []
    shown = await learner.slash("challenge show", id=1)
    assert shown.embed["title"] == "#1 · slow queries on large tables"
    assert "indexes, select_related" in shown.embed["fields"][0]["value"]


async def test_a_reply_starting_with_solution_is_logged_and_accepted_by_the_author(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    post = learner.post(discord_server.challenges_channel_id, "**Challenge:** CORS errors from the React app")
    await _acknowledged(discord_server, post)
    answer = other_learner.post(
        discord_server.challenges_channel_id,
        "*Solution:* add django-cors-headers and list the origin in CORS_ALLOWED_ORIGINS",
        reply_to=post,
    )
    reply = await _acknowledged(discord_server, answer)
    assert "Logged as solution #1 to challenge #1" in reply["content"]

    refused = await other_learner.click(reply, "Accept #1")
    assert refused.ephemeral
    assert "Only the challenge's author or a moderator" in refused.content
    accepted = await learner.click(reply, "Accept #1")
    assert "challenge #1 is solved" in accepted.content
    assert (await learner.slash("challenge show", id=1)).embed["fields"][0]["name"].startswith("✅ Accepted")


async def test_the_same_message_delivered_twice_is_logged_once(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    post = learner.post(discord_server.challenges_channel_id, "Challenge: migrations conflict after a rebase")
    discord_server.dispatch("MESSAGE_CREATE", {**discord_server.public(post), "member": learner.member})
    await _acknowledged(discord_server, post)
    await asyncio.sleep(0.3)
    assert len(_replies_to(discord_server, post)) == 1
    listing = await learner.slash("challenge list")
    assert "1 challenges" in listing.embed["footer"]["text"]


async def test_edits_and_deletions_of_the_source_are_followed(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    post = learner.post(discord_server.challenges_channel_id, "Challenge: celery tasks never run")
    await _acknowledged(discord_server, post)
    learner.edit(post, "Challenge: celery beat tasks never run on schedule")
    for _ in range(50):
        shown = await learner.slash("challenge show", id=1)
        if shown.embed["title"] == "#1 · celery beat tasks never run on schedule":
            break
        await asyncio.sleep(0.05)
    assert shown.embed["title"] == "#1 · celery beat tasks never run on schedule"
    learner.delete(post)
    await _soft_deleted(database, post)
    gone = await learner.slash("challenge show", id=1)
    assert gone.ephemeral
    assert "does not exist or was deleted" in gone.content


async def test_a_burst_of_posts_is_logged_and_acknowledged_once_each(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    channel = discord_server.challenges_channel_id
    authors = [learner, other_learner]
    posts = [
        authors[number % 2].post(channel, f"Challenge: burst {number}, docker build fails with exit code 137")
        for number in range(40)
    ]
    # Gateway replays of a few of them while the burst is being written.
    for number in range(0, 40, 8):
        discord_server.dispatch(
            "MESSAGE_CREATE", {**discord_server.public(posts[number]), "member": authors[number % 2].member}
        )
    expected = sorted((channel, int(post["id"]), "✅") for post in posts)
    await until(lambda: sorted(discord_server.reactions) == expected, "every post acknowledged", 30)
    await asyncio.sleep(0.3)
    assert sorted(discord_server.reactions) == expected  # each ✅ once
    # Replies are capped per channel and minute: never two for a post, each a different challenge.
    replies = [found for post in posts if (found := _replies_to(discord_server, post))]
    assert all(len(found) == 1 for found in replies)
    assert len(replies) == AcknowledgementLimiter.PER_MINUTE
    numbers = {found[0]["content"].split("**")[1] for found in replies}
    assert len(numbers) == len(replies)
    assert numbers <= {f"#{number}" for number in range(1, 41)}
    assert "40 challenges" in (await learner.slash("challenge list")).embed["footer"]["text"]


async def test_an_edit_racing_its_post_is_followed(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    channel = discord_server.challenges_channel_id
    first = learner.post(channel, "Challenge: redis keys never expire")
    await _acknowledged(discord_server, first)
    # Edited before the bot could log it: both events arrive back to back.
    post = learner.post(channel, "Challenge: nginx returns 502")
    learner.edit(post, "Challenge: nginx returns 502 Bad Gateway behind the load balancer")
    await _acknowledged(discord_server, post)
    shown = await learner.slash("challenge show", id=2)
    for _ in range(50):
        if shown.embed["title"] != "#2 · nginx returns 502":
            break
        await asyncio.sleep(0.05)
        shown = await learner.slash("challenge show", id=2)
    assert shown.embed["title"] == "#2 · nginx returns 502 Bad Gateway behind the load balancer"
    # Deleted just after being posted: logged, then soft-deleted (kept for audit).
    doomed = learner.post(channel, "Challenge: posted by mistake")
    learner.delete(doomed)
    await _soft_deleted(database, doomed)
    gone = await learner.slash("challenge show", id=3)
    assert gone.ephemeral
    assert "does not exist or was deleted" in gone.content


async def test_bots_webhooks_plain_talk_and_other_channels_are_ignored(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    robot = FakeUser(discord_server, discord_server.add_member("robot", bot=True))
    robot.post(discord_server.challenges_channel_id, "Challenge: I am a bot")
    learner.post(discord_server.challenges_channel_id, "Challenge: from a webhook", webhook_id=42)
    learner.post(discord_server.challenges_channel_id, "I have a challenge: nothing to log")
    learner.post(discord_server.general_id, "Challenge: posted in an unwatched channel")
    learner.post(discord_server.challenges_channel_id, "Challenge:    ")
    await asyncio.sleep(0.5)
    assert discord_server.reactions == []
    assert [m for m in discord_server.bot_messages() if m.get("message_reference")] == []
    assert "No challenges match" in (await learner.slash("challenge list")).embed["description"]


async def test_a_post_with_mentions_never_pings(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    text = f"Challenge: @everyone <@{other_learner.id}> <@&{discord_server.moderator_role_id}> help with Docker"
    post = learner.post(discord_server.challenges_channel_id, text)
    reply = await _acknowledged(discord_server, post)
    shown = await learner.slash("challenge show", id=1)
    for message in (reply, shown.message):
        assert message["mentions"] == []
        assert message["mention_roles"] == []
        assert message["mention_everyone"] is False
    assert "@everyone" not in shown.embed["title"]


async def test_posts_made_while_the_bot_was_away_are_picked_up_at_start(
    discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    settings = _watching(discord_server, database)
    async with running_bot(settings):
        first = learner.post(discord_server.challenges_channel_id, "Challenge: first, while online")
        await _acknowledged(discord_server, first)
    # The bot is offline: nobody receives these (no gateway session), they only stay in history.
    discord_server.current_session = None
    missed = learner.post(discord_server.challenges_channel_id, "Challenge: posted while the bot was offline")
    async with running_bot(settings):
        reply = await _acknowledged(discord_server, missed)
        assert "Logged as challenge **#2**" in reply["content"]
        listing = await learner.slash("challenge list")
        assert "2 challenges" in listing.embed["footer"]["text"]
    assert len(_replies_to(discord_server, first)) == 1


async def test_without_the_message_content_intent_commands_still_work(
    database: str, learner: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord(privileged_intents=0) as server:
        user = FakeUser(server, server.add_member("ada"))
        with caplog.at_level(logging.ERROR):
            async with running_bot(_watching(server, database)):
                assert any("Message Content intent" in record.getMessage() for record in caplog.records)
                user.post(server.challenges_channel_id, "Challenge: this is not read")
                await asyncio.sleep(0.3)
                assert server.reactions == []
                assert (await user.slash("topic", name="docker", private=True)).embed["title"] == "Docker"
        assert server.current_session is not None
        assert not server.current_session.intents & (1 << 15)


# ----- commands, modals and menus ----------------------------------------------------------------


async def _log_with_modal(user: FakeUser, **values: str) -> Any:
    modal = await user.slash("challenge new")
    assert modal.modal["title"] == "Log a challenge"
    inputs = [row["components"][0]["custom_id"] for row in modal.modal["components"]]
    return await user.submit_modal(modal, **dict(zip(inputs, values.values(), strict=False)))


async def test_challenge_new_solve_accept_show(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    logged = await _log_with_modal(
        learner,
        title="IntegrityError on user signup",
        details="django.db.utils.IntegrityError: duplicate key value violates unique constraint",
        topics="django orm",
        tried="deleting the migrations",
    )
    assert "Logged as challenge **#1**" in logged.content
    assert "Django ORM" in logged.content

    solve = await other_learner.slash("challenge solve", id=1)
    body_id = solve.modal["components"][0]["components"][0]["custom_id"]
    solved = await other_learner.submit_modal(solve, **{body_id: "Check the email is unique before saving."})
    assert "Solution #1 logged for challenge #1" in solved.content

    before = await learner.slash("topic", name="django orm", private=True)
    assert "Solved challenges" not in [field["name"] for field in before.embed["fields"]]
    refused = await other_learner.slash("challenge accept", id=1, solution=1)
    assert refused.ephemeral
    assert "Only the challenge's author" in refused.content
    accepted = await learner.slash("challenge accept", id=1, solution=1)
    assert "challenge #1 is solved" in accepted.content
    again = await learner.slash("challenge accept", id=1, solution=1)
    assert "already the accepted one" in again.content

    card = await learner.slash("topic", name="django orm", private=True)  # not a stale cached answer
    solved_field = next(field for field in card.embed["fields"] if field["name"] == "Solved challenges")
    assert "#1" in solved_field["value"]


async def test_bad_input_gets_a_clear_private_answer(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    unknown = await learner.slash("challenge show", id=999)
    assert unknown.ephemeral
    assert "does not exist" in unknown.content
    blank = await _log_with_modal(learner, title="   ", details="x")
    assert blank.ephemeral
    assert "title is empty" in blank.content
    solve_unknown = await learner.slash("challenge solve", id=77)
    assert solve_unknown.ephemeral
    bad_topic = await _log_with_modal(learner, title="A real title", details="d", topics="zzqqxx")
    assert bad_topic.ephemeral
    assert "No topic is called" in bad_topic.content


async def test_search_finds_error_text_and_survives_any_query(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    await _log_with_modal(learner, title="Signup crashes", details="IntegrityError: UNIQUE constraint failed")
    await _log_with_modal(learner, title="Integrity of my data model", details="how to design it")
    found = await learner.slash("challenge search", query="django.db.utils.IntegrityError")
    assert found.ephemeral
    assert found.embed["description"].startswith("**#1**")
    for query in ('"', "NEAR(", "-", "AND OR NOT", "*", ":", "()", "title:x"):
        answer = await learner.slash("challenge search", query=query)
        assert answer.ephemeral


async def test_list_pages_only_for_the_person_who_asked(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    for number in range(7):
        await _log_with_modal(learner, title=f"Docker problem number {number}", details="container exits")
    first = await learner.slash("challenge list", status="open", sort="oldest")
    assert first.embed["title"] == "Open challenges, oldest first"
    assert first.embed["description"].startswith("**#1**")
    refused = await other_learner.click(first.message, "Next")
    assert refused.ephemeral
    second = await learner.click(first.message, "Next")
    assert second.embed["description"].startswith("**#6**")
    assert "Page 2 of 2" in second.embed["footer"]["text"]


async def test_delete_by_author_or_moderator_only(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser, mentor: FakeUser
) -> None:
    await _log_with_modal(learner, title="Kubernetes pod keeps restarting", details="CrashLoopBackOff")
    await _log_with_modal(learner, title="Second one", details="x")
    refused = await other_learner.slash("challenge delete", id=1)
    assert "Only the challenge's author or a moderator" in refused.content
    assert "is deleted" in (await learner.slash("challenge delete", id=1)).content
    assert "is deleted" in (await mentor.slash("challenge delete", id=2)).content


async def test_message_menus_log_a_challenge_and_its_solution(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    question = learner.post(discord_server.general_id, "How do I stop my Celery worker from losing tasks?")
    refused = await other_learner.context_menu(question, "Log as challenge")
    assert refused.ephemeral
    logged = await learner.context_menu(question, "Log as challenge")
    assert "Logged as challenge **#1**" in logged.content
    twice = await learner.context_menu(question, "Log as challenge")
    assert "already challenge #1" in twice.content

    answer = other_learner.post(discord_server.general_id, "Use acks_late and a visibility timeout.", reply_to=question)
    marked = await learner.context_menu(answer, "Mark as solution")
    assert "Logged as solution #1 to challenge #1" in marked.content

    loose = other_learner.post(discord_server.general_id, "Also set prefetch multiplier to 1.")
    chooser = await learner.context_menu(loose, "Mark as solution")
    number_id = chooser.modal["components"][0]["components"][0]["custom_id"]
    chosen = await learner.submit_modal(chooser, **{number_id: "#1"})
    assert "Logged as solution #2 to challenge #1" in chosen.content


async def test_export_is_a_file_grouped_by_topic(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    await _log_with_modal(learner, title="Redis cache never expires", details="keys without TTL", topics="redis")
    markdown = await _export(nexus, learner)
    assert markdown.ephemeral
    attachment = markdown.message["attachments"][0]
    document = discord_server.uploads[(int(markdown.message["id"]), attachment["filename"])].decode()
    assert document.startswith("# Challenges & Solutions")
    assert "## Redis" in document
    as_csv = await _export(nexus, learner, format="csv")
    attachment = as_csv.message["attachments"][0]
    rows = list(
        csv.reader(io.StringIO(discord_server.uploads[(int(as_csv.message["id"]), attachment["filename"])].decode()))
    )
    assert rows[0][0] == "id"
    assert rows[1][1] == "Redis cache never expires"


async def _export(bot: NexusBot, user: FakeUser, **options: Any) -> Any:
    """`/challenge export`, once the bot has finished with it: the user sees the file a moment before the bot has
    its answer from Discord and frees the server for the next export."""
    answer = await user.slash("challenge export", **options)
    await until(lambda: not bot.services.challenges.exporting(user.server.guild_id), "the export to finish")
    return answer


def _uploaded(server: FakeDiscord, answer: Any) -> str:
    attachment = answer.message["attachments"][0]
    return server.uploads[(int(answer.message["id"]), attachment["filename"])].decode()


async def test_export_lists_each_challenge_once_takes_filters_and_stops_at_the_upload_limit(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _log_with_modal(learner, title="Celery worker cannot reach Redis", details="refused", topics="celery, redis")
    await _log_with_modal(learner, title="Redis keys never expire", details="keys without TTL", topics="redis")
    whole = await _export(nexus, learner)
    document = _uploaded(discord_server, whole)
    assert whole.content == f"2 challenges ({len(document.encode()) / 1024:.1f} KB)."
    assert document.count("### #1 Celery worker cannot reach Redis") == 1
    assert "- #1 Celery worker cannot reach Redis (under Celery Background Tasks)" in document
    assert "## Redis" in document

    filtered = await _export(nexus, learner, topic="redis", status="open", since="2020-01-01")
    assert filtered.ephemeral
    document = _uploaded(discord_server, filtered)
    assert "Only open challenges about Redis, logged since 2020-01-01." in document
    assert "### #1 Celery worker cannot reach Redis" in document
    assert "### #2 Redis keys never expire" in document
    assert _uploaded(discord_server, await _export(nexus, learner, status="solved")).count("### #") == 0

    wrong_date = await _export(nexus, other_learner, since="last week")
    assert wrong_date.ephemeral
    assert "YYYY-MM-DD" in wrong_date.content
    slow_down = await _export(nexus, learner, format="csv")  # a fourth within five minutes
    assert slow_down.ephemeral
    assert "Slow down" in slow_down.content

    # Over the upload limit Discord gives the interaction: a private answer offering the filters, no upload.
    await _log_with_modal(other_learner, title="Image too large", details="A long story. " * 100, topics="docker")
    discord_server.attachment_size_limit = 1500
    too_large = await _export(nexus, other_learner)
    assert too_large.ephemeral
    assert "upload limit of 1.5 KB" in too_large.content
    assert "`topic`, `status` or `since`" in too_large.content
    assert too_large.message["attachments"] == []
    assert not [call for call in discord_server.calls if call.status == 413]
    narrowed = await _export(nexus, other_learner, status="open", since="2020-01-01", topic="celery")
    assert "### #1 Celery worker cannot reach Redis" in _uploaded(discord_server, narrowed)


async def test_leaderboard_counts_accepted_solutions(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    empty = await learner.slash("challenge leaderboard", period="week")
    assert "No accepted solutions yet" in empty.embed["description"]
    post = learner.post(discord_server.challenges_channel_id, "Challenge: pytest fixtures leak state")
    await _acknowledged(discord_server, post)
    answer = other_learner.post(discord_server.challenges_channel_id, "Solution: use function scope", reply_to=post)
    await _acknowledged(discord_server, answer)
    await learner.slash("challenge accept", id=1, solution=1)
    board = await learner.slash("challenge leaderboard")
    assert board.embed["description"] == "**1.** grace · 1 accepted"


def _listener(bot: NexusBot) -> ChallengeLogCog:
    # Extensions are re-imported on every start, so the class differs from this module's import.
    listener = bot.get_cog("ChallengeLogCog")
    assert listener is not None
    return cast(ChallengeLogCog, listener)


async def test_nudges_are_sent_once_and_survive_a_restart(
    discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser
) -> None:
    settings = _watching(discord_server, database)
    later = datetime.now(UTC) + timedelta(days=3)
    async with running_bot(settings) as bot:
        post = learner.post(discord_server.challenges_channel_id, "Challenge: GraphQL N+1 on nested fields")
        await _acknowledged(discord_server, post)
        listener = _listener(bot)
        assert await listener.send_due_nudges(later) == 1
        assert await listener.send_due_nudges(later) == 0
    nudges = [
        m for m in discord_server.channel_messages(discord_server.challenges_channel_id) if "still open" in m["content"]
    ]
    assert len(nudges) == 1
    async with running_bot(settings) as bot:
        listener = _listener(bot)
        assert await listener.send_due_nudges(later) == 0
        answer = other_learner.post(discord_server.challenges_channel_id, "Solution: use a DataLoader", reply_to=post)
        await _acknowledged(discord_server, answer)
        assert await listener.send_due_nudges(later + timedelta(days=3)) == 1
    question = [
        m
        for m in discord_server.channel_messages(discord_server.challenges_channel_id)
        if "did one of the solutions" in m["content"]
    ]
    assert len(question) == 1
    assert [user["id"] for user in question[0]["mentions"]] == [str(learner.id)]


async def test_a_channel_that_refuses_the_bot_is_skipped_once_and_does_not_hold_back_other_nudges(
    discord_server: FakeDiscord,
    database: str,
    learner: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusing, elsewhere = discord_server.challenges_channel_id, discord_server.general_id
    later = datetime.now(UTC) + timedelta(days=3)
    async with running_bot(_watching(discord_server, database)) as bot:
        # A batch of 2 stands for the 20 of production: the refused channel's backlog fills it.
        bot.services.challenges.nudge_batch = 2
        for number in range(3):
            await _acknowledged(discord_server, learner.post(refusing, f"Challenge: refused channel {number}"))
        logged = await _log_with_modal(learner, title="Asked where the bot may post", details="x")
        assert "Logged as challenge **#4**" in logged.content
        discord_server.muted_channels.add(refusing)
        listener = _listener(bot)
        with caplog.at_level(logging.WARNING, logger="cogs.challenges._listener"):
            sent = [await listener.send_due_nudges(later + timedelta(minutes=5 * turn)) for turn in range(3)]
    assert sum(sent) == 1
    assert [m["content"] for m in discord_server.channel_messages(elsewhere) if "still open" in m["content"]] == [
        "Challenge **#4** is still open with no solution. Can anyone help? See it with `/challenge show id:4`, "
        "answer with `/challenge solve id:4`."
    ]
    refused = [
        call
        for call in discord_server.calls
        if call.method == "POST" and call.route.endswith(f"/channels/{refusing}/messages") and call.status == 403
    ]
    assert len(refused) == 1  # not retried at the head of every round
    warnings = [record.getMessage() for record in caplog.records if str(refusing) in record.getMessage()]
    assert len(warnings) == 1, warnings
    assert "refuses" in warnings[0]


async def _only_live(database: str, challenges: list[JSON]) -> bool:
    """Whether exactly these posts' challenges, and no solution, are left undeleted."""
    live = await fetch(database, "SELECT source_message_id FROM challenges WHERE deleted_at IS NULL")
    answers = await fetch(database, "SELECT source_message_id FROM solutions WHERE deleted_at IS NULL")
    return sorted(row[0] for row in live) == sorted(int(post["id"]) for post in challenges) and not answers


async def test_a_bulk_deletion_is_followed_live_and_while_the_bot_was_away(
    discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser
) -> None:
    channel = discord_server.challenges_channel_id
    settings = _watching(discord_server, database)
    async with running_bot(settings):
        purged = learner.post(channel, "Challenge: spam that a moderator purges")
        answer = other_learner.post(channel, "Solution: purged along with it", reply_to=purged)
        kept = learner.post(channel, "Challenge: a real question that stays")
        for post in (purged, answer, kept):
            await _acknowledged(discord_server, post)
        discord_server.bulk_delete(channel, [int(purged["id"]), int(answer["id"])])
        await until(lambda: _only_live(database, [kept]), "the purge followed")
        away = learner.post(channel, "Challenge: deleted while the bot is away")
        reply = other_learner.post(channel, "Solution: also deleted while away", reply_to=away)
        for post in (away, reply):
            await _acknowledged(discord_server, post)
        gone = await learner.slash("challenge show", id=1)
        assert "does not exist or was deleted" in gone.content
    # A ban that deletes the member's messages while Nexus is down: no event reaches it.
    discord_server.bulk_delete(channel, [int(away["id"]), int(reply["id"])])
    async with running_bot(settings):
        await until(lambda: _only_live(database, [kept]), "the deletions made while away followed")


async def test_nexus_setup_needs_manage_server_and_sets_the_moderator_role(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    helpers = discord_server.add_role("Helpers")
    helper = FakeUser(discord_server, discord_server.add_member("helper", roles=[helpers]))
    refused = await learner.slash("nexus setup", moderator_role=helpers)
    assert refused.ephemeral
    assert "Manage Server" in refused.content
    owner = FakeUser(discord_server, discord_server.owner_id)
    saved = await owner.slash("nexus setup", moderator_role=helpers, pairing_channel=discord_server.pairing_channel_id)
    assert saved.content.startswith("Saved.")
    assert f"<@&{helpers}>" in saved.content
    assert saved.message["mention_roles"] == []
    await _log_with_modal(learner, title="Helm chart will not install", details="x")
    assert "is deleted" in (await helper.slash("challenge delete", id=1)).content
    await _log_with_modal(learner, title="Second chart", details="y")
    refused_delete = await other_learner.slash("challenge delete", id=2)
    assert "Only the challenge's author or a moderator" in refused_delete.content
