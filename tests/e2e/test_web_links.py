"""The web hub's Discord side end to end: `/nexus setup web:`, the "posts here are published" channel notice (a
watched channel's topic, a watched forum's guidelines) and the "View on the web" link buttons."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import running_bot, settings_for, until
from tests.e2e.rows import fetch
from tests.e2e.server import JSON, VIEW_CHANNEL, FakeDiscord
from tests.e2e.users import FakeUser

HUB = "https://hub.example.org"
NOTICE = "Post your challenges here.\nSolved challenges posted here are published on the Nexus web hub."
SERVER_SLUG = "prodev-project-nexus"  # "ProDev Project Nexus", the local server's name
LINK = 5  # a link button's style


def _settings(server: FakeDiscord, database: str, *watched: int, hub: str | None = HUB) -> Any:
    overrides: dict[str, Any] = {"NEXUS_CHALLENGE_CHANNEL_IDS": ",".join(str(channel) for channel in watched)}
    if hub is not None:
        overrides["NEXUS_WEB_BASE_URL"] = hub
    return settings_for(server, database, **overrides)


def _links(message: JSON) -> list[str]:
    """The addresses of the message's link buttons."""
    return [
        component["url"]
        for row in message.get("components", [])
        for component in row.get("components", [])
        if component.get("style") == LINK
    ]


async def _published(database: str, guild_id: int) -> set[int]:
    rows = await fetch(database, "SELECT channel_id FROM published_channels WHERE guild_id = :guild", guild=guild_id)
    return {int(row.channel_id) for row in rows}


async def _publishing(database: str, server: FakeDiscord, expected: set[int]) -> None:
    async def matches() -> bool:
        return await _published(database, server.guild_id) == expected

    async def state() -> str:
        return f"published channels {expected}, found {await _published(database, server.guild_id)}"

    await until(matches, state)


async def _logged(server: FakeDiscord, database: str, user: FakeUser, channel_id: int, text: str) -> int:
    """Post a challenge in a watched channel; its number once it is logged."""
    post = user.post(channel_id, text)

    async def numbers() -> list[int]:
        query = "SELECT id FROM challenges WHERE source_message_id = :message"
        return [int(row.id) for row in await fetch(database, query, message=int(post["id"]))]

    await until(numbers, f"message {post['id']} logged")
    return (await numbers())[0]


def _forum(server: FakeDiscord, name: str, guidelines: str | None) -> int:
    """A forum channel (type 15) whose guidelines Discord sends as its `topic`; present before the bot starts."""
    channel_id = server.snowflake()
    server.channels[channel_id] = {
        "id": str(channel_id),
        "type": 15,
        "guild_id": str(server.guild_id),
        "name": name,
        "position": len(server.channels),
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": guidelines,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
        "available_tags": [],
        "default_reaction_emoji": None,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "default_thread_rate_limit_per_user": 0,
    }
    return channel_id


async def test_a_watched_channel_whose_topic_says_so_publishes_from_start_and_as_it_is_edited(
    discord_server: FakeDiscord, database: str
) -> None:
    watched, other = discord_server.challenges_channel_id, discord_server.general_id
    discord_server.channels[watched]["topic"] = NOTICE
    discord_server.channels[other]["topic"] = NOTICE  # not watched: never recorded
    async with running_bot(_settings(discord_server, database, watched)):
        await _publishing(database, discord_server, {watched})
        discord_server.set_topic(watched, "Post your challenges here. Be kind.")
        await _publishing(database, discord_server, set())
        discord_server.set_topic(watched, "Posts here are NOT published on the web hub.")
        discord_server.set_topic(watched, NOTICE)
        await _publishing(database, discord_server, {watched})
        # A channel @everyone cannot read never publishes, whatever its topic says.
        discord_server.set_overwrite(watched, discord_server.guild_id, deny=VIEW_CHANNEL)
        await _publishing(database, discord_server, set())
        discord_server.set_overwrite(watched, discord_server.guild_id)
        await _publishing(database, discord_server, {watched})
    # Edited while Nexus was away: read when the server is available again.
    discord_server.channels[watched]["topic"] = None
    async with running_bot(_settings(discord_server, database, watched)):
        await _publishing(database, discord_server, set())


async def test_a_watched_forums_guidelines_count_as_its_notice(discord_server: FakeDiscord, database: str) -> None:
    forum = _forum(discord_server, "help", "Be kind. Posts in this forum are published on the web.")
    quiet = _forum(discord_server, "chat", "Nothing in this forum is published on the web.")
    async with running_bot(_settings(discord_server, database, forum, quiet)):
        await _publishing(database, discord_server, {forum})
        discord_server.set_topic(forum, "Be kind.")
        await _publishing(database, discord_server, set())


