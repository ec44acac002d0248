"""`/nexus forget-me` end to end: confirm, erase the text too, cancel, a stranger's click, the time-out; from a DM
for servers the member left (every one, or one chosen with autocomplete); the retention purge with a fake clock; and
a cooldown's answer."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta
from typing import Any, cast

import pytest

from bot.client import NexusBot
from bot.core.usertext import user_text
from bot.db.base import utcnow
from bot.services.challenges import Person
from tests.e2e import rows
from tests.e2e.harness import running_bot, settings_for, until
from tests.e2e.server import JSON, FakeDiscord
from tests.e2e.users import Answer, FakeUser

ANONYMOUS = "a former member"
ERASED = "(text erased)"
FORGET, ERASE, CANCEL = "Forget me", "Forget me and erase my text", "Cancel"


async def _log_with_modal(user: FakeUser, title: str, details: str) -> Answer:
    modal = await user.slash("challenge new")
    inputs = [row["components"][0]["custom_id"] for row in modal.modal["components"]]
    return await user.submit_modal(modal, **{inputs[0]: title, inputs[1]: details})


async def _solve(user: FakeUser, challenge_id: int, body: str) -> Answer:
    modal = await user.slash("challenge solve", id=challenge_id)
    body_id = modal.modal["components"][0]["components"][0]["custom_id"]
    return await user.submit_modal(modal, **{body_id: body})


def _labels(message: JSON) -> list[str]:
    return [component["label"] for row in message.get("components", []) for component in row["components"]]


async def _footprint(learner: FakeUser, other_learner: FakeUser) -> None:
    """Ada logs challenge #1 and solves Grace's #2, and joins the pairing queue."""
    logged = await _log_with_modal(learner, "Celery worker loses tasks on restart", "Tasks vanish during deploys")
    assert "Logged as challenge **#1**" in logged.content
    await _log_with_modal(other_learner, "Redis keys never expire", "No TTL anywhere")
    assert "Solution #1 logged for challenge #2" in (await _solve(learner, 2, "Set a TTL on every write.")).content
    joined = await learner.slash("pair request", track="frontend", topics="docker")
    assert joined.ephemeral


async def _asked(learner: FakeUser) -> Answer:
    asked = await learner.slash("nexus forget-me")
    assert asked.ephemeral
    assert asked.content.startswith("**Forget me in this server?**")
    assert "It cannot be undone." in asked.content
    assert _labels(asked.message) == [FORGET, ERASE, CANCEL]
    return asked


