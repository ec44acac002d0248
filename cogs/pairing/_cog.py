"""`/pair …` and `/session …`: thin adapters over `PairingService`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import PermissionDeniedError
from bot.interactions import replies
from bot.pairing.timezones import timezone_choices
from bot.services.challenges import Person
from bot.services.pairing import (
    MAX_DURATION,
    MAX_PAUSE_DAYS,
    MIN_DURATION,
    UNTIL_RESUMED,
    PairAsk,
    PairingService,
    RequestOutcome,
    SessionView,
    notice_nonce,
)
from cogs._shared import to_embed
from cogs.pairing._announce import Announcer
from cogs.pairing._members import member_in_server
from cogs.pairing._render import (
    history_text,
    invitation_answer_text,
    invitation_sent_text,
    invitation_text,
    invitation_undelivered_text,
    scheduled_text,
    sessions_text,
    stamp,
    stats_embed,
    status_text,
    withdrawn_text,
)
from cogs.pairing._views import invitation_view, request_and_announce

PersonOf = Callable[[discord.Interaction], Awaitable[Person]]
TrackOption = Literal["frontend", "backend"]
LookingForOption = Literal["frontend", "backend", "any"]


class PairingCog(commands.GroupCog, group_name="pair", group_description="Find a frontend or backend study partner"):
    def __init__(self, pairing: PairingService, announcer: Announcer, person_of: PersonOf) -> None:
        self.pairing = pairing
        self.announcer = announcer
        self._person_of = person_of

    @app_commands.command(name="request", description="Join the pairing queue; matched at once when a partner fits")
    @app_commands.describe(
        track="Your track",
        looking_for="Whom you want to pair with (default: the other track)",
        topics="Topics you want to work on, comma-separated",
        timezone="Your timezone, e.g. Africa/Lagos (type a city or UTC+1)",
        availability="When you are free each week, in your timezone: Mon-Fri 18:00-21:00, Sat 10-14",
    )
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def request(
        self,
        interaction: discord.Interaction,
        track: TrackOption,
        looking_for: LookingForOption | None = None,
        topics: app_commands.Range[str, 1, 300] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        availability: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        ask = PairAsk(
            guild_id=interaction.guild_id or 0,
            user_id=interaction.user.id,
            name=interaction.user.display_name,
            track=track,
            looking_for=looking_for,
            topics=topics,
            timezone=timezone,
            availability=availability,
        )

        async def join(service: PairingService, now: datetime) -> RequestOutcome:
            return await service.request(ask, now)

        await request_and_announce(interaction, join)

    @request.autocomplete("topics")
    async def _topics(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        # The track being asked for in this same command, when already chosen, decides the order.
        track = getattr(interaction.namespace, "track", None)
        choices = await self.pairing.topic_choices(current, interaction.guild_id, interaction.user.id, track)
        return [app_commands.Choice(name=name, value=value) for name, value in choices]

    @request.autocomplete("timezone")
    async def _timezone(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name, value=value) for name, value in timezone_choices(current)]

    @app_commands.command(name="status", description="Your pairing request, pause and current partners")
    @app_commands.guild_only()
    async def status(self, interaction: discord.Interaction) -> None:
        status = await self.pairing.status(interaction.guild_id or 0, interaction.user.id, self.pairing.now())
        await replies.send(interaction, status_text(status, self.pairing.topic_title), ephemeral=True)

    @app_commands.command(name="cancel", description="Withdraw your waiting pairing request")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def cancel(self, interaction: discord.Interaction) -> None:
        await self.pairing.cancel(interaction.guild_id or 0, interaction.user.id, self.pairing.now())
        await replies.send(
            interaction,
            "Your pairing request is withdrawn. `/pair request` puts you back in the queue.",
            ephemeral=True,
        )

    @app_commands.command(name="history", description="Your past and current pairings")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        pairs = await self.pairing.history(interaction.guild_id or 0, interaction.user.id)
        await replies.send(interaction, history_text(pairs, self.pairing.topic_title), ephemeral=True)

    @app_commands.command(name="pause", description="Stay out of matching for a while, keeping your profile")
    @app_commands.describe(days=f"For how many days (1-{MAX_PAUSE_DAYS}); leave out to pause until you resume")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def pause(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, MAX_PAUSE_DAYS] | None = None
    ) -> None:
        until = await self.pairing.pause(interaction.guild_id or 0, interaction.user.id, days, self.pairing.now())
        when = "until you `/pair resume`" if until >= UNTIL_RESUMED else f"until {stamp(until)}"
        await replies.send(
            interaction,
            f"⏸️ Paused {when}. Your profile and any waiting request are kept; nobody is matched with you meanwhile.",
            ephemeral=True,
        )

    @app_commands.command(name="resume", description="Come back into matching after a pause")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def resume(self, interaction: discord.Interaction) -> None:
        was_paused = await self.pairing.resume(interaction.guild_id or 0, interaction.user.id, self.pairing.now())
        message = "Welcome back: you are in matching again." if was_paused else "You were not paused: nothing changed."
        await replies.send(interaction, message, ephemeral=True)

    @app_commands.command(name="stats", description="Queue, waits, matches and check-ins (moderators)")
    @app_commands.guild_only()
    async def stats(self, interaction: discord.Interaction) -> None:
        if not (await self._person_of(interaction)).is_moderator:
            raise PermissionDeniedError("`/pair stats` is for moderators (Manage Messages or the moderator role).")
        stats = await self.pairing.stats(interaction.guild_id or 0, self.pairing.now())
        await replies.send(interaction, embed=to_embed(stats_embed(stats)), ephemeral=True)


class SessionCog(commands.GroupCog, group_name="session", group_description="Study sessions with your partner"):
    def __init__(self, pairing: PairingService, announcer: Announcer) -> None:
        self.pairing = pairing
        self.announcer = announcer

    @app_commands.command(
        name="schedule", description="Book a session with your partner, or invite someone else to accept one"
    )
    @app_commands.describe(
        partner="Whom you study with",
        when="In your timezone: tomorrow 18:00, Fri 20:00, 2026-12-03 19:30, in 2 hours",
        topic="What you will work on",
        duration=f"Minutes ({MIN_DURATION}-{MAX_DURATION}, default 60)",
    )
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def schedule(
        self,
        interaction: discord.Interaction,
        partner: discord.User,
        when: app_commands.Range[str, 1, 60],
        topic: app_commands.Range[str, 1, 80] | None = None,
        duration: app_commands.Range[int, MIN_DURATION, MAX_DURATION] | None = None,
    ) -> None:
        guild_id = interaction.guild_id or 0
        in_server = isinstance(partner, discord.Member) or await member_in_server(
            interaction.client, guild_id, partner.id
        )
        session = await self.pairing.schedule(
            guild_id=guild_id,
            organiser_id=interaction.user.id,
            partner_id=partner.id,
            partner_is_bot=partner.bot,
            partner_in_server=in_server,
            when=when,
            topic=topic,
            duration_minutes=duration,
            now=self.pairing.now(),
        )
        if session.state == "proposed":
            await self._invite(interaction, session)
            return
        timezone = await self.pairing.timezone_of(guild_id, interaction.user.id)
        await replies.send(
            interaction,
            scheduled_text(session, interaction.user.id, timezone, self.pairing.topic_title),
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[partner]),
        )

    async def _invite(self, interaction: discord.Interaction, session: SessionView) -> None:
        """Not partners: ask the invitee privately (a DM with Accept and Decline) and tell only the organiser.
        Where the DM cannot be delivered the invitation is dropped: consent cannot be asked in public."""
        await replies.defer(interaction, ephemeral=True, thinking=True)
        guild_name = interaction.guild.name if interaction.guild is not None else "this server"
        timezone = await self.pairing.timezone_of(session.guild_id, session.partner_id)
        delivered = await self.announcer.direct_message(
            session.partner_id,
            invitation_text(session, guild_name, timezone, self.pairing.topic_title),
            view=invitation_view(session.session_id),
            nonce=notice_nonce("invite", session.session_id),
        )
        if not delivered:
            await self.pairing.invitation_undelivered(session.session_id)
            await replies.send(
                interaction,
                invitation_undelivered_text(session.partner_id),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        await replies.send(
            interaction,
            invitation_sent_text(session),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @schedule.autocomplete("topic")
    async def _topic(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        choices = await self.pairing.topic_choices(current.replace(",", " "), interaction.guild_id, interaction.user.id)
        return [app_commands.Choice(name=name, value=value) for name, value in choices]

    @app_commands.command(name="list", description="Your upcoming study sessions")
    @app_commands.guild_only()
    async def list(self, interaction: discord.Interaction) -> None:
        sessions = await self.pairing.upcoming(interaction.guild_id or 0, interaction.user.id, self.pairing.now())
        invitations = await self.pairing.invitations(interaction.guild_id or 0, interaction.user.id, self.pairing.now())
        text = sessions_text(sessions, interaction.user.id, self.pairing.topic_title, invitations)
        await replies.send(interaction, text, ephemeral=True)

    @app_commands.command(name="cancel", description="Call off one of your study sessions")
    @app_commands.describe(id="The session's number, from /session list")
    @app_commands.guild_only()
    @app_commands.checks.cooldown(5, 60.0)
    async def cancel(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        session = await self.pairing.cancel_session(
            interaction.guild_id or 0, id, interaction.user.id, self.pairing.now()
        )
        if session.state in ("withdrawn", "declined"):
            # An invitation, never booked: answered privately, pinging nobody.
            await replies.send(
                interaction,
                withdrawn_text(session, interaction.user.id),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            if session.state == "declined":
                timezone = await self.pairing.timezone_of(session.guild_id, session.organiser_id)
                await self.announcer.direct_message(
                    session.organiser_id,
                    invitation_answer_text(session, timezone, self.pairing.topic_title),
                    nonce=notice_nonce("answer", session.session_id),
                )
            return
        other = session.other(interaction.user.id)
        await replies.send(
            interaction,
            f"Session **#{session.session_id}** on {stamp(session.starts_at)} is cancelled; <@{other}>, no need "
            "to come. Book another with `/session schedule`.",
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(other)]),
        )
