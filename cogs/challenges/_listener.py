"""In-channel logging: posts, replies, edits and deletions in watched channels; backfill; nudges."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime

import discord
from discord.ext import commands, tasks

from bot.client import NexusBot
from bot.services.challenges import ChallengeService, IncomingMessage, Logged, Nudge, SolutionLogged
from bot.services.guild_settings import GuildSettingsService
from cogs.challenges._render import acknowledgement
from cogs.challenges._views import accept_button_view, challenge_view_buttons

log = logging.getLogger(__name__)

ACKNOWLEDGED = "✅"
BACKFILL_LIMIT = 1000  # messages per channel per start: enough for a night away, bounded
FIRST_RUN_BACKFILL = 100
NUDGE_INTERVAL_MINUTES = 5
CURSOR_FLUSH_SECONDS = 5.0


class ChallengeLogCog(commands.Cog):
    def __init__(
        self,
        bot: NexusBot,
        challenges: ChallengeService,
        guild_settings: GuildSettingsService,
        *,
        reads_messages: bool,
    ) -> None:
        self._bot = bot
        self._challenges = challenges
        self._guild_settings = guild_settings
        self._reads_messages = reads_messages
        self._backfill_lock = asyncio.Lock()
        # One writer: concurrent handlers would only queue on SQLite's lock, sleeping between tries.
        self._write_lock = asyncio.Lock()
        # Newest message seen per watched channel, written to the database at most every few
        # seconds; a cursor that lags only makes backfill re-read messages it then skips.
        self._pending_cursors: dict[int, tuple[int, int]] = {}
        self._closing = False
        self._nudge_lock = asyncio.Lock()
        self._backfill_task: asyncio.Task[int] | None = None

    async def cog_load(self) -> None:
        self.nudge.start()
        self.flush_cursors.start()

    async def cog_unload(self) -> None:
        # Let database work finish rather than cancel it half-way: the engine is disposed next.
        self._closing = True
        async with self._nudge_lock:  # waits for a round in progress; the loop is then only sleeping
            self.nudge.cancel()
        self.flush_cursors.cancel()
        await self._flush_cursors()
        if self._backfill_task is not None and not self._backfill_task.done():
            await asyncio.wait([self._backfill_task], timeout=10)

    # ----- live messages ---------------------------------------------------------------------

    async def _watched_channel(self, message: discord.Message) -> int | None:
        """The watched channel a message was posted in (a thread counts as its parent), else None."""
        if message.guild is None:
            return None
        channel = message.channel
        channel_id = channel.parent_id if isinstance(channel, discord.Thread) else channel.id
        settings = await self._guild_settings.get(message.guild.id)
        return channel_id if channel_id in settings.challenge_channel_ids else None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if self._reads_messages:
            await self._handle(message)

    async def _handle(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None:
            return  # its own replies and other bots: nothing to log, no database work
        watched = await self._watched_channel(message)
        if watched is None or message.guild is None:
            return
        incoming = IncomingMessage(
            guild_id=message.guild.id,
            channel_id=message.channel.id,
            message_id=message.id,
            author_id=message.author.id,
            author_name=message.author.display_name,
            content=message.content,
            author_is_bot=message.author.bot,
            is_webhook=message.webhook_id is not None,
            reference_message_id=message.reference.message_id if message.reference else None,
            thread_parent_message_id=message.channel.id if isinstance(message.channel, discord.Thread) else None,
        )
        async with self._write_lock:
            result = await self._challenges.ingest(incoming, suggest_similar=False)
        newest = self._pending_cursors.get(watched, (0, 0))[1]
        self._pending_cursors[watched] = (message.guild.id, max(newest, message.id))
        if result is not None and result.created:
            if isinstance(result, Logged):
                result = replace(result, similar=await self._challenges.similar_solved(result.challenge))
            await self._acknowledge(message, result)

    async def _acknowledge(self, message: discord.Message, result: Logged | SolutionLogged) -> None:
        """React, then reply once; a failure to acknowledge never loses what was logged."""
        view = (
            accept_button_view(result.challenge.id, result.solution.id) if isinstance(result, SolutionLogged) else None
        )
        try:
            await message.add_reaction(ACKNOWLEDGED)
            reply = acknowledgement(result, self._challenges.topic_title)
            if view is None:
                await message.reply(reply, mention_author=False)
            else:
                await message.reply(reply, mention_author=False, view=view)
        except discord.HTTPException:
            log.warning("logged message %s but could not acknowledge it", message.id, exc_info=True)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        content = payload.data.get("content")
        if not self._reads_messages or payload.guild_id is None or content is None:
            return
        await self._challenges.source_edited(payload.guild_id, payload.message_id, content)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self._challenges.source_deleted(payload.guild_id, payload.message_id)

    # ----- backfill --------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self._start_backfill()

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self._start_backfill()

    def _start_backfill(self) -> None:
        if self._reads_messages and (self._backfill_task is None or self._backfill_task.done()):
            self._backfill_task = asyncio.create_task(self.backfill())

    async def backfill(self) -> int:
        """Read what watched channels received while the bot was away; returns messages read."""
        read = 0
        async with self._backfill_lock:
            for guild in self._bot.guilds:
                settings = await self._guild_settings.get(guild.id)
                for channel_id in settings.challenge_channel_ids:
                    channel = guild.get_channel(channel_id)
                    if not isinstance(channel, discord.TextChannel):
                        continue
                    try:
                        read += await self._backfill_channel(channel)
                    except Exception:
                        # One failing channel must not stop the others, nor the bot.
                        log.exception("backfill of channel %s failed", channel_id)
        return read

    async def _backfill_channel(self, channel: discord.TextChannel) -> int:
        after = await self._challenges.cursor(channel.id)
        try:
            if after is None:
                history = [m async for m in channel.history(limit=FIRST_RUN_BACKFILL)]
                history.reverse()
            else:
                history = [
                    m
                    async for m in channel.history(after=discord.Object(after), limit=BACKFILL_LIMIT, oldest_first=True)
                ]
        except discord.HTTPException:
            log.warning("cannot read the history of #%s (%s); is Read Message History allowed?", channel, channel.id)
            return 0
        for message in history:
            if self._closing:
                break
            await self._handle(message)
        await self._flush_cursors()
        if history:
            log.info("backfilled %d messages from #%s", len(history), channel)
        return len(history)

    @tasks.loop(seconds=CURSOR_FLUSH_SECONDS)
    async def flush_cursors(self) -> None:
        await self._flush_cursors()

    async def _flush_cursors(self) -> None:
        pending, self._pending_cursors = self._pending_cursors, {}
        for channel_id, (guild_id, message_id) in pending.items():
            async with self._write_lock:
                await self._challenges.advance_cursor(guild_id, channel_id, message_id)

    # ----- nudges ----------------------------------------------------------------------------

    @tasks.loop(minutes=NUDGE_INTERVAL_MINUTES)
    async def nudge(self) -> None:
        async with self._nudge_lock:
            if not self._closing:
                await self.send_due_nudges(datetime.now(UTC))

    @nudge.before_loop
    async def _before_nudge(self) -> None:
        await self._bot.wait_until_ready()

    async def send_due_nudges(self, now: datetime) -> int:
        """Send every nudge that is due (derived from the database, so restarts neither skip nor repeat)."""
        sent = 0
        for nudge in await self._challenges.due_nudges(now):
            if self._closing:
                break
            if not await self._challenges.claim_nudge(nudge, now):
                continue
            try:
                await self._send_nudge(nudge)
                sent += 1
            except discord.HTTPException:
                log.warning("could not send a nudge for challenge %s", nudge.challenge.id, exc_info=True)
                await self._challenges.release_nudge(nudge)
        return sent

    async def _send_nudge(self, nudge: Nudge) -> None:
        channel = self._bot.get_channel(nudge.challenge.channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        challenge = nudge.challenge
        if nudge.kind == "unanswered":
            await channel.send(
                f"Challenge **#{challenge.id}** is still open with no solution. Can anyone help? "
                f"See it with `/challenge show id:{challenge.id}`, answer with `/challenge solve id:{challenge.id}`."
            )
            return
        full = await self._challenges.show(challenge.guild_id, challenge.id)
        await channel.send(
            f"<@{challenge.author_id}>, did one of the solutions to your challenge **#{challenge.id}** work? "
            "Accept it with its button so others can find it.",
            view=challenge_view_buttons(full),
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(challenge.author_id or 0)]
            ),
        )
