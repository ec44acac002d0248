"""The periodic side of pairing: matching rounds, introductions, expiry, check-ins, reminders and ratings.

Everything due is derived from the database on each pass, so a restart neither skips nor repeats: a notice row is
claimed before it is sent and stamped after, and a resend after a crash carries the same nonce.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from discord.ext import commands, tasks

from bot.interactions.error_replies import log_background_failure
from bot.services.pairing import PairingService, notice_nonce
from cogs.pairing._announce import Announcer
from cogs.pairing._render import auto_paused_text, checkin_text, expired_text, lapsed_text, notice_text
from cogs.pairing._views import checkin_view, rating_view, renew_view

log = logging.getLogger(__name__)

PASS_SECONDS = 60.0
ROUND_EVERY = timedelta(minutes=10)
FAILING_REMEMBERED = 1000  # failures logged once each; forgotten past this many, so the set stays bounded


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
        self._failing: set[str] = set()  # the work whose failure is already logged, until it succeeds

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

    @contextlib.asynccontextmanager
    async def _boundary(self, what: str, *args: object) -> AsyncIterator[None]:
        """One piece of due work (a kind of work, a server's round, one message): its failure skips only itself,
        and is logged once, not on every pass while it keeps failing (it is tried again on each)."""
        key = what % args
        try:
            yield
        except Exception as error:
            if key in self._failing:
                log.debug("%s failed again", key, exc_info=error)
            else:
                if len(self._failing) >= FAILING_REMEMBERED:
                    self._failing.clear()
                self._failing.add(key)
                log_background_failure(log, error, "%s failed; skipped, tried again on the next pass", key)
        else:
            self._failing.discard(key)

    async def run_due_work(self, now: datetime, *, force_round: bool = False) -> PassReport:
        report = PassReport()
        if force_round or self._last_round is None or now - self._last_round >= ROUND_EVERY:
            self._last_round = now
            guilds: list[int] = []
            async with self._boundary("the list of queues"):
                guilds = await self._pairing.guilds_with_queue()
            for guild_id in guilds:
                async with self._boundary("the matching round of server %s", guild_id):
                    report.matched += len(await self._pairing.run_round(guild_id, now))
        async with self._boundary("the introductions"):
            for match in await self._pairing.unannounced():
                async with self._boundary("the introduction of pair %s", match.pair_id):
                    await self._announcer.announce(match)
                    report.announced += 1
        async with self._boundary("the expiries"):
            for expired in await self._pairing.expire_due(now):
                async with self._boundary("the expiry notice of request %s", expired.request_id):
                    await self._announcer.direct_message(
                        expired.user_id,
                        expired_text(expired.waited),
                        view=renew_view(expired.request_id),
                        nonce=expired.nonce,
                    )
                    await self._pairing.expiry_notified(expired.request_id, now)
                    report.expired += 1
        async with self._boundary("the check-ins"):
            for checkin in await self._pairing.due_checkins(now):
                async with self._boundary("the check-in of pair %s for %s", checkin.pair_id, checkin.user_id):
                    await self._announcer.direct_message(
                        checkin.user_id,
                        checkin_text(checkin.partner_id),
                        view=checkin_view(checkin.pair_id, checkin.user_id),
                        nonce=checkin.nonce,
                        fallback_channel_id=checkin.thread_id,
                    )
                    await self._pairing.checkin_sent(checkin.pair_id, checkin.user_id, now)
                    report.checkins += 1
        async with self._boundary("the pauses"):
            for paused in await self._pairing.pause_ignorers(now):
                async with self._boundary("the pause notice of %s", paused.user_id):
                    await self._announcer.direct_message(paused.user_id, auto_paused_text())
                    report.paused += 1
        async with self._boundary("the lapsed invitations"):
            for lapsed in await self._pairing.lapse_invitations(now):
                async with self._boundary("the lapse notice of session %s", lapsed.session_id):
                    await self._announcer.direct_message(
                        lapsed.organiser_id, lapsed_text(lapsed), nonce=notice_nonce("lapsed", lapsed.session_id)
                    )
                    await self._pairing.lapse_told(lapsed.session_id, now)
                    report.lapsed += 1
        async with self._boundary("the session notices"):
            for notice in await self._pairing.due_notices(now):
                async with self._boundary(
                    "the %s notice of session %s for %s", notice.kind, notice.session.session_id, notice.user_id
                ):
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
