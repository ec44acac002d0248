"""The web hub's consent rule (bot/db/web_repository.py) on both engines, through the bot's side of the API: what is
published, what is not, and the slugs and links of `/nexus setup web:`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.client import Services
from bot.config import load_settings
from bot.db.engine import create_session_factory
from bot.db.models import Challenge, Solution
from bot.db.web_repository import WebRepository
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import Person
from bot.services.web import WebSetting, slugify

GUILD = 1001
OTHER_GUILD = 2002
PUBLISHED = 3003
QUIET = 3004
ADA = Person(11, "Ada")
GRACE = Person(12, "Grace")
LINUS = Person(13, "Linus")
BASE = "https://hub.example/"


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
def services(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> Services:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=database_url)
    return build_services(settings, engine, knowledge_base)


async def _published(engine: AsyncEngine, *ids: int) -> set[int]:
    async with create_session_factory(engine)() as session:
        return await WebRepository(session).published_ids(ids)


async def _solutions(engine: AsyncEngine, challenge_id: int) -> list[int]:
    async with create_session_factory(engine)() as session:
        return [row.id for row in await WebRepository(session).solutions(challenge_id)]


async def _backdate(engine: AsyncEngine, challenge_id: int, when: datetime) -> None:
    async with create_session_factory(engine).begin() as session:
        await session.execute(update(Challenge).where(Challenge.id == challenge_id).values(created_at=when))


def test_slugify() -> None:
    assert slugify("ProDev Project Nexus") == "prodev-project-nexus"
    assert slugify("  Café Devs!! ") == "cafe-devs"
    assert slugify("🚀🚀") == "server"
    assert len(slugify("x" * 300)) == 50


async def test_slugs_are_assigned_once_deduplicated_and_kept(services: Services) -> None:
    web = services.web
    assert await web.get(GUILD) == WebSetting(False, None)
    assert await web.set_web(GUILD, "Nexus Hub", True) == WebSetting(True, "nexus-hub")
    assert await web.set_web(OTHER_GUILD, "Nexus hub!", True) == WebSetting(True, "nexus-hub-2")
    assert await web.set_web(3, "nexus-hub", True) == WebSetting(True, "nexus-hub-3")
    # Off keeps the slug; a rename does not change it.
    assert await web.set_web(GUILD, "Nexus Hub", False) == WebSetting(False, "nexus-hub")
    assert await web.set_web(GUILD, "Renamed", True) == WebSetting(True, "nexus-hub")


async def test_explicit_consent_publishes_and_withdrawal_hides(services: Services, engine: AsyncEngine) -> None:
    log = services.challenges
    await services.web.set_web(GUILD, "Nexus", True)
    posted = await log.log_challenge(guild_id=GUILD, channel_id=QUIET, author=ADA, title="CORS error on login")
    number = posted.challenge.id
    # Not chosen, and the channel does not say posts are published: not published.
    assert await _published(engine, number) == set()
    assert await services.web.challenge_url(GUILD, number, BASE) is None
    await services.readme.set_choices(GUILD, ADA.id, "Ada", web=True)
    assert await _published(engine, number) == {number}
    assert await services.web.challenge_url(GUILD, number, BASE) == f"https://hub.example/challenges/nexus/{number}"
    assert await services.web.challenge_url(GUILD, number, None) is None
    assert await services.web.challenge_url(OTHER_GUILD, number, BASE) is None
    await services.readme.set_choices(GUILD, ADA.id, "Ada", web=False)
    assert await _published(engine, number) == set()


async def test_published_channel_counts_as_consent_from_its_moment_on(services: Services, engine: AsyncEngine) -> None:
    log = services.challenges
    await services.web.set_web(GUILD, "Nexus", True)
    moment = datetime.now(UTC)
    before = await log.log_challenge(guild_id=GUILD, channel_id=PUBLISHED, author=ADA, title="Posted before")
    await _backdate(engine, before.challenge.id, moment - timedelta(days=1))
    after = await log.log_challenge(guild_id=GUILD, channel_id=PUBLISHED, author=ADA, title="Posted after")
    elsewhere = await log.log_challenge(guild_id=GUILD, channel_id=QUIET, author=GRACE, title="Posted elsewhere")
    await services.web.set_channel_publishes(GUILD, PUBLISHED, True, moment - timedelta(seconds=5))
    ids = (before.challenge.id, after.challenge.id, elsewhere.challenge.id)
    assert await _published(engine, *ids) == {after.challenge.id}
    # Marking again keeps the first moment.
    await services.web.set_channel_publishes(GUILD, PUBLISHED, True, moment + timedelta(days=1))
    assert await _published(engine, *ids) == {after.challenge.id}
    # web:off beats the channel's notice; web:on covers every channel and every date.
    await services.readme.set_choices(GUILD, ADA.id, "Ada", web=False)
    assert await _published(engine, *ids) == set()
    await services.readme.set_choices(GUILD, ADA.id, "Ada", web=True)
    assert await _published(engine, *ids) == {before.challenge.id, after.challenge.id}
    # A choice row with web unset (only credit chosen) still follows the channel.
    await services.readme.set_choices(GUILD, GRACE.id, "Grace", credit=True)
    await services.web.set_channel_publishes(GUILD, QUIET, True, moment - timedelta(seconds=5))
    assert elsewhere.challenge.id in await _published(engine, *ids)
    # The channel no longer says so: its unchosen members' entries go.
    await services.web.set_channel_publishes(GUILD, QUIET, False)
    assert elsewhere.challenge.id not in await _published(engine, *ids)


async def test_server_off_deleted_and_forgotten_are_never_published(services: Services, engine: AsyncEngine) -> None:
    log = services.challenges
    await services.web.set_web(GUILD, "Nexus", True)
    await services.readme.set_choices(GUILD, ADA.id, "Ada", web=True)
    await services.readme.set_choices(GUILD, GRACE.id, "Grace", web=True)
    kept = await log.log_challenge(guild_id=GUILD, channel_id=QUIET, author=ADA, title="Kept")
    deleted = await log.log_challenge(guild_id=GUILD, channel_id=QUIET, author=ADA, title="Deleted")
    await log.delete(GUILD, deleted.challenge.id, ADA)
    graces = await log.log_challenge(guild_id=GUILD, channel_id=QUIET, author=GRACE, title="Grace's")
    # Another server with the same member's consent there does not publish until it opts in.
    await services.readme.set_choices(OTHER_GUILD, ADA.id, "Ada", web=True)
    other = await log.log_challenge(guild_id=OTHER_GUILD, channel_id=QUIET, author=ADA, title="Other server")
    ids = (kept.challenge.id, deleted.challenge.id, graces.challenge.id, other.challenge.id)
    assert await _published(engine, *ids) == {kept.challenge.id, graces.challenge.id}
    async with create_session_factory(engine)() as session:
        repository = WebRepository(session)
        assert await repository.gone(GUILD, deleted.challenge.id)
        assert not await repository.gone(GUILD, kept.challenge.id)
    await services.privacy.forget_me(GUILD, GRACE.id)
    assert await _published(engine, *ids) == {kept.challenge.id}
    await services.web.set_web(GUILD, "Nexus", False)
    assert await _published(engine, *ids) == set()
    assert await services.web.topic_url(GUILD, "docker", BASE) is None
    await services.web.set_web(GUILD, "Nexus", True)
    assert await services.web.topic_url(GUILD, "docker", BASE) == "https://hub.example/topics/docker"
    assert await services.web.topic_url(None, "docker", BASE) is None


async def test_solutions_need_their_own_authors_consent(services: Services, engine: AsyncEngine) -> None:
    log = services.challenges
    await services.web.set_web(GUILD, "Nexus", True)
    await services.readme.set_choices(GUILD, ADA.id, "Ada", web=True)
    await services.readme.set_choices(GUILD, GRACE.id, "Grace", web=True)
    await services.readme.set_choices(GUILD, LINUS.id, "Linus", web=False)
    posted = await log.log_challenge(guild_id=GUILD, channel_id=PUBLISHED, author=ADA, title="502 Bad Gateway")
    number = posted.challenge.id
    grace = await log.add_solution(guild_id=GUILD, challenge_id=number, author=GRACE, body="Bind to 0.0.0.0.")
    linus = await log.add_solution(guild_id=GUILD, challenge_id=number, author=LINUS, body="Restart nginx.")
    await log.accept(GUILD, number, linus.solution.id, ADA)
    unchosen = await log.add_solution(guild_id=GUILD, challenge_id=number, author=Person(14, "Tove"), body="Ports.")
    assert await _solutions(engine, number) == [grace.solution.id]
    # An unchosen member's solution posted as a message in the published channel (or its thread) counts.
    await services.web.set_channel_publishes(GUILD, PUBLISHED, True, datetime.now(UTC) - timedelta(days=1))
    assert await _solutions(engine, number) == [grace.solution.id]
    async with create_session_factory(engine).begin() as session:
        await session.execute(update(Solution).where(Solution.id == unchosen.solution.id).values(source_channel_id=999))
    assert await _solutions(engine, number) == [grace.solution.id, unchosen.solution.id]