async def test_setup_turns_the_hub_on_and_off_and_gives_its_address(
    discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    owner = FakeUser(discord_server, discord_server.owner_id)
    noticed = discord_server.add_channel("solved-here")
    discord_server.set_topic(noticed, NOTICE)
    async with running_bot(_settings(discord_server, database)):
        refused = await learner.slash("nexus setup", web=True)
        assert refused.ephemeral
        assert "Manage Server" in refused.content
        shown = await owner.slash("nexus setup")
        assert "Web hub: off; nothing of this server is on the web" in shown.content

        on = await owner.slash("nexus setup", web=True)
        assert on.ephemeral
        assert on.content.startswith("Saved.")
        assert f"Web hub: on, at {HUB}/challenges/{SERVER_SLUG} " in on.content
        assert on.message["mentions"] == []
        rows = await fetch(
            database, "SELECT web_enabled, web_slug FROM guild_settings WHERE guild_id = :g", g=discord_server.guild_id
        )
        assert [(bool(row.web_enabled), row.web_slug) for row in rows] == [(True, SERVER_SLUG)]

        # Watching a channel whose topic already says posts are published records it, and says so.
        watched = await owner.slash("nexus setup", challenge_channel=noticed)
        assert f"Posting in <#{noticed}> counts as consent" in watched.content
        assert await _published(database, discord_server.guild_id) == {noticed}

        off = await owner.slash("nexus setup", web=False)
        assert "Web hub: off; nothing of this server is on the web" in off.content
        rows = await fetch(
            database, "SELECT web_enabled, web_slug FROM guild_settings WHERE guild_id = :g", g=discord_server.guild_id
        )
        assert [(bool(row.web_enabled), row.web_slug) for row in rows] == [(False, SERVER_SLUG)]  # the slug stays
    async with running_bot(_settings(discord_server, database, hub=None)):
        on = await owner.slash("nexus setup", web=True)
        assert "Web hub: on (only entries of members who consent); its address shows once NEXUS_WEB_BASE_URL" in (
            on.content
        )


async def test_topic_cards_link_to_their_page_when_the_hub_has_an_address_and_the_server_publishes(
    discord_server: FakeDiscord, database: str, learner: FakeUser
) -> None:
    owner = FakeUser(discord_server, discord_server.owner_id)
    async with running_bot(_settings(discord_server, database)):
        assert _links((await learner.slash("topic", name="docker")).message) == []  # the server is not on the hub
        await owner.slash("nexus setup", web=True)
        public = await learner.slash("topic", name="docker")
        assert _links(public.message) == [f"{HUB}/topics/docker"]
        labels = [component.get("label") for row in public.message["components"] for component in row["components"]]
        assert labels == ["Delete", "View on the web"]
        private = await learner.slash("topic", name="k8s", private=True)
        assert private.ephemeral
        assert _links(private.message) == [f"{HUB}/topics/kubernetes"]
    async with running_bot(_settings(discord_server, database, hub=None)):
        assert _links((await learner.slash("topic", name="docker")).message) == []
        assert (await learner.slash("topic", name="redis", private=True)).message["components"] == []


async def test_challenge_show_links_a_challenge_only_while_the_hub_publishes_it(
    discord_server: FakeDiscord, database: str, learner: FakeUser, other_learner: FakeUser
) -> None:
    owner = FakeUser(discord_server, discord_server.owner_id)
    channel = discord_server.challenges_channel_id
    async with running_bot(_settings(discord_server, database, channel)) as bot:
        await until(lambda: bot.is_ready(), "the bot ready")
        consenting = await _logged(discord_server, database, learner, channel, "Challenge: CORS errors from React")
        silent = await _logged(discord_server, database, other_learner, channel, "Challenge: celery never acks")
        page = f"{HUB}/challenges/{SERVER_SLUG}/{consenting}"

        await learner.slash("nexus profile", web=True)
        assert _links((await learner.slash("challenge show", id=consenting)).message) == []  # the server is off
        await owner.slash("nexus setup", web=True)
        assert _links((await learner.slash("challenge show", id=consenting)).message) == [page]
        # Another member, who never consented, is not published, and neither is a withdrawn consent.
        assert _links((await learner.slash("challenge show", id=silent)).message) == []
        await learner.slash("nexus profile", web=False)
        assert _links((await learner.slash("challenge show", id=consenting)).message) == []
        await learner.slash("nexus profile", web=True)

        # Once the channel says posts are published, a post there by a member who made no choice is published.
        discord_server.set_topic(channel, NOTICE)
        await _publishing(database, discord_server, {channel})
        noticed = await _logged(discord_server, database, other_learner, channel, "Challenge: JWT expires at once")
        shown = await other_learner.slash("challenge show", id=noticed)
        assert _links(shown.message) == [f"{HUB}/challenges/{SERVER_SLUG}/{noticed}"]
        assert [c.get("label") for row in shown.message["components"] for c in row["components"]][-1] == (
            "View on the web"
        )

        # Turning the hub off hides everything at once.
        await owner.slash("nexus setup", web=False)
        for number in (consenting, noticed):
            assert _links((await learner.slash("challenge show", id=number)).message) == []
    async with running_bot(_settings(discord_server, database, channel, hub=None)):
        await owner.slash("nexus setup", web=True)
        assert _links((await learner.slash("challenge show", id=consenting)).message) == []  # no address, no link
