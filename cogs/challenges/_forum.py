"""Forum channels: each post in a watched forum is a challenge; answers, acceptance, tags, archiving, backfill.

The post's starter message (it shares the thread's id) goes to the challenge log's writer with the post's title and
its tags' topics; replies in the post go there as replies in a thread do. Acknowledgements go through the in-channel
log's queue (`ChallengeLogCog`), so a post is acknowledged once, whatever the gateway repeats. Discord calls that
need Manage Threads (tags, archiving) or Manage Channels (creating the Solved tag) are tried; a refusal is said once
per forum in the log and skipped, never failing the logging.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import discord
from discord.ext import commands, tasks

from bot.client import NexusBot
from bot.core.errors import NexusError
from bot.interactions.error_replies import log_background_failure
from bot.services.challenges import ChallengeService, ChallengeView, IncomingMessage, IngestResult, Person
from bot.services.forum import SOLVED_TAG, ForumService, is_forum_post, is_solved_tag
from bot.services.guild_settings import GuildSettingsService
from cogs._shared import readable_by_everyone, with_retries
from cogs.challenges._listener import BACKFILL_LIMIT, ChallengeLogCog

log = logging.getLogger(__name__)

ACCEPT_EMOJI = "✅"
MAX_TAGS = 5  # Discord's limit of tags on a post
ARCHIVE_INTERVAL_MINUTES = 5
# Archived posts read per forum at a start (newest archived first); the listing stops early once a whole page
# holds only posts read already.
ARCHIVED_BACKFILL = 2000
ARCHIVED_PAGE = 100


def _tag_names(thread: discord.Thread) -> list[str]:
    return [tag.name for tag in thread.applied_tags]


class ForumLogCog(commands.Cog):
    def __init__(
        self,
        bot: NexusBot,
        challenges: ChallengeService,
        forum: ForumService,
        guild_settings: GuildSettingsService,
        log_cog: ChallengeLogCog,
        *,
        reads_messages: bool,
    ) -> None:
        self._bot = bot
        self._challenges = challenges
        self._forum = forum
        self._guild_settings = guild_settings
        self._log_cog = log_cog
        self._reads_messages = reads_messages
        self._warned: set[tuple[int, str]] = set()  # (forum, what it refused): said once in the log
        self._tasks: set[asyncio.Task[None]] = set()
        self._backfill_task: asyncio.Task[int] | None = None
        self._closing = False
        challenges.on_status_change(self._status_changed)

    async def cog_load(self) -> None:
        if self._forum.archive_after is not None:
            self.archive.start()

    async def cog_unload(self) -> None:
        self._closing = True
        self.archive.cancel()
        if self._backfill_task is not None and not self._backfill_task.done():
            await asyncio.wait([self._backfill_task], timeout=10)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    # ----- which posts are watched -----------------------------------------------------------------

    async def _watched_forum(self, channel: object) -> discord.ForumChannel | None:
        """The watched forum a thread is a post of, else None (a private thread is never logged)."""
        if not isinstance(channel, discord.Thread) or not readable_by_everyone(channel):
            return None
        parent = channel.parent
        if not isinstance(parent, discord.ForumChannel):
            return None
        settings = await self._guild_settings.get(channel.guild.id)
        return parent if parent.id in settings.challenge_forum_ids else None

    async def _watched_forum_id(self, guild_id: int, forum_id: int | None) -> bool:
        if forum_id is None:
            return False
        return forum_id in (await self._guild_settings.get(guild_id)).challenge_forum_ids

    def _warn_once(self, forum_id: int, what: str, message: str, *args: object) -> None:
        if (forum_id, what) not in self._warned:
            self._warned.add((forum_id, what))
            log.warning(message, *args)

    # ----- posts and replies -----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self._reads_messages:
            return
        if message.author.id == getattr(self._bot.user, "id", None) and message.guild is not None:
            # Its own acknowledgement or note: the post's cursor moves past it, or every post Nexus answered
            # would look unread to the next start's backfill (a post's newest message would be Nexus's).
            if isinstance(message.channel, discord.Thread) and await self._watched_forum(message.channel):
                await self._challenges.advance_cursor(message.guild.id, message.channel.id, message.id)
            return
        pending = await self._submit(message)
        if pending is not None:
            await self._log_cog.acknowledge_when_logged(message, pending)

    async def _submit(self, message: discord.Message) -> asyncio.Future[IngestResult] | None:
        if message.author.bot or message.webhook_id is not None or message.guild is None:
            return None
        thread = message.channel
        if not isinstance(thread, discord.Thread) or await self._watched_forum(thread) is None:
            return None
        starter = message.id == thread.id
        incoming = IncomingMessage(
            guild_id=message.guild.id,
            channel_id=thread.id,
            message_id=message.id,
            author_id=message.author.id,
            author_name=message.author.display_name,
            content=message.content,
            reference_message_id=message.reference.message_id if message.reference else None,
            thread_parent_message_id=None if starter else thread.id,
            watched_channel_id=thread.id,  # the post's backfill cursor
            forum_post=self._forum.post_text(thread.name, _tag_names(thread), thread.parent_id) if starter else None,
        )
        return self._challenges.submit(incoming)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edit of a post's starter message changes the challenge's details (replies: `ChallengeLogCog`)."""
        content = payload.data.get("content")
        if not self._reads_messages or payload.guild_id is None or content is None:
            return
        if payload.message_id != payload.channel_id:
            return
        thread = self._bot.get_channel(payload.channel_id)
        if isinstance(thread, discord.Thread) and await self._watched_forum(thread) is None:
            return
        # The topics stay: the tags' and any a member set with Edit.
        await self._forum.post_changed(payload.guild_id, payload.channel_id, details=content)

    @commands.Cog.listener()
    async def on_thread_update(self, before: discord.Thread, after: discord.Thread) -> None:
        """A new title or new tags (only then: topics a member set with Edit survive other updates); a post
        archived, locked or moved keeps its entry."""
        renamed = before.name != after.name
        retagged = [tag.id for tag in before.applied_tags] != [tag.id for tag in after.applied_tags]
        if not (renamed or retagged) or await self._watched_forum(after) is None:
            return
        await self._forum.post_changed(
            after.guild.id,
            after.id,
            title=after.name if renamed else None,
            tag_names=_tag_names(after) if retagged else None,
        )

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """A deleted post: its challenge is soft-deleted (Discord sends no deletion of its messages)."""
        if await self._watched_forum_id(payload.guild_id, payload.parent_id):
            await self._challenges.source_deleted(payload.guild_id, payload.thread_id)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted answer may reopen the post (it was the accepted one): the Solved tag follows."""
        if payload.guild_id is None or payload.message_id == payload.channel_id:
            return  # the starter message: `ChallengeLogCog` soft-deletes the challenge
        thread = self._bot.get_channel(payload.channel_id)
        if not isinstance(thread, discord.Thread) or await self._watched_forum(thread) is None:
            return
        # The same deletion `ChallengeLogCog` follows (a second one changes nothing): done here first, so that the
        # status read next is the one after it.
        await self._challenges.source_deleted(payload.guild_id, payload.message_id)
        challenge = await self._challenges.challenge_for_message(payload.guild_id, thread.id)
        if challenge is not None and challenge.status == "open":
            await self._set_solved_tag(thread, solved=False)

    # ----- acceptance by reaction, and what follows any acceptance ----------------------------------

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if (
            str(payload.emoji) != ACCEPT_EMOJI
            or payload.guild_id is None
            or payload.user_id == getattr(self._bot.user, "id", None)
        ):
            return
        thread = self._bot.get_channel(payload.channel_id)
        if not isinstance(thread, discord.Thread) or await self._watched_forum(thread) is None:
            return
        name = payload.member.display_name if payload.member is not None else str(payload.user_id)
        try:
            await self._forum.accept_by_reaction(
                payload.guild_id, thread.id, payload.message_id, Person(payload.user_id, name)
            )
        except NexusError as error:
            log.debug("a ✅ in post %s accepted nothing: %s", thread.id, error)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != ACCEPT_EMOJI or payload.guild_id is None:
            return
        thread = self._bot.get_channel(payload.channel_id)
        if not isinstance(thread, discord.Thread) or await self._watched_forum(thread) is None:
            return
        if await self._forum.reopen_by_reaction(payload.guild_id, thread.id, payload.message_id, payload.user_id):
            await self._set_solved_tag(thread, solved=False)

    def _status_changed(self, challenge: ChallengeView) -> None:
        """An accepted solution, by any path (button, `/challenge accept`, ✅): a forum post gets its tag and note."""
        if not is_forum_post(challenge) or self._closing:
            return
        task = asyncio.get_running_loop().create_task(self._mark_solved(challenge))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _thread(self, guild_id: int, thread_id: int) -> discord.Thread | None:
        guild = self._bot.get_guild(guild_id)
        thread = guild.get_thread(thread_id) if guild is not None else None
        if thread is not None:
            return thread
        try:
            found = await self._bot.fetch_channel(thread_id)  # an archived post is not in the cache
        except discord.HTTPException:
            return None
        return found if isinstance(found, discord.Thread) else None

    async def _mark_solved(self, challenge: ChallengeView) -> None:
        try:
            thread = await self._thread(challenge.guild_id, challenge.channel_id)
            if thread is None or not isinstance(thread.parent, discord.ForumChannel):
                return
            accepted = challenge.accepted
            if accepted is not None and await self._forum.claim_note(
                challenge.guild_id, thread.parent.id, thread.id, accepted.id
            ):
                where = (
                    f"https://discord.com/channels/{challenge.guild_id}/{thread.id}/{accepted.source_message_id}"
                    if accepted.source_message_id
                    else f"`/challenge show id:{challenge.id}`"
                )
                try:
                    await with_retries(
                        lambda: thread.send(
                            f"{ACCEPT_EMOJI} Solved: solution #{accepted.id} was accepted for challenge "
                            f"#{challenge.id}. The answer: {where}",
                            allowed_mentions=discord.AllowedMentions.none(),
                        )
                    )
                except discord.HTTPException:
                    await self._forum.release_note(thread.id, accepted.id)
                    log.warning("could not post the solved note in post %s", thread.id, exc_info=True)
            await self._set_solved_tag(thread, solved=True)
        except Exception as error:
            log_background_failure(log, error, "could not mark forum post %s solved", challenge.channel_id)

    async def _solved_tag(self, forum: discord.ForumChannel, *, create: bool) -> discord.ForumTag | None:
        tag = next((tag for tag in forum.available_tags if is_solved_tag(tag.name)), None)
        if tag is not None or not create:
            return tag
        try:
            return await forum.create_tag(name=SOLVED_TAG)
        except discord.Forbidden:
            self._warn_once(
                forum.id,
                "create tag",
                "forum #%s (%s) has no %s tag and Nexus may not create one (it needs Manage Channels there): "
                "solved posts are not tagged",
                forum.name,
                forum.id,
                SOLVED_TAG,
            )
        except discord.HTTPException:
            log.warning("could not create the %s tag in forum %s", SOLVED_TAG, forum.id, exc_info=True)
        return None

    async def _set_solved_tag(self, thread: discord.Thread, *, solved: bool) -> None:
        """Apply (or remove) the forum's Solved tag, keeping at most 5 tags; a refusal is logged once, skipped."""
        forum = thread.parent
        if not isinstance(forum, discord.ForumChannel):
            return
        tag = await self._solved_tag(forum, create=solved)
        if tag is None:
            return
        current = list(thread.applied_tags)
        has = any(item.id == tag.id for item in current)
        if has == solved:
            return
        others = [item for item in current if item.id != tag.id]
        # Discord holds at most 5 tags on a post: the Solved tag goes first, the last of the others make room.
        wanted = [tag, *others[: MAX_TAGS - 1]] if solved else others
        try:
            await thread.edit(applied_tags=wanted)
        except discord.Forbidden:
            self._warn_once(
                forum.id,
                "tags",
                "Nexus may not change tags in forum #%s (%s): it needs Manage Threads there; solved posts are "
                "logged but not tagged",
                forum.name,
                forum.id,
            )
        except discord.HTTPException:
            log.warning("could not change the tags of post %s", thread.id, exc_info=True)

    # ----- archiving solved posts ------------------------------------------------------------------

    @tasks.loop(minutes=ARCHIVE_INTERVAL_MINUTES)
    async def archive(self) -> None:
        try:
            await self.archive_due(datetime.now(UTC))
        except Exception as error:
            log_background_failure(log, error, "archiving solved forum posts failed; the next round retries")

    @archive.before_loop
    async def _before_archive(self) -> None:
        await self._bot.wait_until_ready()

    async def archive_due(self, now: datetime) -> int:
        """Archive solved posts idle for `NEXUS_FORUM_ARCHIVE_HOURS`; returns how many were archived."""
        archived = 0
        idle = self._forum.archive_after
        if idle is None:
            return 0
        for due in await self._forum.due_archives(now):
            if self._closing:
                break
            thread = await self._thread(due.guild_id, due.thread_id)
            if thread is None or not isinstance(thread.parent, discord.ForumChannel):
                continue
            forum_id = thread.parent.id
            last = thread.last_message_id
            if last is not None and discord.utils.snowflake_time(last) > now - idle:
                continue  # answered since it was solved: not idle yet
            if not thread.archived:
                try:
                    await thread.edit(archived=True)
                    archived += 1
                except discord.Forbidden:
                    self._warn_once(
                        forum_id,
                        "archive",
                        "Nexus may not archive posts in forum #%s (%s): it needs Manage Threads there",
                        thread.parent.name,
                        forum_id,
                    )
                except discord.HTTPException:
                    log.warning("could not archive post %s", thread.id, exc_info=True)
                    continue
            await self._forum.mark_archived(due.guild_id, forum_id, thread.id, now)
        return archived

    # ----- backfill ---------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        idle = self._backfill_task is None or self._backfill_task.done()
        if self._reads_messages and not self._closing and idle:
            self._backfill_task = asyncio.create_task(self.backfill())

    async def backfill(self) -> int:
        """Read the posts of watched forums made or answered while the bot was away: the active ones, then the
        archived ones (newest archived first). Returns the messages read."""
        read = 0
        for guild in self._bot.guilds:
            try:
                settings = await self._guild_settings.get(guild.id)
                if not settings.challenge_forum_ids:
                    continue
                active = await guild.active_threads()
            except Exception as error:
                log_background_failure(log, error, "backfill of the forums of server %s failed", guild.id)
                continue
            for forum_id in sorted(settings.challenge_forum_ids):
                forum = guild.get_channel(forum_id)
                if not isinstance(forum, discord.ForumChannel):
                    continue
                try:
                    read += await self._backfill_forum(forum, [t for t in active if t.parent_id == forum.id])
                except Exception as error:
                    log_background_failure(log, error, "backfill of forum %s failed", forum_id)
        return read

    async def _backfill_forum(self, forum: discord.ForumChannel, active: Sequence[discord.Thread]) -> int:
        read = await self._backfill_threads(active)
        page: list[discord.Thread] = []
        try:
            async for thread in forum.archived_threads(limit=ARCHIVED_BACKFILL):
                page.append(thread)
                if len(page) == ARCHIVED_PAGE:
                    done = await self._backfill_threads(page)
                    read += done
                    page = []
                    if done == 0:
                        break  # a whole page read already: older archived posts were read before
            read += await self._backfill_threads(page)
        except discord.Forbidden:
            self._warn_once(
                forum.id,
                "history",
                "Nexus may not read the archived posts of forum #%s (%s): it needs Read Message History there",
                forum.name,
                forum.id,
            )
        if read:
            log.info("backfilled %d messages from forum #%s", read, forum)
        return read

    async def _backfill_threads(self, threads: Sequence[discord.Thread]) -> int:
        """Read each post's messages after its cursor; posts whose newest message was read already cost nothing."""
        if not threads:
            return 0
        cursors = await self._forum.cursors([thread.id for thread in threads])
        submitted: list[tuple[discord.Message, asyncio.Future[IngestResult]]] = []
        read = 0
        for thread in threads:
            if self._closing:
                break
            cursor = cursors.get(thread.id)
            if cursor is not None and thread.last_message_id is not None and cursor >= thread.last_message_id:
                continue
            after = discord.Object(cursor) if cursor is not None else None
            try:
                history = [
                    message async for message in thread.history(limit=BACKFILL_LIMIT, after=after, oldest_first=True)
                ]
            except discord.HTTPException:
                log.warning("cannot read post %s of forum %s", thread.id, thread.parent_id)
                continue
            read += len(history)
            for message in history:
                pending = await self._submit(message)
                if pending is not None:
                    submitted.append((message, pending))
        for message, pending in submitted:
            try:
                await self._log_cog.acknowledge_when_logged(message, pending)
            except Exception:
                log.exception("could not log message %s from a forum post", message.id)
        return read
