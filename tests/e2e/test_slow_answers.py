"""An interaction that cannot be answered in time is deferred, not left to expire (end to end).

The bot's watchdog defers whatever is still unanswered about 2.2 s after Discord created it; the handler's late
answer then arrives as the deferred response or a follow-up, with the visibility it asked for. Work is made slow by
wrapping a method of the running bot's own service (a real table lock on PostgreSQL in the last test); FakeDiscord
records when each interaction was acknowledged and refuses (and reports) anything after 3 s.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.client import NexusBot
from bot.interactions import replies
from bot.services.challenges import Person
from tests.e2e.harness import until
from tests.e2e.server import EPHEMERAL, INTERACTION_ACK_SECONDS, JSON, FakeDiscord, Interaction
from tests.e2e.users import Answer, FakeUser

SLOW = 3.2
"""Longer than Discord's 3 s: without a defer, each of these interactions would expire."""
DEFERRED_MESSAGE, DEFERRED_UPDATE = 5, 6
LOADING = 1 << 7


def _slowed(monkeypatch: pytest.MonkeyPatch, service: object, name: str, seconds: float = SLOW) -> None:
    """Make `service.name` take `seconds` longer, on the running bot's own service object."""
    original = getattr(service, name)

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(seconds)
        return await original(*args, **kwargs)

    monkeypatch.setattr(service, name, slow)


def _callbacks(server: FakeDiscord, interaction: Interaction) -> list[tuple[Any, int]]:
    """The interaction's initial responses, as (callback type, HTTP status)."""
    path = f"/interactions/{interaction.id}/{interaction.token}/callback"
    return [((call.body or {}).get("type"), call.status) for call in server.calls if call.path.endswith(path)]


def _webhook_calls(server: FakeDiscord, interaction: Interaction) -> list[str]:
    """Follow-ups and edits of the interaction: "POST", "PATCH @original", "DELETE @original", "PATCH <id>"."""
    found = []
    for call in server.calls:
        if "/webhooks/" in call.path and interaction.token in call.path:
            assert call.status in (200, 204), f"{call.method} {call.path} answered {call.status}"
            tail = call.path.split(interaction.token, 1)[1].removeprefix("/messages/")
            found.append(f"{call.method} {tail}".strip())
    return found


def _deferred_in_time(server: FakeDiscord, answer: Answer, kind: int) -> None:
    """Acknowledged once, by the watchdog's defer of `kind`: after a normal answer would have come, before 3 s."""
    interaction = answer.interaction
    assert _callbacks(server, interaction) == [(kind, 200)]
    assert not interaction.expired
    assert interaction.acknowledged_at is not None
    waited = interaction.acknowledged_at - interaction.dispatched_at
    assert 2.0 <= waited < INTERACTION_ACK_SECONDS, f"acknowledged after {waited:.2f} s"


def _deferral_logged(caplog: pytest.LogCaptureFixture, what: str) -> bool:
    return any(
        record.name == "bot.interactions.watchdog" and record.getMessage().startswith(f"deferred {what} by user")
        for record in caplog.records
    )


async def _challenge(
    nexus: NexusBot, server: FakeDiscord, author: FakeUser, *, solved_by: FakeUser | None = None
) -> int:
    challenges = nexus.services.challenges
    logged = await challenges.log_challenge(
        guild_id=server.guild_id,
        channel_id=server.general_id,
        author=Person(author.id, "ada"),
        title="Migrations hang on deploy",
        details="alembic upgrade head never finishes",
    )
    if solved_by is not None:
        await challenges.add_solution(
            guild_id=server.guild_id,
            challenge_id=logged.challenge.id,
            author=Person(solved_by.id, "grace"),
            body="Another connection held a lock: stop the old workers first.",
        )
    return logged.challenge.id


def _labels(message: JSON) -> list[str]:
    return [component["label"] for row in message.get("components", []) for component in row["components"]]


# ----- slash commands ----------------------------------------------------------------------------


