"""The permissions matrix: for every command, menu and button with a rule about who may use it, who may and who may
not, each asserted end to end.

Every row is (action, actor, allowed). An allowed actor's action takes effect, checked through what the bot answers
afterwards (or, for what no command shows, the row it stored). A refused actor gets a clear ephemeral refusal and
nothing changes.

The actors:

* `author` / `asker` / `learner` / `organiser`: ada, who logged the challenge, asked for the card or the confirmation,
  joined the pairing queue, booked the session: the one the thing belongs to.
* `partner` / `solver` / `addressee`: grace, ada's pairing partner, the author of the solution (or of the message
  marked as one), or the member a topic card was addressed to.
* `stranger`: another learner with no part in it.
* `moderator-role`: a member of the role `/nexus setup moderator_role:` names, a role that grants no permission.
* `manage-messages`, `manage-server`: a member of a role granting only that permission.
* `channel-manage-messages`: a member granted Manage Messages by an overwrite on #general alone (where the commands
  run): that moderates the channel, not the server, so it makes nobody a moderator of Nexus.
* `mentor`: the shared fixture, whose Mentor role grants Manage Messages and Manage Server (staff, not a participant).

The bot counts as a moderator whoever has Manage Messages server-wide (a role's permission, not a channel's
overwrite) or the configured moderator role (`NexusBot.person`);
Manage Server alone is not moderation, it is what `/nexus setup` needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.client import NexusBot
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import SessionRating
from cogs.pairing._scheduler import PassReport
from tests.e2e.learners import BACKEND, FRONTEND, NOW, Clock, pairing_scheduler, running_with_pairing_by_hand
from tests.e2e.server import EPHEMERAL, JSON, FakeDiscord
from tests.e2e.users import Answer, FakeUser

MANAGE_SERVER = 1 << 5
MANAGE_MESSAGES = 1 << 13
ANONYMOUS = "a former member"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def nexus(discord_server: FakeDiscord, database: str, clock: Clock) -> AsyncIterator[NexusBot]:
    """The bot with a pairing channel, its pairing clock under the test's control and its periodic pass stopped
    (scenarios run a pass themselves at the time they want)."""
    async with running_with_pairing_by_hand(discord_server, database, clock) as bot:
        yield bot


# ----- the world a scenario acts in ---------------------------------------------------------------------------------


@dataclass
class World:
    bot: NexusBot
    server: FakeDiscord
    database: str
    clock: Clock
    ada: FakeUser
    grace: FakeUser
    mentor: FakeUser

    @property
    def owner(self) -> FakeUser:
        """The server's owner: every permission; used to arrange settings and to read `/pair stats`."""
        return FakeUser(self.server, self.server.owner_id)

    async def actor(self, who: str) -> FakeUser:
        if who in ("author", "asker", "learner", "organiser"):
            return self.ada
        if who in ("partner", "solver", "addressee"):
            return self.grace
        if who == "mentor":
            return self.mentor
        if who == "stranger":
            return FakeUser(self.server, self.server.add_member("linus"))
        if who == "moderator-role":
            helpers = self.server.add_role("Helpers")  # grants no permission: only the setting makes them moderators
            saved = await self.owner.slash("nexus setup", moderator_role=helpers)
            assert saved.content.startswith("Saved."), saved.content
            return FakeUser(self.server, self.server.add_member("helper", roles=[helpers]))
        if who == "manage-messages":
            role = self.server.add_role("Message managers", MANAGE_MESSAGES)
            return FakeUser(self.server, self.server.add_member("janitor", roles=[role]))
        if who == "channel-manage-messages":
            janitor = self.server.add_member("channel janitor")
            self.server.set_overwrite(self.server.general_id, janitor, allow=MANAGE_MESSAGES)
            return FakeUser(self.server, janitor)
        if who == "manage-server":
            role = self.server.add_role("Server managers", MANAGE_SERVER)
            return FakeUser(self.server, self.server.add_member("admin", roles=[role]))
        raise AssertionError(f"unknown actor {who!r}")

    async def run_pass(self, now: datetime) -> PassReport:
        self.clock.now = now
        return await pairing_scheduler(self.bot).run_due_work(now)


