"""In-channel logging: posts, replies, edits and deletions in watched channels; backfill; nudges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import discord
from discord.ext import commands, tasks

from bot.client import NexusBot
from bot.core.errors import NotFoundError
from bot.core.fairqueue import FairQueue
from bot.core.ratelimit import AcknowledgementLimiter
from bot.interactions.error_replies import log_background_failure
from bot.services.challenges import ChallengeService, IncomingMessage, IngestResult, Logged, Nudge, SolutionLogged
from bot.services.guild_settings import GuildSettingsService
from cogs._shared import readable_by_everyone, with_retries
from cogs.challenges._render import acknowledgement
from cogs.challenges._views import accept_button_view, challenge_view_buttons

log = logging.getLogger(__name__)

ACKNOWLEDGED = "✅"
BACKFILL_LIMIT = 1000  # messages per channel per start: enough for a night away, bounded
FIRST_RUN_BACKFILL = 100
BACKFILL_REWIND = timedelta(minutes=10)
# After a new session, the messages of each server's newest entries are asked for again, to follow deletions made
# while the bot was away (Discord does not replay them): this many, logged within this window, one request each.
RECHECK_LIMIT = 100
RECHECK_WINDOW = timedelta(days=7)
UNKNOWN_MESSAGE = 10008  # Discord's error code for a message that does not exist (any more)
# A backfill that failed (the database or Discord away for a moment) is tried again after this, then twice as long
# each time up to the cap, until it succeeds: what was posted while the bot was away must not wait for a restart.
BACKFILL_RETRY_SECONDS = 30.0
BACKFILL_RETRY_CAP_SECONDS = 30 * 60.0
NUDGE_INTERVAL_MINUTES = 5
REFUSED_CHANNEL_BACKOFF = 60 * 60  # seconds a channel that refused a nudge (403/404) is not tried again
# Acknowledgements wait while posts are being written, but no longer than this each: a burst is
# committed first, and a steady stream of posts still gets its acknowledgements.
ACK_PATIENCE_SECONDS = 0.25
ACK_DRAIN_SECONDS = 5.0  # on unload, for acknowledgements still queued
# Acknowledgements waiting, per server and in all: Discord lets a bot react about four times a second per channel,
# so 2,000 is minutes of a flood, far beyond a busy channel. Past it a post is logged all the same, without its ✅ and
# reply, and the drop is counted in the log: memory stays bounded, and a flood never slows the writer.
ACKS_PER_SERVER = 2000
ACKS_TOTAL = 10_000


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What acknowledging a logged post needs: where it is, and what it became (without its text)."""

    guild_id: int
    channel_id: int
    message_id: int
    result: Logged | SolutionLogged


def _without_text(result: Logged | SolutionLogged) -> Logged | SolutionLogged:
    """The result as the reply needs it (numbers, title, topics): a queued acknowledgement keeps no post text."""
    challenge = replace(result.challenge, details="", tried=None, solutions=())
    if isinstance(result, SolutionLogged):
        return replace(result, challenge=challenge, solution=replace(result.solution, body=""))
    solution = replace(result.solution, body="") if result.solution is not None else None
    return replace(result, challenge=challenge, solution=solution)


