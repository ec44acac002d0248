"""The periodic side of pairing: matching rounds, introductions, expiry, check-ins, reminders and ratings.

Everything due is derived from the database on each pass, so a restart neither skips nor repeats: a notice row is
claimed before it is sent and stamped after, and a resend after a crash carries the same nonce.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from discord.ext import commands, tasks

from bot.interaction_errors import log_background_failure
from bot.services.pairing import PairingService, notice_nonce
from cogs.pairing._announce import Announcer
from cogs.pairing._render import auto_paused_text, checkin_text, expired_text, lapsed_text, notice_text
from cogs.pairing._views import checkin_view, rating_view, renew_view

log = logging.getLogger(__name__)

PASS_SECONDS = 60.0
ROUND_EVERY = timedelta(minutes=10)


@dataclass
class PassReport:
    """What one pass did; the tests read it, the log summarises it."""

    matched: int = 0
    announced: int = 0
    expired: int = 0
    checkins: int = 0
    paused: int = 0
    lapsed: int = 0
    notices: dict[str, int] = field(default_factory=dict)


class PairingSchedulerCog(commands.Cog):
    def __init__(self, bot: commands.Bot, pairing: PairingService, announcer: Announcer) -> None:
        self._bot = bot
        self._pairing = pairing
        self._announcer = announcer
        self._last_round: datetime | None = None
        self._pass_lock = asyncio.Lock()
        self._closing = False

    async def cog_load(self) -> None:
        self.periodic.start()

    async def cog_unload(self) -> None:
        self._closing = True
        async with self._pass_lock:  # a pass in progress finishes its database work first
            self.periodic.cancel()

    @tasks.loop(seconds=PASS_SECONDS)
    async def periodic(self) -> None:
        async with self._pass_lock:
            if self._closing:
                return
            try:
                report = await self.run_due_work(self._pairing.now())
            except Exception as error:
                log_background_failure(log, error, "pairing pass failed; the next one retries")
                return
        if report.matched or report.expired or report.checkins or report.paused or report.lapsed or report.notices:
            log.info("pairing pass: %s", report)

    @periodic.before_loop
    async def _before(self) -> None:
        await self._bot.wait_until_ready()

    async def run_due_work(self, now: datetime, *, force_round: bool = False) -> PassReport:
        report = PassReport()
        if force_round or self._last_round is None or now - self._last_round >= ROUND_EVERY:
            self._last_round = now
            for guild_id in await self._pairing.guilds_with_queue():
                report.matched += len(await self._pairing.run_round(guild_id, now))
        for match in await self._pairing.unannounced():
            await self._announcer.announce(match)
            report.announced += 1
        for expired in await self._pairing.expire_due(now):
            await self._announcer.direct_message(
                expired.user_id, expired_text(expired.waited), view=renew_view(expired.request_id), nonce=expired.nonce
            )
            await self._pairing.expiry_notified(expired.request_id, now)
            report.expired += 1
        for checkin in await self._pairing.due_checkins(now):
            await self._announcer.direct_message(
                checkin.user_id,
                checkin_text(checkin.partner_id),
                view=checkin_view(checkin.pair_id, checkin.user_id),
                nonce=checkin.nonce,
                fallback_channel_id=checkin.thread_id,
            )
            await self._pairing.checkin_sent(checkin.pair_id, checkin.user_id, now)
            report.checkins += 1
        for paused in await self._pairing.pause_ignorers(now):
            await self._announcer.direct_message(paused.user_id, auto_paused_text())
            report.paused += 1
        for lapsed in await self._pairing.lapse_invitations(now):
            await self._announcer.direct_message(
                lapsed.organiser_id, lapsed_text(lapsed), nonce=notice_nonce("lapsed", lapsed.session_id)
            )
            await self._pairing.lapse_told(lapsed.session_id, now)
            report.lapsed += 1
        for notice in await self._pairing.due_notices(now):
            view = rating_view(notice.session.session_id, notice.user_id) if notice.kind == "rating" else None
            await self._announcer.direct_message(
                notice.user_id,
                notice_text(notice, self._pairing.topic_title),
                view=view,
                nonce=notice.nonce,
                fallback_channel_id=notice.thread_id,
            )
            await self._pairing.notice_sent(notice, now)
            report.notices[notice.kind] = report.notices.get(notice.kind, 0) + 1
        return report