Scenario = Callable[[World, FakeUser, bool], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(action: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[action] = function
        return function

    return register


# ----- helpers --------------------------------------------------------------------------------------------------------


def assert_refused(answer: Answer, *phrases: str) -> None:
    """A clear, private refusal: a message (not a modal), flagged ephemeral, saying why."""
    assert answer.response_type != 9, "a modal was opened for someone who may not"
    assert answer.message["flags"] & EPHEMERAL, f"the refusal is public: {answer.content!r}"
    for phrase in phrases:
        assert phrase in answer.content, answer.content


def _labels(message: JSON) -> list[str]:
    return [component["label"] for row in message.get("components", []) for component in row["components"]]


def _fields(message: JSON) -> dict[str, str]:
    (embed,) = message["embeds"]
    return {field["name"]: field["value"] for field in embed["fields"]}


def _dms_with(server: FakeDiscord, user: FakeUser, text: str) -> list[JSON]:
    channel = server.dm_channels.get(user.id)
    messages = server.channel_messages(channel) if channel is not None else []
    return [message for message in messages if text in message["content"]]


async def _log(user: FakeUser, title: str, details: str = "It fails.", topics: str = "") -> Answer:
    form = await user.slash("challenge new")
    title_id, details_id, topics_id, _tried_id = form.input_ids
    logged = await user.submit_modal(form, **{title_id: title, details_id: details, topics_id: topics})
    assert "Logged as challenge" in logged.content, logged.content
    return logged


async def _solve(user: FakeUser, challenge_id: int, body: str) -> Answer:
    form = await user.slash("challenge solve", id=challenge_id)
    (body_id,) = form.input_ids
    solved = await user.submit_modal(form, **{body_id: body})
    assert f"logged for challenge #{challenge_id}" in solved.content, solved.content
    return solved


async def _show(user: FakeUser, challenge_id: int) -> Answer:
    return await user.slash("challenge show", id=challenge_id)


async def _pair_up(world: World) -> JSON:
    """Ada waits (frontend), Grace arrives a minute later (backend) and is matched: the introduction in the thread."""
    assert "You are in the queue" in (await world.ada.slash("pair request", **FRONTEND)).content
    world.clock.now += timedelta(minutes=1)
    assert "Matched at once" in (await world.grace.slash("pair request", **BACKEND)).content
    (thread,) = world.server.threads
    intro = world.server.channel_messages(int(thread["id"]))[0]
    assert _labels(intro) == ["Schedule a session", "End pairing"]
    return intro


async def _book(world: World) -> datetime:
    """Ada and Grace are paired, and Ada books session #1 with her, tomorrow 18:00 UTC."""
    await _pair_up(world)
    booked = await world.ada.slash("session schedule", partner=world.grace.id, when="tomorrow 19:00")  # Lagos
    assert "Session **#1**" in booked.content, booked.content
    tomorrow = world.clock.now + timedelta(days=1)
    return tomorrow.replace(hour=18, minute=0, second=0, microsecond=0)


async def _ratings(database: str) -> list[tuple[int, int]]:
    engine = create_engine(database)
    try:
        async with create_session_factory(engine)() as session:
            return [(row.rater_id, row.value) for row in (await session.scalars(select(SessionRating))).all()]
    finally:
        await engine.dispose()


# ----- challenges -----------------------------------------------------------------------------------------------------


@scenario("challenge-delete")
async def _challenge_delete(world: World, actor: FakeUser, allowed: bool) -> None:
    await _log(world.ada, "Kubernetes pod keeps restarting", "CrashLoopBackOff")
    answer = await actor.slash("challenge delete", id=1)
    after = await _show(world.ada, 1)
    if allowed:
        assert answer.ephemeral
        assert answer.content == "Challenge #1 is deleted."
        assert after.ephemeral
        assert "does not exist or was deleted" in after.content
    else:
        assert_refused(answer, "Only the challenge's author or a moderator can delete this challenge.")
        assert after.embed["title"] == "#1 · Kubernetes pod keeps restarting"


@scenario("challenge-accept")
async def _challenge_accept(world: World, actor: FakeUser, allowed: bool) -> None:
    await _log(world.ada, "IntegrityError on signup", "duplicate key value violates unique constraint")
    await _solve(world.grace, 1, "Check the email is unique before saving.")
    answer = await actor.slash("challenge accept", id=1, solution=1)
    after = (await _show(world.ada, 1)).embed
    if allowed:
        assert answer.content == "Solution #1 is accepted: challenge #1 is solved."
        assert after["fields"][0]["name"].startswith("✅ Accepted solution #1")
        assert after["footer"]["text"].startswith("Solved")
    else:
        assert_refused(answer, "Only the challenge's author or a moderator can accept a solution.")
        assert after["fields"][0]["name"].startswith("Solution #1")
        assert after["footer"]["text"].startswith("Open")


@scenario("accept-button")
async def _accept_button(world: World, actor: FakeUser, allowed: bool) -> None:
    await _log(world.ada, "CORS errors from the React app", "blocked by CORS policy")
    solved = await _solve(world.grace, 1, "Add django-cors-headers and list the origin.")
    answer = await actor.click(solved.message, "Accept #1")
    after = (await _show(world.ada, 1)).embed
    if allowed:
        assert "Solution #1 is accepted: challenge #1 is solved." in answer.content
        assert after["fields"][0]["name"].startswith("✅ Accepted solution #1")
    else:
        assert_refused(answer, "Only the challenge's author or a moderator can accept a solution.")
        assert after["footer"]["text"].startswith("Open")


@scenario("edit-button")
async def _edit_button(world: World, actor: FakeUser, allowed: bool) -> None:
    logged = await _log(world.ada, "Celery beat never fires", "tasks scheduled, nothing runs")
    answer = await actor.click(logged.message, "Edit")
    if allowed:
        assert answer.modal["title"] == "Edit the challenge"
        title_id, _details_id, _topics_id = answer.input_ids
        edited = await actor.submit_modal(answer, **{title_id: "Celery beat never fires on schedule"})
        assert edited.content == "Challenge #1 updated."
    else:
        assert_refused(answer, "Only the challenge's author or a moderator can edit it.")
    title = (await _show(world.ada, 1)).embed["title"]
    assert title == ("#1 · Celery beat never fires on schedule" if allowed else "#1 · Celery beat never fires")


@scenario("log-as-challenge")
async def _log_as_challenge(world: World, actor: FakeUser, allowed: bool) -> None:
    question = world.ada.post(world.server.general_id, "How do I stop my Celery worker from losing tasks?")
    answer = await actor.context_menu(question, "Log as challenge")
    after = await _show(world.ada, 1)
    if allowed:
        assert answer.content.startswith("Logged as challenge **#1**"), answer.content
        assert "by ada" in after.embed["footer"]["text"], "the message's author stays the challenge's author"
    else:
        assert_refused(answer, "Only the message's author or a moderator can log it as a challenge.")
        assert "does not exist" in after.content


@scenario("mark-as-solution")
async def _mark_as_solution(world: World, actor: FakeUser, allowed: bool) -> None:
    question = world.ada.post(world.server.general_id, "How do I stop my Celery worker from losing tasks?")
    assert (await world.ada.context_menu(question, "Log as challenge")).content.startswith("Logged as challenge")
    reply = world.grace.post(world.server.general_id, "Set acks_late=True on the task.", reply_to=question)
    answer = await actor.context_menu(reply, "Mark as solution")
    fields = (await _show(world.ada, 1)).embed.get("fields", [])
    if allowed:
        assert answer.content.startswith("Logged as solution #1 to challenge #1"), answer.content
        assert fields[0]["name"] == "Solution #1 · by grace", "the message's author stays the solution's author"
    else:
        assert_refused(
            answer,
            "Only the challenge's author, the message's author or a moderator can mark this message as a solution.",
        )
        assert fields == []


@scenario("challenge-list-pages")
async def _challenge_list_pages(world: World, actor: FakeUser, allowed: bool) -> None:
    for number in range(6):  # one more than a page
        await _log(world.ada, f"Docker problem number {number}", "container exits")
    listing = await world.ada.slash("challenge list")
    assert "Page 1 of 2" in listing.embed["footer"]["text"]
    answer = await actor.click(listing.message, "Next")
    shown = world.server.messages[int(listing.message["id"])]["embeds"][0]
    if allowed:
        assert answer.response_type == 7
        assert "Page 2 of 2" in shown["footer"]["text"]
    else:
        assert_refused(answer, "Only the person who asked can turn these pages")
        assert "Page 1 of 2" in shown["footer"]["text"]


# ----- topics ---------------------------------------------------------------------------------------------------------


@scenario("topic-card-delete")
async def _topic_card_delete(world: World, actor: FakeUser, allowed: bool) -> None:
    card = await world.ada.slash("topic", name="celery", user=world.grace.id)
    assert not card.ephemeral
    answer = await actor.click(card.message, "Delete")
    if allowed:
        assert answer.response_type == 6, f"refused: {answer.content!r}"
        assert world.server.messages[int(card.message["id"])].get("deleted"), "the card is still there"
    else:
        assert_refused(answer, "Only the person who asked for this card, or a moderator, can delete it.")
        assert not world.server.messages[int(card.message["id"])].get("deleted")


# ----- pairing from a challenge ---------------------------------------------------------------------------------------


@scenario("find-partner-button")
async def _find_partner(world: World, actor: FakeUser, allowed: bool) -> None:
    logged = await _log(world.ada, "Containers cannot reach the database", "connection refused", "docker")
    asked = await actor.click(logged.message, "Find a study partner for this")
    assert asked.ephemeral
    assert "Which track are you on?" in asked.content
    queued = await actor.click(asked.message, "Backend")
    assert allowed, "anyone may look for a partner from an open challenge: there is no refused row"
    assert "You are in the queue as **backend**" in queued.content
    assert "Topics: **Docker**." in queued.content
    assert "Waiting since" in (await actor.slash("pair status")).content


@scenario("track-choice")
async def _track_choice(world: World, actor: FakeUser, allowed: bool) -> None:
    assert not allowed, "choosing the track is find-partner-button's allowed path; this row is someone else's click"
    logged = await _log(world.ada, "Containers cannot reach the database", "connection refused", "docker")
    asked = await world.ada.click(logged.message, "Find a study partner for this")
    answer = await actor.click(asked.message, "Backend")
    assert_refused(
        answer, "This choice is for the learner who asked; press **Find a study partner for this** yourself."
    )
    assert "not in pairing yet" in (await world.ada.slash("pair status")).content
    assert "not in pairing yet" in (await actor.slash("pair status")).content


# ----- pairing buttons ------------------------------------------------------------------------------------------------


@scenario("pair-schedule-button")
async def _pair_schedule(world: World, actor: FakeUser, allowed: bool) -> None:
    intro = await _pair_up(world)
    answer = await actor.click(intro, "Schedule a session")
    if allowed:
        assert answer.modal["title"] == "Schedule a study session"
        when_id, _topic_id, _minutes_id = answer.input_ids
        booked = await actor.submit_modal(answer, **{when_id: "tomorrow 18:00"})
        assert "Session **#1**" in booked.content, booked.content
        assert "**#1**" in (await world.ada.slash("session list")).content
    else:
        assert_refused(answer, "Only the two learners of this pairing can schedule its sessions.")
        assert "No upcoming sessions" in (await world.ada.slash("session list")).content


@scenario("pair-end-button")
async def _pair_end(world: World, actor: FakeUser, allowed: bool) -> None:
    intro = await _pair_up(world)
    answer = await actor.click(intro, "End pairing")
    history = (await world.ada.slash("pair history")).content
    if allowed:
        assert not answer.ephemeral
        assert answer.content.startswith(f"<@{actor.id}> ended this pairing.")
        assert "ongoing" not in history
        assert "ended" in history
    else:
        assert_refused(answer, "Only the two learners of this pairing can end it.")
        assert "ongoing" in history


@scenario("renew-button")
async def _renew(world: World, actor: FakeUser, allowed: bool) -> None:
    await world.ada.slash("pair request", track="frontend", topics="Docker")
    assert (await world.run_pass(NOW + timedelta(days=14, minutes=1))).expired == 1
    (notice,) = _dms_with(world.server, world.ada, "Your pairing request waited")
    answer = await actor.click(notice, "Renew my request")
    status = (await world.ada.slash("pair status")).content
    if allowed:
        assert answer.ephemeral
        assert "You are in the queue as **frontend**" in answer.content
        assert "Waiting since" in status
    else:
        assert_refused(answer, "This button renews someone else's request")
        assert "No request waiting." in status
        assert "not in pairing yet" in (await actor.slash("pair status")).content


@scenario("checkin-button")
async def _checkin(world: World, actor: FakeUser, allowed: bool) -> None:
    await _pair_up(world)
    assert (await world.run_pass(NOW + timedelta(days=3, minutes=5))).checkins == 2
    (question,) = _dms_with(world.server, world.ada, "Did you meet?")
    answer = await actor.click(question, "Yes, we met")
    checkins = _fields((await world.owner.slash("pair stats")).message)["Check-ins (30 days)"]
    if allowed:
        assert answer.ephemeral
        assert answer.content == "Great, thanks for telling me!"
        assert checkins == "2 asked; 1 of 1 said they met"
    else:
        assert_refused(answer, "This question is for someone else")
        assert checkins == "2 asked; no answers yet"


@scenario("session-rating-button")
async def _rating(world: World, actor: FakeUser, allowed: bool) -> None:
    starts = await _book(world)
    assert (await world.run_pass(starts + timedelta(hours=1, minutes=1))).notices == {"rating": 2}
    (question,) = _dms_with(world.server, world.ada, "How did study session **#1**")
    answer = await actor.click(question, "👍 Went well")
    if allowed:
        assert answer.ephemeral
        assert "Your rating is saved" in answer.content
        assert await _ratings(world.database) == [(world.ada.id, 1)]
    else:
        assert_refused(answer, "This rating is someone else's to give.")
        assert await _ratings(world.database) == []


@scenario("session-invitation-button")
async def _invitation(world: World, actor: FakeUser, allowed: bool) -> None:
    """Ada is not paired with Grace: her booking is an invitation in Grace's DMs, which only Grace answers."""
    asked = await world.ada.slash("session schedule", partner=world.grace.id, when="tomorrow 18:00")
    assert asked.ephemeral, asked.content
    (invitation,) = _dms_with(world.server, world.grace, "invites you to a study session")
    answer = await actor.click(invitation, "Accept")
    upcoming = (await world.ada.slash("session list")).content
    if allowed:
        assert answer.content.startswith("✅ Accepted. Session **#1**"), answer.content
        assert "**#1**" in upcoming
    else:
        assert_refused(answer, "This invitation is for someone else: only they can answer it.")
        assert "No upcoming sessions" in upcoming
        assert _labels(world.server.messages[int(invitation["id"])]) == ["Accept", "Decline"]


# ----- pairing commands -----------------------------------------------------------------------------------------------


@scenario("session-cancel")
async def _session_cancel(world: World, actor: FakeUser, allowed: bool) -> None:
    await _book(world)
    answer = await actor.slash("session cancel", id=1)
    upcoming = (await world.ada.slash("session list")).content
    if allowed:
        assert not answer.ephemeral
        assert answer.content.startswith("Session **#1** on "), answer.content
        assert "is cancelled" in answer.content
        assert "No upcoming sessions" in upcoming
    else:
        assert_refused(answer, "Only the two people in a session can cancel it.")
        assert "**#1**" in upcoming


@scenario("pair-stats")
async def _pair_stats(world: World, actor: FakeUser, allowed: bool) -> None:
    await world.ada.slash("pair request", track="frontend")
    answer = await actor.slash("pair stats")
    assert answer.ephemeral
    if allowed:
        assert answer.embed["title"] == "Pairing"
        assert _fields(answer.message)["Queue"] == "frontend: 1, backend: 0"
    else:
        assert_refused(answer, "`/pair stats` is for moderators")
        assert answer.message["embeds"] == []


# ----- administration -------------------------------------------------------------------------------------------------


@scenario("nexus-setup")
async def _nexus_setup(world: World, actor: FakeUser, allowed: bool) -> None:
    general, pairing = world.server.general_id, world.server.pairing_channel_id
    answer = await actor.slash("nexus setup", pairing_channel=general)
    current = await world.owner.slash("nexus setup")
    assert current.content.startswith("Nothing changed; these are the current settings.")
    if allowed:
        assert answer.ephemeral
        assert answer.content.startswith("Saved.")
        assert f"Pairing channel: <#{general}>" in current.content
    else:
        assert_refused(answer, "You need the Manage Server permission for this.")
        assert f"Pairing channel: <#{pairing}>" in current.content


@scenario("digest-preview")
async def _digest_preview(world: World, actor: FakeUser, allowed: bool) -> None:
    answer = await actor.slash("nexus digest preview")
    assert answer.ephemeral
    if allowed:
        assert answer.embed["title"].startswith("Weekly digest")
    else:
        assert_refused(answer, "Only moderators")
        assert answer.message["embeds"] == []


@scenario("forget-me-confirm")
async def _forget_me_confirm(world: World, actor: FakeUser, allowed: bool) -> None:
    await _log(world.ada, "Celery worker loses tasks on restart", "Tasks vanish during deploys")
    asked = await world.ada.slash("nexus forget-me")
    assert _labels(asked.message) == ["Forget me", "Forget me and erase my text", "Cancel"]
    answer = await actor.click(asked.message, "Forget me")
    footer = (await _show(world.grace, 1)).embed["footer"]["text"]
    if allowed:
        assert answer.content.startswith("Done: you are forgotten in this server.")
        assert f"by {ANONYMOUS}" in footer
    else:
        assert_refused(answer, "This confirmation is someone else's.")
        assert "by ada" in footer
        assert _labels(world.server.messages[int(asked.message["id"])]) == [
            "Forget me",
            "Forget me and erase my text",
            "Cancel",
        ]


# ----- the matrix -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    action: str
    actor: str
    allowed: bool

    @property
    def id(self) -> str:
        return f"{self.action}/{self.actor}/{'allowed' if self.allowed else 'refused'}"


def _rows(action: str, *rows: tuple[str, bool]) -> list[Case]:
    return [Case(action, actor, allowed) for actor, allowed in rows]


MATRIX: list[Case] = [
    # /challenge delete: the author or a moderator (Manage Messages, or the moderator role).
    *_rows(
        "challenge-delete",
        ("author", True),
        ("stranger", False),
        ("moderator-role", True),
        ("manage-messages", True),
        ("manage-server", False),
        ("channel-manage-messages", False),
    ),
    # /challenge accept: the challenge's author or a moderator; not the solution's own author.
    *_rows("challenge-accept", ("author", True), ("solver", False), ("stranger", False), ("moderator-role", True)),
    # The Accept button on a solution: the same rule.
    *_rows("accept-button", ("author", True), ("solver", False), ("moderator-role", True), ("manage-messages", True)),
    # The Edit button on a challenge: the author or a moderator.
    *_rows("edit-button", ("author", True), ("stranger", False), ("moderator-role", True), ("manage-messages", True)),
    # The message menu "Log as challenge": the message's author or a moderator.
    *_rows(
        "log-as-challenge",
        ("author", True),
        ("stranger", False),
        ("moderator-role", True),
        ("manage-messages", True),
    ),
    # The message menu "Mark as solution": the challenge's author, the message's author or a moderator.
    *_rows(
        "mark-as-solution",
        ("author", True),
        ("solver", True),
        ("stranger", False),
        ("moderator-role", True),
        ("manage-messages", True),
        ("channel-manage-messages", False),
    ),
    # /challenge list's page buttons: only the person who asked, whoever else presses.
    *_rows("challenge-list-pages", ("asker", True), ("stranger", False), ("mentor", False)),
    # The Delete button of a public /topic card: the person who asked, or a moderator; not the member addressed.
    *_rows(
        "topic-card-delete",
        ("asker", True),
        ("addressee", False),
        ("stranger", False),
        ("manage-messages", True),
        ("moderator-role", True),
        ("channel-manage-messages", False),
    ),
    # "Find a study partner for this" on an open challenge: anyone; its track choice only for who pressed it.
    *_rows("find-partner-button", ("author", True), ("stranger", True)),
    *_rows("track-choice", ("stranger", False)),
    # The introduction's buttons: only the two learners of the pairing, not staff.
    *_rows("pair-schedule-button", ("learner", True), ("partner", True), ("stranger", False), ("mentor", False)),
    *_rows("pair-end-button", ("learner", True), ("partner", True), ("stranger", False), ("mentor", False)),
    # Renew (on an expiry notice), check-in and rating buttons: only the learner they were sent to.
    *_rows("renew-button", ("learner", True), ("stranger", False)),
    *_rows("checkin-button", ("learner", True), ("partner", False), ("stranger", False)),
    *_rows("session-rating-button", ("learner", True), ("partner", False), ("stranger", False)),
    # An invitation to a session (the two are not paired): only the member invited answers it, not its organiser.
    *_rows(
        "session-invitation-button", ("partner", True), ("organiser", False), ("stranger", False), ("mentor", False)
    ),
    # /session cancel: the two people in the session, not staff.
    *_rows("session-cancel", ("organiser", True), ("partner", True), ("stranger", False), ("mentor", False)),
    # /pair stats: moderators only.
    *_rows(
        "pair-stats", ("learner", False), ("moderator-role", True), ("manage-messages", True), ("manage-server", False)
    ),
    # /nexus setup: Manage Server only; moderating is not enough.
    *_rows(
        "nexus-setup",
        ("manage-server", True),
        ("learner", False),
        ("moderator-role", False),
        ("manage-messages", False),
    ),
    # /nexus digest preview: moderators, as for the pairing totals.
    *_rows(
        "digest-preview",
        ("learner", False),
        ("moderator-role", True),
        ("manage-messages", True),
        ("manage-server", False),
    ),
    # /nexus forget-me's Forget me: only the member who asked, not even staff.
    *_rows("forget-me-confirm", ("asker", True), ("stranger", False), ("mentor", False)),
]


def _params() -> list[Any]:
    params = []
    for case in MATRIX:
        params.append(pytest.param(case, id=case.id))
    return params


def test_the_matrix_covers_every_scenario_once_per_actor() -> None:
    assert {case.action for case in MATRIX} == set(SCENARIOS)
    assert len({case.id for case in MATRIX}) == len(MATRIX)


@pytest.mark.parametrize("case", _params())
async def test_permission(
    case: Case,
    nexus: NexusBot,
    discord_server: FakeDiscord,
    database: str,
    clock: Clock,
    learner: FakeUser,
    other_learner: FakeUser,
    mentor: FakeUser,
) -> None:
    world = World(nexus, discord_server, database, clock, learner, other_learner, mentor)
    actor = await world.actor(case.actor)
    await SCENARIOS[case.action](world, actor, case.allowed)
