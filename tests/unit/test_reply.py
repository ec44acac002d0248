"""`bot.interactions.replies`: which Discord call answers an interaction, deferred by the watchdog or not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import discord
import pytest

from bot.interactions import replies

Calls = list[tuple[str, dict[str, Any]]]
LATENCY = 0.05


class FakeResponse:
    """Like discord.py's `InteractionResponse`: the response counts as done only once Discord has answered."""

    def __init__(self, parent: FakeInteraction) -> None:
        self._parent = parent
        self.type: discord.InteractionResponseType | None = None

    def is_done(self) -> bool:
        return self.type is not None

    async def _call(self, name: str, kind: discord.InteractionResponseType, **options: Any) -> None:
        if self.type is not None:
            raise AssertionError(f"{name} after the interaction was acknowledged: Discord answers 40060")
        self._parent.calls.append((name, options))
        await asyncio.sleep(LATENCY)
        self.type = kind

    async def defer(self, *, ephemeral: bool = False, thinking: bool = False) -> None:
        command = self._parent.type is not discord.InteractionType.component
        kind = (
            discord.InteractionResponseType.deferred_channel_message
            if command or thinking
            else discord.InteractionResponseType.deferred_message_update
        )
        await self._call("defer", kind, ephemeral=ephemeral, thinking=thinking)

    async def send_message(self, content: str | None = None, **options: Any) -> None:
        await self._call("send_message", discord.InteractionResponseType.channel_message, content=content, **options)

    async def edit_message(self, **options: Any) -> None:
        await self._call("edit_message", discord.InteractionResponseType.message_update, **options)

    async def send_modal(self, modal: discord.ui.Modal) -> None:
        await self._call("send_modal", discord.InteractionResponseType.modal, title=modal.title)


class FakeFollowup:
    def __init__(self, parent: FakeInteraction) -> None:
        self._parent = parent

    async def send(self, content: Any = discord.utils.MISSING, **options: Any) -> None:
        self._parent.calls.append(("followup", {"content": content, **options}))


class FakeInteraction:
    def __init__(self, kind: discord.InteractionType = discord.InteractionType.application_command) -> None:
        self.type = kind
        self.extras: dict[Any, Any] = {}
        self.calls: Calls = []
        self.response = FakeResponse(self)
        self.followup = FakeFollowup(self)

    async def edit_original_response(self, **options: Any) -> None:
        self.calls.append(("edit_original", options))

    async def delete_original_response(self) -> None:
        self.calls.append(("delete_original", {}))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _real(interaction: FakeInteraction) -> discord.Interaction:
    return cast(discord.Interaction, interaction)


class _Modal(discord.ui.Modal, title="Add a solution"):
    pass


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "delay"),
    [(0.0, 2.2), (0.5, 1.7), (2.2, 0.0), (10.0, 0.0), (-5.0, 2.2)],
    ids=["fresh", "lagged", "due", "long-late", "clock-behind"],
)
def test_the_defer_is_due_counted_from_discords_timestamp_and_never_later_than_after_receipt(
    age: float, delay: float
) -> None:
    assert replies.defer_delay(NOW - timedelta(seconds=age), NOW) == pytest.approx(delay)


async def test_a_fast_answer_is_the_initial_response_with_only_the_options_given() -> None:
    interaction = FakeInteraction()
    await replies.send(_real(interaction), "Hello", ephemeral=True)
    assert interaction.calls == [("send_message", {"content": "Hello", "ephemeral": True})]
    assert not await replies.defer_unanswered(_real(interaction))  # the watchdog finds it answered: nothing to do
    assert interaction.names() == ["send_message"]


async def test_after_the_watchdog_a_private_answer_is_the_follow_up_that_replaces_thinking() -> None:
    interaction = FakeInteraction()
    assert await replies.defer_unanswered(_real(interaction))
    await replies.send(_real(interaction), "Your status", ephemeral=True)
    assert interaction.calls == [
        ("defer", {"ephemeral": True, "thinking": True}),
        ("followup", {"content": "Your status", "ephemeral": True, "wait": True}),
    ]


async def test_after_a_private_thinking_a_public_answer_settles_it_then_posts_publicly() -> None:
    interaction = FakeInteraction(discord.InteractionType.modal_submit)
    assert await replies.defer_unanswered(_real(interaction))
    embed = discord.Embed(title="#1")
    await replies.send(_real(interaction), "Logged", embed=embed)
    assert interaction.calls == [
        ("defer", {"ephemeral": True, "thinking": True}),
        ("edit_original", {"content": replies.ANSWERED_BELOW}),
        ("followup", {"content": "Logged", "ephemeral": False, "wait": True, "embed": embed}),
        ("delete_original", {}),
    ]
    await replies.send(_real(interaction), "And another")  # the thinking message is settled: a plain follow-up
    assert interaction.calls[-1] == ("followup", {"content": "And another", "ephemeral": False, "wait": True})


async def test_a_component_is_deferred_silently_then_edited_or_followed_up_with_its_own_visibility() -> None:
    interaction = FakeInteraction(discord.InteractionType.component)
    assert await replies.defer_unanswered(_real(interaction))
    assert interaction.response.type is discord.InteractionResponseType.deferred_message_update
    await replies.edit(_real(interaction), content="Page 2")
    await replies.send(_real(interaction), "Accepted")
    assert interaction.names() == ["defer", "edit_original", "followup"]
    assert interaction.calls[0] == ("defer", {"ephemeral": False, "thinking": False})
    assert interaction.calls[2][1]["ephemeral"] is False


async def test_a_fast_component_edit_is_the_update_response() -> None:
    interaction = FakeInteraction(discord.InteractionType.component)
    await replies.edit(_real(interaction), content="Cancelled", view=None)
    assert interaction.names() == ["edit_message"]
    assert interaction.calls[0][1]["view"] is None


async def test_the_watchdog_and_a_reply_at_the_same_moment_send_one_initial_response() -> None:
    interaction = FakeInteraction()
    # The watchdog's defer is on the wire (not yet marked done) when the handler answers.
    deferred, _ = await asyncio.gather(
        replies.defer_unanswered(_real(interaction)), replies.send(_real(interaction), "Done", ephemeral=True)
    )
    assert deferred
    assert interaction.names() == ["defer", "followup"]

    other = FakeInteraction()
    _, deferred = await asyncio.gather(
        replies.send(_real(other), "Done", ephemeral=True), replies.defer_unanswered(_real(other))
    )
    assert not deferred
    assert other.names() == ["send_message"]


async def test_an_explicit_defer_after_the_watchdog_is_a_no_op() -> None:
    interaction = FakeInteraction()
    await replies.defer_unanswered(_real(interaction))
    await replies.defer(_real(interaction), ephemeral=True, thinking=True)
    assert interaction.names() == ["defer"]


async def test_a_modal_too_late_to_open_is_answered_privately_instead() -> None:
    interaction = FakeInteraction()
    assert await replies.send_modal(_real(interaction), _Modal())
    assert interaction.names() == ["send_modal"]

    late = FakeInteraction(discord.InteractionType.component)
    await replies.defer_unanswered(_real(late))
    assert not await replies.send_modal(_real(late), _Modal())
    assert late.calls[1] == ("followup", {"content": replies.TOO_LATE_FOR_A_MODAL, "ephemeral": True, "wait": True})


async def test_deleting_a_cards_message_acknowledges_silently_first() -> None:
    interaction = FakeInteraction(discord.InteractionType.component)
    await replies.delete_message(_real(interaction))
    assert interaction.names() == ["defer", "delete_original"]
