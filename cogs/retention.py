"""The retention purge in the background: once an hour, what `NEXUS_RETENTION_DAYS` says is no longer kept goes.

Each run is bounded (the service takes a batch of each kind) and idempotent, so a long-neglected database is worked
through over a few runs and a run cut short is finished by the next. A failing run is logged and skipped: it never
stops the loop, and nothing else runs inside its error boundary.
"""

from __future__ import annotations

import asyncio
import logging

from discord.ext import commands, tasks

from bot.client import NexusBot
from bot.interactions.error_replies import log_background_failure
from bot.services.privacy import PrivacyService, Purged

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 3600.0


class RetentionCog(commands.Cog):
    def __init__(self, bot: commands.Bot, privacy: PrivacyService, *, leads: bool = True) -> None:
        self._bot = bot
        # The purge is the work of no server in particular: of the processes sharing a database, the one running
        # shard 0 does it.
        self._leads = leads
        self._privacy = privacy
        self._lock = asyncio.Lock()
        self._closing = False

    async def cog_load(self) -> None:
        if self._privacy.retention is not None and self._leads:
            self.periodic.start()

    async def cog_unload(self) -> None:
        self._closing = True
        async with self._lock:  # a run in progress finishes its transaction first
            self.periodic.cancel()

    @tasks.loop(seconds=PURGE_EVERY_SECONDS)
    async def periodic(self) -> None:
        await self.purge_once()

    @periodic.before_loop
    async def _before(self) -> None:
        await self._bot.wait_until_ready()

    async def purge_once(self) -> Purged | None:
        """One bounded run at the service's "now"; None if it failed (logged; the next run tries again)."""
        async with self._lock:
            if self._closing:
                return None
            try:
                purged = await self._privacy.purge_expired(self._privacy.now())
            except Exception as error:
                log_background_failure(log, error, "retention purge failed; the next run tries again")
                return None
        if purged.total:
            # Counts only: what was purged is nobody's business, and the log must not keep it either.
            log.info("retention purge: %s", purged)
        return purged


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the retention extension needs a NexusBot")
    await bot.add_cog(RetentionCog(bot, bot.services.privacy, leads=bot.shard_scope.leads))
