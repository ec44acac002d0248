"""The deferral watchdog: whatever answers an interaction, it is never left to expire.

discord.py dispatches `interaction` for every interaction (commands, components, modal submits) beside the
handler's own task; `arm` starts a timer there. A timer costs nothing while it waits; when it fires on an
interaction answered in time it does nothing, so no task outlives an answered interaction. Otherwise it defers
(`replies.defer_unanswered`) and the handler's later answer becomes a follow-up.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.interactions import replies
from bot.interactions.error_replies import interaction_context

log = logging.getLogger(__name__)


class DeferralWatchdog:
    """One timer per interaction in flight (by id), and the few late defers it is sending."""

    def __init__(self) -> None:
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._late_defers: set[asyncio.Task[None]] = set()

    def arm(self, interaction: discord.Interaction) -> None:
        if interaction.type not in replies.WATCHED:
            return
        delay = replies.defer_delay(interaction.created_at, discord.utils.utcnow())
        self._timers[interaction.id] = asyncio.get_running_loop().call_later(
            delay, self._on_answer_deadline, interaction
        )

    def _on_answer_deadline(self, interaction: discord.Interaction) -> None:
        self._timers.pop(interaction.id, None)
        if interaction.response.is_done():
            return
        task = asyncio.get_running_loop().create_task(
            self._defer_late(interaction), name=f"nexus-defer-{interaction.id}"
        )
        self._late_defers.add(task)
        task.add_done_callback(self._late_defers.discard)

    async def _defer_late(self, interaction: discord.Interaction) -> None:
        try:
            deferred = await replies.defer_unanswered(interaction)
        except discord.HTTPException:
            # Already expired (a long gateway lag) or Discord refused: the handler's own answer will fail and say so.
            log.warning("could not defer %s in time", interaction_context(interaction), exc_info=True)
            return
        except Exception:
            # A background task: never let a fault here vanish unreported.
            log.exception("the watchdog failed on %s", interaction_context(interaction))
            return
        if deferred:
            age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
            log.info("deferred %s: still unanswered %.1f s after it was sent", interaction_context(interaction), age)

    def stop(self) -> None:
        """Cancel every timer and late defer (the bot is closing)."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._late_defers):
            task.cancel()