class ChallengeLogCog(commands.Cog):
    def __init__(
        self,
        bot: NexusBot,
        challenges: ChallengeService,
        guild_settings: GuildSettingsService,
        *,
        reads_messages: bool,
        replies_per_minute: int = AcknowledgementLimiter.PER_MINUTE,
    ) -> None:
        self._bot = bot
        self._reply_cap = AcknowledgementLimiter(replies_per_minute)
        self._challenges = challenges
        self._guild_settings = guild_settings
        self._reads_messages = reads_messages
        self._backfill_lock = asyncio.Lock()
        # Messages on their way to the writer (their channel's settings being read), and the edits or
        # deletions waiting for them: those must be queued after the post they change.
        self._arriving: set[int] = set()
        self._arrived: dict[int, asyncio.Event] = {}
        self._closing = False
        self._nudge_lock = asyncio.Lock()
        self._refused_channels: dict[int, float] = {}  # channel id -> when it refused a nudge (monotonic)
        self._backfill_task: asyncio.Task[int] | None = None
        self._backfill_again = False  # asked for while one ran (a shard became ready): run once more after it
        self._recheck_due = False  # set by a new session; cleared once every server's entries were re-checked
        self.backfill_retry_seconds = BACKFILL_RETRY_SECONDS
        self._backfill_failures = 0
        self._backfill_retry: asyncio.TimerHandle | None = None
        # Posts are acknowledged after their commit by one task that lets the writer go first: in order within a
        # server, servers taking turns, so a flood in one delays only its own acknowledgements.
        self._acks: FairQueue[int, Acknowledgement] = FairQueue()
        self._acks_dropped: dict[int, int] = {}  # per server, since its queue was last full
        self._ack_task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.nudge.start()
        self._ack_task = asyncio.get_running_loop().create_task(self._acknowledge_queued(), name="challenge-acks")

    async def cog_unload(self) -> None:
        # Let database work finish rather than cancel it half-way: the engine is disposed next.
        self._closing = True
        if self._backfill_retry is not None:
            self._backfill_retry.cancel()
        async with self._nudge_lock:  # waits for a round in progress; the loop is then only sleeping
            self.nudge.cancel()
        if self._backfill_task is not None and not self._backfill_task.done():
            await asyncio.wait([self._backfill_task], timeout=10)
        await self._challenges.close()  # posts already received are committed before the engine goes
        if self._ack_task is not None:
            # What is logged stays logged; acknowledgements still queued get a moment, then are dropped.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ACK_DRAIN_SECONDS):
                    await self._acks.join()
            self._ack_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ack_task

    # ----- live messages ---------------------------------------------------------------------

    async def _watched_channel(self, message: discord.Message) -> int | None:
        """The watched channel a message was posted in (a thread counts as its parent), else None. A private
        thread, or a channel @everyone cannot read, is never watched: the log is server-wide."""
        if message.guild is None or not readable_by_everyone(message.channel):
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
        pending = await self._submit(message)
        if pending is not None:
            await self._logged(message, pending)

    async def _submit(self, message: discord.Message) -> asyncio.Future[IngestResult] | None:
        """Hand a watched channel's message to the writer: what it becomes, once written."""
        if message.author.bot or message.webhook_id is not None:
            return None  # its own replies and other bots: nothing to log, no database work
        self._arriving.add(message.id)
        try:
            return await self._submit_watched(message)
        finally:
            self._arriving.discard(message.id)
            arrived = self._arrived.pop(message.id, None)
            if arrived is not None:
                arrived.set()

    async def _submit_watched(self, message: discord.Message) -> asyncio.Future[IngestResult] | None:
        watched = await self._watched_channel(message)
        if watched is None or message.guild is None:
            return None
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
            # The channel's backfill cursor moves past the message in the transaction that logs it.
            watched_channel_id=watched,
        )
        return self._challenges.submit(incoming)

    async def acknowledge_when_logged(self, message: discord.Message, pending: asyncio.Future[IngestResult]) -> None:
        """For the forum cog: its posts are acknowledged by this cog's queue, as in-channel posts are."""
        await self._logged(message, pending)

    async def _logged(self, message: discord.Message, pending: asyncio.Future[IngestResult]) -> None:
        """Once the post is committed, queue its acknowledgement (ids only: the message object is not kept)."""
        result = await pending
        if result is None or not result.created or message.guild is None:
            return
        guild_id = message.guild.id
        acknowledgement = Acknowledgement(guild_id, message.channel.id, message.id, _without_text(result))
        if self._acks.put(guild_id, acknowledgement, per_key=ACKS_PER_SERVER, total=ACKS_TOTAL):
            return
        dropped = self._acks_dropped.get(guild_id, 0)
        self._acks_dropped[guild_id] = dropped + 1
        if dropped == 0:
            log.warning(
                "acknowledgements of server %s are full (%d waiting, %d in all): posts are logged without their "
                "✅ and reply until they drain; the count follows",
                guild_id,
                self._acks.waiting(guild_id),
                len(self._acks),
            )

    async def _acknowledge_queued(self) -> None:
        while True:
            _, pending = await self._acks.get()
            try:
                # Writing goes first: Discord would rate-limit a burst of acknowledgements anyway.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(ACK_PATIENCE_SECONDS):
                        await self._challenges.idle()
                await self._acknowledge(pending)
            except Exception:
                log.exception("could not acknowledge message %s (it is logged)", pending.message_id)
            finally:
                self._acks.task_done()
                self._report_dropped()

    def _report_dropped(self) -> None:
        """Once a server that lost acknowledgements has none waiting, say how many it lost. (Checked for every
        server, not only the one served: the total bound can drop a server's acknowledgements while it has none.)"""
        for guild_id, dropped in list(self._acks_dropped.items()):
            if not self._acks.waiting(guild_id):
                del self._acks_dropped[guild_id]
                log.warning(
                    "server %s: %d logged posts went without their ✅ and reply (acknowledgements were full)",
                    guild_id,
                    dropped,
                )

    async def _acknowledge(self, pending: Acknowledgement) -> None:
        """React, then reply once; a failure to acknowledge never loses what was logged."""
        channel = self._bot.get_partial_messageable(pending.channel_id, guild_id=pending.guild_id)
        message = channel.get_partial_message(pending.message_id)
        result = pending.result
        try:
            await with_retries(lambda: message.add_reaction(ACKNOWLEDGED))
            # The reaction always; the reply within the channel's cap, so a flood of posts is not answered by a
            # flood of replies (the post is logged all the same), and similar challenges are looked up only then.
            if not self._reply_cap.allow(pending.channel_id):
                return
            view = None
            if isinstance(result, Logged):
                result = replace(result, similar=await self._challenges.similar_solved(result.challenge))
            else:
                view = accept_button_view(result.challenge.id, result.solution.id)
            reply = acknowledgement(result, self._challenges.topic_title)
            if view is None:
                await with_retries(lambda: message.reply(reply, mention_author=False))
            else:
                await with_retries(lambda: message.reply(reply, mention_author=False, view=view))
        except discord.HTTPException:
            log.warning("logged message %s but could not acknowledge it", pending.message_id, exc_info=True)

    async def _after_arrival(self, message_id: int) -> None:
        """Wait while the message is still on its way to the writer: its edit must follow it there."""
        if message_id in self._arriving:
            await self._arrived.setdefault(message_id, asyncio.Event()).wait()

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        content = payload.data.get("content")
        if not self._reads_messages or payload.guild_id is None or content is None:
            return
        await self._after_arrival(payload.message_id)
        await self._challenges.source_edited(payload.guild_id, payload.message_id, content)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self._after_arrival(payload.message_id)
            await self._challenges.source_deleted(payload.guild_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """A purge, or a ban that deletes the member's recent messages: Discord sends one event for them all."""
        if payload.guild_id is not None:
            for message_id in payload.message_ids:
                await self._after_arrival(message_id)
            await self._challenges.sources_deleted(payload.guild_id, payload.message_ids)

    # ----- backfill --------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if isinstance(self._bot, discord.AutoShardedClient):
            return  # each shard's `shard_ready` came first and started it
        # A new session: deletions made meanwhile were never delivered, so recent entries are checked too.
        self._recheck_due = True
        self._start_backfill()

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        # With shards, a shard's new session dispatches only this: "ready" comes once, when all are first up.
        self._recheck_due = True
        self._start_backfill()

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self._start_backfill()  # a resumed session replays the deletions it missed

    def _start_backfill(self) -> None:
        if self._closing or not self._reads_messages:
            return
        if self._backfill_task is None or self._backfill_task.done():
            self._backfill_task = asyncio.create_task(self.backfill())
            self._backfill_task.add_done_callback(self._backfill_finished)
        else:
            # A shard that became ready during a run may have servers the run did not see: read them next.
            self._backfill_again = True

    def _backfill_finished(self, _task: asyncio.Task[int]) -> None:
        if self._backfill_again:
            self._backfill_again = False
            self._start_backfill()

    def _retry_backfill_later(self) -> None:
        if self._closing or self._backfill_retry is not None:  # closing cancels it; firing clears it
            return
        delay = min(self.backfill_retry_seconds * 2**self._backfill_failures, BACKFILL_RETRY_CAP_SECONDS)
        self._backfill_failures += 1

        def retry() -> None:
            self._backfill_retry = None
            self._start_backfill()

        self._backfill_retry = asyncio.get_running_loop().call_later(delay, retry)
        log.info("backfill will be tried again in %.0f s", delay)

    async def backfill(self) -> int:
        """Read what watched channels received while the bot was away; returns messages read. A channel that
        fails is tried again later (`_retry_backfill_later`)."""
        read = 0
        failed = False
        # A process receives only its shards' servers; the scope says so explicitly all the same.
        guilds = [guild for guild in self._bot.guilds if self._bot.shard_scope.owns(guild.id)]
        async with self._backfill_lock:
            for guild in guilds:
                try:
                    settings = await self._guild_settings.get(guild.id)
                except Exception as error:
                    failed = True
                    log_background_failure(log, error, "backfill of server %s failed", guild.id)
                    continue
                for channel_id in settings.challenge_channel_ids:
                    channel = guild.get_channel(channel_id)
                    if not isinstance(channel, discord.TextChannel):
                        continue
                    try:
                        read += await self._backfill_channel(channel)
                    except Exception as error:
                        # One failing channel must not stop the others, nor the bot.
                        failed = True
                        log_background_failure(log, error, "backfill of channel %s failed", channel_id)
            if self._recheck_due:
                rechecked = True
                for guild in guilds:
                    try:
                        await self.recheck_sources(guild.id)
                    except Exception as error:
                        failed, rechecked = True, False
                        log_background_failure(
                            log, error, "re-checking the logged messages of server %s failed", guild.id
                        )
                self._recheck_due = not rechecked
        if failed:
            self._retry_backfill_later()
        else:
            self._backfill_failures = 0
        return read

    async def recheck_sources(self, guild_id: int) -> int:
        """Follow deletions made while the bot was away: ask Discord for the messages of the server's newest entries
        (at most `RECHECK_LIMIT`, logged within `RECHECK_WINDOW`) and soft-delete those it no longer has. Only
        "Unknown Message" counts as gone; no access or an error proves nothing. Returns the entries deleted."""
        since = datetime.now(UTC) - RECHECK_WINDOW
        gone: list[int] = []
        for channel_id, message_id in await self._challenges.recent_sources(guild_id, since, limit=RECHECK_LIMIT):
            if self._closing:
                break
            channel = self._bot.get_partial_messageable(channel_id, guild_id=guild_id)
            try:
                await channel.fetch_message(message_id)
            except discord.NotFound as error:
                if error.code == UNKNOWN_MESSAGE:
                    gone.append(message_id)
            except discord.HTTPException:
                continue
        if gone:
            await self._challenges.sources_deleted(guild_id, gone)
            log.info("%d logged messages of server %s were deleted while the bot was away", len(gone), guild_id)
        return len(gone)

    async def _backfill_channel(self, channel: discord.TextChannel) -> int:
        after = await self._challenges.cursor(channel.id)
        if after:
            # Read again a little before the cursor: should a post ever be committed after a newer one (live posts
            # and a backfill interleave), a crash between the two cannot hide it. Posts already logged cost only a
            # skip (the unique source-message key).
            rewound = discord.utils.snowflake_time(after) - BACKFILL_REWIND
            after = max(0, discord.utils.time_snowflake(rewound))
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
        # Every post goes to the writer first, so the history is written in a few transactions.
        submitted = []
        for message in history:
            if self._closing:
                break
            try:
                pending = await self._submit(message)
            except Exception:
                log.exception("could not log message %s from the history of #%s", message.id, channel)
                continue
            if pending is not None:
                submitted.append((message, pending))
        for message, post in submitted:
            try:
                await self._logged(message, post)
            except Exception:
                log.exception("could not log message %s from the history of #%s", message.id, channel)
        if after is None and not history:
            # Watched from an empty channel on: everything after its start is to be read, should the bot
            # stop before the first post moves the cursor (posts move it in the transaction logging them).
            await self._challenges.advance_cursor(channel.guild.id, channel.id, 0)
        if history:
            log.info("backfilled %d messages from #%s", len(history), channel)
        return len(history)

    # ----- nudges ----------------------------------------------------------------------------

    @tasks.loop(minutes=NUDGE_INTERVAL_MINUTES)
    async def nudge(self) -> None:
        async with self._nudge_lock:
            if self._closing:
                return
            try:
                await self.send_due_nudges(datetime.now(UTC))
            except Exception as error:
                # A task loop stops for good on an error it does not expect: the next round must still come.
                log_background_failure(log, error, "nudge round failed; the next one retries")

    @nudge.before_loop
    async def _before_nudge(self) -> None:
        await self._bot.wait_until_ready()

    async def send_due_nudges(self, now: datetime) -> int:
        """Send every nudge that is due (derived from the database, so restarts neither skip nor repeat). A channel
        that refuses the bot (403, or gone: 404) keeps its claim, so it is not retried at the head of every round:
        its nudges are dropped with one warning, and the channel is tried again after `REFUSED_CHANNEL_BACKOFF`."""
        sent = 0
        refused_now: dict[int, int] = {}
        for nudge in await self._challenges.due_nudges(now):
            if self._closing:
                break
            channel_id = nudge.challenge.channel_id
            if not await self._challenges.claim_nudge(nudge, now):
                continue
            if self._refusing(channel_id):
                refused_now[channel_id] = refused_now.get(channel_id, 0) + 1
                continue
            try:
                await self._send_nudge(nudge)
                sent += 1
            except (discord.Forbidden, discord.NotFound) as error:
                self._refused_channels[channel_id] = time.monotonic()
                refused_now[channel_id] = refused_now.get(channel_id, 0) + 1
                log.warning(
                    "channel %s refuses the bot's nudges (%s %s); its nudges are dropped, the channel is tried "
                    "again in %d minutes",
                    channel_id,
                    error.status,
                    error.text or "",
                    REFUSED_CHANNEL_BACKOFF // 60,
                )
            except NotFoundError:
                continue  # deleted since it was found due: nothing to nudge
            except Exception as error:
                # Anything else (a 5xx after retries, the database away) passes: the next round tries again.
                log_background_failure(log, error, "could not send a nudge for challenge %s", nudge.challenge.id)
                await self._challenges.release_nudge(nudge)
        for channel_id, count in refused_now.items():
            log.debug("dropped %d nudges for channel %s, which refuses the bot", count, channel_id)
        return sent

    def _refusing(self, channel_id: int) -> bool:
        """Whether the channel refused a nudge less than `REFUSED_CHANNEL_BACKOFF` ago."""
        since = self._refused_channels.get(channel_id)
        if since is None:
            return False
        if time.monotonic() - since >= REFUSED_CHANNEL_BACKOFF:
            del self._refused_channels[channel_id]
            return False
        return True

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
