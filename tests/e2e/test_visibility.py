"""What one server's log shows to whom: nothing of a server crosses into another server or into a DM."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from bot.client import NexusBot
from bot.services.challenges import Person
from tests.e2e.harness import running_bot, settings_for, until
from tests.e2e.rows import fetch
from tests.e2e.server import JSON, FakeDiscord
from tests.e2e.users import FakeUser

SOLVED = "Solved challenges"


async def _solved(bot: NexusBot, guild_id: int, title: str) -> int:
    """A challenge tagged Django, solved, in `guild_id` (logged through the service: the fake server has one guild)."""
    service = bot.services.challenges
    author = Person(guild_id + 1, "someone", is_moderator=True)
    logged = await service.log_challenge(
        guild_id=guild_id, channel_id=guild_id + 2, author=author, title=title, details="Migrations", topics="django"
    )
    solution = await service.add_solution(
        guild_id=guild_id, challenge_id=logged.challenge.id, author=Person(guild_id + 3, "helper"), body="Squash them."
    )
    await service.accept(guild_id, logged.challenge.id, solution.solution.id, author)
    return logged.challenge.id


def _fields(embed: JSON) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


def _dm_channel(server: FakeDiscord, user: FakeUser) -> int:
    return server.dm_channels.setdefault(user.id, server.snowflake())


async def test_a_card_shows_only_this_servers_solved_challenges_and_none_in_a_dm(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    # Server A is one the learner does not share with the bot; server B is the fake server they are in.
    server_a = discord_server.snowflake()
    await _solved(nexus, server_a, "Secret migration trouble of server A")
    dm = _dm_channel(discord_server, learner)

    for answer in (
        await learner.slash("topic", name="django", channel=dm, private=True),
        await learner.slash("topic", name="django"),
        await learner.slash("topic", name="django", channel=dm, private=True),
    ):
        assert SOLVED not in _fields(answer.embed), answer.embed
        assert "server A" not in str(answer.embed)

    browser = await learner.slash("topics", category="django", channel=dm)
    card = await learner.select(browser.message, "Open a topic card…", "django")
    assert SOLVED not in _fields(card.embed)
    assert "server A" not in str(card.embed)

    # Once server B has a solved challenge of its own, its cards show that one, and a DM still shows none.
    own = await _solved(nexus, discord_server.guild_id, "Migration conflict in server B")
    in_b = _fields((await learner.slash("topic", name="django", private=True)).embed)[SOLVED]
    assert f"`#{own}` Migration conflict in server B" in in_b
    assert in_b.startswith("**1** solved")
    assert "server A" not in in_b
    in_dm = await learner.slash("topic", name="django", channel=dm, private=True)
    assert SOLVED not in _fields(in_dm.embed)


async def test_a_cards_delete_button_trusts_the_card_not_its_custom_id(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser
) -> None:
    card = await learner.slash("topic", name="celery")
    # The button names someone else than the asker (a forged or tampered custom_id: discord.py answers only the
    # custom_ids a message carries, so the message is changed here rather than the click).
    button = card.message["components"][0]["components"][0]
    button["custom_id"] = f"nexus:topic:delete:{other_learner.id}"
    refused = await other_learner.click(card.message, "Delete")
    assert refused.ephemeral
    assert "Only the person who asked for this card, or a moderator, can delete it." in refused.content
    assert not card.message.get("deleted")
    # The asker, whom Discord's record of the card names, can still delete it.
    pressed = await learner.click(card.message, "Delete")
    assert pressed.response_type == 6
    assert card.message.get("deleted")


async def _log_by_command(user: FakeUser, title: str) -> None:
    form = await user.slash("challenge new")
    title_id, details_id, _topics_id, _tried_id = form.input_ids
    logged = await user.submit_modal(form, **{title_id: title, details_id: "It fails."})
    assert "Logged as challenge" in logged.content, logged.content


async def test_log_as_challenge_refuses_a_message_without_visible_text_clearly(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser
) -> None:
    for content in ("\u200b", "**", "** \u200b **"):
        message = learner.post(discord_server.general_id, content)
        answer = await learner.context_menu(message, "Log as challenge")
        assert answer.ephemeral
        assert "has no visible text to log" in answer.content, answer.content
        assert "reference" not in answer.content.lower()
    assert "does not exist" in (await learner.slash("challenge show", id=1)).content


async def test_the_hourly_cap_is_the_invokers_and_moderators_have_none(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, mentor: FakeUser
) -> None:
    for number in range(10):  # the learner's own hourly allowance, used up by command
        await _log_by_command(learner, f"Docker problem number {number}")
    capped = await learner.slash("challenge new")
    assert capped.ephemeral
    assert "Slow down" in capped.content, capped.content
    # A moderator logging the learner's message is not charged to the learner, and is not capped.
    message = learner.post(discord_server.general_id, "Why does my Celery worker lose tasks on restart?")
    answer = await mentor.context_menu(message, "Log as challenge")
    assert answer.content.startswith("Logged as challenge **#11**"), answer.content


async def test_a_moderator_restores_a_deleted_entry_by_logging_its_message_again(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, mentor: FakeUser
) -> None:
    message = learner.post(discord_server.general_id, "Why does my Celery worker lose tasks on restart?")
    assert (await learner.context_menu(message, "Log as challenge")).content.startswith("Logged as challenge **#1**")
    assert (await learner.slash("challenge delete", id=1)).content == "Challenge #1 is deleted."

    again = await learner.context_menu(message, "Log as challenge")
    assert again.ephemeral
    assert "was logged as challenge #1, which was deleted" in again.content, again.content
    assert "A moderator can restore it" in again.content
    assert "does not exist" in (await learner.slash("challenge show", id=1)).content

    restored = await mentor.context_menu(message, "Log as challenge")
    assert restored.content == "Challenge #1 had been deleted; it is restored.", restored.content
    shown = await learner.slash("challenge show", id=1)
    assert shown.embed["title"] == "#1 · Why does my Celery worker lose tasks on restart?"
    assert "by ada" in shown.embed["footer"]["text"]


# ----- private channels and threads ---------------------------------------------------------------------------------

VIEW_CHANNEL = 1 << 10


def _private_channel(server: FakeDiscord, *members: FakeUser) -> int:
    """A channel @everyone cannot see, open to `members` by their own overwrites."""
    channel = server.add_channel("staff-room")
    server.set_overwrite(channel, server.guild_id, deny=VIEW_CHANNEL)
    for member in members:
        server.set_overwrite(channel, member.id, allow=VIEW_CHANNEL)
    return channel


async def test_menus_never_copy_a_private_channels_or_threads_message_into_the_log(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, other_learner: FakeUser, mentor: FakeUser
) -> None:
    question = learner.post(discord_server.general_id, "How do I stop my Celery worker from losing tasks?")
    assert (await learner.context_menu(question, "Log as challenge")).content.startswith("Logged as challenge **#1**")
    staff = _private_channel(discord_server, learner, other_learner)
    secret_thread = discord_server.add_thread(discord_server.general_id, "just us", private=True)
    for channel in (staff, secret_thread):
        post = learner.post(channel, "Our private deployment keys leak in CI logs")
        for who in (learner, mentor):
            refused = await who.context_menu(post, "Log as challenge")
            assert refused.ephemeral
            assert "private channel or thread" in refused.content, refused.content
        reply = other_learner.post(channel, "Solution: rotate them, and mask them in CI.", reply_to=question)
        for who in (other_learner, learner, mentor):
            refused = await who.context_menu(reply, "Mark as solution")
            assert refused.ephemeral
            assert "private channel or thread" in refused.content, refused.content
    assert "does not exist" in (await learner.slash("challenge show", id=2)).content
    assert (await learner.slash("challenge show", id=1)).embed.get("fields", []) == []


@pytest.fixture
async def watching(discord_server: FakeDiscord, database: str) -> AsyncIterator[NexusBot]:
    """The bot watching the challenges channel for in-channel posts."""
    settings = settings_for(
        discord_server, database, NEXUS_CHALLENGE_CHANNEL_IDS=str(discord_server.challenges_channel_id)
    )
    async with running_bot(settings) as bot:
        yield bot


def _acknowledged(server: FakeDiscord, post: JSON) -> bool:
    return (int(post["channel_id"]), int(post["id"]), "✅") in server.reactions


async def test_watched_channel_logging_skips_private_threads_and_a_channel_everyone_cannot_read(
    watching: NexusBot, discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    watched = discord_server.challenges_channel_id
    secret_thread = discord_server.add_thread(watched, "just us", private=True, owner_id=learner.id)
    open_thread = discord_server.add_thread(watched, "everyone", owner_id=learner.id)
    hidden = learner.post(secret_thread, "Challenge: our private deployment keys leak in CI logs")
    shown = learner.post(open_thread, "Challenge: Docker build cache never hits in CI")
    # Posts are written in order: once the later one is acknowledged, the earlier one was decided.
    await until(lambda: _acknowledged(discord_server, shown), "the public thread's post acknowledged")
    assert not _acknowledged(discord_server, hidden)

    # The watched channel itself made private: nothing posted there any more is logged.
    discord_server.set_overwrite(watched, discord_server.guild_id, deny=VIEW_CHANNEL)
    discord_server.set_overwrite(watched, learner.id, allow=VIEW_CHANNEL)
    await asyncio.sleep(0.2)  # the CHANNEL_UPDATE reaches the bot
    staff_only = learner.post(watched, "Challenge: the staff VPN drops every hour")
    await asyncio.sleep(0.3)  # the bot handles the post before it hears the channel is public again
    discord_server.set_overwrite(watched, discord_server.guild_id)
    await asyncio.sleep(0.2)
    public_again = learner.post(watched, "Challenge: pytest fixtures leak state between tests")
    await until(lambda: _acknowledged(discord_server, public_again), "the public post acknowledged")
    assert not _acknowledged(discord_server, staff_only)

    rows = await fetch(database, "SELECT source_message_id FROM challenges ORDER BY id")
    assert [row.source_message_id for row in rows] == [int(shown["id"]), int(public_again["id"])]


# ----- user text shown by the bot -----------------------------------------------------------------------------------

MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\((?:<)?https?://")


async def test_masked_links_and_markdown_in_user_text_are_shown_as_text(
    nexus: NexusBot, discord_server: FakeDiscord, learner: FakeUser, mentor: FakeUser
) -> None:
    title = "[Django docs](https://evil.example/login) **urgent** @everyone"
    own = await _solved(nexus, discord_server.guild_id, title)
    solved = _fields((await learner.slash("topic", name="django")).embed)[SOLVED]
    assert not MASKED_LINK.search(solved), solved
    assert "\\[Django docs\\]\\(" in solved
    assert "\\*\\*urgent\\*\\*" in solved
    assert "@\u200beveryone" in solved

    shown = (await learner.slash("challenge show", id=own)).embed
    assert not MASKED_LINK.search(shown["title"]), shown["title"]
    listing = (await learner.slash("challenge list")).embed
    assert not MASKED_LINK.search(listing["description"]), listing["description"]
    found = (await learner.slash("challenge search", query="Django docs")).embed
    assert not MASKED_LINK.search(found["description"]), found["description"]

    # A solution's text: a masked link is shown as text, a code block stays code.
    body = "See [the fix](https://evil.example/x) then run:\n```sh\npython manage.py migrate --fake [app]\n```"
    await nexus.services.challenges.add_solution(
        guild_id=discord_server.guild_id,
        challenge_id=own,
        author=Person(mentor.id, "[mentor](https://x.example)"),
        body=body,
    )
    fields = (await learner.slash("challenge show", id=own)).embed["fields"]
    for field in fields:
        assert not MASKED_LINK.search(field["name"] + field["value"]), field
    assert "```sh\npython manage.py migrate --fake [app]\n```" in fields[-1]["value"]
