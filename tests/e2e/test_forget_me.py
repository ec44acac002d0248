"""`/nexus forget-me` end to end: confirm, cancel, a stranger's click, the time-out; and a cooldown's answer."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from bot.client import NexusBot
from tests.e2e.server import JSON, FakeDiscord
from tests.e2e.users import Answer, FakeUser

ANONYMOUS = "a former member"


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
    assert _labels(asked.message) == ["Confirm", "Cancel"]
    return asked


async def test_confirm_forgets_the_caller_and_says_what_was_done(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    asked = await _asked(learner)

    done = await learner.click(asked.message, "Confirm")

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

    again = await learner.click((await _asked(learner)).message, "Confirm")
    assert again.content.startswith("Done: Nexus holds nothing about you in this server")


async def test_cancel_changes_nothing(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    asked = await _asked(learner)

    cancelled = await learner.click(asked.message, "Cancel")

    assert cancelled.content == "Cancelled: nothing was deleted or changed."
    assert _labels(cancelled.message) == []
    assert "by ada" in (await learner.slash("challenge show", id=1)).embed["footer"]["text"]
    assert "Track **frontend**" in (await learner.slash("pair status")).content


async def test_someone_else_pressing_confirm_is_refused(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    await _footprint(learner, other_learner)
    asked = await _asked(learner)

    refused = await other_learner.click(asked.message, "Confirm")

    assert refused.ephemeral
    assert refused.message["id"] != asked.message["id"]
    assert "someone else's" in refused.content
    assert "/nexus forget-me" in refused.content
    assert _labels(discord_server.messages[int(asked.message["id"])]) == ["Confirm", "Cancel"]
    assert "by ada" in (await learner.slash("challenge show", id=1)).embed["footer"]["text"]
    assert "not in pairing yet" not in (await learner.slash("pair status")).content
    # The owner can still answer it.
    assert "Cancelled" in (await learner.click(asked.message, "Cancel")).content


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
