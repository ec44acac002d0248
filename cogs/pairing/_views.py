"""Pairing's buttons and modal. Every button is a DynamicItem with a namespaced custom_id, so it keeps working
after a restart. Each one re-checks, when pressed, the state it acts on (it may be days old) and that the person
pressing it is the one it is for and still a member of the server it acts in (a DM button comes from outside it)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, Self

import discord

from bot.core.errors import InvalidInputError, PermissionDeniedError
from bot.interactions import replies
from bot.services.pairing import MAX_DURATION, MIN_DURATION, PairAsk, PairingService, RequestOutcome, notice_nonce
from cogs._buttons import PersistentButton, ReportingModal, ReportingView
from cogs._shared import nexus, only_pinging
from cogs.pairing._announce import Announcer
from cogs.pairing._members import member_in_server, require_member
from cogs.pairing._render import (
    answered_text,
    invitation_answer_text,
    mention,
    partner_left_text,
    request_reply,
    scheduled_text,
)

TRACK_CHOICE_TIMEOUT_SECONDS = 120.0
RATINGS: dict[str, tuple[int, str, discord.ButtonStyle]] = {
    "good": (1, "👍 Went well", discord.ButtonStyle.success),
    "okay": (0, "😐 Okay", discord.ButtonStyle.secondary),
    "bad": (-1, "👎 Didn't happen / went badly", discord.ButtonStyle.danger),
}


def _parts(interaction: discord.Interaction) -> tuple[PairingService, Announcer]:
    """The pairing service and the announcer the pairing extension provided, for a press or a form."""
    bot = nexus(interaction)
    return bot.services.pairing, bot.part(Announcer)


async def request_and_announce(
    interaction: discord.Interaction, ask: Callable[[PairingService, datetime], Awaitable[RequestOutcome]]
) -> None:
    """Join the queue for the person who pressed or typed, reply privately, and introduce a match at once."""
    service, announcer = _parts(interaction)
    await replies.defer(interaction, ephemeral=True, thinking=True)
    outcome = await ask(service, service.now())
    introduction = await announcer.announce(outcome.match) if outcome.match is not None else None
    if introduction is not None and introduction.partner_left:
        # The match was undone: saying "matched" would be wrong, the asker is waiting again.
        await replies.send(interaction, partner_left_text(), ephemeral=True)
        return
    thread_id = introduction.thread_id if introduction is not None else None
    await replies.send(interaction, request_reply(outcome, service.topic_title, thread_id), ephemeral=True)


class ScheduleButton(
    PersistentButton,
    template=r"nexus:pair:schedule:(?P<pair>[0-9]{1,18})",
):
    def __init__(self, pair_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Schedule a session",
                emoji="📅",
                style=discord.ButtonStyle.primary,
                custom_id=f"nexus:pair:schedule:{pair_id}",
            )
        )
        self.pair_id = pair_id

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["pair"]))

    async def check(self, interaction: discord.Interaction) -> None:
        if interaction.user.id not in (await _parts(interaction)[0].pair_view(self.pair_id)).members():
            raise PermissionDeniedError("Only the two learners of this pairing can schedule its sessions.")

    async def pressed(self, interaction: discord.Interaction) -> None:
        service, _ = _parts(interaction)
        pair = await service.pair_view(self.pair_id)
        if pair.ended_at is not None:
            raise InvalidInputError(
                "This pairing has ended, so it books no more sessions: `/pair request` finds a new partner."
            )
        await require_member(interaction, pair.guild_id)
        partner = pair.partner_of(interaction.user.id)
        await replies.send_modal(interaction, ScheduleModal(pair.guild_id, self.pair_id, partner.user_id))


class ScheduleModal(ReportingModal, title="Schedule a study session"):
    when: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label="When? (in your timezone)", placeholder="tomorrow 18:00 · Fri 20:00 · 2026-12-03 19:30", max_length=60
    )
    topic: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label="Topic (optional)", placeholder="Django ORM", required=False, max_length=80
    )
    duration: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label=f"Minutes (optional, {MIN_DURATION}-{MAX_DURATION})", placeholder="60", required=False, max_length=3
    )

    def __init__(self, guild_id: int, pair_id: int, partner_id: int) -> None:
        super().__init__()
        self.guild_id = guild_id
        self.pair_id = pair_id
        self.partner_id = partner_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        service, announcer = _parts(interaction)
        raw = self.duration.value.strip()
        if raw and not (raw.isascii() and raw.isdigit()):
            raise InvalidInputError(f"Minutes is a number from {MIN_DURATION} to {MAX_DURATION}, like `60`.")
        # The form may have stayed open a long time: the service re-checks that the pairing is still current.
        await require_member(interaction, self.guild_id)
        in_server = await member_in_server(interaction.client, self.guild_id, self.partner_id)
        session = await service.schedule(
            guild_id=self.guild_id,
            organiser_id=interaction.user.id,
            partner_id=self.partner_id,
            partner_is_bot=False,
            partner_in_server=in_server,
            when=self.when.value,
            topic=self.topic.value or None,
            duration_minutes=int(raw) if raw else None,
            now=service.now(),
            pair_id=self.pair_id,
        )
        timezone = await service.timezone_of(self.guild_id, interaction.user.id)
        await replies.send(
            interaction,
            scheduled_text(session, interaction.user.id, timezone, service.topic_title),
            allowed_mentions=only_pinging(self.partner_id),
        )
        if interaction.guild_id is None:
            # Booked from the introduction in a DM: the partner is not in this conversation; tell them in theirs.
            partner_timezone = await service.timezone_of(self.guild_id, self.partner_id)
            await announcer.direct_message(
                self.partner_id, scheduled_text(session, self.partner_id, partner_timezone, service.topic_title)
            )


class EndPairButton(
    PersistentButton,
    template=r"nexus:pair:end:(?P<pair>[0-9]{1,18})",
):
    def __init__(self, pair_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="End pairing", style=discord.ButtonStyle.secondary, custom_id=f"nexus:pair:end:{pair_id}"
            )
        )
        self.pair_id = pair_id

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["pair"]))

    async def pressed(self, interaction: discord.Interaction) -> None:
        service, _ = _parts(interaction)
        await require_member(interaction, await service.pair_guild(self.pair_id))
        await service.end_pair(self.pair_id, interaction.user.id, service.now())
        await replies.send(
            interaction,
            f"{mention(interaction.user.id)} ended this pairing. Thank you both! "
            "`/pair request` finds a new partner whenever you are ready.",
        )


class CheckinButton(
    PersistentButton,
    template=r"nexus:pair:checkin:(?P<pair>[0-9]{1,18}):(?P<user>[0-9]{1,20}):(?P<answer>yes|no)",
):
    def __init__(self, pair_id: int, user_id: int, answer: Literal["yes", "no"]) -> None:
        super().__init__(
            discord.ui.Button(
                label="Yes, we met" if answer == "yes" else "No, not yet",
                style=discord.ButtonStyle.success if answer == "yes" else discord.ButtonStyle.secondary,
                custom_id=f"nexus:pair:checkin:{pair_id}:{user_id}:{answer}",
            )
        )
        self.pair_id, self.user_id, self.answer = pair_id, user_id, answer

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["pair"]), int(match["user"]), "yes" if match["answer"] == "yes" else "no")

    async def check(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.user_id:
            raise PermissionDeniedError("This question is for someone else: only they can answer it.")

    async def pressed(self, interaction: discord.Interaction) -> None:
        service, _ = _parts(interaction)
        await require_member(interaction, await service.pair_guild(self.pair_id))
        await service.answer_checkin(self.pair_id, self.user_id, self.answer == "yes", service.now())
        reply = "Great, thanks for telling me!" if self.answer == "yes" else "Thanks: I'll keep that in mind."
        await replies.send(interaction, reply, ephemeral=True)


def checkin_view(pair_id: int, user_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CheckinButton(pair_id, user_id, "yes"))
    view.add_item(CheckinButton(pair_id, user_id, "no"))
    return view


class RateButton(
    PersistentButton,
    template=r"nexus:session:rate:(?P<session>[0-9]{1,18}):(?P<user>[0-9]{1,20}):(?P<value>good|okay|bad)",
):
    def __init__(self, session_id: int, user_id: int, value: str) -> None:
        _, label, style = RATINGS[value]
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"nexus:session:rate:{session_id}:{user_id}:{value}")
        )
        self.session_id, self.user_id, self.value = session_id, user_id, value

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["session"]), int(match["user"]), match["value"])

    async def check(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.user_id:
            raise PermissionDeniedError("This rating is someone else's to give.")

    async def pressed(self, interaction: discord.Interaction) -> None:
        service, _ = _parts(interaction)
        await require_member(interaction, (await service.session_view(self.session_id)).guild_id)
        await service.rate(self.session_id, self.user_id, RATINGS[self.value][0], service.now())
        await replies.send(
            interaction, "Thanks! Your rating is saved (only you and the matcher see it).", ephemeral=True
        )


def rating_view(session_id: int, user_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for value in RATINGS:
        view.add_item(RateButton(session_id, user_id, value))
    return view


class RenewButton(
    PersistentButton,
    template=r"nexus:pair:renew:(?P<request>[0-9]{1,18})",
):
    def __init__(self, request_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Renew my request", style=discord.ButtonStyle.primary, custom_id=f"nexus:pair:renew:{request_id}"
            )
        )
        self.request_id = request_id

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["request"]))

    async def check(self, interaction: discord.Interaction) -> None:
        # Before anything is stored: still renewable (not renewed or matched since), by a member of its server.
        service, _ = _parts(interaction)
        await require_member(interaction, await service.renewable(self.request_id, interaction.user.id))

    async def pressed(self, interaction: discord.Interaction) -> None:
        user = interaction.user

        async def renew(service: PairingService, now: datetime) -> RequestOutcome:
            return await service.renew(self.request_id, user.id, user.display_name, now)

        await request_and_announce(interaction, renew)


def renew_view(request_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RenewButton(request_id))
    return view


class FindPartnerButton(
    PersistentButton,
    template=r"nexus:challenge:partner:(?P<challenge>[0-9]{1,18})",
):
    """On an open challenge: a pairing request with the challenge's topics filled in."""

    def __init__(self, challenge_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Find a study partner for this",
                emoji="🤝",
                style=discord.ButtonStyle.secondary,
                custom_id=f"nexus:challenge:partner:{challenge_id}",
            )
        )
        self.challenge_id = challenge_id

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["challenge"]))

    async def check(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:
            raise InvalidInputError("Use this button in the server, where the challenge was posted.")

    async def pressed(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None  # noqa: S101 - `check` refused a press outside a server
        service, _ = _parts(interaction)
        await service.challenge_topics(self.challenge_id, interaction.guild_id)  # refuses a deleted challenge
        if await service.has_profile(interaction.guild_id, interaction.user.id):
            await request_and_announce(interaction, self.asking(interaction, None))
            return
        await replies.send(
            interaction,
            "Which track are you on? I'll look for a partner from the other one, with this challenge's topics.",
            view=TrackChoice(self, interaction.user.id),
            ephemeral=True,
        )

    def asking(
        self, interaction: discord.Interaction, track: str | None
    ) -> Callable[[PairingService, datetime], Awaitable[RequestOutcome]]:
        """The request this button makes: the challenge's topics, the learner's profile (or the track chosen)."""
        guild_id, user = interaction.guild_id or 0, interaction.user

        async def ask(service: PairingService, now: datetime) -> RequestOutcome:
            topics = await service.challenge_topics(self.challenge_id, guild_id)
            names = ", ".join(service.topic_title(slug) for slug in topics)
            return await service.request(
                PairAsk(
                    guild_id, user.id, user.display_name, track, topics=names or None, challenge_id=self.challenge_id
                ),
                now,
            )

        return ask


class TrackChoice(ReportingView):
    """Asked once, of a learner with no pairing profile yet; not persistent (it answers one click)."""

    def __init__(self, button: FindPartnerButton, user_id: int) -> None:
        super().__init__(timeout=TRACK_CHOICE_TIMEOUT_SECONDS)
        self._button = button
        self._user_id = user_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self._user_id:
            raise PermissionDeniedError(
                "This choice is for the learner who asked; press **Find a study partner for this** yourself."
            )
        return True

    async def _choose(self, interaction: discord.Interaction, track: str) -> None:
        self.stop()
        await request_and_announce(interaction, self._button.asking(interaction, track))

    @discord.ui.button(label="Frontend", style=discord.ButtonStyle.primary)
    async def frontend(self, interaction: discord.Interaction, _button: discord.ui.Button[TrackChoice]) -> None:
        await self._choose(interaction, "frontend")

    @discord.ui.button(label="Backend", style=discord.ButtonStyle.primary)
    async def backend(self, interaction: discord.Interaction, _button: discord.ui.Button[TrackChoice]) -> None:
        await self._choose(interaction, "backend")


class InvitationButton(
    PersistentButton,
    template=r"nexus:session:invite:(?P<session>[0-9]{1,18}):(?P<answer>accept|decline)",
):
    """Accept or Decline, in the invitee's DMs: a session with someone who is not their partner is booked only after
    they accept. The organiser hears the answer by DM."""

    def __init__(self, session_id: int, answer: Literal["accept", "decline"]) -> None:
        super().__init__(
            discord.ui.Button(
                label="Accept" if answer == "accept" else "Decline",
                style=discord.ButtonStyle.success if answer == "accept" else discord.ButtonStyle.secondary,
                custom_id=f"nexus:session:invite:{session_id}:{answer}",
            )
        )
        self.session_id, self.answer = session_id, answer

    @classmethod
    def from_match(cls, match: re.Match[str], /) -> Self:
        return cls(int(match["session"]), "accept" if match["answer"] == "accept" else "decline")

    async def check(self, interaction: discord.Interaction) -> None:
        invited = await _parts(interaction)[0].session_view(self.session_id)
        if interaction.user.id != invited.partner_id:
            raise PermissionDeniedError("This invitation is for someone else: only they can answer it.")
        await require_member(interaction, invited.guild_id)

    async def pressed(self, interaction: discord.Interaction) -> None:
        service, announcer = _parts(interaction)
        invited = await service.session_view(self.session_id)
        accept = self.answer == "accept"
        if accept and not await member_in_server(interaction.client, invited.guild_id, invited.organiser_id):
            raise InvalidInputError("The member who invited you has left the server: nothing is booked.")
        answered = await service.answer_invitation(self.session_id, interaction.user.id, accept, service.now())
        timezone = await service.timezone_of(answered.guild_id, interaction.user.id)
        # The invitation's buttons go: the DM now says what was answered.
        await replies.edit(
            interaction,
            content=answered_text(answered, interaction.user.id, timezone, service.topic_title),
            view=None,
        )
        organiser_timezone = await service.timezone_of(answered.guild_id, answered.organiser_id)
        await announcer.direct_message(
            answered.organiser_id,
            invitation_answer_text(answered, organiser_timezone, service.topic_title),
            nonce=notice_nonce("answer", answered.session_id),
        )


def invitation_view(session_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(InvitationButton(session_id, "accept"))
    view.add_item(InvitationButton(session_id, "decline"))
    return view


def pair_buttons(pair_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ScheduleButton(pair_id))
    view.add_item(EndPairButton(pair_id))
    return view


DYNAMIC_ITEMS = (
    ScheduleButton,
    EndPairButton,
    CheckinButton,
    RateButton,
    RenewButton,
    FindPartnerButton,
    InvitationButton,
)
