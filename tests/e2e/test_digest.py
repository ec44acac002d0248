"""The weekly digest end to end: `/nexus setup digest_*`, `/nexus digest preview`, and the weekly post driven with a
fake clock across weeks and restarts: exactly one digest per server and week (a resend after a crash carries the same
nonce and Discord drops it), nothing pinged, and a channel that refuses the bot logged once and skipped.

The bot's own periodic digest pass is stopped in these tests; each test runs a pass itself at the time it wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import cast

import discord
import pytest

from bot.client import NexusBot
from bot.services.digest import DigestService, digest_nonce
from cogs.digest import DigestCog, DigestReport
from tests.e2e.harness import running_bot, settings_for
from tests.e2e.learners import NOW, Clock
from tests.e2e.server import EPHEMERAL, JSON, FakeDiscord
from tests.e2e.users import FakeUser

WEEK = timedelta(days=7)


def _cog(bot: NexusBot) -> DigestCog:
    cog = bot.get_cog("DigestCog")
    assert cog is not None
    return cast(DigestCog, cog)


@contextlib.asynccontextmanager
async def running_with_digest_by_hand(server: FakeDiscord, database: str, clock: Clock) -> AsyncIterator[NexusBot]:
    """The bot with its digest clock `clock` and its periodic digest pass stopped (a pass in progress finishes)."""
    async with running_bot(settings_for(server, database)) as bot:
        cog = _cog(bot)
        await cog.cog_unload()
        task = cog.periodic.get_task()
        if task is not None:
            await asyncio.wait({task}, timeout=10)
        bot.services.digest.clock = clock
        yield bot


async def _pass(bot: NexusBot, clock: Clock) -> DigestReport:
    return await _cog(bot).run_due(clock.now)


def _digests(server: FakeDiscord, channel_id: int) -> list[JSON]:
    return [
        message
        for message in server.channel_messages(channel_id)
        if message["author"]["id"] == server.bot_user["id"]
        and not message["flags"] & EPHEMERAL
        and message["embeds"]
        and message["embeds"][0]["title"].startswith("Weekly digest")
    ]


def _sends(server: FakeDiscord, channel_id: int) -> list[JSON]:
    path = f"/api/v10/channels/{channel_id}/messages"
    return [call.body for call in server.calls if call.method == "POST" and call.path == path]


async def _log_with_modal(user: FakeUser, **values: str) -> None:
    modal = await user.slash("challenge new")
    inputs = [row["components"][0]["custom_id"] for row in modal.modal["components"]]
    await user.submit_modal(modal, **dict(zip(inputs, values.values(), strict=False)))


async def test_one_digest_per_week_across_restarts_and_a_crash_and_a_refusing_channel_skipped(
    discord_server: FakeDiscord,
    database: str,
    learner: FakeUser,
    mentor: FakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guild, channel = discord_server.guild_id, discord_server.general_id
    owner = FakeUser(discord_server, discord_server.owner_id)
    clock = Clock(NOW - timedelta(days=2))  # a Saturday; NOW is a Monday 09:00 UTC
    async with running_with_digest_by_hand(discord_server, database, clock) as bot:
        refused = await learner.slash("nexus setup", digest_channel=channel)
        assert "Manage Server" in refused.content
        saved = await owner.slash("nexus setup", digest_channel=channel, digest_day=0, digest_hour=9)
        assert saved.ephemeral
        assert saved.content.startswith("Saved.")
        assert f"in <#{channel}> every Monday at 09:00 UTC" in saved.content
        assert "the hour is UTC" in saved.content
        assert f"<t:{int(NOW.timestamp())}:F>" in saved.content
        await _log_with_modal(learner, title="Celery tasks hang @everyone <@1>", details="worker never acks")

        # Not before its moment, then once.
        clock.now = NOW - timedelta(minutes=1)
        assert (await _pass(bot, clock)).sent == []
        clock.now = NOW + timedelta(minutes=1)
        assert (await _pass(bot, clock)).sent == [(guild, "2026-W" + f"{NOW.isocalendar()[1]:02d}")]
        clock.advance(minutes=5)
        assert (await _pass(bot, clock)).sent == []
    (first,) = _digests(discord_server, channel)
    fields = {field["name"]: field["value"] for field in first["embeds"][0]["fields"]}
    assert "Celery tasks hang" in fields["Still needing help (oldest first)"]
    assert first["mentions"] == []
    assert first["mention_everyone"] is False
    assert first["allowed_mentions"] == {"parse": []}
    week_one = f"{NOW.isocalendar()[0]}-W{NOW.isocalendar()[1]:02d}"
    (sent_one,) = _sends(discord_server, channel)
    assert sent_one["nonce"] == str(digest_nonce(guild, week_one))
    assert sent_one["enforce_nonce"] is True

    # A restart later in the same week posts nothing again.
    async with running_with_digest_by_hand(discord_server, database, clock) as bot:
        clock.now = NOW + timedelta(days=3)
        assert (await _pass(bot, clock)).sent == []
        # Next week: a sender claims it and gets it to Discord, then dies before marking it sent.
        clock.now = NOW + WEEK + timedelta(minutes=1)
        digest: DigestService = bot.services.digest
        (due,) = await digest.due(clock.now)
        assert await digest.claim(due, clock.now)
        await bot.get_partial_messageable(channel, guild_id=guild).send(
            "the dead sender's copy", nonce=due.nonce, allowed_mentions=discord.AllowedMentions.none()
        )
    week_two = due.week
    assert week_two != week_one
    async with running_with_digest_by_hand(discord_server, database, clock) as bot:
        clock.advance(minutes=1)
        assert (await _pass(bot, clock)).sent == []  # the claim is still live: nobody else sends
        clock.advance(minutes=5)
        assert (await _pass(bot, clock)).sent == [(guild, week_two)]
        assert await bot.services.digest.state(guild, week_two) == "sent"
    # The resend carried the same nonce and Discord kept the one message it already had.
    resends = [body for body in _sends(discord_server, channel) if body["nonce"] == str(digest_nonce(guild, week_two))]
    assert len(resends) == 2
    assert len(_digests(discord_server, channel)) == 1

    # Week three: the bot may no longer post there. Logged once, skipped, not retried.
    discord_server.muted_channels.add(channel)
    async with running_with_digest_by_hand(discord_server, database, clock) as bot:
        clock.now = NOW + 2 * WEEK + timedelta(minutes=1)
        with caplog.at_level(logging.WARNING, logger="cogs.digest"):
            report = await _pass(bot, clock)
            clock.advance(hours=1)
            again = await _pass(bot, clock)
        week_three = report.skipped[0][1]
        assert report.skipped == [(guild, week_three)]
        assert again.skipped == []
        assert again.sent == []
        assert await bot.services.digest.state(guild, week_three) == "skipped"
    refusals = [record for record in caplog.records if "refuses the bot" in record.getMessage()]
    assert len(refusals) == 1
    assert f"channel {channel} refuses the bot (403" in refusals[0].getMessage()
    assert len([b for b in _sends(discord_server, channel) if b["nonce"] == str(digest_nonce(guild, week_three))]) == 1

    # Allowed again: the next week is posted as usual.
    discord_server.muted_channels.discard(channel)
    async with running_with_digest_by_hand(discord_server, database, clock) as bot:
        clock.now = NOW + 3 * WEEK + timedelta(minutes=1)
        assert len((await _pass(bot, clock)).sent) == 1
    assert len(_digests(discord_server, channel)) == 2


async def test_digest_preview_is_private_and_for_moderators(
    discord_server: FakeDiscord, database: str, learner: FakeUser, mentor: FakeUser
) -> None:
    clock = Clock(NOW)
    async with running_with_digest_by_hand(discord_server, database, clock):
        refused = await learner.slash("nexus digest preview")
        assert refused.ephemeral
        assert "Only moderators" in refused.content
        await _log_with_modal(learner, title="Docker build fails", details="COPY failed")
        preview = await mentor.slash("nexus digest preview")
        assert preview.ephemeral
        assert "Weekly digest: off" in preview.content
        embed = preview.embed
        assert embed["title"].startswith("Weekly digest")
        assert embed["footer"]["text"].startswith("Preview, not posted")
    assert _digests(discord_server, discord_server.general_id) == []


async def test_a_deleted_digest_channel_is_logged_once_and_the_week_skipped(
    discord_server: FakeDiscord, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    guild, gone = discord_server.guild_id, discord_server.snowflake()  # no such channel: Discord answers 404
    clock = Clock(NOW - timedelta(days=1))
    async with running_with_digest_by_hand(discord_server, database, clock) as bot:
        await bot.services.guild_settings.update(guild, digest_channel_id=gone, now=clock.now)
        clock.now = NOW + timedelta(minutes=1)
        with caplog.at_level(logging.WARNING, logger="cogs.digest"):
            first = await _pass(bot, clock)
            clock.advance(minutes=30)
            second = await _pass(bot, clock)
        assert len(first.skipped) == 1
        assert second.skipped == []
        assert second.sent == []
        assert await bot.services.digest.state(guild, first.skipped[0][1]) == "skipped"
    refusals = [record.getMessage() for record in caplog.records if "refuses the bot" in record.getMessage()]
    assert len(refusals) == 1
    assert f"channel {gone} refuses the bot (404" in refusals[0]
    assert len(_sends(discord_server, gone)) == 1
