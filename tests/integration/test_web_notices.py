"""Channel notices ("posts here are published on the web hub") recorded on both engines, and what they publish: a
post in a channel that says so, by a member who made no choice, is on the hub; `web:off` or the notice's withdrawal
takes it off again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.client import Services
from bot.config import load_settings
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import IncomingMessage, Logged, Person
from bot.services.web_notices import record_notices

GUILD = 1001
WATCHED = 3003
SECOND = 3004
UNWATCHED = 3005
FORUM = 3006
ADA = Person(11, "Ada")
GRACE = Person(12, "Grace")
BASE = "https://hub.example"


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
def services_for(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> Callable[..., Services]:
    def build(*watched: int) -> Services:
        settings = load_settings(
            _env_file=None,
            DISCORD_TOKEN="x",
            DATABASE_URL=database_url,
            NEXUS_CHALLENGE_CHANNEL_IDS=",".join(str(channel) for channel in watched),
        )
        return build_services(settings, engine, knowledge_base)

    return build


async def test_only_watched_channels_that_say_so_are_recorded_and_the_first_moment_stays(
    services_for: Callable[..., Services],
) -> None:
    services = services_for(WATCHED, SECOND)
    settings, web = services.guild_settings, services.web
    seen = {WATCHED: True, SECOND: False, UNWATCHED: True}
    assert await record_notices(settings, web, GUILD, seen) == {WATCHED}
    first = (await web.published_channels(GUILD))[WATCHED]
    # Seen again (a reconnection, another channel's edit): nothing changes, the moment it started saying so stays.
    assert await record_notices(settings, web, GUILD, seen) == {WATCHED}
    assert await web.published_channels(GUILD) == {WATCHED: first}
    # The notice withdrawn (topic edited, or @everyone lost sight of the channel: the bot then sees False).
    assert await record_notices(settings, web, GUILD, {**seen, WATCHED: False, SECOND: True}) == {SECOND}
    assert set(await web.published_channels(GUILD)) == {SECOND}


async def test_a_watched_forums_guidelines_are_its_notice(services_for: Callable[..., Services]) -> None:
    services = services_for(WATCHED)
    settings, web = services.guild_settings, services.web
    seen = {WATCHED: False, FORUM: True}
    # Not watched yet: its guidelines say nothing about this server's log.
    assert await record_notices(settings, web, GUILD, seen) == frozenset()
    await settings.update(GUILD, challenge_forum_id=FORUM)
    assert await record_notices(settings, web, GUILD, seen) == {FORUM}
    assert set(await web.published_channels(GUILD)) == {FORUM}


async def test_a_post_in_a_forum_whose_guidelines_say_so_is_published(services_for: Callable[..., Services]) -> None:
    """A forum post's channel is its own thread; the notice is the forum's, so the writer records which forum."""
    services = services_for()
    settings, web, log = services.guild_settings, services.web, services.challenges
    await web.set_web(GUILD, "Nexus", True)
    await settings.update(GUILD, challenge_forum_id=FORUM)
    await record_notices(settings, web, GUILD, {FORUM: True})

    async def post(thread_id: int, author: Person, forum_id: int) -> int:
        text = services.forum.post_text(f"Post {thread_id}: CORS preflight fails", [], forum_id)
        message = IncomingMessage(
            GUILD, thread_id, thread_id, author.id, author.name, "The browser blocks it.", forum_post=text
        )
        logged = await log.ingest(message)
        assert isinstance(logged, Logged)
        return logged.challenge.id

    under_notice = await post(9101, GRACE, FORUM)
    elsewhere = await post(9102, GRACE, FORUM + 1)  # another forum, whose guidelines say nothing
    assert await web.challenge_url(GUILD, under_notice, BASE) == f"{BASE}/challenges/nexus/{under_notice}"
    assert await web.challenge_url(GUILD, elsewhere, BASE) is None
    # The member's own `web:off` still wins over the forum's notice.
    await services.readme.set_choices(GUILD, GRACE.id, GRACE.name, web=False)
    assert await web.challenge_url(GUILD, under_notice, BASE) is None


async def test_a_channel_no_longer_watched_can_withdraw_and_a_vanished_one_keeps_its_record(
    services_for: Callable[..., Services],
) -> None:
    before = services_for(WATCHED, SECOND)
    assert await record_notices(before.guild_settings, before.web, GUILD, {WATCHED: True, SECOND: True}) == {
        WATCHED,
        SECOND,
    }
    after = services_for()  # neither is watched any more
    # SECOND was deleted (the bot does not see it): what was posted there under the notice stays consented.
    assert await record_notices(after.guild_settings, after.web, GUILD, {WATCHED: False}) == {SECOND}
    assert set(await after.web.published_channels(GUILD)) == {SECOND}


async def test_a_post_under_the_notice_is_published_until_the_member_or_the_notice_says_otherwise(
    services_for: Callable[..., Services],
) -> None:
    services = services_for(WATCHED)
    settings, web, log = services.guild_settings, services.web, services.challenges
    await web.set_web(GUILD, "Nexus", True)
    before = await log.log_challenge(guild_id=GUILD, channel_id=WATCHED, author=ADA, title="CORS error before")
    await record_notices(settings, web, GUILD, {WATCHED: True})
    after = await log.log_challenge(guild_id=GUILD, channel_id=WATCHED, author=ADA, title="CORS error after")
    assert await web.challenge_url(GUILD, before.challenge.id, BASE) is None  # posted before the notice
    assert await web.challenge_url(GUILD, after.challenge.id, BASE) == f"{BASE}/challenges/nexus/{after.challenge.id}"

    # A member who said `web:off` is never published, notice or not; one who made no choice is, until the notice goes.
    grace = await log.log_challenge(guild_id=GUILD, channel_id=WATCHED, author=GRACE, title="Celery never acks")
    assert await web.challenge_url(GUILD, grace.challenge.id, BASE) is not None
    await services.readme.set_choices(GUILD, ADA.id, ADA.name, web=False)
    assert await web.challenge_url(GUILD, after.challenge.id, BASE) is None
    await record_notices(settings, web, GUILD, {WATCHED: False})
    assert await web.challenge_url(GUILD, grace.challenge.id, BASE) is None