async def test_a_slow_private_answer_replaces_a_private_thinking_message(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _slowed(monkeypatch, nexus.services.pairing, "status")
    with caplog.at_level(logging.INFO, logger="bot.interactions.watchdog"):
        answer = await learner.slash("pair status")

    _deferred_in_time(discord_server, answer, DEFERRED_MESSAGE)
    thinking = discord_server.messages[answer.interaction.original_message_id or 0]
    assert thinking["flags"] & EPHEMERAL, "only the asker sees the bot thinking"
    assert _webhook_calls(discord_server, answer.interaction) == ["POST"]  # the answer is the one follow-up
    assert answer.ephemeral
    assert "not in pairing yet" in answer.content
    assert _deferral_logged(caplog, "pair status")


async def test_a_slow_public_card_is_posted_publicly_after_a_private_thinking_message(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _slowed(monkeypatch, nexus.services.topics, "card")
    answer = await learner.slash("topic", name="docker")

    _deferred_in_time(discord_server, answer, DEFERRED_MESSAGE)
    # Discord makes the first follow-up *be* the private thinking message: settle that first, post the card as a
    # second follow-up, then remove the private note.
    await until(lambda: answer.deleted and answer.interaction.followup_ids, "the public card")
    assert _webhook_calls(discord_server, answer.interaction) == ["PATCH @original", "POST", "DELETE @original"]
    card = answer.message
    assert not answer.ephemeral
    assert answer.embed["title"] == "Docker"
    assert _labels(card) == ["Delete"]
    assert card in discord_server.channel_messages(discord_server.general_id)

    await learner.click(card, "Delete")  # the card works as a fast one does
    assert card.get("deleted")


async def test_a_slow_failure_is_answered_privately_after_the_defer(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slowed(monkeypatch, nexus.services.challenges, "show")
    answer = await learner.slash("challenge show", id=42)

    _deferred_in_time(discord_server, answer, DEFERRED_MESSAGE)
    assert _webhook_calls(discord_server, answer.interaction) == ["POST"]
    assert answer.ephemeral
    assert "Challenge #42 does not exist" in answer.content


async def test_a_modal_that_cannot_open_in_time_says_so_privately(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge_id = await _challenge(nexus, discord_server, learner)
    _slowed(monkeypatch, nexus.services.challenges, "show")
    answer = await learner.slash("challenge solve", id=challenge_id)

    _deferred_in_time(discord_server, answer, DEFERRED_MESSAGE)
    assert answer.ephemeral
    assert answer.content == replies.TOO_LATE_FOR_A_MODAL


# ----- components --------------------------------------------------------------------------------


async def test_a_slow_page_turn_is_a_deferred_update_then_edits_the_same_message(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(6):  # two pages of five
        await _challenge(nexus, discord_server, learner)
    listing = await learner.slash("challenge list")
    assert listing.response_type == 4
    assert listing.embed["footer"]["text"].startswith("Page 1 of 2")

    _slowed(monkeypatch, nexus.services.challenges, "list_challenges")
    turned = await learner.click(listing.message, "Next")

    _deferred_in_time(discord_server, turned, DEFERRED_UPDATE)
    assert _webhook_calls(discord_server, turned.interaction) == ["PATCH @original"]
    assert turned.message["id"] == listing.message["id"], "the page itself changes, no new message"
    assert turned.ephemeral
    assert turned.embed["footer"]["text"].startswith("Page 2 of 2")
    assert not discord_server.messages[int(listing.message["id"])]["flags"] & LOADING


async def test_a_slow_button_posting_a_public_message_keeps_it_public(
    nexus: NexusBot,
    discord_server: FakeDiscord,
    learner: FakeUser,
    other_learner: FakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    challenge_id = await _challenge(nexus, discord_server, learner, solved_by=other_learner)
    shown = await learner.slash("challenge show", id=challenge_id)

    _slowed(monkeypatch, nexus.services.challenges, "accept")
    accepted = await learner.click(shown.message, "Accept #1")

    _deferred_in_time(discord_server, accepted, DEFERRED_UPDATE)
    assert _webhook_calls(discord_server, accepted.interaction) == ["POST"]
    assert not accepted.ephemeral
    assert "is accepted" in accepted.content
    assert accepted.message in discord_server.channel_messages(discord_server.general_id)


# ----- modal submits -----------------------------------------------------------------------------


async def test_a_slow_modal_submit_is_deferred_and_its_public_answer_posted(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    modal = await learner.slash("challenge new")
    inputs = [row["components"][0]["custom_id"] for row in modal.modal["components"]]

    _slowed(monkeypatch, nexus.services.challenges, "log_challenge")
    logged = await learner.submit_modal(
        modal, **{inputs[0]: "Celery beat runs tasks twice", inputs[1]: "Two beat processes after a deploy"}
    )

    _deferred_in_time(discord_server, logged, DEFERRED_MESSAGE)
    await until(lambda: logged.deleted and logged.interaction.followup_ids, "the public acknowledgement")
    assert _webhook_calls(discord_server, logged.interaction) == ["PATCH @original", "POST", "DELETE @original"]
    assert not logged.ephemeral
    assert logged.content.startswith("Logged as challenge **#1**")
    assert logged.embed["title"] == "#1 · Celery beat runs tasks twice"
    assert "Edit" in _labels(logged.message)


# ----- fast answers are untouched ----------------------------------------------------------------


async def test_fast_answers_are_not_deferred(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.interactions.watchdog"):
        status = await learner.slash("pair status")
        overview = await learner.slash("topics")
        page = await learner.select(overview.message, "Choose a category…", "security")
        modal = await learner.slash("challenge new")
        await asyncio.sleep(replies.DEFER_AFTER_SECONDS + 0.5)  # past the watchdog's moment

    for answer, kind in ((status, 4), (overview, 4), (page, 7), (modal, 9)):
        assert _callbacks(discord_server, answer.interaction) == [(kind, 200)]
        assert _webhook_calls(discord_server, answer.interaction) == []
    assert status.ephemeral
    assert page.embed["title"] == "Topics · Security"
    assert not [record for record in caplog.records if record.getMessage().startswith("deferred ")]


# ----- a real slow database ----------------------------------------------------------------------


# PostgreSQL only: SQLite fails a locked statement after its 2 s busy timeout, before anything needs a defer.
@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
async def test_a_command_waiting_on_a_locked_table_is_deferred_then_answered(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, database: str
) -> None:
    challenge_id = await _challenge(nexus, discord_server, learner)
    engine = create_async_engine(database, poolclass=NullPool)
    locked = asyncio.Event()

    async def hold_the_lock() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("LOCK TABLE challenges IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            await asyncio.sleep(SLOW)
            await connection.rollback()

    holder = asyncio.create_task(hold_the_lock())
    try:
        await asyncio.wait_for(locked.wait(), 5)
        answer = await learner.slash("challenge show", id=challenge_id)
        await holder
    finally:
        holder.cancel()
        await engine.dispose()

    _deferred_in_time(discord_server, answer, DEFERRED_MESSAGE)
    await until(lambda: answer.deleted and answer.interaction.followup_ids, "the public challenge")
    assert not answer.ephemeral
    assert answer.embed["title"] == "#1 · Migrations hang on deploy"
