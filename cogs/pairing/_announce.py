"""Telling people: the match introduction (private thread, or DMs), and DMs with a thread as the fallback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import discord

from bot.services.guild_settings import GuildSettingsService
from bot.services.pairing import MatchView, PairingService, notice_nonce
from cogs._shared import only_pinging, to_embed, with_retries
from cogs.pairing._members import member_in_server
from cogs.pairing._render import dm_note, introduction, partner_left_text

log = logging.getLogger(__name__)

THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week: pairs talk over days, not minutes


@dataclass(frozen=True, slots=True)
class Introduction:
    """How a match was introduced: in its thread (`thread_id`), by DM (None), or not at all because one of the two
    had left the server (`partner_left`: the pair is undone and the other is back in the queue)."""

    thread_id: int | None
    partner_left: bool = False


class Announcer:
    def __init__(
        self,
        bot: discord.Client,
        pairing: PairingService,
        guild_settings: GuildSettingsService,
        pair_buttons: Callable[[int], discord.ui.View],
    ) -> None:
        self._bot = bot
        self._pairing = pairing
        self._guild_settings = guild_settings
        # Given, not imported: the buttons act through this announcer, so importing them here would be a cycle.
        self._pair_buttons = pair_buttons
        # The request that made a match and the periodic pass may both try to announce it: one at a time, and
        # whoever comes second finds it announced.
        self._lock = asyncio.Lock()

    async def announce(self, match: MatchView) -> Introduction:
        """Introduce the two learners, in a private thread or by DM."""
        async with self._lock:
            done, thread_id = await self._pairing.announcement(match.pair_id)  # a crash may have left a thread
            if done:
                return Introduction(thread_id)
            for learner in (match.a, match.b):
                if not await member_in_server(self._bot, match.guild_id, learner.user_id):
                    await self._partner_left(match, learner.user_id)
                    return Introduction(None, partner_left=True)
            thread = await self._thread(match, thread_id)
            content, spec = introduction(match, self._pairing.topic_title)
            introduced = False
            if thread is not None:
                try:
                    await with_retries(
                        lambda: thread.send(
                            content,
                            embed=to_embed(spec),
                            view=self._pair_buttons(match.pair_id),
                            allowed_mentions=only_pinging(*match.members()),
                            nonce=notice_nonce("intro", match.pair_id),
                        )
                    )
                    introduced = True
                except discord.HTTPException as error:
                    log.warning("could not introduce pair %s in its thread (%s); by DM instead", match.pair_id, error)
            for user_id in match.members():
                if introduced and thread is not None:
                    note = dm_note(match, user_id, thread.id)
                    await self.direct_message(user_id, note, nonce=notice_nonce("note", match.pair_id, user_id))
                else:
                    await self.direct_message(
                        user_id,
                        content,
                        embed=to_embed(spec),
                        view=self._pair_buttons(match.pair_id),
                        nonce=notice_nonce("intro", match.pair_id, user_id),
                    )
            await self._pairing.announced(match.pair_id, thread.id if thread else None, self._pairing.now())
            return Introduction(thread.id if thread else None)

    async def _partner_left(self, match: MatchView, left_id: int) -> None:
        stayed = await self._pairing.partner_left(match.pair_id, left_id)
        log.info("pair %s dissolved: %s is no longer in the server", match.pair_id, left_id)
        if stayed is not None:
            await self.direct_message(stayed, partner_left_text())

    async def _thread(self, match: MatchView, thread_id: int | None) -> discord.Thread | None:
        """The pair's private thread: the one an interrupted announcement opened, or a new one in the pairing
        channel with both learners in it. None where there is no channel or the bot may not open threads there
        (the DMs then carry the introduction)."""
        if thread_id is not None:
            known = await self._channel(thread_id)
            if isinstance(known, discord.Thread):
                return known
        channel_id = (await self._guild_settings.get(match.guild_id)).pairing_channel_id
        guild = self._bot.get_guild(match.guild_id)
        channel = guild.get_channel(channel_id) if guild is not None and channel_id else None
        if not isinstance(channel, discord.TextChannel):
            return None
        name = f"Pair #{match.pair_id}: {match.a.name} & {match.b.name}"[:100]
        try:
            thread = await with_retries(
                lambda: channel.create_thread(
                    name=name,
                    type=discord.ChannelType.private_thread,
                    invitable=False,
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                )
            )
            # Kept at once, so a crash before the introduction reuses this thread instead of opening another.
            await self._pairing.thread_opened(match.pair_id, thread.id)
            for user_id in match.members():
                await with_retries(partial(thread.add_user, discord.Object(user_id)))
        except discord.HTTPException as error:
            log.warning("no pair thread in #%s (%s): introducing pair %s by DM", channel, error, match.pair_id)
            return None
        return thread

    async def _channel(
        self, channel_id: int
    ) -> discord.abc.GuildChannel | discord.abc.PrivateChannel | discord.Thread | None:
        """A channel or thread by id: from the cache, else from Discord. A pair's thread is not in the cache after
        a restart (nor once archived), and reminders days later still need it."""
        known = self._bot.get_channel(channel_id)
        if known is not None:
            return known
        try:
            return await self._bot.fetch_channel(channel_id)
        except discord.HTTPException as error:
            log.info("channel %s is out of reach (%s)", channel_id, error)
            return None

    async def direct_message(
        self,
        user_id: int,
        content: str,
        *,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
        nonce: int | None = None,
        fallback_channel_id: int | None = None,
    ) -> bool:
        """DM a learner; where their DMs are closed, post in the fallback channel (the pair's thread) addressed to
        them. The failure is logged, never raised: the other learner must still be told. True when delivered."""
        extra: dict[str, object] = {}
        if embed is not None:
            extra["embed"] = embed
        if view is not None:
            extra["view"] = view
        if nonce is not None:
            extra["nonce"] = nonce
        try:
            channel = await self._bot.create_dm(discord.Object(user_id))
            await with_retries(
                lambda: channel.send(content, allowed_mentions=discord.AllowedMentions.none(), **extra)  # type: ignore[call-overload]
            )
            return True
        except discord.HTTPException as error:
            log.info("could not DM %s (%s)", user_id, error)
        fallback = await self._channel(fallback_channel_id) if fallback_channel_id else None
        if isinstance(fallback, discord.Thread | discord.TextChannel):
            try:
                mentioned = f"<@{user_id}> {content}"
                await with_retries(
                    lambda: fallback.send(mentioned, allowed_mentions=only_pinging(user_id), **extra)  # type: ignore[call-overload]
                )
                return True
            except discord.HTTPException as error:
                log.warning("could not reach %s in %s either (%s)", user_id, fallback, error)
        else:
            log.warning("could not reach %s: DMs closed and no thread to fall back on", user_id)
        return False
