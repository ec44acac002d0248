"""Every answer to an interaction goes through here, so that it is right whether or not it was deferred first.

Discord drops an interaction that gets no initial response within 3 s. The deferral watchdog (`watchdog.py`)
defers any interaction still unanswered shortly before then (`defer_unanswered`); the handler, still at work, answers
later with these helpers, which pick the call that is valid at that moment: the initial response, or a follow-up or
an edit of the original. A lock per interaction makes "check, then answer" one step: discord.py marks a response as
done only once Discord has accepted it, so without the lock the watchdog's defer and the handler's reply could both
be sent, and the second would fail with "already acknowledged".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord
from discord.utils import MISSING

log = logging.getLogger(__name__)

DEFER_AFTER_SECONDS = 2.2
"""When the watchdog defers, counted from Discord's creation of the interaction: late enough that a normal answer
comes first (no "thinking…" flicker), early enough that the defer's round trip still lands before 3 s."""
WATCHED = (
    discord.InteractionType.application_command,
    discord.InteractionType.component,
    discord.InteractionType.modal_submit,
)
"""What the watchdog guards: not autocomplete (it cannot be deferred, and a late list is simply not shown) nor pings."""
TOO_LATE_FOR_A_MODAL = "That took too long to open; please try again."
ANSWERED_BELOW = "Answered below."

_STATE_KEY = "nexus.reply"


@dataclass(slots=True)
class _ReplyState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    thinking: bool | None = None
    """A deferred "thinking…" message awaits its answer: True if private, False if public; None if none awaits."""


def _state(interaction: discord.Interaction) -> _ReplyState:
    state = interaction.extras.get(_STATE_KEY)
    if not isinstance(state, _ReplyState):
        state = interaction.extras[_STATE_KEY] = _ReplyState()
    return state


def defer_delay(created_at: datetime, now: datetime, defer_after: float = DEFER_AFTER_SECONDS) -> float:
    """Seconds from `now` until the watchdog should defer an interaction Discord created at `created_at`.

    Counted from Discord's timestamp, so time lost on the way (gateway lag, a busy loop) counts against the deadline.
    Clamped to [0, defer_after]: a clock behind Discord's must not push the defer past 3 s, nor one far ahead make it
    negative.
    """
    age = (now - created_at).total_seconds()
    return min(defer_after, max(0.0, defer_after - age))


def _record_defer(interaction: discord.Interaction, state: _ReplyState, *, ephemeral: bool) -> None:
    # A component deferred without thinking is a silent "deferred update"; everything else shows "thinking…".
    if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
        state.thinking = ephemeral


async def defer_unanswered(interaction: discord.Interaction) -> bool:
    """The watchdog's move: acknowledge `interaction` unless it already is; True if this call deferred it.

    A component gets a deferred update (nothing shown; the handler then edits its message or posts a follow-up);
    a command or a modal submit a private "thinking…", since most answers and every error are private.
    """
    state = _state(interaction)
    async with state.lock:
        if interaction.response.is_done():
            return False
        if interaction.type is discord.InteractionType.component:
            await interaction.response.defer()
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)
        _record_defer(interaction, state, ephemeral=True)
        return True


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False, thinking: bool = False) -> None:
    """Acknowledge now and answer later with `send` or `edit`; nothing to do if the watchdog was first."""
    state = _state(interaction)
    async with state.lock:
        if interaction.response.is_done():
            return
        await interaction.response.defer(ephemeral=ephemeral, thinking=thinking)
        _record_defer(interaction, state, ephemeral=ephemeral)


def _given(**options: Any) -> dict[str, Any]:
    """Only the options the caller set, so each call sends what it did before these helpers existed."""
    return {name: value for name, value in options.items() if value is not MISSING}


async def _follow_up(
    interaction: discord.Interaction, content: str | None, ephemeral: bool, options: dict[str, Any]
) -> discord.Message:
    return await interaction.followup.send(
        MISSING if content is None else content, ephemeral=ephemeral, wait=True, **options
    )


async def _send(
    interaction: discord.Interaction,
    state: _ReplyState,
    content: str | None,
    ephemeral: bool,
    options: dict[str, Any],
) -> discord.Message | None:
    if not interaction.response.is_done():
        callback = await interaction.response.send_message(content, ephemeral=ephemeral, **options)
        resource = callback.resource if callback is not None else None
        return resource if isinstance(resource, discord.Message) else None
    thinking, state.thinking = state.thinking, None
    if thinking is None or thinking == ephemeral:
        # After a deferred update, or once the thinking message is answered, a follow-up keeps its own visibility;
        # the first one after "thinking…" becomes that message (and takes its visibility, here the same).
        return await _follow_up(interaction, content, ephemeral, options)
    # The thinking message's visibility was fixed when it was deferred, and Discord turns the first follow-up into
    # it whatever that follow-up's flags say. So: settle it with a note, post the answer as a second follow-up (which
    # keeps its own visibility) and remove the note. Deleting the thinking message first instead is not documented
    # to free the next follow-up, and editing it could never change who sees it.
    await interaction.edit_original_response(content=ANSWERED_BELOW)
    message = await _follow_up(interaction, content, ephemeral, options)
    with contextlib.suppress(discord.HTTPException):  # only a leftover note if this fails
        await interaction.delete_original_response()
    return message


async def send(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed = MISSING,
    embeds: list[discord.Embed] = MISSING,
    view: discord.ui.View = MISSING,
    file: discord.File = MISSING,
    ephemeral: bool = False,
    allowed_mentions: discord.AllowedMentions = MISSING,
) -> discord.Message | None:
    """Answer with a new message: the initial response if there was none yet, else a follow-up, with the visibility
    asked for either way. Returns the message (for a view to edit when it times out) when Discord returned it."""
    state = _state(interaction)
    options = _given(embed=embed, embeds=embeds, view=view, file=file, allowed_mentions=allowed_mentions)
    async with state.lock:
        return await _send(interaction, state, content, ephemeral, options)


async def edit(
    interaction: discord.Interaction,
    *,
    content: str | None = MISSING,
    embed: discord.Embed | None = MISSING,
    view: discord.ui.View | None = MISSING,
) -> None:
    """Update the message a component is on: in the response if there was none yet, else by editing the original
    (after a deferred update, the original is that message)."""
    state = _state(interaction)
    async with state.lock:
        if not interaction.response.is_done():
            await interaction.response.edit_message(content=content, embed=embed, view=view)
        else:
            await interaction.edit_original_response(content=content, embed=embed, view=view)


async def delete_message(interaction: discord.Interaction) -> None:
    """Delete the message a component is on, acknowledging the click silently if nothing has yet."""
    state = _state(interaction)
    async with state.lock:
        if not interaction.response.is_done():
            await interaction.response.defer()
        await interaction.delete_original_response()


async def send_modal(interaction: discord.Interaction, modal: discord.ui.Modal) -> bool:
    """Open `modal`; True if it opened. A modal can only be the first response: when the watchdog has deferred
    already, say privately that it took too long instead of failing."""
    state = _state(interaction)
    async with state.lock:
        if not interaction.response.is_done():
            await interaction.response.send_modal(modal)
            return True
        log.info("too late to open the modal %r: the interaction was already deferred", modal.title)
        await _send(interaction, state, TOO_LATE_FOR_A_MODAL, True, {})
        return False
