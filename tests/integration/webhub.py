"""Shared set-up of the web hub's tests: a populated database on both engines, the hub over it, a test client.

GUILD ("Nexus Hub" -> nexus-hub) publishes; OTHER_GUILD ("Secret Server") does not, though Ada consented there.
Ada consents and is credited; Grace consents, not credited; Linus said web:off; Tove chose nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_services
from bot.client import Services
from bot.config import load_settings
from bot.knowledge import KnowledgeBase, load_knowledge_base
from bot.runtime.paths import default_data_dir
from bot.services.challenges import Person
from bot.services.web import WebHubService
from bot.web.app import create_app
from bot.web.server import build_hub

GUILD = 1001
OTHER_GUILD = 2002
CHANNEL = 3003
ADA = Person(310_000_000_000_000_011, "Ada")
GRACE = Person(310_000_000_000_000_012, "Grace")
LINUS = Person(310_000_000_000_000_013, "Linus")
TOVE = Person(310_000_000_000_000_014, "Tove")
SLUG = "nexus-hub"
SECRET_TITLE = "Secret server's IntegrityError on deploy"
BASE_URL = "https://hub.example"


@dataclass(frozen=True)
class Hub:
    services: Services
    hub: WebHubService
    solved: int  # Ada's solved challenge: Grace's accepted solution, Linus's left out
    open: int  # Ada's open challenge
    deleted: int  # Ada's deleted challenge
    linus: int  # Linus's challenge (web:off)
    secret: int  # Ada's challenge in the server that does not publish


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base(default_data_dir() / "topics")


@pytest.fixture
async def populated(engine: AsyncEngine, database_url: str, knowledge_base: KnowledgeBase) -> Hub:
    settings = load_settings(_env_file=None, DISCORD_TOKEN="x", DATABASE_URL=database_url)
    services = build_services(settings, engine, knowledge_base)
    log = services.challenges
    await services.web.set_web(GUILD, "Nexus Hub", True)
    await services.readme.set_choices(GUILD, ADA.id, "Ada Lovelace", web=True, credit=True)
    await services.readme.set_choices(GUILD, GRACE.id, "Grace", web=True)
    await services.readme.set_choices(GUILD, LINUS.id, "Linus", web=False, credit=True)
    await services.readme.set_choices(OTHER_GUILD, ADA.id, "Ada", web=True, credit=True)
    solved = await log.log_challenge(
        guild_id=GUILD,
        channel_id=CHANNEL,
        author=ADA,
        title="IntegrityError on signup",
        details=(
            "IntegrityError: duplicate key value violates unique constraint\n\n"
            "<script>alert('x')</script> see [the docs](https://docs.djangoproject.com/) "
            "and [this](javascript:alert(1))"
        ),
        tried="Retrying the **save**.",
        topics="keys-and-constraints",
        suggest_similar=False,
    )
    grace = await log.add_solution(
        guild_id=GUILD,
        challenge_id=solved.challenge.id,
        author=GRACE,
        body=(
            "Wrap it in `transaction.atomic()` and catch the error:\n\n"
            "```python\nwith transaction.atomic():\n    user.save()\n```"
        ),
    )
    await log.add_solution(
        guild_id=GUILD, challenge_id=solved.challenge.id, author=LINUS, body="Linus's private workaround text."
    )
    await log.accept(GUILD, solved.challenge.id, grace.solution.id, ADA)
    opened = await log.log_challenge(
        guild_id=GUILD,
        channel_id=CHANNEL,
        author=ADA,
        title="CORS error from the React dev server",
        topics="cors",
        suggest_similar=False,
    )
    deleted = await log.log_challenge(
        guild_id=GUILD, channel_id=CHANNEL, author=ADA, title="A mistaken post", suggest_similar=False
    )
    await log.delete(GUILD, deleted.challenge.id, ADA)
    linus = await log.log_challenge(
        guild_id=GUILD,
        channel_id=CHANNEL,
        author=LINUS,
        title="Linus's IntegrityError he keeps to himself",
        topics="keys-and-constraints",
        suggest_similar=False,
    )
    secret = await log.log_challenge(
        guild_id=OTHER_GUILD,
        channel_id=CHANNEL,
        author=ADA,
        title=SECRET_TITLE,
        topics="keys-and-constraints",
        suggest_similar=False,
    )
    secret_fix = await log.add_solution(
        guild_id=OTHER_GUILD, challenge_id=secret.challenge.id, author=ADA, body="Secret fix."
    )
    await log.accept(OTHER_GUILD, secret.challenge.id, secret_fix.solution.id, ADA)
    return Hub(
        services=services,
        hub=build_hub(engine, knowledge_base),
        solved=solved.challenge.id,
        open=opened.challenge.id,
        deleted=deleted.challenge.id,
        linus=linus.challenge.id,
        secret=secret.challenge.id,
    )


@pytest.fixture
async def client(populated: Hub) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(create_app(populated.hub, base_url=BASE_URL))) as client:
        yield client
