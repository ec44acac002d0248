"""What one server's log shows to whom: nothing of a server crosses into another server or into a DM."""

from __future__ import annotations

from bot.client import NexusBot
from bot.services.challenges import Person
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
