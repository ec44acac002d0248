"""The weekly digest in the background: every few minutes, each server whose digest is due gets it, once.

Each server is its own error boundary: one failing (Discord down, a database hiccup) is logged and tried again on a
later pass with the same claim and nonce, and never holds back another. A channel that refuses the bot (403, or
gone: 404) is logged once and the week is marked skipped, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

import discord
from discord.ext import commands, tasks

from bot.challenges.digest import render_digest
from bot.client import NexusBot
from bot.interactions.error_replies import log_background_failure
from bot.services.digest import DigestService, DueDigest
from cogs._shared import to_embed, with_retries

log = logging.getLogger(__name__)

PASS_SECONDS = 120.0
# The first pass waits until start-up's own work (backfill, deletion checks, command sync) is done: a digest is due
# for days, so nothing is lost by a minute, and start-up is not slowed by reading a week's figures for every server.
FIRST_PASS_AFTER_SECONDS = 60.0


@dataclass
class DigestReport:
    """What one pass did; the tests read it."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


class DigestCog(commands.Cog):
    def __init__(self, bot: NexusBot, digest: DigestService) -> None:
        self._bot = bot
        self._digest = digest
        self._lock = asyncio.Lock()
        self._closing = False

    async def cog_load(self) -> None:
        self.periodic.start()

    async def cog_unload(self) -> None:
        self._closing = True
        async with self._lock:  # a pass in progress finishes its send and its mark first
            self.periodic.cancel()

    @tasks.loop(seconds=PASS_SECONDS)
    async def periodic(self) -> None:
        async with self._lock:
            if self._closing:
                return
            await self._run(self._digest.now())

    @periodic.before_loop
    async def _before(self) -> None:
        await self._bot.wait_until_ready()
        await asyncio.sleep(FIRST_PASS_AFTER_SECONDS)

    async def run_due(self, now: datetime) -> DigestReport:
        """One pass at `now` (the tests call it with the time they want, the loop stopped)."""
        async with self._lock:
            return await self._run(now)

    async def _run(self, now: datetime) -> DigestReport:
        report = DigestReport()
        try:
            due = await self._digest.due(now)
        except Exception as error:
            log_background_failure(log, error, "the weekly digest pass failed; the next one retries")
            return report
        for item in due:
            try:  # each server on its own: one failing never holds back another
                await self._post(item, now, report)
            except Exception as error:
                report.failed.append((item.guild_id, item.week))
                log_background_failure(
                    log,
                    error,
                    "the weekly digest of server %s for %s failed; tried again on a later pass",
                    item.guild_id,
                    item.week,
                )
        return report

    async def _post(self, due: DueDigest, now: datetime, report: DigestReport) -> None:
        if not await self._digest.claim(due, now):
            return  # another sender holds it, or it is done
        spec = render_digest(await self._digest.digest_for(due, now), due.schedule)
        channel = self._bot.get_partial_messageable(due.channel_id, guild_id=due.guild_id)
        try:
            message = await with_retries(
                lambda: channel.send(
                    embed=to_embed(spec), nonce=due.nonce, allowed_mentions=discord.AllowedMentions.none()
                )
            )
        except (discord.Forbidden, discord.NotFound) as error:
            log.warning(
                "weekly digest of server %s for %s skipped: channel %s refuses the bot (%s %s)",
                due.guild_id,
                due.week,
                due.channel_id,
                error.status,
                error.text or "",
            )
            await self._digest.skipped(due, now)
            report.skipped.append((due.guild_id, due.week))
            return
        await self._digest.sent(due, message.id, now)
        report.sent.append((due.guild_id, due.week))
        log.info("weekly digest of server %s for %s posted in channel %s", due.guild_id, due.week, due.channel_id)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, NexusBot):
        raise TypeError("the digest extension needs a NexusBot")
    await bot.add_cog(DigestCog(bot, bot.services.digest))