async def test_confirm_forgets_the_caller_and_says_what_was_done(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    asked = await _asked(learner)
    assert (
        "• **ProDev Project Nexus**: deletes your pairing profile, 1 pairing request; "
        "anonymises 1 challenge and 1 solution" in asked.content.splitlines()
    )

    done = await learner.click(asked.message, FORGET)

    assert done.message["id"] == asked.message["id"], "the confirmation itself turns into the summary"
    assert done.ephemeral
    assert done.content.splitlines()[:3] == [
        "Done: you are forgotten in this server.",
        "Deleted: your pairing profile, 1 pairing request.",
        f"Anonymised: 1 challenge and 1 solution; their text stays, now by “{ANONYMOUS}”.",
    ]
    assert _labels(done.message) == []
    mine = await other_learner.slash("challenge show", id=1)
    assert mine.embed["title"] == "#1 · Celery worker loses tasks on restart"
    assert f"by {ANONYMOUS}" in mine.embed["footer"]["text"]
    theirs = await other_learner.slash("challenge show", id=2)
    assert f"by {ANONYMOUS}" in theirs.embed["fields"][0]["name"]
    assert "by grace" in theirs.embed["footer"]["text"]
    found = await other_learner.slash("challenge search", query="celery worker loses tasks")
    assert found.embed["description"].startswith("**#1**")
    assert "not in pairing yet" in (await learner.slash("pair status")).content

    again = await learner.click((await _asked(learner)).message, FORGET)
    assert again.content.startswith("Done: Nexus holds nothing about you in this server")


async def test_cancel_changes_nothing(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    asked = await _asked(learner)

    cancelled = await learner.click(asked.message, CANCEL)

    assert cancelled.content == "Cancelled: nothing was deleted or changed."
    assert _labels(cancelled.message) == []
    assert "by ada" in (await learner.slash("challenge show", id=1)).embed["footer"]["text"]
    assert "Track **frontend**" in (await learner.slash("pair status")).content


async def test_someone_else_pressing_confirm_is_refused(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    asked = await _asked(learner)

    refused = await other_learner.click(asked.message, FORGET)

    assert refused.ephemeral
    assert refused.message["id"] != asked.message["id"]
    assert "someone else's" in refused.content
    assert "/nexus forget-me" in refused.content
    assert _labels(discord_server.messages[int(asked.message["id"])]) == [FORGET, ERASE, CANCEL]
    assert "by ada" in (await learner.slash("challenge show", id=1)).embed["footer"]["text"]
    assert "not in pairing yet" not in (await learner.slash("pair status")).content
    # The owner can still answer it.
    assert "Cancelled" in (await learner.click(asked.message, CANCEL)).content


async def test_an_unanswered_confirmation_times_out_and_changes_nothing(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Extensions are imported afresh by each bot: shorten the time-out of the module this bot loaded.
    monkeypatch.setattr(sys.modules["cogs.nexus"], "FORGET_TIMEOUT_SECONDS", 0.3)
    await _log_with_modal(learner, "Docker image is 2 GB", "python:3.11 base")
    asked = await _asked(learner)
    stored = discord_server.messages[int(asked.message["id"])]
    for _ in range(100):
        if not _labels(stored):
            break
        await asyncio.sleep(0.05)
    assert stored["content"].startswith("Nothing was deleted: the confirmation timed out.")
    assert _labels(stored) == []
    assert "by ada" in (await learner.slash("challenge show", id=1)).embed["footer"]["text"]


async def test_a_cooldown_answers_privately_with_the_wait(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    answers: list[Any] = [await learner.slash("challenge delete", id=99) for _ in range(5)]
    assert all("does not exist" in answer.content for answer in answers)

    slowed = await learner.slash("challenge delete", id=99)

    assert slowed.ephemeral
    assert slowed.content.startswith("Slow down a little: you can use this again in ")
    seconds = int(slowed.content.removeprefix("Slow down a little: you can use this again in ").removesuffix(" s."))
    assert 1 <= seconds <= 60
    assert "does not exist" in (await other_learner.slash("challenge delete", id=99)).content, "per user"


# ----- erasing the text, from a DM, the retention purge -----------------------------------------------------------


def _dm_channel(server: FakeDiscord, user: FakeUser) -> int:
    return server.dm_channels.setdefault(user.id, server.snowflake())


async def test_forget_me_and_erase_my_text_leaves_no_text_of_theirs(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    asked = await _asked(learner)
    assert "erase my text" in asked.content, "the second button is explained"

    done = await learner.click(asked.message, ERASE)

    assert done.content.splitlines()[:3] == [
        "Done: you are forgotten in this server.",
        "Deleted: your pairing profile, 1 pairing request.",
        f"Anonymised and erased: 1 challenge and 1 solution; their text is now “{ERASED}”.",
    ]
    mine = await other_learner.slash("challenge show", id=1)
    assert mine.embed["title"] == f"#1 · {user_text(ERASED, one_line=True)}"  # shown as typed: \(text erased\)
    assert "Celery" not in str(mine.embed)
    theirs = await other_learner.slash("challenge show", id=2)
    assert "Set a TTL" not in str(theirs.embed)
    assert theirs.embed["title"] == "#2 · Redis keys never expire", "the other member's text stays"
    found = await other_learner.slash("challenge search", query="celery worker loses tasks")
    assert "#1" not in str(found.message.get("embeds")) + found.content
    stored = await rows.fetch(database, "SELECT title, details, source_message_id FROM challenges WHERE id = 1")
    assert [tuple(row) for row in stored] == [(ERASED, "", None)]


async def test_from_a_dm_a_member_who_left_forgets_every_server_holding_their_data(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    # A server Nexus no longer knows (it was removed from it) still holds a challenge of theirs.
    gone = 4242
    await nexus.services.challenges.log_challenge(
        guild_id=gone, channel_id=1, author=Person(learner.id, "ada"), title="Old server question"
    )
    discord_server.remove_member(learner.id)
    dm = _dm_channel(discord_server, learner)

    choices = await learner.autocomplete("nexus forget-me", "server", "", channel=dm)
    assert choices == [
        {"name": "ProDev Project Nexus", "value": str(discord_server.guild_id)},
        {"name": f"server {gone}", "value": str(gone)},
    ]
    assert await learner.autocomplete("nexus forget-me", "server", "prodev", channel=dm) == choices[:1]

    asked = await learner.slash("nexus forget-me", channel=dm)

    assert asked.content.startswith("**Forget me in 2 servers?**")
    listed = asked.content.splitlines()
    assert any(
        line.startswith("• **ProDev Project Nexus**: deletes your pairing profile, 1 pairing request")
        for line in listed
    )
    assert any(line.startswith(f"• **server {gone}**: anonymises 1 challenge") for line in listed)
    assert _labels(asked.message) == [FORGET, ERASE, CANCEL]

    done = await learner.click(asked.message, FORGET)

    assert done.content.startswith("Done: you are forgotten in 2 servers.")
    assert "ProDev Project Nexus" in done.content
    assert f"server {gone}" in done.content
    shown = await other_learner.slash("challenge show", id=1)
    assert f"by {ANONYMOUS}" in shown.embed["footer"]["text"]
    held = await rows.fetch(
        database,
        "SELECT count(*) FROM challenges WHERE author_id = :me OR source_message_id IS NOT NULL",
        me=learner.id,
    )
    assert held[0][0] == 0
    assert await rows.fetch(database, "SELECT user_id FROM learner_profiles WHERE user_id = :me", me=learner.id) == []
    again = await learner.slash("nexus forget-me", channel=dm)
    assert again.content == "Nexus holds nothing about you in any server: there is nothing to forget."
    assert _labels(again.message) == []


async def test_from_a_dm_only_the_chosen_server(
    nexus: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    gone = 4242
    await nexus.services.challenges.log_challenge(
        guild_id=gone, channel_id=1, author=Person(learner.id, "ada"), title="Old server question"
    )
    dm = _dm_channel(discord_server, learner)

    asked = await learner.slash("nexus forget-me", channel=dm, server=str(gone))

    assert asked.content.startswith(f"**Forget me in server {gone}?**")
    assert "ProDev Project Nexus" not in asked.content
    done = await learner.click(asked.message, ERASE)
    assert done.content.startswith(f"Done: you are forgotten in server {gone}.")
    assert "by ada" in (await learner.slash("challenge show", id=1)).embed["footer"]["text"], "the other is untouched"
    elsewhere = await rows.fetch(database, "SELECT title, author_id FROM challenges WHERE guild_id = :g", g=gone)
    assert [tuple(row) for row in elsewhere] == [(ERASED, None)]
    wrong = await learner.slash("nexus forget-me", channel=dm, server="no such server")
    assert wrong.ephemeral
    assert "Pick one of the servers" in wrong.content


def _retention(bot: NexusBot) -> Any:
    cog = bot.get_cog("RetentionCog")
    assert cog is not None
    return cast(Any, cog)


async def test_the_retention_purge_runs_on_a_fake_clock_and_survives_a_failure(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    database: str,
    learner: FakeUser,
    other_learner: FakeUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _footprint(learner, other_learner)
    await _log_with_modal(learner, "A mistaken post", "Posted by accident")
    assert "is deleted" in (await learner.slash("challenge delete", id=3)).content
    assert (await learner.slash("pair cancel")).ephemeral
    retention = _retention(nexus)
    assert retention.periodic.is_running(), "the purge runs by itself in the background"

    # Today nothing is old enough.
    nothing = await retention.purge_once()
    assert nothing is not None
    assert nothing.total == 0

    # A year and a day later (the fake clock): the deleted challenge's text and the stale pairing data go.
    later = utcnow() + timedelta(days=366)
    monkeypatch.setattr(nexus.services.privacy, "clock", lambda: later)
    purged = await retention.purge_once()
    assert purged is not None
    assert (purged.challenges, purged.requests, purged.profiles) == (1, 1, 1)
    titles = await rows.fetch(database, "SELECT id, title FROM challenges ORDER BY id")
    assert [tuple(row) for row in titles] == [
        (1, "Celery worker loses tasks on restart"),
        (2, "Redis keys never expire"),
        (3, ERASED),
    ]
    assert await rows.fetch(database, "SELECT user_id FROM pair_requests") == []
    again = await retention.purge_once()
    assert again is not None
    assert again.total == 0, "idempotent"

    # A failing run is logged and skipped; the loop goes on.
    async def broken(now: Any, **_: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(nexus.services.privacy, "purge_expired", broken)
    with caplog.at_level(logging.ERROR):
        assert await retention.purge_once() is None
    assert "retention purge failed" in caplog.text
    assert retention.periodic.is_running()


async def test_a_forgotten_post_is_no_longer_followed_nor_logged_again(
    discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser
) -> None:
    channel = discord_server.challenges_channel_id
    settings = settings_for(discord_server, database, NEXUS_CHALLENGE_CHANNEL_IDS=str(channel))
    async with running_bot(settings) as bot:
        post = learner.post(channel, "Challenge: celery beat never fires")
        await until(lambda: (channel, int(post["id"]), "✅") in discord_server.reactions, "the post acknowledged")
        await until(lambda: _stored_count(database), "the post logged", seconds=5)
        done = await learner.click((await _asked(learner)).message, FORGET)
        assert "Anonymised: 1 challenge" in done.content

        # The post's edits and replays reach nothing any more.
        learner.edit(post, "Challenge: celery beat never fires, and here is my secret token")
        discord_server.dispatch("MESSAGE_CREATE", {**discord_server.public(post), "member": learner.member})
        await asyncio.sleep(0.5)
        shown = await other_learner.slash("challenge show", id=1)
        assert shown.embed["title"] == "#1 · celery beat never fires"
        assert await _stored_count(database) == 1
    # A restart reads the channel's recent history again (backfill): the post is not logged a second time.
    async with running_bot(settings) as bot:
        listener = cast(Any, bot.get_cog("ChallengeLogCog"))
        assert listener is not None
        assert await listener.backfill() >= 1, "the backfill did read the post again"
        assert await _stored_count(database) == 1
        # Deleting it does not delete the anonymised entry, which no longer names it.
        learner.delete(post)
        await asyncio.sleep(0.5)
        assert (await other_learner.slash("challenge show", id=1)).embed["title"] == "#1 · celery beat never fires"
    rows_now = await rows.fetch(database, "SELECT author_id, source_message_id, deleted_at FROM challenges")
    assert [tuple(row) for row in rows_now] == [(None, None, None)]


async def _stored_count(database: str) -> int:
    try:
        return int((await rows.fetch(database, "SELECT count(*) FROM challenges"))[0][0])
    except rows.NotMigrated:
        return 0
